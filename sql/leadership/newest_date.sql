-- The newest date (UTC) in one column of one table: the data-as-of date of a source.
-- $table and $column name a contract table and column; both are bound, never formatted in.
SELECT max(CAST(COLUMNS(lambda c: c = $column) AS DATE)) AS newest
FROM query_table($table)
