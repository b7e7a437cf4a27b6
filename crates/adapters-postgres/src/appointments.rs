//! Appointments in PostgreSQL: booking in one transaction, status transitions, listing.

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::appointments::booking::{BookingWindow, DoctorWindow};
use domain::appointments::{
    booking, Appointment, AppointmentFilter, AppointmentRepository, AppointmentStatus, Booked,
    DoctorFacts, DueReminder, NewBooking, NoShowCount, SlotFacts, UserNotice, WalkIn,
};
use domain::audit::{AuditEvent, RequestMeta};
use domain::error::{Conflict, DomainError};
use domain::money::Money;
use domain::notifications::NotificationType;
use domain::paging::{Cursor, Page, PageRequest};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::{PgAppointmentStatus, PgAppointmentType, PgNotificationType};
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::paging::{after_at, keyset_page};
use crate::scheduling::ScheduleRow;
use crate::schema::{
    appointments, doctor_booking_windows, doctor_departments, doctors, notifications, patients,
    schedules, time_off, time_slots, users, waitlist_offers,
};
use crate::PgPool;
use domain::scheduling::Schedule;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = appointments, check_for_backend(diesel::pg::Pg))]
struct AppointmentRow {
    id: Uuid,
    patient_id: Uuid,
    doctor_id: Uuid,
    time_slot_id: Option<Uuid>,
    type_: PgAppointmentType,
    status: PgAppointmentStatus,
    reason: String,
    notes: Option<String>,
    cancel_reason: Option<String>,
    consultation_fee: BigDecimal,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AppointmentRow> for Appointment {
    type Error = DomainError;

    fn try_from(r: AppointmentRow) -> Result<Self, DomainError> {
        Ok(Self {
            id: r.id,
            patient_id: r.patient_id,
            doctor_id: r.doctor_id,
            time_slot_id: r.time_slot_id,
            kind: r.type_.into(),
            status: r.status.into(),
            reason: r.reason,
            notes: r.notes,
            cancel_reason: r.cancel_reason,
            consultation_fee: Money::from_decimal(r.consultation_fee)
                .map_err(|_| DomainError::broken("stored fee out of range"))?,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = notifications)]
struct NewNotificationRow {
    user_id: Uuid,
    type_: PgNotificationType,
    title: String,
    message: String,
    appointment_id: Option<Uuid>,
}

/// Locks a slot row and reads it. Locking serialises concurrent bookings of one slot: the first
/// commits, the others then see it taken (the partial unique index is the backstop).
async fn lock_slot(
    conn: &mut AsyncPgConnection,
    slot_id: Uuid,
    now: DateTime<Utc>,
) -> Result<SlotFacts, TxError> {
    type SlotRow = (
        Uuid,
        NaiveDate,
        NaiveTime,
        NaiveTime,
        DateTime<Utc>,
        DateTime<Utc>,
        bool,
    );
    let slot: Option<SlotRow> = time_slots::table
        .find(slot_id)
        .select((
            time_slots::doctor_id,
            time_slots::date,
            time_slots::start_time,
            time_slots::end_time,
            time_slots::starts_at,
            time_slots::ends_at,
            time_slots::is_available,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let (doctor_id, date, start_time, end_time, starts_at, ends_at, is_available) =
        slot.ok_or(DomainError::NotFound("slot"))?;
    // After the lock, in one typed statement (its plan prepared once per connection): time
    // off and offers recorded meanwhile locked this slot first, so they are seen here.
    let (in_time_off, held_for, schedule): (bool, Option<Uuid>, ScheduleRow) = time_slots::table
        .inner_join(schedules::table.on(schedules::id.eq(time_slots::schedule_id)))
        .filter(time_slots::id.eq(slot_id))
        .select((
            diesel::dsl::exists(
                time_off::table
                    .filter(
                        time_off::doctor_id
                            .eq(time_slots::doctor_id.nullable())
                            .or(time_off::doctor_id.is_null()),
                    )
                    .filter(time_off::starts_at.lt(time_slots::ends_at))
                    .filter(time_off::ends_at.gt(time_slots::starts_at)),
            ),
            waitlist_offers::table
                .filter(waitlist_offers::slot_id.eq(time_slots::id))
                .filter(waitlist_offers::status.eq("OPEN"))
                .filter(waitlist_offers::expires_at.gt(now))
                .select(waitlist_offers::patient_id)
                .single_value(),
            ScheduleRow::as_select(),
        ))
        .get_result(conn)
        .await?;
    Ok(SlotFacts {
        id: slot_id,
        doctor_id,
        date,
        starts_at,
        ends_at,
        is_available,
        in_time_off,
        held_for,
        on_schedule: Schedule::from(schedule).generates(date, start_time, end_time),
    })
}

/// The doctor as booking sees it; `None` when there is no such doctor.
async fn doctor_facts(
    conn: &mut AsyncPgConnection,
    doctor_id: Uuid,
) -> Result<Option<DoctorFacts>, TxError> {
    type Row = (BigDecimal, bool, bool, Uuid, Option<i32>, Option<i32>);
    let row: Option<Row> = doctors::table
        .inner_join(users::table)
        .left_join(doctor_booking_windows::table)
        .filter(doctors::id.eq(doctor_id))
        .select((
            doctors::consultation_fee,
            doctors::is_available,
            users::is_active,
            users::id,
            doctor_booking_windows::min_notice_hours.nullable(),
            doctor_booking_windows::max_advance_days.nullable(),
        ))
        .first(conn)
        .await
        .optional()?;
    row.map(|(fee, is_available, is_active, user_id, notice, advance)| {
        Ok(DoctorFacts {
            id: doctor_id,
            user_id,
            consultation_fee: Money::from_decimal(fee)
                .map_err(|_| DomainError::broken("stored fee out of range"))?,
            is_available,
            is_active,
            window: DoctorWindow {
                min_notice_hours: notice.and_then(|h| u32::try_from(h).ok()),
                max_advance_days: advance.and_then(|d| u32::try_from(d).ok()),
            },
        })
    })
    .transpose()
}

fn row_of(a: &Appointment) -> AppointmentRow {
    AppointmentRow {
        id: a.id,
        patient_id: a.patient_id,
        doctor_id: a.doctor_id,
        time_slot_id: a.time_slot_id,
        type_: a.kind.into(),
        status: a.status.into(),
        reason: a.reason.clone(),
        notes: a.notes.clone(),
        cancel_reason: a.cancel_reason.clone(),
        consultation_fee: a.consultation_fee.as_decimal().clone(),
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

pub(crate) async fn insert_user_notices(
    conn: &mut AsyncPgConnection,
    kind: NotificationType,
    notices: &[(Option<Uuid>, &UserNotice)],
) -> Result<usize, TxError> {
    let rows: Vec<NewNotificationRow> = notices
        .iter()
        .map(|(appointment_id, n)| NewNotificationRow {
            user_id: n.user_id,
            type_: kind.into(),
            title: n.notice.title.clone(),
            message: n.notice.message.clone(),
            appointment_id: *appointment_id,
        })
        .collect();
    Ok(diesel::insert_into(notifications::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?)
}

pub(crate) async fn book_in(
    conn: &mut AsyncPgConnection,
    b: &NewBooking,
    meta: &RequestMeta,
) -> Result<Booked, TxError> {
    book_with(conn, b, meta, true).await
}

/// Books as [`book_in`] decides; `notify: false` leaves out the per-visit notifications (a
/// series sends one for all).
async fn book_with(
    conn: &mut AsyncPgConnection,
    b: &NewBooking,
    meta: &RequestMeta,
    notify: bool,
) -> Result<Booked, TxError> {
    let slot = lock_slot(conn, b.slot_id, b.now).await?;
    let doctor = doctor_facts(conn, slot.doctor_id)
        .await?
        .ok_or(DomainError::NotFound("doctor"))?;
    let patient_user: Uuid = patients::table
        .find(b.patient_id)
        .select(patients::user_id)
        .first(conn)
        .await?;
    let plan = booking::plan_booking(b, &slot, &doctor, patient_user, meta)?;
    // Returned as stored (timestamps at the database's microsecond precision).
    let row: AppointmentRow = diesel::insert_into(appointments::table)
        .values(row_of(&plan.appointment))
        .returning(AppointmentRow::as_returning())
        .get_result(conn)
        .await?;
    diesel::update(time_slots::table.find(b.slot_id))
        .set(time_slots::is_available.eq(false))
        .execute(conn)
        .await?;
    if slot.held_for == Some(b.patient_id) {
        crate::waitlist::close_accepted(conn, b.slot_id, b.now).await?;
    }
    if let Some(key) = &b.idempotency_key {
        crate::idempotency::mark_committed(conn, key, b.id).await?;
    }
    if notify {
        let notices: Vec<_> = plan.notices.iter().map(|n| (Some(b.id), n)).collect();
        insert_user_notices(conn, NotificationType::BookingConfirmation, &notices).await?;
    }
    if notify {
        insert_events(conn, std::slice::from_ref(&plan.event)).await?;
    } else {
        crate::audit_outbox::insert_events_without_emails(conn, std::slice::from_ref(&plan.event))
            .await?;
    }
    Ok(Booked {
        appointment: Appointment::try_from(row)?,
        slot_date: Some(plan.slot_date),
    })
}

#[derive(Clone)]
pub struct PgAppointmentRepository {
    pub pool: PgPool,
}

#[async_trait]
impl AppointmentRepository for PgAppointmentRepository {
    async fn book(&self, booking: NewBooking, meta: RequestMeta) -> Result<Booked, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let booked = conn
            .transaction::<Booked, TxError, _>(async move |conn| {
                book_in(conn, &booking, &meta).await
            })
            .await?;
        Ok(booked)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Appointment>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<AppointmentRow> = appointments::table
            .find(id)
            .select(AppointmentRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        row.map(Appointment::try_from).transpose()
    }

    async fn transition(
        &self,
        id: Uuid,
        from: AppointmentStatus,
        to: AppointmentStatus,
        cancel_reason: Option<String>,
        event: AuditEvent,
        bill: Option<domain::billing::NewBill>,
    ) -> Result<Booked, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let booked = conn
            .transaction::<Booked, TxError, _>(async move |conn| {
                let from_db = PgAppointmentStatus::from(from);
                let row: Option<AppointmentRow> = diesel::update(
                    appointments::table
                        .filter(appointments::id.eq(id))
                        .filter(appointments::status.eq(from_db)),
                )
                .set((
                    appointments::status.eq(PgAppointmentStatus::from(to)),
                    appointments::cancel_reason.eq(cancel_reason),
                ))
                .returning(AppointmentRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
                let row = row.ok_or(DomainError::Conflict(Conflict::StaleStatus))?;
                let mut slot_date = None;
                if let Some(slot_id) = row.time_slot_id {
                    if to == AppointmentStatus::Cancelled {
                        diesel::update(time_slots::table.find(slot_id))
                            .set(time_slots::is_available.eq(true))
                            .execute(conn)
                            .await?;
                    }
                    slot_date = Some(
                        time_slots::table
                            .find(slot_id)
                            .select(time_slots::date)
                            .first(conn)
                            .await?,
                    );
                }
                insert_events(conn, std::slice::from_ref(&event)).await?;
                if let Some(bill) = &bill {
                    crate::billing::insert_bill(conn, row.id, row.patient_id, bill).await?;
                }
                Ok(Booked {
                    appointment: Appointment::try_from(row)?,
                    slot_date,
                })
            })
            .await?;
        Ok(booked)
    }

    async fn list(
        &self,
        filter: AppointmentFilter,
        page: PageRequest,
    ) -> Result<Page<Appointment>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = appointments::table.into_boxed();
            if let Some(p) = filter.patient_id {
                q = q.filter(appointments::patient_id.eq(p));
            }
            if let Some(d) = filter.doctor_id {
                q = q.filter(appointments::doctor_id.eq(d));
            }
            if let Some(department) = filter.department_id {
                q = q.filter(
                    appointments::doctor_id.eq_any(
                        doctor_departments::table
                            .filter(doctor_departments::department_id.eq(department))
                            .select(doctor_departments::doctor_id),
                    ),
                );
            }
            if let Some(s) = filter.status {
                q = q.filter(appointments::status.eq(PgAppointmentStatus::from(s)));
            }
            if !filter.statuses.is_empty() {
                q = q.filter(
                    appointments::status.eq_any(
                        filter
                            .statuses
                            .iter()
                            .map(|&s| PgAppointmentStatus::from(s))
                            .collect::<Vec<_>>(),
                    ),
                );
            }
            if let Some(from) = filter.from {
                q = q.filter(appointments::starts_at.ge(from));
            }
            if let Some(to) = filter.to {
                q = q.filter(appointments::starts_at.le(to));
            }
            if filter.needs_rescheduling {
                q = q
                    .filter(appointments::status.eq_any([
                        PgAppointmentStatus::Scheduled,
                        PgAppointmentStatus::Confirmed,
                    ]))
                    .filter(diesel::dsl::exists(
                        time_off::table
                            .filter(
                                time_off::doctor_id
                                    .eq(appointments::doctor_id.nullable())
                                    .or(time_off::doctor_id.is_null()),
                            )
                            .filter(time_off::starts_at.lt(appointments::ends_at))
                            .filter(time_off::ends_at.gt(appointments::starts_at)),
                    ));
            }
            q
        };
        // Soonest first reads the (starts_at, id) index forwards, newest first backwards.
        let after = page.after.as_ref().map(|c| c.at()).transpose()?;
        let keyset = |descending| {
            after.map(|position| {
                after_at(
                    "(appointments.starts_at, appointments.id)",
                    descending,
                    position,
                )
            })
        };
        let (rows, total) = if filter.soonest_first {
            keyset_page!(
                &mut conn,
                build,
                AppointmentRow::as_select(),
                (appointments::starts_at.asc(), appointments::id.asc()),
                keyset(false),
                page
            )
        } else {
            keyset_page!(
                &mut conn,
                build,
                AppointmentRow::as_select(),
                (appointments::starts_at.desc(), appointments::id.desc()),
                keyset(true),
                page
            )
        };
        let items = rows
            .into_iter()
            .map(Appointment::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.page_of(items, total, |a| Cursor::At(a.starts_at, a.id)))
    }

    async fn reschedule(
        &self,
        id: Uuid,
        slot_id: Uuid,
        now: DateTime<Utc>,
        by: Uuid,
        meta: RequestMeta,
        window: Option<BookingWindow>,
    ) -> Result<(Appointment, Vec<NaiveDate>), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let moved = conn
            .transaction::<(Appointment, Vec<NaiveDate>), TxError, _>(async move |conn| {
                moves::reschedule_in(conn, id, slot_id, now, by, &meta, window).await
            })
            .await?;
        Ok(moved)
    }

    async fn walk_in(
        &self,
        booking: WalkIn,
        meta: RequestMeta,
    ) -> Result<Appointment, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let created = conn
            .transaction::<Appointment, TxError, _>(async move |conn| {
                moves::walk_in_in(conn, &booking, &meta).await
            })
            .await?;
        Ok(created)
    }

    async fn book_series(
        &self,
        series: domain::appointments::series::NewSeries,
        meta: RequestMeta,
    ) -> Result<domain::appointments::series::SeriesBooked, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let booked = conn
            .transaction::<_, TxError, _>(async move |conn| {
                series::book_series_in(conn, &series, &meta).await
            })
            .await?;
        Ok(booked)
    }

    async fn cancel_following(
        &self,
        id: Uuid,
        reason: String,
        by: Uuid,
        _now: DateTime<Utc>,
        meta: RequestMeta,
    ) -> Result<Vec<Booked>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let cancelled = conn
            .transaction::<_, TxError, _>(async move |conn| {
                series::cancel_following_in(conn, id, &reason, by, &meta).await
            })
            .await?;
        Ok(cancelled)
    }

    async fn no_shows(
        &self,
        patient_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<NoShowCount, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        // One index range of the patient's appointments, both counts at once.
        let (total, recent): (i64, i64) = appointments::table
            .filter(appointments::patient_id.eq(patient_id))
            .filter(appointments::status.eq(PgAppointmentStatus::NoShow))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "count(*) FILTER (WHERE starts_at >= ",
                )
                .bind::<diesel::sql_types::Timestamptz, _>(since)
                .sql(")"),
            ))
            .get_result(&mut conn)
            .await
            .db()?;
        Ok(NoShowCount {
            total: u64::try_from(total).unwrap_or(0),
            recent: u64::try_from(recent).unwrap_or(0),
        })
    }

    async fn due_reminders(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<DueReminder>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let reminded = notifications::table
            .filter(notifications::type_.eq(PgNotificationType::Reminder))
            .filter(notifications::appointment_id.eq(appointments::id.nullable()));
        let due: Vec<(Uuid, Uuid, DateTime<Utc>)> = appointments::table
            .inner_join(patients::table)
            .filter(appointments::status.eq_any([
                PgAppointmentStatus::Scheduled,
                PgAppointmentStatus::Confirmed,
            ]))
            .filter(appointments::starts_at.gt(from))
            .filter(appointments::starts_at.le(until))
            .filter(diesel::dsl::not(diesel::dsl::exists(reminded)))
            .select((appointments::id, patients::user_id, appointments::starts_at))
            .load(&mut conn)
            .await
            .db()?;
        Ok(due
            .into_iter()
            .map(|(appointment_id, patient_user_id, starts_at)| DueReminder {
                appointment_id,
                patient_user_id,
                starts_at,
            })
            .collect())
    }

    /// `ON CONFLICT DO NOTHING` on `notifications_reminder_once_key`: an appointment reminded
    /// meanwhile by another process is skipped, so each is reminded exactly once.
    async fn add_reminders(
        &self,
        reminders: Vec<(Uuid, UserNotice)>,
    ) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let rows: Vec<NewNotificationRow> = reminders
            .iter()
            .map(|(appointment_id, n)| NewNotificationRow {
                user_id: n.user_id,
                type_: NotificationType::Reminder.into(),
                title: n.notice.title.clone(),
                message: n.notice.message.clone(),
                appointment_id: Some(*appointment_id),
            })
            .collect();
        conn.transaction::<usize, TxError, _>(async move |conn| {
            let written: Vec<Option<Uuid>> = diesel::insert_into(notifications::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .returning(notifications::appointment_id)
                .get_results(conn)
                .await?;
            // The reminder emails of exactly the reminders this call wrote, so a visit
            // reminded by two processes at once is emailed once.
            let ids: Vec<Uuid> = written.iter().flatten().copied().collect();
            let visits: Vec<AppointmentRow> = appointments::table
                .filter(appointments::id.eq_any(&ids))
                .filter(appointments::status.eq_any([
                    PgAppointmentStatus::Scheduled,
                    PgAppointmentStatus::Confirmed,
                ]))
                .select(AppointmentRow::as_select())
                .load(conn)
                .await?;
            let intents: Vec<_> = visits
                .into_iter()
                .map(Appointment::try_from)
                .collect::<Result<Vec<_>, _>>()?
                .iter()
                .map(|a| {
                    domain::email::intents::reminder(a.patient_id, domain::email::Visit::of(a))
                })
                .collect();
            crate::email::insert_patient_emails(conn, &intents).await?;
            Ok(written.len())
        })
        .await
        .map_err(DomainError::from)
    }
}

/// Recurring series (kept apart from single bookings for reading).
pub(crate) mod series {
    use super::*;
    use crate::schema::{appointment_series, appointment_series_members};
    use domain::appointments::series::{
        cancel_following_event, series_event, series_notices, skips_occurrence, NewSeries,
        Occurrence, SeriesBooked, Unbooked,
    };

    pub async fn book_series_in(
        conn: &mut AsyncPgConnection,
        s: &NewSeries,
        meta: &RequestMeta,
    ) -> Result<SeriesBooked, TxError> {
        let r = &s.request;
        let (patient_user, doctor_user): (Uuid, Uuid) = (
            patients::table
                .find(r.patient_id)
                .select(patients::user_id)
                .first(conn)
                .await
                .optional()?
                .ok_or(DomainError::NotFound("patient"))?,
            doctors::table
                .find(r.doctor_id)
                .select(doctors::user_id)
                .first(conn)
                .await
                .optional()?
                .ok_or(DomainError::NotFound("doctor"))?,
        );
        let mut booked = Vec::new();
        let mut unbooked = Vec::new();
        for (position, &date) in (1u32..).zip(&s.dates) {
            let slot: Option<Uuid> = time_slots::table
                .inner_join(schedules::table.on(schedules::id.eq(time_slots::schedule_id)))
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    &crate::scheduling::on_schedule("time_slots", "schedules"),
                ))
                .filter(time_slots::doctor_id.eq(r.doctor_id))
                .filter(time_slots::date.eq(date))
                .filter(time_slots::start_time.eq(r.start_time))
                .order(time_slots::starts_at)
                .select(time_slots::id)
                .first(conn)
                .await
                .optional()?;
            let Some(slot_id) = slot else {
                unbooked.push(Unbooked {
                    occurrence: position,
                    date,
                    reason: DomainError::validation(
                        "startTime",
                        "no slot of the doctor starts then: outside its schedule, or time off",
                    ),
                });
                continue;
            };
            let booking = NewBooking {
                id: Uuid::new_v4(),
                patient_id: r.patient_id,
                slot_id,
                kind: r.kind,
                reason: r.reason.clone(),
                booked_by: s.booked_by,
                now: s.now,
                idempotency_key: None,
                window: None,
            };
            // Its own savepoint: a refusal (or a constraint) undoes this occurrence only.
            let attempt = conn
                .transaction::<Booked, TxError, _>(async |conn| {
                    book_with(conn, &booking, meta, false).await
                })
                .await;
            match attempt {
                Ok(done) => booked.push(Occurrence {
                    occurrence: position,
                    slot_date: done.slot_date.unwrap_or(date),
                    appointment: done.appointment,
                }),
                Err(TxError(reason)) if skips_occurrence(&reason) => unbooked.push(Unbooked {
                    occurrence: position,
                    date,
                    reason,
                }),
                Err(e) => return Err(e),
            }
        }
        if booked.is_empty() {
            let first = unbooked.into_iter().next().map(|u| u.reason);
            return Err(first.unwrap_or(DomainError::NotFound("slot")).into());
        }
        diesel::insert_into(appointment_series::table)
            .values((
                appointment_series::id.eq(s.id),
                appointment_series::patient_id.eq(r.patient_id),
                appointment_series::doctor_id.eq(r.doctor_id),
                appointment_series::first_date.eq(r.first_date),
                appointment_series::start_time.eq(r.start_time),
                appointment_series::every_weeks.eq(i32::try_from(r.every_weeks).unwrap_or(0)),
                appointment_series::occurrences.eq(i32::try_from(r.occurrences).unwrap_or(0)),
                appointment_series::created_by.eq(s.booked_by),
                appointment_series::created_at.eq(s.now),
            ))
            .execute(conn)
            .await?;
        let members: Vec<_> = booked
            .iter()
            .map(|o| {
                (
                    appointment_series_members::appointment_id.eq(o.appointment.id),
                    appointment_series_members::series_id.eq(s.id),
                    appointment_series_members::occurrence
                        .eq(i32::try_from(o.occurrence).unwrap_or(0)),
                )
            })
            .collect();
        diesel::insert_into(appointment_series_members::table)
            .values(&members)
            .execute(conn)
            .await?;
        let first = booked[0].appointment.id;
        let notices = series_notices(&booked, patient_user, doctor_user);
        let notices: Vec<_> = notices.iter().map(|n| (Some(first), n)).collect();
        insert_user_notices(conn, NotificationType::BookingConfirmation, &notices).await?;
        insert_events(conn, &[series_event(s, &booked, meta)]).await?;
        // One email for the whole series (its visits' own events wrote none).
        let visits: Vec<Appointment> = booked.iter().map(|o| o.appointment.clone()).collect();
        crate::email::insert_patient_emails(
            conn,
            domain::email::intents::booking_confirmation(r.patient_id, &visits).as_slice(),
        )
        .await?;
        Ok(SeriesBooked {
            id: s.id,
            booked,
            unbooked,
        })
    }

    pub async fn cancel_following_in(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        reason: &str,
        by: Uuid,
        meta: &RequestMeta,
    ) -> Result<Vec<Booked>, TxError> {
        let member: Option<(Uuid, i32)> = appointment_series_members::table
            .find(id)
            .select((
                appointment_series_members::series_id,
                appointment_series_members::occurrence,
            ))
            .first(conn)
            .await
            .optional()?;
        let (series_id, from) = member.ok_or_else(|| {
            DomainError::validation("id", "this appointment is not part of a series")
        })?;
        let rows: Vec<AppointmentRow> = appointments::table
            .inner_join(appointment_series_members::table)
            .filter(appointment_series_members::series_id.eq(series_id))
            .filter(appointment_series_members::occurrence.ge(from))
            .filter(appointments::status.eq_any([
                PgAppointmentStatus::Scheduled,
                PgAppointmentStatus::Confirmed,
            ]))
            .order(appointments::starts_at.asc())
            .select(AppointmentRow::as_select())
            .for_update()
            .load(conn)
            .await?;
        let mut cancelled = Vec::new();
        let mut events = Vec::new();
        for row in rows {
            let before = Appointment::try_from(row)?;
            let after: AppointmentRow = diesel::update(appointments::table.find(before.id))
                .set((
                    appointments::status.eq(PgAppointmentStatus::Cancelled),
                    appointments::cancel_reason.eq(reason),
                ))
                .returning(AppointmentRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Appointment::try_from(after)?;
            let mut slot_date = None;
            if let Some(slot_id) = after.time_slot_id {
                slot_date = Some(
                    diesel::update(time_slots::table.find(slot_id))
                        .set(time_slots::is_available.eq(true))
                        .returning(time_slots::date)
                        .get_result(conn)
                        .await?,
                );
            }
            events.push(cancel_following_event(&before, &after, by, meta));
            cancelled.push(Booked {
                appointment: after,
                slot_date,
            });
        }
        if let Some(first) = <[Booked]>::first(&cancelled) {
            let patient_user: Uuid = patients::table
                .find(first.appointment.patient_id)
                .select(patients::user_id)
                .first(conn)
                .await?;
            let notice = UserNotice {
                user_id: patient_user,
                notice: domain::notifications::texts::series_cancelled(
                    cancelled.len(),
                    first.appointment.starts_at,
                ),
            };
            insert_user_notices(
                conn,
                NotificationType::General,
                &[(Some(first.appointment.id), &notice)],
            )
            .await?;
        }
        insert_events(conn, &events).await?;
        Ok(cancelled)
    }
}

/// Reschedule and walk-ins (kept apart from booking for reading).
pub(crate) mod moves {
    use super::*;

    pub async fn reschedule_in(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        slot_id: Uuid,
        now: DateTime<Utc>,
        by: Uuid,
        meta: &RequestMeta,
        window: Option<BookingWindow>,
    ) -> Result<(Appointment, Vec<NaiveDate>), TxError> {
        let current: Option<AppointmentRow> = appointments::table
            .find(id)
            .select(AppointmentRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let current = Appointment::try_from(current.ok_or(DomainError::NotFound("appointment"))?)?;
        // Both slots at once, by start, as every path that locks several slots does.
        let both: Vec<Uuid> = current.time_slot_id.into_iter().chain([slot_id]).collect();
        time_slots::table
            .filter(time_slots::id.eq_any(both))
            .order((time_slots::starts_at, time_slots::id))
            .select(time_slots::id)
            .for_update()
            .load::<Uuid>(conn)
            .await?;
        let slot = lock_slot(conn, slot_id, now).await?;
        // A patient moving its visit: the doctor's overrides of the window, read here.
        let window = match window {
            Some(clinic) => {
                let doctor = doctor_facts(conn, current.doctor_id)
                    .await?
                    .ok_or(DomainError::NotFound("doctor"))?;
                Some((clinic, doctor.window))
            }
            None => None,
        };
        let plan = booking::plan_reschedule(&current, &slot, now, by, meta, window)?;
        diesel::update(appointments::table.find(id))
            .set((
                appointments::time_slot_id.eq(plan.appointment.time_slot_id),
                appointments::starts_at.eq(plan.appointment.starts_at),
                appointments::ends_at.eq(plan.appointment.ends_at),
            ))
            .execute(conn)
            .await?;
        diesel::update(time_slots::table.find(slot_id))
            .set(time_slots::is_available.eq(false))
            .execute(conn)
            .await?;
        if slot.held_for == Some(current.patient_id) {
            crate::waitlist::close_accepted(conn, slot_id, now).await?;
        }
        let mut dates = vec![plan.new_slot_date];
        if let Some(old) = current.time_slot_id {
            let old_date: NaiveDate = diesel::update(time_slots::table.find(old))
                .set(time_slots::is_available.eq(true))
                .returning(time_slots::date)
                .get_result(conn)
                .await?;
            dates.push(old_date);
        }
        insert_events(conn, std::slice::from_ref(&plan.event)).await?;
        // Read back: the row's updated_at is the database's.
        let row: AppointmentRow = appointments::table
            .find(id)
            .select(AppointmentRow::as_select())
            .first(conn)
            .await?;
        Ok((Appointment::try_from(row)?, dates))
    }

    pub async fn walk_in_in(
        conn: &mut AsyncPgConnection,
        w: &WalkIn,
        meta: &RequestMeta,
    ) -> Result<Appointment, TxError> {
        let doctor = doctor_facts(conn, w.doctor_id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        let (appointment, event) = booking::plan_walk_in(w, &doctor, meta)?;
        let row: AppointmentRow = diesel::insert_into(appointments::table)
            .values(row_of(&appointment))
            .returning(AppointmentRow::as_returning())
            .get_result(conn)
            .await?;
        insert_events(conn, &[event]).await?;
        Ok(Appointment::try_from(row)?)
    }
}
