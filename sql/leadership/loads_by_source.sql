-- Files and rows loaded per source (ops.loads), with the latest file load time.
SELECT
    source,
    count(*) AS files,
    CAST(sum("rows") AS BIGINT) AS rows_loaded,
    max(loaded_at) AS last_loaded_at
FROM ops.loads
GROUP BY source
ORDER BY source
