ALTER TABLE audit_outbox DROP CONSTRAINT audit_outbox_event_id_key;
ALTER TABLE audit_outbox DROP COLUMN event_id;
