-- Portfolio rows (every grouping) for the months from $from_month to $to_month.
SELECT *
FROM marts.portfolio_monthly
WHERE month BETWEEN $from_month AND $to_month
ORDER BY month, grouping, group_value
