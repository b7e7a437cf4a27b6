//! Upload abuse: each bad upload is refused with a clear JSON error, and nothing of it stays
//! behind: no row, no file, no partial file.

use std::time::Duration;

use e2e::clinic::{multipart, pdf, Part};
use e2e::TestApp;
use tokio::io::AsyncWriteExt;

const MAX: u64 = 64 * 1024;

/// (case, file name, declared type, bytes, status, code, field)
type AbuseCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a [u8],
    u16,
    &'a str,
    Option<&'a str>,
);

async fn assert_nothing_left(app: &TestApp, case: &str) {
    assert_eq!(
        app.count_rows("medical_records").await,
        0,
        "{case}: a row was left"
    );
    let files = app.stored_files();
    assert!(files.is_empty(), "{case}: files were left: {files:?}");
}

#[tokio::test]
async fn every_abusive_upload_is_refused_cleanly_with_nothing_left_behind() {
    let app = TestApp::spawn_with(|c| c.upload_max_bytes = MAX).await;
    let v = app.visit("10.00", true).await;
    let token = Some(v.patient.token.as_str());
    let pid = v.patient_id.as_str();

    let exe = [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".as_slice(),
        &[0u8; 500],
    ]
    .concat();
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 300]].concat();
    let mut nul_text = b"looks like text".to_vec();
    nul_text.extend_from_slice(&[0, 0, 0]);
    let oversize = pdf(100_000);
    let far_oversize = pdf(400_000);
    let report = pdf(2_000);

    let table: Vec<AbuseCase> = vec![
        (
            "oversize, streamed past the limit",
            "big.pdf",
            "application/pdf",
            &oversize,
            413,
            "PAYLOAD_TOO_LARGE",
            Some("file"),
        ),
        (
            "oversize, refused from Content-Length",
            "huge.pdf",
            "application/pdf",
            &far_oversize,
            413,
            "PAYLOAD_TOO_LARGE",
            Some("file"),
        ),
        (
            "an executable named .pdf",
            "report.pdf",
            "application/pdf",
            &exe,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            Some("file"),
        ),
        (
            "a PNG declared as PDF",
            "scan.pdf",
            "application/pdf",
            &png,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            Some("file"),
        ),
        (
            "a PDF named .exe",
            "report.exe",
            "application/pdf",
            &report,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            Some("file"),
        ),
        (
            "HTML",
            "x.html",
            "text/html",
            b"<script>alert(1)</script>",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            Some("file"),
        ),
        (
            "binary declared as text",
            "notes.txt",
            "text/plain",
            &nul_text,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            Some("file"),
        ),
        (
            "path traversal",
            "../../etc/passwd",
            "text/plain",
            b"root:x:0:0",
            422,
            "VALIDATION_FAILED",
            Some("file"),
        ),
        (
            "Windows path traversal (quoted-string escaped)",
            "..\\\\..\\\\boot.ini",
            "text/plain",
            b"[boot]",
            422,
            "VALIDATION_FAILED",
            Some("file"),
        ),
        (
            "empty file",
            "empty.pdf",
            "application/pdf",
            b"",
            422,
            "VALIDATION_FAILED",
            Some("file"),
        ),
    ];
    for (case, name, content_type, bytes, status, code, field) in table {
        let (got, body) = app
            .upload(token, pid, "LAB_REPORT", name, content_type, bytes)
            .await;
        assert_eq!(got, status, "{case}: {body}");
        assert_eq!(body["code"], code, "{case}: {body}");
        assert_eq!(body["field"].as_str(), field, "{case}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_nothing_left(&app, case).await;
    }

    // Malformed forms.
    let forms: Vec<(&str, Vec<Part>, u16, Option<&str>)> = vec![
        (
            "no file part",
            vec![Part::text("type", "LAB_REPORT"), Part::text("title", "t")],
            422,
            Some("file"),
        ),
        (
            "no type",
            vec![
                Part::text("title", "t"),
                Part::file("a.pdf", "application/pdf", &report),
            ],
            422,
            Some("type"),
        ),
        (
            "the file first: the error says the file comes last",
            vec![
                Part::file("a.pdf", "application/pdf", &report),
                Part::text("type", "LAB_REPORT"),
                Part::text("title", "t"),
            ],
            422,
            Some("type"),
        ),
        (
            "unknown type",
            vec![
                Part::text("type", "XRAY"),
                Part::text("title", "t"),
                Part::file("a.pdf", "application/pdf", &report),
            ],
            422,
            Some("type"),
        ),
        (
            "blank title",
            vec![
                Part::text("type", "LAB_REPORT"),
                Part::text("title", " "),
                Part::file("a.pdf", "application/pdf", &report),
            ],
            422,
            Some("title"),
        ),
        (
            "a field twice",
            vec![
                Part::text("type", "LAB_REPORT"),
                Part::text("title", "t"),
                Part::text("title", "again"),
                Part::file("a.pdf", "application/pdf", &report),
            ],
            422,
            Some("title"),
        ),
        (
            "a field after the file",
            vec![
                Part::text("type", "LAB_REPORT"),
                Part::text("title", "t"),
                Part::file("a.pdf", "application/pdf", &report),
                Part::text("description", "late"),
            ],
            422,
            Some("file"),
        ),
    ];
    for (case, parts, status, field) in forms {
        let (got, body) = app.upload_parts(token, pid, &parts).await;
        assert_eq!(got, status, "{case}: {body}");
        assert_eq!(body["field"].as_str(), field, "{case}: {body}");
        assert_nothing_left(&app, case).await;
    }
    // Not a form at all.
    let response = app
        .client
        .post(app.url(&format!("/patients/{pid}/medical-records")))
        .bearer_auth(&v.patient.token)
        .json(&serde_json::json!({ "file": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);

    // Interrupted: the client sends half of the body and hangs up.
    let (content_type, body) = multipart(&[
        Part::text("type", "LAB_REPORT"),
        Part::text("title", "t"),
        Part::file("half.pdf", "application/pdf", &pdf(60_000)),
    ]);
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = format!(
        "POST /patients/{pid}/medical-records HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        v.patient.token,
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body[..body.len() / 2]).await.unwrap();
    socket.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.stored_files().len(),
        1,
        "the first half is being streamed into a partial file"
    );
    drop(socket);
    // The server notices the hang-up and discards the partial file.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !app.stored_files().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_nothing_left(&app, "interrupted upload").await;

    // After all that, an honest upload still works, its odd name made safe.
    let (status, ok) = app
        .upload(
            token,
            pid,
            "LAB_REPORT",
            "lab <1>.txt",
            "text/plain; charset=utf-8",
            "Hb 13.5 g/dL\n".as_bytes(),
        )
        .await;
    assert_eq!(status, 201, "{ok}");
    assert_eq!(ok["fileName"], "lab _1_.txt");
    assert_eq!(ok["contentType"], "text/plain");
    assert_eq!(app.stored_files().len(), 1);
}

#[tokio::test]
async fn an_upload_whose_row_cannot_be_written_leaves_no_file() {
    let app = TestApp::spawn().await;
    let v = app.visit("10.00", true).await;
    // Failure injection: the database refuses every new record after the bytes are stored.
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.app.pg.get().await.unwrap();
        diesel::sql_query(
            "CREATE FUNCTION refuse_records() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'disk full (injected)'; END $$",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        diesel::sql_query(
            "CREATE TRIGGER refuse_records BEFORE INSERT ON medical_records
             FOR EACH ROW EXECUTE FUNCTION refuse_records()",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let (status, body) = app
        .upload(
            Some(&v.doctor.token),
            &v.patient_id,
            "LAB_REPORT",
            "r.pdf",
            "application/pdf",
            &pdf(100_000),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], "INTERNAL");
    assert!(
        !body.to_string().contains("injected"),
        "no database message leaks: {body}"
    );
    assert_nothing_left(&app, "row insert failed").await;
    // The rolled-back insert left no audit event either.
    app.wait_for_audit_shipped().await;
    let (_, log) = app
        .json(
            reqwest::Method::GET,
            "/audit-logs?entity=medical_record",
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!(log["total"], 0, "{log}");
}

#[tokio::test]
async fn a_stalled_upload_is_abandoned_with_408_and_nothing_left() {
    let app = TestApp::spawn_with(|c| c.upload_idle_timeout_secs = 1).await;
    let v = app.visit("10.00", true).await;
    let (content_type, body) = multipart(&[
        Part::text("type", "LAB_REPORT"),
        Part::text("title", "t"),
        Part::file("slow.pdf", "application/pdf", &pdf(60_000)),
    ]);
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = format!(
        "POST /patients/{}/medical-records HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        v.patient_id,
        v.patient.token,
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body[..body.len() / 2]).await.unwrap();
    // ... and then nothing, with the connection left open.
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut socket, &mut answer),
    )
    .await
    .expect("the server answers a stalled upload")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("UPLOAD_STALLED"), "{answer}");
    assert_nothing_left(&app, "stalled upload").await;
}

/// A file store that takes the bytes and then cannot keep them (a bucket gone read-only):
/// injected into the real app through `Ports`, in place of the configured store.
struct StoreThatFailsOnFinish;

struct FailingWriter;

#[async_trait::async_trait]
impl domain::medical_records::FileWriter for FailingWriter {
    async fn write(&mut self, _chunk: &[u8]) -> Result<(), domain::error::DomainError> {
        Ok(())
    }
    async fn finish(self: Box<Self>) -> Result<(), domain::error::DomainError> {
        Err(domain::error::DomainError::Unavailable("file store"))
    }
    async fn abort(self: Box<Self>) {}
}

#[async_trait::async_trait]
impl domain::medical_records::FileStore for StoreThatFailsOnFinish {
    async fn create(
        &self,
        _key: &str,
    ) -> Result<Box<dyn domain::medical_records::FileWriter>, domain::error::DomainError> {
        Ok(Box::new(FailingWriter))
    }
    async fn open(
        &self,
        _key: &str,
    ) -> Result<domain::medical_records::ByteStream, domain::error::DomainError> {
        Err(domain::error::DomainError::NotFound("file"))
    }
    async fn delete(&self, _key: &str) -> Result<(), domain::error::DomainError> {
        Ok(())
    }
}

#[tokio::test]
async fn an_upload_the_file_store_cannot_keep_is_503_with_no_row() {
    let ports = api_http::state::Ports {
        file_store: Some(std::sync::Arc::new(StoreThatFailsOnFinish)),
        ..Default::default()
    };
    let app = TestApp::spawn_with_ports(|_| {}, ports).await;
    let v = app.visit("10.00", true).await;
    let (status, body) = app
        .upload(
            Some(&v.doctor.token),
            &v.patient_id,
            "LAB_REPORT",
            "r.pdf",
            "application/pdf",
            &pdf(10_000),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        app.count_rows("medical_records").await,
        0,
        "no row for a file that was not kept"
    );
    assert!(
        app.stored_files().is_empty(),
        "the configured store was not used"
    );
}
