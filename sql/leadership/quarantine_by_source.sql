-- Rows in quarantine per source and stage (staging: broke the contract; marts: e.g. a missing fx rate).
SELECT source, stage, count(*) AS rows_quarantined
FROM ops.quarantine
GROUP BY source, stage
ORDER BY source, stage
