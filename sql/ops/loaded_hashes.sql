SELECT file_hash FROM ops.loads WHERE source = ?
