SELECT date_trunc('month', min(d))::DATE AS first_month
FROM (
    SELECT start_date AS d FROM staging.subscriptions
    UNION ALL
    SELECT issued_on AS d FROM staging.invoices WHERE status NOT IN ('draft', 'void')
)
