-- Issue 13: the dashboard's daily roll-up, kept in the same transactions as the changes.
--
-- A dashboard over a year would otherwise read every appointment of that year (about 5 s at ten
-- million appointments). Instead, statement-level triggers on appointments, billings and
-- time_slots append what each statement changed to `*_changes` tables (append-only: concurrent
-- bookings never wait on one another's counters, and no two transactions can deadlock on
-- them). A job folds the changes into `analytics_daily` and `analytics_lead_hours` every minute
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
-- is deleted (and so added) by one of them only.
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
    DELETE FROM analytics_lead_hours WHERE appointments = 0;
$$;

-- `sign` (1 or -1) times what `changed` appointments count: by status, their bills as they are
-- now, their lead time.
CREATE FUNCTION analytics_count_appointments(changed appointments[], sign integer) RETURNS void
LANGUAGE sql AS $$
    WITH a AS (
        SELECT c.id, c.doctor_id, c.status, (c.starts_at AT TIME ZONE s.zone)::date AS day,
               floor(extract(epoch FROM c.starts_at - c.created_at) / 3600)::integer AS hours
        FROM unnest(changed) c, analytics_settings s
    ), counted AS (
        INSERT INTO analytics_daily_changes (day, doctor_id, scheduled, confirmed, in_progress,
                                             completed, cancelled, paid, pending, overdue, refunded)
        SELECT a.day, a.doctor_id,
               sign * count(*) FILTER (WHERE a.status = 'SCHEDULED'),
               sign * count(*) FILTER (WHERE a.status = 'CONFIRMED'),
               sign * count(*) FILTER (WHERE a.status = 'IN_PROGRESS'),
               sign * count(*) FILTER (WHERE a.status = 'COMPLETED'),
               sign * count(*) FILTER (WHERE a.status = 'CANCELLED'),
               sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'PAID'), 0),
               sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'PENDING'), 0),
               sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'OVERDUE'), 0),
               sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'REFUNDED'), 0)
        FROM a LEFT JOIN billings b ON b.appointment_id = a.id
        GROUP BY a.day, a.doctor_id
    )
    INSERT INTO analytics_lead_hours_changes (day, hours, appointments)
    SELECT day, hours, sign * count(*) FROM a GROUP BY day, hours
$$;

-- `sign` times the amounts of `changed` bills, on their appointment's day.
CREATE FUNCTION analytics_count_bills(changed billings[], sign integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO analytics_daily_changes (day, doctor_id, paid, pending, overdue, refunded)
    SELECT (a.starts_at AT TIME ZONE s.zone)::date, a.doctor_id,
           sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'PAID'), 0),
           sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'PENDING'), 0),
           sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'OVERDUE'), 0),
           sign * coalesce(sum(b.amount) FILTER (WHERE b.status = 'REFUNDED'), 0)
    FROM unnest(changed) b JOIN appointments a ON a.id = b.appointment_id, analytics_settings s
    GROUP BY 1, 2
$$;

-- `sign` times the `changed` slots, taken or not.
CREATE FUNCTION analytics_count_slots(changed time_slots[], sign integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO analytics_daily_changes (day, doctor_id, slots, slots_taken)
    SELECT t.date, t.doctor_id, sign * count(*), sign * count(*) FILTER (WHERE NOT t.is_available)
    FROM unnest(changed) t
    GROUP BY 1, 2
$$;

-- One trigger function per table (statement-level, over the transition tables). An UPDATE
-- counts only the rows whose counted columns moved: out with the old values, in with the new.
CREATE FUNCTION analytics_appointments_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_count_appointments(ARRAY(SELECT n::appointments FROM new_rows n), 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_count_appointments(ARRAY(SELECT o::appointments FROM old_rows o), -1);
    ELSE
        PERFORM analytics_count_appointments(ARRAY(
            SELECT o::appointments FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.status IS DISTINCT FROM o.status
               OR n.starts_at IS DISTINCT FROM o.starts_at
               OR n.doctor_id IS DISTINCT FROM o.doctor_id
               OR n.created_at IS DISTINCT FROM o.created_at), -1);
        PERFORM analytics_count_appointments(ARRAY(
            SELECT n::appointments FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.status IS DISTINCT FROM o.status
               OR n.starts_at IS DISTINCT FROM o.starts_at
               OR n.doctor_id IS DISTINCT FROM o.doctor_id
               OR n.created_at IS DISTINCT FROM o.created_at), 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION analytics_billings_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_count_bills(ARRAY(SELECT n::billings FROM new_rows n), 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_count_bills(ARRAY(SELECT o::billings FROM old_rows o), -1);
    ELSE
        PERFORM analytics_count_bills(ARRAY(
            SELECT o::billings FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.status IS DISTINCT FROM o.status
               OR n.amount IS DISTINCT FROM o.amount
               OR n.appointment_id IS DISTINCT FROM o.appointment_id), -1);
        PERFORM analytics_count_bills(ARRAY(
            SELECT n::billings FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.status IS DISTINCT FROM o.status
               OR n.amount IS DISTINCT FROM o.amount
               OR n.appointment_id IS DISTINCT FROM o.appointment_id), 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION analytics_time_slots_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_count_slots(ARRAY(SELECT n::time_slots FROM new_rows n), 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_count_slots(ARRAY(SELECT o::time_slots FROM old_rows o), -1);
    ELSE
        PERFORM analytics_count_slots(ARRAY(
            SELECT o::time_slots FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.is_available IS DISTINCT FROM o.is_available
               OR n.date IS DISTINCT FROM o.date
               OR n.doctor_id IS DISTINCT FROM o.doctor_id), -1);
        PERFORM analytics_count_slots(ARRAY(
            SELECT n::time_slots FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.is_available IS DISTINCT FROM o.is_available
               OR n.date IS DISTINCT FROM o.date
               OR n.doctor_id IS DISTINCT FROM o.doctor_id), 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_appointments_inserted AFTER INSERT ON appointments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_appointments_changed();
CREATE TRIGGER analytics_appointments_updated AFTER UPDATE ON appointments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_appointments_changed();
CREATE TRIGGER analytics_appointments_deleted AFTER DELETE ON appointments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_appointments_changed();

CREATE TRIGGER analytics_billings_inserted AFTER INSERT ON billings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_billings_changed();
CREATE TRIGGER analytics_billings_updated AFTER UPDATE ON billings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_billings_changed();
CREATE TRIGGER analytics_billings_deleted AFTER DELETE ON billings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_billings_changed();

CREATE TRIGGER analytics_time_slots_inserted AFTER INSERT ON time_slots
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_time_slots_changed();
CREATE TRIGGER analytics_time_slots_updated AFTER UPDATE ON time_slots
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_time_slots_changed();
CREATE TRIGGER analytics_time_slots_deleted AFTER DELETE ON time_slots
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_time_slots_changed();

-- What is there already (in UTC until a server says otherwise).
SELECT analytics_rebuild('UTC');
