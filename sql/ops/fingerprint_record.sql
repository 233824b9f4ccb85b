INSERT OR REPLACE INTO ops.fingerprints (asset, month, fingerprint, counts, recorded_at)
VALUES (?, ?, ?, ?, now())
