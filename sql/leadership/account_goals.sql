-- Every goal's row of the month $month, with its account's manager and team.
SELECT g.*, a.account_name, a.account_manager_id, m.name AS manager_name, m.team
FROM marts.account_goals AS g
LEFT JOIN staging.accounts AS a ON a.account_id = g.account_id
LEFT JOIN staging.account_managers AS m ON m.manager_id = a.account_manager_id
WHERE g.month = $month
ORDER BY g.goal_id
