DROP TABLE idempotency_keys;
DROP TABLE audit_outbox;
DROP TYPE audit_action;
