-- Issue 14: a doctor's own booking window for patients, over the clinic's
-- (BOOKING_MIN_NOTICE_HOURS, BOOKING_MAX_ADVANCE_DAYS). NULL keeps the clinic's value; no row
-- keeps both.
CREATE TABLE doctor_booking_windows (
    doctor_id        uuid PRIMARY KEY REFERENCES doctors (id) ON DELETE CASCADE,
    min_notice_hours integer CONSTRAINT doctor_booking_windows_notice_range
                         CHECK (min_notice_hours BETWEEN 0 AND 8760),
    max_advance_days integer CONSTRAINT doctor_booking_windows_advance_range
                         CHECK (max_advance_days BETWEEN 1 AND 3650),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
