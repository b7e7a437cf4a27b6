//! `make bench-chat` (also the last part of `make bench`): the chat of issue 12 under load.
//!
//! The release server runs as a separate process (`healthsync serve`, built by the Makefile)
//! on a seeded clinic; this process is the load generator, so every latency is measured on
//! one clock. Scenarios, all in one run:
//!
//! - a. baseline: REST sends (`POST /appointments/{id}/messages`) with no socket open, each
//!   with a client message id; a2. the same without (no lookup of an earlier try);
//! - b. `BENCH_SOCKETS` sockets open, one per user (patients, and their doctors), REST sends;
//!   latency = send start to the receiver's socket getting the `message` frame;
//! - c. the same with `send` frames over the sockets;
//! - d. memory per open socket: the server's VmRSS before and with all sockets open;
//! - e. how much the MongoDB-protocol server (SecantusDB here) bounds the chat: its raw insert
//!   rate for a chat-message-sized document, and a send's own MongoDB work (look up the client
//!   message id, then insert), from this process at the same concurrency; and history reads
//!   (`GET .../messages?perPage=50`, one indexed query per page).
//!
//! Lost and duplicated deliveries are counted in b and c (both must be 0). A table is printed
//! and every row appended to `bench/results/chat.json`.
//!
//! The clinic: `healthsync_bench_<BENCH_CHAT_SIZE>`, the database `make bench-scale` seeds and
//! reuses (seeded here with `healthsync seed` when missing, recorded in the same
//! `bench_scale_seed` table). The default is its 1 million size: its 20 doctors have about 2,300
//! open appointments, each with another patient, so 1,000 distinct users with an open
//! conversation exist; the 10 thousand clinic has 8 doctors and 333 patients, too few.
//!
//! MongoDB: a SecantusDB (or `mongod`) process of the bench's own, started on a free port,
//! restarted (data kept) before each scenario and removed at the end
//! (`e2e::servers::ThrowawayServer`). SecantusDB is one Python process whose writes slow down
//! with every write it has taken since it started (see [`Bench::measured`]); the stack's is
//! shared with every `make test` on the machine and has taken who knows how many.
//! `BENCH_MONGO=stack` uses the stack's anyway (never restarted). PostgreSQL and Redis are
//! the stack's.
//!
//! Settings: BENCH_SOCKETS (1000), BENCH_CONCURRENCY (32), BENCH_MESSAGES (2000 per
//! scenario), BENCH_CHAT_SIZE (1000000), BENCH_SEED (42, for a seed made here), BENCH_MONGO
//! (`private`, or `stack`), HS_BIN (target/release/healthsync), BENCH_NOTE (a remark stored
//! with every row).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use e2e::servers::{Kind, ThrowawayServer};
use futures::stream::{self, SplitSink, StreamExt};
use futures::SinkExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// The server's settings raised for the bench (all else is the default). Every request comes
/// from 127.0.0.1, so the per-IP budgets would answer 429 at once; one doctor's socket carries
/// the messages of many conversations, beyond the per-socket frame budget (5/s) meant for a
/// person typing; the socket cap is per user and each user holds one socket, so it stays low.
const SERVER_SETTINGS: &[(&str, &str)] = &[
    ("RATE_LIMIT_PER_MINUTE", "100000000"),
    ("LOGIN_RATE_LIMIT_PER_MINUTE", "100000"),
    ("CHAT_MAX_SOCKETS_PER_USER", "10"),
    ("CHAT_SOCKET_RATE_PER_SEC", "1000"),
    ("CHAT_SOCKET_BURST", "10000"),
];

/// Every seeded account's password (`crates/api-http/src/seed.rs`).
const DEMO_PASSWORD: &str = "healthsync-demo-1";

/// A chat message of ordinary length (about 110 characters), the same in every scenario.
const TEXT: &str = "Good morning doctor, the new tablets make me a bit dizzy after lunch. \
                    Should I take them in the evening instead?";

/// How long deliveries may trail the last send before the missing ones count as lost.
const DELIVERY_GRACE: Duration = Duration::from_secs(15);

/// The history page read in scenario e, and how full the conversations read are made.
const HISTORY_PAGE: usize = 50;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

fn log(message: &str) {
    println!(
        "[bench-chat {}] {message}",
        chrono::Local::now().format("%H:%M:%S")
    );
}

// ------------------------------------------------------------------------------ settings

struct Settings {
    sockets: usize,
    concurrency: usize,
    messages: usize,
    size: u64,
    seed: u32,
    bin: PathBuf,
    note: String,
    root: PathBuf,
    /// A MongoDB-protocol server of the bench's own (the default), rather than the stack's.
    private_mongo: bool,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Self {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let root = root.canonicalize().unwrap_or(root);
        Self {
            sockets: env_or("BENCH_SOCKETS", 1000),
            concurrency: env_or("BENCH_CONCURRENCY", 32),
            messages: env_or("BENCH_MESSAGES", 2000),
            size: env_or("BENCH_CHAT_SIZE", 1_000_000),
            seed: env_or("BENCH_SEED", 42),
            bin: std::env::var("HS_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root.join("target/release/healthsync")),
            note: std::env::var("BENCH_NOTE").unwrap_or_default(),
            private_mongo: std::env::var("BENCH_MONGO").as_deref() != Ok("stack"),
            root,
        }
    }

    /// The bench's PostgreSQL and MongoDB database name.
    fn database(&self) -> String {
        format!("healthsync_bench_{}", self.size)
    }
}

// ------------------------------------------------------------------------------ the stores

/// The stores' addresses (from `.stack/env`) and the bench database's connection.
mod stores {
    use super::*;
    use diesel::sql_types::{BigInt, Text};
    use diesel::QueryableByName;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use mongodb::bson::{doc, Document};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// One open appointment of the clinic, with its two users.
    #[derive(QueryableByName)]
    pub struct OpenAppointment {
        #[diesel(sql_type = Text)]
        pub appointment_id: String,
        #[diesel(sql_type = Text)]
        pub patient_user: String,
        #[diesel(sql_type = Text)]
        pub patient_email: String,
        #[diesel(sql_type = Text)]
        pub doctor_user: String,
        #[diesel(sql_type = Text)]
        pub doctor_email: String,
    }

    pub struct Stores {
        pub database: String,
        pub database_url: String,
        admin_url: String,
        pub mongo_uri: String,
        pub redis_url: String,
    }

    fn var(name: &str) -> Result<String> {
        std::env::var(name).with_context(|| format!("{name} is not set (load .stack/env)"))
    }

    impl Stores {
        /// The stores of `.stack/env`; MongoDB at `private_mongo` when given.
        pub fn connect(settings: &Settings, private_mongo: Option<String>) -> Result<Self> {
            let admin_url = var("DATABASE_URL")?;
            let database = settings.database();
            let mongo_uri = match private_mongo {
                Some(uri) => uri,
                None => var("MONGODB_URI")?,
            };
            Ok(Self {
                database_url: e2e::db::url_with_database(&admin_url, &database),
                database,
                admin_url,
                mongo_uri,
                redis_url: var("REDIS_URL")?,
            })
        }

        pub async fn pg(&self) -> Result<AsyncPgConnection> {
            Ok(AsyncPgConnection::establish(&self.database_url).await?)
        }

        /// Creates the database when missing, applies the migrations, and seeds it unless a
        /// finished seed of this size is recorded in `bench_scale_seed` (as `bench/scale.py`
        /// does, so both benches share one seeded clinic).
        pub async fn ensure_seeded(&self, settings: &Settings) -> Result<()> {
            let mut admin = AsyncPgConnection::establish(&self.admin_url).await?;
            let exists: Count =
                diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
                    .bind::<Text, _>(&self.database)
                    .get_result(&mut admin)
                    .await?;
            if exists.n == 0 {
                diesel::sql_query(format!("CREATE DATABASE {}", self.database))
                    .execute(&mut admin)
                    .await?;
            }
            self.healthsync(settings, &["migrate"])?;
            let mut pg = self.pg().await?;
            let seeded = diesel::sql_query("SELECT appointments AS n FROM bench_scale_seed")
                .get_result::<Count>(&mut pg)
                .await
                .ok();
            if seeded.is_some_and(|s| s.n as u64 == settings.size) {
                log(&format!("{}: seeded earlier, reused", self.database));
                return Ok(());
            }
            log(&format!(
                "{}: seeding {} appointments (1 million take about a minute)",
                self.database, settings.size
            ));
            let started = Instant::now();
            let (size, seed) = (settings.size.to_string(), settings.seed.to_string());
            self.healthsync(
                settings,
                &["seed", "--reset", "--seed", &seed, "--appointments", &size],
            )?;
            diesel::sql_query("DROP TABLE IF EXISTS bench_scale_seed")
                .execute(&mut pg)
                .await?;
            diesel::sql_query(format!(
                "CREATE TABLE bench_scale_seed AS SELECT {size}::bigint AS appointments, \
                 {seed} AS seed, now() AS seeded_at, {:.1}::real AS seconds",
                started.elapsed().as_secs_f64()
            ))
            .execute(&mut pg)
            .await?;
            Ok(())
        }

        /// Runs a `healthsync` command on the bench database (output discarded).
        fn healthsync(&self, settings: &Settings, args: &[&str]) -> Result<()> {
            let status = std::process::Command::new(&settings.bin)
                .args(args)
                .env("DATABASE_URL", &self.database_url)
                .env("MONGODB_URI", &self.mongo_uri)
                .env("MONGODB_DATABASE", &self.database)
                .env("FILE_STORE", "local")
                .env("FILE_STORE_DIR", settings.root.join(".stack/bench-files"))
                .stdout(std::process::Stdio::null())
                .status()
                .with_context(|| format!("running {}", settings.bin.display()))?;
            if !status.success() {
                bail!("healthsync {args:?} failed ({status})");
            }
            Ok(())
        }

        /// Every open (SCHEDULED or CONFIRMED) appointment's conversation, one per patient,
        /// in a fixed shuffled order (so the bench's conversations spread over the doctors).
        pub async fn open_appointments(&self) -> Result<Vec<OpenAppointment>> {
            Ok(diesel::sql_query(
                "SELECT * FROM (
                   SELECT DISTINCT ON (a.patient_id)
                          a.id::text AS appointment_id,
                          pu.id::text AS patient_user, pu.email AS patient_email,
                          du.id::text AS doctor_user, du.email AS doctor_email
                     FROM appointments a
                     JOIN patients p ON p.id = a.patient_id
                     JOIN users pu ON pu.id = p.user_id AND pu.is_active
                     JOIN doctors d ON d.id = a.doctor_id
                     JOIN users du ON du.id = d.user_id AND du.is_active
                    WHERE a.status IN ('SCHEDULED', 'CONFIRMED')
                    ORDER BY a.patient_id, a.starts_at) o
                 ORDER BY md5(appointment_id)",
            )
            .load(&mut self.pg().await?)
            .await?)
        }

        /// Removes what earlier runs of this bench left: the conversations' numbering, their
        /// messages, and the audit events of the sends (in the outbox and in MongoDB), so every
        /// run starts from empty conversations and the shared clinic keeps its size.
        pub async fn reset_chat(&self) -> Result<()> {
            let mut pg = self.pg().await?;
            diesel::sql_query("DELETE FROM chat_conversations")
                .execute(&mut pg)
                .await?;
            diesel::sql_query(
                "DELETE FROM audit_outbox WHERE entity IN ('chat_message', 'conversation')",
            )
            .execute(&mut pg)
            .await?;
            // A client of its own: a pooled connection idle for minutes may have been closed.
            let mongo = mongodb::Client::with_uri_str(&self.mongo_uri)
                .await?
                .database(&self.database);
            mongo.collection::<Document>("chat_messages").drop().await?;
            mongo
                .collection::<Document>("audit_logs")
                .delete_many(doc! { "entity": { "$in": ["chat_message", "conversation"] } })
                .await?;
            Ok(())
        }

        /// Audit events not yet shipped to MongoDB by the server's relay.
        pub async fn outbox_pending(&self) -> Result<i64> {
            let pending: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM audit_outbox WHERE shipped_at IS NULL",
            )
            .get_result(&mut self.pg().await?)
            .await?;
            Ok(pending.n)
        }

        /// Waits until the relay has shipped the outbox: measuring while it ships the seed's
        /// events or the previous scenario's would measure the relay too (it keeps the
        /// MongoDB-protocol server busy).
        pub async fn wait_for_outbox(&self) -> Result<()> {
            let started = Instant::now();
            loop {
                let pending = self.outbox_pending().await?;
                if pending == 0 {
                    if started.elapsed() > Duration::from_secs(2) {
                        log(&format!(
                            "audit relay: outbox shipped in {:.0} s",
                            started.elapsed().as_secs_f64()
                        ));
                    }
                    return Ok(());
                }
                if started.elapsed() > Duration::from_secs(1800) {
                    log(&format!(
                        "audit relay: {pending} events still pending; measuring anyway"
                    ));
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }

        /// Deletes the server's Redis keys (its own prefix).
        pub async fn clear_redis(&self, prefix: &str) -> Result<()> {
            use deadpool_redis::redis::AsyncCommands;
            let client = deadpool_redis::redis::Client::open(self.redis_url.as_str())?;
            let mut redis = client.get_multiplexed_async_connection().await?;
            let keys: Vec<String> = redis.keys(format!("{prefix}*")).await?;
            for chunk in keys.chunks(500) {
                let _: () = redis.del(chunk).await?;
            }
            Ok(())
        }
    }
}

// ------------------------------------------------------------------------------ the server

/// The release server as a child process, on a free port, its log in a temporary file.
mod server {
    use super::*;
    use std::process::{Child, Command, Stdio};

    pub struct Server {
        child: Child,
        pub port: u16,
        pub url: String,
        pub redis_prefix: String,
        pub log: PathBuf,
    }

    fn free_port() -> Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    }

    impl Server {
        /// Starts `healthsync serve` on the bench database with [`SERVER_SETTINGS`], and waits
        /// until `/ready` answers.
        pub async fn start(settings: &Settings, stores: &stores::Stores) -> Result<Self> {
            let port = free_port()?;
            let redis_prefix = format!("bench_chat_{}:", std::process::id());
            let log = std::env::temp_dir().join(format!("bench-chat-server-{port}.log"));
            let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
            let child = Command::new(&settings.bin)
                .arg("serve")
                .envs(SERVER_SETTINGS.iter().copied())
                .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
                .env("DATABASE_URL", &stores.database_url)
                .env("MONGODB_URI", &stores.mongo_uri)
                .env("MONGODB_DATABASE", &stores.database)
                .env("REDIS_KEY_PREFIX", &redis_prefix)
                .env("JWT_SECRET", secret)
                .env("FILE_STORE", "local")
                .env("FILE_STORE_DIR", settings.root.join(".stack/bench-files"))
                .env("LOG_FORMAT", "json")
                // Warnings are kept: a relay that fell behind or a store that failed says so.
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log)?)
                .spawn()
                .with_context(|| format!("starting {}", settings.bin.display()))?;
            let mut server = Self {
                child,
                port,
                url: format!("http://127.0.0.1:{port}"),
                redis_prefix,
                log,
            };
            for _ in 0..600 {
                if let Some(status) = server.child.try_wait()? {
                    bail!("the server exited ({status}); see {}", server.log.display());
                }
                if server.ready().await {
                    return Ok(server);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            bail!("the server did not start; see {}", server.log.display())
        }

        /// Whether `/ready` answers 200: every store reachable.
        async fn ready(&self) -> bool {
            let ready = reqwest::get(format!("{}/ready", self.url)).await;
            ready.is_ok_and(|r| r.status().is_success())
        }

        /// Waits (up to 60 s) until the server is ready again.
        pub async fn wait_ready(&self) -> Result<()> {
            for _ in 0..600 {
                if self.ready().await {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            bail!(
                "the server is not ready after 60 s; see {}",
                self.log.display()
            )
        }

        pub fn pid(&self) -> u32 {
            self.child.id()
        }

        /// The server's resident memory now, in KiB (`VmRSS` of `/proc/<pid>/status`).
        pub fn rss_kib(&self) -> u64 {
            let status =
                std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        }

        /// The warnings and errors the server logged, counted by message.
        pub fn warnings(&self) -> BTreeMap<String, usize> {
            let mut counts = BTreeMap::new();
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            for line in text.lines() {
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if matches!(entry["level"].as_str(), Some("WARN" | "ERROR")) {
                    let message = entry["message"].as_str().unwrap_or("?").to_owned();
                    *counts.entry(message).or_insert(0) += 1;
                }
            }
            counts
        }

        /// SIGTERM (a graceful stop), SIGKILL after 10 s.
        pub fn stop(&mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .status();
            for _ in 0..100 {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Drop for Server {
        /// A bench that fails half-way leaves no server behind.
        fn drop(&mut self) {
            if self.child.try_wait().ok().flatten().is_none() {
                self.stop();
            }
        }
    }
}

// ------------------------------------------------------------------------------ the clinic

/// A user of the bench before login.
struct Account {
    id: Uuid,
    email: String,
}

/// A logged-in user of the bench; its index in the user list is its socket's index.
struct User {
    id: Uuid,
    email: String,
    token: String,
}

/// A conversation of the bench: an open appointment and its two users (indexes into the
/// user list). The patient sends, the doctor receives: see [`plan_message`].
struct Pair {
    appointment: Uuid,
    patient: usize,
    doctor: usize,
}

/// Picks conversations until their users number `sockets`: each brings its patient (one
/// conversation per patient) and its doctor when not in yet.
fn pick_conversations(
    open: Vec<stores::OpenAppointment>,
    sockets: usize,
) -> Result<(Vec<Pair>, Vec<Account>)> {
    let mut users: Vec<Account> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    let mut pairs = Vec::new();
    for row in open {
        let doctor: Uuid = row.doctor_user.parse()?;
        let needed = 1 + usize::from(!index.contains_key(&doctor));
        if users.len() + needed > sockets {
            continue;
        }
        let mut add = |id: Uuid, email: String| {
            *index.entry(id).or_insert_with(|| {
                users.push(Account { id, email });
                users.len() - 1
            })
        };
        let patient = add(row.patient_user.parse()?, row.patient_email);
        let doctor = add(doctor, row.doctor_email);
        pairs.push(Pair {
            appointment: row.appointment_id.parse()?,
            patient,
            doctor,
        });
        if users.len() == sockets {
            return Ok((pairs, users));
        }
    }
    bail!(
        "only {} users have an open conversation in this clinic, fewer than BENCH_SOCKETS={sockets}: \
         lower BENCH_SOCKETS or raise BENCH_CHAT_SIZE",
        users.len()
    )
}

/// The `i`-th message of a scenario: its conversation and its client message id. Patients send
/// and doctors receive: a socket handles its frames one at a time, so sends from a doctor's
/// socket (one socket for dozens of conversations) would queue behind each other in c and not
/// in b, and the two would not compare.
fn plan_message(pairs: &[Pair], i: usize) -> (&Pair, Uuid) {
    (&pairs[i % pairs.len()], Uuid::new_v4())
}

/// A client for the server's REST API.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    url: String,
}

impl Http {
    fn new(url: &str, concurrency: usize) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency * 2)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Self {
            client,
            url: url.to_owned(),
        }
    }

    async fn login(&self, email: &str) -> Result<String> {
        let answer = self
            .client
            .post(format!("{}/auth/login", self.url))
            .json(&json!({ "email": email, "password": DEMO_PASSWORD }))
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("login of {email}: {}", answer.status());
        }
        let body: serde_json::Value = answer.json().await?;
        Ok(body["accessToken"]
            .as_str()
            .context("no accessToken")?
            .to_owned())
    }

    async fn logout(&self, token: &str) {
        let _ = self
            .client
            .post(format!("{}/auth/logout", self.url))
            .bearer_auth(token)
            .send()
            .await;
    }

    /// A REST send (without a client message id when `None`); `Err` names the status of
    /// anything but 201.
    async fn send(
        &self,
        token: &str,
        appointment: Uuid,
        client_id: Option<Uuid>,
    ) -> Result<(), String> {
        let body = match client_id {
            Some(id) => json!({ "message": TEXT, "clientMessageId": id }),
            None => json!({ "message": TEXT }),
        };
        let answer = self
            .client
            .post(format!("{}/appointments/{appointment}/messages", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("request: {e}"))?;
        match answer.status().as_u16() {
            201 => Ok(()),
            status => Err(format!("HTTP {status}")),
        }
    }

    /// The newest page of a conversation; `Err` unless it is a full page of [`HISTORY_PAGE`].
    async fn history(&self, token: &str, appointment: Uuid) -> Result<(), String> {
        let answer = self
            .client
            .get(format!(
                "{}/appointments/{appointment}/messages?perPage={HISTORY_PAGE}",
                self.url
            ))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("request: {e}"))?;
        if answer.status() != 200 {
            return Err(format!("HTTP {}", answer.status().as_u16()));
        }
        let page: serde_json::Value = answer.json().await.map_err(|e| e.to_string())?;
        match page["items"].as_array().map(Vec::len) {
            Some(HISTORY_PAGE) => Ok(()),
            other => Err(format!("a page of {other:?} messages")),
        }
    }
}

/// Logs every user in (Argon2id on the server's blocking threads: a few at a time).
async fn login_all(http: &Http, users: Vec<Account>) -> Result<Vec<User>> {
    let started = Instant::now();
    let logged: Vec<Result<User>> = stream::iter(users)
        .map(|Account { id, email }| async move {
            let token = http.login(&email).await?;
            Ok(User { id, email, token })
        })
        .buffered(8)
        .collect()
        .await;
    let users = logged.into_iter().collect::<Result<Vec<_>>>()?;
    log(&format!(
        "{} users logged in in {:.0} s",
        users.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(users)
}

// ------------------------------------------------------------------------------ the sockets

/// What this process reads from the server's sockets, in the frames it needs.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum ServerFrame {
    Message {
        message: DeliveredMessage,
    },
    Sent {
        #[serde(rename = "clientMessageId")]
        client_message_id: Option<Uuid>,
    },
    Error {
        code: String,
        #[serde(rename = "ref")]
        reference: Option<Uuid>,
    },
    Lagged {},
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct DeliveredMessage {
    #[serde(rename = "clientMessageId")]
    client_message_id: Option<Uuid>,
}

/// A `message` frame as it arrived: on which socket, which message, when.
struct Delivery {
    socket: usize,
    client_id: Uuid,
    at: Instant,
}

/// Shared by every socket's reader: the deliveries, the answers awaited by `send` frames, and
/// the counts of what must not happen.
#[derive(Default)]
struct Inbox {
    deliveries: Mutex<Vec<Delivery>>,
    awaited: Mutex<HashMap<Uuid, oneshot::Sender<Result<(), String>>>>,
    lagged: AtomicUsize,
    dropped: AtomicUsize,
    closing: AtomicBool,
}

impl Inbox {
    fn on_frame(&self, socket: usize, at: Instant, text: &str) {
        let Ok(frame) = serde_json::from_str::<ServerFrame>(text) else {
            return;
        };
        match frame {
            ServerFrame::Message { message } => {
                if let Some(client_id) = message.client_message_id {
                    let delivery = Delivery {
                        socket,
                        client_id,
                        at,
                    };
                    self.deliveries.lock().unwrap().push(delivery);
                }
            }
            ServerFrame::Sent { client_message_id } => self.answer(client_message_id, Ok(())),
            ServerFrame::Error { code, reference } => self.answer(reference, Err(code)),
            ServerFrame::Lagged {} => {
                self.lagged.fetch_add(1, Ordering::Relaxed);
            }
            ServerFrame::Other => {}
        }
    }

    fn answer(&self, client_id: Option<Uuid>, outcome: Result<(), String>) {
        let waiting = client_id.and_then(|id| self.awaited.lock().unwrap().remove(&id));
        if let Some(waiting) = waiting {
            let _ = waiting.send(outcome);
        }
    }

    fn take_deliveries(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.deliveries.lock().unwrap())
    }

    /// Whether every `(socket, message)` expected has been delivered.
    fn has_all(&self, expected: &HashSet<(usize, Uuid)>) -> bool {
        let deliveries = self.deliveries.lock().unwrap();
        let seen: HashSet<(usize, Uuid)> =
            deliveries.iter().map(|d| (d.socket, d.client_id)).collect();
        expected.is_subset(&seen)
    }
}

/// One open socket per user, its writing half here, its reading half in a task feeding the
/// [`Inbox`].
struct Fleet {
    writers: Vec<tokio::sync::Mutex<SplitSink<Ws, Message>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    inbox: Arc<Inbox>,
}

/// Opens a socket with the `Authorization` header (a non-browser client) and reads its
/// `ready` frame.
async fn open_socket(port: u16, token: &str) -> Result<Ws> {
    let mut request = format!("ws://127.0.0.1:{port}/chat/socket").into_client_request()?;
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.contains(r#""type":"ready""#) => return Ok(ws),
            Some(Ok(Message::Text(text))) => bail!("a first frame other than ready: {text}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the socket closed before ready"),
        }
    }
}

/// Reads one socket until it ends; an end before [`Fleet::close`] counts as dropped. Pings
/// are answered by tungstenite while reading.
async fn read_socket(
    socket: usize,
    mut stream: futures::stream::SplitStream<Ws>,
    inbox: Arc<Inbox>,
) {
    while let Some(Ok(frame)) = stream.next().await {
        if let Message::Text(text) = frame {
            inbox.on_frame(socket, Instant::now(), &text);
        }
    }
    if !inbox.closing.load(Ordering::Acquire) {
        inbox.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

impl Fleet {
    async fn open(port: u16, users: &[User], concurrency: usize) -> Result<Self> {
        let started = Instant::now();
        let opened: Vec<Result<Ws>> = stream::iter(users)
            .map(|u| open_socket(port, &u.token))
            .buffered(concurrency)
            .collect()
            .await;
        let inbox = Arc::new(Inbox::default());
        let mut fleet = Self {
            writers: Vec::with_capacity(users.len()),
            readers: Vec::with_capacity(users.len()),
            inbox: inbox.clone(),
        };
        for (socket, ws) in opened.into_iter().enumerate() {
            let (writer, reader) = ws
                .with_context(|| format!("the socket of {}", users[socket].email))?
                .split();
            fleet.writers.push(tokio::sync::Mutex::new(writer));
            fleet
                .readers
                .push(tokio::spawn(read_socket(socket, reader, inbox.clone())));
        }
        log(&format!(
            "{} sockets open in {:.1} s",
            users.len(),
            started.elapsed().as_secs_f64()
        ));
        Ok(fleet)
    }

    /// Sends a `send` frame on `socket` and waits for its `sent` (or `error`) answer.
    async fn send(&self, socket: usize, appointment: Uuid, client_id: Uuid) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.inbox.awaited.lock().unwrap().insert(client_id, tx);
        let frame = json!({ "type": "send", "appointmentId": appointment, "message": TEXT,
                            "clientMessageId": client_id });
        self.writers[socket]
            .lock()
            .await
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| format!("socket write: {e}"))?;
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => Err("no answer within 60 s".into()),
        }
    }

    /// Waits until every expected delivery arrived, or [`DELIVERY_GRACE`] passed.
    async fn wait_for(&self, expected: &HashSet<(usize, Uuid)>) {
        let deadline = Instant::now() + DELIVERY_GRACE;
        while !self.inbox.has_all(expected) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn close(self) {
        self.inbox.closing.store(true, Ordering::Release);
        for writer in &self.writers {
            let _ = writer.lock().await.close().await;
        }
        for reader in self.readers {
            let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
        }
    }
}

// ------------------------------------------------------------------------------ measuring

/// One timed operation.
struct Timed {
    started: Instant,
    answered: Instant,
    outcome: Result<(), String>,
}

async fn timed<F: std::future::Future<Output = Result<(), String>>>(f: F) -> Timed {
    let started = Instant::now();
    let outcome = f.await;
    Timed {
        started,
        answered: Instant::now(),
        outcome,
    }
}

/// Runs `n` operations, `concurrency` at a time.
async fn drive<F, Fut, T>(n: usize, concurrency: usize, operation: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    stream::iter(0..n)
        .map(operation)
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn millis(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

/// `to - from` in milliseconds, negative when `to` came first.
fn signed_millis(from: Instant, to: Instant) -> f64 {
    millis(from, to) - millis(to, from)
}

/// The failures of a run, as "reason x count".
fn failures(outcomes: impl Iterator<Item = Result<(), String>>) -> (usize, String) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in outcomes.filter_map(Result::err) {
        *counts.entry(e).or_insert(0) += 1;
    }
    let text = counts
        .iter()
        .map(|(e, n)| format!("{e} x{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    (counts.values().sum(), text)
}

/// Cores kept busy per part of the machine while a scenario ran (from `/proc/<pid>/stat`):
/// the server, the MongoDB-protocol server, the bench database's PostgreSQL backends, Redis,
/// this load generator, and the rest ("other": e.g. someone else's build).
mod cpu {
    use super::*;

    pub const PARTS: [&str; 6] = ["server", "mongo", "postgres", "redis", "load", "other"];
    /// `/proc` counts in USER_HZ, 100 on Linux.
    const TICKS: f64 = 100.0;

    pub struct Meter {
        server: u32,
        database: String,
        mongo_port: String,
        redis_port: String,
        started: Instant,
        first: [f64; 6],
    }

    /// Every process's (comm, cmdline, CPU seconds).
    fn processes() -> Vec<(u32, String, String, f64)> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let comm = stat[stat.find('(')? + 1..stat.rfind(')')?].to_owned();
                let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
                let ticks: f64 =
                    fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
                let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ");
                Some((pid, comm, cmdline, ticks / TICKS))
            })
            .collect()
    }

    /// Busy CPU seconds of the whole machine (all but idle and iowait).
    fn machine() -> f64 {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let values: Vec<f64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        (values.iter().sum::<f64>() - values.get(3).unwrap_or(&0.0) - values.get(4).unwrap_or(&0.0))
            / TICKS
    }

    fn port_of(url: &str) -> String {
        url.rsplit(':')
            .next()
            .unwrap_or_default()
            .split(['/', '?'])
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    impl Meter {
        pub fn start(server: u32, stores: &stores::Stores) -> Self {
            let mut meter = Self {
                server,
                database: stores.database.clone(),
                mongo_port: port_of(stores.mongo_uri.split('/').nth(2).unwrap_or_default()),
                redis_port: port_of(&stores.redis_url),
                started: Instant::now(),
                first: [0.0; 6],
            };
            meter.first = meter.sample();
            meter
        }

        /// CPU seconds so far per part ("other": the machine's total for now).
        fn sample(&self) -> [f64; 6] {
            let me = std::process::id();
            let mut parts = [0.0; 6];
            for (pid, comm, cmdline, seconds) in processes() {
                let part = if pid == self.server {
                    0
                } else if (comm.starts_with("secantus") || comm == "mongod")
                    && cmdline.contains(&self.mongo_port)
                {
                    1
                } else if comm == "postgres" && cmdline.contains(&self.database) {
                    2
                } else if comm == "redis-server" && cmdline.contains(&self.redis_port) {
                    3
                } else if pid == me {
                    4
                } else {
                    continue;
                };
                parts[part] += seconds;
            }
            parts[5] = machine();
            parts
        }

        /// Cores per part since the start.
        pub fn stop(&self) -> [f64; 6] {
            let last = self.sample();
            let wall = self.started.elapsed().as_secs_f64().max(1e-6);
            let mut cores: [f64; 6] = std::array::from_fn(|i| (last[i] - self.first[i]) / wall);
            // The machine's busy cores, less the parts named: the rest.
            cores[5] = (cores[5] - cores[..5].iter().sum::<f64>()).max(0.0);
            cores
        }
    }
}

/// One line of the report (and of `bench/results/chat.json`).
#[derive(Default)]
struct Row {
    scenario: String,
    msgs: usize,
    seconds: f64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    lost: Option<usize>,
    duplicated: Option<usize>,
    errors: usize,
    rss_per_socket_kib: Option<f64>,
    cores: Option<[f64; 6]>,
    note: String,
}

impl Row {
    /// A row from answers alone: rate = answered operations / (last answer - first start).
    fn from_answers(scenario: &str, results: &[Timed]) -> Self {
        let mut latencies: Vec<f64> = results
            .iter()
            .filter(|t| t.outcome.is_ok())
            .map(|t| millis(t.started, t.answered))
            .collect();
        latencies.sort_by(f64::total_cmp);
        let (errors, why) = failures(results.iter().map(|t| t.outcome.clone()));
        let seconds = span(results.iter().map(|t| (t.started, t.answered)));
        Self {
            scenario: scenario.into(),
            msgs: latencies.len(),
            seconds,
            rate: latencies.len() as f64 / seconds.max(1e-9),
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
            errors,
            note: why,
            ..Self::default()
        }
    }
}

/// Seconds from the first start to the last end.
fn span(intervals: impl Iterator<Item = (Instant, Instant)>) -> f64 {
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for (start, end) in intervals {
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    match (first, last) {
        (Some(f), Some(l)) => l.saturating_duration_since(f).as_secs_f64(),
        _ => 0.0,
    }
}

// ------------------------------------------------------------------------------ scenarios

/// The deliveries of a scenario against those expected.
struct Tally {
    /// When each (socket, message) was first delivered.
    first_seen: HashMap<(usize, Uuid), Instant>,
    lost: usize,
    duplicated: usize,
    /// Delivered but not expected (a message of another scenario, or a failed send stored).
    stray: usize,
}

impl Tally {
    fn of(deliveries: &[Delivery], expected: &HashSet<(usize, Uuid)>) -> Self {
        let mut first_seen = HashMap::new();
        let mut duplicated = 0;
        for d in deliveries {
            if first_seen.insert((d.socket, d.client_id), d.at).is_some() {
                duplicated += 1;
            }
        }
        let lost = expected
            .iter()
            .filter(|k| !first_seen.contains_key(k))
            .count();
        let stray = first_seen.keys().filter(|k| !expected.contains(k)).count();
        Self {
            first_seen,
            lost,
            duplicated,
            stray,
        }
    }
}

/// A send of scenarios a to c: which message, and how it went.
struct Send {
    index: usize,
    client_id: Uuid,
    timed: Timed,
}

/// What scenarios a to c share: the conversations, the users, the load's shape.
struct Bench<'a> {
    http: Http,
    users: &'a [User],
    pairs: &'a [Pair],
    settings: &'a Settings,
    server: &'a server::Server,
    stores: &'a stores::Stores,
    /// The bench's own MongoDB-protocol server, restarted before each scenario.
    mongo: Option<&'a Mutex<ThrowawayServer>>,
}

impl Bench<'_> {
    /// `BENCH_MESSAGES` REST sends, `BENCH_CONCURRENCY` at a time; `with_ids`: each with a
    /// client message id, as a client that retries sends them.
    async fn rest_sends(&self, with_ids: bool) -> Vec<Send> {
        drive(self.settings.messages, self.settings.concurrency, |index| {
            let (pair, client_id) = plan_message(self.pairs, index);
            let token = &self.users[pair.patient].token;
            let sent_id = with_ids.then_some(client_id);
            async move {
                let timed = timed(self.http.send(token, pair.appointment, sent_id)).await;
                Send {
                    index,
                    client_id,
                    timed,
                }
            }
        })
        .await
    }

    /// `BENCH_MESSAGES` sends as `send` frames on the patients' sockets.
    async fn socket_sends(&self, fleet: &Fleet) -> Vec<Send> {
        drive(self.settings.messages, self.settings.concurrency, |index| {
            let (pair, client_id) = plan_message(self.pairs, index);
            async move {
                let timed = timed(fleet.send(pair.patient, pair.appointment, client_id)).await;
                Send {
                    index,
                    client_id,
                    timed,
                }
            }
        })
        .await
    }

    /// Runs `scenario` with the CPU meter on. First the outbox is drained, so the audit
    /// events of the previous scenario are not shipped during this one, and the bench's own
    /// MongoDB-protocol server is restarted (its data kept): SecantusDB's writes slow down
    /// with every write the process has taken (about 800 inserts/s fresh, 350/s after 10,000,
    /// back to 720/s after a restart with those 10,000 kept), so without it the order of the
    /// scenarios would decide their figures.
    async fn measured<F, Fut>(&self, scenario: F) -> Result<(Row, [f64; 6])>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Row>>,
    {
        self.stores.wait_for_outbox().await?;
        self.restart_mongo().await?;
        let meter = cpu::Meter::start(self.server.pid(), self.stores);
        let row = scenario().await?;
        Ok((row, meter.stop()))
    }

    /// Restarts the bench's own MongoDB-protocol server (not the stack's), then waits until
    /// the server's `/ready` has found it again.
    async fn restart_mongo(&self) -> Result<()> {
        let Some(mongo) = self.mongo else {
            return Ok(());
        };
        tokio::task::block_in_place(|| {
            let mut mongo = mongo.lock().unwrap();
            mongo.stop_gracefully();
            mongo.restart();
        });
        self.server.wait_ready().await
    }

    /// a. REST sends, no socket open; `with_ids: false` is the same without client message
    /// ids, which spares each send its MongoDB lookup of an earlier try.
    async fn baseline(&self, with_ids: bool) -> Result<Row> {
        let name = if with_ids {
            "a. REST send, no socket open (baseline)"
        } else {
            "a2. REST send without clientMessageId, no socket open"
        };
        let (mut row, cores) = self
            .measured(|| async {
                let sends = self.rest_sends(with_ids).await;
                let timed: Vec<Timed> = sends.into_iter().map(|s| s.timed).collect();
                Ok(Row::from_answers(name, &timed))
            })
            .await?;
        row.cores = Some(cores);
        row.note = join_notes(&["latency: send to 201", &row.note]);
        Ok(row)
    }

    /// b. and c.: sends with every socket open; latency to the receiver's delivery.
    async fn with_sockets(&self, fleet: &Fleet, over_sockets: bool) -> Result<Row> {
        fleet.inbox.take_deliveries();
        let (mut row, cores) = self
            .measured(|| async {
                let sends = if over_sockets {
                    self.socket_sends(fleet).await
                } else {
                    self.rest_sends(true).await
                };
                let expected = self.expected_deliveries(&sends);
                fleet.wait_for(&expected).await;
                let deliveries = fleet.inbox.take_deliveries();
                let name = if over_sockets {
                    "c. socket `send` frames, sockets open"
                } else {
                    "b. REST send, sockets open"
                };
                Ok(self.delivery_row(name, &sends, &expected, &deliveries))
            })
            .await?;
        row.cores = Some(cores);
        Ok(row)
    }

    /// Each stored message is due on its receiver's socket and on its sender's own.
    fn expected_deliveries(&self, sends: &[Send]) -> HashSet<(usize, Uuid)> {
        sends
            .iter()
            .filter(|s| s.timed.outcome.is_ok())
            .flat_map(|s| {
                let pair = &self.pairs[s.index % self.pairs.len()];
                [(pair.doctor, s.client_id), (pair.patient, s.client_id)]
            })
            .collect()
    }

    /// Latency = send start to the receiver's delivery; rate = messages delivered to their
    /// receivers / (last delivery - first send); lost = expected deliveries (receiver's and
    /// sender's socket) that never came; duplicated = a message delivered twice on a socket.
    /// The note says how long after the send's answer (`201` or `sent`) the receiver's frame
    /// came: the fan-out's own cost (NOTIFY, the listening process, the socket).
    fn delivery_row(
        &self,
        name: &str,
        sends: &[Send],
        expected: &HashSet<(usize, Uuid)>,
        deliveries: &[Delivery],
    ) -> Row {
        let tally = Tally::of(deliveries, expected);
        let (mut latencies, mut after_answer, mut intervals) = (Vec::new(), Vec::new(), Vec::new());
        for s in sends.iter().filter(|s| s.timed.outcome.is_ok()) {
            let receiver = self.pairs[s.index % self.pairs.len()].doctor;
            if let Some(at) = tally.first_seen.get(&(receiver, s.client_id)) {
                latencies.push(millis(s.timed.started, *at));
                after_answer.push(signed_millis(s.timed.answered, *at));
                intervals.push((s.timed.started, *at));
            }
        }
        latencies.sort_by(f64::total_cmp);
        after_answer.sort_by(f64::total_cmp);
        let seconds = span(intervals.into_iter());
        let (errors, why) = failures(sends.iter().map(|s| s.timed.outcome.clone()));
        let answer = if name.starts_with('c') { "sent" } else { "201" };
        let fan_out = format!(
            "latency: send to receiver's frame, which came p50 {:.1} / p99 {:.1} ms after the `{answer}`",
            percentile(&after_answer, 50.0),
            percentile(&after_answer, 99.0)
        );
        let stray = match tally.stray {
            0 => String::new(),
            n => format!("{n} deliveries of messages not sent in this scenario"),
        };
        Row {
            scenario: name.into(),
            msgs: latencies.len(),
            seconds,
            rate: latencies.len() as f64 / seconds.max(1e-9),
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
            lost: Some(tally.lost),
            duplicated: Some(tally.duplicated),
            errors,
            note: join_notes(&[&fan_out, &stray, &why]),
            ..Row::default()
        }
    }

    /// Makes the first `concurrency` conversations hold a full page or more (untimed).
    async fn fill_history(&self) -> Result<usize> {
        let conversations = self.settings.concurrency.min(self.pairs.len());
        let failed: usize = drive(conversations, conversations, |k| async move {
            let pair = &self.pairs[k];
            let mut failed = 0;
            for _ in 0..=HISTORY_PAGE {
                let token = &self.users[pair.patient].token;
                failed += usize::from(
                    self.http
                        .send(token, pair.appointment, Some(Uuid::new_v4()))
                        .await
                        .is_err(),
                );
            }
            failed
        })
        .await
        .into_iter()
        .sum();
        if failed > 0 {
            bail!("{failed} sends failed while filling the history");
        }
        Ok(conversations)
    }

    /// e. history reads: the newest page of 50, alternately by the patient and the doctor.
    async fn history(&self) -> Result<Row> {
        let conversations = self.fill_history().await?;
        let (mut row, cores) = self
            .measured(|| async {
                let reads = drive(self.settings.messages, self.settings.concurrency, |i| {
                    let pair = &self.pairs[i % conversations];
                    let reader = if i % 2 == 0 {
                        pair.patient
                    } else {
                        pair.doctor
                    };
                    let token = &self.users[reader].token;
                    timed(self.http.history(token, pair.appointment))
                })
                .await;
                Ok(Row::from_answers(
                    "e. history: newest page of 50 (REST)",
                    &reads,
                ))
            })
            .await?;
        row.cores = Some(cores);
        row.note = join_notes(&[
            &format!("{conversations} conversations of 51+ messages; rate in pages/s"),
            &row.note,
        ]);
        Ok(row)
    }
}

fn join_notes(notes: &[&str]) -> String {
    notes
        .iter()
        .copied()
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// e. What the MongoDB-protocol server allows by itself, from this process with the server's
/// pool size (16) at the same concurrency, into a scratch collection with the indexes of
/// `chat_messages`: inserts of a document shaped like a chat message, and (`lookup`) what a
/// send with a client message id asks of it: a find by `clientKey`, then the insert.
mod raw_mongo {
    use super::*;
    use mongodb::bson::{doc, Document};
    use mongodb::options::IndexOptions;
    use mongodb::IndexModel;

    const SCRATCH: &str = "bench_chat_scratch";

    async fn scratch(stores: &stores::Stores) -> Result<mongodb::Collection<Document>> {
        let mut options = mongodb::options::ClientOptions::parse(&stores.mongo_uri).await?;
        options.max_pool_size = Some(env_or("MONGODB_POOL_SIZE", 16));
        let collection = mongodb::Client::with_options(options)?
            .database(&stores.database)
            .collection::<Document>(SCRATCH);
        collection.drop().await?;
        let unique = |sparse| IndexOptions::builder().unique(true).sparse(sparse).build();
        collection
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! { "appointmentId": 1, "seq": -1 })
                    .options(unique(false))
                    .build(),
                IndexModel::builder()
                    .keys(doc! { "clientKey": 1 })
                    .options(unique(true))
                    .build(),
                IndexModel::builder()
                    .keys(doc! { "receiverId": 1, "isRead": 1, "appointmentId": 1 })
                    .build(),
            ])
            .await?;
        Ok(collection)
    }

    /// The `i`-th document: the fields `chat_messages` stores, with the bench's text.
    fn message(pairs: &[Pair], users: &[User], i: usize) -> Document {
        let pair = &pairs[i % pairs.len()];
        let (sender, client_id) = (users[pair.patient].id, Uuid::new_v4());
        doc! {
            "_id": Uuid::new_v4().to_string(),
            "appointmentId": pair.appointment.to_string(),
            "seq": i as i64 + 1,
            "senderId": sender.to_string(),
            "receiverId": users[pair.doctor].id.to_string(),
            "message": TEXT,
            "attachments": [],
            "isRead": false,
            "sentAt": mongodb::bson::DateTime::now(),
            "clientMessageId": client_id.to_string(),
            "clientKey": format!("{sender}:{client_id}"),
        }
    }

    async fn write(
        collection: &mongodb::Collection<Document>,
        document: Document,
        lookup: bool,
    ) -> Result<(), String> {
        if lookup {
            let key = document.get_str("clientKey").unwrap_or_default();
            collection
                .find_one(doc! { "clientKey": key })
                .await
                .map_err(|e| e.kind.to_string())?;
        }
        collection
            .insert_one(document)
            .await
            .map(|_| ())
            .map_err(|e| e.kind.to_string())
    }

    pub async fn run(bench: &Bench<'_>, lookup: bool) -> Result<Row> {
        let (mut row, cores) = bench
            .measured(|| async {
                // After the restart `measured` makes: a client of its own, connected afresh.
                let collection = scratch(bench.stores).await?;
                let writes = drive(bench.settings.messages, bench.settings.concurrency, |i| {
                    let document = message(bench.pairs, bench.users, i);
                    timed(write(&collection, document, lookup))
                })
                .await;
                let name = if lookup {
                    "e. raw MongoDB: find by clientKey + insert"
                } else {
                    "e. raw MongoDB: insert a chat message"
                };
                collection.drop().await?;
                Ok(Row::from_answers(name, &writes))
            })
            .await?;
        row.cores = Some(cores);
        row.note = join_notes(&[
            "from the load process, pool 16, scratch collection with chat_messages' indexes",
            &row.note,
        ]);
        Ok(row)
    }
}

// ------------------------------------------------------------------------------ the run

/// Everything measured with the server up; the sockets and sessions are closed at the end.
async fn measure(
    settings: &Settings,
    stores: &stores::Stores,
    mongo: Option<&Mutex<ThrowawayServer>>,
    server: &server::Server,
    pairs: &[Pair],
    users: Vec<Account>,
) -> Result<(Vec<Row>, Memory)> {
    let http = Http::new(&server.url, settings.concurrency);
    stores.wait_for_outbox().await?;
    let users = login_all(&http, users).await?;
    let bench = Bench {
        http: http.clone(),
        users: &users,
        pairs,
        settings,
        server,
        stores,
        mongo,
    };
    let mut rows = Vec::new();
    for with_ids in [true, false] {
        rows.push(bench.baseline(with_ids).await?);
        log(&rows[rows.len() - 1].summary());
    }

    let memory_before = settle_rss(server).await;
    let fleet = Fleet::open(server.port, &users, settings.concurrency).await?;
    let memory_open = settle_rss(server).await;
    let per_socket = (memory_open as f64 - memory_before as f64) / users.len() as f64;
    rows.push(Row {
        scenario: format!("d. memory per open socket ({} sockets)", users.len()),
        msgs: users.len(),
        rss_per_socket_kib: Some(per_socket),
        note: format!(
            "server VmRSS {:.1} MiB before, {:.1} MiB with all open",
            memory_before as f64 / 1024.0,
            memory_open as f64 / 1024.0
        ),
        ..Row::default()
    });
    log(&rows[rows.len() - 1].summary());
    for over_sockets in [false, true] {
        rows.push(bench.with_sockets(&fleet, over_sockets).await?);
        log(&rows[rows.len() - 1].summary());
    }
    let memory_busy = server.rss_kib();
    rows.push(bench.history().await?);
    log(&rows[rows.len() - 1].summary());
    for lookup in [false, true] {
        rows.push(raw_mongo::run(&bench, lookup).await?);
        log(&rows[rows.len() - 1].summary());
    }
    let (lagged, dropped) = (
        fleet.inbox.lagged.load(Ordering::Relaxed),
        fleet.inbox.dropped.load(Ordering::Relaxed),
    );
    fleet.close().await;
    stream::iter(&users)
        .for_each_concurrent(settings.concurrency, |u| http.logout(&u.token))
        .await;
    Ok((
        rows,
        Memory {
            before: memory_before,
            open: memory_open,
            busy: memory_busy,
            lagged,
            dropped,
        },
    ))
}

/// What the sockets cost and how they fared.
struct Memory {
    before: u64,
    open: u64,
    busy: u64,
    lagged: usize,
    dropped: usize,
}

/// The server's RSS once it has been still for a second (sockets opening settle their buffers).
async fn settle_rss(server: &server::Server) -> u64 {
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.rss_kib()
}

impl Row {
    fn summary(&self) -> String {
        match self.rss_per_socket_kib {
            Some(kib) => format!("{}: {kib:.1} KiB per socket; {}", self.scenario, self.note),
            None => format!(
                "{}: {} in {:.1} s = {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, lost {}, duplicated {}, errors {}",
                self.scenario,
                self.msgs,
                self.seconds,
                self.rate,
                self.p50_ms,
                self.p99_ms,
                self.lost.map_or("-".into(), |n| n.to_string()),
                self.duplicated.map_or("-".into(), |n| n.to_string()),
                self.errors
            ),
        }
    }
}

// ------------------------------------------------------------------------------ report

fn git_commit(root: &std::path::Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    git(&["rev-parse", "--short", "HEAD"]) + if dirty { "-dirty" } else { "" }
}

fn print_report(settings: &Settings, stores: &stores::Stores, rows: &[Row], memory: &Memory) {
    let limits: Vec<String> = SERVER_SETTINGS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!(
        "\nHealthSync chat benchmark: release server on {} ({} sockets, concurrency {}, {} messages per scenario)",
        stores.database, settings.sockets, settings.concurrency, settings.messages
    );
    println!(
        "server settings raised for the bench: {}",
        limits.join(", ")
    );
    println!(
        "MongoDB: {} ({})\n",
        if settings.private_mongo {
            "a server of the bench's own"
        } else {
            "the stack's server"
        },
        stores.mongo_uri
    );
    println!("| scenario | msgs | seconds | msg/s | p50 ms | p99 ms | lost | duplicated | errors | note |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let dash = |v: Option<usize>| v.map_or("-".into(), |n| n.to_string());
    for r in rows {
        if let Some(kib) = r.rss_per_socket_kib {
            println!(
                "| {} | {} | | | | | | | | **{kib:.1} KiB per socket**; {} |",
                r.scenario, r.msgs, r.note
            );
            continue;
        }
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {} | {} | {} | {} |",
            r.scenario,
            r.msgs,
            r.seconds,
            r.rate,
            r.p50_ms,
            r.p99_ms,
            dash(r.lost),
            dash(r.duplicated),
            r.errors,
            r.note
        );
    }
    println!(
        "\nwhere the CPU went (cores busy; the machine has {}):",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| scenario | {} |", cpu::PARTS.join(" | "));
    println!("|---|{}", "---:|".repeat(cpu::PARTS.len()));
    for r in rows {
        if let Some(cores) = r.cores {
            let cells: Vec<String> = cores.iter().map(|c| format!("{c:.2}")).collect();
            println!("| {} | {} |", r.scenario, cells.join(" | "));
        }
    }
    println!(
        "\nsockets: {} `lagged` frames, {} sockets dropped by the server; server RSS {:.1} MiB \
         before the sockets, {:.1} MiB with them open, {:.1} MiB after scenarios b and c",
        memory.lagged,
        memory.dropped,
        memory.before as f64 / 1024.0,
        memory.open as f64 / 1024.0,
        memory.busy as f64 / 1024.0
    );
    print_bounds(rows);
}

/// How the chat's send rates compare with what MongoDB allows by itself.
fn print_bounds(rows: &[Row]) {
    let rate = |prefix: &str| {
        rows.iter()
            .find(|r| r.scenario.starts_with(prefix))
            .map_or(0.0, |r| r.rate)
    };
    let (insert, lookup) = (rate("e. raw MongoDB: insert"), rate("e. raw MongoDB: find"));
    println!("\nMongoDB bound: a send does a find by clientKey and an insert (then the audit relay ships its event):");
    for (name, prefix) in [
        ("a (REST, no sockets)", "a."),
        ("a2 (REST, no client id)", "a2."),
        ("b (REST, sockets open)", "b."),
        ("c (socket frames)", "c."),
    ] {
        println!(
            "  {name:<24} {:>6.0} msg/s = {:>5.1}% of raw inserts ({insert:.0}/s), {:>5.1}% of find+insert ({lookup:.0}/s)",
            rate(prefix),
            100.0 * rate(prefix) / insert.max(1e-9),
            100.0 * rate(prefix) / lookup.max(1e-9)
        );
    }
}

/// Appends the run's rows to `bench/results/chat.json` (a JSON array).
fn append_results(settings: &Settings, rows: &[Row]) -> Result<PathBuf> {
    let path = settings.root.join("bench/results/chat.json");
    let mut history: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let commit = git_commit(&settings.root);
    let round = |v: f64, digits: i32| (v * 10f64.powi(digits)).round() / 10f64.powi(digits);
    for r in rows {
        history.push(json!({
            "date": date, "commit": commit, "scenario": r.scenario,
            "msgs": r.msgs, "seconds": round(r.seconds, 2), "rate": round(r.rate, 1),
            "p50_ms": round(r.p50_ms, 2), "p99_ms": round(r.p99_ms, 2),
            "lost": r.lost, "duplicated": r.duplicated, "errors": r.errors,
            "rss_per_socket_kib": r.rss_per_socket_kib.map(|v| round(v, 1)),
            "cores": r.cores.map(|c| cpu::PARTS.iter().zip(c).map(|(k, v)| (k.to_string(), json!(round(v, 2)))).collect::<serde_json::Map<_, _>>()),
            "sockets": settings.sockets, "concurrency": settings.concurrency,
            "database": settings.database(), "note": r.note, "run_note": settings.note,
        }));
    }
    std::fs::create_dir_all(path.parent().context("results directory")?)?;
    std::fs::write(&path, serde_json::to_string_pretty(&history)? + "\n")?;
    Ok(path)
}

#[tokio::main]
async fn main() -> Result<()> {
    let settings = Settings::from_env();
    if !settings.bin.exists() {
        bail!(
            "{} is missing: cargo build --release -p api-http --bin healthsync",
            settings.bin.display()
        );
    }
    // Killed (and its data removed) when dropped, at the end of main.
    let private_mongo = settings.private_mongo.then(|| {
        log("starting a MongoDB-protocol server for the bench alone (BENCH_MONGO=stack uses the stack's)");
        Mutex::new(ThrowawayServer::start(Kind::Mongo))
    });
    let mongo_uri = private_mongo.as_ref().map(|m| m.lock().unwrap().url());
    let stores = stores::Stores::connect(&settings, mongo_uri)?;
    stores.ensure_seeded(&settings).await?;
    let (pairs, users) = pick_conversations(stores.open_appointments().await?, settings.sockets)?;
    log(&format!(
        "{} conversations, {} users ({} doctors)",
        pairs.len(),
        users.len(),
        users.len() - pairs.len()
    ));
    stores.reset_chat().await?;
    let mut server = server::Server::start(&settings, &stores).await?;
    let outcome = measure(
        &settings,
        &stores,
        private_mongo.as_ref(),
        &server,
        &pairs,
        users,
    )
    .await;
    let warnings = server.warnings();
    server.stop();
    // A failed clean-up is only reported: the next run starts with one anyway.
    if let Err(e) = stores.reset_chat().await {
        log(&format!("clean-up of the chat data failed: {e:#}"));
    }
    if let Err(e) = stores.clear_redis(&server.redis_prefix).await {
        log(&format!("clean-up of the Redis keys failed: {e:#}"));
    }
    let (rows, memory) = outcome?;
    print_report(&settings, &stores, &rows, &memory);
    if warnings.is_empty() {
        let _ = std::fs::remove_file(&server.log);
    } else {
        println!("\nthe server logged (kept in {}):", server.log.display());
        for (message, n) in &warnings {
            println!("  {n} x {message}");
        }
    }
    let path = append_results(&settings, &rows)?;
    log(&format!("results appended to {}", path.display()));
    Ok(())
}
