//! Demo and scale data, written straight into PostgreSQL by set-based SQL (`INSERT ... SELECT`
//! over `generate_series`), so ten million appointments take minutes rather than the days that
//! ten million API calls would. `healthsync seed` (crate `api-http`) drives it.
//!
//! Deterministic: every id is `md5(seed:kind:n)` read as a UUID, and every chance (booked or
//! not, cancelled or not, paid or not) is a hash of the row's id; the same seed, size and day
//! give the same clinic. Everything is written in one transaction: a failed seed leaves the
//! database as it was.
//!
//! The clinic: eight departments; doctors (`doctor1@healthsync.test`, ...) working Monday to
//! Friday, 09:00 to 17:00 in 15-minute slots; an admin and two receptionists; patients. Past
//! slots are about 80% booked (most visits COMPLETED, some CANCELLED), the next two weeks about
//! 40% (SCHEDULED or CONFIRMED). Completed visits have bills in every status and, half of them,
//! a prescription; recent appointments have their notifications and audit events (the outbox
//! ships those to MongoDB when the server runs). Every account shares one password, whose hash
//! the caller supplies.

use chrono::NaiveDate;
use diesel::sql_types::{Array, BigInt, Date, Integer, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// Makes the data reproducible.
    pub seed: u32,
    /// About how many past appointments to write.
    pub appointments: u64,
    /// The clinic's today (in its time zone): history ends yesterday, bookings start today.
    pub today: NaiveDate,
    /// IANA name of the clinic's zone, for slot instants.
    pub timezone: String,
    /// The Argon2id hash every seeded account gets.
    pub password_hash: String,
}

/// The clinic's size, derived from the number of appointments wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub doctors: i32,
    pub patients: i32,
    pub history_days: i32,
}

/// Slots per doctor and working day (09:00 to 17:00 in 15 minutes).
const SLOTS_PER_DAY: u64 = 32;
/// Past slots booked, about.
const OCCUPANCY: f64 = 0.8;

impl SeedPlan {
    /// At least 8 doctors, one more per 50,000 appointments (so a doctor's history stays a
    /// believable 7-8 years at most); one patient per 30 appointments; as many working days of
    /// history as that takes.
    pub fn shape(&self) -> Shape {
        let doctors = (self.appointments.div_ceil(50_000)).max(8);
        let per_working_day = doctors as f64 * SLOTS_PER_DAY as f64 * OCCUPANCY;
        let working_days = (self.appointments as f64 / per_working_day).ceil().max(1.0);
        let history_days = (working_days * 7.0 / 5.0).ceil() as i32 + 1;
        Shape {
            doctors: doctors as i32,
            patients: (self.appointments / 30).max(50) as i32,
            history_days,
        }
    }
}

/// Told about each step, for a progress bar.
pub trait SeedProgress: Send + Sync {
    /// A step starts; `total` is how many units [`SeedProgress::advance`] will report.
    fn step(&self, name: &str, total: u64);
    fn advance(&self, done: u64);
}

/// What was written.
#[derive(Debug, Clone)]
pub struct SeedSummary {
    pub shape: Shape,
    pub counts: Vec<(String, i64)>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whether the database holds no account yet (a seed refuses to mix with real data).
pub async fn is_empty(database_url: &str) -> anyhow::Result<bool> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    let c: Count = diesel::sql_query("SELECT count(*) AS n FROM (SELECT 1 FROM users LIMIT 1) u")
        .get_result(&mut conn)
        .await?;
    Ok(c.n == 0)
}

/// Empties every table the seed writes (for `seed --reset`).
pub async fn reset(database_url: &str) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(
        "TRUNCATE users, patients, doctors, departments, doctor_departments, schedules, \
         time_slots, appointments, prescriptions, prescription_items, medical_records, billings, \
         notifications, audit_outbox, idempotency_keys CASCADE",
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

async fn write_all(
    conn: &mut AsyncPgConnection,
    plan: &SeedPlan,
    shape: Shape,
    seed_text: &str,
    progress: &dyn SeedProgress,
) -> anyhow::Result<()> {
    diesel::sql_query("SET LOCAL synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    // As pg_restore --disable-triggers does: when the role may (a superuser), skip the
    // per-row foreign-key and notification triggers for this transaction. Every reference the
    // seed writes is built from the same ids as its target, and the e2e tests check the result;
    // without the privilege the seed is just slower.
    #[derive(QueryableByName)]
    struct Superuser {
        #[diesel(sql_type = Text)]
        is_superuser: String,
    }
    let role: Superuser =
        diesel::sql_query("SELECT current_setting('is_superuser') AS is_superuser")
            .get_result(&mut *conn)
            .await?;
    if role.is_superuser == "on" {
        diesel::sql_query("SET LOCAL session_replication_role = replica")
            .execute(&mut *conn)
            .await?;
    }
    // A number in [0, 1) from a text, the same every time: the seed's only source of
    // chance, so the same seed gives the same clinic whatever order rows are read in.
    diesel::sql_query(
        "CREATE FUNCTION pg_temp.rnd(text) RETURNS double precision
         LANGUAGE sql IMMUTABLE AS
         $$ SELECT ('x' || substr(md5($1), 1, 8))::bit(32)::bigint / 4294967296.0 $$",
    )
    .execute(&mut *conn)
    .await?;
    // Whether a slot is booked, and whether that booking was cancelled: functions of the slot
    // alone, so the slot's availability is written with the slot and the appointment agrees.
    // About 80% of past slots are booked (13% of those cancelled), 40% of the next two weeks'
    // (8% cancelled).
    diesel::sql_query(
        "CREATE FUNCTION pg_temp.booked(slot uuid, day date, today date) RETURNS boolean
         LANGUAGE sql IMMUTABLE AS
         $$ SELECT pg_temp.rnd(slot || ':booked') < CASE WHEN day < today THEN 0.8 ELSE 0.4 END $$",
    )
    .execute(&mut *conn)
    .await?;
    diesel::sql_query(
        "CREATE FUNCTION pg_temp.cancelled(slot uuid, day date, today date) RETURNS boolean
         LANGUAGE sql IMMUTABLE AS
         $$ SELECT pg_temp.rnd(slot || ':status') < CASE WHEN day < today THEN 0.13 ELSE 0.08 END $$",
    )
    .execute(&mut *conn)
    .await?;
    // The parameters every statement reads, as one row `cfg` of a table that lives
    // as long as this transaction.
    diesel::sql_query(
        "CREATE TEMP TABLE seed_cfg ON COMMIT DROP AS
         SELECT $1::text AS seed, $2::int AS doctors, $3::int AS patients,
        $4::int AS history_days, $5::date AS today, $6::text AS tz,
        $7::text AS password_hash, 0 AS first_doctor, 0 AS last_doctor",
    )
    .bind::<Text, _>(&seed_text)
    .bind::<Integer, _>(shape.doctors)
    .bind::<Integer, _>(shape.patients)
    .bind::<Integer, _>(shape.history_days)
    .bind::<Date, _>(plan.today)
    .bind::<Text, _>(&plan.timezone)
    .bind::<Text, _>(&plan.password_hash)
    .execute(&mut *conn)
    .await?;
    // Plain indexes of the big tables are set aside and rebuilt at the end: one sorted build is
    // far cheaper than millions of insertions. Unique and exclusion indexes stay (they are the
    // rules), and so do the two the seed's own per-doctor statements read by.
    let set_aside: Vec<IndexDef> = diesel::sql_query(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
         FROM pg_index i
         WHERE i.indrelid = ANY($1::regclass[])
           AND NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion
           AND i.indexrelid::regclass::text <> ALL($2)
         ORDER BY 1",
    )
    .bind::<Array<Text>, _>(BULK_TABLES.to_vec())
    .bind::<Array<Text>, _>(vec![
        "time_slots_doctor_date_idx",
        "appointments_doctor_starts_idx",
    ])
    .load(&mut *conn)
    .await?;
    for index in &set_aside {
        // A name from the catalogue, quoted as an identifier.
        diesel::sql_query(format!(
            "DROP INDEX \"{}\"",
            index.name.replace('"', "\"\"")
        ))
        .execute(&mut *conn)
        .await?;
    }
    for statement in STATEMENTS {
        let batches: Vec<(i32, i32)> = if statement.per_doctor_batch {
            (1..=shape.doctors)
                .step_by(DOCTOR_BATCH as usize)
                .map(|first| (first, (first + DOCTOR_BATCH - 1).min(shape.doctors)))
                .collect()
        } else {
            vec![(1, shape.doctors)]
        };
        progress.step(statement.name, batches.len() as u64);
        for (first, last) in batches {
            diesel::sql_query("UPDATE seed_cfg SET first_doctor = $1, last_doctor = $2")
                .bind::<Integer, _>(first)
                .bind::<Integer, _>(last)
                .execute(&mut *conn)
                .await?;
            let written: Result<usize, diesel::result::Error> =
                diesel::sql_query(statement.sql).execute(&mut *conn).await;
            written.map_err(|e| anyhow::anyhow!("seed step {:?}: {e}", statement.name))?;
            progress.advance(1);
        }
    }
    progress.step("indexes", set_aside.len() as u64 + 1);
    diesel::sql_query("SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut *conn)
        .await?;
    for index in &set_aside {
        diesel::sql_query(&index.definition)
            .execute(&mut *conn)
            .await?;
        progress.advance(1);
    }
    diesel::sql_query("ANALYZE").execute(&mut *conn).await?;
    progress.advance(1);
    Ok(())
}

/// The tables the seed fills in bulk.
const BULK_TABLES: [&str; 7] = [
    "time_slots",
    "appointments",
    "billings",
    "prescriptions",
    "prescription_items",
    "notifications",
    "audit_outbox",
];

#[derive(QueryableByName)]
struct IndexDef {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

/// One statement of the seed. Each reads its parameters from the one-row table `seed_cfg`
/// (alias `cfg`): seed, doctors, patients, history_days, today, tz, password_hash, and for the
/// statements run per batch of doctors, first_doctor..last_doctor.
struct Statement {
    name: &'static str,
    sql: &'static str,
    /// Run once per batch of doctors (the big tables), so progress moves.
    per_doctor_batch: bool,
}

const DOCTOR_BATCH: i32 = 10;

/// Writes the clinic of `plan` in one transaction, telling `progress` as it goes.
pub async fn run(
    database_url: &str,
    plan: &SeedPlan,
    progress: &dyn SeedProgress,
) -> anyhow::Result<SeedSummary> {
    let shape = plan.shape();
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    let seed_text = plan.seed.to_string();
    // One transaction (a failed seed leaves nothing), driven by hand: the steps are many and
    // long, and an error in any of them rolls everything back.
    diesel::sql_query("BEGIN").execute(&mut conn).await?;
    match write_all(&mut conn, plan, shape, &seed_text, progress).await {
        Ok(()) => {
            diesel::sql_query("COMMIT").execute(&mut conn).await?;
        }
        Err(e) => {
            let _ = diesel::sql_query("ROLLBACK").execute(&mut conn).await;
            return Err(e);
        }
    }
    let mut counts = Vec::new();
    for table in [
        "users",
        "doctors",
        "patients",
        "time_slots",
        "appointments",
        "billings",
        "prescriptions",
        "notifications",
        "audit_outbox",
    ] {
        // Table names are this list's literals, never input.
        let c: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut conn)
            .await?;
        counts.push((table.to_owned(), c.n));
    }
    Ok(SeedSummary { shape, counts })
}

const STATEMENTS: &[Statement] = &[
    Statement {
        name: "departments",
        per_doctor_batch: false,
        sql: "INSERT INTO departments (id, name, description)
              SELECT md5(cfg.seed || ':department:' || n)::uuid, name, description
              FROM unnest(
                  ARRAY['Cardiology', 'Dermatology', 'General Practice', 'Neurology',
                        'Orthopaedics', 'Paediatrics', 'Radiology', 'Ear, Nose and Throat'],
                  ARRAY['Heart and circulation', 'Skin, hair and nails', 'Family medicine',
                        'Brain and nerves', 'Bones and joints', 'Children''s health',
                        'Imaging and scans', 'ENT surgery and clinics'])
                   WITH ORDINALITY AS d(name, description, n), seed_cfg cfg",
    },
    Statement {
        name: "staff accounts",
        per_doctor_batch: false,
        sql: "INSERT INTO users (id, email, password_hash, name, phone, role, created_at)
              SELECT md5(cfg.seed || ':user:' || email)::uuid, email, cfg.password_hash, name, phone, role::user_role,
                     (cfg.today::date - cfg.history_days::int) - interval '30 days'
              FROM (VALUES ('admin@healthsync.test', 'Ada Admin', '+44 20 7946 0100', 'ADMIN'),
                           ('desk@healthsync.test', 'Rita Reception', '+44 20 7946 0101', 'RECEPTIONIST'),
                           ('desk2@healthsync.test', 'Rob Reception', '+44 20 7946 0102', 'RECEPTIONIST'))
                   AS s(email, name, phone, role), seed_cfg cfg
              UNION ALL
              SELECT md5(cfg.seed || ':user:doctor' || n || '@healthsync.test')::uuid,
                     'doctor' || n || '@healthsync.test', cfg.password_hash,
                     'Dr ' || (ARRAY['Amara','Ben','Chen','Dana','Eli','Farah','Gus','Hana','Ivan','Jo'])[1 + n % 10]
                           || ' ' || (ARRAY['Okafor','Smith','Li','Novak','Haddad','Kaur','Berg','Sato','Petrov','Walsh','Moreau'])[1 + (n / 10) % 11]
                           || CASE WHEN n > 110 THEN ' ' || n ELSE '' END,
                     '+44 20 7946 ' || lpad((1000 + n)::text, 4, '0'), 'DOCTOR',
                     (cfg.today::date - cfg.history_days::int) - interval '30 days'
              FROM seed_cfg cfg, generate_series(1, cfg.doctors) n",
    },
    Statement {
        name: "doctors",
        per_doctor_batch: false,
        sql: "INSERT INTO doctors (id, user_id, specialization, qualification, experience_years,
                                   license_number, consultation_fee, is_available)
              SELECT md5(cfg.seed || ':doctor:' || n)::uuid,
                     md5(cfg.seed || ':user:doctor' || n || '@healthsync.test')::uuid,
                     (ARRAY['Cardiology', 'Dermatology', 'General Practice', 'Neurology',
                            'Orthopaedics', 'Paediatrics', 'Radiology', 'Otolaryngology'])[1 + (n - 1) % 8],
                     (ARRAY['MD', 'MBBS', 'MD, PhD', 'MBBS, MRCP', 'DO'])[1 + n % 5],
                     3 + (n * 7) % 30, 'GMC-' || lpad((7000000 + n)::text, 7, '0'),
                     (50 + (n * 13) % 100)::numeric(10, 2) + 0.50, n % 17 <> 0
              FROM seed_cfg cfg, generate_series(1, cfg.doctors) n",
    },
    Statement {
        name: "doctors' departments",
        per_doctor_batch: false,
        sql: "INSERT INTO doctor_departments (doctor_id, department_id)
              SELECT md5(cfg.seed || ':doctor:' || n)::uuid, md5(cfg.seed || ':department:' || (1 + (n - 1) % 8))::uuid
              FROM seed_cfg cfg, generate_series(1, cfg.doctors) n",
    },
    Statement {
        name: "patients",
        per_doctor_batch: false,
        sql: "WITH p AS (
                  SELECT n, md5(cfg.seed || ':user:patient' || n)::uuid AS user_id,
                         (ARRAY['Ann','Bilal','Carmen','Dev','Emma','Femi','Grace','Hugo','Isla','Jamal',
                                'Kira','Leo','Maya','Noah','Olga','Priya','Quinn','Rosa','Sam','Tariq'])[1 + n % 20]
                           || ' ' ||
                         (ARRAY['Adams','Brown','Costa','Diaz','Evans','Fischer','Garcia','Hughes','Ito',
                                'Jones','Khan','Lopez','Murphy','Nguyen','Owusu','Patel','Rossi','Silva'])[1 + (n / 20) % 18]
                           AS name
                  FROM seed_cfg cfg, generate_series(1, cfg.patients) n
              ), u AS (
                  INSERT INTO users (id, email, password_hash, name, phone, role, created_at)
                  SELECT user_id, 'patient' || n || '@healthsync.test', cfg.password_hash, name,
                         '+44 7700 ' || lpad((n % 1000000)::text, 6, '0'), 'PATIENT',
                         (cfg.today::date - cfg.history_days::int) - interval '10 days'
                  FROM p, seed_cfg cfg
                  RETURNING id
              )
              INSERT INTO patients (id, user_id, date_of_birth, gender, blood_group, address,
                                    emergency_contact_name, emergency_contact_phone)
              SELECT md5(cfg.seed || ':patient:' || n)::uuid, user_id,
                     date '1940-01-01' + ((n * 7919) % 27000),
                     (ARRAY['FEMALE', 'MALE', 'OTHER'])[1 + (n % 37 = 0)::int * 2 + (n % 37 <> 0 AND n % 2 = 0)::int]::gender,
                     (ARRAY['O+','A+','B+','O-','A-','AB+','B-','AB-'])[1 + n % 8],
                     (1 + n % 200) || ' ' || (ARRAY['High Street','Station Road','Church Lane','Park Avenue','Mill Road'])[1 + n % 5] || ', London',
                     'Next of kin ' || n, '+44 7700 9' || lpad((n % 100000)::text, 5, '0')
              FROM p, seed_cfg cfg",
    },
    Statement {
        name: "schedules",
        per_doctor_batch: false,
        sql: "INSERT INTO schedules (id, doctor_id, day_of_week, start_time, end_time, slot_duration_minutes)
              SELECT md5(cfg.seed || ':schedule:' || n || ':' || d)::uuid, md5(cfg.seed || ':doctor:' || n)::uuid,
                     d::day_of_week, time '09:00', time '17:00', 15
              FROM seed_cfg cfg, generate_series(1, cfg.doctors) n,
                   unnest(ARRAY['MON', 'TUE', 'WED', 'THU', 'FRI']) d",
    },
    Statement {
        name: "time slots",
        per_doctor_batch: true,
        // Past days and the next two weeks; the server's daily job extends to its horizon.
        // A local time that does not exist (spring forward) gets no slot, as the domain does.
        sql: "INSERT INTO time_slots (id, schedule_id, doctor_id, date, start_time, end_time,
                                      starts_at, ends_at, is_available)
              SELECT sid.id, md5(cfg.seed || ':schedule:' || n || ':' || dow)::uuid,
                     md5(cfg.seed || ':doctor:' || n)::uuid, day, t, t + interval '15 minutes',
                     (day + t) AT TIME ZONE cfg.tz, (day + t + interval '15 minutes') AT TIME ZONE cfg.tz,
                     NOT (pg_temp.booked(sid.id, day, cfg.today) AND NOT pg_temp.cancelled(sid.id, day, cfg.today))
              FROM seed_cfg cfg, generate_series(cfg.first_doctor, cfg.last_doctor) n,
                   generate_series(cfg.today::date - cfg.history_days::int, cfg.today::date + 13, interval '1 day') g(ts),
                   LATERAL (SELECT g.ts::date AS day,
                                   (ARRAY['MON','TUE','WED','THU','FRI','SAT','SUN'])[extract(isodow FROM g.ts)::int] AS dow) x,
                   generate_series(0, 31) k,
                   LATERAL (SELECT time '09:00' + k * interval '15 minutes' AS t) s,
                   LATERAL (SELECT md5(cfg.seed || ':slot:' || n || ':' || day || ':' || k)::uuid AS id) sid
              WHERE extract(isodow FROM g.ts) < 6
                AND ((day + t) AT TIME ZONE cfg.tz) AT TIME ZONE cfg.tz = day + t",
    },
    Statement {
        name: "appointments",
        per_doctor_batch: true,
        // Patients are spread so that two appointments at one instant never share a patient
        // (the overlap rule holds for the active ones): patient = (slot index * doctors +
        // doctor) mod patients, with more patients than doctors.
        sql: "INSERT INTO appointments (id, patient_id, doctor_id, time_slot_id, type, status, reason,
                                        notes, cancel_reason, consultation_fee, starts_at, ends_at,
                                        created_at, updated_at)
              SELECT md5(cfg.seed || ':appointment:' || s.id)::uuid,
                     md5(cfg.seed || ':patient:' || (1 + ((floor(extract(epoch FROM s.starts_at) / 900)::bigint * cfg.doctors::int + n) % cfg.patients::int)))::uuid,
                     s.doctor_id, s.id,
                     (CASE WHEN r.kind < 0.70 THEN 'CONSULTATION' WHEN r.kind < 0.95 THEN 'FOLLOW_UP' ELSE 'EMERGENCY' END)::appointment_type,
                     (CASE WHEN pg_temp.cancelled(s.id, s.date, cfg.today) THEN 'CANCELLED'
                           WHEN s.date < cfg.today THEN 'COMPLETED'
                           WHEN r.status < 0.5 THEN 'CONFIRMED' ELSE 'SCHEDULED'
                      END)::appointment_status,
                     (ARRAY['Annual check-up', 'Persistent cough', 'Back pain', 'Headaches for two weeks',
                            'Follow-up of blood results', 'Skin rash', 'Knee injury', 'Chest tightness',
                            'Ear ache', 'Blood pressure review', 'Vaccination', 'Sore throat'])[1 + floor(r.reason * 12)::int],
                     CASE WHEN s.date < cfg.today AND NOT pg_temp.cancelled(s.id, s.date, cfg.today) THEN 'Seen; advice given.' END,
                     CASE WHEN pg_temp.cancelled(s.id, s.date, cfg.today)
                          THEN (ARRAY['Patient called to cancel', 'Feeling better', 'Doctor unavailable'])[1 + floor(r.reason * 3)::int] END,
                     d.consultation_fee, s.starts_at, s.ends_at,
                     s.starts_at - (1 + floor(r.lead * 20)::int) * interval '1 day',
                     CASE WHEN s.date < cfg.today::date THEN s.ends_at ELSE s.starts_at - interval '1 day' END
              FROM seed_cfg cfg
              CROSS JOIN generate_series(cfg.first_doctor, cfg.last_doctor) n
              JOIN time_slots s ON s.doctor_id = md5(cfg.seed || ':doctor:' || n)::uuid
              JOIN doctors d ON d.id = s.doctor_id
              CROSS JOIN LATERAL (SELECT pg_temp.rnd(s.id || ':kind') AS kind,
                                         pg_temp.rnd(s.id || ':status') AS status,
                                         pg_temp.rnd(s.id || ':reason') AS reason,
                                         pg_temp.rnd(s.id || ':lead') AS lead) r
              WHERE pg_temp.booked(s.id, s.date, cfg.today)",
    },
    Statement {
        // The planner must see the new rows before the statements that join them: in a fresh
        // database it would otherwise plan for empty tables (nested loops over millions).
        name: "statistics",
        per_doctor_batch: false,
        sql: "ANALYZE users, patients, doctors, time_slots, appointments",
    },
    Statement {
        name: "bills",
        per_doctor_batch: true,
        sql: "INSERT INTO billings (id, appointment_id, patient_id, amount, status, payment_method, paid_at, created_at, due_at)
              SELECT md5(cfg.seed || ':bill:' || a.id)::uuid, a.id, a.patient_id, a.consultation_fee, st,
                     CASE WHEN st IN ('PAID', 'REFUNDED') THEN (ARRAY['CARD','CASH','INSURANCE','BANK_TRANSFER','ONLINE'])[1 + floor(r.m * 5)::int] END,
                     CASE WHEN st IN ('PAID', 'REFUNDED') THEN a.ends_at + (r.m * 10) * interval '1 day' END,
                     a.ends_at, a.ends_at + interval '14 days'
              FROM seed_cfg cfg, appointments a
              CROSS JOIN LATERAL (SELECT pg_temp.rnd(a.id || ':bill') AS p,
                                         pg_temp.rnd(a.id || ':method') AS m) r
              CROSS JOIN LATERAL (SELECT (CASE WHEN r.p < 0.05 THEN 'REFUNDED'
                                               WHEN r.p < 0.85 OR a.ends_at + interval '14 days' < cfg.today::date - 60 THEN 'PAID'
                                               WHEN a.ends_at + interval '14 days' < cfg.today::date THEN 'OVERDUE'
                                               ELSE 'PENDING' END)::billing_status AS st) b
              WHERE a.status = 'COMPLETED'
                AND a.doctor_id IN (SELECT md5(cfg.seed || ':doctor:' || n)::uuid FROM generate_series(cfg.first_doctor::int, cfg.last_doctor::int) n)",
    },
    Statement {
        name: "prescriptions",
        per_doctor_batch: true,
        sql: "WITH chosen AS (
                  SELECT a.id, a.doctor_id, a.patient_id, a.ends_at, pg_temp.rnd(a.id || ':rx') AS r
                  FROM seed_cfg cfg, appointments a
                  WHERE a.status = 'COMPLETED'
                    AND a.doctor_id IN (SELECT md5(cfg.seed || ':doctor:' || n)::uuid FROM generate_series(cfg.first_doctor::int, cfg.last_doctor::int) n)
              ), p AS (
                  INSERT INTO prescriptions (id, appointment_id, doctor_id, patient_id, diagnosis, notes, created_at)
                  SELECT md5(cfg.seed || ':prescription:' || id)::uuid, id, doctor_id, patient_id,
                         (ARRAY['Upper respiratory infection', 'Hypertension', 'Lumbar strain', 'Migraine',
                                'Contact dermatitis', 'Otitis media', 'Iron deficiency'])[1 + floor(r * 2 * 7)::int % 7],
                         'Review in four weeks if no better.', ends_at
                  FROM chosen, seed_cfg cfg WHERE r < 0.5
                  RETURNING id
              )
              INSERT INTO prescription_items (id, prescription_id, position, medicine_name, dosage, frequency, duration, instructions)
              SELECT md5(cfg.seed || ':item:' || p.id || ':' || i)::uuid, p.id, i - 1,
                     (ARRAY['Amoxicillin', 'Ibuprofen', 'Paracetamol', 'Lisinopril', 'Sumatriptan', 'Hydrocortisone cream', 'Ferrous sulfate'])[1 + (i + abs(hashtext(p.id::text))) % 7],
                     (ARRAY['500 mg', '200 mg', '1 g', '10 mg', '50 mg', 'thin layer', '200 mg'])[1 + (i + abs(hashtext(p.id::text))) % 7],
                     (ARRAY['3 times a day', 'as needed', 'twice a day', 'once a day'])[1 + i % 4],
                     (ARRAY['7 days', '5 days', '30 days', '14 days'])[1 + i % 4],
                     CASE WHEN i = 1 THEN 'With food' END
              FROM p, seed_cfg cfg, generate_series(1, 1 + abs(hashtext(p.id::text)) % 3) i",
    },
    Statement {
        name: "notifications",
        per_doctor_batch: true,
        // What the last 30 days and the coming two weeks produced: booking confirmations,
        // reminders for tomorrow, prescriptions and payments.
        sql: "INSERT INTO notifications (id, user_id, type, title, message, is_read, created_at, appointment_id)
              SELECT md5(cfg.seed || ':notification:' || kind || ':' || a.id)::uuid, pu.user_id, kind::notification_type,
                     CASE kind WHEN 'BOOKING_CONFIRMATION' THEN 'Appointment booked'
                               WHEN 'REMINDER' THEN 'Appointment tomorrow'
                               ELSE 'Bill paid' END,
                     CASE kind WHEN 'BOOKING_CONFIRMATION' THEN 'Your appointment on ' || to_char(a.starts_at AT TIME ZONE cfg.tz, 'YYYY-MM-DD HH24:MI') || ' is booked.'
                               WHEN 'REMINDER' THEN 'Reminder: your appointment is on ' || to_char(a.starts_at AT TIME ZONE cfg.tz, 'YYYY-MM-DD HH24:MI') || '.'
                               ELSE 'Thank you: your bill of ' || a.consultation_fee || ' is paid.' END,
                     a.starts_at < cfg.today::date - 2, a.created_at,
                     a.id
              FROM seed_cfg cfg
              CROSS JOIN appointments a
              JOIN patients pu ON pu.id = a.patient_id
              CROSS JOIN LATERAL unnest(CASE
                  WHEN a.starts_at::date = cfg.today::date + 1 AND a.status IN ('SCHEDULED', 'CONFIRMED') THEN ARRAY['BOOKING_CONFIRMATION', 'REMINDER']
                  WHEN a.status = 'COMPLETED' THEN ARRAY['BOOKING_CONFIRMATION', 'PAYMENT']
                  ELSE ARRAY['BOOKING_CONFIRMATION'] END) kind
              WHERE a.created_at >= cfg.today::date - 30
                AND a.doctor_id IN (SELECT md5(cfg.seed || ':doctor:' || n)::uuid FROM generate_series(cfg.first_doctor::int, cfg.last_doctor::int) n)",
    },
    Statement {
        name: "audit events",
        per_doctor_batch: true,
        // The bookings of the last 30 days, as the booking use case records them.
        sql: "INSERT INTO audit_outbox (event_id, user_id, action, entity, entity_id, changes, occurred_at)
              SELECT md5(cfg.seed || ':audit:' || a.id)::uuid, pu.user_id, 'CREATE', 'appointment', a.id,
                     jsonb_build_object('after', jsonb_build_object('status', 'SCHEDULED', 'doctorId', a.doctor_id,
                                        'patientId', a.patient_id, 'startsAt', a.starts_at, 'via', 'seed')),
                     a.created_at
              FROM seed_cfg cfg
              CROSS JOIN appointments a JOIN patients pu ON pu.id = a.patient_id
              WHERE a.created_at >= cfg.today::date - 30
                AND a.doctor_id IN (SELECT md5(cfg.seed || ':doctor:' || n)::uuid FROM generate_series(cfg.first_doctor::int, cfg.last_doctor::int) n)",
    },
];

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    patient_id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    uploader: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    seen_at: chrono::DateTime<chrono::Utc>,
}

/// Up to `limit` patients with a completed visit, each with the user id of the doctor who saw
/// them last and when: who gets a seeded document, and who uploaded it.
pub async fn record_owners(
    database_url: &str,
    limit: i64,
) -> anyhow::Result<Vec<(uuid::Uuid, uuid::Uuid, chrono::DateTime<chrono::Utc>)>> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    let rows: Vec<Owner> = diesel::sql_query(
        "SELECT patient_id, uploader, seen_at FROM (
             SELECT DISTINCT ON (a.patient_id) a.patient_id, d.user_id AS uploader, a.ends_at AS seen_at
             FROM appointments a JOIN doctors d ON d.id = a.doctor_id
             WHERE a.status = 'COMPLETED'
             ORDER BY a.patient_id, a.starts_at DESC) last_visit
         ORDER BY patient_id LIMIT $1",
    )
    .bind::<BigInt, _>(limit)
    .load(&mut conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|o| (o.patient_id, o.uploader, o.seen_at))
        .collect())
}

/// Adds the rows of seeded documents whose files are already stored.
pub async fn insert_records(
    database_url: &str,
    records: &[domain::medical_records::MedicalRecord],
) -> anyhow::Result<()> {
    use diesel::sql_types::{Nullable, Timestamptz, Uuid as SqlUuid};
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    for r in records {
        diesel::sql_query(
            "INSERT INTO medical_records (id, patient_id, uploaded_by, type, title, description,
                                          file_url, content_type, size_bytes, file_name, created_at)
             VALUES ($1, $2, $3, $4::medical_record_type, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind::<SqlUuid, _>(r.id)
        .bind::<SqlUuid, _>(r.patient_id)
        .bind::<SqlUuid, _>(r.uploaded_by)
        .bind::<Text, _>(r.kind.as_str())
        .bind::<Text, _>(&r.title)
        .bind::<Nullable<Text>, _>(r.description.as_deref())
        .bind::<Text, _>(&r.file_url)
        .bind::<Text, _>(&r.content_type)
        .bind::<BigInt, _>(r.size_bytes)
        .bind::<Text, _>(&r.file_name)
        .bind::<Timestamptz, _>(r.created_at)
        .execute(&mut conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(appointments: u64) -> SeedPlan {
        SeedPlan {
            seed: 1,
            appointments,
            today: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
            timezone: "UTC".into(),
            password_hash: String::new(),
        }
    }

    #[test]
    fn the_clinic_grows_with_the_history_asked_for() {
        let small = plan(5_000).shape();
        assert_eq!(small.doctors, 8);
        assert!(
            small.history_days >= 30 && small.history_days < 40,
            "{small:?}"
        );
        let big = plan(10_000_000).shape();
        assert_eq!(big.doctors, 200);
        assert_eq!(big.patients, 333_333);
        // About 7.5 years, never a century of history.
        assert!(
            big.history_days > 2_500 && big.history_days < 3_000,
            "{big:?}"
        );
        // More patients than doctors, so one instant never gives a patient two appointments.
        assert!(big.patients > big.doctors && small.patients > small.doctors);
    }
}
