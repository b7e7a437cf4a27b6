DROP INDEX prescriptions_created_id_idx;
DROP INDEX billings_created_id_idx;
CREATE INDEX billings_created_id_idx ON billings (created_at DESC, id);
