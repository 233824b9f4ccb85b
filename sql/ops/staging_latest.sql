-- The latest version of each key in _staging_valid (by load time, then file, then row),
-- sorted by key, with the staging table's columns in order: the contract's, then lineage
-- (pipeline.transforms.staging.latest_versions is the same rule in Polars).
SELECT * EXCLUDE (_i, _key, _hash)
FROM _staging_valid
QUALIFY row_number() OVER (PARTITION BY _key ORDER BY _loaded_at DESC, _file DESC, _row DESC) = 1
ORDER BY _key
