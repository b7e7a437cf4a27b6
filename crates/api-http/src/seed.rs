//! `healthsync seed`: a believable clinic to try the product on (`make demo`), or a big one to
//! measure it with (`--appointments 10000000`).
//!
//! The tables are written by `adapters_postgres::seed` in one transaction; this module adds what
//! SQL cannot: the shared demo password's Argon2id hash, small real documents in the configured
//! file store, the future slots up to the horizon (through the scheduling use case, so they are
//! exactly what the daily job would make), a progress bar, and the logins to print.

use std::time::Instant;

use adapters_postgres::seed::{SeedPlan, SeedProgress};
use chrono::Utc;
use domain::identity::{Password, PasswordHasher};
use domain::medical_records::{storage_key, MedicalRecord, RecordType};
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::auth::password::Argon2Hasher;
use crate::config::Config;

/// Every seeded account's password. Demo data only: a database seeded with it must never face
/// the internet, which is why `seed` refuses a database that already has accounts.
pub const DEMO_PASSWORD: &str = "healthsync-demo-1";

/// How many patients get a seeded document.
const DOCUMENTS: i64 = 40;

/// `healthsync seed` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedOptions {
    /// Makes the data reproducible: the same seed, size and day give the same clinic.
    #[arg(long, default_value_t = 42)]
    pub seed: u32,
    /// About how many past appointments to write (the clinic grows with it: one doctor per
    /// 50,000, one patient per 30).
    #[arg(long, default_value_t = 5_000)]
    pub appointments: u64,
    /// Empty every table first (all data is lost). Without it, a database that has accounts
    /// is refused.
    #[arg(long)]
    pub reset: bool,
}

/// Seeds the database of `config`; prints what it wrote and the demo logins.
pub async fn run(config: Config, options: SeedOptions) -> anyhow::Result<()> {
    let url = &config.database_url;
    if !adapters_postgres::seed::is_empty(url).await? {
        if !options.reset {
            anyhow::bail!(
                "the database already has accounts, and seed does not mix demo data with real \
                 data: run `healthsync seed --reset` to empty every table first"
            );
        }
        adapters_postgres::seed::reset(url).await?;
    }
    let started = Instant::now();
    let timezone = config.timezone()?;
    let password =
        Password::parse(DEMO_PASSWORD, "password").map_err(|e| anyhow::anyhow!("{e}"))?;
    let password_hash = Argon2Hasher
        .hash(&password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = SeedPlan {
        seed: options.seed,
        appointments: options.appointments,
        today: Utc::now().with_timezone(&timezone).date_naive(),
        timezone: config.clinic_timezone.clone(),
        password_hash: password_hash.0,
    };
    let progress = Progress::new();
    let summary = adapters_postgres::seed::run(url, &plan, &progress).await?;

    progress.step("documents", DOCUMENTS as u64);
    let files = config.file_store()?;
    let owners = adapters_postgres::seed::record_owners(url, DOCUMENTS).await?;
    let mut records = Vec::with_capacity(owners.len());
    for (i, (patient_id, uploader, seen_at)) in owners.into_iter().enumerate() {
        let record = document(options.seed, i, patient_id, uploader, seen_at);
        let body = document_text(&record);
        let mut writer = files
            .create(&storage_key(patient_id, record.id))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        writer
            .write(body.as_bytes())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        writer.finish().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        records.push(MedicalRecord {
            size_bytes: body.len() as i64,
            ..record
        });
        progress.advance(1);
    }
    adapters_postgres::seed::insert_records(url, &records).await?;

    progress.step("future slots", 1);
    // The application is built only to run the slot generation use case; it signs nothing, so
    // a missing signing key gets a throwaway one rather than an error.
    let mut config = config;
    if config.jwt_secret.is_none() {
        config.jwt_secret = Some(Uuid::new_v4().simple().to_string().repeat(2));
    }
    let state = crate::state::AppState::build(config).await?;
    state
        .scheduling
        .generate_all()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    progress.advance(1);
    progress.done();

    let shape = summary.shape;
    println!(
        "Seeded a clinic of {} doctors and {} patients with {} days of history in {:.1} s (seed {}):",
        shape.doctors,
        shape.patients,
        shape.history_days,
        started.elapsed().as_secs_f64(),
        options.seed
    );
    for (table, count) in &summary.counts {
        println!("  {table:<14} {count:>12}");
    }
    println!("  {:<14} {:>12}", "documents", records.len());
    println!();
    println!("Demo logins (password for all: {DEMO_PASSWORD}):");
    println!("  admin         admin@healthsync.test");
    println!("  receptionist  desk@healthsync.test");
    println!("  doctor        doctor1@healthsync.test (doctor2, doctor3, ...)");
    println!("  patient       patient1@healthsync.test (patient2, patient3, ...)");
    Ok(())
}

/// The `i`-th seeded document, its id derived from the seed.
fn document(
    seed: u32,
    i: usize,
    patient_id: Uuid,
    uploaded_by: Uuid,
    seen_at: chrono::DateTime<Utc>,
) -> MedicalRecord {
    let id = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("healthsync-seed:{seed}:document:{i}").as_bytes(),
    );
    let (kind, title) = [
        (RecordType::LabReport, "Full blood count"),
        (RecordType::ClinicalNote, "Consultation note"),
        (RecordType::LabReport, "Lipid panel"),
        (RecordType::ClinicalNote, "Referral letter"),
    ][i % 4];
    MedicalRecord {
        id,
        patient_id,
        uploaded_by,
        kind,
        title: title.to_owned(),
        description: Some("Seeded demo document".to_owned()),
        file_url: domain::medical_records::file_url(id),
        content_type: "text/plain".to_owned(),
        size_bytes: 0,
        file_name: format!("{}.txt", title.to_lowercase().replace(' ', "-")),
        created_at: seen_at,
    }
}

fn document_text(record: &MedicalRecord) -> String {
    format!(
        "{}\n\nPatient: {}\nDate: {}\n\nAll values within the reference ranges.\n\
         (HealthSync demo data: not a real patient.)\n",
        record.title,
        record.patient_id,
        record.created_at.format("%Y-%m-%d")
    )
}

/// A bar per step on a terminal; one plain line per step otherwise (logs, CI).
struct Progress {
    bar: ProgressBar,
    terminal: bool,
    step_started: std::sync::Mutex<Option<(String, Instant)>>,
}

impl Progress {
    fn new() -> Self {
        use std::io::IsTerminal;
        let terminal = std::io::stdout().is_terminal();
        let bar = if terminal {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<22} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        Self {
            bar,
            terminal,
            step_started: std::sync::Mutex::new(None),
        }
    }

    /// Says how long the previous step took (plain output).
    fn finish_step(&self) {
        let previous = self.step_started.lock().expect("not poisoned").take();
        if let (false, Some((name, at))) = (self.terminal, previous) {
            println!("seed: {name} done in {:.1} s", at.elapsed().as_secs_f64());
        }
    }

    fn done(&self) {
        self.finish_step();
        self.bar.finish_and_clear();
    }
}

impl SeedProgress for Progress {
    fn step(&self, name: &str, total: u64) {
        self.finish_step();
        *self.step_started.lock().expect("not poisoned") = Some((name.to_owned(), Instant::now()));
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.set_message(name.to_owned());
    }

    fn advance(&self, done: u64) {
        self.bar.inc(done);
    }
}
