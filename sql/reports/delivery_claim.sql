-- Mark a delivery as being sent (before the message leaves), counting the attempt.
-- Only a new delivery or a failed one is claimed (a claim left 'sending' only when
-- $resume: its channel showed the message never left). Returns the key when claimed,
-- nothing when another run holds or finished it.
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
WHERE ops.deliveries.status = 'failed' OR (ops.deliveries.status = 'sending' AND $resume)
RETURNING delivery_key
