-- Deliveries are keyed by the report's input hash (what it says) since the ledger took
-- them over; ops.deliveries is the warehouse's copy of the ledger, with that column.
ALTER TABLE ops.deliveries ADD COLUMN IF NOT EXISTS content_hash VARCHAR
