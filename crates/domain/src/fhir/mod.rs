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
//! ([`mapping::SlotStatus::of`]): free `free`; booked `busy`; for staff, time off, a doctor
//! taking no appointments or no longer bookable `busy-unavailable`, and held by a waitlist
//! offer `busy-tentative`, which everyone else sees as `busy`.
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
        // The list names its window's bounds `from`/`to` (a year past 9999, from `gt9999`);
        // here they are `date`.
        let found = self
            .appointments
            .list(actor, filter, page)
            .await
            .map_err(|e| match e {
                DomainError::Validation { field, message } if field == "from" || field == "to" => {
                    DomainError::validation("date", message)
                }
                other => other,
            })?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, TimeZone, Utc};
    use chrono_tz::Tz;

    use super::*;
    use crate::appointments::{AppointmentStatus, MockAppointmentRepository};
    use crate::clock::FixedClock;
    use crate::directory::MockDirectoryRepository;
    use crate::paging::{Page, PageRequest};
    use crate::scheduling::{MockScheduleRepository, MockSlotCache, MockTimeOffRepository};
    use crate::testing::{actor, appointment_of};

    fn now() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap()
    }

    fn services(
        appointments: MockAppointmentRepository,
        schedules: MockScheduleRepository,
    ) -> (AppointmentService, SchedulingService) {
        let clock = Arc::new(FixedClock(now()));
        (
            AppointmentService::new(
                Arc::new(appointments),
                Arc::new(MockDirectoryRepository::new()),
                Arc::new(MockSlotCache::new()),
                clock.clone(),
                Duration::hours(24),
                Duration::days(30),
            ),
            SchedulingService::new(
                Arc::new(schedules),
                Arc::new(MockTimeOffRepository::new()),
                Arc::new(MockDirectoryRepository::new()),
                Arc::new(MockSlotCache::new()),
                clock,
                Tz::UTC,
                60,
            ),
        )
    }

    fn search(pairs: &[(&str, &str)]) -> AppointmentSearch {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        AppointmentSearch::parse(&pairs, Tz::UTC).unwrap()
    }

    /// Searches that can only be empty for this caller never reach the store (the mock
    /// repository has no expectation, so a call would panic).
    #[tokio::test]
    async fn naming_someone_the_caller_may_not_see_is_empty_without_a_query() {
        let (appointments, scheduling) = services(
            MockAppointmentRepository::new(),
            MockScheduleRepository::new(),
        );
        let reads = FhirReads {
            appointments: &appointments,
            scheduling: &scheduling,
        };
        let other = Uuid::new_v4().to_string();
        for (who, pairs) in [
            (Role::Patient, vec![("patient", other.as_str())]),
            (Role::Doctor, vec![("practitioner", other.as_str())]),
            (Role::Admin, vec![("status", "proposed")]),
            (
                Role::Admin,
                vec![("date", "gt2030-01-02"), ("date", "lt2030-01-02")],
            ),
        ] {
            let found = reads
                .appointments(&actor(who), &search(&pairs))
                .await
                .unwrap();
            assert_eq!(found, Found::none(), "{who:?} {pairs:?}");
        }
    }

    /// The desk's search reaches the repository as the API's filter: statuses mapped, the
    /// inclusive `to` just before the exclusive bound, soonest first; a patient's own list is
    /// narrowed to itself by the same use case as `GET /appointments`.
    #[tokio::test]
    async fn searches_become_the_apis_filter_and_pages() {
        let patient = actor(Role::Patient);
        let own = patient.patient_id.unwrap();
        let mut repo = MockAppointmentRepository::new();
        repo.expect_list()
            .withf(move |f, p| {
                f.patient_id == Some(own)
                    && f.statuses == [AppointmentStatus::InProgress, AppointmentStatus::Completed]
                    && f.from == Some(Utc.with_ymd_and_hms(2030, 1, 2, 0, 0, 0).unwrap())
                    && f.to
                        == Some(
                            Utc.with_ymd_and_hms(2030, 1, 3, 0, 0, 0).unwrap()
                                - Duration::microseconds(1),
                        )
                    && f.soonest_first
                    && p.per_page == 5
            })
            .returning(move |_, _| {
                let a = appointment_of(own, Uuid::new_v4(), AppointmentStatus::Completed, now());
                Ok(Page {
                    items: vec![a.clone()],
                    total: 1000,
                    total_is_exact: false,
                    page: Some(1),
                    per_page: 5,
                    next: Some(crate::paging::Cursor::At(a.starts_at, a.id)),
                })
            });
        let (appointments, scheduling) = services(repo, MockScheduleRepository::new());
        let reads = FhirReads {
            appointments: &appointments,
            scheduling: &scheduling,
        };
        let found = reads
            .appointments(
                &patient,
                &search(&[
                    ("status", "fulfilled"),
                    ("date", "2030-01-02"),
                    ("_count", "5"),
                ]),
            )
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
        assert_eq!(found.items[0].status, "fulfilled");
        assert_eq!(found.total, None, "a capped count is not FHIR's total");
        let Some(Next::Cursor(cursor)) = found.next else {
            panic!("a cursor to the next page");
        };
        assert!(PageRequest::parse(None, Some(5), Some(&cursor)).is_ok());
    }

    /// A bound past the years the clinic works in is refused naming `date`, not the API's
    /// `from`, before any query.
    #[tokio::test]
    async fn a_date_past_9999_names_date() {
        let (appointments, scheduling) = services(
            MockAppointmentRepository::new(),
            MockScheduleRepository::new(),
        );
        let reads = FhirReads {
            appointments: &appointments,
            scheduling: &scheduling,
        };
        let err = reads
            .appointments(&actor(Role::Admin), &search(&[("date", "gt9999")]))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::Validation { field, .. } if field == "date"),
            "{err:?}"
        );
    }

    #[test]
    fn staff_and_the_slots_own_doctor_see_why_a_slot_is_busy() {
        let doctor = actor(Role::Doctor);
        let own = doctor.doctor_id.unwrap();
        assert_eq!(viewer(Some(&doctor), own), Viewer::Staff);
        assert_eq!(viewer(Some(&doctor), Uuid::new_v4()), Viewer::Public);
        assert_eq!(viewer(Some(&actor(Role::Receptionist)), own), Viewer::Staff);
        assert_eq!(viewer(Some(&actor(Role::Admin)), own), Viewer::Staff);
        assert_eq!(viewer(Some(&actor(Role::Patient)), own), Viewer::Public);
        assert_eq!(viewer(None, own), Viewer::Public);
    }

    #[test]
    fn pages_of_whole_lists() {
        let found = Found::paged((1..=7).collect::<Vec<_>>(), 3, 2);
        assert_eq!(
            (found.items, found.total, found.next),
            (vec![4, 5, 6], Some(7), Some(Next::Page(3)))
        );
        let last = Found::paged((1..=7).collect::<Vec<_>>(), 3, 3);
        assert_eq!((last.items, last.next), (vec![7], None));
        let past = Found::paged((1..=7).collect::<Vec<_>>(), 3, 9);
        assert!(past.items.is_empty());
    }
}
