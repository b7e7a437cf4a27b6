//! Per-test PostgreSQL databases, cloned from a template that is migrated once per set of
//! migrations (its name carries a hash of the migration files), under an advisory lock so
//! parallel test processes build it only once.

use std::hash::{Hash, Hasher};

use diesel::sql_types::{BigInt, Bool};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Lock id for building templates and cloning databases ("hs-tmpl").
const TEMPLATE_LOCK: i64 = 0x68_73_2d_74_6d_70_6c;

/// A database owned by one test. Call [`TestDatabase::drop_now`] or leave it to `TestApp`.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// The URL of the configured server (from `DATABASE_URL`) with another database name.
pub fn url_with_database(base: &str, database: &str) -> String {
    let (main, query) = match base.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (base, None),
    };
    let scheme_end = main.find("://").map_or(0, |i| i + 3);
    let root = match main[scheme_end..].find('/') {
        Some(i) => &main[..scheme_end + i],
        None => main,
    };
    match query {
        Some(q) => format!("{root}/{database}?{q}"),
        None => format!("{root}/{database}"),
    }
}

fn base_url() -> String {
    api_http::Config::from_env().database_url
}

/// A hash of every migration file, so a changed migration gets a new template.
fn migrations_fingerprint() -> u64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.to_string_lossy().hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

async fn admin_connection(admin_url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL for tests ({e}); run `make stack-up`"))
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Exists>(conn)
        .await
        .expect("pg_database query")
        .exists
}

/// Database names are generated here (hex and a fixed prefix), never taken from input, so
/// quoting them as identifiers is safe; PostgreSQL cannot bind identifiers as parameters.
async fn execute(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl TestDatabase {
    /// An empty database (no migrations), for migration tests.
    pub async fn create_empty() -> Self {
        Self::create_from(None).await
    }

    /// A fully migrated database of its own.
    pub async fn create() -> Self {
        let template = ensure_template().await;
        Self::create_from(Some(&template)).await
    }

    async fn create_from(template: Option<&str>) -> Self {
        let base = base_url();
        let admin_url = url_with_database(&base, "postgres");
        let name = format!("hs_test_{}", crate::unique_id());
        let mut conn = admin_connection(&admin_url).await;
        match template {
            Some(t) => {
                // Cloning fails while another session is connected to the template; the lock
                // keeps clones apart from a template being built.
                lock(&mut conn).await;
                execute(
                    &mut conn,
                    &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{t}\""),
                )
                .await;
                unlock(&mut conn).await;
            }
            None => execute(&mut conn, &format!("CREATE DATABASE \"{name}\"")).await,
        }
        Self {
            url: url_with_database(&base, &name),
            name,
            admin_url,
        }
    }

    /// Drops the database, disconnecting whoever is still connected.
    pub async fn drop_now(self) {
        let mut conn = admin_connection(&self.admin_url).await;
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await;
    }

    /// Drops this database and creates it again under the same name, empty, then applies
    /// every migration: what a restored or re-created production database looks like (its
    /// sequences, such as the audit outbox's, start again). Whoever is connected is cut off;
    /// the app's pool replaces those connections on its next checkout.
    pub async fn recreate(&self) {
        let mut conn = admin_connection(&self.admin_url).await;
        execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        )
        .await;
        execute(&mut conn, &format!("CREATE DATABASE \"{}\"", self.name)).await;
        adapters_postgres::migrations::run_pending(&self.url)
            .await
            .expect("migrating the re-created database");
    }

    /// A new connection to this database.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect to the test database")
    }
}

async fn lock(conn: &mut AsyncPgConnection) {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(conn)
        .await
        .expect("advisory lock");
}

async fn unlock(conn: &mut AsyncPgConnection) {
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(conn)
        .await
        .expect("advisory unlock");
}

/// The migrated template's name, building it if this migration set has none yet.
async fn ensure_template() -> String {
    let base = base_url();
    let admin_url = url_with_database(&base, "postgres");
    let name = format!("hs_tmpl_{:016x}", migrations_fingerprint());
    let mut conn = admin_connection(&admin_url).await;
    lock(&mut conn).await;
    if !database_exists(&mut conn, &name).await {
        // Built under another name and renamed when complete, so a run that died half-way
        // never leaves a half-migrated template behind.
        let building = format!("{name}_building");
        execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
        )
        .await;
        execute(&mut conn, &format!("CREATE DATABASE \"{building}\"")).await;
        adapters_postgres::migrations::run_pending(&url_with_database(&base, &building))
            .await
            .expect("migrating the template");
        execute(
            &mut conn,
            &format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
        )
        .await;
    }
    unlock(&mut conn).await;
    name
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            url_with_database("postgres://u:p@h:5432/app?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(url_with_database("postgres://h:1", "x"), "postgres://h:1/x");
    }
}
