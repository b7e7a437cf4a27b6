-- Issue 15: outgoing webhooks. Admins register endpoints; each business event an endpoint
-- subscribes to is written to webhook_events, with one webhook_deliveries row per subscribed
-- endpoint, in the transaction of the change (like the audit outbox). A relay delivers each
-- endpoint's deliveries one at a time, oldest first, holding a lease on the endpoint row so two
-- `serve` processes never deliver to one endpoint at once.
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY,
    url             varchar(2048) NOT NULL,
    description     varchar(200),
    -- The signing secret: needed in clear to sign, so it is stored as given (shown to the
    -- admin once, at creation and at rotation; never in an answer or an audit event after).
    secret          varchar(128) NOT NULL,
    event_types     text[] NOT NULL CONSTRAINT webhook_endpoints_some_events
                        CHECK (cardinality(event_types) > 0),
    is_active       boolean NOT NULL DEFAULT true,
    -- Why the relay switched the endpoint off (sustained failure); NULL when an admin did.
    disabled_reason varchar(300),
    -- The process delivering to this endpoint now, and until when its claim holds.
    lease_owner     uuid,
    lease_until     timestamptz,
    created_by      uuid NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_active_idx ON webhook_endpoints (created_at, id) WHERE is_active;

CREATE TABLE webhook_events (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    event_type  varchar(40) NOT NULL,
    -- Ids, statuses and times only: never clinical text (domain::webhooks::events).
    data        jsonb NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         bigint NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status           varchar(16) NOT NULL DEFAULT 'PENDING' CONSTRAINT webhook_deliveries_status_known
                         CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         integer NOT NULL DEFAULT 0,
    -- NULL: due at once (never tried). Set by the clinic's clock after a failed attempt.
    next_attempt_at  timestamptz,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       varchar(500),
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- Each endpoint's queue, oldest first: the relay reads its head.
CREATE INDEX webhook_deliveries_queue_idx ON webhook_deliveries (endpoint_id, id) WHERE status = 'PENDING';
-- The delivery log, newest first.
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
