-- The alerts raised in $month (the attention page counts them by team).
SELECT account_id, month, rule, severity
FROM marts.account_alerts
WHERE month = $month
ORDER BY account_id, alert_id
