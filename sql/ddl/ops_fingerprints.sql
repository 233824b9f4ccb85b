CREATE TABLE IF NOT EXISTS ops.fingerprints (
    asset        VARCHAR PRIMARY KEY,
    month        DATE,
    fingerprint  VARCHAR NOT NULL,
    counts       VARCHAR NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);
