-- Periods holding deliveries that failed and will be retried when the period's
-- report_deliveries runs again (for a retry sensor).
SELECT period, count(*) AS failed, max(updated_at) AS last_attempt
FROM ops.deliveries
WHERE kind = $kind AND status = 'failed'
GROUP BY period
ORDER BY period
