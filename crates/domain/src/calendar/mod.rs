//! A doctor's calendar feed: a secret URL any calendar application can subscribe to, serving
//! the doctor's appointments (the past 30 days to the slot horizon) as iCalendar.
//!
//! - **The URL is the credential.** Its token is shown once, when the doctor creates or
//!   rotates the feed; only its SHA-256 is stored, so a database dump reveals no working URL,
//!   and request logs show the path with `{token}` in its place. Rotating replaces it and
//!   revoking deletes it: the old URL answers 404 at once, as does a deactivated doctor's.
//! - **Privacy.** An event says "Appointment", the visit's type and status. The patient's name
//!   appears only when the doctor opts in (calendar apps sync to phones and third parties);
//!   the reason for the visit, notes and anything clinical never do.
//! - **Time.** Events are written in the clinic's zone (`TZID`) with a `VTIMEZONE` listing the
//!   zone's real transitions over the feed's span, so times stay right across DST changes.
//! - **Stable UIDs** (`<appointment id>@healthsync`): a moved visit updates its event, and a
//!   cancelled one stays in the feed as `STATUS:CANCELLED`, so clients remove it.

pub mod ics;
pub mod service;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::appointments::{AppointmentStatus, AppointmentType};
use crate::audit::AuditEvent;
use crate::error::DomainError;

pub use service::CalendarFeedService;

/// How far back the feed reaches.
pub const PAST_DAYS: i64 = 30;

/// A doctor's feed, as its management endpoints show it (never with the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFeed {
    pub doctor_id: Uuid,
    pub include_patient_names: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CalendarFeed {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({ "doctorId": self.doctor_id, "includePatientNames": self.include_patient_names })
    }
}

/// A feed's secret: `hscal_` and 64 hex digits of the operating system's randomness.
#[derive(Clone, PartialEq, Eq)]
pub struct FeedToken(pub String);

impl FeedToken {
    pub fn generate() -> Self {
        Self(format!(
            "hscal_{}{}",
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple()
        ))
    }

    /// What is stored and looked up: the token's SHA-256, in hex.
    pub fn hash(token: &str) -> String {
        Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `raw` could be a token at all (so junk is refused without a database read).
    pub fn looks_valid(raw: &str) -> bool {
        raw.len() == 70
            && raw.starts_with("hscal_")
            && raw[6..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }
}

impl std::fmt::Debug for FeedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedToken(..)")
    }
}

/// Whose feed a token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedOwner {
    pub doctor_id: Uuid,
    pub doctor_name: String,
    pub include_patient_names: bool,
}

/// One appointment as the feed shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub id: Uuid,
    pub kind: AppointmentType,
    pub status: AppointmentStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub patient_name: String,
}

/// Where feeds are kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CalendarFeedRepository: Send + Sync {
    /// Creates the doctor's feed, or replaces its token (and choice) when it has one, with the
    /// audit event, in one transaction.
    async fn save(
        &self,
        feed: CalendarFeed,
        token_hash: String,
        event: AuditEvent,
    ) -> Result<(), DomainError>;

    /// `NotFound("calendar feed")` when the doctor has none.
    async fn get(&self, doctor_id: Uuid) -> Result<CalendarFeed, DomainError>;

    /// `NotFound("calendar feed")` when the doctor has none.
    async fn delete(&self, doctor_id: Uuid, event: AuditEvent) -> Result<(), DomainError>;

    /// The feed a token hash opens, if any.
    async fn owner(&self, token_hash: &str) -> Result<Option<FeedOwner>, DomainError>;

    /// The doctor's appointments starting in `[from, to)`, soonest first.
    async fn items(
        &self,
        doctor_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FeedItem>, DomainError>;
}

fn kind_label(kind: AppointmentType) -> &'static str {
    match kind {
        AppointmentType::Consultation => "Consultation",
        AppointmentType::FollowUp => "Follow-up",
        AppointmentType::Emergency => "Emergency",
    }
}

fn status_label(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Scheduled => "Scheduled",
        AppointmentStatus::Confirmed => "Confirmed (arrived)",
        AppointmentStatus::InProgress => "In progress",
        AppointmentStatus::Completed => "Completed",
        AppointmentStatus::Cancelled => "Cancelled",
        AppointmentStatus::NoShow => "No-show",
    }
}

/// RFC 5545 `STATUS` of a VEVENT: a cancelled visit is `CANCELLED` (clients drop it); every
/// other one took or takes the doctor's time, so it is `CONFIRMED`.
pub fn ical_status(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Cancelled => "CANCELLED",
        _ => "CONFIRMED",
    }
}

/// The feed's text.
pub fn render(
    owner: &FeedOwner,
    items: &[FeedItem],
    zone: Tz,
    span: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> String {
    let mut ics = ics::Ics::default();
    ics.raw("BEGIN", "VCALENDAR")
        .raw("VERSION", "2.0")
        .raw("PRODID", "-//HealthSync//Doctor calendar feed//EN")
        .raw("CALSCALE", "GREGORIAN")
        .raw("METHOD", "PUBLISH")
        .text(
            "X-WR-CALNAME",
            &format!("HealthSync: {}", owner.doctor_name),
        )
        .raw("X-WR-TIMEZONE", zone.name())
        // Subscribed clients re-read it this often (those that honour either property).
        .raw("REFRESH-INTERVAL;VALUE=DURATION", "PT15M")
        .raw("X-PUBLISHED-TTL", "PT15M");
    // One day of margin: a visit may end after the span's last transition.
    ics.timezone(zone, span.0 - Duration::days(1), span.1 + Duration::days(1));
    for item in items {
        let summary = if owner.include_patient_names {
            format!("{}: {}", kind_label(item.kind), item.patient_name)
        } else {
            kind_label(item.kind).to_owned()
        };
        let summary = if item.status == AppointmentStatus::NoShow {
            format!("{summary} (no-show)")
        } else {
            summary
        };
        ics.raw("BEGIN", "VEVENT")
            .raw("UID", &format!("{}@healthsync", item.id))
            .utc("DTSTAMP", now)
            .utc("CREATED", item.created_at)
            .utc("LAST-MODIFIED", item.updated_at);
        // In the clinic's zone, unless a time falls in the second pass of an hour the clocks
        // repeat: local time would name the first pass, so both ends are written in UTC.
        if ics::names_unambiguously(item.starts_at, zone)
            && ics::names_unambiguously(item.ends_at, zone)
        {
            ics.local("DTSTART", item.starts_at, zone)
                .local("DTEND", item.ends_at, zone);
        } else {
            ics.utc("DTSTART", item.starts_at)
                .utc("DTEND", item.ends_at);
        }
        ics.text("SUMMARY", &summary)
            .text(
                "DESCRIPTION",
                &format!(
                    "{} appointment. Status: {}.",
                    kind_label(item.kind),
                    status_label(item.status)
                ),
            )
            .raw("STATUS", ical_status(item.status))
            .raw(
                "TRANSP",
                if item.status == AppointmentStatus::Cancelled {
                    "TRANSPARENT"
                } else {
                    "OPAQUE"
                },
            )
            .raw("CLASS", "PRIVATE")
            .raw("END", "VEVENT");
    }
    ics.raw("END", "VCALENDAR");
    ics.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn item(status: AppointmentStatus, name: &str) -> FeedItem {
        let at = Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).unwrap();
        FeedItem {
            id: Uuid::nil(),
            kind: AppointmentType::Consultation,
            status,
            starts_at: at,
            ends_at: at + Duration::minutes(30),
            created_at: at - Duration::days(3),
            updated_at: at - Duration::days(1),
            patient_name: name.into(),
        }
    }

    fn owner(names: bool) -> FeedOwner {
        FeedOwner {
            doctor_id: Uuid::nil(),
            doctor_name: "Dr. Ada, MD".into(),
            include_patient_names: names,
        }
    }

    #[test]
    fn names_only_when_opted_in() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let span = (
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        );
        let items = [
            item(AppointmentStatus::Scheduled, "Zoë Patient"),
            item(AppointmentStatus::Cancelled, "Zoë Patient"),
        ];
        let hidden = render(&owner(false), &items, zone, span, span.0);
        assert!(!hidden.contains("Zoë"), "{hidden}");
        assert!(hidden.contains("SUMMARY:Consultation\r\n"));
        let shown = render(&owner(true), &items, zone, span, span.0);
        assert!(
            shown.contains("SUMMARY:Consultation: Zoë Patient\r\n"),
            "{shown}"
        );
        // After the spring change, 07:00 UTC is 09:00 in Berlin.
        assert!(
            shown.contains("DTSTART;TZID=Europe/Berlin:20260330T090000\r\n"),
            "{shown}"
        );
        assert!(shown.contains("STATUS:CANCELLED\r\n") && shown.contains("STATUS:CONFIRMED\r\n"));
        assert!(shown.contains("X-WR-CALNAME:HealthSync: Dr. Ada\\, MD\r\n"));
        assert!(
            shown.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
                && shown.ends_with("END:VCALENDAR\r\n")
        );
    }

    #[test]
    fn a_visit_in_the_repeated_hour_is_written_in_utc() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let mut late = item(AppointmentStatus::Scheduled, "x");
        late.starts_at = Utc.with_ymd_and_hms(2026, 10, 25, 0, 45, 0).unwrap();
        late.ends_at = Utc.with_ymd_and_hms(2026, 10, 25, 1, 15, 0).unwrap();
        let span = (
            late.starts_at - Duration::days(1),
            late.starts_at + Duration::days(1),
        );
        let out = render(&owner(false), &[late], zone, span, span.0);
        assert!(
            out.contains("DTSTART:20261025T004500Z\r\nDTEND:20261025T011500Z\r\n"),
            "{out}"
        );
    }

    #[test]
    fn tokens() {
        let t = FeedToken::generate();
        assert!(FeedToken::looks_valid(&t.0), "{}", t.0);
        assert_ne!(t, FeedToken::generate());
        assert_eq!(FeedToken::hash(&t.0).len(), 64);
        assert_ne!(FeedToken::hash(&t.0), t.0);
        for junk in [
            "",
            "hscal_",
            "hscal_XYZ",
            &t.0.to_uppercase(),
            &format!("{}0", t.0),
            "../../etc/passwd",
        ] {
            assert!(!FeedToken::looks_valid(junk), "{junk}");
        }
        assert_eq!(format!("{t:?}"), "FeedToken(..)");
    }
}
