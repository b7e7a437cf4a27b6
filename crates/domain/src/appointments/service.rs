//! Appointment use cases with the role rules of the spec.

mod series;

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use super::booking::BookingWindow;
#[cfg(test)]
use super::NoShowCount;
use super::{
    Appointment, AppointmentFilter, AppointmentRepository, AppointmentStatus, AppointmentType,
    NewBooking, WalkIn,
};
use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent};
use crate::billing::NewBill;
use crate::clock::Clock;
use crate::directory::DirectoryRepository;
use crate::error::DomainError;
use crate::identity::{parse_optional_text, Actor, Role};
use crate::lifecycle::Lifecycle;
use crate::paging::{Page, PageRequest};
use crate::scheduling::SlotCache;

/// A booking as requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRequest {
    pub slot_id: Uuid,
    /// Required when staff book; ignored (the actor's own record) when a patient books.
    pub patient_id: Option<Uuid>,
    pub kind: AppointmentType,
    pub reason: String,
}

/// A status change someone asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppointmentAction {
    Confirm,
    Start,
    Complete,
    Cancel {
        reason: String,
    },
    /// The patient did not come (issue 14).
    NoShow,
}

impl AppointmentAction {
    pub fn target(&self) -> AppointmentStatus {
        match self {
            Self::Confirm => AppointmentStatus::Confirmed,
            Self::Start => AppointmentStatus::InProgress,
            Self::Complete => AppointmentStatus::Completed,
            Self::Cancel { .. } => AppointmentStatus::Cancelled,
            Self::NoShow => AppointmentStatus::NoShow,
        }
    }
}

pub struct AppointmentService {
    appointments: Arc<dyn AppointmentRepository>,
    directory: Arc<dyn DirectoryRepository>,
    cache: Arc<dyn SlotCache>,
    clock: Arc<dyn Clock>,
    /// How long before the start a patient may still cancel itself.
    patient_cancel_notice: Duration,
    /// How long after completion a visit's bill is due (then the job marks it OVERDUE).
    bill_due_in: Duration,
    /// How close and how far ahead patients book themselves (see [`BookingWindow`]).
    booking_window: BookingWindow,
    /// When a visit may be confirmed and started (`None`: any time, as before issue 14).
    time_guards: Option<TimeGuards>,
    /// When a no-show may be recorded, and what it costs.
    no_show: NoShowPolicy,
    /// Told when a cancellation or a move frees a slot (the waitlist offers it).
    freed: Arc<dyn crate::waitlist::SlotsFreed>,
    /// Generates the slots a series books beyond the horizon (none: only existing slots).
    slots: Option<Arc<dyn crate::scheduling::SlotSource>>,
    /// The clinic's zone: a series' dates are local.
    zone: chrono_tz::Tz,
}

/// No-shows: recorded by the visit's doctor or the desk from `grace` after the start (the
/// patient may just be late); a bill of `fee` when the clinic charges one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoShowPolicy {
    pub grace: Duration,
    pub fee: Option<crate::money::Money>,
    /// A patient with this many no-shows in the last [`NO_SHOW_WINDOW_DAYS`] days cannot book
    /// online (the desk still can); `None`: no such policy.
    pub booking_limit: Option<u32>,
}

/// The days the no-show booking policy looks back.
pub const NO_SHOW_WINDOW_DAYS: i64 = 90;

impl Default for NoShowPolicy {
    fn default() -> Self {
        Self {
            grace: Duration::minutes(15),
            fee: None,
            booking_limit: None,
        }
    }
}

/// When the day's moves are allowed: a visit is started at most `start_early` before its
/// start (starting, then completing, is what bills it), and arrival is confirmed on the
/// appointment's own day in the clinic's `zone` (when `confirm_on_the_day`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeGuards {
    pub start_early: Duration,
    pub confirm_on_the_day: bool,
    pub zone: chrono_tz::Tz,
}

impl TimeGuards {
    /// Why `action` cannot happen to `appointment` at `now`, if it cannot.
    pub fn check(
        &self,
        action: &AppointmentAction,
        appointment: &Appointment,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), DomainError> {
        let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&self.zone);
        match action {
            AppointmentAction::Start if now < appointment.starts_at - self.start_early => {
                Err(DomainError::validation(
                    "status",
                    format!(
                        "a visit can be started from {} ({} minutes before its start)",
                        local(appointment.starts_at - self.start_early).format("%Y-%m-%d %H:%M"),
                        self.start_early.num_minutes()
                    ),
                ))
            }
            AppointmentAction::Confirm
                if self.confirm_on_the_day
                    && local(now).date_naive() != local(appointment.starts_at).date_naive() =>
            {
                Err(DomainError::validation(
                    "status",
                    format!(
                        "arrival is confirmed on the day of the visit ({})",
                        local(appointment.starts_at).date_naive()
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

impl AppointmentService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        appointments: Arc<dyn AppointmentRepository>,
        directory: Arc<dyn DirectoryRepository>,
        cache: Arc<dyn SlotCache>,
        clock: Arc<dyn Clock>,
        patient_cancel_notice: Duration,
        bill_due_in: Duration,
    ) -> Self {
        Self {
            appointments,
            directory,
            cache,
            clock,
            patient_cancel_notice,
            bill_due_in,
            booking_window: BookingWindow::default(),
            time_guards: None,
            no_show: NoShowPolicy::default(),
            freed: Arc::new(crate::waitlist::NobodyWaits),
            slots: None,
            zone: chrono_tz::Tz::UTC,
        }
    }

    /// Series: where their slots come from, and the clinic's zone their dates are in.
    pub fn with_series(
        self,
        slots: Arc<dyn crate::scheduling::SlotSource>,
        zone: chrono_tz::Tz,
    ) -> Self {
        Self {
            slots: Some(slots),
            zone,
            ..self
        }
    }

    /// Who is told when a slot frees up (nobody by default).
    pub fn with_waitlist(self, freed: Arc<dyn crate::waitlist::SlotsFreed>) -> Self {
        Self { freed, ..self }
    }

    /// The clinic's no-show rule (15 minutes' grace, no fee by default).
    pub fn with_no_show(self, no_show: NoShowPolicy) -> Self {
        Self { no_show, ..self }
    }

    /// When visits may be confirmed and started (any time by default).
    pub fn with_time_guards(self, guards: TimeGuards) -> Self {
        Self {
            time_guards: Some(guards),
            ..self
        }
    }

    /// The clinic's booking window for patients (none by default).
    pub fn with_booking_window(self, booking_window: BookingWindow) -> Self {
        Self {
            booking_window,
            ..self
        }
    }
}

/// Who the actor is in relation to an appointment.
struct Relation {
    is_patient: bool,
    is_doctor: bool,
}

impl AppointmentService {
    async fn relation(
        &self,
        actor: &Actor,
        appointment: &Appointment,
    ) -> Result<Relation, DomainError> {
        Ok(match actor.role {
            Role::Patient => Relation {
                is_patient: actor.patient_id == Some(appointment.patient_id),
                is_doctor: false,
            },
            Role::Doctor => Relation {
                is_patient: false,
                is_doctor: actor.doctor_id == Some(appointment.doctor_id),
            },
            Role::Admin | Role::Receptionist => Relation {
                is_patient: false,
                is_doctor: false,
            },
        })
    }

    /// The appointment if the actor may see it: staff at the desk and admins all; patients
    /// and doctors their own. Anyone else gets `NotFound`.
    async fn visible(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(Appointment, Relation), DomainError> {
        let appointment = self
            .appointments
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("appointment"))?;
        let relation = self.relation(actor, &appointment).await?;
        let staff = matches!(actor.role, Role::Admin | Role::Receptionist);
        if !(staff || relation.is_patient || relation.is_doctor) {
            return Err(DomainError::NotFound("appointment"));
        }
        Ok((appointment, relation))
    }

    /// A patient books for itself; receptionists and admins for any patient.
    ///
    /// With an `idempotency_key` (claimed with [`crate::idempotency::Idempotency::begin`]),
    /// the booking records its result on the key in the same transaction.
    #[tracing::instrument(name = "appointments.book", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn book(
        &self,
        actor: &Actor,
        request: BookingRequest,
        idempotency_key: Option<crate::idempotency::KeyRef>,
    ) -> Result<Appointment, DomainError> {
        actor.require(Permission::Book)?;
        let reason = parse_optional_text(Some(&request.reason), "reason", 2000)?
            .ok_or_else(|| DomainError::validation("reason", "must not be empty"))?;
        let patient_id = match actor.role {
            Role::Patient => actor.own_patient_id()?,
            Role::Receptionist | Role::Admin => {
                let id = request.patient_id.ok_or_else(|| {
                    DomainError::validation("patientId", "required when staff book")
                })?;
                self.directory
                    .patient(id)
                    .await?
                    .ok_or(DomainError::NotFound("patient"))?
                    .id
            }
            Role::Doctor => return Err(DomainError::Forbidden),
        };
        if let (Role::Patient, Some(limit)) = (actor.role, self.no_show.booking_limit) {
            let since = self.clock.now() - Duration::days(NO_SHOW_WINDOW_DAYS);
            if self.appointments.no_shows(patient_id, since).await?.recent >= u64::from(limit) {
                return Err(DomainError::Conflict(crate::error::Conflict::NoShowLimit));
            }
        }
        let booking = NewBooking {
            id: Uuid::new_v4(),
            patient_id,
            slot_id: request.slot_id,
            kind: request.kind,
            reason,
            booked_by: actor.user_id,
            now: self.clock.now(),
            idempotency_key,
            // Patients book inside the window; the desk is not bound by it.
            window: (actor.role == Role::Patient).then_some(self.booking_window),
        };
        let booked = self.appointments.book(booking, actor.meta.clone()).await?;
        if let Some(date) = booked.slot_date {
            self.cache
                .invalidate(booked.appointment.doctor_id, &[date])
                .await;
        }
        Ok(booked.appointment)
    }

    #[tracing::instrument(name = "appointments.get", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<Appointment, DomainError> {
        self.visible(actor, id).await.map(|(a, _)| a)
    }

    /// Confirm (receptionist, admin, the appointment's doctor or patient), start and complete
    /// (its doctor), cancel (its patient up to the notice period before the start; staff any
    /// time before IN_PROGRESS). An illegal move is `InvalidTransition` naming the allowed ones.
    #[tracing::instrument(name = "appointments.act", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn act(
        &self,
        actor: &Actor,
        id: Uuid,
        action: AppointmentAction,
    ) -> Result<Appointment, DomainError> {
        let (current, relation) = self.visible(actor, id).await?;
        let desk = matches!(actor.role, Role::Admin | Role::Receptionist);
        let permitted = match &action {
            AppointmentAction::Confirm => desk || relation.is_doctor || relation.is_patient,
            AppointmentAction::Start | AppointmentAction::Complete => relation.is_doctor,
            AppointmentAction::Cancel { .. } => desk || relation.is_doctor || relation.is_patient,
            AppointmentAction::NoShow => desk || relation.is_doctor,
        };
        if !permitted {
            return Err(DomainError::Forbidden);
        }
        // The request's own values first (the body's field is `reason`), then the state.
        let cancel_reason = match &action {
            AppointmentAction::Cancel { reason } => Some(
                parse_optional_text(Some(reason), "reason", 500)?.ok_or_else(|| {
                    DomainError::validation("reason", "a reason is required to cancel")
                })?,
            ),
            _ => None,
        };
        let target = action.target();
        current.status.check_move(target)?;
        if let Some(guards) = &self.time_guards {
            guards.check(&action, &current, self.clock.now())?;
        }
        if target == AppointmentStatus::NoShow
            && self.clock.now() < current.starts_at + self.no_show.grace
        {
            return Err(DomainError::validation(
                "status",
                format!(
                    "a no-show can be recorded from {} minutes after the start ({})",
                    self.no_show.grace.num_minutes(),
                    (current.starts_at + self.no_show.grace).to_rfc3339()
                ),
            ));
        }
        if cancel_reason.is_some()
            && relation.is_patient
            && current.starts_at - self.clock.now() < self.patient_cancel_notice
        {
            return Err(DomainError::validation(
                "status",
                format!(
                    "patients may cancel up to {} hours before the start; call the front desk",
                    self.patient_cancel_notice.num_hours()
                ),
            ));
        }
        let mut after = current.clone();
        after.status = target;
        after.cancel_reason.clone_from(&cancel_reason);
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "appointment",
            Some(id),
            &actor.meta,
        )
        .before(current.snapshot())
        .after(after.snapshot());
        // Completing a visit bills it, in the same transaction, for the fee quoted at booking.
        let bill = match (target, &self.no_show.fee) {
            (AppointmentStatus::Completed, _) => Some(NewBill::for_completion(
                &current,
                actor,
                self.clock.now(),
                self.bill_due_in,
            )),
            // A missed visit is billed only when the clinic charges for one.
            (AppointmentStatus::NoShow, Some(fee)) => Some(NewBill::for_no_show(
                &current,
                actor,
                self.clock.now(),
                self.bill_due_in,
                fee.clone(),
            )),
            _ => None,
        };
        let moved = self
            .appointments
            .transition(id, current.status, target, cancel_reason, event, bill)
            .await?;
        if let (Some(date), AppointmentStatus::Cancelled) = (moved.slot_date, target) {
            self.cache
                .invalidate(moved.appointment.doctor_id, &[date])
                .await;
            self.freed
                .slots_freed(Some(moved.appointment.doctor_id))
                .await;
        }
        Ok(moved.appointment)
    }

    /// Moves an appointment to another free slot of its doctor (the patient itself outside the
    /// notice period, or the front desk and admins), in one transaction.
    #[tracing::instrument(name = "appointments.reschedule", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id, slot_id = %slot_id))]
    pub async fn reschedule(
        &self,
        actor: &Actor,
        id: Uuid,
        slot_id: Uuid,
    ) -> Result<Appointment, DomainError> {
        let (current, relation) = self.visible(actor, id).await?;
        let desk = matches!(actor.role, Role::Admin | Role::Receptionist);
        if !(desk || relation.is_patient) {
            return Err(DomainError::Forbidden);
        }
        if !current.status.can_be_rescheduled() {
            return Err(current.status.refuse("RESCHEDULED"));
        }
        if current.time_slot_id.is_none() {
            return Err(DomainError::validation(
                "timeSlotId",
                "walk-ins have no slot to move",
            ));
        }
        let now = self.clock.now();
        if relation.is_patient && current.starts_at - now < self.patient_cancel_notice {
            return Err(DomainError::validation(
                "timeSlotId",
                "inside the notice period; call the front desk",
            ));
        }
        let (moved, dates) = self
            .appointments
            .reschedule(
                id,
                slot_id,
                now,
                actor.user_id,
                actor.meta.clone(),
                relation.is_patient.then_some(self.booking_window),
            )
            .await?;
        self.cache.invalidate(moved.doctor_id, &dates).await;
        self.freed.slots_freed(Some(moved.doctor_id)).await;
        Ok(moved)
    }

    /// A patient's no-shows, in all and in the last 90 days: staff only (the desk, doctors,
    /// admins); a patient gets 403.
    pub async fn no_shows(
        &self,
        actor: &Actor,
        patient_id: Uuid,
    ) -> Result<super::NoShowCount, DomainError> {
        if actor.role == Role::Patient {
            return Err(DomainError::Forbidden);
        }
        self.directory
            .patient(patient_id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        let since = self.clock.now() - Duration::days(NO_SHOW_WINDOW_DAYS);
        self.appointments.no_shows(patient_id, since).await
    }

    /// Front desk and admins register an EMERGENCY walk-in: no slot, starting now.
    #[tracing::instrument(name = "appointments.walk_in", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, patient_id = %patient_id, doctor_id = %doctor_id))]
    pub async fn walk_in(
        &self,
        actor: &Actor,
        patient_id: Uuid,
        doctor_id: Uuid,
        reason: &str,
    ) -> Result<Appointment, DomainError> {
        actor.require(Permission::RegisterWalkIns)?;
        let reason = parse_optional_text(Some(reason), "reason", 2000)?
            .ok_or_else(|| DomainError::validation("reason", "must not be empty"))?;
        self.directory
            .patient(patient_id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        let walk_in = WalkIn {
            id: Uuid::new_v4(),
            patient_id,
            doctor_id,
            reason,
            booked_by: actor.user_id,
            starts_at: self.clock.now(),
            minutes: 30,
        };
        self.appointments.walk_in(walk_in, actor.meta.clone()).await
    }

    /// The REMINDER job's one step.
    #[tracing::instrument(name = "appointments.send_reminders", skip_all)]
    pub async fn send_reminders(&self, lead: Duration) -> Result<usize, DomainError> {
        let now = self.clock.now();
        let due = self.appointments.due_reminders(now, now + lead).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let reminders = due
            .iter()
            .map(|d| (d.appointment_id, super::booking::reminder_notice(d)))
            .collect();
        self.appointments.add_reminders(reminders).await
    }

    /// My appointments (patient), my day (doctor), or all (desk and admins), filtered.
    #[tracing::instrument(name = "appointments.list", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: AppointmentFilter,
        page: PageRequest,
    ) -> Result<Page<Appointment>, DomainError> {
        match actor.role {
            Role::Patient => {
                filter.patient_id = Some(actor.own_patient_id()?);
            }
            Role::Doctor => {
                filter.doctor_id = Some(actor.own_doctor_id()?);
            }
            Role::Admin | Role::Receptionist => {}
        }
        crate::dates::check_window(filter.from, filter.to)?;
        self.appointments.list(filter, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::MockAppointmentRepository;
    use crate::audit::RequestMeta;
    use crate::clock::FixedClock;
    use crate::directory::{MockDirectoryRepository, Patient};
    use crate::money::Money;
    use crate::scheduling::MockSlotCache;
    use chrono::{TimeZone, Utc};

    fn now() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap()
    }

    fn appointment(
        patient_id: Uuid,
        status: AppointmentStatus,
        starts_in: Duration,
    ) -> Appointment {
        Appointment {
            id: Uuid::new_v4(),
            patient_id,
            doctor_id: Uuid::new_v4(),
            time_slot_id: Some(Uuid::new_v4()),
            kind: AppointmentType::Consultation,
            status,
            reason: "r".into(),
            notes: None,
            cancel_reason: None,
            consultation_fee: Money::parse("10", "f").unwrap(),
            starts_at: now() + starts_in,
            ends_at: now() + starts_in + Duration::minutes(30),
            created_at: now(),
            updated_at: now(),
        }
    }

    fn patient_actor() -> (Actor, Patient) {
        let actor = crate::testing::actor(Role::Patient);
        let patient = crate::testing::patient_of(&actor);
        (actor, patient)
    }

    fn service(
        repo: MockAppointmentRepository,
        directory: MockDirectoryRepository,
    ) -> AppointmentService {
        AppointmentService {
            appointments: Arc::new(repo),
            directory: Arc::new(directory),
            cache: Arc::new(MockSlotCache::new()),
            clock: Arc::new(FixedClock(now())),
            patient_cancel_notice: Duration::hours(24),
            bill_due_in: Duration::days(30),
            booking_window: BookingWindow::default(),
            time_guards: None,
            no_show: NoShowPolicy::default(),
            freed: Arc::new(crate::waitlist::NobodyWaits),
            slots: None,
            zone: chrono_tz::Tz::UTC,
        }
    }

    #[test]
    fn visits_start_at_most_an_hour_early_and_arrival_is_confirmed_on_the_day() {
        use chrono::TimeZone;
        let guards = TimeGuards {
            start_early: Duration::minutes(60),
            confirm_on_the_day: true,
            zone: chrono_tz::Europe::London,
        };
        // 09:30 BST on 30 March 2026 (08:30 UTC).
        let visit = crate::testing::appointment_of(
            Uuid::new_v4(),
            Uuid::new_v4(),
            AppointmentStatus::Scheduled,
            chrono::Utc.with_ymd_and_hms(2026, 3, 30, 8, 30, 0).unwrap(),
        );
        let at = |h: u32, m: u32| chrono::Utc.with_ymd_and_hms(2026, 3, 30, h, m, 0).unwrap();
        let refused = |r: Result<(), DomainError>| match r {
            Err(DomainError::Validation { field, message }) => {
                assert_eq!(field, "status");
                message
            }
            other => panic!("{other:?}"),
        };
        let early = refused(guards.check(&AppointmentAction::Start, &visit, at(7, 29)));
        assert!(early.contains("2026-03-30 08:30"), "local time: {early}");
        assert!(guards
            .check(&AppointmentAction::Start, &visit, at(7, 30))
            .is_ok());
        // The day before in London (23:30 UTC on the 29th is 00:30 BST on the 30th).
        let before = chrono::Utc
            .with_ymd_and_hms(2026, 3, 29, 22, 59, 0)
            .unwrap();
        assert!(
            refused(guards.check(&AppointmentAction::Confirm, &visit, before))
                .contains("2026-03-30")
        );
        let same_day = chrono::Utc.with_ymd_and_hms(2026, 3, 29, 23, 0, 0).unwrap();
        assert!(guards
            .check(&AppointmentAction::Confirm, &visit, same_day)
            .is_ok());
        // Cancelling and completing are not guarded by time.
        assert!(guards
            .check(&AppointmentAction::Complete, &visit, before)
            .is_ok());
        let off = TimeGuards {
            confirm_on_the_day: false,
            ..guards
        };
        assert!(off
            .check(&AppointmentAction::Confirm, &visit, before)
            .is_ok());
    }

    #[tokio::test]
    async fn an_illegal_move_names_the_allowed_ones() {
        let (actor, patient) = patient_actor();
        let a = appointment(patient.id, AppointmentStatus::Scheduled, Duration::days(3));
        let mut repo = MockAppointmentRepository::new();
        repo.expect_get().returning(move |_| Ok(Some(a.clone())));
        let mut directory = MockDirectoryRepository::new();
        directory
            .expect_patient_of_user()
            .returning(move |_| Ok(Some(patient.clone())));
        directory.expect_doctor_of_user().returning(|_| Ok(None));
        let svc = service(repo, directory);
        // A patient may not start an appointment at all ...
        assert_eq!(
            svc.act(&actor, Uuid::new_v4(), AppointmentAction::Start)
                .await,
            Err(DomainError::Forbidden)
        );
        // ... and from SCHEDULED, COMPLETED is not a legal move for anyone.
        let desk = Actor {
            role: Role::Receptionist,
            ..actor.clone()
        };
        let err = svc
            .act(&desk, Uuid::new_v4(), AppointmentAction::Complete)
            .await;
        assert_eq!(
            err.unwrap_err(),
            DomainError::Forbidden,
            "only the appointment's doctor completes"
        );
    }

    #[tokio::test]
    async fn confirming_twice_is_an_invalid_transition_naming_the_allowed_moves() {
        let a = appointment(
            Uuid::new_v4(),
            AppointmentStatus::Confirmed,
            Duration::days(3),
        );
        let mut repo = MockAppointmentRepository::new();
        repo.expect_get().returning(move |_| Ok(Some(a.clone())));
        let svc = service(repo, MockDirectoryRepository::new());
        let desk = Actor {
            user_id: Uuid::new_v4(),
            role: Role::Receptionist,
            session_id: Uuid::new_v4(),
            patient_id: None,
            doctor_id: None,
            meta: RequestMeta::default(),
        };
        let err = svc
            .act(&desk, Uuid::new_v4(), AppointmentAction::Confirm)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            DomainError::InvalidTransition {
                from: "CONFIRMED".into(),
                to: "CONFIRMED".into(),
                allowed: vec!["IN_PROGRESS".into(), "CANCELLED".into(), "NO_SHOW".into()]
            }
        );
    }

    #[tokio::test]
    async fn a_patient_cannot_cancel_inside_the_notice_period() {
        let (actor, patient) = patient_actor();
        let a = appointment(patient.id, AppointmentStatus::Confirmed, Duration::hours(3));
        let mut repo = MockAppointmentRepository::new();
        repo.expect_get().returning(move |_| Ok(Some(a.clone())));
        let mut directory = MockDirectoryRepository::new();
        directory
            .expect_patient_of_user()
            .returning(move |_| Ok(Some(patient.clone())));
        let svc = service(repo, directory);
        let err = svc
            .act(
                &actor,
                Uuid::new_v4(),
                AppointmentAction::Cancel {
                    reason: "busy".into(),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, DomainError::Validation { ref field, .. } if field == "status"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn someone_elses_appointment_is_not_found() {
        let (actor, patient) = patient_actor();
        let a = appointment(
            Uuid::new_v4(),
            AppointmentStatus::Scheduled,
            Duration::days(3),
        );
        let mut repo = MockAppointmentRepository::new();
        repo.expect_get().returning(move |_| Ok(Some(a.clone())));
        let mut directory = MockDirectoryRepository::new();
        directory
            .expect_patient_of_user()
            .returning(move |_| Ok(Some(patient.clone())));
        let svc = service(repo, directory);
        assert_eq!(
            svc.get(&actor, Uuid::new_v4()).await,
            Err(DomainError::NotFound("appointment"))
        );
    }

    #[tokio::test]
    async fn completing_bills_the_fee_quoted_at_booking_in_the_same_call() {
        let doctor_user = Uuid::new_v4();
        let mut a = appointment(
            Uuid::new_v4(),
            AppointmentStatus::InProgress,
            Duration::zero(),
        );
        a.consultation_fee = Money::parse("80.15", "f").unwrap();
        let doctor_id = a.doctor_id;
        let mut directory = MockDirectoryRepository::new();
        directory.expect_doctor_of_user().returning(move |_| {
            Ok(Some(crate::testing::doctor_of(
                doctor_user,
                doctor_id,
                "999",
            )))
        });
        let mut repo = MockAppointmentRepository::new();
        let current = a.clone();
        repo.expect_get()
            .returning(move |_| Ok(Some(current.clone())));
        repo.expect_transition()
            .withf(|_, _, to, _, _, bill| {
                *to == AppointmentStatus::Completed
                    && bill.as_ref().is_some_and(|b| {
                        b.amount.to_string() == "80.15"
                            && b.due_at == now() + Duration::days(30)
                            && b.event.entity == "billing"
                    })
            })
            .returning(move |_, _, _, _, _, _| {
                let mut done = a.clone();
                done.status = AppointmentStatus::Completed;
                Ok(crate::appointments::Booked {
                    appointment: done,
                    slot_date: None,
                })
            });
        let svc = service(repo, directory);
        let doctor = Actor {
            user_id: doctor_user,
            role: Role::Doctor,
            session_id: Uuid::new_v4(),
            patient_id: None,
            doctor_id: Some(doctor_id),
            meta: RequestMeta::default(),
        };
        let done = svc
            .act(&doctor, Uuid::new_v4(), AppointmentAction::Complete)
            .await
            .unwrap();
        assert_eq!(done.status, AppointmentStatus::Completed);
    }

    #[tokio::test]
    async fn a_no_show_waits_for_the_grace_period_and_bills_the_fee_only_when_there_is_one() {
        let desk = crate::testing::actor(Role::Receptionist);
        let patient_id = Uuid::new_v4();
        // Started 10 minutes ago (the clock stands at now()).
        let visit = crate::testing::appointment_of(
            patient_id,
            Uuid::new_v4(),
            AppointmentStatus::Confirmed,
            now() - Duration::minutes(10),
        );
        let repo_with = |visit: Appointment, fee: Option<&'static str>| {
            let mut repo = MockAppointmentRepository::new();
            let current = visit.clone();
            repo.expect_get()
                .returning(move |_| Ok(Some(current.clone())));
            repo.expect_transition()
                .withf(move |_, from, to, _, _, bill| {
                    *from == AppointmentStatus::Confirmed
                        && *to == AppointmentStatus::NoShow
                        && bill.as_ref().map(|b| b.amount.to_string()) == fee.map(str::to_owned)
                })
                .returning(move |_, _, _, _, _, _| {
                    let mut missed = visit.clone();
                    missed.status = AppointmentStatus::NoShow;
                    Ok(crate::appointments::Booked {
                        appointment: missed,
                        slot_date: None,
                    })
                });
            repo
        };
        // 10 minutes in: the patient may be late (the repository is never asked to move it).
        let mut early = MockAppointmentRepository::new();
        let current = visit.clone();
        early
            .expect_get()
            .returning(move |_| Ok(Some(current.clone())));
        let svc = service(early, MockDirectoryRepository::new());
        let refused = svc.act(&desk, visit.id, AppointmentAction::NoShow).await;
        assert!(
            matches!(refused, Err(DomainError::Validation { ref field, .. }) if field == "status"),
            "{refused:?}"
        );
        // With 5 minutes' grace: recorded; billed only when the clinic charges a fee.
        for fee in [None, Some("25.00")] {
            let svc = service(
                repo_with(visit.clone(), fee),
                MockDirectoryRepository::new(),
            )
            .with_no_show(NoShowPolicy {
                grace: Duration::minutes(5),
                fee: fee.map(|f| crate::money::Money::parse(f, "fee").unwrap()),
                booking_limit: None,
            });
            let missed = svc
                .act(&desk, visit.id, AppointmentAction::NoShow)
                .await
                .unwrap();
            assert_eq!(missed.status, AppointmentStatus::NoShow);
        }
        // The patient itself cannot.
        let mut patient = crate::testing::actor(Role::Patient);
        patient.patient_id = Some(patient_id);
        let mut repo = MockAppointmentRepository::new();
        let current = visit.clone();
        repo.expect_get()
            .returning(move |_| Ok(Some(current.clone())));
        let svc = service(repo, MockDirectoryRepository::new()).with_no_show(NoShowPolicy {
            grace: Duration::minutes(5),
            fee: None,
            booking_limit: None,
        });
        assert_eq!(
            svc.act(&patient, visit.id, AppointmentAction::NoShow).await,
            Err(DomainError::Forbidden)
        );
    }

    #[tokio::test]
    async fn patients_with_too_many_recent_no_shows_book_through_the_desk() {
        let (actor, _) = patient_actor();
        let mut repo = MockAppointmentRepository::new();
        repo.expect_no_shows()
            .withf(|_, since| *since == now() - Duration::days(NO_SHOW_WINDOW_DAYS))
            .returning(|_, _| {
                Ok(NoShowCount {
                    total: 3,
                    recent: 2,
                })
            });
        let svc = service(repo, MockDirectoryRepository::new()).with_no_show(NoShowPolicy {
            booking_limit: Some(2),
            ..NoShowPolicy::default()
        });
        let request = BookingRequest {
            slot_id: Uuid::new_v4(),
            patient_id: None,
            kind: AppointmentType::Consultation,
            reason: "pain".into(),
        };
        assert_eq!(
            svc.book(&actor, request, None).await,
            Err(DomainError::Conflict(crate::error::Conflict::NoShowLimit))
        );
    }

    #[tokio::test]
    async fn cancelling_needs_a_reason_and_doctors_cannot_book() {
        let doctor = Actor {
            user_id: Uuid::new_v4(),
            role: Role::Doctor,
            session_id: Uuid::new_v4(),
            patient_id: None,
            doctor_id: None,
            meta: RequestMeta::default(),
        };
        let svc = service(
            MockAppointmentRepository::new(),
            MockDirectoryRepository::new(),
        );
        let request = BookingRequest {
            slot_id: Uuid::new_v4(),
            patient_id: None,
            kind: AppointmentType::Consultation,
            reason: "pain".into(),
        };
        assert_eq!(
            svc.book(&doctor, request, None).await,
            Err(DomainError::Forbidden)
        );
    }
}
