-- Accounts with their name, renewal date and account manager's name (one row per account).
SELECT
    a.account_id,
    a.account_name,
    a.renewal_date,
    a.account_manager_id,
    m.name AS manager_name
FROM staging.accounts AS a
LEFT JOIN staging.account_managers AS m ON m.manager_id = a.account_manager_id
ORDER BY a.account_id
