-- Each account's forecast row of the reporting month $month (committed MRR, renewal).
SELECT *
FROM marts.account_forecast
WHERE month = $month
ORDER BY account_id
