-- Health of every account for the months from $from_month to $to_month.
SELECT account_id, month, score, band, drivers, score_change
FROM marts.account_health
WHERE month BETWEEN $from_month AND $to_month
ORDER BY account_id, month
