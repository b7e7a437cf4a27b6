-- Issue 14: minutes of buffer after each slot of a schedule (cleaning, notes, running late).
-- Generation leaves the gap; 0 (the default) is the schedules written before.
ALTER TABLE schedules ADD COLUMN buffer_minutes integer NOT NULL DEFAULT 0
    CONSTRAINT schedules_buffer_range CHECK (buffer_minutes BETWEEN 0 AND 240);
