SELECT "column", reason, count(*) AS rows
FROM ops.quarantine
WHERE source = ? AND stage = ?
GROUP BY ALL
ORDER BY rows DESC, "column", reason
LIMIT 10
