SELECT delivery_key, account_id, recipient, report_sha256, status, attempts, channel, message_id,
       error, period_key, report_path, sent_at, updated_at, created_at, requested_by
FROM ops.deliveries
WHERE period = $period AND kind = $kind
ORDER BY account_id, recipient
