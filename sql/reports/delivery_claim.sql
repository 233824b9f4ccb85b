-- Mark a delivery as being sent (before the message leaves), counting the attempt.
INSERT INTO ops.deliveries (
    delivery_key, account_id, period, recipient, report_sha256, kind, status, attempts,
    channel, message_id, error, updated_at, period_key, report_path, sent_at, created_at, requested_by
)
VALUES ($key, $account_id, $period, $recipient, $sha256, $kind, 'sending', 1,
        $channel, NULL, NULL, $now, $period_key, $report_path, NULL, $now, $requested_by)
ON CONFLICT (delivery_key) DO UPDATE SET
    status = 'sending',
    attempts = ops.deliveries.attempts + 1,
    channel = excluded.channel,
    error = NULL,
    updated_at = excluded.updated_at
