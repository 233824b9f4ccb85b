INSERT INTO ops.loads (file_hash, source, file_name, file_path, rows, bytes, loaded_at, run_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
