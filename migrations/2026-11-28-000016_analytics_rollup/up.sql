-- Issue 13: the dashboard's daily roll-up, kept in the same transactions as the changes.
--
-- A dashboard over a year would otherwise read every appointment of that year (about 7 s at ten
-- million appointments). Instead, triggers on appointments, billings and time_slots append
-- what each change counts, signed, to `*_changes` tables (append-only: concurrent bookings
-- never wait on one another's counters, and no two transactions can deadlock on them; a
-- rolled-back transaction takes its changes with it). A job folds the changes into `analytics_daily` and `analytics_lead_hours` every minute
-- (`analytics_fold`); a dashboard reads both, so it is exact whether or not the fold has run.
-- `analytics_raw_daily` and `analytics_raw_lead_hours` are the definitions, counted from the
-- tables themselves: `analytics_rebuild` writes them, and the tests prove the maintained
-- roll-up equals them after every kind of change.

-- The time zone the roll-up's days are counted in: the server's CLINIC_TIMEZONE. At start-up a
-- server whose zone differs rebuilds the roll-up in its own zone.
CREATE TABLE analytics_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    zone      text NOT NULL
);
INSERT INTO analytics_settings (zone) VALUES ('UTC');

-- Per local day and doctor: appointments by status (on the day they start), their bills by
-- status (on the same day), and the doctor's slots of that date (taken or not).
CREATE TABLE analytics_daily (
    day         date NOT NULL,
    doctor_id   uuid NOT NULL,
    scheduled   bigint NOT NULL DEFAULT 0,
    confirmed   bigint NOT NULL DEFAULT 0,
    in_progress bigint NOT NULL DEFAULT 0,
    completed   bigint NOT NULL DEFAULT 0,
    cancelled   bigint NOT NULL DEFAULT 0,
    slots       bigint NOT NULL DEFAULT 0,
    slots_taken bigint NOT NULL DEFAULT 0,
    paid        numeric NOT NULL DEFAULT 0,
    pending     numeric NOT NULL DEFAULT 0,
    overdue     numeric NOT NULL DEFAULT 0,
    refunded    numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (day, doctor_id)
);
-- Signed changes not folded yet (a minute's worth; read by a sequential scan).
CREATE TABLE analytics_daily_changes (LIKE analytics_daily INCLUDING DEFAULTS);

-- Per local day: how many appointments were booked `hours` whole hours ahead of their start
-- (floor of start - booking time), for the exact median booking lead time.
CREATE TABLE analytics_lead_hours (
    day          date NOT NULL,
    hours        integer NOT NULL,
    appointments bigint NOT NULL,
    PRIMARY KEY (day, hours)
);
CREATE TABLE analytics_lead_hours_changes (LIKE analytics_lead_hours);

-- New patients per day (the clinic's dashboard) are counted from users by this index.
CREATE INDEX users_patients_created_idx ON users (created_at) WHERE role = 'PATIENT';

-- What the roll-up must hold, counted from the tables (in `zone`).
CREATE FUNCTION analytics_raw_daily(zone text) RETURNS SETOF analytics_daily
LANGUAGE sql STABLE AS $$
    SELECT day, doctor_id, sum(scheduled)::bigint, sum(confirmed)::bigint,
           sum(in_progress)::bigint, sum(completed)::bigint, sum(cancelled)::bigint,
           sum(slots)::bigint, sum(slots_taken)::bigint,
           sum(paid), sum(pending), sum(overdue), sum(refunded)
    FROM (
        SELECT (a.starts_at AT TIME ZONE zone)::date AS day, a.doctor_id,
               count(*) FILTER (WHERE a.status = 'SCHEDULED') AS scheduled,
               count(*) FILTER (WHERE a.status = 'CONFIRMED') AS confirmed,
               count(*) FILTER (WHERE a.status = 'IN_PROGRESS') AS in_progress,
               count(*) FILTER (WHERE a.status = 'COMPLETED') AS completed,
               count(*) FILTER (WHERE a.status = 'CANCELLED') AS cancelled,
               0 AS slots, 0 AS slots_taken,
               coalesce(sum(b.amount) FILTER (WHERE b.status = 'PAID'), 0) AS paid,
               coalesce(sum(b.amount) FILTER (WHERE b.status = 'PENDING'), 0) AS pending,
               coalesce(sum(b.amount) FILTER (WHERE b.status = 'OVERDUE'), 0) AS overdue,
               coalesce(sum(b.amount) FILTER (WHERE b.status = 'REFUNDED'), 0) AS refunded
        FROM appointments a LEFT JOIN billings b ON b.appointment_id = a.id
        GROUP BY 1, 2
        UNION ALL
        SELECT t.date, t.doctor_id, 0, 0, 0, 0, 0,
               count(*), count(*) FILTER (WHERE NOT t.is_available), 0, 0, 0, 0
        FROM time_slots t
        GROUP BY 1, 2
    ) x
    GROUP BY day, doctor_id
$$;

CREATE FUNCTION analytics_raw_lead_hours(zone text) RETURNS SETOF analytics_lead_hours
LANGUAGE sql STABLE AS $$
    SELECT (starts_at AT TIME ZONE zone)::date,
           floor(extract(epoch FROM starts_at - created_at) / 3600)::integer,
           count(*)
    FROM appointments
    GROUP BY 1, 2
$$;

-- Counts everything again in `zone` (a new CLINIC_TIMEZONE, or after a bulk load that skipped
-- the triggers). Writers wait meanwhile (SHARE locks), so no change is counted in the old zone
-- after the new one is set, and none is lost.
CREATE FUNCTION analytics_rebuild(new_zone text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE appointments, billings, time_slots IN SHARE MODE;
    UPDATE analytics_settings SET zone = new_zone;
    TRUNCATE analytics_daily, analytics_daily_changes, analytics_lead_hours,
             analytics_lead_hours_changes;
    INSERT INTO analytics_daily SELECT * FROM analytics_raw_daily(new_zone);
    INSERT INTO analytics_lead_hours SELECT * FROM analytics_raw_lead_hours(new_zone);
END
$$;

-- Moves the changes into the roll-up. Safe to run from several processes at once: a change row
-- is deleted (and so added) by one of them only. Rows that come to nothing stay (the dashboard
-- skips them): finding them would cost a scan of the roll-up every minute.
CREATE FUNCTION analytics_fold() RETURNS void
LANGUAGE sql AS $$
    WITH moved AS (DELETE FROM analytics_daily_changes RETURNING *)
    INSERT INTO analytics_daily AS r
    SELECT day, doctor_id, sum(scheduled), sum(confirmed), sum(in_progress), sum(completed),
           sum(cancelled), sum(slots), sum(slots_taken),
           sum(paid), sum(pending), sum(overdue), sum(refunded)
    FROM moved GROUP BY day, doctor_id
    ON CONFLICT (day, doctor_id) DO UPDATE SET
        scheduled = r.scheduled + excluded.scheduled,
        confirmed = r.confirmed + excluded.confirmed,
        in_progress = r.in_progress + excluded.in_progress,
        completed = r.completed + excluded.completed,
        cancelled = r.cancelled + excluded.cancelled,
        slots = r.slots + excluded.slots,
        slots_taken = r.slots_taken + excluded.slots_taken,
        paid = r.paid + excluded.paid,
        pending = r.pending + excluded.pending,
        overdue = r.overdue + excluded.overdue,
        refunded = r.refunded + excluded.refunded;
    WITH moved AS (DELETE FROM analytics_lead_hours_changes RETURNING *)
    INSERT INTO analytics_lead_hours AS r
    SELECT day, hours, sum(appointments) FROM moved GROUP BY day, hours
    ON CONFLICT (day, hours) DO UPDATE SET appointments = r.appointments + excluded.appointments;
$$;

-- The triggers. Bookings, cancellations, payments change one row at a time: row-level triggers
-- (PL/pgSQL, plans kept per session) append one change row each, and an UPDATE fires only when
-- a counted column moved (the WHEN clause, checked without calling the function). Measured on
-- the booking transaction (pgbench, docker/bench/booking.sql): 0.90 of the transactions per
-- second without the roll-up, against 0.64-0.72 for statement-level triggers over transition
-- tables. Slot generation inserts thousands of slots in one statement: there a statement-level
-- trigger appends one grouped change per day and doctor.

-- `sign` (1 or -1) times what appointment `a` counts: its status, its bill as it is now, its
-- lead time.
CREATE FUNCTION analytics_count_appointment(a appointments, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    local_day date := (a.starts_at AT TIME ZONE (SELECT zone FROM analytics_settings))::date;
    bill_status billing_status;
    amount numeric := 0;
BEGIN
    SELECT b.status, b.amount INTO bill_status, amount
    FROM billings b WHERE b.appointment_id = a.id;
    INSERT INTO analytics_daily_changes (day, doctor_id, scheduled, confirmed, in_progress,
                                         completed, cancelled, paid, pending, overdue, refunded)
    VALUES (local_day, a.doctor_id,
            sign * (a.status = 'SCHEDULED')::int, sign * (a.status = 'CONFIRMED')::int,
            sign * (a.status = 'IN_PROGRESS')::int, sign * (a.status = 'COMPLETED')::int,
            sign * (a.status = 'CANCELLED')::int,
            CASE WHEN bill_status = 'PAID' THEN sign * amount ELSE 0 END,
            CASE WHEN bill_status = 'PENDING' THEN sign * amount ELSE 0 END,
            CASE WHEN bill_status = 'OVERDUE' THEN sign * amount ELSE 0 END,
            CASE WHEN bill_status = 'REFUNDED' THEN sign * amount ELSE 0 END);
    INSERT INTO analytics_lead_hours_changes (day, hours, appointments)
    VALUES (local_day, floor(extract(epoch FROM a.starts_at - a.created_at) / 3600)::integer,
            sign);
END
$$;

-- `sign` times the amount of bill `b`, on its appointment's day. The appointment is read FOR
-- SHARE: should it be moving to another day or doctor in a transaction not committed yet, this
-- waits for it and counts the bill where it moved to (that transaction counted the bill as it
-- was, out of the old day and into the new), so a bill and its appointment changing at once are
-- counted once, on the right day.
CREATE FUNCTION analytics_count_bill(b billings, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    local_day date;
    doctor uuid;
BEGIN
    SELECT (a.starts_at AT TIME ZONE s.zone)::date, a.doctor_id INTO local_day, doctor
    FROM appointments a, analytics_settings s
    WHERE a.id = b.appointment_id
    FOR SHARE OF a;
    INSERT INTO analytics_daily_changes (day, doctor_id, paid, pending, overdue, refunded)
    VALUES (local_day, doctor,
            CASE WHEN b.status = 'PAID' THEN sign * b.amount ELSE 0 END,
            CASE WHEN b.status = 'PENDING' THEN sign * b.amount ELSE 0 END,
            CASE WHEN b.status = 'OVERDUE' THEN sign * b.amount ELSE 0 END,
            CASE WHEN b.status = 'REFUNDED' THEN sign * b.amount ELSE 0 END);
END
$$;

CREATE FUNCTION analytics_appointment_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM analytics_count_appointment(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM analytics_count_appointment(NEW, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION analytics_bill_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM analytics_count_bill(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM analytics_count_bill(NEW, 1);
    END IF;
    RETURN NULL;
END
$$;

-- A slot taken or given back (or moved).
CREATE FUNCTION analytics_slot_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_daily_changes (day, doctor_id, slots, slots_taken)
    VALUES (OLD.date, OLD.doctor_id, -1, -(NOT OLD.is_available)::int),
           (NEW.date, NEW.doctor_id, 1, (NOT NEW.is_available)::int);
    RETURN NULL;
END
$$;

-- Slots generated or deleted, many per statement: one grouped change per day and doctor.
CREATE FUNCTION analytics_slots_added_or_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics_daily_changes (day, doctor_id, slots, slots_taken)
        SELECT date, doctor_id, count(*), count(*) FILTER (WHERE NOT is_available)
        FROM new_rows GROUP BY date, doctor_id;
    ELSE
        INSERT INTO analytics_daily_changes (day, doctor_id, slots, slots_taken)
        SELECT date, doctor_id, -count(*), -count(*) FILTER (WHERE NOT is_available)
        FROM old_rows GROUP BY date, doctor_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_appointments_added_or_removed AFTER INSERT OR DELETE ON appointments
    FOR EACH ROW EXECUTE FUNCTION analytics_appointment_changed();
CREATE TRIGGER analytics_appointments_changed AFTER UPDATE ON appointments
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
          OR OLD.doctor_id IS DISTINCT FROM NEW.doctor_id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION analytics_appointment_changed();

CREATE TRIGGER analytics_billings_added_or_removed AFTER INSERT OR DELETE ON billings
    FOR EACH ROW EXECUTE FUNCTION analytics_bill_changed();
CREATE TRIGGER analytics_billings_changed AFTER UPDATE ON billings
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.amount IS DISTINCT FROM NEW.amount
          OR OLD.appointment_id IS DISTINCT FROM NEW.appointment_id)
    EXECUTE FUNCTION analytics_bill_changed();

CREATE TRIGGER analytics_time_slots_changed AFTER UPDATE ON time_slots
    FOR EACH ROW
    WHEN (OLD.is_available IS DISTINCT FROM NEW.is_available OR OLD.date IS DISTINCT FROM NEW.date
          OR OLD.doctor_id IS DISTINCT FROM NEW.doctor_id)
    EXECUTE FUNCTION analytics_slot_changed();
CREATE TRIGGER analytics_time_slots_added AFTER INSERT ON time_slots
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_slots_added_or_removed();
CREATE TRIGGER analytics_time_slots_removed AFTER DELETE ON time_slots
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_slots_added_or_removed();

-- What is there already (in UTC until a server says otherwise).
SELECT analytics_rebuild('UTC');
