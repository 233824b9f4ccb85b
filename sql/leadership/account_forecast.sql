-- Every account's forecast row of the month $month.
SELECT *
FROM marts.account_forecast
WHERE month = $month
ORDER BY account_id
