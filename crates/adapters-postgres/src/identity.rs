//! Accounts in PostgreSQL: `users` with their `patients` / `doctors` profiles.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::directory::{DoctorProfile, PatientProfile};
use domain::error::DomainError;
use domain::identity::{Email, NewUser, PasswordHash, User, UserRepository};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::directory::{NewDoctorRow, PatientProfileRow};
use crate::enums::PgRole;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::schema::users;
use crate::PgPool;

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: PgRole,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            name: r.name,
            phone: r.phone,
            role: r.role.into(),
            is_active: r.is_active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    id: Uuid,
    email: &'a str,
    password_hash: &'a str,
    name: &'a str,
    phone: Option<&'a str>,
    role: PgRole,
}

impl<'a> From<&'a NewUser> for NewUserRow<'a> {
    fn from(u: &'a NewUser) -> Self {
        Self {
            id: u.id,
            email: u.email.as_str(),
            password_hash: &u.password_hash.0,
            name: &u.name,
            phone: u.phone.as_deref(),
            role: u.role.into(),
        }
    }
}

/// Inserts the `users` row of a new account (inside the caller's transaction).
async fn insert_user(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &NewUser,
) -> Result<UserRow, diesel::result::Error> {
    diesel::insert_into(users::table)
        .values(NewUserRow::from(user))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

#[derive(Clone)]
pub struct PgUserRepository {
    pub pool: PgPool,
}

#[async_trait]
impl UserRepository for PgUserRepository {
    async fn create_patient(
        &self,
        user: NewUser,
        profile: PatientProfile,
        events: Vec<AuditEvent>,
    ) -> Result<User, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row = conn
            .transaction::<UserRow, TxError, _>(async move |conn| {
                let row = insert_user(conn, &user).await?;
                diesel::insert_into(crate::schema::patients::table)
                    .values(PatientProfileRow::new(Uuid::new_v4(), user.id, &profile))
                    .execute(conn)
                    .await?;
                insert_events(conn, &events).await?;
                Ok(row)
            })
            .await?;
        Ok(row.into())
    }

    async fn create_staff(
        &self,
        user: NewUser,
        doctor: Option<DoctorProfile>,
        events: Vec<AuditEvent>,
    ) -> Result<User, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row = conn
            .transaction::<UserRow, TxError, _>(async move |conn| {
                let row = insert_user(conn, &user).await?;
                if let Some(profile) = &doctor {
                    diesel::insert_into(crate::schema::doctors::table)
                        .values(NewDoctorRow::new(Uuid::new_v4(), user.id, profile))
                        .execute(conn)
                        .await?;
                }
                insert_events(conn, &events).await?;
                Ok(row)
            })
            .await?;
        Ok(row.into())
    }

    async fn find_credentials(
        &self,
        email: &Email,
    ) -> Result<Option<(User, PasswordHash)>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let found: Option<(UserRow, String)> = users::table
            .filter(users::email.eq(email.as_str()))
            .select((UserRow::as_select(), users::password_hash))
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(found.map(|(u, h)| (u.into(), PasswordHash(h))))
    }

    async fn find_password_hash(&self, user_id: Uuid) -> Result<Option<PasswordHash>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let hash: Option<String> = users::table
            .find(user_id)
            .select(users::password_hash)
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(hash.map(PasswordHash))
    }

    async fn find_user(&self, user_id: Uuid) -> Result<Option<User>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<UserRow> = users::table
            .find(user_id)
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(Into::into))
    }

    async fn update_password(
        &self,
        user_id: Uuid,
        hash: PasswordHash,
        event: AuditEvent,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let n = diesel::update(users::table.find(user_id))
                .set(users::password_hash.eq(&hash.0))
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(DomainError::NotFound("user").into());
            }
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn set_active(
        &self,
        user_id: Uuid,
        active: bool,
        event: AuditEvent,
    ) -> Result<User, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row = conn
            .transaction::<UserRow, TxError, _>(async move |conn| {
                let row: Option<UserRow> = diesel::update(users::table.find(user_id))
                    .set(users::is_active.eq(active))
                    .returning(UserRow::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?;
                let row = row.ok_or(DomainError::NotFound("user"))?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(row)
            })
            .await?;
        Ok(row.into())
    }

    async fn record(&self, event: AuditEvent) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        insert_events(&mut conn, &[event]).await.db()
    }

    async fn profile_ids(
        &self,
        user_id: Uuid,
    ) -> Result<(Option<Uuid>, Option<Uuid>), DomainError> {
        use crate::schema::{doctors, patients};
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let patient: Option<Uuid> = patients::table
            .filter(patients::user_id.eq(user_id))
            .select(patients::id)
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        let doctor: Option<Uuid> = doctors::table
            .filter(doctors::user_id.eq(user_id))
            .select(doctors::id)
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok((patient, doctor))
    }
}
