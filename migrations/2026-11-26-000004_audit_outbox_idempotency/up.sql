-- Internal tables. The audit outbox is written in the same transaction as the change it
-- records, then shipped to MongoDB audit_logs by the relay, in id order, exactly once
-- (the MongoDB side has a unique index on outboxId, so a re-sent batch is a no-op).

CREATE TYPE audit_action AS ENUM ('CREATE', 'UPDATE', 'DELETE', 'LOGIN', 'LOGOUT');

CREATE TABLE audit_outbox (
    id          bigserial PRIMARY KEY,
    user_id     uuid,
    action      audit_action NOT NULL,
    entity      varchar(40) NOT NULL,
    entity_id   uuid,
    changes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip_address  varchar(64),
    user_agent  varchar(512),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    shipped_at  timestamptz
);
CREATE INDEX audit_outbox_pending_idx ON audit_outbox (id) WHERE shipped_at IS NULL;

-- Idempotency-Key: a retried request returns the first result instead of acting twice.
CREATE TABLE idempotency_keys (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key             varchar(200) NOT NULL,
    request_hash    varchar(64) NOT NULL,
    response_status smallint NOT NULL,
    response_body   jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
