-- Warehouses whose ops.deliveries predates resends get the column (no-op otherwise).
ALTER TABLE ops.deliveries ADD COLUMN IF NOT EXISTS requested_by VARCHAR
