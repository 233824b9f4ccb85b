UPDATE ops.deliveries
SET status = $status, message_id = $message_id, error = $error, updated_at = $now,
    sent_at = CASE WHEN $status = 'sent' THEN $now ELSE sent_at END
WHERE delivery_key = $key
