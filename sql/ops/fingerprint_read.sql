SELECT month, fingerprint, counts FROM ops.fingerprints WHERE asset = ?
