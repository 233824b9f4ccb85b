SELECT source, stage, file, "row", "column", value, reason
FROM ops.quarantine
ORDER BY source, file, "row", "column"
