-- Every account manager of the CRM.
SELECT manager_id, name, email, team
FROM staging.account_managers
ORDER BY manager_id
