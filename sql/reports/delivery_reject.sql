-- Record a recipient that is not a usable address (not retried until the address changes).
INSERT INTO ops.deliveries (
    delivery_key, account_id, period, recipient, report_sha256, kind, status, attempts,
    channel, message_id, error, updated_at, period_key, report_path, sent_at, created_at, requested_by
)
VALUES ($key, $account_id, $period, $recipient, $sha256, $kind, 'rejected', 0,
        $channel, NULL, $error, $now, $period_key, $report_path, NULL, $now, $requested_by)
ON CONFLICT (delivery_key) DO UPDATE SET
    status = 'rejected', error = excluded.error, updated_at = excluded.updated_at
