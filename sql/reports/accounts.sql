-- Accounts with their account manager (one row per account).
SELECT
    a.account_id,
    a.account_name,
    a.tier,
    a.segment,
    a.industry,
    a.customer_since,
    a.renewal_date,
    a.currency,
    a.report_cadence,
    a.report_recipients,
    a.account_manager_id,
    m.name AS manager_name,
    m.email AS manager_email,
    m.team AS manager_team,
    a._loaded_at
FROM staging.accounts AS a
LEFT JOIN staging.account_managers AS m ON m.manager_id = a.account_manager_id
ORDER BY a.account_id
