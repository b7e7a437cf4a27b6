-- PostgreSQL cannot drop an enum value: the type is made again without it. No-shows become
-- cancellations (with a reason, as the table requires). What refers to the column by the old
-- type's values (a constraint, an exclusion constraint, a partial index, a trigger's WHEN) is
-- dropped first and made again as migrations 000002 and 000016 made it.
UPDATE appointments SET status = 'CANCELLED', cancel_reason = coalesce(cancel_reason, 'No-show')
WHERE status = 'NO_SHOW';
DROP TRIGGER analytics_appointments_changed ON appointments;
DROP INDEX appointments_active_slot_key;
ALTER TABLE appointments DROP CONSTRAINT appointments_patient_no_overlap;
ALTER TABLE appointments DROP CONSTRAINT appointments_cancel_reason_required;
ALTER TYPE appointment_status RENAME TO appointment_status_with_no_show;
CREATE TYPE appointment_status AS ENUM ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED');
ALTER TABLE appointments
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN status TYPE appointment_status USING status::text::appointment_status,
    ALTER COLUMN status SET DEFAULT 'SCHEDULED';
DROP TYPE appointment_status_with_no_show;
ALTER TABLE appointments ADD CONSTRAINT appointments_cancel_reason_required
    CHECK (status <> 'CANCELLED' OR cancel_reason IS NOT NULL);
ALTER TABLE appointments ADD CONSTRAINT appointments_patient_no_overlap EXCLUDE USING gist (
    patient_id WITH =,
    tstzrange(starts_at, ends_at) WITH &&
) WHERE (status IN ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS'));
CREATE UNIQUE INDEX appointments_active_slot_key ON appointments (time_slot_id)
    WHERE status <> 'CANCELLED';
CREATE TRIGGER analytics_appointments_changed AFTER UPDATE ON appointments
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
          OR OLD.doctor_id IS DISTINCT FROM NEW.doctor_id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION analytics_appointment_changed();
