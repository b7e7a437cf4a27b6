//! A real SMTP server on loopback for the tests that check the emails the service sends:
//! `scripts/test-tools/smtp_sink.py` (aiosmtpd, installed into `.stack/test-venv` by
//! `make test-tools`, or the Python in `HS_TEST_PYTHON`) run as a child process. It accepts
//! every message (optionally refusing the first RCPTs with a temporary `451`) and writes each
//! one, parsed by Python's `email` package, as a JSON file into a temporary directory, which
//! [`SmtpSink::messages`] reads back as [`Mail`]s in arrival order. It can be stopped (its
//! port refuses connections) and started again on the same port.
//!
//! ```ignore
//! let mut sink = SmtpSink::start().await;
//! // point the service at sink.url() (smtp://127.0.0.1:{port}), make it send one email
//! let mails = sink.wait_for(1, Duration::from_secs(10)).await;
//! assert_eq!(mails[0].rcpt_tos, ["patient@example.org"]);
//! assert!(mails[0].text.as_deref().unwrap().contains("confirmed"));
//! let invite = &mails[0].attachments[0];
//! assert_eq!(invite.content_type, "text/calendar");
//! sink.stop().await; // the next sends are refused
//! sink.restart().await; // same port, same messages
//! ```
//!
//! Bodies are as they went over the wire: line endings are CRLF.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the sink gets to print `ready`.
const READY_LIMIT: Duration = Duration::from_secs(20);

/// One message the sink accepted (the JSON `smtp_sink.py` writes).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    /// The envelope sender (`MAIL FROM`), empty for the null sender.
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`) that were accepted.
    pub rcpt_tos: Vec<String>,
    /// The whole message as received (UTF-8, invalid bytes replaced).
    pub raw: String,
    /// The `From:` header, decoded (e.g. `HealthSync <noreply@example.org>`).
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub date: Option<String>,
    /// The top-level headers in order, values decoded.
    pub headers: Vec<(String, String)>,
    /// The text/plain body part, decoded.
    pub text: Option<String>,
    /// The text/html body part, decoded.
    pub html: Option<String>,
    /// Every other leaf part.
    pub attachments: Vec<Attachment>,
}

impl Mail {
    /// The first top-level header called `name` (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A part of a [`Mail`] other than its text and HTML bodies.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub filename: Option<String>,
    /// The MIME type alone (`text/calendar`), without parameters.
    pub content_type: String,
    /// Decoded text for `text/*` parts, else base64.
    pub content: String,
}

/// The running sink (see the module documentation).
pub struct SmtpSink {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl SmtpSink {
    /// A sink accepting every message, on a free loopback port.
    pub async fn start() -> Self {
        Self::start_failing_first(0).await
    }

    /// A sink answering the first `n` RCPT commands `451 4.3.0 try again later` (a temporary
    /// refusal), then accepting.
    pub async fn start_failing_first(n: usize) -> Self {
        let dir = std::env::temp_dir().join(format!("hs_smtp_{}", crate::unique_id()));
        std::fs::create_dir_all(&dir).expect("the sink's directory");
        let mut sink = Self {
            port: 0,
            dir,
            child: None,
        };
        // The port is free when picked but may be taken before the sink binds it: pick again.
        let mut attempts = 0;
        loop {
            sink.port = free_port();
            match sink.launch(n).await {
                Ok(()) => return sink,
                Err(_) if attempts < 3 => attempts += 1,
                Err(e) => panic!(
                    "the SMTP sink did not start (is .stack/test-venv current? \
                     run `make test-tools`): {e}"
                ),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Kills the sink: its port refuses connections until [`SmtpSink::restart`]. The messages
    /// received so far stay readable.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the sink again on the same port, with the same messages, accepting everything
    /// (a `start_failing_first` count is not applied again).
    pub async fn restart(&mut self) {
        self.stop().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch(0).await {
                Ok(()) => return,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "the SMTP sink cannot listen on {} again: {e}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .expect("the sink's directory")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".json") && !name.starts_with('.'))
            .collect();
        names.sort();
        names
            .iter()
            .map(|name| {
                let path = self.dir.join(name);
                let text = std::fs::read_to_string(&path).expect("a message file");
                serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: not a sink message: {e}", path.display()))
            })
            .collect()
    }

    /// Waits (up to `limit`, polling every 50 ms) until at least `n` messages were accepted.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} emails received after {limit:?}: subjects {:?}",
                got.len(),
                got.iter().map(|m| m.subject.as_deref()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Spawns the script on `self.port` and waits for its `ready` line; `Err` (with what it
    /// wrote to stderr) when it exits first, for example because the port is taken.
    async fn launch(&mut self, fail_first: usize) -> Result<(), String> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/test-tools/smtp_sink.py"
        );
        let log_path = self.dir.join("sink.log");
        let log = std::fs::File::create(&log_path).expect("the sink's log");
        let python = python();
        let mut child = Command::new(&python)
            .arg(script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--out")
            .arg(&self.dir)
            .arg("--fail-first")
            .arg(fail_first.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} {script}: {e}"));
        let stdout = child.stdout.take().expect("the sink's stdout");
        let mut lines = BufReader::new(stdout).lines();
        match tokio::time::timeout(READY_LIMIT, lines.next_line()).await {
            Ok(Ok(Some(line))) if line.trim() == "ready" => {
                self.child = Some(child);
                Ok(())
            }
            Ok(other) => {
                let _ = child.kill().await;
                let what = match other {
                    Ok(None) => "it exited before printing `ready`".to_owned(),
                    Ok(Some(line)) => format!("it printed {line:?} instead of `ready`"),
                    Err(e) => format!("its stdout failed: {e}"),
                };
                Err(format!("{what}; stderr:\n{}", read_log(&log_path)))
            }
            Err(_) => {
                let _ = child.kill().await;
                panic!(
                    "the SMTP sink was not ready after {READY_LIMIT:?}; stderr:\n{}",
                    read_log(&log_path)
                )
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The venv's Python (`make test-tools`), or `HS_TEST_PYTHON`.
fn python() -> String {
    std::env::var("HS_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.stack/test-venv/bin/python"
        );
        assert!(
            Path::new(venv).exists(),
            "{venv} is missing: run `make test-tools` (make test does)"
        );
        venv.to_owned()
    })
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
