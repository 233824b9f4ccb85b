-- Subscriptions active at some point from $window_start to $period_end, with the
-- monthly amount converted into the reporting currency at the start date's rate
-- (the same rule as MRR in docs/metrics.md) and kept as billed.
SELECT
    s.subscription_id,
    s.account_id,
    s.product,
    s.start_date,
    s.end_date,
    s.currency,
    s.mrr AS mrr_original,
    CAST(CASE WHEN s.currency = $reporting_currency THEN s.mrr ELSE s.mrr * f.rate END AS DECIMAL(18, 4)) AS mrr,
    s._loaded_at
FROM staging.subscriptions AS s
ASOF LEFT JOIN staging.fx_rates AS f
    ON s.currency = f.currency AND s.start_date >= f.date
WHERE s.start_date <= $period_end
  AND (s.end_date IS NULL OR s.end_date > $window_start)
ORDER BY s.account_id, s.product, s.start_date, s.subscription_id
