-- Account managers by id, to name the rows of the by-manager table.
SELECT manager_id, name, team
FROM staging.account_managers
ORDER BY manager_id
