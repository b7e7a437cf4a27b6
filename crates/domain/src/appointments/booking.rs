//! The booking rules, as pure functions of what the booking transaction found.
//!
//! Booking, rescheduling and walk-ins must decide on rows locked inside one database
//! transaction (the slot, the appointment being moved), so the repository locks and reads
//! them, hands the facts to these functions, and writes exactly what they return: the
//! appointment, the notifications and the audit event. The repository decides nothing itself;
//! every refusal below is unit-tested here.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::{Appointment, AppointmentStatus, AppointmentType, NewBooking, WalkIn};
use crate::audit::{AuditAction, AuditEvent, RequestMeta};
use crate::error::{Conflict, DomainError};
use crate::money::Money;
use crate::notifications::{texts, Notice};

/// A time slot as locked by the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotFacts {
    pub id: Uuid,
    pub doctor_id: Uuid,
    /// The slot's local date (for cache invalidation).
    pub date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub is_available: bool,
    /// The slot overlaps time off of its doctor or a clinic holiday (read after the lock).
    pub in_time_off: bool,
    /// The patient a live waitlist offer holds the slot for (read after the lock): nobody
    /// else books it until the offer is accepted, declined or expires.
    pub held_for: Option<Uuid>,
    /// Its schedule still generates it (active, same weekday and grid). A slot kept only for
    /// a cancelled booking's history after its schedule changed is gone for booking.
    pub on_schedule: bool,
}

/// The doctor of a slot or walk-in, as read in the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorFacts {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The fee quoted now; the appointment keeps it.
    pub consultation_fee: Money,
    /// The doctor takes appointments (`doctors.is_available`).
    pub is_available: bool,
    /// The doctor's account is active.
    pub is_active: bool,
    /// The doctor's own booking window (over the clinic's).
    pub window: DoctorWindow,
}

/// How close to its start and how far ahead patients may book a slot themselves: the clinic's
/// rule (`BOOKING_MIN_NOTICE_HOURS`, `BOOKING_MAX_ADVANCE_DAYS`), which a doctor may override.
/// Staff are not bound: the desk books the patient who calls an hour before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BookingWindow {
    /// No slot starting within this many hours (0: up to the start).
    pub min_notice_hours: u32,
    /// No slot starting more than this many days ahead (`None`: as far as slots exist).
    pub max_advance_days: Option<u32>,
}

/// A doctor's own booking window: what is set replaces the clinic's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DoctorWindow {
    pub min_notice_hours: Option<u32>,
    pub max_advance_days: Option<u32>,
}

/// The largest minimum notice, in hours (a year).
pub const MAX_NOTICE_HOURS: u32 = 8760;
/// The largest booking horizon, in days (ten years).
pub const MAX_ADVANCE_DAYS: u32 = 3650;

impl DoctorWindow {
    /// Validated as a request's fields.
    pub fn parse(
        min_notice_hours: Option<u32>,
        max_advance_days: Option<u32>,
    ) -> Result<Self, DomainError> {
        if min_notice_hours.is_some_and(|h| h > MAX_NOTICE_HOURS) {
            return Err(DomainError::validation(
                "minNoticeHours",
                format!("must be between 0 and {MAX_NOTICE_HOURS}"),
            ));
        }
        if max_advance_days.is_some_and(|d| !(1..=MAX_ADVANCE_DAYS).contains(&d)) {
            return Err(DomainError::validation(
                "maxAdvanceDays",
                format!("must be between 1 and {MAX_ADVANCE_DAYS}"),
            ));
        }
        Ok(Self {
            min_notice_hours,
            max_advance_days,
        })
    }
}

impl BookingWindow {
    /// This window with what `doctor` set in its place.
    pub fn overridden_by(self, doctor: &DoctorWindow) -> Self {
        Self {
            min_notice_hours: doctor.min_notice_hours.unwrap_or(self.min_notice_hours),
            max_advance_days: doctor.max_advance_days.or(self.max_advance_days),
        }
    }

    /// A patient may book a slot starting at `starts_at`, at `now`.
    pub fn check(&self, starts_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), DomainError> {
        if starts_at - now < Duration::hours(i64::from(self.min_notice_hours)) {
            return Err(DomainError::validation(
                "timeSlotId",
                format!(
                    "patients book at least {} hours ahead; the front desk can book sooner",
                    self.min_notice_hours
                ),
            ));
        }
        if let Some(days) = self.max_advance_days {
            if starts_at - now > Duration::days(i64::from(days)) {
                return Err(DomainError::validation(
                    "timeSlotId",
                    format!(
                        "patients book at most {days} days ahead; the front desk can book further"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// One notification for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNotice {
    pub user_id: Uuid,
    pub notice: Notice,
}

/// What the booking transaction writes.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingPlan {
    pub appointment: Appointment,
    pub slot_date: NaiveDate,
    /// BOOKING_CONFIRMATION for the patient and the doctor.
    pub notices: Vec<UserNotice>,
    pub event: AuditEvent,
}

/// What the reschedule transaction writes: the moved appointment, the dates whose cached
/// availability changed (new slot first, then the freed one) and the audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct ReschedulePlan {
    pub appointment: Appointment,
    pub new_slot_date: NaiveDate,
    pub event: AuditEvent,
}

/// A slot can be taken at `now`: it starts later and nobody holds it.
pub fn check_slot(slot: &SlotFacts, now: DateTime<Utc>) -> Result<(), DomainError> {
    if slot.starts_at <= now {
        return Err(DomainError::validation(
            "timeSlotId",
            "this slot has already started",
        ));
    }
    if !slot.is_available {
        return Err(DomainError::Conflict(Conflict::SlotTaken));
    }
    if !slot.on_schedule {
        return Err(DomainError::NotFound("slot"));
    }
    if slot.in_time_off {
        return Err(DomainError::Conflict(Conflict::DoctorTimeOff));
    }
    Ok(())
}

/// Nobody but the patient a waitlist offer holds the slot for takes it (the desk included).
pub fn check_hold(slot: &SlotFacts, patient_id: Uuid) -> Result<(), DomainError> {
    match slot.held_for {
        Some(holder) if holder != patient_id => Err(DomainError::Conflict(Conflict::SlotHeld)),
        _ => Ok(()),
    }
}

/// The doctor takes appointments and its account is active.
pub fn check_doctor(doctor: &DoctorFacts) -> Result<(), DomainError> {
    if doctor.is_available && doctor.is_active {
        Ok(())
    } else {
        Err(DomainError::Conflict(Conflict::DoctorUnavailable))
    }
}

/// Decides a booking: the slot must be bookable and its doctor available. The appointment
/// keeps the doctor's current fee; patient and doctor are notified; the event records it.
pub fn plan_booking(
    booking: &NewBooking,
    slot: &SlotFacts,
    doctor: &DoctorFacts,
    patient_user_id: Uuid,
    meta: &RequestMeta,
) -> Result<BookingPlan, DomainError> {
    check_slot(slot, booking.now)?;
    check_hold(slot, booking.patient_id)?;
    check_doctor(doctor)?;
    if let Some(window) = booking.window {
        window
            .overridden_by(&doctor.window)
            .check(slot.starts_at, booking.now)?;
    }
    let appointment = Appointment {
        id: booking.id,
        patient_id: booking.patient_id,
        doctor_id: slot.doctor_id,
        time_slot_id: Some(slot.id),
        kind: booking.kind,
        status: AppointmentStatus::Scheduled,
        reason: booking.reason.clone(),
        notes: None,
        cancel_reason: None,
        consultation_fee: doctor.consultation_fee.clone(),
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
        created_at: booking.now,
        updated_at: booking.now,
    };
    let notices = vec![
        UserNotice {
            user_id: patient_user_id,
            notice: texts::booked_for_patient(slot.starts_at),
        },
        UserNotice {
            user_id: doctor.user_id,
            notice: texts::booked_for_doctor(slot.starts_at),
        },
    ];
    let event = created_event(&appointment, booking.booked_by, meta);
    Ok(BookingPlan {
        appointment,
        slot_date: slot.date,
        notices,
        event,
    })
}

/// Decides a move of `current` (as locked now) to `slot`: same doctor, still movable, the new
/// slot bookable, and (a patient moving its own visit) inside the clinic's `window` with the
/// doctor's overrides.
pub fn plan_reschedule(
    current: &Appointment,
    slot: &SlotFacts,
    now: DateTime<Utc>,
    by: Uuid,
    meta: &RequestMeta,
    window: Option<(BookingWindow, DoctorWindow)>,
) -> Result<ReschedulePlan, DomainError> {
    if !current.status.can_be_rescheduled() {
        // It was movable when the use case checked; it changed since.
        return Err(DomainError::Conflict(Conflict::StaleStatus));
    }
    check_slot(slot, now)?;
    check_hold(slot, current.patient_id)?;
    if slot.doctor_id != current.doctor_id {
        return Err(DomainError::validation(
            "timeSlotId",
            "pick a slot of the same doctor",
        ));
    }
    if let Some((clinic, doctor)) = window {
        clinic.overridden_by(&doctor).check(slot.starts_at, now)?;
    }
    let mut moved = current.clone();
    moved.time_slot_id = Some(slot.id);
    moved.starts_at = slot.starts_at;
    moved.ends_at = slot.ends_at;
    moved.updated_at = now;
    let event = AuditEvent::new(
        Some(by),
        AuditAction::Update,
        "appointment",
        Some(current.id),
        meta,
    )
    .before(current.snapshot())
    .after(moved.snapshot());
    Ok(ReschedulePlan {
        appointment: moved,
        new_slot_date: slot.date,
        event,
    })
}

/// Decides an EMERGENCY walk-in: the doctor's account must be active (a walk-in is seen even
/// when the doctor is not taking bookings); it starts now, takes no slot, keeps the fee.
pub fn plan_walk_in(
    walk_in: &WalkIn,
    doctor: &DoctorFacts,
    meta: &RequestMeta,
) -> Result<(Appointment, AuditEvent), DomainError> {
    if !doctor.is_active {
        return Err(DomainError::Conflict(Conflict::DoctorUnavailable));
    }
    let appointment = Appointment {
        id: walk_in.id,
        patient_id: walk_in.patient_id,
        doctor_id: walk_in.doctor_id,
        time_slot_id: None,
        kind: AppointmentType::Emergency,
        status: AppointmentStatus::Scheduled,
        reason: walk_in.reason.clone(),
        notes: None,
        cancel_reason: None,
        consultation_fee: doctor.consultation_fee.clone(),
        starts_at: walk_in.starts_at,
        ends_at: walk_in.starts_at + chrono::Duration::minutes(walk_in.minutes),
        created_at: walk_in.starts_at,
        updated_at: walk_in.starts_at,
    };
    let event = created_event(&appointment, walk_in.booked_by, meta);
    Ok((appointment, event))
}

fn created_event(appointment: &Appointment, by: Uuid, meta: &RequestMeta) -> AuditEvent {
    AuditEvent::new(
        Some(by),
        AuditAction::Create,
        "appointment",
        Some(appointment.id),
        meta,
    )
    .after(appointment.snapshot())
}

/// The REMINDER of one appointment, for its patient.
pub fn reminder_notice(due: &DueReminder) -> UserNotice {
    UserNotice {
        user_id: due.patient_user_id,
        notice: texts::reminder(due.starts_at),
    }
}

/// An active appointment starting within the reminder lead that has no REMINDER yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReminder {
    pub appointment_id: Uuid,
    pub patient_user_id: Uuid,
    pub starts_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
    }

    fn slot(starts_in_minutes: i64, available: bool, doctor_id: Uuid) -> SlotFacts {
        let starts_at = now() + chrono::Duration::minutes(starts_in_minutes);
        SlotFacts {
            id: Uuid::new_v4(),
            doctor_id,
            date: starts_at.date_naive(),
            starts_at,
            ends_at: starts_at + chrono::Duration::minutes(30),
            is_available: available,
            in_time_off: false,
            held_for: None,
            on_schedule: true,
        }
    }

    fn doctor(available: bool, active: bool) -> DoctorFacts {
        DoctorFacts {
            id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            consultation_fee: Money::parse("80.50", "fee").unwrap(),
            is_available: available,
            is_active: active,
            window: DoctorWindow::default(),
        }
    }

    fn booking() -> NewBooking {
        NewBooking {
            id: Uuid::new_v4(),
            patient_id: Uuid::new_v4(),
            slot_id: Uuid::new_v4(),
            kind: AppointmentType::Consultation,
            reason: "cough".into(),
            booked_by: Uuid::new_v4(),
            now: now(),
            idempotency_key: None,
            window: None,
        }
    }

    #[test]
    fn a_free_future_slot_of_an_available_doctor_is_booked_with_the_fee_of_now() {
        let d = doctor(true, true);
        let s = slot(60, true, d.id);
        let b = booking();
        let patient_user = Uuid::new_v4();
        let plan = plan_booking(&b, &s, &d, patient_user, &RequestMeta::default()).unwrap();
        let a = &plan.appointment;
        assert_eq!(
            (a.id, a.doctor_id, a.time_slot_id),
            (b.id, d.id, Some(s.id))
        );
        assert_eq!(a.status, AppointmentStatus::Scheduled);
        assert_eq!(a.consultation_fee.to_string(), "80.50");
        assert_eq!((a.starts_at, a.ends_at), (s.starts_at, s.ends_at));
        assert_eq!(a.created_at, now());
        let to: Vec<Uuid> = plan.notices.iter().map(|n| n.user_id).collect();
        assert_eq!(to, vec![patient_user, d.user_id]);
        assert_eq!(plan.event.action, AuditAction::Create);
        assert_eq!(plan.event.user_id, Some(b.booked_by));
        assert_eq!(plan.event.after.as_ref().unwrap()["status"], "SCHEDULED");
    }

    #[test]
    fn a_slot_off_its_schedule_is_gone_but_a_taken_one_says_taken() {
        let d = doctor(true, true);
        let meta = RequestMeta::default();
        let mut kept = slot(60, true, d.id);
        kept.on_schedule = false;
        assert_eq!(
            plan_booking(&booking(), &kept, &d, Uuid::new_v4(), &meta).unwrap_err(),
            DomainError::NotFound("slot")
        );
        kept.is_available = false;
        assert_eq!(
            plan_booking(&booking(), &kept, &d, Uuid::new_v4(), &meta).unwrap_err(),
            DomainError::Conflict(Conflict::SlotTaken)
        );
    }

    #[test]
    fn a_slot_inside_time_off_is_refused_to_everyone() {
        let d = doctor(true, true);
        let mut away = slot(60, true, d.id);
        away.in_time_off = true;
        let mut by_desk = booking();
        by_desk.window = None;
        assert_eq!(
            plan_booking(&by_desk, &away, &d, Uuid::new_v4(), &RequestMeta::default()).unwrap_err(),
            DomainError::Conflict(Conflict::DoctorTimeOff)
        );
    }

    #[test]
    fn a_held_slot_is_booked_only_by_the_patient_it_is_held_for() {
        let d = doctor(true, true);
        let meta = RequestMeta::default();
        let b = booking();
        let mut held = slot(60, true, d.id);
        held.held_for = Some(Uuid::new_v4());
        assert_eq!(
            plan_booking(&b, &held, &d, Uuid::new_v4(), &meta).unwrap_err(),
            DomainError::Conflict(Conflict::SlotHeld)
        );
        held.held_for = Some(b.patient_id);
        assert!(plan_booking(&b, &held, &d, Uuid::new_v4(), &meta).is_ok());
    }

    #[test]
    fn started_taken_and_unavailable_are_refused_in_that_order() {
        let d = doctor(true, true);
        let meta = RequestMeta::default();
        let started = plan_booking(&booking(), &slot(0, true, d.id), &d, Uuid::new_v4(), &meta);
        assert!(
            matches!(started, Err(DomainError::Validation { field, .. }) if field == "timeSlotId")
        );
        let taken = plan_booking(
            &booking(),
            &slot(60, false, d.id),
            &d,
            Uuid::new_v4(),
            &meta,
        );
        assert_eq!(
            taken.unwrap_err(),
            DomainError::Conflict(Conflict::SlotTaken)
        );
        for d in [doctor(false, true), doctor(true, false)] {
            let unavailable =
                plan_booking(&booking(), &slot(60, true, d.id), &d, Uuid::new_v4(), &meta);
            assert_eq!(
                unavailable.unwrap_err(),
                DomainError::Conflict(Conflict::DoctorUnavailable)
            );
        }
    }

    fn booked(doctor_id: Uuid, status: AppointmentStatus) -> Appointment {
        let d = DoctorFacts {
            id: doctor_id,
            ..doctor(true, true)
        };
        let mut a = plan_booking(
            &booking(),
            &slot(60, true, doctor_id),
            &d,
            Uuid::new_v4(),
            &RequestMeta::default(),
        )
        .unwrap()
        .appointment;
        a.status = status;
        a
    }

    #[test]
    fn a_reschedule_keeps_the_doctor_and_needs_a_movable_appointment() {
        let doctor_id = Uuid::new_v4();
        let meta = RequestMeta::default();
        let current = booked(doctor_id, AppointmentStatus::Confirmed);
        let target = slot(120, true, doctor_id);
        let plan = plan_reschedule(&current, &target, now(), Uuid::new_v4(), &meta, None).unwrap();
        assert_eq!(plan.appointment.time_slot_id, Some(target.id));
        assert_eq!(plan.appointment.starts_at, target.starts_at);
        assert_eq!(plan.appointment.status, AppointmentStatus::Confirmed);
        assert_eq!(
            plan.event.before.as_ref().unwrap()["startsAt"],
            serde_json::json!(current.starts_at)
        );
        assert_eq!(
            plan.event.after.as_ref().unwrap()["timeSlotId"],
            serde_json::json!(target.id)
        );

        let other = plan_reschedule(
            &current,
            &slot(120, true, Uuid::new_v4()),
            now(),
            Uuid::new_v4(),
            &meta,
            None,
        );
        assert!(
            matches!(other, Err(DomainError::Validation { field, .. }) if field == "timeSlotId")
        );
        let taken = plan_reschedule(
            &current,
            &slot(120, false, doctor_id),
            now(),
            Uuid::new_v4(),
            &meta,
            None,
        );
        assert_eq!(
            taken.unwrap_err(),
            DomainError::Conflict(Conflict::SlotTaken)
        );
        let started = booked(doctor_id, AppointmentStatus::InProgress);
        let stale = plan_reschedule(&started, &target, now(), Uuid::new_v4(), &meta, None);
        assert_eq!(
            stale.unwrap_err(),
            DomainError::Conflict(Conflict::StaleStatus)
        );
    }

    #[test]
    fn patients_book_inside_the_window_with_the_doctors_overrides_and_staff_anywhere() {
        let meta = RequestMeta::default();
        let clinic = BookingWindow {
            min_notice_hours: 2,
            max_advance_days: Some(30),
        };
        let d = doctor(true, true);
        let patient = NewBooking {
            window: Some(clinic),
            ..booking()
        };
        let field = |r: Result<BookingPlan, DomainError>| match r {
            Err(DomainError::Validation { field, .. }) => Some(field),
            _ => None,
        };
        // An hour ahead: too soon for a patient, fine for the desk (no window).
        let soon = slot(60, true, d.id);
        assert_eq!(
            field(plan_booking(&patient, &soon, &d, Uuid::new_v4(), &meta)),
            Some("timeSlotId".into())
        );
        assert!(plan_booking(&booking(), &soon, &d, Uuid::new_v4(), &meta).is_ok());
        // Exactly at the notice, and exactly at the horizon: allowed; past it: refused.
        assert!(plan_booking(&patient, &slot(120, true, d.id), &d, Uuid::new_v4(), &meta).is_ok());
        assert!(plan_booking(
            &patient,
            &slot(30 * 24 * 60, true, d.id),
            &d,
            Uuid::new_v4(),
            &meta
        )
        .is_ok());
        assert_eq!(
            field(plan_booking(
                &patient,
                &slot(30 * 24 * 60 + 1, true, d.id),
                &d,
                Uuid::new_v4(),
                &meta
            )),
            Some("timeSlotId".into())
        );
        // A doctor who takes patients at 30 minutes' notice, up to 90 days ahead.
        let relaxed = DoctorFacts {
            window: DoctorWindow::parse(Some(0), Some(90)).unwrap(),
            ..doctor(true, true)
        };
        assert!(plan_booking(
            &patient,
            &slot(30, true, relaxed.id),
            &relaxed,
            Uuid::new_v4(),
            &meta
        )
        .is_ok());
        assert!(plan_booking(
            &patient,
            &slot(60 * 24 * 60, true, relaxed.id),
            &relaxed,
            Uuid::new_v4(),
            &meta
        )
        .is_ok());
        // A patient moving its visit is held to the same window.
        let current = booked(d.id, AppointmentStatus::Scheduled);
        let moved = plan_reschedule(
            &current,
            &soon,
            now(),
            Uuid::new_v4(),
            &meta,
            Some((clinic, d.window)),
        );
        assert!(
            matches!(moved, Err(DomainError::Validation { field, .. }) if field == "timeSlotId")
        );
        // Out of range overrides are refused, naming the field.
        for (hours, days, name) in [
            (Some(8761), None, "minNoticeHours"),
            (None, Some(0), "maxAdvanceDays"),
            (None, Some(3651), "maxAdvanceDays"),
        ] {
            assert!(
                matches!(DoctorWindow::parse(hours, days), Err(DomainError::Validation { field, .. }) if field == name)
            );
        }
    }

    #[test]
    fn a_walk_in_needs_an_active_doctor_not_an_available_one() {
        let w = WalkIn {
            id: Uuid::new_v4(),
            patient_id: Uuid::new_v4(),
            doctor_id: Uuid::new_v4(),
            reason: "fell".into(),
            booked_by: Uuid::new_v4(),
            starts_at: now(),
            minutes: 30,
        };
        let meta = RequestMeta::default();
        let (a, event) = plan_walk_in(&w, &doctor(false, true), &meta).unwrap();
        assert_eq!((a.kind, a.time_slot_id), (AppointmentType::Emergency, None));
        assert_eq!(a.ends_at - a.starts_at, chrono::Duration::minutes(30));
        assert_eq!(event.entity_id, Some(w.id));
        assert_eq!(
            plan_walk_in(&w, &doctor(true, false), &meta).unwrap_err(),
            DomainError::Conflict(Conflict::DoctorUnavailable)
        );
    }
}
