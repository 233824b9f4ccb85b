CREATE TABLE IF NOT EXISTS ops.deliveries (
    delivery_key  VARCHAR PRIMARY KEY,  -- sha256 of kind, account, period, recipient, report sha256 (+ a resend's request id)
    account_id    VARCHAR NOT NULL,
    period        VARCHAR NOT NULL,      -- reporting month, YYYY-MM
    recipient     VARCHAR NOT NULL,
    report_sha256 VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,      -- client (per-client report), leadership, client_resend (an operator's resend)
    status        VARCHAR NOT NULL,      -- sending, sent, failed (retried), rejected (bad address)
    attempts      INTEGER NOT NULL,
    channel       VARCHAR,               -- smtp or outbox
    message_id    VARCHAR,
    error         VARCHAR,
    updated_at    TIMESTAMPTZ NOT NULL,
    period_key    VARCHAR,               -- the report's period: 2024-03 or 2024-Q1
    report_path   VARCHAR,               -- the PDF, relative to the reports folder
    sent_at       TIMESTAMPTZ,
    created_at    TIMESTAMPTZ,
    requested_by  VARCHAR                -- who asked for a resend (NULL for scheduled deliveries)
);
