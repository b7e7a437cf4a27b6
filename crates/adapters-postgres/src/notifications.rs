//! Notifications in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::AsExprOf;
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::error::DomainError;
use domain::identity::Role;
use domain::notifications::{Notification, NotificationRepository};
use domain::paging::{Cursor, Page, PageRequest};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::{PgNotificationType, PgRole};
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::paging::keyset_page;
use crate::schema::{notifications, users};
use crate::PgPool;

#[derive(Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
struct NotificationRow {
    id: Uuid,
    user_id: Uuid,
    type_: PgNotificationType,
    title: String,
    message: String,
    is_read: bool,
    appointment_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            kind: r.type_.into(),
            title: r.title,
            message: r.message,
            is_read: r.is_read,
            appointment_id: r.appointment_id,
            created_at: r.created_at,
        }
    }
}

#[derive(Clone)]
pub struct PgNotificationRepository {
    pub pool: PgPool,
}

#[async_trait]
impl NotificationRepository for PgNotificationRepository {
    async fn list(
        &self,
        user_id: Uuid,
        unread_only: bool,
        page: PageRequest,
    ) -> Result<Page<Notification>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = notifications::table
                .filter(notifications::user_id.eq(user_id))
                .into_boxed();
            if unread_only {
                q = q.filter(notifications::is_read.eq(false));
            }
            q
        };
        let after = page.after.as_ref().map(|c| c.inbox()).transpose()?;
        let (rows, total): (Vec<NotificationRow>, _) = keyset_page!(
            &mut conn,
            build,
            NotificationRow::as_select(),
            (
                notifications::is_read.asc(),
                notifications::created_at.desc(),
                notifications::id.desc(),
            ),
            after.map(after_inbox),
            page
        );
        let notifications: Vec<Notification> = rows.into_iter().map(Into::into).collect();
        Ok(page.page_of(notifications, total, |n| Cursor::Inbox {
            read: n.is_read,
            at: n.created_at,
            id: n.id,
        }))
    }

    async fn unread_count(&self, user_id: Uuid) -> Result<u64, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let n: i64 = notifications::table
            .filter(notifications::user_id.eq(user_id))
            .filter(notifications::is_read.eq(false))
            .count()
            .get_result(&mut conn)
            .await
            .db()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn get(&self, user_id: Uuid, id: Uuid) -> Result<Option<Notification>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<NotificationRow> = notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::user_id.eq(user_id))
            .select(NotificationRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(Into::into))
    }

    async fn mark_read(&self, user_id: Uuid, id: Uuid) -> Result<Notification, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<NotificationRow> = diesel::update(
            notifications::table
                .filter(notifications::id.eq(id))
                .filter(notifications::user_id.eq(user_id)),
        )
        .set(notifications::is_read.eq(true))
        .returning(NotificationRow::as_returning())
        .get_result(&mut conn)
        .await
        .optional()
        .db()?;
        row.map(Into::into)
            .ok_or(DomainError::NotFound("notification"))
    }

    async fn mark_all_read(&self, user_id: Uuid) -> Result<u64, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let n = diesel::update(
            notifications::table
                .filter(notifications::user_id.eq(user_id))
                .filter(notifications::is_read.eq(false)),
        )
        .set(notifications::is_read.eq(true))
        .execute(&mut conn)
        .await
        .db()?;
        Ok(n as u64)
    }

    async fn broadcast(
        &self,
        title: String,
        message: String,
        role: Option<Role>,
        event: AuditEvent,
    ) -> Result<u64, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let n = conn
            .transaction::<usize, TxError, _>(async move |conn| {
                let mut recipients = users::table.filter(users::is_active.eq(true)).into_boxed();
                if let Some(role) = role {
                    recipients = recipients.filter(users::role.eq(PgRole::from(role)));
                }
                let n = diesel::insert_into(notifications::table)
                    .values(
                        recipients.select((
                            users::id,
                            PgNotificationType::General
                                .into_sql::<crate::schema::sql_types::NotificationType>(),
                            title.as_str().into_sql::<diesel::sql_types::Text>(),
                            message.as_str().into_sql::<diesel::sql_types::Text>(),
                        )),
                    )
                    .into_columns((
                        notifications::user_id,
                        notifications::type_,
                        notifications::title,
                        notifications::message,
                    ))
                    .execute(conn)
                    .await?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(n)
            })
            .await?;
        Ok(n as u64)
    }
}

/// One notification for the user behind a patient record.
pub(crate) struct PatientNotice {
    pub patient_id: Uuid,
    pub notice: domain::notifications::Notice,
    pub appointment_id: Option<Uuid>,
}

/// Writes notifications to the users behind patient records, inside the caller's transaction
/// (so they exist exactly when the change they announce commits): one query for the users,
/// one insert for all of them.
pub(crate) async fn notify_patients(
    conn: &mut diesel_async::AsyncPgConnection,
    kind: domain::notifications::NotificationType,
    notices: Vec<PatientNotice>,
) -> Result<(), diesel::result::Error> {
    use crate::schema::patients;
    let ids: Vec<Uuid> = notices.iter().map(|n| n.patient_id).collect();
    let users: std::collections::HashMap<Uuid, Uuid> = patients::table
        .filter(patients::id.eq_any(&ids))
        .select((patients::id, patients::user_id))
        .load::<(Uuid, Uuid)>(conn)
        .await?
        .into_iter()
        .collect();
    let rows: Vec<_> = notices
        .into_iter()
        .filter_map(|n| {
            Some((
                notifications::user_id.eq(*users.get(&n.patient_id)?),
                notifications::type_.eq(PgNotificationType::from(kind)),
                notifications::title.eq(n.notice.title),
                notifications::message.eq(n.notice.message),
                notifications::appointment_id.eq(n.appointment_id),
            ))
        })
        .collect();
    diesel::insert_into(notifications::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// [`notify_patients`] for one notice.
pub(crate) async fn notify_patient(
    conn: &mut diesel_async::AsyncPgConnection,
    patient_id: Uuid,
    kind: domain::notifications::NotificationType,
    notice: &domain::notifications::Notice,
    appointment_id: Option<Uuid>,
) -> Result<(), diesel::result::Error> {
    let notice = PatientNotice {
        patient_id,
        notice: notice.clone(),
        appointment_id,
    };
    notify_patients(conn, kind, vec![notice]).await
}

/// The condition [`after_inbox`] builds, its four values bound.
type InboxAfter = SqlLiteral<Bool, UncheckedBind<Bound3, AsExprOf<Uuid, SqlUuid>>>;
type Bound3 = SqlLiteral<Bool, UncheckedBind<Bound2, AsExprOf<DateTime<Utc>, Timestamptz>>>;
type Bound2 = SqlLiteral<Bool, UncheckedBind<Bound1, AsExprOf<bool, Bool>>>;
type Bound1 = SqlLiteral<Bool, UncheckedBind<SqlLiteral<Bool>, AsExprOf<bool, Bool>>>;

/// Notifications after an inbox position: unread before read, then newest first. Two
/// directions in one order cannot be one row comparison, hence the `OR`; an inbox is one user's,
/// so the rows it walks are few.
fn after_inbox((read, at, id): (bool, DateTime<Utc>, Uuid)) -> InboxAfter {
    diesel::dsl::sql::<Bool>("(notifications.is_read > ")
        .bind::<Bool, _>(read)
        .sql(" OR (notifications.is_read = ")
        .bind::<Bool, _>(read)
        .sql(" AND (notifications.created_at, notifications.id) < (")
        .bind::<Timestamptz, _>(at)
        .sql(", ")
        .bind::<SqlUuid, _>(id)
        .sql(")))")
}
