//! Time off in PostgreSQL (see `domain::scheduling::time_off`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::error::DomainError;
use domain::identity::Role;
use domain::notifications::NotificationType;
use domain::scheduling::time_off::{displacement_notices, Written};
use domain::scheduling::{Displaced, Span, TimeOff, TimeOffRepository};
use uuid::Uuid;

use crate::appointments::insert_user_notices;
use crate::audit_outbox::insert_events;
use crate::enums::{PgAppointmentStatus, PgRole};
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::schema::{appointments, patients, time_off, time_slots, users};
use crate::PgPool;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = time_off, check_for_backend(diesel::pg::Pg))]
struct TimeOffRow {
    id: Uuid,
    doctor_id: Option<Uuid>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    reason: Option<String>,
    created_by: Uuid,
    created_at: DateTime<Utc>,
}

impl From<TimeOffRow> for TimeOff {
    fn from(r: TimeOffRow) -> Self {
        Self {
            id: r.id,
            doctor_id: r.doctor_id,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            reason: r.reason,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

#[derive(Clone)]
pub struct PgTimeOffRepository {
    pub pool: PgPool,
}

async fn create_in(
    conn: &mut AsyncPgConnection,
    t: &TimeOff,
    event: &AuditEvent,
) -> Result<Written, TxError> {
    // The doctor's slots in the span (every doctor's for a holiday), by start like every path
    // that locks several slots, so two of them never deadlock. A booking holding one of them commits first and its
    // appointment is found below; one arriving later waits and then sees the time off.
    let covered = || {
        let mut q = time_slots::table
            .filter(time_slots::starts_at.lt(t.ends_at))
            .filter(time_slots::ends_at.gt(t.starts_at))
            .into_boxed();
        if let Some(doctor_id) = t.doctor_id {
            q = q.filter(time_slots::doctor_id.eq(doctor_id));
        }
        q
    };
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let locked: Vec<Locked> = {
        use diesel::sql_types::{Nullable, Timestamptz, Uuid as SqlUuid};
        diesel::sql_query(
            "SELECT id FROM time_slots WHERE starts_at < $1 AND ends_at > $2 \
             AND ($3::uuid IS NULL OR doctor_id = $3) ORDER BY starts_at, id FOR UPDATE",
        )
        .bind::<Timestamptz, _>(t.ends_at)
        .bind::<Timestamptz, _>(t.starts_at)
        .bind::<Nullable<SqlUuid>, _>(t.doctor_id)
        .load(conn)
        .await?
    };
    // Offers holding slots inside the time off end: their patients wait for another slot.
    let covered_ids: Vec<Uuid> = locked.into_iter().map(|l| l.id).collect();
    crate::waitlist::release_offers_on(conn, &covered_ids, t.created_at).await?;
    diesel::insert_into(time_off::table)
        .values(TimeOffRow {
            id: t.id,
            doctor_id: t.doctor_id,
            starts_at: t.starts_at,
            ends_at: t.ends_at,
            reason: t.reason.clone(),
            created_by: t.created_by,
            created_at: t.created_at,
        })
        .execute(conn)
        .await?;
    // Free slots nobody ever booked go (deleting the time off generates them again); slots
    // with a booking history stay, hidden by availability and refused by booking.
    let withdrawn: Vec<(Uuid, NaiveDate)> = diesel::delete(
        time_slots::table.filter(
            time_slots::id.eq_any(
                covered()
                    .filter(time_slots::is_available.eq(true))
                    .filter(diesel::dsl::not(diesel::dsl::exists(
                        appointments::table
                            .filter(appointments::time_slot_id.eq(time_slots::id.nullable())),
                    )))
                    .select(time_slots::id),
            ),
        ),
    )
    .returning((time_slots::doctor_id, time_slots::date))
    .get_results(conn)
    .await?;
    let mut q = appointments::table
        .inner_join(patients::table)
        .filter(appointments::status.eq_any([
            PgAppointmentStatus::Scheduled,
            PgAppointmentStatus::Confirmed,
        ]))
        .filter(appointments::starts_at.lt(t.ends_at))
        .filter(appointments::ends_at.gt(t.starts_at))
        .into_boxed();
    if let Some(doctor_id) = t.doctor_id {
        q = q.filter(appointments::doctor_id.eq(doctor_id));
    }
    let displaced: Vec<Displaced> = q
        .order((appointments::starts_at, appointments::id))
        .select((appointments::id, patients::user_id, appointments::starts_at))
        .load::<(Uuid, Uuid, DateTime<Utc>)>(conn)
        .await?
        .into_iter()
        .map(|(appointment_id, patient_user_id, starts_at)| Displaced {
            appointment_id,
            patient_user_id,
            starts_at,
        })
        .collect();
    let desk: Vec<Uuid> = if displaced.is_empty() {
        Vec::new()
    } else {
        users::table
            .filter(users::role.eq(PgRole::from(Role::Receptionist)))
            .filter(users::is_active.eq(true))
            .select(users::id)
            .load(conn)
            .await?
    };
    let notices = displacement_notices(t.span(), &displaced, &desk);
    if !notices.is_empty() {
        let rows: Vec<_> = notices.iter().map(|(a, n)| (*a, n)).collect();
        insert_user_notices(conn, NotificationType::General, &rows).await?;
    }
    insert_events(conn, std::slice::from_ref(event)).await?;
    Ok(Written {
        displaced,
        withdrawn,
    })
}

#[async_trait]
impl TimeOffRepository for PgTimeOffRepository {
    async fn create(&self, time_off: TimeOff, event: AuditEvent) -> Result<Written, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let created = conn
            .transaction::<_, TxError, _>(async move |conn| {
                create_in(conn, &time_off, &event).await
            })
            .await?;
        Ok(created)
    }

    async fn get(&self, id: Uuid) -> Result<Option<TimeOff>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<TimeOffRow> = time_off::table
            .find(id)
            .select(TimeOffRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(Into::into))
    }

    async fn delete(&self, id: Uuid, event: AuditEvent) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let n = diesel::delete(time_off::table.find(id))
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(DomainError::NotFound("time off").into());
            }
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn overlapping(
        &self,
        doctor_id: Option<Uuid>,
        span: Span,
    ) -> Result<Vec<TimeOff>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let mut q = time_off::table
            .filter(time_off::starts_at.lt(span.ends_at))
            .filter(time_off::ends_at.gt(span.starts_at))
            .into_boxed();
        if let Some(doctor_id) = doctor_id {
            q = q.filter(
                time_off::doctor_id
                    .eq(doctor_id)
                    .or(time_off::doctor_id.is_null()),
            );
        }
        let rows: Vec<TimeOffRow> = q
            .order((time_off::starts_at, time_off::id))
            .select(TimeOffRow::as_select())
            .load(&mut conn)
            .await
            .db()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
