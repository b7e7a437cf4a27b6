//! Appointments in PostgreSQL: booking in one transaction, status transitions, listing.

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::appointments::{
    Appointment, AppointmentFilter, AppointmentRepository, AppointmentStatus, Booked, NewBooking,
    WalkIn,
};
use domain::audit::{AuditAction, AuditEvent, RequestMeta};
use domain::error::{Conflict, DomainError};
use domain::money::Money;
use domain::notifications::NotificationType;
use domain::paging::{Page, PageRequest};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::{PgAppointmentStatus, PgAppointmentType, PgNotificationType};
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::schema::{
    appointments, doctor_departments, doctors, notifications, patients, time_slots, users,
};
use crate::PgPool;

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

type LockedSlot = (Uuid, NaiveDate, DateTime<Utc>, DateTime<Utc>, bool);

/// Locks a slot row and checks it can be taken now: it exists, starts after `now`, and is
/// free. Locking serialises concurrent bookings of one slot: the first commits, the others
/// then see it taken (the partial unique index is the backstop).
async fn lock_bookable_slot(
    conn: &mut AsyncPgConnection,
    slot_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(Uuid, NaiveDate, DateTime<Utc>, DateTime<Utc>), TxError> {
    let slot: Option<LockedSlot> = time_slots::table
        .find(slot_id)
        .select((
            time_slots::doctor_id,
            time_slots::date,
            time_slots::starts_at,
            time_slots::ends_at,
            time_slots::is_available,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let (doctor_id, date, starts_at, ends_at, is_available) =
        slot.ok_or(DomainError::NotFound("slot"))?;
    if starts_at <= now {
        return Err(DomainError::validation("timeSlotId", "this slot has already started").into());
    }
    if !is_available {
        return Err(DomainError::Conflict(Conflict::SlotTaken).into());
    }
    Ok((doctor_id, date, starts_at, ends_at))
}

async fn book_in(
    conn: &mut AsyncPgConnection,
    b: &NewBooking,
    meta: &RequestMeta,
) -> Result<Booked, TxError> {
    let (doctor_id, date, starts_at, ends_at) = lock_bookable_slot(conn, b.slot_id, b.now).await?;
    let (fee, doctor_available, doctor_active, doctor_user): (BigDecimal, bool, bool, Uuid) =
        doctors::table
            .inner_join(users::table)
            .filter(doctors::id.eq(doctor_id))
            .select((
                doctors::consultation_fee,
                doctors::is_available,
                users::is_active,
                users::id,
            ))
            .first(conn)
            .await?;
    if !doctor_available || !doctor_active {
        return Err(DomainError::Conflict(Conflict::DoctorUnavailable).into());
    }
    let patient_user: Uuid = patients::table
        .find(b.patient_id)
        .select(patients::user_id)
        .first(conn)
        .await?;
    let now = Utc::now();
    let row: AppointmentRow = diesel::insert_into(appointments::table)
        .values(AppointmentRow {
            id: b.id,
            patient_id: b.patient_id,
            doctor_id,
            time_slot_id: Some(b.slot_id),
            type_: b.kind.into(),
            status: PgAppointmentStatus::Scheduled,
            reason: b.reason.clone(),
            notes: None,
            cancel_reason: None,
            consultation_fee: fee,
            starts_at,
            ends_at,
            created_at: now,
            updated_at: now,
        })
        .returning(AppointmentRow::as_returning())
        .get_result(conn)
        .await?;
    diesel::update(time_slots::table.find(b.slot_id))
        .set(time_slots::is_available.eq(false))
        .execute(conn)
        .await?;
    let when = starts_at.to_rfc3339();
    let notes = [
        (
            patient_user,
            "Appointment booked",
            format!("Your appointment on {when} is booked."),
        ),
        (
            doctor_user,
            "New appointment",
            format!("A patient booked your slot on {when}."),
        ),
    ];
    let rows: Vec<NewNotificationRow> = notes
        .into_iter()
        .map(|(user_id, title, message)| NewNotificationRow {
            user_id,
            type_: NotificationType::BookingConfirmation.into(),
            title: title.into(),
            message,
            appointment_id: Some(b.id),
        })
        .collect();
    diesel::insert_into(notifications::table)
        .values(&rows)
        .execute(conn)
        .await?;
    let appointment = Appointment::try_from(row)?;
    let event = AuditEvent::new(
        Some(b.booked_by),
        AuditAction::Create,
        "appointment",
        Some(b.id),
        meta,
    )
    .after(appointment.snapshot());
    insert_events(conn, &[event]).await?;
    Ok(Booked {
        appointment,
        slot_date: Some(date),
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
            if let Some(from) = filter.from {
                q = q.filter(appointments::starts_at.ge(from));
            }
            if let Some(to) = filter.to {
                q = q.filter(appointments::starts_at.le(to));
            }
            q
        };
        let total: i64 = build().count().get_result(&mut conn).await.db()?;
        let mut q = build()
            .select(AppointmentRow::as_select())
            .offset(page.offset())
            .limit(page.limit());
        q = if filter.soonest_first {
            q.order((appointments::starts_at.asc(), appointments::id.asc()))
        } else {
            q.order((appointments::starts_at.desc(), appointments::id.asc()))
        };
        let rows: Vec<AppointmentRow> = q.load(&mut conn).await.db()?;
        let items = rows
            .into_iter()
            .map(Appointment::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::paging::page_of(items, total, page))
    }

    async fn reschedule(
        &self,
        id: Uuid,
        slot_id: Uuid,
        now: DateTime<Utc>,
        event: AuditEvent,
    ) -> Result<(Appointment, Vec<NaiveDate>), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let moved = conn
            .transaction::<(Appointment, Vec<NaiveDate>), TxError, _>(async move |conn| {
                moves::reschedule_in(conn, id, slot_id, now, &event).await
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

    async fn send_due_reminders(
        &self,
        now: DateTime<Utc>,
        lead: chrono::Duration,
    ) -> Result<usize, DomainError> {
        self.insert_reminders(now, now + lead).await
    }
}

/// Reschedule, walk-ins and reminders (kept apart from booking for reading).
pub(crate) mod moves {
    use super::*;

    pub async fn reschedule_in(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        slot_id: Uuid,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<(Appointment, Vec<NaiveDate>), TxError> {
        let current: AppointmentRow = appointments::table
            .find(id)
            .select(AppointmentRow::as_select())
            .for_update()
            .first(conn)
            .await?;
        let (doctor_id, date, starts_at, ends_at) = lock_bookable_slot(conn, slot_id, now).await?;
        if doctor_id != current.doctor_id {
            return Err(
                DomainError::validation("timeSlotId", "pick a slot of the same doctor").into(),
            );
        }
        let status = AppointmentStatus::from(current.status);
        if !matches!(
            status,
            AppointmentStatus::Scheduled | AppointmentStatus::Confirmed
        ) {
            return Err(DomainError::Conflict(Conflict::StaleStatus).into());
        }
        let old_slot = current.time_slot_id;
        let row: AppointmentRow = diesel::update(appointments::table.find(id))
            .set((
                appointments::time_slot_id.eq(Some(slot_id)),
                appointments::starts_at.eq(starts_at),
                appointments::ends_at.eq(ends_at),
            ))
            .returning(AppointmentRow::as_returning())
            .get_result(conn)
            .await?;
        diesel::update(time_slots::table.find(slot_id))
            .set(time_slots::is_available.eq(false))
            .execute(conn)
            .await?;
        let mut dates = vec![date];
        if let Some(old) = old_slot {
            let old_date: NaiveDate = diesel::update(time_slots::table.find(old))
                .set(time_slots::is_available.eq(true))
                .returning(time_slots::date)
                .get_result(conn)
                .await?;
            dates.push(old_date);
        }
        insert_events(conn, std::slice::from_ref(event)).await?;
        Ok((Appointment::try_from(row)?, dates))
    }

    pub async fn walk_in_in(
        conn: &mut AsyncPgConnection,
        w: &WalkIn,
        meta: &RequestMeta,
    ) -> Result<Appointment, TxError> {
        let fee: Option<(BigDecimal, bool)> = doctors::table
            .inner_join(users::table)
            .filter(doctors::id.eq(w.doctor_id))
            .select((doctors::consultation_fee, users::is_active))
            .first(conn)
            .await
            .optional()?;
        let (fee, active) = fee.ok_or(DomainError::NotFound("doctor"))?;
        if !active {
            return Err(DomainError::Conflict(Conflict::DoctorUnavailable).into());
        }
        let now = Utc::now();
        let row: AppointmentRow = diesel::insert_into(appointments::table)
            .values(AppointmentRow {
                id: w.id,
                patient_id: w.patient_id,
                doctor_id: w.doctor_id,
                time_slot_id: None,
                type_: PgAppointmentType::Emergency,
                status: PgAppointmentStatus::Scheduled,
                reason: w.reason.clone(),
                notes: None,
                cancel_reason: None,
                consultation_fee: fee,
                starts_at: w.starts_at,
                ends_at: w.starts_at + chrono::Duration::minutes(w.minutes),
                created_at: now,
                updated_at: now,
            })
            .returning(AppointmentRow::as_returning())
            .get_result(conn)
            .await?;
        let appointment = Appointment::try_from(row)?;
        let event = AuditEvent::new(
            Some(w.booked_by),
            AuditAction::Create,
            "appointment",
            Some(w.id),
            meta,
        )
        .after(appointment.snapshot());
        insert_events(conn, &[event]).await?;
        Ok(appointment)
    }
}

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl PgAppointmentRepository {
    /// One statement; the partial unique index `notifications_reminder_once_key` makes it
    /// exactly-once per appointment whoever runs it, however often.
    pub(crate) async fn insert_reminders(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let inserted: Inserted = diesel::sql_query(
            "WITH due AS (
                 INSERT INTO notifications (user_id, type, title, message, appointment_id)
                 SELECT p.user_id, 'REMINDER', 'Appointment reminder',
                        'Your appointment starts at ' || to_char(a.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC.',
                        a.id
                   FROM appointments a JOIN patients p ON p.id = a.patient_id
                  WHERE a.status IN ('SCHEDULED', 'CONFIRMED') AND a.starts_at > $1 AND a.starts_at <= $2
                 ON CONFLICT DO NOTHING
                 RETURNING 1)
             SELECT count(*) AS n FROM due",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .bind::<diesel::sql_types::Timestamptz, _>(until)
        .get_result(&mut conn)
        .await
        .db()?;
        Ok(usize::try_from(inserted.n).unwrap_or(0))
    }
}
