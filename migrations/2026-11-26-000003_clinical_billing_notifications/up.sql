-- Clinical content, money and notifications.

CREATE TYPE medical_record_type AS ENUM ('PRESCRIPTION', 'LAB_REPORT', 'IMAGING', 'CLINICAL_NOTE');
CREATE TYPE billing_status AS ENUM ('PENDING', 'PAID', 'OVERDUE', 'REFUNDED');
CREATE TYPE notification_type AS ENUM ('BOOKING_CONFIRMATION', 'REMINDER', 'PRESCRIPTION', 'PAYMENT', 'GENERAL');

CREATE TABLE prescriptions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id uuid NOT NULL REFERENCES appointments (id) ON DELETE RESTRICT,
    doctor_id      uuid NOT NULL REFERENCES doctors (id) ON DELETE RESTRICT,
    patient_id     uuid NOT NULL REFERENCES patients (id) ON DELETE RESTRICT,
    diagnosis      text NOT NULL,
    notes          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- One prescription per appointment.
    CONSTRAINT prescriptions_appointment_id_key UNIQUE (appointment_id),
    CONSTRAINT prescriptions_diagnosis_length CHECK (length(diagnosis) BETWEEN 1 AND 4000)
);
CREATE INDEX prescriptions_patient_idx ON prescriptions (patient_id, created_at DESC);
CREATE INDEX prescriptions_doctor_idx ON prescriptions (doctor_id, created_at DESC);

CREATE TABLE prescription_items (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    prescription_id uuid NOT NULL REFERENCES prescriptions (id) ON DELETE CASCADE,
    medicine_name   varchar(200) NOT NULL,
    dosage          varchar(100) NOT NULL,
    frequency       varchar(100) NOT NULL,
    duration        varchar(100) NOT NULL,
    instructions    text,
    CONSTRAINT prescription_items_medicine_not_blank CHECK (length(btrim(medicine_name)) > 0)
);
CREATE INDEX prescription_items_prescription_idx ON prescription_items (prescription_id);

CREATE TABLE medical_records (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id   uuid NOT NULL REFERENCES patients (id) ON DELETE RESTRICT,
    uploaded_by  uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    type         medical_record_type NOT NULL,
    title        varchar(200) NOT NULL,
    description  text,
    file_url     varchar(500) NOT NULL,
    -- Added: what the download route needs to stream the file back.
    content_type varchar(100) NOT NULL,
    size_bytes   bigint NOT NULL,
    file_name    varchar(255) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT medical_records_size_positive CHECK (size_bytes > 0)
);
CREATE INDEX medical_records_patient_idx ON medical_records (patient_id, type, created_at DESC);

CREATE TABLE billings (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id uuid NOT NULL REFERENCES appointments (id) ON DELETE RESTRICT,
    patient_id     uuid NOT NULL REFERENCES patients (id) ON DELETE RESTRICT,
    amount         numeric(10, 2) NOT NULL,
    status         billing_status NOT NULL DEFAULT 'PENDING',
    payment_method varchar(30),
    paid_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- Added: when a PENDING bill becomes OVERDUE.
    due_at         timestamptz NOT NULL,
    CONSTRAINT billings_appointment_id_key UNIQUE (appointment_id),
    CONSTRAINT billings_amount_non_negative CHECK (amount >= 0),
    CONSTRAINT billings_paid_fields CHECK (
        (status IN ('PAID', 'REFUNDED')) = (paid_at IS NOT NULL AND payment_method IS NOT NULL)
    )
);
CREATE INDEX billings_patient_idx ON billings (patient_id, created_at DESC);
CREATE INDEX billings_status_due_idx ON billings (status, due_at);

CREATE TABLE notifications (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type           notification_type NOT NULL,
    title          varchar(200) NOT NULL,
    message        text NOT NULL,
    is_read        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- Added: the appointment a notification is about, so a REMINDER is sent once per appointment.
    appointment_id uuid REFERENCES appointments (id) ON DELETE CASCADE
);
CREATE INDEX notifications_user_idx ON notifications (user_id, is_read, created_at DESC);
CREATE UNIQUE INDEX notifications_reminder_once_key ON notifications (appointment_id, user_id)
    WHERE type = 'REMINDER';
