//! Doctors' calendar feeds (see `domain::calendar`): one row per doctor holding its token's
//! hash, and the read of a doctor's appointments with its patients' names.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::calendar::{CalendarFeed, CalendarFeedRepository, FeedItem, FeedOwner};
use domain::error::DomainError;
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::{PgAppointmentStatus, PgAppointmentType};
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::schema::{appointments, calendar_feeds, doctors, patients, users};
use crate::PgPool;

#[derive(Clone)]
pub struct PgCalendarFeedRepository {
    pub pool: PgPool,
}

type FeedRow = (Uuid, bool, DateTime<Utc>, DateTime<Utc>);

fn feed((doctor_id, include_patient_names, created_at, updated_at): FeedRow) -> CalendarFeed {
    CalendarFeed {
        doctor_id,
        include_patient_names,
        created_at,
        updated_at,
    }
}

const FEED_COLUMNS: (
    calendar_feeds::doctor_id,
    calendar_feeds::include_patient_names,
    calendar_feeds::created_at,
    calendar_feeds::updated_at,
) = (
    calendar_feeds::doctor_id,
    calendar_feeds::include_patient_names,
    calendar_feeds::created_at,
    calendar_feeds::updated_at,
);

#[async_trait]
impl CalendarFeedRepository for PgCalendarFeedRepository {
    async fn save(
        &self,
        feed: CalendarFeed,
        token_hash: String,
        event: AuditEvent,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let exists: bool = diesel::select(diesel::dsl::exists(
                doctors::table.filter(doctors::id.eq(feed.doctor_id)),
            ))
            .get_result(conn)
            .await?;
            if !exists {
                return Err(DomainError::NotFound("calendar feed").into());
            }
            diesel::insert_into(calendar_feeds::table)
                .values((
                    calendar_feeds::doctor_id.eq(feed.doctor_id),
                    calendar_feeds::token_hash.eq(&token_hash),
                    calendar_feeds::include_patient_names.eq(feed.include_patient_names),
                    calendar_feeds::created_at.eq(feed.created_at),
                    calendar_feeds::updated_at.eq(feed.updated_at),
                ))
                .on_conflict(calendar_feeds::doctor_id)
                .do_update()
                .set((
                    calendar_feeds::token_hash.eq(&token_hash),
                    calendar_feeds::include_patient_names.eq(feed.include_patient_names),
                    calendar_feeds::updated_at.eq(feed.updated_at),
                ))
                .execute(conn)
                .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn get(&self, doctor_id: Uuid) -> Result<CalendarFeed, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        calendar_feeds::table
            .find(doctor_id)
            .select(FEED_COLUMNS)
            .first::<FeedRow>(&mut conn)
            .await
            .optional()
            .db()?
            .map(feed)
            .ok_or(DomainError::NotFound("calendar feed"))
    }

    async fn delete(&self, doctor_id: Uuid, event: AuditEvent) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let gone = diesel::delete(calendar_feeds::table.find(doctor_id))
                .execute(conn)
                .await?;
            if gone == 0 {
                return Err(DomainError::NotFound("calendar feed").into());
            }
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn owner(&self, token_hash: &str) -> Result<Option<FeedOwner>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<(Uuid, String, bool)> = calendar_feeds::table
            .inner_join(doctors::table.inner_join(users::table))
            .filter(calendar_feeds::token_hash.eq(token_hash))
            // A deactivated doctor's feed is closed with its account (and opens again if the
            // account is reactivated, as its sessions would not).
            .filter(users::is_active.eq(true))
            .select((
                calendar_feeds::doctor_id,
                users::name,
                calendar_feeds::include_patient_names,
            ))
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(
            |(doctor_id, doctor_name, include_patient_names)| FeedOwner {
                doctor_id,
                doctor_name,
                include_patient_names,
            },
        ))
    }

    async fn items(
        &self,
        doctor_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FeedItem>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        type Row = (
            Uuid,
            PgAppointmentType,
            PgAppointmentStatus,
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
            String,
        );
        let rows: Vec<Row> = appointments::table
            .inner_join(patients::table.inner_join(users::table))
            .filter(appointments::doctor_id.eq(doctor_id))
            .filter(appointments::starts_at.ge(from))
            .filter(appointments::starts_at.lt(to))
            .order((appointments::starts_at.asc(), appointments::id.asc()))
            .select((
                appointments::id,
                appointments::type_,
                appointments::status,
                appointments::starts_at,
                appointments::ends_at,
                appointments::created_at,
                appointments::updated_at,
                users::name,
            ))
            .load(&mut conn)
            .await
            .db()?;
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, status, starts_at, ends_at, created_at, updated_at, patient_name)| {
                    FeedItem {
                        id,
                        kind: kind.into(),
                        status: status.into(),
                        starts_at,
                        ends_at,
                        created_at,
                        updated_at,
                        patient_name,
                    }
                },
            )
            .collect())
    }
}
