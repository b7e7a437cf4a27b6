-- The orders the lists are read in, as indexes: without them the front desk's appointment list,
-- the admin's bill list and the patient list sort the whole table for every page (measured with
-- 300,000 appointments: page 1 of GET /appointments 106 ms as a parallel seq scan + top-N sort;
-- with the index an index scan reading 20 rows).
CREATE INDEX appointments_starts_id_idx ON appointments (starts_at, id);
CREATE INDEX billings_created_id_idx ON billings (created_at DESC, id);
CREATE INDEX users_name_id_idx ON users (name, id);
