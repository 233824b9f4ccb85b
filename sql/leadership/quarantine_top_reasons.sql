-- The $per_source most frequent quarantine reasons of every source (all stages).
SELECT source, reason, count(*) AS rows_quarantined
FROM ops.quarantine
GROUP BY source, reason
QUALIFY row_number() OVER (PARTITION BY source ORDER BY count(*) DESC, reason) <= $per_source
ORDER BY source, rows_quarantined DESC, reason
