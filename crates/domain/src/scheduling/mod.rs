//! Scheduling: a doctor's weekly rules and the time slots generated from them.
//!
//! Rules: end after start; a slot length of 5 to 480 minutes that fits the window; schedules of
//! one doctor on one day never overlap (checked here for a clear message, and enforced by an
//! exclusion constraint). Changing or deactivating a schedule withdraws its future unbooked
//! slots and regenerates them; booked slots are never touched.

mod service;
pub mod slots;
pub mod time_off;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use uuid::Uuid;

pub use service::{DoctorBookingWindow, SchedulingService, TimeOffRecorded, MAX_SLOT_DAYS};
pub use slots::{generate, SlotSpec};
pub use time_off::{Displaced, Span, TimeOff, TimeOffRequest};

use crate::audit::AuditEvent;
use crate::error::DomainError;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DayOfWeek {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl DayOfWeek {
    pub const ALL: [Self; 7] = [
        Self::Mon,
        Self::Tue,
        Self::Wed,
        Self::Thu,
        Self::Fri,
        Self::Sat,
        Self::Sun,
    ];

    pub fn weekday(self) -> Weekday {
        match self {
            Self::Mon => Weekday::Mon,
            Self::Tue => Weekday::Tue,
            Self::Wed => Weekday::Wed,
            Self::Thu => Weekday::Thu,
            Self::Fri => Weekday::Fri,
            Self::Sat => Weekday::Sat,
            Self::Sun => Weekday::Sun,
        }
    }
}

/// A validated weekly rule (without identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleInput {
    pub day_of_week: DayOfWeek,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub slot_minutes: u32,
    /// Minutes left free after each slot (0 to [`MAX_BUFFER_MINUTES`]).
    pub buffer_minutes: u32,
}

/// The longest slot, in minutes.
pub const MAX_SLOT_MINUTES: u32 = 480;

/// The longest buffer after a slot, in minutes.
pub const MAX_BUFFER_MINUTES: u32 = 240;

impl ScheduleInput {
    pub fn parse(
        day_of_week: DayOfWeek,
        start_time: NaiveTime,
        end_time: NaiveTime,
        slot_minutes: u32,
    ) -> Result<Self, DomainError> {
        use chrono::Timelike;
        // Schedules are in whole minutes: "18:30:60" (a leap second) or "18:30:15" would be
        // stored as something else than what was sent.
        for (field, t) in [("startTime", start_time), ("endTime", end_time)] {
            if t.second() != 0 || t.nanosecond() != 0 {
                return Err(DomainError::validation(
                    field,
                    "must be a whole minute (HH:MM)",
                ));
            }
        }
        if end_time <= start_time {
            return Err(DomainError::validation(
                "endTime",
                "must be after startTime",
            ));
        }
        if !(5..=MAX_SLOT_MINUTES).contains(&slot_minutes) {
            return Err(DomainError::validation(
                "slotDurationMinutes",
                format!("must be between 5 and {MAX_SLOT_MINUTES}"),
            ));
        }
        if chrono::Duration::minutes(i64::from(slot_minutes)) > end_time - start_time {
            return Err(DomainError::validation(
                "slotDurationMinutes",
                "must fit between startTime and endTime",
            ));
        }
        Ok(Self {
            day_of_week,
            start_time,
            end_time,
            slot_minutes,
            buffer_minutes: 0,
        })
    }

    /// The same rule with `minutes` of buffer after each slot.
    pub fn with_buffer(self, minutes: u32) -> Result<Self, DomainError> {
        if minutes > MAX_BUFFER_MINUTES {
            return Err(DomainError::validation(
                "bufferMinutes",
                format!("must be between 0 and {MAX_BUFFER_MINUTES}"),
            ));
        }
        Ok(Self {
            buffer_minutes: minutes,
            ..self
        })
    }

    /// Whether two rules share a day and overlap in time.
    pub fn overlaps(&self, other: &Self) -> bool {
        self.day_of_week == other.day_of_week
            && self.start_time < other.end_time
            && other.start_time < self.end_time
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: Uuid,
    pub doctor_id: Uuid,
    pub day_of_week: DayOfWeek,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub slot_minutes: u32,
    pub buffer_minutes: u32,
    pub is_active: bool,
}

impl Schedule {
    pub fn new(id: Uuid, doctor_id: Uuid, input: ScheduleInput) -> Self {
        Self {
            id,
            doctor_id,
            day_of_week: input.day_of_week,
            start_time: input.start_time,
            end_time: input.end_time,
            slot_minutes: input.slot_minutes,
            buffer_minutes: input.buffer_minutes,
            is_active: true,
        }
    }

    pub fn input(&self) -> ScheduleInput {
        ScheduleInput {
            day_of_week: self.day_of_week,
            start_time: self.start_time,
            end_time: self.end_time,
            slot_minutes: self.slot_minutes,
            buffer_minutes: self.buffer_minutes,
        }
    }

    /// Whether this schedule, as it stands, generates a slot on `date` from `start` to `end`
    /// (local labels): active, its weekday, inside its hours, its length, a whole number of
    /// slot-plus-buffer steps after its start. A slot kept only for a cancelled booking's
    /// history after the schedule changed fails this, so it is neither shown nor booked beside
    /// the new grid's slot that overlaps it. (DST days skip some starts but move none.)
    pub fn generates(&self, date: NaiveDate, start: NaiveTime, end: NaiveTime) -> bool {
        use chrono::Datelike;
        let length = chrono::Duration::minutes(i64::from(self.slot_minutes));
        let step = i64::from(self.slot_minutes + self.buffer_minutes) * 60;
        let offset = (start - self.start_time).num_seconds();
        self.is_active
            && date.weekday() == self.day_of_week.weekday()
            && start >= self.start_time
            && end <= self.end_time
            && end - start == length
            && step > 0
            && offset % step == 0
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "doctorId": self.doctor_id, "dayOfWeek": self.day_of_week,
            "startTime": self.start_time.format("%H:%M").to_string(), "endTime": self.end_time.format("%H:%M").to_string(),
            "slotDurationMinutes": self.slot_minutes, "bufferMinutes": self.buffer_minutes,
            "isActive": self.is_active,
        })
    }
}

/// A free slot as patients see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailableSlot {
    pub id: Uuid,
    pub doctor_id: Uuid,
    pub date: NaiveDate,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// A slot as it stands, whatever its state: what FHIR's `Slot` reports (free slots and the
/// rest), with its schedule so the domain can tell whether that rule still generates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    pub id: Uuid,
    pub schedule: Schedule,
    pub doctor_id: Uuid,
    pub date: NaiveDate,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Taken by an active (or no-show) appointment.
    pub booked: bool,
    /// Held by an open, unexpired waitlist offer.
    pub held: bool,
    /// Inside time off of its doctor, or a clinic holiday.
    pub time_off: bool,
    /// Its doctor takes no appointments (not available, or deactivated): set from the
    /// directory by [`SchedulingService`], since booking refuses such a doctor's slots.
    pub doctor_unavailable: bool,
}

/// Where a slot stands now: free to book, or why not (a taken slot stays `Booked` after its
/// start, since that is what it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAvailability {
    Free,
    Booked,
    /// Started already, or no longer on its schedule's grid (kept only for a cancelled
    /// booking's history): nobody can book it.
    Closed,
    /// Inside time off, or its doctor takes no appointments now.
    TimeOff,
    Held,
}

impl SlotState {
    /// What booking this slot at `now` would meet.
    pub fn availability(&self, now: DateTime<Utc>) -> SlotAvailability {
        if self.booked {
            SlotAvailability::Booked
        } else if self.starts_at <= now
            || !self
                .schedule
                .generates(self.date, self.start_time, self.end_time)
        {
            SlotAvailability::Closed
        } else if self.time_off || self.doctor_unavailable {
            SlotAvailability::TimeOff
        } else if self.held {
            SlotAvailability::Held
        } else {
            SlotAvailability::Free
        }
    }

    /// Whether the slot belongs in a list of the doctor's slots: every slot but a free one its
    /// schedule no longer generates (it would overlap the new grid's slot at that time).
    pub fn is_listed(&self) -> bool {
        self.booked
            || self
                .schedule
                .generates(self.date, self.start_time, self.end_time)
    }
}

/// Schedules and slots in PostgreSQL.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ScheduleRepository: Send + Sync {
    /// Inserts the schedule and its slots. `Conflict(ScheduleOverlap)` when it overlaps an
    /// active schedule of the doctor on that day.
    async fn create(
        &self,
        schedule: Schedule,
        slots: Vec<SlotSpec>,
        event: AuditEvent,
    ) -> Result<Schedule, DomainError>;

    /// Replaces the rule; deletes the schedule's unbooked slots starting after `now`, then
    /// inserts `slots` (those that already exist are kept). Returns the dates whose slots
    /// changed, so their caches can be dropped.
    async fn replace(
        &self,
        schedule: Schedule,
        now: DateTime<Utc>,
        slots: Vec<SlotSpec>,
        event: AuditEvent,
    ) -> Result<Vec<NaiveDate>, DomainError>;

    async fn get(&self, id: Uuid) -> Result<Option<Schedule>, DomainError>;
    async fn list_for_doctor(&self, doctor_id: Uuid) -> Result<Vec<Schedule>, DomainError>;
    async fn list_active(&self) -> Result<Vec<Schedule>, DomainError>;

    /// Inserts slots, skipping existing ones; returns how many were new.
    async fn insert_slots(&self, slots: Vec<SlotSpec>) -> Result<usize, DomainError>;

    /// Free slots of a doctor on a date that start after `now`, by start time.
    async fn available_slots(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<AvailableSlot>, DomainError>;

    /// Every slot of a doctor on local dates `from..=to`, in any state, by start; `held`
    /// counts offers still open at `now`.
    async fn slot_states(
        &self,
        doctor_id: Uuid,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<SlotState>, DomainError>;

    /// One slot in any state (`None`: no such slot).
    async fn slot_state(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<SlotState>, DomainError>;

    /// The doctor's own booking window (nothing set: the default, all `None`).
    async fn booking_window(
        &self,
        doctor_id: Uuid,
    ) -> Result<crate::appointments::booking::DoctorWindow, DomainError>;

    /// Sets the doctor's own booking window (all `None`: the clinic's again), with the audit
    /// event, in one transaction.
    async fn set_booking_window(
        &self,
        doctor_id: Uuid,
        window: crate::appointments::booking::DoctorWindow,
        event: AuditEvent,
    ) -> Result<(), DomainError>;
}

/// Makes sure the slots a booking will look for exist: generates a doctor's slots on the
/// given dates from its active schedules (time off excepted), also beyond the horizon.
/// Idempotent.
#[async_trait]
pub trait SlotSource: Send + Sync {
    async fn ensure_slots(&self, doctor_id: Uuid, dates: &[NaiveDate]) -> Result<(), DomainError>;
}

/// Recorded time off, in PostgreSQL (see [`time_off`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TimeOffRepository: Send + Sync {
    /// Records the time off in one transaction: locks the free and booked slots it covers (so
    /// a booking racing it either commits first and is found here, or waits and is refused),
    /// inserts it, withdraws the free slots inside that were never booked, finds the active
    /// appointments inside and writes [`time_off::displacement_notices`] for them and every
    /// active receptionist, with the audit event. Returns the displaced appointments and the
    /// `(doctor, date)` of every withdrawn slot.
    async fn create(
        &self,
        time_off: TimeOff,
        event: AuditEvent,
    ) -> Result<time_off::Written, DomainError>;

    async fn get(&self, id: Uuid) -> Result<Option<TimeOff>, DomainError>;

    /// Deletes it with its audit event; `NotFound` when it is gone already.
    async fn delete(&self, id: Uuid, event: AuditEvent) -> Result<(), DomainError>;

    /// Time off that overlaps `span`, of `doctor_id` (and the clinic's holidays) or of every
    /// doctor when `None`, by start.
    async fn overlapping(
        &self,
        doctor_id: Option<Uuid>,
        span: Span,
    ) -> Result<Vec<TimeOff>, DomainError>;
}

/// A day's free slots as the cache holds them: the JSON array of [`AvailableSlot`] already
/// serialised, so a cache hit is answered without parsing and serialising the slots again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSlots {
    /// A JSON array of [`AvailableSlot`] (serde's shape, the API's too).
    pub json: String,
    /// When the earliest slot starts (`None`: no slot). Before that instant every cached slot
    /// is still in the future, so the body can be served as it is.
    pub first_start: Option<DateTime<Utc>>,
}

/// A day's free slots, as availability answers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaySlots {
    /// From the cache: a JSON array of [`AvailableSlot`], to be sent as it is.
    Json(String),
    /// From the database (or a cache entry some of whose slots have started meanwhile).
    Slots(Vec<AvailableSlot>),
}

/// The availability cache (`slots:{doctorId}:{date}`, 5 minutes). Best effort: errors mean
/// "no cache" and callers fall through to the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SlotCache: Send + Sync {
    async fn get(&self, doctor_id: Uuid, date: NaiveDate) -> Option<CachedSlots>;
    async fn put(&self, doctor_id: Uuid, date: NaiveDate, slots: &[AvailableSlot]);
    async fn invalidate(&self, doctor_id: Uuid, dates: &[NaiveDate]);
}

/// No cache at all: every read goes to the database (benchmarks' baseline).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSlotCache;

#[async_trait]
impl SlotCache for NoSlotCache {
    async fn get(&self, _: Uuid, _: NaiveDate) -> Option<CachedSlots> {
        None
    }
    async fn put(&self, _: Uuid, _: NaiveDate, _: &[AvailableSlot]) {}
    async fn invalidate(&self, _: Uuid, _: &[NaiveDate]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn schedule_rules() {
        assert!(ScheduleInput::parse(DayOfWeek::Mon, t(9, 0), t(9, 0), 15).is_err());
        assert!(ScheduleInput::parse(DayOfWeek::Mon, t(10, 0), t(9, 0), 15).is_err());
        assert!(ScheduleInput::parse(DayOfWeek::Mon, t(9, 0), t(9, 20), 30).is_err());
        assert!(ScheduleInput::parse(DayOfWeek::Mon, t(9, 0), t(17, 0), 4).is_err());
        // Whole minutes only: a leap second (23:59:60) or stray seconds are refused, not rounded.
        let leap = NaiveTime::from_hms_milli_opt(23, 59, 59, 1_000).unwrap();
        let seconds = NaiveTime::from_hms_opt(18, 30, 15).unwrap();
        for (start, end, field) in [
            (t(23, 30), leap, "endTime"),
            (seconds, t(19, 0), "startTime"),
        ] {
            let err = ScheduleInput::parse(DayOfWeek::Mon, start, end, 15).unwrap_err();
            assert!(
                matches!(&err, DomainError::Validation { field: f, .. } if f == field),
                "{err:?}"
            );
        }
        let morning = ScheduleInput::parse(DayOfWeek::Mon, t(9, 0), t(12, 0), 30).unwrap();
        let noon = ScheduleInput::parse(DayOfWeek::Mon, t(12, 0), t(14, 0), 30).unwrap();
        let late_morning = ScheduleInput::parse(DayOfWeek::Mon, t(11, 0), t(13, 0), 30).unwrap();
        let tuesday = ScheduleInput::parse(DayOfWeek::Tue, t(9, 0), t(12, 0), 30).unwrap();
        assert!(!morning.overlaps(&noon), "touching windows do not overlap");
        assert!(morning.overlaps(&late_morning));
        assert!(!morning.overlaps(&tuesday));
    }
}
