-- The relay deletes shipped outbox rows older than AUDIT_OUTBOX_RETENTION_HOURS, oldest first,
-- in bounded batches: this index finds them without scanning the whole outbox.
CREATE INDEX audit_outbox_shipped_idx ON audit_outbox (shipped_at) WHERE shipped_at IS NOT NULL;
