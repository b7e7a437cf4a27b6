//! FHIR R4 (4.0.1), read-only: the clinic's schedules, slots and appointments as `Schedule`,
//! `Slot` and `Appointment` resources, searched as FHIR clients search, under the same access
//! rules as the rest of the API because every read goes through the same use cases
//! ([`SchedulingService`], [`AppointmentService`]).
//!
//! # Mapping
//!
//! | ours | FHIR R4 |
//! |---|---|
//! | a schedule row (one weekly rule of one doctor) | `Schedule` (same id), `actor` `Practitioner/<doctorId>`, `active`, the rule in `comment` |
//! | a time slot | `Slot` (same id), `schedule` `Schedule/<scheduleId>`, `start`/`end` instants, `status` |
//! | an appointment | `Appointment` (same id), `status`, `appointmentType` (v2-0276), `reasonCode.text`, `start`/`end`, `slot`, `participant` doctor + patient `accepted` |
//!
//! **Why one `Schedule` per weekly rule, not per doctor:** every slot row carries the id of the
//! rule that generated it, and rules are deactivated, never deleted, so `Slot.schedule` is
//! always a real, readable `Schedule/<id>` (booked slots of a rule since changed still point
//! at it, shown `active: false`), with no synthetic ids to keep stable. A client wanting "the
//! doctor's calendar" searches `Schedule?actor=Practitioner/<id>` or
//! `Slot?schedule.actor=Practitioner/<id>`.
//!
//! `Practitioner/<id>` and `Patient/<id>` are our doctor and patient ids; this endpoint does
//! not serve those resources (the API's `/doctors/{id}` and `/patients/{id}` do).
//!
//! Appointment statuses ([`mapping::appointment_status`]): SCHEDULED `booked`, CONFIRMED
//! `arrived` (the desk confirms the patient's arrival on the day), IN_PROGRESS and COMPLETED
//! `fulfilled`, CANCELLED `cancelled`, NO_SHOW `noshow`. Slot statuses
//! ([`mapping::SlotStatus::of`]): free `free`; booked `busy`; for staff, time off or no longer
//! bookable `busy-unavailable` and held by a waitlist offer `busy-tentative`, which everyone
//! else sees as `busy`.
//!
//! # Access
//!
//! `Appointment`: a bearer token; a patient reads and finds only its own, a doctor its own, the
//! front desk and admins all ([`AppointmentService::get`] and [`AppointmentService::list`]);
//! another's answers 404, and a search naming another patient (or, for a doctor, another
//! doctor) is empty. `Schedule` and `Slot`: public, as `GET /doctors/{id}/schedules` and the
//! availability are. `/metadata`: public (clients read it before they log in).

pub mod capability;
pub mod mapping;
pub mod resources;
pub mod search;

use uuid::Uuid;

use crate::appointments::{AppointmentFilter, AppointmentService};
use crate::error::DomainError;
use crate::identity::{Actor, Role};
use crate::scheduling::SchedulingService;

pub use capability::capability_statement;
pub use mapping::Viewer;
pub use search::{AppointmentSearch, ScheduleSearch, SlotSearch};

/// One page of a search: its resources, the total when known exactly, and where the next
/// page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<R> {
    pub items: Vec<R>,
    pub total: Option<u64>,
    pub next: Option<Next>,
}

impl<R> Found<R> {
    fn none() -> Self {
        Self {
            items: Vec::new(),
            total: Some(0),
            next: None,
        }
    }

    /// Page `page` of `count` out of everything found (lists read whole: a doctor's rules, or
    /// its slots over at most 31 days).
    fn paged(all: Vec<R>, count: u32, page: u32) -> Self {
        let total = all.len() as u64;
        let skip = (page.saturating_sub(1) as usize).saturating_mul(count as usize);
        let more = all.len() > skip.saturating_add(count as usize);
        Self {
            items: all.into_iter().skip(skip).take(count as usize).collect(),
            total: Some(total),
            next: (more && page < search::MAX_PAGE).then_some(Next::Page(page + 1)),
        }
    }
}

/// Where a search's next page starts, as its `next` link will say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// `_page=<n>`.
    Page(u32),
    /// `_cursor=<position>` (appointments, read by the API's keyset).
    Cursor(String),
}

/// What the caller may see of a slot of `doctor_id` (see [`mapping::SlotStatus::of`]).
pub fn viewer(actor: Option<&Actor>, doctor_id: Uuid) -> Viewer {
    match actor {
        Some(a) if matches!(a.role, Role::Admin | Role::Receptionist) => Viewer::Staff,
        Some(a) if a.role == Role::Doctor && a.doctor_id == Some(doctor_id) => Viewer::Staff,
        _ => Viewer::Public,
    }
}

/// The FHIR reads, over the use cases the rest of the API calls.
pub struct FhirReads<'a> {
    pub appointments: &'a AppointmentService,
    pub scheduling: &'a SchedulingService,
}

impl FhirReads<'_> {
    /// One appointment the actor may see (`NotFound` otherwise, as `GET /appointments/{id}`).
    pub async fn appointment(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<resources::Appointment, DomainError> {
        Ok(mapping::appointment(
            &self.appointments.get(actor, id).await?,
        ))
    }

    /// The actor's appointments matching `search`, soonest first.
    pub async fn appointments(
        &self,
        actor: &Actor,
        search: &AppointmentSearch,
    ) -> Result<Found<resources::Appointment>, DomainError> {
        let page = search.page()?;
        // `AppointmentService::list` narrows a patient to its own and a doctor to its own; a
        // search naming someone else must then be empty, not quietly the caller's own list.
        let other_patient = actor.role == Role::Patient
            && search.patient.is_some_and(|p| Some(p) != actor.patient_id);
        let other_doctor = actor.role == Role::Doctor
            && search
                .practitioner
                .is_some_and(|d| Some(d) != actor.doctor_id);
        let no_status = search.statuses.as_ref().is_some_and(Vec::is_empty);
        if other_patient || other_doctor || no_status || search.date.is_empty() {
            return Ok(Found::none());
        }
        let filter = AppointmentFilter {
            patient_id: search.patient,
            doctor_id: search.practitioner,
            statuses: search.statuses.clone().unwrap_or_default(),
            from: search.date.from,
            // The list's `to` is inclusive; instants are stored to the microsecond.
            to: search
                .date
                .until
                .map(|u| u - chrono::Duration::microseconds(1)),
            soonest_first: true,
            ..AppointmentFilter::default()
        };
        let found = self.appointments.list(actor, filter, page).await?;
        Ok(Found {
            total: found.total_is_exact.then_some(found.total),
            next: found.next.map(|c| Next::Cursor(c.encode())),
            items: found.items.iter().map(mapping::appointment).collect(),
        })
    }

    /// One weekly rule (public).
    pub async fn schedule(&self, id: Uuid) -> Result<resources::Schedule, DomainError> {
        let rule = self.scheduling.schedule(id).await?;
        Ok(mapping::schedule(&rule, self.scheduling.zone()))
    }

    /// A doctor's weekly rules (public); an unknown doctor has none.
    pub async fn schedules(
        &self,
        search: &ScheduleSearch,
    ) -> Result<Found<resources::Schedule>, DomainError> {
        let rules = match self.scheduling.list(search.actor).await {
            Err(DomainError::NotFound(_)) => return Ok(Found::none()),
            other => other?,
        };
        let zone = self.scheduling.zone();
        let all = rules
            .iter()
            .filter(|r| search.active.is_none_or(|a| r.is_active == a))
            .map(|r| mapping::schedule(r, zone))
            .collect();
        Ok(Found::paged(all, search.count, search.page))
    }

    /// One slot (public), its status as the caller may see it.
    pub async fn slot(
        &self,
        actor: Option<&Actor>,
        id: Uuid,
    ) -> Result<resources::Slot, DomainError> {
        let slot = self.scheduling.slot(id).await?;
        Ok(mapping::slot(
            &slot,
            self.scheduling.now(),
            viewer(actor, slot.doctor_id),
        ))
    }

    /// One doctor's slots (public) over the search's days, by start, in the statuses asked
    /// for as the caller sees them. An unknown schedule or doctor has none.
    pub async fn slots(
        &self,
        actor: Option<&Actor>,
        search: &SlotSearch,
    ) -> Result<Found<resources::Slot>, DomainError> {
        let rule = match search.schedule {
            Some(id) => match self.scheduling.schedule(id).await {
                Err(DomainError::NotFound(_)) => return Ok(Found::none()),
                other => Some(other?),
            },
            None => None,
        };
        let doctor = match (&rule, search.practitioner) {
            (Some(r), Some(d)) if r.doctor_id != d => return Ok(Found::none()),
            (Some(r), _) => r.doctor_id,
            (None, Some(d)) => d,
            (None, None) => return Ok(Found::none()),
        };
        let now = self.scheduling.now();
        let zone = self.scheduling.zone();
        let Some((from, to)) = search.days(zone, now) else {
            return Ok(Found::none());
        };
        let states = match self.scheduling.slots("start", doctor, from, to).await {
            Err(DomainError::NotFound(_)) => return Ok(Found::none()),
            other => other?,
        };
        let who = viewer(actor, doctor);
        let all = states
            .iter()
            .filter(|s| rule.as_ref().is_none_or(|r| r.id == s.schedule.id))
            .filter(|s| search.start.contains(s.starts_at))
            .map(|s| mapping::slot(s, now, who))
            .filter(|s| {
                search
                    .statuses
                    .as_ref()
                    .is_none_or(|wanted| wanted.iter().any(|w| w.code() == s.status))
            })
            .collect();
        Ok(Found::paged(all, search.count, search.page))
    }
}
