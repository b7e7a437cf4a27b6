//! Time off use cases (see [`crate::scheduling::time_off`] for the rules): recording and
//! deleting it (admins, or a doctor its own; clinic holidays admins only), and listing it for
//! staff. Both changes take effect at once: the availability cache of every day they touch
//! is dropped after the transaction, and deleting time off generates the slots it kept out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate, NaiveTime};
use uuid::Uuid;

use super::super::time_off::{at_or_after, MAX_TIME_OFF_DAYS};
use super::*;

/// Time off just recorded, and the booked visits it displaced (still booked, now listed as
/// needing a new time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffRecorded {
    pub time_off: TimeOff,
    pub displaced: Vec<Displaced>,
}

impl SchedulingService {
    /// Who may change this time off: admins any; a doctor its own (another doctor's is
    /// `NotFound`, as if it did not exist); clinic holidays admins only.
    async fn check_time_off_manager(
        &self,
        actor: &Actor,
        doctor_id: Option<Uuid>,
    ) -> Result<(), DomainError> {
        actor.require(Permission::ManageSchedules)?;
        match (actor.role, doctor_id) {
            (Role::Admin, Some(doctor_id)) => self
                .directory
                .doctor(doctor_id)
                .await?
                .map(|_| ())
                .ok_or(DomainError::NotFound("doctor")),
            (Role::Admin, None) => Ok(()),
            (Role::Doctor, Some(doctor_id)) if actor.doctor_id == Some(doctor_id) => Ok(()),
            (Role::Doctor, Some(_)) => Err(DomainError::NotFound("doctor")),
            _ => Err(DomainError::Forbidden),
        }
    }

    /// The doctors a change of `time_off` concerns: its doctor, or for a holiday every doctor
    /// with an active schedule.
    async fn doctors_of(&self, time_off: &TimeOff) -> Result<BTreeSet<Uuid>, DomainError> {
        Ok(match time_off.doctor_id {
            Some(doctor_id) => BTreeSet::from([doctor_id]),
            None => self
                .schedules
                .list_active()
                .await?
                .into_iter()
                .map(|s| s.doctor_id)
                .collect(),
        })
    }

    /// The days from today to the horizon whose slots `span` can touch.
    fn cached_days(&self, span: Span) -> Vec<NaiveDate> {
        let (first, last) = span.slot_dates(self.tz);
        let (today, horizon) = self.horizon();
        let (first, last) = (first.max(today), last.min(horizon));
        first.iter_days().take_while(|d| *d <= last).collect()
    }

    /// Records time off. Free slots inside disappear at once; booked visits inside stay booked
    /// and are returned (their patients and the desk are notified in the same transaction).
    #[tracing::instrument(name = "scheduling.add_time_off", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn add_time_off(
        &self,
        actor: &Actor,
        request: TimeOffRequest,
    ) -> Result<TimeOffRecorded, DomainError> {
        self.check_time_off_manager(actor, request.doctor_id)
            .await?;
        let span = request.span(self.tz)?;
        let reason = crate::text::parse_optional_line(request.reason.as_deref(), "reason", 200)?;
        let time_off = TimeOff {
            id: Uuid::new_v4(),
            doctor_id: request.doctor_id,
            starts_at: span.starts_at,
            ends_at: span.ends_at,
            reason,
            created_by: actor.user_id,
            created_at: self.clock.now(),
        };
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "time_off",
            Some(time_off.id),
            &actor.meta,
        )
        .after(time_off.snapshot());
        let written = self.time_off.create(time_off.clone(), event).await?;
        let mut stale: BTreeMap<Uuid, BTreeSet<NaiveDate>> = BTreeMap::new();
        for (doctor_id, date) in written.withdrawn {
            stale.entry(doctor_id).or_default().insert(date);
        }
        // Slots once booked stay in the table, hidden: their days' caches go too.
        for doctor_id in self.doctors_of(&time_off).await? {
            stale
                .entry(doctor_id)
                .or_default()
                .extend(self.cached_days(span));
        }
        for (doctor_id, dates) in stale {
            self.cache
                .invalidate(doctor_id, &dates.into_iter().collect::<Vec<_>>())
                .await;
        }
        Ok(TimeOffRecorded {
            time_off,
            displaced: written.displaced,
        })
    }

    /// Deletes time off; the slots it kept out are generated again (those still inside other
    /// time off excepted).
    #[tracing::instrument(name = "scheduling.remove_time_off", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn remove_time_off(&self, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
        actor.require(Permission::ManageSchedules)?;
        let time_off = self
            .time_off
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("time off"))?;
        self.check_time_off_manager(actor, time_off.doctor_id)
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => DomainError::NotFound("time off"),
                other => other,
            })?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Delete,
            "time_off",
            Some(id),
            &actor.meta,
        )
        .before(time_off.snapshot());
        self.time_off.delete(id, event).await?;
        let days = self.cached_days(time_off.span());
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
            return Ok(());
        };
        // One read of the active schedules gives both the doctors concerned and their rules.
        let active = self.schedules.list_active().await?;
        let doctors: BTreeSet<Uuid> = match time_off.doctor_id {
            Some(doctor_id) => BTreeSet::from([doctor_id]),
            None => active.iter().map(|s| s.doctor_id).collect(),
        };
        let still_away = self.time_off.overlapping(None, self.horizon_span()).await?;
        for schedule in &active {
            if doctors.contains(&schedule.doctor_id) {
                let slots = self.slots_of(schedule, first, last, &still_away);
                self.schedules.insert_slots(slots).await?;
            }
        }
        for doctor_id in doctors {
            self.cache.invalidate(doctor_id, &days).await;
        }
        self.freed.slots_freed(time_off.doctor_id).await;
        Ok(())
    }

    /// Time off overlapping the local days `from..=to` (at most [`MAX_TIME_OFF_DAYS`]), by
    /// start: a doctor's own and the clinic's holidays; the desk and admins every doctor's, or
    /// one doctor's with `doctor_id`.
    #[tracing::instrument(name = "scheduling.list_time_off", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn list_time_off(
        &self,
        actor: &Actor,
        doctor_id: Option<Uuid>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<TimeOff>, DomainError> {
        actor.require(Permission::ViewTimeOff)?;
        crate::dates::check_date("from", from)?;
        crate::dates::check_date("to", to)?;
        if to < from || to - from >= Duration::days(MAX_TIME_OFF_DAYS) {
            return Err(DomainError::validation(
                "to",
                format!("must be on or after from, at most {MAX_TIME_OFF_DAYS} days"),
            ));
        }
        let doctor_id = match actor.role {
            Role::Doctor => match (doctor_id, actor.doctor_id) {
                (Some(asked), Some(own)) if asked != own => {
                    return Err(DomainError::NotFound("doctor"))
                }
                (_, own) => Some(own.ok_or(DomainError::NotFound("doctor"))?),
            },
            _ => doctor_id,
        };
        let span = Span {
            starts_at: at_or_after(self.tz, from.and_time(NaiveTime::MIN)).ok_or_else(|| {
                DomainError::validation("from", "is not a day in the clinic's zone")
            })?,
            ends_at: at_or_after(self.tz, (to + Duration::days(1)).and_time(NaiveTime::MIN))
                .ok_or_else(|| {
                    DomainError::validation("to", "is not a day in the clinic's zone")
                })?,
        };
        self.time_off.overlapping(doctor_id, span).await
    }
}
