-- Rows of _staging_valid whose key repeats in one file with different values: nobody can
-- tell which is right, so every such row goes to quarantine with the rows it clashes with
-- (pipeline.transforms.staging.conflicting_repeats is the same rule in Polars).
-- _hash is the hash of the row's typed values; identical repeats are not conflicts.
WITH repeated AS (
    SELECT _file, _key
    FROM _staging_valid
    GROUP BY _file, _key
    HAVING count(*) > 1
),
conflicted AS (
    SELECT v._file, v._key, string_agg(CAST(v._row AS VARCHAR), ', ' ORDER BY v._row) AS rows_listed
    FROM _staging_valid AS v
    JOIN repeated AS r ON v._file = r._file AND v._key = r._key
    GROUP BY v._file, v._key
    HAVING count(DISTINCT v._hash) > 1
)
SELECT v._i, c.rows_listed
FROM _staging_valid AS v
JOIN conflicted AS c ON v._file = c._file AND v._key = c._key
ORDER BY v._i
