-- The cross-sell ideas of $month.
SELECT *
FROM marts.cross_sell_ideas
WHERE month = $month
ORDER BY account_id, rank
