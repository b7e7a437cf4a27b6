//! Recurring visits' use cases (see [`crate::appointments::series`]): the desk and admins book
//! a series and cancel "this and following".

use super::*;
use crate::appointments::series::{NewSeries, SeriesBooked, SeriesRequest};

impl AppointmentService {
    /// Books every free occurrence of a series in one transaction; the answer lists those that
    /// could not be booked and why.
    #[tracing::instrument(name = "appointments.book_series", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn book_series(
        &self,
        actor: &Actor,
        mut request: SeriesRequest,
    ) -> Result<SeriesBooked, DomainError> {
        actor.require(Permission::BookSeries)?;
        request.reason = parse_optional_text(Some(&request.reason), "reason", 2000)?
            .ok_or_else(|| DomainError::validation("reason", "must not be empty"))?;
        let now = self.clock.now();
        let dates = request.dates(now.with_timezone(&self.zone).date_naive())?;
        self.directory
            .patient(request.patient_id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        self.directory
            .doctor(request.doctor_id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        if let Some(slots) = &self.slots {
            slots.ensure_slots(request.doctor_id, &dates).await?;
        }
        let doctor_id = request.doctor_id;
        let series = NewSeries {
            id: Uuid::new_v4(),
            request,
            dates,
            booked_by: actor.user_id,
            now,
        };
        let booked = self
            .appointments
            .book_series(series, actor.meta.clone())
            .await?;
        let dates: Vec<NaiveDate> = booked.booked.iter().map(|o| o.slot_date).collect();
        self.cache.invalidate(doctor_id, &dates).await;
        Ok(booked)
    }

    /// Cancels this occurrence and every later one of its series still SCHEDULED or
    /// CONFIRMED, in one transaction; returns those cancelled, soonest first.
    #[tracing::instrument(name = "appointments.cancel_following", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn cancel_following(
        &self,
        actor: &Actor,
        id: Uuid,
        reason: &str,
    ) -> Result<Vec<Appointment>, DomainError> {
        actor.require(Permission::BookSeries)?;
        let reason = parse_optional_text(Some(reason), "reason", 500)?
            .ok_or_else(|| DomainError::validation("reason", "must not be empty"))?;
        self.visible(actor, id).await?;
        let cancelled = self
            .appointments
            .cancel_following(
                id,
                reason,
                actor.user_id,
                self.clock.now(),
                actor.meta.clone(),
            )
            .await?;
        for c in &cancelled {
            if let Some(date) = c.slot_date {
                self.cache
                    .invalidate(c.appointment.doctor_id, &[date])
                    .await;
            }
        }
        if let Some(first) = cancelled.first() {
            self.freed
                .slots_freed(Some(first.appointment.doctor_id))
                .await;
        }
        Ok(cancelled.into_iter().map(|c| c.appointment).collect())
    }
}
