-- Issue 14: time off. A doctor's leave (doctor_id set) or a clinic holiday (doctor_id NULL),
-- stored as the instants it covers (the request is in the clinic's local time). The one
-- source of truth: slot generation, availability and the booking transaction all consult it.
CREATE TABLE time_off (
    id         uuid PRIMARY KEY,
    doctor_id  uuid REFERENCES doctors (id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    reason     varchar(200),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT time_off_ends_after_start CHECK (ends_at > starts_at)
);
-- "Is this slot inside time off of its doctor?" reads the doctor's rows (holidays under NULL)
-- ending after the slot starts.
CREATE INDEX time_off_doctor_ends_idx ON time_off (doctor_id, ends_at);
