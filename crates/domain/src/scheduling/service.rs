//! Scheduling use cases: schedules (admins, or a doctor for itself), slot generation, and the
//! cached availability patients book from.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use uuid::Uuid;

mod time_off;

pub use time_off::TimeOffRecorded;

use super::time_off::{clear_of, spans_for};
use super::{
    generate, AvailableSlot, DaySlots, Displaced, Schedule, ScheduleInput, ScheduleRepository,
    SlotCache, SlotSpec, Span, TimeOff, TimeOffRepository, TimeOffRequest,
};
use crate::access::Permission;
use crate::appointments::booking::{BookingWindow, DoctorWindow};
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::directory::DirectoryRepository;
use crate::error::{Conflict, DomainError};
use crate::identity::{Actor, Role};

pub struct SchedulingService {
    schedules: Arc<dyn ScheduleRepository>,
    time_off: Arc<dyn TimeOffRepository>,
    directory: Arc<dyn DirectoryRepository>,
    cache: Arc<dyn SlotCache>,
    clock: Arc<dyn Clock>,
    /// The clinic's time zone: schedules are in local time.
    tz: Tz,
    /// How many days ahead slots exist.
    horizon_days: i64,
    /// The clinic's booking window for patients (a doctor may override it).
    booking_window: BookingWindow,
    /// Told when new slots appear (the waitlist offers them).
    freed: Arc<dyn crate::waitlist::SlotsFreed>,
}

impl SchedulingService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        schedules: Arc<dyn ScheduleRepository>,
        time_off: Arc<dyn TimeOffRepository>,
        directory: Arc<dyn DirectoryRepository>,
        cache: Arc<dyn SlotCache>,
        clock: Arc<dyn Clock>,
        tz: Tz,
        horizon_days: i64,
    ) -> Self {
        Self {
            schedules,
            time_off,
            directory,
            cache,
            clock,
            tz,
            horizon_days,
            booking_window: BookingWindow::default(),
            freed: Arc::new(crate::waitlist::NobodyWaits),
        }
    }

    /// Who is told when new slots appear (nobody by default).
    pub fn with_waitlist(self, freed: Arc<dyn crate::waitlist::SlotsFreed>) -> Self {
        Self { freed, ..self }
    }

    /// The clinic's booking window for patients (none by default).
    pub fn with_booking_window(self, booking_window: BookingWindow) -> Self {
        Self {
            booking_window,
            ..self
        }
    }
}

/// A doctor's booking window: what the doctor set, and what patients are held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoctorBookingWindow {
    pub own: DoctorWindow,
    pub effective: BookingWindow,
}

impl SchedulingService {
    /// Today in the clinic's zone.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().with_timezone(&self.tz).date_naive()
    }

    fn horizon(&self) -> (NaiveDate, NaiveDate) {
        let today = self.today();
        (today, today + Duration::days(self.horizon_days))
    }

    /// Every instant slots can be generated for now, with a day's margin on each side.
    fn horizon_span(&self) -> Span {
        let now = self.clock.now();
        Span {
            starts_at: now - Duration::days(1),
            ends_at: now + Duration::days(self.horizon_days + 2),
        }
    }

    /// `schedule`'s slots over `from..=to` that lie outside `time_off`.
    fn slots_of(
        &self,
        schedule: &Schedule,
        from: NaiveDate,
        to: NaiveDate,
        time_off: &[TimeOff],
    ) -> Vec<SlotSpec> {
        let slots = generate(schedule, from, to, self.tz, self.clock.now());
        clear_of(slots, &spans_for(time_off, schedule.doctor_id))
    }

    /// Admins manage any doctor's schedules; a doctor only its own.
    async fn check_manager(&self, actor: &Actor, doctor_id: Uuid) -> Result<(), DomainError> {
        actor.require(Permission::ManageSchedules)?;
        let doctor = self
            .directory
            .doctor(doctor_id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        match actor.role {
            Role::Admin => Ok(()),
            Role::Doctor if doctor.user_id == actor.user_id => Ok(()),
            _ => Err(DomainError::Forbidden),
        }
    }

    /// A doctor's booking window (public: patients see how far ahead they may book).
    pub async fn booking_window(
        &self,
        doctor_id: Uuid,
    ) -> Result<DoctorBookingWindow, DomainError> {
        self.directory
            .doctor(doctor_id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        let own = self.schedules.booking_window(doctor_id).await?;
        Ok(DoctorBookingWindow {
            own,
            effective: self.booking_window.overridden_by(&own),
        })
    }

    /// Sets a doctor's own booking window (admins, or the doctor itself); all `None` goes
    /// back to the clinic's.
    #[tracing::instrument(name = "scheduling.set_booking_window", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, doctor_id = %doctor_id))]
    pub async fn set_booking_window(
        &self,
        actor: &Actor,
        doctor_id: Uuid,
        window: DoctorWindow,
    ) -> Result<DoctorBookingWindow, DomainError> {
        self.check_manager(actor, doctor_id).await?;
        let before = self.schedules.booking_window(doctor_id).await?;
        let snapshot = |w: &DoctorWindow| {
            serde_json::json!({
                "doctorId": doctor_id, "minNoticeHours": w.min_notice_hours,
                "maxAdvanceDays": w.max_advance_days,
            })
        };
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "doctor_booking_window",
            Some(doctor_id),
            &actor.meta,
        )
        .before(snapshot(&before))
        .after(snapshot(&window));
        self.schedules
            .set_booking_window(doctor_id, window, event)
            .await?;
        Ok(DoctorBookingWindow {
            own: window,
            effective: self.booking_window.overridden_by(&window),
        })
    }

    async fn check_no_overlap(
        &self,
        doctor_id: Uuid,
        input: &ScheduleInput,
        except: Option<Uuid>,
    ) -> Result<(), DomainError> {
        let existing = self.schedules.list_for_doctor(doctor_id).await?;
        if existing
            .iter()
            .any(|s| s.is_active && Some(s.id) != except && s.input().overlaps(input))
        {
            return Err(DomainError::Conflict(Conflict::ScheduleOverlap));
        }
        Ok(())
    }

    #[tracing::instrument(name = "scheduling.create", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, doctor_id = %doctor_id))]
    pub async fn create(
        &self,
        actor: &Actor,
        doctor_id: Uuid,
        input: ScheduleInput,
    ) -> Result<Schedule, DomainError> {
        self.check_manager(actor, doctor_id).await?;
        self.check_no_overlap(doctor_id, &input, None).await?;
        let schedule = Schedule::new(Uuid::new_v4(), doctor_id, input);
        let (from, to) = self.horizon();
        let away = self
            .time_off
            .overlapping(Some(doctor_id), self.horizon_span())
            .await?;
        let slots = self.slots_of(&schedule, from, to, &away);
        let dates: BTreeSet<NaiveDate> = slots.iter().map(|s| s.date).collect();
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "schedule",
            Some(schedule.id),
            &actor.meta,
        )
        .after(schedule.snapshot());
        let created = self.schedules.create(schedule, slots, event).await?;
        self.cache
            .invalidate(doctor_id, &dates.into_iter().collect::<Vec<_>>())
            .await;
        self.freed.slots_freed(Some(doctor_id)).await;
        Ok(created)
    }

    /// Changes or (de)activates a schedule: its future unbooked slots are withdrawn and
    /// regenerated from the new rule (none when inactive); booked slots stay as they are.
    #[tracing::instrument(name = "scheduling.update", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn update(
        &self,
        actor: &Actor,
        id: Uuid,
        input: ScheduleInput,
        is_active: bool,
    ) -> Result<Schedule, DomainError> {
        let current = self
            .schedules
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("schedule"))?;
        self.check_manager(actor, current.doctor_id).await?;
        if is_active {
            self.check_no_overlap(current.doctor_id, &input, Some(id))
                .await?;
        }
        let mut updated = Schedule::new(id, current.doctor_id, input);
        updated.is_active = is_active;
        let (from, to) = self.horizon();
        let now = self.clock.now();
        let away = self
            .time_off
            .overlapping(Some(current.doctor_id), self.horizon_span())
            .await?;
        let slots = self.slots_of(&updated, from, to, &away);
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "schedule",
            Some(id),
            &actor.meta,
        )
        .before(current.snapshot())
        .after(updated.snapshot());
        let mut dates: BTreeSet<NaiveDate> = slots.iter().map(|s| s.date).collect();
        dates.extend(
            self.schedules
                .replace(updated.clone(), now, slots, event)
                .await?,
        );
        self.cache
            .invalidate(current.doctor_id, &dates.into_iter().collect::<Vec<_>>())
            .await;
        self.freed.slots_freed(Some(current.doctor_id)).await;
        Ok(updated)
    }

    /// A doctor's schedules (public: patients see working hours).
    #[tracing::instrument(name = "scheduling.list", skip_all, fields(doctor_id = %doctor_id))]
    pub async fn list(&self, doctor_id: Uuid) -> Result<Vec<Schedule>, DomainError> {
        self.directory
            .doctor(doctor_id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        self.schedules.list_for_doctor(doctor_id).await
    }

    /// Extends every active schedule's slots to the horizon; idempotent. Returns new slots.
    #[tracing::instrument(name = "scheduling.generate_all", skip_all)]
    pub async fn generate_all(&self) -> Result<usize, DomainError> {
        let (from, to) = self.horizon();
        let away = self.time_off.overlapping(None, self.horizon_span()).await?;
        let mut created = 0;
        for schedule in self.schedules.list_active().await? {
            let slots = self.slots_of(&schedule, from, to, &away);
            let dates: BTreeSet<NaiveDate> = slots.iter().map(|s| s.date).collect();
            let new = self.schedules.insert_slots(slots).await?;
            if new > 0 {
                self.cache
                    .invalidate(schedule.doctor_id, &dates.into_iter().collect::<Vec<_>>())
                    .await;
            }
            created += new;
        }
        Ok(created)
    }

    /// Free slots of a doctor on a date (public) that have not started, served from the cache
    /// when warm: as the cached JSON itself while none of its slots has started (the usual
    /// case), else parsed and filtered.
    #[tracing::instrument(name = "scheduling.available", skip_all, fields(doctor_id = %doctor_id))]
    pub async fn available(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
    ) -> Result<DaySlots, DomainError> {
        crate::dates::check_date("date", date)?;
        let now = self.clock.now();
        if let Some(cached) = self.cache.get(doctor_id, date).await {
            if cached.first_start.is_none_or(|first| first > now) {
                return Ok(DaySlots::Json(cached.json));
            }
            // An unreadable entry is a miss: the database answers and replaces it.
            if let Ok(slots) = serde_json::from_str::<Vec<AvailableSlot>>(&cached.json) {
                return Ok(DaySlots::Slots(
                    slots.into_iter().filter(|s| s.starts_at > now).collect(),
                ));
            }
        }
        let doctor = self.directory.doctor(doctor_id).await?;
        if !doctor.is_some_and(|d| d.is_active) {
            return Err(DomainError::NotFound("doctor"));
        }
        let fresh = self.schedules.available_slots(doctor_id, date, now).await?;
        self.cache.put(doctor_id, date, &fresh).await;
        Ok(DaySlots::Slots(
            fresh.into_iter().filter(|s| s.starts_at > now).collect(),
        ))
    }
}

/// The longest span of days one read of a doctor's slots covers (availability's bound too).
pub const MAX_SLOT_DAYS: i64 = 31;

/// Reads of schedules and slots in any state (public like the schedules and availability
/// above; the FHIR API's `Schedule` and `Slot`).
impl SchedulingService {
    /// The clinic's zone (schedules and slot dates are local to it).
    pub fn zone(&self) -> Tz {
        self.tz
    }

    /// Now, by the clinic's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// One schedule, active or not (public, as [`Self::list`] is).
    #[tracing::instrument(name = "scheduling.schedule", skip_all, fields(id = %id))]
    pub async fn schedule(&self, id: Uuid) -> Result<Schedule, DomainError> {
        self.schedules
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("schedule"))
    }

    /// Whether the doctor takes appointments (booking refuses an unavailable or deactivated
    /// doctor's slots); `NotFound` for no such doctor.
    async fn takes_bookings(&self, doctor_id: Uuid) -> Result<bool, DomainError> {
        let doctor = self
            .directory
            .doctor(doctor_id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        Ok(doctor.is_active && doctor.is_available)
    }

    /// One slot in any state.
    #[tracing::instrument(name = "scheduling.slot", skip_all, fields(id = %id))]
    pub async fn slot(&self, id: Uuid) -> Result<super::SlotState, DomainError> {
        let mut slot = self
            .schedules
            .slot_state(id, self.clock.now())
            .await?
            .ok_or(DomainError::NotFound("slot"))?;
        slot.doctor_unavailable = !self.takes_bookings(slot.doctor_id).await?;
        Ok(slot)
    }

    /// A doctor's listed slots ([`super::SlotState::is_listed`]) on local dates `from..=to`
    /// (at most [`MAX_SLOT_DAYS`]), in any state, by start. `field` names the request's
    /// parameter for a refusal.
    #[tracing::instrument(name = "scheduling.slots", skip_all, fields(doctor_id = %doctor_id))]
    pub async fn slots(
        &self,
        field: &str,
        doctor_id: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<super::SlotState>, DomainError> {
        crate::dates::check_date(field, from)?;
        crate::dates::check_date(field, to)?;
        if to < from || (to - from).num_days() >= MAX_SLOT_DAYS {
            return Err(DomainError::validation(
                field,
                format!("slots are read {MAX_SLOT_DAYS} days at a time at most"),
            ));
        }
        let unavailable = !self.takes_bookings(doctor_id).await?;
        let slots = self
            .schedules
            .slot_states(doctor_id, from, to, self.clock.now())
            .await?;
        Ok(slots
            .into_iter()
            .filter(|s| s.is_listed())
            .map(|s| super::SlotState {
                doctor_unavailable: unavailable,
                ..s
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl super::SlotSource for SchedulingService {
    async fn ensure_slots(&self, doctor_id: Uuid, dates: &[NaiveDate]) -> Result<(), DomainError> {
        let (Some(&first), Some(&last)) = (dates.iter().min(), dates.iter().max()) else {
            return Ok(());
        };
        let span = Span {
            starts_at: crate::scheduling::time_off::at_or_after(
                self.tz,
                first.and_time(chrono::NaiveTime::MIN),
            )
            .unwrap_or_else(|| self.clock.now()),
            ends_at: crate::scheduling::time_off::at_or_after(
                self.tz,
                (last + Duration::days(1)).and_time(chrono::NaiveTime::MIN),
            )
            .unwrap_or_else(|| self.clock.now()),
        };
        let away = self.time_off.overlapping(Some(doctor_id), span).await?;
        let mut slots = Vec::new();
        for schedule in self.schedules.list_for_doctor(doctor_id).await? {
            for &date in dates {
                slots.extend(self.slots_of(&schedule, date, date, &away));
            }
        }
        if self.schedules.insert_slots(slots).await? > 0 {
            self.cache.invalidate(doctor_id, dates).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::RequestMeta;
    use crate::clock::FixedClock;
    use crate::directory::MockDirectoryRepository;
    use crate::scheduling::{CachedSlots, DayOfWeek, MockScheduleRepository, MockSlotCache};
    use chrono::{NaiveTime, TimeZone, Utc};

    fn t(h: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, 0, 0).unwrap()
    }

    fn service(
        schedules: MockScheduleRepository,
        directory: MockDirectoryRepository,
        cache: MockSlotCache,
    ) -> SchedulingService {
        SchedulingService {
            schedules: Arc::new(schedules),
            time_off: Arc::new(crate::scheduling::MockTimeOffRepository::new()),
            directory: Arc::new(directory),
            cache: Arc::new(cache),
            clock: Arc::new(FixedClock(
                Utc.with_ymd_and_hms(2030, 1, 1, 8, 0, 0).unwrap(),
            )),
            tz: Tz::UTC,
            horizon_days: 14,
            booking_window: BookingWindow::default(),
            freed: Arc::new(crate::waitlist::NobodyWaits),
        }
    }

    #[tokio::test]
    async fn an_overlapping_schedule_is_refused_before_touching_the_database() {
        let doctor_id = Uuid::new_v4();
        let mut schedules = MockScheduleRepository::new();
        schedules.expect_list_for_doctor().returning(move |d| {
            Ok(vec![Schedule::new(
                Uuid::new_v4(),
                d,
                ScheduleInput::parse(DayOfWeek::Mon, t(9), t(12), 30).unwrap(),
            )])
        });
        let mut directory = MockDirectoryRepository::new();
        directory.expect_doctor().returning(|_| {
            Ok(Some(
                crate::directory::tests_support::doctor(Uuid::new_v4()),
            ))
        });
        let svc = service(schedules, directory, MockSlotCache::new());
        let admin = Actor {
            user_id: Uuid::new_v4(),
            role: Role::Admin,
            session_id: Uuid::new_v4(),
            patient_id: None,
            doctor_id: None,
            meta: RequestMeta::default(),
        };
        let overlapping = ScheduleInput::parse(DayOfWeek::Mon, t(11), t(13), 30).unwrap();
        assert_eq!(
            svc.create(&admin, doctor_id, overlapping).await,
            Err(DomainError::Conflict(Conflict::ScheduleOverlap))
        );
    }

    fn slot_at(doctor_id: Uuid, date: NaiveDate, hour: u32) -> AvailableSlot {
        AvailableSlot {
            id: Uuid::new_v4(),
            doctor_id,
            date,
            start_time: t(hour),
            end_time: t(hour + 1),
            starts_at: Utc.with_ymd_and_hms(2030, 1, 1, hour, 0, 0).unwrap(),
            ends_at: Utc.with_ymd_and_hms(2030, 1, 1, hour + 1, 0, 0).unwrap(),
        }
    }

    fn cache_holding(slots: &[AvailableSlot]) -> MockSlotCache {
        let cached = CachedSlots {
            json: serde_json::to_string(slots).unwrap(),
            first_start: slots.iter().map(|s| s.starts_at).min(),
        };
        let mut cache = MockSlotCache::new();
        cache
            .expect_get()
            .times(1)
            .returning(move |_, _| Some(cached.clone()));
        cache
    }

    #[tokio::test]
    async fn a_warm_cache_answers_its_json_as_is_without_the_database() {
        let doctor_id = Uuid::new_v4();
        let date = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        // The clock stands at 08:00: both slots are ahead.
        let slots = [slot_at(doctor_id, date, 9), slot_at(doctor_id, date, 10)];
        // No expectations on the repositories: touching them would fail the test.
        let svc = service(
            MockScheduleRepository::new(),
            MockDirectoryRepository::new(),
            cache_holding(&slots),
        );
        assert_eq!(
            svc.available(doctor_id, date).await.unwrap(),
            DaySlots::Json(serde_json::to_string(&slots).unwrap())
        );
        let svc = service(
            MockScheduleRepository::new(),
            MockDirectoryRepository::new(),
            cache_holding(&[]),
        );
        assert_eq!(
            svc.available(doctor_id, date).await.unwrap(),
            DaySlots::Json("[]".into()),
            "a day without free slots is cached too"
        );
    }

    #[tokio::test]
    async fn a_cached_slot_that_has_started_is_left_out() {
        let doctor_id = Uuid::new_v4();
        let date = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        // Cached at 07:00; the clock stands at 08:00, when the first slot has started.
        let (started, ahead) = (slot_at(doctor_id, date, 8), slot_at(doctor_id, date, 9));
        let svc = service(
            MockScheduleRepository::new(),
            MockDirectoryRepository::new(),
            cache_holding(&[started, ahead.clone()]),
        );
        assert_eq!(
            svc.available(doctor_id, date).await.unwrap(),
            DaySlots::Slots(vec![ahead])
        );
    }

    #[tokio::test]
    async fn only_admins_and_the_doctor_itself_manage_schedules() {
        let mut directory = MockDirectoryRepository::new();
        directory.expect_doctor().returning(|_| {
            Ok(Some(
                crate::directory::tests_support::doctor(Uuid::new_v4()),
            ))
        });
        let svc = service(
            MockScheduleRepository::new(),
            directory,
            MockSlotCache::new(),
        );
        let input = ScheduleInput::parse(DayOfWeek::Mon, t(9), t(12), 30).unwrap();
        for role in [Role::Patient, Role::Receptionist, Role::Doctor] {
            let actor = Actor {
                user_id: Uuid::new_v4(),
                role,
                session_id: Uuid::new_v4(),
                patient_id: None,
                doctor_id: None,
                meta: RequestMeta::default(),
            };
            assert_eq!(
                svc.create(&actor, Uuid::new_v4(), input).await,
                Err(DomainError::Forbidden),
                "{role:?}"
            );
        }
    }
}
