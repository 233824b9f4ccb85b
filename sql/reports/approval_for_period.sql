SELECT period, kind, approved_by, approved_at, manifest_sha256, reports
FROM ops.report_approvals
WHERE period = $period AND kind = $kind
