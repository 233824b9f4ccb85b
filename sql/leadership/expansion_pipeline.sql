-- The open expansion pipeline (upsell and cross-sell) of every account at the month $month.
SELECT account_id, open_expansion_pipeline
FROM marts.account_monthly
WHERE month = $month
ORDER BY account_id
