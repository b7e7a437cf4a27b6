-- Issue 14: recurring visits. A series is what the desk asked for; its members are the
-- appointments it booked, by position (occurrences that could not be booked have none).
CREATE TABLE appointment_series (
    id          uuid PRIMARY KEY,
    patient_id  uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    doctor_id   uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
    first_date  date NOT NULL,
    start_time  time NOT NULL,
    every_weeks integer NOT NULL CONSTRAINT appointment_series_every_weeks_range
                    CHECK (every_weeks BETWEEN 1 AND 12),
    occurrences integer NOT NULL CONSTRAINT appointment_series_occurrences_range
                    CHECK (occurrences BETWEEN 2 AND 26),
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE appointment_series_members (
    appointment_id uuid PRIMARY KEY REFERENCES appointments (id) ON DELETE CASCADE,
    series_id      uuid NOT NULL REFERENCES appointment_series (id) ON DELETE CASCADE,
    occurrence     integer NOT NULL CONSTRAINT appointment_series_members_occurrence_range
                       CHECK (occurrence BETWEEN 1 AND 26),
    CONSTRAINT appointment_series_members_position_key UNIQUE (series_id, occurrence)
);
