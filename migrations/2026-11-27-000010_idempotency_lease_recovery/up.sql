-- Idempotency keys survive crashes: a claim holds a lease (`locked_until`) that another request
-- may take over once it has run out, and the work records its result (`resource_id`) in its own
-- transaction, so a retry after a crash between commit and completion gets that result back.
ALTER TABLE idempotency_keys
    ADD COLUMN resource_id  uuid,
    ADD COLUMN locked_until timestamptz NOT NULL DEFAULT now();
