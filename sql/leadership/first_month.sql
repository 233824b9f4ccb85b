-- The first month of the portfolio mart: before it there is no history to compare with.
SELECT min(month) AS first_month
FROM marts.portfolio_monthly
