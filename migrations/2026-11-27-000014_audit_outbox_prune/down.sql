DROP INDEX audit_outbox_shipped_idx;
