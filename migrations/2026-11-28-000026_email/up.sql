-- Issue 16: email. The outbox holds each email's facts (`data`, rendered when sent), written
-- in the transaction of the change it tells about; the relay leases rows (lease_owner,
-- lease_until) so several processes send each one once. next_attempt_at NULL: due now.
CREATE TABLE email_outbox (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            varchar(32) NOT NULL CONSTRAINT email_outbox_kind_check CHECK (kind IN (
                        'BOOKING_CONFIRMATION', 'REMINDER', 'CANCELLATION', 'RESCHEDULE',
                        'BILL', 'PAYMENT_RECEIPT', 'PASSWORD_RESET', 'WAITLIST_OFFER')),
    data            jsonb NOT NULL,
    status          varchar(10) NOT NULL DEFAULT 'PENDING'
                        CONSTRAINT email_outbox_status_check CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    lease_owner     uuid,
    lease_until     timestamptz,
    last_error      varchar(500),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
-- The relay's scan: pending rows, oldest first.
CREATE INDEX email_outbox_pending_idx ON email_outbox (created_at) WHERE status = 'PENDING';
CREATE INDEX email_outbox_user_idx ON email_outbox (user_id);

-- A patient's choices: the kinds it turned off (no row, or an empty list: everything on; a kind
-- added later starts on). A password reset cannot be turned off.
CREATE TABLE email_preferences (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    opted_out  text[] NOT NULL DEFAULT '{}'
                   CONSTRAINT email_preferences_opted_out_check CHECK (opted_out <@ ARRAY[
                       'BOOKING_CONFIRMATION', 'REMINDER', 'CANCELLATION', 'RESCHEDULE', 'BILL',
                       'PAYMENT_RECEIPT', 'WAITLIST_OFFER']::text[]),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Password reset links. Only the token's SHA-256 is stored; the token itself is derived from
-- the id with the server's key when the email is written.
CREATE TABLE password_resets (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   char(64) NOT NULL CONSTRAINT password_resets_token_hash_key UNIQUE,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX password_resets_open_idx ON password_resets (user_id) WHERE used_at IS NULL;
CREATE INDEX password_resets_requested_by_idx ON password_resets (requested_by);
