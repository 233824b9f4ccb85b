-- Tickets opened before $to_ts and not resolved before $from_ts: those opened or
-- resolved in the period and those still open at its end.
SELECT ticket_id, account_id, opened_at, first_response_at, resolved_at, priority, status, subject, _loaded_at
FROM staging.tickets
WHERE opened_at < $to_ts
  AND (resolved_at IS NULL OR resolved_at >= $from_ts)
ORDER BY account_id, opened_at, ticket_id
