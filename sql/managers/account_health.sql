-- Health of every account for the months from $from_month to $to_month (every column:
-- the per-measure columns depend on the health settings).
SELECT *
FROM marts.account_health
WHERE month BETWEEN $from_month AND $to_month
ORDER BY account_id, month
