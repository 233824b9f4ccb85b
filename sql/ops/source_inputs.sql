SELECT file_hash, rows FROM ops.loads WHERE source = ? ORDER BY file_hash
