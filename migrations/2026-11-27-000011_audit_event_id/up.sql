-- Every audit event gets a globally unique id when its outbox row is written. The relay
-- deduplicates on it in MongoDB audit_logs (unique index on eventId), not on the outbox
-- sequence number: a restored or re-created database issues those numbers again, and its new
-- events must not be mistaken for ones already shipped. Existing rows get an id too.
ALTER TABLE audit_outbox ADD COLUMN event_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE audit_outbox ADD CONSTRAINT audit_outbox_event_id_key UNIQUE (event_id);
