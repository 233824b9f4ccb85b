-- Rows in one table; $table is a qualified name from the contract (e.g. raw.accounts), bound, never formatted in.
SELECT count(*) AS "rows"
FROM query_table($table)
