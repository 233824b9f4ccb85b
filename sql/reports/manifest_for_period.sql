SELECT *
FROM ops.report_manifest
WHERE period = $period AND kind = $kind
ORDER BY account_id
