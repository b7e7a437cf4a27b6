//! Outgoing email, behind `domain::email::EmailSender`:
//!
//! - [`SmtpSender`]: SMTP through `lettre` (`SMTP_URL`: `smtps://` for TLS from the start,
//!   `smtp://...?tls=required` for STARTTLS, `?tls=opportunistic` for STARTTLS when offered,
//!   plain `smtp://` for a relay on a trusted network; credentials in the URL).
//!   Only a refusal of the recipient (`550`, `551`, `553`) is permanent (the relay gives that
//!   email up); anything else is temporary and retried: no connection, a timeout, a `4xx`, and
//!   also other `5xx` replies (a wrong password or a refused sender is the operator's to fix,
//!   and must not fail every email in the outbox at once). A whole send is bounded by
//!   `EMAIL_TIMEOUT_MS`, so it always ends well within the relay's lease.
//! - [`DirSender`]: without SMTP settings, each email is written as an `.eml` file (what a mail
//!   client opens) into a directory and logged, so a developer running `make run` sees them.
//!
//! Both build the same MIME message ([`message`]): `multipart/alternative` (text, then HTML),
//! inside `multipart/mixed` when there are attachments, with `Message-ID: <id@healthsync>`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::clock::Clock;
use domain::email::{EmailSender, OutgoingEmail, SendFailure};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

fn permanent(message: impl Into<String>) -> SendFailure {
    SendFailure {
        permanent: true,
        message: message.into(),
    }
}

/// The MIME message of `email`, from `from`. A recipient address that is not an address is a
/// permanent failure.
pub fn message(from: &Mailbox, email: &OutgoingEmail) -> Result<Message, SendFailure> {
    let address = email
        .to_email
        .parse()
        .map_err(|e| permanent(format!("recipient address refused: {e}")))?;
    // Names are refused with control characters at the edge; still, a line break here would
    // make lettre panic, so none gets this far.
    let to = Mailbox::new(Some(one_line(&email.to_name)), address);
    let alternative = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    let body =
        if email.attachments.is_empty() {
            alternative
        } else {
            email.attachments.iter().try_fold(
                MultiPart::mixed().multipart(alternative),
                |mixed, a| {
                    let kind = ContentType::parse(&a.content_type)
                        .map_err(|e| permanent(format!("attachment type: {e}")))?;
                    Ok::<_, SendFailure>(mixed.singlepart(
                        Attachment::new(a.filename.clone()).body(a.content.clone(), kind),
                    ))
                },
            )?
        };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(one_line(&email.subject))
        .message_id(Some(format!("<{}@healthsync>", email.id)))
        .multipart(body)
        .map_err(|e| permanent(format!("message refused by the builder: {e}")))
}

/// `text` with every control character (line breaks included) replaced by a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Parses `EMAIL_FROM` (`HealthSync <no-reply@clinic.example>` or a bare address).
pub fn parse_from(raw: &str) -> Result<Mailbox, String> {
    raw.parse::<Mailbox>()
        .map_err(|e| format!("EMAIL_FROM {raw:?} is not an address: {e}"))
}

/// SMTP, with a connection pool.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

/// Whether an SMTP failure is about the recipient itself (retrying cannot help).
fn refuses_recipient(error: &lettre::transport::smtp::Error) -> bool {
    error
        .status()
        .is_some_and(|code| matches!(code.to_string().as_str(), "550" | "551" | "553"))
}

impl SmtpSender {
    /// From `SMTP_URL`; `timeout` bounds a whole send (and each SMTP command).
    pub fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP_URL is not an SMTP URL: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            from,
            timeout,
        })
    }
}

#[async_trait]
impl EmailSender for SmtpSender {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), SendFailure> {
        let message = message(&self.from, email)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(SendFailure {
                permanent: refuses_recipient(&e),
                message: format!("SMTP: {e}"),
            }),
            Err(_) => Err(SendFailure {
                permanent: false,
                message: format!("SMTP: no answer within {} ms", self.timeout.as_millis()),
            }),
        }
    }
}

/// `.eml` files in a directory (made when missing), one per email, named by the clinic's clock
/// and the email's id, so a listing sorts them in the order they were sent.
pub struct DirSender {
    dir: PathBuf,
    from: Mailbox,
    clock: Arc<dyn Clock>,
}

impl DirSender {
    pub fn new(dir: impl Into<PathBuf>, from: Mailbox, clock: Arc<dyn Clock>) -> Self {
        Self {
            dir: dir.into(),
            from,
            clock,
        }
    }
}

#[async_trait]
impl EmailSender for DirSender {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), SendFailure> {
        let message = message(&self.from, email)?;
        let temporary = |e: std::io::Error| SendFailure {
            permanent: false,
            message: format!("cannot write to {}: {e}", self.dir.display()),
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(temporary)?;
        let name = format!(
            "{}-{}.eml",
            self.clock.now().format("%Y%m%dT%H%M%S%.3fZ"),
            email.id
        );
        let path = self.dir.join(name);
        tokio::fs::write(&path, message.formatted())
            .await
            .map_err(temporary)?;
        tracing::info!(
            to = %email.to_email,
            subject = %email.subject,
            path = %path.display(),
            "email written to a file (no SMTP_URL configured)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::email::Attachment as File;

    fn email(attachments: Vec<File>) -> OutgoingEmail {
        OutgoingEmail {
            id: uuid::Uuid::from_u128(42),
            to_email: "ann@example.org".into(),
            to_name: "Ann O'Neil, Jr.".into(),
            subject: "Appointment booked: Tue 1 Dec, 09:00".into(),
            text: "Hello Ann,\n.\nBye".into(),
            html: "<p>Hello Ann</p>".into(),
            attachments,
        }
    }

    fn from() -> Mailbox {
        parse_from("HealthSync <no-reply@clinic.example>").unwrap()
    }

    #[test]
    fn text_and_html_with_the_calendar_file_and_a_stable_message_id() {
        let raw = String::from_utf8(
            message(
                &from(),
                &email(vec![File {
                    filename: "appointment.ics".into(),
                    content_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
                    content: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into(),
                }]),
            )
            .unwrap()
            .formatted(),
        )
        .unwrap();
        assert!(raw.contains("Message-ID: <00000000-0000-0000-0000-00000000002a@healthsync>"));
        assert!(raw.contains("multipart/mixed"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/calendar"));
        assert!(raw.contains("filename=\"appointment.ics\""));
        // The display name is quoted, so its comma is not a second recipient.
        // The display name's comma travels inside an encoded word, so it is not a second
        // recipient.
        let to = raw.lines().find(|l| l.starts_with("To: ")).unwrap();
        assert_eq!(to, "To: =?utf-8?b?QW5uIE8nTmVpbCwgSnIu?= <ann@example.org>");
    }

    #[test]
    fn a_line_break_in_a_name_or_subject_adds_no_header() {
        let mut sneaky = email(Vec::new());
        sneaky.to_name = "Ann\r\nBcc: thief@example.org".into();
        sneaky.subject = "Hello\r\nBcc: thief@example.org".into();
        let raw = String::from_utf8(message(&from(), &sneaky).unwrap().formatted()).unwrap();
        assert!(
            !raw.lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{raw}"
        );
    }

    #[test]
    fn a_bad_recipient_address_is_permanent() {
        let mut bad = email(Vec::new());
        bad.to_email = "not an address".into();
        assert!(message(&from(), &bad).unwrap_err().permanent);
        assert!(parse_from("nobody").is_err());
    }

    #[tokio::test]
    async fn without_smtp_the_email_is_a_file() {
        let dir = std::env::temp_dir().join(format!("hs_mail_{}", uuid::Uuid::new_v4().simple()));
        DirSender::new(&dir, from(), Arc::new(domain::clock::SystemClock))
            .send(&email(Vec::new()))
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        let body = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(body.contains("Subject: Appointment booked"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
