-- Identity and the clinic directory: users, their patient/doctor profiles, departments.
-- Users are deactivated (is_active = false), not deleted; the FKs below still say what a hard
-- delete would do: a profile goes with its user, but history (appointments, bills) blocks it.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Keeps updated_at honest without every UPDATE having to remember it.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TYPE user_role AS ENUM ('ADMIN', 'DOCTOR', 'RECEPTIONIST', 'PATIENT');
CREATE TYPE gender AS ENUM ('MALE', 'FEMALE', 'OTHER');

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored lower-cased so the unique key is case-insensitive.
    email         varchar(254) NOT NULL,
    password_hash varchar(255) NOT NULL,
    name          varchar(120) NOT NULL,
    phone         varchar(32),
    role          user_role NOT NULL,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT users_email_shape CHECK (email LIKE '_%@_%'),
    CONSTRAINT users_name_not_blank CHECK (length(btrim(name)) > 0)
);
CREATE INDEX users_role_idx ON users (role, is_active);
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE patients (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                 uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    date_of_birth           date,
    gender                  gender,
    blood_group             varchar(3),
    address                 text,
    emergency_contact_name  varchar(120),
    emergency_contact_phone varchar(32),
    CONSTRAINT patients_user_id_key UNIQUE (user_id),
    CONSTRAINT patients_blood_group_valid
        CHECK (blood_group IN ('A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', 'O+', 'O-')),
    CONSTRAINT patients_address_length CHECK (length(address) <= 500)
);

CREATE TABLE doctors (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    specialization   varchar(120) NOT NULL,
    qualification    varchar(200) NOT NULL,
    experience_years integer NOT NULL DEFAULT 0,
    license_number   varchar(64) NOT NULL,
    consultation_fee numeric(10, 2) NOT NULL,
    is_available     boolean NOT NULL DEFAULT true,
    CONSTRAINT doctors_user_id_key UNIQUE (user_id),
    CONSTRAINT doctors_license_number_key UNIQUE (license_number),
    CONSTRAINT doctors_experience_range CHECK (experience_years BETWEEN 0 AND 80),
    CONSTRAINT doctors_fee_non_negative CHECK (consultation_fee >= 0)
);
CREATE INDEX doctors_specialization_idx ON doctors (lower(specialization));

CREATE TABLE departments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        varchar(120) NOT NULL,
    description text,
    is_active   boolean NOT NULL DEFAULT true,
    CONSTRAINT departments_name_not_blank CHECK (length(btrim(name)) > 0)
);
-- "Cardiology" and "cardiology" are one department.
CREATE UNIQUE INDEX departments_name_key ON departments (lower(name));

CREATE TABLE doctor_departments (
    doctor_id     uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
    department_id uuid NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    PRIMARY KEY (doctor_id, department_id)
);
CREATE INDEX doctor_departments_department_idx ON doctor_departments (department_id);
