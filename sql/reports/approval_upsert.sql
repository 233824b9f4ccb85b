INSERT INTO ops.report_approvals (period, kind, approved_by, approved_at, manifest_sha256, reports)
VALUES ($period, $kind, $approved_by, $approved_at, $manifest_sha256, $reports)
ON CONFLICT (period, kind) DO UPDATE SET
    approved_by = excluded.approved_by,
    approved_at = excluded.approved_at,
    manifest_sha256 = excluded.manifest_sha256,
    reports = excluded.reports
