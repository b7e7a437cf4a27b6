//! The waitlist: a patient waits for a doctor over a range of local days (optionally one part
//! of the day), and when a matching slot is free the first patient waiting gets an **offer**:
//! the slot is held for them for `WAITLIST_HOLD_MINUTES` (nobody else, the desk included,
//! books it: `Conflict(SlotHeld)`), they are notified, and they accept (booked, in one
//! transaction) or decline or let it expire, and the next patient waiting gets the offer.
//!
//! Rules:
//! - One active entry (WAITING or OFFERED) per patient and doctor; a range of at most
//!   [`MAX_WAIT_DAYS`] days, not starting in the past.
//! - First come, first served: matching takes the oldest WAITING entry that has a matching
//!   free slot and gives it the earliest one. A slot matches when it is the entry's doctor's,
//!   on one of its days and in its part of day, free, not in time off, not held, starts after
//!   the hold would end, and was never offered to that entry before (so a declined or expired
//!   slot goes to the next patient).
//! - Exactly one open offer per slot and per entry, across any number of `serve` processes:
//!   matching locks the entry and the slot (`SKIP LOCKED`) and partial unique indexes are the
//!   backstop.
//! - Matching runs right after a slot frees up (cancellation, reschedule, a schedule change,
//!   deleted time off, a declined offer: the [`SlotsFreed`] port) and on a timer, which also
//!   expires offers past their hold and entries past their last day.
//! - Accepting books the slot with the patient's booking rules minus the booking window (the
//!   clinic made the offer); a slot booked directly by the patient it is held for (or by the
//!   desk for them) accepts the offer too.

mod service;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

pub use service::{JoinRequest, WaitlistService};

use crate::appointments::{Booked, NewBooking, UserNotice};
use crate::audit::{AuditEvent, RequestMeta};
use crate::error::DomainError;
use crate::notifications::texts;
use crate::paging::{Page, PageRequest};

/// The longest range one entry waits over, in days.
pub const MAX_WAIT_DAYS: i64 = 90;

/// A part of the day, by the slot's local start time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartOfDay {
    /// Slots starting before 12:00.
    Morning,
    /// Slots starting from 12:00 to before 17:00.
    Afternoon,
    /// Slots starting from 17:00.
    Evening,
}

impl PartOfDay {
    /// The local start times it takes: from the first (inclusive) to the second (exclusive;
    /// `None`: the end of the day).
    pub fn bounds(self) -> (NaiveTime, Option<NaiveTime>) {
        let at = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("a whole hour");
        match self {
            Self::Morning => (NaiveTime::MIN, Some(at(12))),
            Self::Afternoon => (at(12), Some(at(17))),
            Self::Evening => (at(17), None),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Morning => "MORNING",
            Self::Afternoon => "AFTERNOON",
            Self::Evening => "EVENING",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Morning, Self::Afternoon, Self::Evening]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }

    /// Whether a slot starting at local `time` lies in this part of the day.
    pub fn contains(self, time: NaiveTime) -> bool {
        let (from, until) = self.bounds();
        time >= from && until.is_none_or(|u| time < u)
    }
}

/// Where an entry stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WaitlistStatus {
    /// Waiting for a slot.
    Waiting,
    /// A slot is held for the patient (see the entry's offer).
    Offered,
    /// The patient accepted an offer (or booked the held slot).
    Booked,
    /// The patient left (or the desk removed the entry).
    Left,
    /// The entry's last day passed without a booking.
    Expired,
}

impl WaitlistStatus {
    pub const ALL: [Self; 5] = [
        Self::Waiting,
        Self::Offered,
        Self::Booked,
        Self::Left,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "WAITING",
            Self::Offered => "OFFERED",
            Self::Booked => "BOOKED",
            Self::Left => "LEFT",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Still waiting or holding an offer.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Waiting | Self::Offered)
    }
}

/// A slot held for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: Uuid,
    pub entry_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub slot_id: Uuid,
    /// The slot's local date (for the availability cache).
    pub slot_date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The hold ends here; after it, the slot goes to the next patient.
    pub expires_at: DateTime<Utc>,
    /// Still waiting for an answer (not accepted, declined or expired).
    pub open: bool,
}

impl Offer {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "entryId": self.entry_id, "patientId": self.patient_id, "slotId": self.slot_id,
            "doctorId": self.doctor_id, "startsAt": self.starts_at, "endsAt": self.ends_at,
            "expiresAt": self.expires_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub part_of_day: Option<PartOfDay>,
    pub status: WaitlistStatus,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// The open offer, while OFFERED.
    pub offer: Option<Offer>,
}

impl WaitlistEntry {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "patientId": self.patient_id, "doctorId": self.doctor_id, "from": self.from,
            "to": self.to, "partOfDay": self.part_of_day.map(PartOfDay::as_str),
            "status": self.status.as_str(),
        })
    }
}

/// Which entries a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitlistFilter {
    pub patient_id: Option<Uuid>,
    pub doctor_id: Option<Uuid>,
    pub status: Option<WaitlistStatus>,
}

/// The offer's notification to its patient.
pub fn offer_notice(offer: &Offer, patient_user_id: Uuid) -> UserNotice {
    UserNotice {
        user_id: patient_user_id,
        notice: texts::waitlist_offer(offer.starts_at, offer.expires_at),
    }
}

/// The waitlist in PostgreSQL.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WaitlistRepository: Send + Sync {
    /// Adds the entry with its audit event; `Conflict(AlreadyWaiting)` when the patient has an
    /// active entry for the doctor.
    async fn join(&self, entry: WaitlistEntry, event: AuditEvent) -> Result<(), DomainError>;

    /// The entry with its open offer.
    async fn get(&self, id: Uuid) -> Result<Option<WaitlistEntry>, DomainError>;

    /// Entries oldest first, each with its open offer.
    async fn list(
        &self,
        filter: WaitlistFilter,
        page: PageRequest,
    ) -> Result<Page<WaitlistEntry>, DomainError>;

    /// LEFT, if still active, with its open offer (declined) released; the audit event. Returns
    /// the released offer. `Conflict(StaleStatus)` when no longer active.
    async fn leave(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        event: AuditEvent,
    ) -> Result<Option<Offer>, DomainError>;

    /// An offer by id, open or not.
    async fn offer(&self, id: Uuid) -> Result<Option<Offer>, DomainError>;

    /// In one transaction: the offer is still open and its hold runs at `booking.now`
    /// (`Conflict(OfferClosed)` otherwise), then the slot is booked for its patient as
    /// [`crate::appointments::AppointmentRepository::book`] does, which also closes the offer
    /// (ACCEPTED) and the entry (BOOKED).
    async fn accept(
        &self,
        offer_id: Uuid,
        booking: NewBooking,
        meta: RequestMeta,
    ) -> Result<Booked, DomainError>;

    /// DECLINED and its entry WAITING again, with the audit event; `Conflict(OfferClosed)`
    /// when it is not open.
    async fn decline(
        &self,
        offer_id: Uuid,
        now: DateTime<Utc>,
        event: AuditEvent,
    ) -> Result<Offer, DomainError>;

    /// Closes what time ended at `now`: open offers past their hold (EXPIRED; their entries
    /// WAITING again) and active entries whose last day is before `today` (EXPIRED, their
    /// offers too). Returns the offers that expired.
    async fn expire(&self, now: DateTime<Utc>, today: NaiveDate)
        -> Result<Vec<Offer>, DomainError>;

    /// Whether any entry waits (for `doctor_id`, or for anyone): one indexed read, so freeing
    /// a slot costs nothing more when nobody waits.
    async fn anyone_waiting(&self, doctor_id: Option<Uuid>) -> Result<bool, DomainError>;

    /// Makes the next offer in one transaction (see the module's rules): locks the oldest
    /// WAITING entry with a matching slot and the earliest such slot, skipping rows other
    /// processes hold, writes the offer holding it until `now + hold`, the entry OFFERED, the
    /// patient's notification ([`offer_notice`]) and the audit event. `None` when nothing
    /// matches.
    async fn offer_next(
        &self,
        now: DateTime<Utc>,
        hold: chrono::Duration,
    ) -> Result<Option<Offer>, DomainError>;
}

/// Told when slots of a doctor (`None`: of any doctor) may have become free, so waiting
/// patients get offers at once. Best effort: the waitlist's timer catches anything a failed
/// call missed.
#[async_trait]
pub trait SlotsFreed: Send + Sync {
    async fn slots_freed(&self, doctor_id: Option<Uuid>);
}

/// Nobody waits (the default of the services that free slots).
#[derive(Debug, Default, Clone, Copy)]
pub struct NobodyWaits;

#[async_trait]
impl SlotsFreed for NobodyWaits {
    async fn slots_freed(&self, _: Option<Uuid>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn parts_of_the_day_cover_it_once() {
        for minute in 0..24 * 60 {
            let t = at(minute / 60, minute % 60);
            let parts = [PartOfDay::Morning, PartOfDay::Afternoon, PartOfDay::Evening]
                .into_iter()
                .filter(|p| p.contains(t))
                .count();
            assert_eq!(parts, 1, "{t}");
        }
        assert!(PartOfDay::Morning.contains(at(11, 59)));
        assert!(PartOfDay::Afternoon.contains(at(12, 0)));
        assert!(PartOfDay::Evening.contains(at(17, 0)));
        for p in [PartOfDay::Morning, PartOfDay::Afternoon, PartOfDay::Evening] {
            assert_eq!(PartOfDay::parse(p.as_str()), Some(p));
        }
        for s in WaitlistStatus::ALL {
            assert_eq!(WaitlistStatus::parse(s.as_str()), Some(s));
        }
        assert!(WaitlistStatus::Offered.is_active() && !WaitlistStatus::Booked.is_active());
    }
}
