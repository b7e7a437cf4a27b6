//! HTTP helpers for tests: accounts of each role, logins, JSON requests.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::TestApp;

/// The password every test account uses.
pub const PASSWORD: &str = "correct-horse-42";

/// A logged-in user of some role.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    pub token: String,
    /// The patient or doctor id, for those roles.
    pub profile_id: Option<String>,
}

impl TestApp {
    /// Sends `body` (if any) as JSON with an optional bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    /// Sends and returns (status, JSON body or Null).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let response = self.call(method, path, token, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn login(&self, email: &str, password: &str) -> (u16, Value) {
        self.json(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": email, "password": password })),
        )
        .await
    }

    async fn logged_in(&self, email: &str, user_id: String, profile_id: Option<String>) -> Account {
        let (status, body) = self.login(email, PASSWORD).await;
        assert_eq!(status, 200, "login of {email}: {body}");
        Account {
            user_id,
            email: email.to_owned(),
            token: body["accessToken"].as_str().unwrap().to_owned(),
            profile_id,
        }
    }

    /// Logs `account` in again (a new session and token), e.g. after a test moved the clock
    /// past the session's lifetime.
    pub async fn relogin(&self, account: &mut Account) {
        let fresh = self
            .logged_in(
                &account.email,
                account.user_id.clone(),
                account.profile_id.clone(),
            )
            .await;
        account.token = fresh.token;
    }

    /// The first admin, created the way `healthsync create-admin` does, then logged in.
    pub async fn admin(&self) -> Account {
        use domain::identity::{Email, Password};
        let email = format!("admin-{}@clinic.test", crate::unique_id());
        let account = api_http::admin::first_admin(
            Email::parse(&email).unwrap(),
            Password::parse(PASSWORD, "p").unwrap(),
            "Admin".into(),
        );
        let user = api_http::admin::create_admin(&self.config, account)
            .await
            .expect("admin created");
        self.logged_in(&email, user.id.to_string(), None).await
    }

    /// A self-registered patient, logged in.
    pub async fn patient(&self) -> Account {
        let email = format!("patient-{}@mail.test", crate::unique_id());
        let (status, body) = self
            .json(
                Method::POST,
                "/auth/register",
                None,
                Some(json!({ "email": email, "password": PASSWORD, "name": "Pat Ient" })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let mut account = self
            .logged_in(&email, body["id"].as_str().unwrap().to_owned(), None)
            .await;
        let (_, me) = self
            .json(Method::GET, "/patients/me", Some(&account.token), None)
            .await;
        account.profile_id = me["id"].as_str().map(str::to_owned);
        account
    }

    /// A staff account created by `admin`, logged in. Doctors get a profile.
    pub async fn staff(&self, admin: &Account, role: &str) -> Account {
        let email = format!("{}-{}@clinic.test", role.to_lowercase(), crate::unique_id());
        let mut body = json!({ "email": email, "password": PASSWORD, "name": format!("{role} One"), "role": role });
        if role == "DOCTOR" {
            body["doctor"] = json!({
                "specialization": "Cardiology", "qualification": "MD", "experienceYears": 7,
                "licenseNumber": format!("LIC-{}", crate::unique_id()), "consultationFee": "80.50",
            });
        }
        let (status, created) = self
            .json(Method::POST, "/users", Some(&admin.token), Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        let user_id = created["id"].as_str().unwrap().to_owned();
        let profile_id = if role == "DOCTOR" {
            // Staff see a doctor's user id; the public view leaves it out.
            let (_, page) = self
                .json(
                    Method::GET,
                    "/doctors?perPage=100",
                    Some(&admin.token),
                    None,
                )
                .await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["userId"] == user_id.as_str())
                .map(|d| d["id"].as_str().unwrap().to_owned())
        } else {
            None
        };
        self.logged_in(&email, user_id, profile_id).await
    }

    /// Runs the audit relay's step until every outbox event is in MongoDB (retrying while
    /// MongoDB is unreachable), rather than waiting for the relay job's next run.
    pub async fn wait_for_audit_shipped(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let _ = api_http::jobs::relay_audit_once(&self.app).await;
            let pending = domain::audit::AuditOutbox::pending(&adapters_postgres::PgAuditOutbox {
                pool: self.app.pg.clone(),
            })
            .await
            .unwrap();
            if pending == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{pending} audit events still pending"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// A date `days_ahead` from today (UTC, the tests' clinic zone) and its schedule weekday.
pub fn day_ahead(days_ahead: i64) -> (chrono::NaiveDate, &'static str) {
    use chrono::Datelike;
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead);
    let day = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
        [date.weekday().num_days_from_monday() as usize];
    (date, day)
}

impl TestApp {
    /// Adds a schedule for `doctor` on the weekday of `date`; returns the schedule id.
    pub async fn schedule(
        &self,
        admin: &Account,
        doctor: &str,
        day: &str,
        start: &str,
        end: &str,
        minutes: u32,
    ) -> String {
        let (status, body) = self
            .json(
                Method::POST,
                &format!("/doctors/{doctor}/schedules"),
                Some(&admin.token),
                Some(json!({ "dayOfWeek": day, "startTime": start, "endTime": end, "slotDurationMinutes": minutes })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Free slot ids of `doctor` on `date`, soonest first.
    pub async fn free_slots(&self, doctor: &str, date: chrono::NaiveDate) -> Vec<String> {
        let (status, body) = self
            .json(
                Method::GET,
                &format!("/doctors/{doctor}/slots?date={date}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Inserts `n` patients straight into the database (no Argon2, no HTTP): for load tests.
    pub async fn seed_patients(&self, n: usize) -> Vec<uuid::Uuid> {
        use diesel_async::RunQueryDsl;
        let mut conn = self.app.pg.get().await.unwrap();
        let tag = crate::unique_id();
        let ids: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::new_v4()).collect();
        for chunk in ids.chunks(500) {
            for id in chunk {
                diesel::sql_query(
                    "WITH u AS (INSERT INTO users (email, password_hash, name, role) VALUES ($1, 'x', 'Seeded', 'PATIENT') RETURNING id)
                     INSERT INTO patients (id, user_id) SELECT $2, id FROM u",
                )
                .bind::<diesel::sql_types::Text, _>(format!("seed-{tag}-{id}@mail.test"))
                .bind::<diesel::sql_types::Uuid, _>(*id)
                .execute(&mut conn)
                .await
                .unwrap();
            }
        }
        ids
    }
}
