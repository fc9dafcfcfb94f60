-- ProductReference.active (a BACKWARD change of the contract): false once the source archived
-- the reference, so the dashboards can tell a reference no longer sold from one still sold.
-- Rows stored before it came from references their source still sold, hence the default.
ALTER TABLE products ADD COLUMN IF NOT EXISTS active Bool DEFAULT true AFTER updated_at;
