-- The roll-up as 000016 made it.
ALTER TABLE analytics_daily DROP COLUMN no_show;
ALTER TABLE analytics_daily_changes DROP COLUMN no_show;

CREATE OR REPLACE FUNCTION analytics_raw_daily(zone text) RETURNS SETOF analytics_daily
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

CREATE OR REPLACE FUNCTION analytics_fold() RETURNS void
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

CREATE OR REPLACE FUNCTION analytics_count_appointment(a appointments, sign integer) RETURNS void
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
