CREATE TABLE IF NOT EXISTS ops.deliveries (
    delivery_key  VARCHAR PRIMARY KEY,
    account_id    VARCHAR NOT NULL,
    period        VARCHAR NOT NULL,
    recipient     VARCHAR NOT NULL,
    report_sha256 VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,
    attempts      INTEGER NOT NULL,
    channel       VARCHAR,
    message_id    VARCHAR,
    error         VARCHAR,
    updated_at    TIMESTAMPTZ NOT NULL
);
