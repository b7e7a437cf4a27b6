-- Issue 14: the waitlist. A patient waits for a doctor over local days (and optionally a part
-- of the day, kept as the local start times it takes: earliest inclusive, latest exclusive,
-- NULL for the end of the day). An offer holds one free slot for one entry until expires_at.
CREATE TABLE waitlist_entries (
    id          uuid PRIMARY KEY,
    patient_id  uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    doctor_id   uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
    from_date   date NOT NULL,
    to_date     date NOT NULL,
    part_of_day varchar(16) CONSTRAINT waitlist_entries_part_of_day_known
                    CHECK (part_of_day IN ('MORNING', 'AFTERNOON', 'EVENING')),
    earliest    time NOT NULL,
    latest      time,
    status      varchar(16) NOT NULL DEFAULT 'WAITING' CONSTRAINT waitlist_entries_status_known
                    CHECK (status IN ('WAITING', 'OFFERED', 'BOOKED', 'LEFT', 'EXPIRED')),
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT waitlist_entries_range CHECK (to_date >= from_date)
);
-- One active entry per patient and doctor.
CREATE UNIQUE INDEX waitlist_entries_one_active_key ON waitlist_entries (patient_id, doctor_id)
    WHERE status IN ('WAITING', 'OFFERED');
-- The queue matching reads, oldest first.
CREATE INDEX waitlist_entries_queue_idx ON waitlist_entries (created_at, id) WHERE status = 'WAITING';
CREATE INDEX waitlist_entries_doctor_idx ON waitlist_entries (doctor_id, created_at, id);
CREATE INDEX waitlist_entries_patient_idx ON waitlist_entries (patient_id, created_at, id);

CREATE TABLE waitlist_offers (
    id         uuid PRIMARY KEY,
    entry_id   uuid NOT NULL REFERENCES waitlist_entries (id) ON DELETE CASCADE,
    patient_id uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    -- A slot withdrawn (time off, a changed schedule) takes its offers with it; the
    -- withdrawing transaction first puts the entries of its open offers back to WAITING.
    slot_id    uuid NOT NULL REFERENCES time_slots (id) ON DELETE CASCADE,
    status     varchar(16) NOT NULL DEFAULT 'OPEN' CONSTRAINT waitlist_offers_status_known
                   CHECK (status IN ('OPEN', 'ACCEPTED', 'DECLINED', 'EXPIRED')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);
-- Exactly one open offer per slot and per entry, whatever the number of processes matching;
-- and a slot is offered to an entry once (declined or expired, it goes to the next).
CREATE UNIQUE INDEX waitlist_offers_one_open_per_slot_key ON waitlist_offers (slot_id) WHERE status = 'OPEN';
CREATE UNIQUE INDEX waitlist_offers_one_open_per_entry_key ON waitlist_offers (entry_id) WHERE status = 'OPEN';
CREATE UNIQUE INDEX waitlist_offers_once_per_entry_slot_key ON waitlist_offers (entry_id, slot_id);
CREATE INDEX waitlist_offers_open_expiry_idx ON waitlist_offers (expires_at) WHERE status = 'OPEN';
