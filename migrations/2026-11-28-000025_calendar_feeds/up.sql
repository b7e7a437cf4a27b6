-- Issue 15: a doctor's calendar feed. The URL's token is stored only as its SHA-256 (hex), so
-- the table alone opens no feed; one feed per doctor (rotating replaces the hash).
CREATE TABLE calendar_feeds (
    doctor_id             uuid PRIMARY KEY REFERENCES doctors (id) ON DELETE CASCADE,
    token_hash            char(64) NOT NULL CONSTRAINT calendar_feeds_token_hash_key UNIQUE,
    include_patient_names boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
