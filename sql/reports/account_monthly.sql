-- Monthly KPIs of every account for the months from $from_month to $to_month.
SELECT *
FROM marts.account_monthly
WHERE month BETWEEN $from_month AND $to_month
ORDER BY account_id, month
