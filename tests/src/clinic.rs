//! Helpers for clinical tests: a visit under way, multipart uploads, files on disk.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{day_ahead, Account};
use crate::TestApp;

/// A clinic with one visit: the admin, a doctor, a receptionist, the patient and its
/// appointment (booked by the patient, confirmed by the desk, started by the doctor when
/// `started`), plus a second patient and doctor who have nothing to do with it.
pub struct Visit {
    pub admin: Account,
    pub doctor: Account,
    pub desk: Account,
    pub patient: Account,
    pub other_patient: Account,
    pub other_doctor: Account,
    pub appointment_id: String,
    pub patient_id: String,
    pub doctor_id: String,
}

impl TestApp {
    /// Sets up a [`Visit`] with the doctor's fee at `fee`.
    pub async fn visit(&self, fee: &str, started: bool) -> Visit {
        let admin = self.admin().await;
        let doctor = self.staff(&admin, "DOCTOR").await;
        let desk = self.staff(&admin, "RECEPTIONIST").await;
        let other_doctor = self.staff(&admin, "DOCTOR").await;
        let patient = self.patient().await;
        let other_patient = self.patient().await;
        let doctor_id = doctor.profile_id.clone().unwrap();
        let (status, body) = self
            .json(
                Method::PATCH,
                &format!("/doctors/{doctor_id}"),
                Some(&admin.token),
                Some(json!({ "consultationFee": fee })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (date, day) = day_ahead(2);
        self.schedule(&admin, &doctor_id, day, "09:00", "12:00", 30)
            .await;
        let slot = self.free_slots(&doctor_id, date).await.remove(0);
        let (status, booked) = self
            .json(
                Method::POST,
                "/appointments",
                Some(&patient.token),
                Some(json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "Ear ache" })),
            )
            .await;
        assert_eq!(status, 201, "{booked}");
        let appointment_id = booked["id"].as_str().unwrap().to_owned();
        let visit = Visit {
            patient_id: patient.profile_id.clone().unwrap(),
            admin,
            doctor,
            desk,
            patient,
            other_patient,
            other_doctor,
            appointment_id,
            doctor_id,
        };
        self.step(&visit.desk, &visit.appointment_id, "confirm", 200)
            .await;
        if started {
            self.step(&visit.doctor, &visit.appointment_id, "start", 200)
                .await;
        }
        visit
    }

    /// Books `slot` for a consultation as the bearer of `token` (staff name the patient).
    pub async fn book(&self, token: &str, slot: &str, patient_id: Option<&str>) -> (u16, Value) {
        let mut body = json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "Check-up" });
        if let Some(id) = patient_id {
            body["patientId"] = json!(id);
        }
        self.json(Method::POST, "/appointments", Some(token), Some(body))
            .await
    }

    /// `POST /appointments/{id}/{action}` as `who`, expecting `status`.
    pub async fn step(&self, who: &Account, appointment: &str, action: &str, status: u16) -> Value {
        let (got, body) = self
            .json(
                Method::POST,
                &format!("/appointments/{appointment}/{action}"),
                Some(&who.token),
                None,
            )
            .await;
        assert_eq!(got, status, "{action}: {body}");
        body
    }

    /// The patient pays its (first) bill by card, as the patient; returns the bill's id.
    pub async fn pay_own_bill(&self, patient: &Account) -> String {
        let (_, bills) = self
            .json(Method::GET, "/billings", Some(&patient.token), None)
            .await;
        let bill_id = bills["items"][0]["id"].as_str().unwrap().to_owned();
        let (status, body) = self
            .json(
                Method::POST,
                &format!("/billings/{bill_id}/pay"),
                Some(&patient.token),
                Some(json!({ "paymentMethod": "CARD" })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        bill_id
    }

    /// A prescription with one item, as `who`.
    pub async fn prescribe(&self, who: &Account, appointment: &str) -> (u16, Value) {
        self.json(
            Method::POST,
            &format!("/appointments/{appointment}/prescription"),
            Some(&who.token),
            Some(json!({
                "diagnosis": "Otitis media",
                "items": [
                    { "medicineName": "Amoxicillin", "dosage": "500 mg", "frequency": "3 times a day", "duration": "7 days" },
                    { "medicineName": "Ibuprofen", "dosage": "200 mg", "frequency": "as needed", "duration": "3 days", "instructions": "with food" }
                ]
            })),
        )
        .await
    }

    /// Uploads one file to `patient`'s records as `token`, with the given form.
    pub async fn upload(
        &self,
        token: Option<&str>,
        patient: &str,
        kind: &str,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> (u16, Value) {
        let parts = [
            Part::text("type", kind),
            Part::text("title", "Blood panel"),
            Part::file(file_name, content_type, bytes),
        ];
        self.upload_parts(token, patient, &parts).await
    }

    pub async fn upload_parts(
        &self,
        token: Option<&str>,
        patient: &str,
        parts: &[Part<'_>],
    ) -> (u16, Value) {
        let (content_type, body) = multipart(parts);
        let mut request = self
            .client
            .post(self.url(&format!("/patients/{patient}/medical-records")))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Regular files under the test's file store (finished or partial).
    pub fn stored_files(&self) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(std::path::Path::new(&self.config.file_store_dir), &mut out);
        out
    }

    /// The ids of the bearer's notifications (first page), to tell them from new ones on a
    /// live stream.
    pub async fn notification_ids(&self, token: &str) -> Vec<String> {
        let (_, page) = self
            .json(Method::GET, "/notifications", Some(token), None)
            .await;
        page["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|n| n["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The roll-up's rows (folded and not) that differ from the raw aggregation of the tables, as
    /// text: empty when the roll-up is exact. Rows of nothing but zeros count as absent.
    pub async fn rollup_differences(&self) -> Vec<String> {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            row: String,
        }
        const DIFF: &str = r#"
            WITH kept AS (
                SELECT day, doctor_id, sum(scheduled) AS scheduled, sum(confirmed) AS confirmed,
                       sum(in_progress) AS in_progress, sum(completed) AS completed,
                       sum(cancelled) AS cancelled, sum(slots) AS slots,
                       sum(slots_taken) AS slots_taken, sum(paid) AS paid, sum(pending) AS pending,
                       sum(overdue) AS overdue, sum(refunded) AS refunded, sum(no_show) AS no_show
                FROM (SELECT * FROM analytics_daily UNION ALL SELECT * FROM analytics_daily_changes) x
                GROUP BY day, doctor_id
            ), raw AS (
                SELECT * FROM analytics_raw_daily((SELECT zone FROM analytics_settings))
            ), nonzero_kept AS (
                SELECT * FROM kept WHERE (scheduled, confirmed, in_progress, completed, cancelled, slots,
                    slots_taken, paid, pending, overdue, refunded, no_show)
                    <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            ), lead_kept AS (
                SELECT day, hours, sum(appointments) AS appointments
                FROM (SELECT * FROM analytics_lead_hours
                      UNION ALL SELECT * FROM analytics_lead_hours_changes) x
                GROUP BY day, hours HAVING sum(appointments) <> 0
            ), lead_raw AS (
                SELECT * FROM analytics_raw_lead_hours((SELECT zone FROM analytics_settings))
            )
            SELECT 'kept only: ' || k::text AS row
            FROM (SELECT * FROM nonzero_kept EXCEPT SELECT * FROM raw) k
            UNION ALL
            SELECT 'raw only: ' || r::text FROM (SELECT * FROM raw EXCEPT SELECT * FROM nonzero_kept) r
            UNION ALL
            SELECT 'lead kept only: ' || l::text
            FROM (SELECT * FROM lead_kept EXCEPT SELECT * FROM lead_raw) l
            UNION ALL
            SELECT 'lead raw only: ' || l::text
            FROM (SELECT * FROM lead_raw EXCEPT SELECT * FROM lead_kept) l
        "#;
        let mut conn = self.app.pg.get().await.unwrap();
        diesel::sql_query(DIFF)
            .load::<Row>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.row)
            .collect()
    }

    /// `SELECT count(*)` of a table.
    pub async fn count_rows(&self, table: &str) -> i64 {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.app.pg.get().await.unwrap();
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<N>(&mut conn)
            .await
            .unwrap()
            .n
    }
}

/// One part of a multipart form.
pub struct Part<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

impl<'a> Part<'a> {
    pub fn text(name: &'a str, value: &'a str) -> Self {
        Self {
            name,
            file_name: None,
            content_type: None,
            body: value.as_bytes(),
        }
    }

    pub fn file(file_name: &'a str, content_type: &'a str, body: &'a [u8]) -> Self {
        Self {
            name: "file",
            file_name: Some(file_name),
            content_type: Some(content_type),
            body,
        }
    }
}

pub const BOUNDARY: &str = "hs-test-boundary-7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body, built by hand so tests control every header byte.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", p.name);
        if let Some(f) = p.file_name {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(p.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// A small but real PDF.
pub fn pdf(size: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.4\n% lab report\n".to_vec();
    let mut i = 0u32;
    while b.len() < size.saturating_sub(6) {
        b.extend_from_slice(format!("{i:08} glucose 5.{} mmol/L\n", i % 10).as_bytes());
        i += 1;
    }
    b.extend_from_slice(b"%%EOF\n");
    b.truncate(size.max(12));
    b
}

/// A client's open live notification stream.
pub struct LiveStream {
    response: reqwest::Response,
    buffer: String,
}

impl TestApp {
    /// Opens `GET /notifications/stream` as `token` (asserting 200 and the SSE content type).
    pub async fn live(&self, token: &str) -> LiveStream {
        let response = self
            .client
            .get(self.url("/notifications/stream"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        LiveStream {
            response,
            buffer: String::new(),
        }
    }
}

impl TestApp {
    /// Opens `GET /notifications/stream?ticket=...` without any header, as a browser's
    /// `EventSource` does; `Err(status)` when refused.
    pub async fn live_with_ticket(&self, ticket: &str) -> Result<LiveStream, u16> {
        let response = self
            .client
            .get(self.url(&format!("/notifications/stream?ticket={ticket}")))
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            return Err(response.status().as_u16());
        }
        Ok(LiveStream {
            response,
            buffer: String::new(),
        })
    }
}

impl LiveStream {
    /// The next event that is not a notification in `known` (ids of notifications committed
    /// before the stream opened: their announcement may still reach it, by design).
    pub async fn next_new_event(&mut self, known: &[String]) -> (String, Value) {
        loop {
            let (event, data) = self.next_event().await;
            let old = event == "notification"
                && data["id"]
                    .as_str()
                    .is_some_and(|id| known.iter().any(|k| k == id));
            if !old {
                return (event, data);
            }
        }
    }

    /// The next event (name and parsed data), skipping keep-alive comments; `("closed", Null)`
    /// when the server ended the stream. Fails after 15 s without one.
    pub async fn next_event(&mut self) -> (String, Value) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.starts_with(':') {
                    continue;
                }
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                        .unwrap_or_default()
                        .to_owned()
                };
                let data = serde_json::from_str(&field("data")).unwrap_or(Value::Null);
                return (field("event"), data);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event within 15 s")
                .expect("stream readable");
            match chunk {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return ("closed".into(), Value::Null),
            }
        }
    }
}
