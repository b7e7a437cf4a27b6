-- Scheduling and appointments. The invariants that make double booking impossible live here,
-- not only in code: one non-cancelled appointment per slot, one slot per (schedule, date, start),
-- no overlapping active schedules for a doctor and day, no overlapping active appointments for
-- a patient.

CREATE TYPE day_of_week AS ENUM ('MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN');
CREATE TYPE appointment_type AS ENUM ('CONSULTATION', 'FOLLOW_UP', 'EMERGENCY');
CREATE TYPE appointment_status AS ENUM ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED');

CREATE TABLE schedules (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    doctor_id             uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
    day_of_week           day_of_week NOT NULL,
    start_time            time NOT NULL,
    end_time              time NOT NULL,
    slot_duration_minutes integer NOT NULL,
    is_active             boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Target of time_slots' composite FK, so a slot's doctor_id always matches its schedule's.
    CONSTRAINT schedules_id_doctor_key UNIQUE (id, doctor_id),
    CONSTRAINT schedules_end_after_start CHECK (end_time > start_time),
    CONSTRAINT schedules_slot_length_positive CHECK (slot_duration_minutes BETWEEN 5 AND 480),
    CONSTRAINT schedules_slot_fits_window
        CHECK (slot_duration_minutes * interval '1 minute' <= end_time - start_time),
    CONSTRAINT schedules_no_overlap EXCLUDE USING gist (
        doctor_id WITH =,
        day_of_week WITH =,
        tsrange('2000-01-01'::date + start_time, '2000-01-01'::date + end_time) WITH &&
    ) WHERE (is_active)
);
CREATE TRIGGER schedules_updated_at BEFORE UPDATE ON schedules
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE time_slots (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id  uuid NOT NULL,
    -- Denormalised from the schedule (kept consistent by the composite FK) so that
    -- "slots of doctor D on date X" is one index lookup.
    doctor_id    uuid NOT NULL,
    date         date NOT NULL,
    start_time   time NOT NULL,
    end_time     time NOT NULL,
    -- Absolute instants, computed in the clinic's time zone at generation: correct across DST.
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    is_available boolean NOT NULL DEFAULT true,
    CONSTRAINT time_slots_schedule_fk FOREIGN KEY (schedule_id, doctor_id)
        REFERENCES schedules (id, doctor_id) ON DELETE CASCADE,
    -- Makes slot generation idempotent: running it twice creates nothing new.
    CONSTRAINT time_slots_schedule_date_start_key UNIQUE (schedule_id, date, start_time),
    CONSTRAINT time_slots_end_after_start CHECK (end_time > start_time AND ends_at > starts_at)
);
CREATE INDEX time_slots_doctor_date_idx ON time_slots (doctor_id, date, start_time);
CREATE INDEX time_slots_date_idx ON time_slots (date);

CREATE TABLE appointments (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id       uuid NOT NULL REFERENCES patients (id) ON DELETE RESTRICT,
    doctor_id        uuid NOT NULL REFERENCES doctors (id) ON DELETE RESTRICT,
    -- NULL only for EMERGENCY walk-ins, which never take a slot from someone else.
    time_slot_id     uuid REFERENCES time_slots (id) ON DELETE RESTRICT,
    type             appointment_type NOT NULL,
    status           appointment_status NOT NULL DEFAULT 'SCHEDULED',
    reason           text NOT NULL,
    notes            text,
    cancel_reason    varchar(500),
    -- The fee quoted at booking; the bill uses it even if the doctor's fee changes later.
    consultation_fee numeric(10, 2) NOT NULL,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT appointments_slot_required CHECK (type = 'EMERGENCY' OR time_slot_id IS NOT NULL),
    CONSTRAINT appointments_cancel_reason_required
        CHECK (status <> 'CANCELLED' OR cancel_reason IS NOT NULL),
    CONSTRAINT appointments_reason_length CHECK (length(reason) BETWEEN 1 AND 2000),
    CONSTRAINT appointments_fee_non_negative CHECK (consultation_fee >= 0),
    CONSTRAINT appointments_end_after_start CHECK (ends_at > starts_at),
    CONSTRAINT appointments_patient_no_overlap EXCLUDE USING gist (
        patient_id WITH =,
        tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status IN ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS'))
);
-- No double booking, ever: at most one non-cancelled appointment holds a slot.
CREATE UNIQUE INDEX appointments_active_slot_key ON appointments (time_slot_id)
    WHERE status <> 'CANCELLED';
CREATE INDEX appointments_doctor_starts_idx ON appointments (doctor_id, starts_at);
CREATE INDEX appointments_patient_starts_idx ON appointments (patient_id, starts_at);
CREATE INDEX appointments_status_starts_idx ON appointments (status, starts_at);
CREATE TRIGGER appointments_updated_at BEFORE UPDATE ON appointments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
