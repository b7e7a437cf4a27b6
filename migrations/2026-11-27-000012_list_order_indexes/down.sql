DROP INDEX users_name_id_idx;
DROP INDEX billings_created_id_idx;
DROP INDEX appointments_starts_id_idx;
