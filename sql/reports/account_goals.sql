-- The goals shown to clients (visible_to_client) with their row of the reporting month $month.
SELECT *
FROM marts.account_goals
WHERE month = $month AND visible_to_client
ORDER BY account_id, due_month, goal_id
