CREATE TABLE IF NOT EXISTS ops.loads (
    file_hash   VARCHAR PRIMARY KEY,
    source      VARCHAR NOT NULL,
    file_name   VARCHAR NOT NULL,
    file_path   VARCHAR NOT NULL,
    rows        BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL,
    run_id      VARCHAR
);
