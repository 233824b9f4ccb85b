-- Activities (touches) from $from_ts (inclusive) to $to_ts (exclusive).
SELECT activity_id, account_id, type, occurred_at, _loaded_at
FROM staging.activities
WHERE occurred_at >= $from_ts AND occurred_at < $to_ts
ORDER BY account_id, occurred_at, activity_id
