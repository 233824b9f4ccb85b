-- Every goal's row for $month.
SELECT *
FROM marts.account_goals
WHERE month = $month
ORDER BY account_id, goal_id
