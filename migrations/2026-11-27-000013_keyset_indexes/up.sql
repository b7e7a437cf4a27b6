-- Keyset pages (a cursor continues after the last item's (time, id)) read their list's index in
-- one direction for both columns: a newest-first list is the ascending (created_at, id) index
-- read backwards. The bills' index of migration 000012 mixed the directions (created_at DESC,
-- id ASC), which a row comparison cannot use; prescriptions had no index in their list's order.
DROP INDEX billings_created_id_idx;
CREATE INDEX billings_created_id_idx ON billings (created_at, id);
CREATE INDEX prescriptions_created_id_idx ON prescriptions (created_at, id);
