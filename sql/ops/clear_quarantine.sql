DELETE FROM ops.quarantine WHERE source = ? AND stage = ?
