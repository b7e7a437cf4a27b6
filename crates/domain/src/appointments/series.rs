//! Recurring visits: the desk books a finite series (every N weeks, up to
//! [`MAX_OCCURRENCES`]) for one patient and doctor at the same local time.
//!
//! Every occurrence that can be booked is booked in one transaction; each is decided by the
//! same rules as a single booking ([`super::booking::plan_booking`]) inside its own savepoint,
//! so one refused occurrence (taken, held, in time off, overlapping another visit of the
//! patient, no slot at that time) is listed with its reason and the rest still book. Nothing is
//! written when none can be. Slots beyond the generation horizon are generated for the
//! occurrences first, from the doctor's schedules (time off excepted), so a half-year series
//! does not stop at the horizon. "This and following" cancels the occurrence and every later
//! one still SCHEDULED or CONFIRMED, in one transaction.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

use super::{Appointment, AppointmentType, UserNotice};
use crate::audit::{AuditAction, AuditEvent, RequestMeta};
use crate::error::DomainError;
use crate::notifications::texts;

/// The most occurrences one series books.
pub const MAX_OCCURRENCES: u32 = 26;
/// The longest interval between occurrences, in weeks.
pub const MAX_EVERY_WEEKS: u32 = 12;

/// A series as the desk asks for it (validated by [`SeriesRequest::dates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRequest {
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    /// The first occurrence's local date.
    pub first_date: NaiveDate,
    /// The local start time of every occurrence (a slot must start then).
    pub start_time: NaiveTime,
    pub every_weeks: u32,
    pub occurrences: u32,
    pub kind: AppointmentType,
    pub reason: String,
}

impl SeriesRequest {
    /// The occurrences' local dates, after checking the request's numbers and dates.
    pub fn dates(&self, today: NaiveDate) -> Result<Vec<NaiveDate>, DomainError> {
        crate::dates::check_date("firstDate", self.first_date)?;
        if self.first_date < today {
            return Err(DomainError::validation(
                "firstDate",
                "must be today or later",
            ));
        }
        if !(1..=MAX_EVERY_WEEKS).contains(&self.every_weeks) {
            return Err(DomainError::validation(
                "everyWeeks",
                format!("must be between 1 and {MAX_EVERY_WEEKS}"),
            ));
        }
        if !(2..=MAX_OCCURRENCES).contains(&self.occurrences) {
            return Err(DomainError::validation(
                "occurrences",
                format!("must be between 2 and {MAX_OCCURRENCES}"),
            ));
        }
        use chrono::Timelike;
        if self.start_time.second() != 0 || self.start_time.nanosecond() != 0 {
            return Err(DomainError::validation(
                "startTime",
                "must be a whole minute (HH:MM)",
            ));
        }
        let step = Duration::weeks(i64::from(self.every_weeks));
        let dates: Vec<NaiveDate> = (0..self.occurrences)
            .map(|k| self.first_date + step * i32::try_from(k).unwrap_or(0))
            .collect();
        if let Some(&last) = dates.last() {
            crate::dates::check_date("firstDate", last)?;
        }
        Ok(dates)
    }
}

/// What the series transaction needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSeries {
    pub id: Uuid,
    pub request: SeriesRequest,
    pub dates: Vec<NaiveDate>,
    pub booked_by: Uuid,
    pub now: DateTime<Utc>,
}

/// An occurrence that could not be booked, and why (the refusal a single booking of it would
/// have had; `Validation("startTime")` when the doctor has no slot starting then).
#[derive(Debug, Clone, PartialEq)]
pub struct Unbooked {
    /// 1-based position in the series.
    pub occurrence: u32,
    pub date: NaiveDate,
    pub reason: DomainError,
}

/// A booked occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// 1-based position in the series.
    pub occurrence: u32,
    pub appointment: Appointment,
    /// The slot's local date (for the availability cache).
    pub slot_date: NaiveDate,
}

/// The series as booked.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesBooked {
    pub id: Uuid,
    pub booked: Vec<Occurrence>,
    pub unbooked: Vec<Unbooked>,
}

/// Whether a refusal of one occurrence leaves the rest to book (the request's own problems and
/// infrastructure failures stop the whole series).
pub fn skips_occurrence(error: &DomainError) -> bool {
    matches!(
        error,
        DomainError::Conflict(_) | DomainError::NotFound("slot") | DomainError::Validation { .. }
    )
}

/// The series' notifications: one to the patient and one to the doctor for the whole series
/// rather than one per occurrence.
pub fn series_notices(
    booked: &[Occurrence],
    patient_user_id: Uuid,
    doctor_user_id: Uuid,
) -> Vec<UserNotice> {
    let Some(first) = booked.first() else {
        return Vec::new();
    };
    let count = booked.len();
    vec![
        UserNotice {
            user_id: patient_user_id,
            notice: texts::series_booked(count, first.appointment.starts_at),
        },
        UserNotice {
            user_id: doctor_user_id,
            notice: texts::series_booked_for_doctor(count, first.appointment.starts_at),
        },
    ]
}

/// The audit event of the series itself (each appointment has its own).
pub fn series_event(series: &NewSeries, booked: &[Occurrence], meta: &RequestMeta) -> AuditEvent {
    let r = &series.request;
    AuditEvent::new(
        Some(series.booked_by),
        AuditAction::Create,
        "appointment_series",
        Some(series.id),
        meta,
    )
    .after(serde_json::json!({
        "patientId": r.patient_id, "doctorId": r.doctor_id, "firstDate": r.first_date,
        "startTime": r.start_time.format("%H:%M").to_string(), "everyWeeks": r.every_weeks,
        "occurrences": r.occurrences,
        "appointmentIds": booked.iter().map(|o| o.appointment.id).collect::<Vec<_>>(),
    }))
}

/// The cancellation of one occurrence by "this and following", as its audit event records it.
pub fn cancel_following_event(
    before: &Appointment,
    after: &Appointment,
    by: Uuid,
    meta: &RequestMeta,
) -> AuditEvent {
    AuditEvent::new(
        Some(by),
        AuditAction::Update,
        "appointment",
        Some(before.id),
        meta,
    )
    .before(before.snapshot())
    .after(after.snapshot())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(every_weeks: u32, occurrences: u32, first_in_days: i64) -> SeriesRequest {
        SeriesRequest {
            patient_id: Uuid::new_v4(),
            doctor_id: Uuid::new_v4(),
            first_date: today() + Duration::days(first_in_days),
            start_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            every_weeks,
            occurrences,
            kind: AppointmentType::FollowUp,
            reason: "physiotherapy".into(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    #[test]
    fn occurrences_fall_every_n_weeks_on_the_same_weekday() {
        let dates = request(2, 4, 1).dates(today()).unwrap();
        let first = today() + Duration::days(1);
        assert_eq!(
            dates,
            [0, 14, 28, 42].map(|d| first + Duration::days(d)).to_vec()
        );
        // Half a year of weekly visits across the March DST change: the dates are local, so
        // the local time stays 09:00 whatever the offset does.
        assert_eq!(request(1, 26, 0).dates(today()).unwrap().len(), 26);
    }

    #[test]
    fn bad_series_name_their_field() {
        let field = |r: SeriesRequest| match r.dates(today()) {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(request(1, 27, 0)), "occurrences");
        assert_eq!(field(request(1, 1, 0)), "occurrences");
        assert_eq!(field(request(0, 4, 0)), "everyWeeks");
        assert_eq!(field(request(13, 4, 0)), "everyWeeks");
        assert_eq!(field(request(1, 4, -1)), "firstDate");
        let mut late = request(12, 26, 0);
        late.first_date = NaiveDate::from_ymd_opt(9999, 6, 1).unwrap();
        assert_eq!(
            field(late),
            "firstDate",
            "the last visit would fall after 9999"
        );
        let mut odd = request(1, 4, 0);
        odd.start_time = NaiveTime::from_hms_opt(9, 0, 30).unwrap();
        assert_eq!(field(odd), "startTime");
    }

    #[test]
    fn a_refused_occurrence_is_skipped_but_a_failing_store_stops_the_series() {
        use crate::error::Conflict;
        assert!(skips_occurrence(&DomainError::Conflict(
            Conflict::SlotTaken
        )));
        assert!(skips_occurrence(&DomainError::NotFound("slot")));
        assert!(!skips_occurrence(&DomainError::NotFound("patient")));
        assert!(!skips_occurrence(&DomainError::Unavailable("database")));
    }
}
