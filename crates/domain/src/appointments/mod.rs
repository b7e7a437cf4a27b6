//! Appointments: booking a slot, the status machine and who may move it.
//!
//! No double booking, ever: the repository books in one transaction that locks the slot row,
//! and the partial unique index `appointments_active_slot_key` makes a second active
//! appointment on a slot impossible even if code were wrong. Of N concurrent requests for one
//! slot exactly one succeeds; the others get `Conflict(SlotTaken)`.

pub mod booking;
pub mod series;
mod service;
pub mod status;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

pub use booking::{DoctorFacts, DueReminder, SlotFacts, UserNotice};
pub use service::{
    AppointmentAction, AppointmentService, BookingRequest, NoShowPolicy, TimeGuards,
    NO_SHOW_WINDOW_DAYS,
};
pub use status::AppointmentStatus;

use crate::audit::AuditEvent;
use crate::error::DomainError;
use crate::money::Money;
use crate::paging::{Page, PageRequest};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppointmentType {
    Consultation,
    FollowUp,
    Emergency,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub time_slot_id: Option<Uuid>,
    pub kind: AppointmentType,
    pub status: AppointmentStatus,
    pub reason: String,
    pub notes: Option<String>,
    pub cancel_reason: Option<String>,
    /// The fee quoted at booking; the bill uses this, not the doctor's current fee.
    pub consultation_fee: Money,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Appointment {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "patientId": self.patient_id, "doctorId": self.doctor_id, "timeSlotId": self.time_slot_id,
            "type": self.kind, "status": self.status.as_str(), "reason": self.reason,
            "cancelReason": self.cancel_reason, "consultationFee": self.consultation_fee.to_string(),
            "startsAt": self.starts_at, "endsAt": self.ends_at,
        })
    }
}

/// What the repository needs to book a slot.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBooking {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub slot_id: Uuid,
    pub kind: AppointmentType,
    pub reason: String,
    pub booked_by: Uuid,
    /// Slots starting at or before this instant cannot be booked.
    pub now: DateTime<Utc>,
    /// The client's `Idempotency-Key`, when given: the booking transaction records the new
    /// appointment's id on it, so a crash before the response is stored loses nothing.
    pub idempotency_key: Option<crate::idempotency::KeyRef>,
    /// The clinic's booking window when a patient books itself (`None`: staff, not bound).
    pub window: Option<booking::BookingWindow>,
}

/// The booked appointment and the slot's local date (for cache invalidation).
#[derive(Debug, Clone, PartialEq)]
pub struct Booked {
    pub appointment: Appointment,
    pub slot_date: Option<NaiveDate>,
}

/// The order of an appointment list: by start time, soonest (the default) or newest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListOrder {
    #[default]
    Soonest,
    Newest,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppointmentFilter {
    pub patient_id: Option<Uuid>,
    pub doctor_id: Option<Uuid>,
    /// Only appointments with doctors of this department.
    pub department_id: Option<Uuid>,
    pub status: Option<AppointmentStatus>,
    /// When not empty, only appointments in one of these statuses (FHIR's `status=fulfilled`
    /// is IN_PROGRESS or COMPLETED; its searches take comma-separated lists).
    pub statuses: Vec<AppointmentStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Soonest first when true, newest first otherwise.
    pub soonest_first: bool,
    /// Only SCHEDULED or CONFIRMED appointments inside time off of their doctor (or a clinic
    /// holiday): the visits the desk has to move.
    pub needs_rescheduling: bool,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AppointmentRepository: Send + Sync {
    /// Books in one transaction: locks the slot, reads its doctor and the patient's user, and
    /// writes what [`booking::plan_booking`] decides (the appointment, the slot taken, the
    /// BOOKING_CONFIRMATION notifications and the audit event). Errors: `NotFound("slot")`,
    /// the plan's refusals (`Validation("timeSlotId")` for a started slot,
    /// `Conflict(SlotTaken)`, `Conflict(DoctorUnavailable)`), and `Conflict(PatientOverlap)`
    /// or `Conflict(SlotTaken)` from the constraints.
    async fn book(
        &self,
        booking: NewBooking,
        meta: crate::audit::RequestMeta,
    ) -> Result<Booked, DomainError>;

    async fn get(&self, id: Uuid) -> Result<Option<Appointment>, DomainError>;

    /// Moves `id` from `from` to `to` (only if still in `from`), freeing its slot when
    /// cancelled, with the audit event. With `bill` (on completion) the same transaction writes
    /// the PENDING bill, its audit event and the patient's PAYMENT notification.
    /// `Conflict(StaleStatus)` if the appointment changed meanwhile.
    async fn transition(
        &self,
        id: Uuid,
        from: AppointmentStatus,
        to: AppointmentStatus,
        cancel_reason: Option<String>,
        event: AuditEvent,
        bill: Option<crate::billing::NewBill>,
    ) -> Result<Booked, DomainError>;

    async fn list(
        &self,
        filter: AppointmentFilter,
        page: PageRequest,
    ) -> Result<Page<Appointment>, DomainError>;

    /// Moves an appointment to another slot in one transaction: locks the appointment and the
    /// new slot, and writes what [`booking::plan_reschedule`] decides (new slot taken, old one
    /// freed, the audit event), or nothing changes. Errors: `NotFound`, the plan's refusals,
    /// `Conflict(PatientOverlap)` from the constraint. Returns the appointment and the (new,
    /// old) slot dates.
    /// `window`: the clinic's booking window when the patient moves its own visit (checked
    /// with the doctor's overrides read in the transaction).
    async fn reschedule(
        &self,
        id: Uuid,
        slot_id: Uuid,
        now: DateTime<Utc>,
        by: Uuid,
        meta: crate::audit::RequestMeta,
        window: Option<booking::BookingWindow>,
    ) -> Result<(Appointment, Vec<NaiveDate>), DomainError>;

    /// An EMERGENCY walk-in without a slot, as [`booking::plan_walk_in`] decides from the
    /// doctor read in the transaction. It never takes a slot from anyone. Errors:
    /// `NotFound("doctor")`, the plan's refusal, `Conflict(PatientOverlap)` if the patient is
    /// already being seen.
    async fn walk_in(
        &self,
        booking: WalkIn,
        meta: crate::audit::RequestMeta,
    ) -> Result<Appointment, DomainError>;

    /// Books a series in one transaction (see [`series`]): inserts the series, then for each
    /// date the doctor's slot starting at the series' local time, booked as
    /// [`AppointmentRepository::book`] decides inside its own savepoint (without the per-visit
    /// notifications); a refusal [`series::skips_occurrence`] lists is recorded and the rest go
    /// on. One notification per series to patient and doctor ([`series::series_notices`]), the
    /// series' audit event. When nothing books, nothing is written and the first refusal is
    /// the error.
    async fn book_series(
        &self,
        series: series::NewSeries,
        meta: crate::audit::RequestMeta,
    ) -> Result<series::SeriesBooked, DomainError>;

    /// Cancels `id` and every later occurrence of its series still SCHEDULED or CONFIRMED, in
    /// one transaction (slots freed, an audit event each, one notification to the patient).
    /// `Validation("id")` when it is not part of a series.
    async fn cancel_following(
        &self,
        id: Uuid,
        reason: String,
        by: Uuid,
        now: DateTime<Utc>,
        meta: crate::audit::RequestMeta,
    ) -> Result<Vec<Booked>, DomainError>;

    /// How many of the patient's appointments were no-shows: in all, and starting since
    /// `since`.
    async fn no_shows(
        &self,
        patient_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<NoShowCount, DomainError>;

    /// Active appointments starting within `(from, until]` that have no REMINDER yet.
    async fn due_reminders(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<DueReminder>, DomainError>;

    /// Writes REMINDER notifications, each tied to its appointment, skipping any appointment
    /// that already has one: exactly once per appointment even with several processes
    /// running the job (a unique index). Returns how many were written.
    async fn add_reminders(&self, reminders: Vec<(Uuid, UserNotice)>)
        -> Result<usize, DomainError>;
}

/// A patient's no-shows, for staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoShowCount {
    pub total: u64,
    /// Those of the last 90 days (what the booking policy counts).
    pub recent: u64,
}

/// An emergency walk-in registered by staff.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkIn {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub reason: String,
    pub booked_by: Uuid,
    pub starts_at: DateTime<Utc>,
    pub minutes: i64,
}
