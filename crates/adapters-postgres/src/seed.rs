//! Demo and scale data, written straight into PostgreSQL by set-based SQL (`INSERT ... SELECT`
//! over `generate_series`), so ten million appointments take minutes rather than the days that
//! ten million API calls would. `healthsync seed` (crate `api-http`) drives it.
//!
//! Deterministic: the few small tables' ids are `md5(seed:kind:n)` read as a UUID; the rows
//! counted in millions (slots and everything that follows from them, patients) get a prefix
//! `md5(seed:kind)` followed by their number, so they are appended to their indexes in order,
//! and every chance (booked or not, cancelled or not, paid or not) is a lane of
//! `hashint8extended(slot number, seed)`; the same seed, size and day give the same clinic.
//! Everything is written in one transaction: a failed seed leaves the database as it was.
//!
//! Ten million appointments: a batch of ten doctors' slots, appointments, bills, prescriptions,
//! notifications and audit events is one statement that computes each slot once and reads
//! nothing back (see the "history" statement); plain indexes are rebuilt at the end.
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
         notifications, audit_outbox, idempotency_keys, analytics_daily, analytics_daily_changes, \
         analytics_lead_hours, analytics_lead_hours_changes CASCADE",
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
    // The history statement is one plan per batch, too costly for the planner's estimate of it
    // to be trusted to JIT (about 2 s of compilation per batch); its CTEs keep a batch's rows.
    diesel::sql_query("SET LOCAL jit = off")
        .execute(&mut *conn)
        .await?;
    diesel::sql_query("SET LOCAL work_mem = '128MB'")
        .execute(&mut *conn)
        .await?;
    // Lane `i` (0 to 3) of a 64-bit hash as a number in [0, 1): the seed's chances. One
    // `hashint8extended` of a slot's number gives four independent chances, at a fraction of
    // the cost of an md5 per chance; it is a pure function of its integer arguments (PostgreSQL
    // keeps it stable, hash partitions depend on it).
    diesel::sql_query(
        "CREATE FUNCTION pg_temp.lane(h bigint, i int) RETURNS double precision
         LANGUAGE sql IMMUTABLE AS
         $$ SELECT ((h >> (16 * i)) & 65535)::double precision / 65536 $$",
    )
    .execute(&mut *conn)
    .await?;
    // The id of the `n`-th row of a kind: the kind's prefix (from the seed) and `n`. Ids that
    // grow with `n` are appended at the right edge of their indexes instead of landing on a
    // random page of an index bigger than the cache.
    diesel::sql_query(
        "CREATE FUNCTION pg_temp.uid(prefix text, n bigint) RETURNS uuid
         LANGUAGE sql IMMUTABLE AS
         $$ SELECT (prefix || lpad(to_hex(n), 16, '0'))::uuid $$",
    )
    .execute(&mut *conn)
    .await?;
    // The parameters every statement reads, as one row `cfg` of a table that lives
    // as long as this transaction.
    diesel::sql_query(
        "CREATE TEMP TABLE seed_cfg ON COMMIT DROP AS
         SELECT $1::text AS seed, $2::int AS doctors, $3::int AS patients,
        $4::int AS history_days, $5::date AS today, $6::text AS tz,
        $7::text AS password_hash, 0 AS first_doctor, 0 AS last_doctor, $1::bigint AS seed_n,
        left(md5($1 || ':slot'), 16) AS p_slot,
        left(md5($1 || ':appointment'), 16) AS p_appointment,
        left(md5($1 || ':patient'), 16) AS p_patient,
        left(md5($1 || ':user:patient'), 16) AS p_patient_user,
        left(md5($1 || ':bill'), 16) AS p_bill,
        left(md5($1 || ':prescription'), 16) AS p_prescription,
        left(md5($1 || ':item'), 16) AS p_item,
        left(md5($1 || ':notification'), 16) AS p_notification,
        left(md5($1 || ':audit'), 16) AS p_audit",
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
    // rules; the ids grow, so their insertions are appends).
    let set_aside: Vec<IndexDef> = diesel::sql_query(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
         FROM pg_index i
         WHERE i.indrelid = ANY($1::regclass[])
           AND NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion
         ORDER BY 1",
    )
    .bind::<Array<Text>, _>(BULK_TABLES.to_vec())
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
    // At least 256 MB for the index builds' sorts, never less than the server's own setting.
    diesel::sql_query(
        "SELECT set_config('maintenance_work_mem',
             greatest(pg_size_bytes(current_setting('maintenance_work_mem')),
                      pg_size_bytes('256MB')) / 1024 || 'kB', true)",
    )
    .execute(&mut *conn)
    .await?;
    for index in &set_aside {
        diesel::sql_query(&index.definition)
            .execute(&mut *conn)
            .await?;
        progress.advance(1);
    }
    // The dashboard's roll-up, counted once from what was written (the triggers that keep it
    // were skipped above, or counted batch by batch; either way this is the definition).
    diesel::sql_query("SELECT analytics_rebuild($1)")
        .bind::<Text, _>(&plan.timezone)
        .execute(&mut *conn)
        .await?;
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
/// (alias `cfg`): seed (text) and seed_n (its number), doctors, patients, history_days, today,
/// tz, password_hash, the id prefixes p_slot, p_appointment, p_patient, ... (for
/// `pg_temp.uid`), and for the statements run per batch of doctors, first_doctor..last_doctor.
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
                  SELECT n, pg_temp.uid(cfg.p_patient_user, n) AS user_id,
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
              SELECT pg_temp.uid(cfg.p_patient, n), user_id,
                     date '1940-01-01' + ((n::bigint * 7919) % 27000)::int,
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
        name: "history",
        per_doctor_batch: true,
        // A batch of doctors' whole history in one statement, each row computed once: the
        // slots (past days and the next two weeks; the server's daily job extends to its
        // horizon), the appointments of the booked ones, and from those the bills,
        // prescriptions, notifications and audit events. Nothing is read back: a row's
        // references are computed from the same numbers as their targets.
        //
        // `grid` is the clinic's calendar (a local time that does not exist, at spring
        // forward, gets no slot, as the domain does); slot `no` numbers a doctor's day and
        // slot, and every id and chance of the rows it leads to derive from it. Whether a slot
        // is booked and whether that booking was cancelled are chances of the slot, so its
        // availability agrees with its appointment: about 80% of past slots are booked (13% of
        // those cancelled), 40% of the next two weeks' (8% cancelled). Patients are spread so
        // that two appointments at one instant never share a patient (the overlap rule holds
        // for the active ones): patient = (instant * doctors + doctor) mod patients, with more
        // patients than doctors. Notifications and audit events are what the last 30 days
        // produced: booking confirmations, reminders for tomorrow, payments; bookings.
        sql: "WITH doc AS MATERIALIZED (
                  SELECT n, d.id AS doctor_id, d.consultation_fee AS fee,
                         ARRAY(SELECT md5(cfg.seed || ':schedule:' || n || ':' || w)::uuid
                               FROM unnest(ARRAY['MON', 'TUE', 'WED', 'THU', 'FRI']) WITH ORDINALITY x(w, o) ORDER BY o) AS schedule_ids
                  FROM seed_cfg cfg
                  CROSS JOIN generate_series(cfg.first_doctor, cfg.last_doctor) n
                  JOIN doctors d ON d.id = md5(cfg.seed || ':doctor:' || n)::uuid
              ), grid AS MATERIALIZED (
                  SELECT day_no, day, isodow, k, t, starts_at, ends_at, day < cfg.today AS past,
                         floor(extract(epoch FROM starts_at) / 900)::bigint AS instant
                  FROM seed_cfg cfg, generate_series(0, cfg.history_days + 13) day_no,
                       LATERAL (SELECT cfg.today - cfg.history_days + day_no AS day) dd,
                       LATERAL (SELECT extract(isodow FROM dd.day)::int AS isodow) w,
                       generate_series(0, 31) k,
                       LATERAL (SELECT time '09:00' + k * interval '15 minutes' AS t) tt,
                       LATERAL (SELECT (day + t) AT TIME ZONE cfg.tz AS starts_at,
                                       (day + t + interval '15 minutes') AT TIME ZONE cfg.tz AS ends_at) i
                  WHERE isodow < 6 AND starts_at AT TIME ZONE cfg.tz = day + t
              ), slot AS MATERIALIZED (
                  SELECT doc.n, doc.doctor_id, doc.fee, doc.schedule_ids[g.isodow] AS schedule_id, g.*, x.no,
                         x.h1, x.h2,
                         pg_temp.lane(x.h1, 0) < CASE WHEN g.past THEN 0.8 ELSE 0.4 END AS booked,
                         pg_temp.lane(x.h1, 1) < CASE WHEN g.past THEN 0.13 ELSE 0.08 END AS cancelled
                  FROM seed_cfg cfg, doc, grid g,
                       LATERAL (SELECT ((doc.n - 1)::bigint * (cfg.history_days + 14) + g.day_no) * 32 + g.k AS no) n0,
                       LATERAL (SELECT n0.no, hashint8extended(n0.no, cfg.seed_n * 2) AS h1, hashint8extended(n0.no, cfg.seed_n * 2 + 1) AS h2) x
              ), ins_slots AS (
                  INSERT INTO time_slots (id, schedule_id, doctor_id, date, start_time, end_time, starts_at, ends_at, is_available)
                  SELECT pg_temp.uid(cfg.p_slot, no), schedule_id, doctor_id, day, t, t + interval '15 minutes', starts_at, ends_at,
                         NOT (booked AND NOT cancelled)
                  FROM slot, seed_cfg cfg
              ), appt AS MATERIALIZED (
                  SELECT s.*, pg_temp.uid(cfg.p_appointment, s.no) AS id, pn.patient_no,
                         pg_temp.uid(cfg.p_patient, pn.patient_no) AS patient_id,
                         pg_temp.uid(cfg.p_patient_user, pn.patient_no) AS patient_user_id,
                         CASE WHEN s.cancelled THEN 'CANCELLED' WHEN s.past THEN 'COMPLETED'
                              WHEN pg_temp.lane(s.h1, 3) < 0.5 THEN 'CONFIRMED' ELSE 'SCHEDULED' END::appointment_status AS status,
                         s.starts_at - (1 + floor(pg_temp.lane(s.h2, 1) * 20)::int) * interval '1 day' AS created_at
                  FROM slot s, seed_cfg cfg,
                       LATERAL (SELECT 1 + (s.instant * cfg.doctors + s.n) % cfg.patients AS patient_no) pn
                  WHERE s.booked
              ), ins_appointments AS (
                  INSERT INTO appointments (id, patient_id, doctor_id, time_slot_id, type, status, reason,
                                            notes, cancel_reason, consultation_fee, starts_at, ends_at, created_at, updated_at)
                  SELECT a.id, a.patient_id, a.doctor_id, pg_temp.uid(cfg.p_slot, a.no),
                         (CASE WHEN pg_temp.lane(a.h1, 2) < 0.70 THEN 'CONSULTATION' WHEN pg_temp.lane(a.h1, 2) < 0.95 THEN 'FOLLOW_UP' ELSE 'EMERGENCY' END)::appointment_type,
                         a.status,
                         (ARRAY['Annual check-up', 'Persistent cough', 'Back pain', 'Headaches for two weeks',
                                'Follow-up of blood results', 'Skin rash', 'Knee injury', 'Chest tightness',
                                'Ear ache', 'Blood pressure review', 'Vaccination', 'Sore throat'])[1 + floor(pg_temp.lane(a.h2, 0) * 12)::int],
                         CASE WHEN a.status = 'COMPLETED' THEN 'Seen; advice given.' END,
                         CASE WHEN a.cancelled
                              THEN (ARRAY['Patient called to cancel', 'Feeling better', 'Doctor unavailable'])[1 + floor(pg_temp.lane(a.h2, 0) * 3)::int] END,
                         a.fee, a.starts_at, a.ends_at, a.created_at,
                         CASE WHEN a.past THEN a.ends_at ELSE a.starts_at - interval '1 day' END
                  FROM appt a, seed_cfg cfg
              ), ins_bills AS (
                  INSERT INTO billings (id, appointment_id, patient_id, amount, status, payment_method, paid_at, created_at, due_at)
                  SELECT pg_temp.uid(cfg.p_bill, a.no), a.id, a.patient_id, a.fee, b.st,
                         CASE WHEN b.st IN ('PAID', 'REFUNDED') THEN (ARRAY['CARD','CASH','INSURANCE','BANK_TRANSFER','ONLINE'])[1 + floor(pg_temp.lane(a.h2, 3) * 5)::int] END,
                         CASE WHEN b.st IN ('PAID', 'REFUNDED') THEN a.ends_at + (pg_temp.lane(a.h2, 3) * 10) * interval '1 day' END,
                         a.ends_at, a.ends_at + interval '14 days'
                  FROM appt a, seed_cfg cfg,
                       LATERAL (SELECT (CASE WHEN pg_temp.lane(a.h2, 2) < 0.05 THEN 'REFUNDED'
                                             WHEN pg_temp.lane(a.h2, 2) < 0.85 OR a.ends_at + interval '14 days' < cfg.today - 60 THEN 'PAID'
                                             WHEN a.ends_at + interval '14 days' < cfg.today THEN 'OVERDUE'
                                             ELSE 'PENDING' END)::billing_status AS st) b
                  WHERE a.status = 'COMPLETED'
              ), rx AS MATERIALIZED (
                  SELECT a.no, a.id, a.doctor_id, a.patient_id, a.ends_at, pg_temp.lane(a.h1, 3) AS r,
                         hashint8extended(a.no, -1 - cfg.seed_n) & 65535 AS h3
                  FROM appt a, seed_cfg cfg
                  WHERE a.status = 'COMPLETED' AND pg_temp.lane(a.h1, 3) < 0.5
              ), ins_rx AS (
                  INSERT INTO prescriptions (id, appointment_id, doctor_id, patient_id, diagnosis, notes, created_at)
                  SELECT pg_temp.uid(cfg.p_prescription, no), id, doctor_id, patient_id,
                         (ARRAY['Upper respiratory infection', 'Hypertension', 'Lumbar strain', 'Migraine',
                                'Contact dermatitis', 'Otitis media', 'Iron deficiency'])[1 + floor(r * 2 * 7)::int % 7],
                         'Review in four weeks if no better.', ends_at
                  FROM rx, seed_cfg cfg
              ), ins_items AS (
                  INSERT INTO prescription_items (id, prescription_id, position, medicine_name, dosage, frequency, duration, instructions)
                  SELECT pg_temp.uid(cfg.p_item, rx.no * 4 + i), pg_temp.uid(cfg.p_prescription, rx.no), i - 1,
                         (ARRAY['Amoxicillin', 'Ibuprofen', 'Paracetamol', 'Lisinopril', 'Sumatriptan', 'Hydrocortisone cream', 'Ferrous sulfate'])[1 + (i + rx.h3) % 7],
                         (ARRAY['500 mg', '200 mg', '1 g', '10 mg', '50 mg', 'thin layer', '200 mg'])[1 + (i + rx.h3) % 7],
                         (ARRAY['3 times a day', 'as needed', 'twice a day', 'once a day'])[1 + i % 4],
                         (ARRAY['7 days', '5 days', '30 days', '14 days'])[1 + i % 4],
                         CASE WHEN i = 1 THEN 'With food' END
                  FROM rx, seed_cfg cfg, generate_series(1, 1 + rx.h3 % 3) i
              ), ins_notifications AS (
                  INSERT INTO notifications (id, user_id, type, title, message, is_read, created_at, appointment_id)
                  SELECT pg_temp.uid(cfg.p_notification, a.no * 4 + kn.o), a.patient_user_id, kn.kind::notification_type,
                         CASE kn.kind WHEN 'BOOKING_CONFIRMATION' THEN 'Appointment booked'
                                      WHEN 'REMINDER' THEN 'Appointment tomorrow'
                                      ELSE 'Bill paid' END,
                         CASE kn.kind WHEN 'BOOKING_CONFIRMATION' THEN 'Your appointment on ' || to_char(a.starts_at AT TIME ZONE cfg.tz, 'YYYY-MM-DD HH24:MI') || ' is booked.'
                                      WHEN 'REMINDER' THEN 'Reminder: your appointment is on ' || to_char(a.starts_at AT TIME ZONE cfg.tz, 'YYYY-MM-DD HH24:MI') || '.'
                                      ELSE 'Thank you: your bill of ' || a.fee || ' is paid.' END,
                         a.starts_at < cfg.today - 2, a.created_at, a.id
                  FROM appt a, seed_cfg cfg,
                       LATERAL unnest(CASE
                           WHEN a.starts_at::date = cfg.today + 1 AND a.status IN ('SCHEDULED', 'CONFIRMED') THEN ARRAY['BOOKING_CONFIRMATION', 'REMINDER']
                           WHEN a.status = 'COMPLETED' THEN ARRAY['BOOKING_CONFIRMATION', 'PAYMENT']
                           ELSE ARRAY['BOOKING_CONFIRMATION'] END) WITH ORDINALITY kn(kind, o)
                  WHERE a.created_at >= cfg.today - 30
              )
              INSERT INTO audit_outbox (event_id, user_id, action, entity, entity_id, changes, occurred_at)
              SELECT pg_temp.uid(cfg.p_audit, a.no), a.patient_user_id, 'CREATE', 'appointment', a.id,
                     jsonb_build_object('after', jsonb_build_object('status', 'SCHEDULED', 'doctorId', a.doctor_id,
                                        'patientId', a.patient_id, 'startsAt', a.starts_at, 'via', 'seed')),
                     a.created_at
              FROM appt a, seed_cfg cfg
              WHERE a.created_at >= cfg.today - 30",
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
