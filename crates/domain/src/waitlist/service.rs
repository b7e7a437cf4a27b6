//! Waitlist use cases: joining and leaving (a patient for itself, the desk for anyone),
//! listing (a patient its own, a doctor its own waitlist, the desk and admins all), answering
//! an offer (its patient, or the desk on the patient's behalf) and matching.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use uuid::Uuid;

use super::{
    Offer, PartOfDay, SlotsFreed, WaitlistEntry, WaitlistFilter, WaitlistRepository,
    WaitlistStatus, MAX_WAIT_DAYS,
};
use crate::access::Permission;
use crate::appointments::{Appointment, AppointmentRepository, AppointmentType, NewBooking};
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::directory::DirectoryRepository;
use crate::error::{Conflict, DomainError};
use crate::identity::{parse_optional_text, Actor, Role};
use crate::paging::{Page, PageRequest};
use crate::scheduling::SlotCache;

/// The most offers one matching pass makes (the timer comes back for the rest).
const OFFERS_PER_PASS: usize = 200;

pub struct WaitlistService {
    repo: Arc<dyn WaitlistRepository>,
    directory: Arc<dyn DirectoryRepository>,
    cache: Arc<dyn SlotCache>,
    clock: Arc<dyn Clock>,
    tz: Tz,
    /// How long an offer holds its slot.
    hold: Duration,
    /// The clinic's `NO_SHOW_BOOKING_LIMIT` and where no-shows are counted: a patient over it
    /// books through the desk, so it neither joins nor accepts online.
    no_show_limit: Option<(Arc<dyn AppointmentRepository>, u32)>,
}

/// A request to wait for a doctor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub doctor_id: Uuid,
    /// Required when staff add a patient; a patient waits for itself.
    pub patient_id: Option<Uuid>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub part_of_day: Option<PartOfDay>,
}

impl WaitlistService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    pub fn new(
        repo: Arc<dyn WaitlistRepository>,
        directory: Arc<dyn DirectoryRepository>,
        cache: Arc<dyn SlotCache>,
        clock: Arc<dyn Clock>,
        tz: Tz,
        hold: Duration,
    ) -> Self {
        Self {
            repo,
            directory,
            cache,
            clock,
            tz,
            hold,
            no_show_limit: None,
        }
    }

    /// Holds patients to the clinic's no-show limit (none by default).
    pub fn with_no_show_limit(
        self,
        appointments: Arc<dyn AppointmentRepository>,
        limit: Option<u32>,
    ) -> Self {
        Self {
            no_show_limit: limit.map(|l| (appointments, l)),
            ..self
        }
    }

    /// A patient acting online over the no-show limit is sent to the desk, as when booking.
    async fn check_no_show_limit(
        &self,
        actor: &Actor,
        patient_id: Uuid,
    ) -> Result<(), DomainError> {
        let (Role::Patient, Some((appointments, limit))) = (actor.role, &self.no_show_limit) else {
            return Ok(());
        };
        let since = self.clock.now() - Duration::days(crate::appointments::NO_SHOW_WINDOW_DAYS);
        if appointments.no_shows(patient_id, since).await?.recent >= u64::from(*limit) {
            return Err(DomainError::Conflict(Conflict::NoShowLimit));
        }
        Ok(())
    }

    fn today(&self) -> NaiveDate {
        self.clock.now().with_timezone(&self.tz).date_naive()
    }

    /// The patient an actor acts for: itself, or (staff) the one named, which must exist.
    async fn patient_for(&self, actor: &Actor, named: Option<Uuid>) -> Result<Uuid, DomainError> {
        match actor.role {
            Role::Patient => actor.own_patient_id(),
            Role::Receptionist | Role::Admin => {
                let id = named.ok_or_else(|| {
                    DomainError::validation("patientId", "required when staff add a patient")
                })?;
                Ok(self
                    .directory
                    .patient(id)
                    .await?
                    .ok_or(DomainError::NotFound("patient"))?
                    .id)
            }
            Role::Doctor => Err(DomainError::Forbidden),
        }
    }

    /// An entry the actor may see (`NotFound` otherwise, so ids cannot be probed).
    async fn visible_entry(&self, actor: &Actor, id: Uuid) -> Result<WaitlistEntry, DomainError> {
        let entry = self
            .repo
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("waitlist entry"))?;
        let visible = match actor.role {
            Role::Admin | Role::Receptionist => true,
            Role::Patient => actor.patient_id == Some(entry.patient_id),
            Role::Doctor => actor.doctor_id == Some(entry.doctor_id),
        };
        if visible {
            Ok(entry)
        } else {
            Err(DomainError::NotFound("waitlist entry"))
        }
    }

    /// An open offer the actor may answer: its patient's, or any for the desk. Another
    /// patient's is `NotFound`; one already answered or expired is `Conflict(OfferClosed)`.
    async fn answerable_offer(&self, actor: &Actor, id: Uuid) -> Result<Offer, DomainError> {
        actor.require(Permission::Book)?;
        let offer = self
            .repo
            .offer(id)
            .await?
            .ok_or(DomainError::NotFound("offer"))?;
        match actor.role {
            Role::Patient if actor.patient_id != Some(offer.patient_id) => {
                Err(DomainError::NotFound("offer"))
            }
            _ if !offer.open => Err(DomainError::Conflict(Conflict::OfferClosed)),
            _ => Ok(offer),
        }
    }

    /// Puts a patient on a doctor's waitlist; a matching free slot is offered at once.
    #[tracing::instrument(name = "waitlist.join", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn join(
        &self,
        actor: &Actor,
        request: JoinRequest,
    ) -> Result<WaitlistEntry, DomainError> {
        actor.require(Permission::Book)?;
        crate::dates::check_date("from", request.from)?;
        crate::dates::check_date("to", request.to)?;
        if request.from < self.today() {
            return Err(DomainError::validation("from", "must be today or later"));
        }
        if request.to < request.from || request.to - request.from >= Duration::days(MAX_WAIT_DAYS) {
            return Err(DomainError::validation(
                "to",
                format!("must be on or after from, at most {MAX_WAIT_DAYS} days"),
            ));
        }
        let patient_id = self.patient_for(actor, request.patient_id).await?;
        self.check_no_show_limit(actor, patient_id).await?;
        let doctor = self
            .directory
            .doctor(request.doctor_id)
            .await?
            .filter(|d| d.is_active)
            .ok_or(DomainError::NotFound("doctor"))?;
        let entry = WaitlistEntry {
            id: Uuid::new_v4(),
            patient_id,
            doctor_id: doctor.id,
            from: request.from,
            to: request.to,
            part_of_day: request.part_of_day,
            status: WaitlistStatus::Waiting,
            created_by: actor.user_id,
            created_at: self.clock.now(),
            offer: None,
        };
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "waitlist_entry",
            Some(entry.id),
            &actor.meta,
        )
        .after(entry.snapshot());
        self.repo.join(entry.clone(), event).await?;
        self.slots_freed(Some(entry.doctor_id)).await;
        // As it stands after matching (it may hold an offer already).
        Ok(self.repo.get(entry.id).await?.unwrap_or(entry))
    }

    /// Entries oldest first: a patient's own, a doctor's own waitlist, or (the desk and
    /// admins) any, narrowed by `filter`.
    #[tracing::instrument(name = "waitlist.list", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: WaitlistFilter,
        page: PageRequest,
    ) -> Result<Page<WaitlistEntry>, DomainError> {
        match actor.role {
            Role::Patient => filter.patient_id = Some(actor.own_patient_id()?),
            Role::Doctor => {
                filter.doctor_id = Some(actor.doctor_id.ok_or(DomainError::NotFound("doctor"))?)
            }
            Role::Admin | Role::Receptionist => {}
        }
        self.repo.list(filter, page).await
    }

    /// One entry the actor may see.
    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<WaitlistEntry, DomainError> {
        self.visible_entry(actor, id).await
    }

    /// Leaves the waitlist (a patient its own entry, the desk any); a held slot goes to the
    /// next patient.
    #[tracing::instrument(name = "waitlist.leave", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn leave(&self, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
        actor.require(Permission::Book)?;
        let entry = self.visible_entry(actor, id).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "waitlist_entry",
            Some(id),
            &actor.meta,
        )
        .before(entry.snapshot())
        .after(serde_json::json!({ "status": WaitlistStatus::Left.as_str() }));
        if let Some(released) = self.repo.leave(id, self.clock.now(), event).await? {
            self.cache
                .invalidate(released.doctor_id, &[released.slot_date])
                .await;
            self.slots_freed(Some(released.doctor_id)).await;
        }
        Ok(())
    }

    /// Accepts an offer: the held slot is booked for its patient in one transaction.
    #[tracing::instrument(name = "waitlist.accept", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, offer_id = %offer_id))]
    pub async fn accept(
        &self,
        actor: &Actor,
        offer_id: Uuid,
        kind: AppointmentType,
        reason: &str,
    ) -> Result<Appointment, DomainError> {
        let reason = parse_optional_text(Some(reason), "reason", 2000)?
            .ok_or_else(|| DomainError::validation("reason", "must not be empty"))?;
        let offer = self.answerable_offer(actor, offer_id).await?;
        self.check_no_show_limit(actor, offer.patient_id).await?;
        let booking = NewBooking {
            id: Uuid::new_v4(),
            patient_id: offer.patient_id,
            slot_id: offer.slot_id,
            kind,
            reason,
            booked_by: actor.user_id,
            now: self.clock.now(),
            idempotency_key: None,
            // The clinic offered this slot: the patient's booking window does not apply.
            window: None,
        };
        let booked = self
            .repo
            .accept(offer_id, booking, actor.meta.clone())
            .await?;
        self.cache
            .invalidate(offer.doctor_id, &[offer.slot_date])
            .await;
        Ok(booked.appointment)
    }

    /// Declines an offer: the patient keeps waiting (this slot is not offered to it again)
    /// and the slot goes to the next patient.
    #[tracing::instrument(name = "waitlist.decline", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, offer_id = %offer_id))]
    pub async fn decline(&self, actor: &Actor, offer_id: Uuid) -> Result<(), DomainError> {
        let offer = self.answerable_offer(actor, offer_id).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "waitlist_offer",
            Some(offer_id),
            &actor.meta,
        )
        .before(offer.snapshot())
        .after(serde_json::json!({ "status": "DECLINED" }));
        let declined = self.repo.decline(offer_id, self.clock.now(), event).await?;
        self.cache
            .invalidate(declined.doctor_id, &[declined.slot_date])
            .await;
        self.slots_freed(Some(declined.doctor_id)).await;
        Ok(())
    }

    /// One matching pass: expires what time closed, then makes offers until nothing matches
    /// (at most [`OFFERS_PER_PASS`]). Returns the offers made. Safe to run from any number of
    /// processes at once.
    #[tracing::instrument(name = "waitlist.match", skip_all)]
    pub async fn run_matching(&self) -> Result<usize, DomainError> {
        let now = self.clock.now();
        for expired in self.repo.expire(now, self.today()).await? {
            self.cache
                .invalidate(expired.doctor_id, &[expired.slot_date])
                .await;
        }
        let mut made = 0;
        while made < OFFERS_PER_PASS {
            let Some(offer) = self.repo.offer_next(self.clock.now(), self.hold).await? else {
                break;
            };
            self.cache
                .invalidate(offer.doctor_id, &[offer.slot_date])
                .await;
            made += 1;
        }
        Ok(made)
    }
}

#[async_trait]
impl SlotsFreed for WaitlistService {
    async fn slots_freed(&self, doctor_id: Option<Uuid>) {
        let matched = async {
            if self.repo.anyone_waiting(doctor_id).await? {
                self.run_matching().await?;
            }
            Ok::<_, DomainError>(())
        };
        if let Err(error) = matched.await {
            tracing::warn!(%error, "waitlist matching failed; the timer will retry");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::RequestMeta;
    use crate::clock::FixedClock;
    use crate::directory::MockDirectoryRepository;
    use crate::scheduling::MockSlotCache;
    use crate::waitlist::MockWaitlistRepository;
    use chrono::{TimeZone, Utc};

    fn now() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 7, 8, 0, 0).unwrap()
    }

    fn service(repo: MockWaitlistRepository, cache: MockSlotCache) -> WaitlistService {
        let mut directory = MockDirectoryRepository::new();
        directory.expect_doctor().returning(|id| {
            let mut d = crate::directory::tests_support::doctor(Uuid::new_v4());
            d.id = id;
            Ok(Some(d))
        });
        WaitlistService::new(
            Arc::new(repo),
            Arc::new(directory),
            Arc::new(cache),
            Arc::new(FixedClock(now())),
            Tz::UTC,
            Duration::minutes(30),
        )
    }

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: Uuid::new_v4(),
            role,
            session_id: Uuid::new_v4(),
            patient_id: (role == Role::Patient).then(Uuid::new_v4),
            doctor_id: (role == Role::Doctor).then(Uuid::new_v4),
            meta: RequestMeta::default(),
        }
    }

    fn offer(patient_id: Uuid) -> Offer {
        Offer {
            id: Uuid::new_v4(),
            entry_id: Uuid::new_v4(),
            patient_id,
            doctor_id: Uuid::new_v4(),
            slot_id: Uuid::new_v4(),
            slot_date: now().date_naive(),
            starts_at: now() + Duration::hours(3),
            ends_at: now() + Duration::hours(4),
            expires_at: now() + Duration::minutes(30),
            open: true,
        }
    }

    fn request(from_days: i64, to_days: i64) -> JoinRequest {
        JoinRequest {
            doctor_id: Uuid::new_v4(),
            patient_id: None,
            from: now().date_naive() + Duration::days(from_days),
            to: now().date_naive() + Duration::days(to_days),
            part_of_day: None,
        }
    }

    #[tokio::test]
    async fn a_range_in_the_past_backwards_or_too_long_is_refused_before_any_write() {
        // No expectations on the repository: a write would fail the test.
        let svc = service(MockWaitlistRepository::new(), MockSlotCache::new());
        let patient = actor(Role::Patient);
        for (req, field) in [
            (request(-1, 3), "from"),
            (request(3, 2), "to"),
            (request(0, MAX_WAIT_DAYS), "to"),
        ] {
            match svc.join(&patient, req).await {
                Err(DomainError::Validation { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            svc.join(&actor(Role::Doctor), request(0, 3)).await,
            Err(DomainError::Forbidden)
        );
        match svc.join(&actor(Role::Receptionist), request(0, 3)).await {
            Err(DomainError::Validation { field, .. }) => assert_eq!(field, "patientId"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn another_patients_offer_does_not_exist_and_a_closed_one_is_a_conflict() {
        let mine = actor(Role::Patient);
        let theirs = offer(Uuid::new_v4());
        let own = offer(mine.patient_id.unwrap());
        let mut answered = offer(mine.patient_id.unwrap());
        answered.open = false;
        let known = [theirs.clone(), own.clone(), answered.clone()];
        let mut repo = MockWaitlistRepository::new();
        repo.expect_offer()
            .returning(move |id| Ok(known.iter().find(|o| o.id == id).cloned()));
        // Only the open own offer reaches the repository's decline (which found it closed
        // meanwhile, as a racing answer would).
        repo.expect_decline()
            .times(1)
            .returning(|_, _, _| Err(DomainError::Conflict(Conflict::OfferClosed)));
        let svc = service(repo, MockSlotCache::new());
        assert_eq!(
            svc.decline(&mine, theirs.id).await,
            Err(DomainError::NotFound("offer"))
        );
        assert_eq!(
            svc.decline(&mine, answered.id).await,
            Err(DomainError::Conflict(Conflict::OfferClosed))
        );
        assert_eq!(
            svc.decline(&mine, own.id).await,
            Err(DomainError::Conflict(Conflict::OfferClosed))
        );
        assert_eq!(
            svc.decline(&actor(Role::Doctor), own.id).await,
            Err(DomainError::Forbidden)
        );
    }

    #[tokio::test]
    async fn matching_expires_first_then_offers_until_nothing_matches_dropping_each_cached_day() {
        let on = |days: i64| {
            let mut o = offer(Uuid::new_v4());
            o.slot_date += Duration::days(days);
            o
        };
        let (expired, made) = (on(1), [on(2), on(3)]);
        let expected: Vec<(Uuid, NaiveDate)> = [&expired, &made[0], &made[1]]
            .iter()
            .map(|o| (o.doctor_id, o.slot_date))
            .collect();
        let mut repo = MockWaitlistRepository::new();
        let mut seq = mockall::Sequence::new();
        repo.expect_expire()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| Ok(vec![expired.clone()]));
        let mut queue = made.to_vec();
        repo.expect_offer_next()
            .times(3)
            .in_sequence(&mut seq)
            .returning(move |at, hold| {
                assert_eq!((at, hold), (now(), Duration::minutes(30)));
                Ok(if queue.is_empty() {
                    None
                } else {
                    Some(queue.remove(0))
                })
            });
        let dropped = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut cache = MockSlotCache::new();
        let seen = dropped.clone();
        cache
            .expect_invalidate()
            .times(3)
            .returning(move |doctor, dates| {
                for &date in dates {
                    seen.lock().unwrap().push((doctor, date));
                }
            });
        let svc = service(repo, cache);
        assert_eq!(svc.run_matching().await, Ok(2));
        assert_eq!(
            *dropped.lock().unwrap(),
            expected,
            "each offer's own doctor and day"
        );
    }
}
