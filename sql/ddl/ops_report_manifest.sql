CREATE TABLE IF NOT EXISTS ops.report_manifest (
    period         VARCHAR NOT NULL,     -- reporting month, YYYY-MM
    kind           VARCHAR NOT NULL,     -- client or leadership
    account_id     VARCHAR NOT NULL,     -- '' for documents that are not per account
    period_key     VARCHAR NOT NULL,     -- 2024-03 or 2024-Q1
    cadence        VARCHAR,
    status         VARCHAR NOT NULL,     -- rendered, unchanged (inputs identical, not re-rendered), failed
    html_path      VARCHAR,              -- relative to the reports folder
    pdf_path       VARCHAR,
    html_sha256    VARCHAR,
    pdf_sha256     VARCHAR,
    pages          INTEGER,
    pdf_bytes      BIGINT,
    data_as_of     DATE,
    input_hash     VARCHAR,
    render_seconds DOUBLE,
    rendered_at    TIMESTAMPTZ,          -- when the files were written
    recorded_at    TIMESTAMPTZ NOT NULL, -- when this row was written
    run_id         VARCHAR,
    error          VARCHAR,
    PRIMARY KEY (period, kind, account_id)
);
