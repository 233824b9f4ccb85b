-- The alerts raised in $month.
SELECT *
FROM marts.account_alerts
WHERE month = $month
ORDER BY account_id, alert_id
