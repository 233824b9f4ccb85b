CREATE TABLE IF NOT EXISTS ops.report_approvals (
    period           VARCHAR NOT NULL,   -- reporting month, YYYY-MM
    kind             VARCHAR NOT NULL,   -- client or leadership
    approved_by      VARCHAR NOT NULL,
    approved_at      TIMESTAMPTZ NOT NULL,
    manifest_sha256  VARCHAR NOT NULL,   -- the reports approved: any re-render needs a new approval
    reports          INTEGER NOT NULL,
    PRIMARY KEY (period, kind)
);
