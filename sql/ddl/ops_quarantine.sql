CREATE TABLE IF NOT EXISTS ops.quarantine (
    source      VARCHAR NOT NULL,
    stage       VARCHAR NOT NULL,
    file        VARCHAR,
    "row"       BIGINT,
    "column"    VARCHAR,
    value       VARCHAR,
    reason      VARCHAR NOT NULL,
    record_key  VARCHAR,
    loaded_at   TIMESTAMPTZ
);
