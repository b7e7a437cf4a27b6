//! The email outbox, patients' email preferences and password resets (see `domain::email`
//! and `domain::identity::reset`).
//!
//! Emails are written by [`insert_patient_emails`], which `audit_outbox::insert_events` calls
//! in every change's transaction (and the reminder job and series booking call directly): one
//! statement that resolves each patient's account and keeps only what the patient wants.
//!
//! The relay's side: [`EmailOutbox::claim`] leases due rows (`FOR UPDATE SKIP LOCKED`, so two
//! processes never claim one row); a send happens only after [`EmailOutbox::renew`] confirmed
//! the lease, and an outcome is recorded only by the lease's owner.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::email::{
    EmailIntent, EmailKind, EmailOutbox, EmailPreferenceRepository, EmailPreferences, Letter,
    QueuedEmail, SendOutcome,
};
use domain::error::DomainError;
use domain::identity::reset::{NewPasswordReset, PasswordResetRepository, StoredReset};
use domain::identity::PasswordHash;
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::schema::{doctors, email_outbox, email_preferences, password_resets, users};
use crate::PgPool;

/// Writes `intents` to the outbox, each to its patient's account if the account is active and
/// has not turned the kind off; runs inside the change's transaction. One typed
/// `INSERT ... SELECT` per intent (a change makes one, a series or a batch a few), so each
/// connection prepares it once: it runs in every booking.
pub async fn insert_patient_emails(
    conn: &mut AsyncPgConnection,
    intents: &[EmailIntent],
) -> Result<(), diesel::result::Error> {
    use crate::schema::patients;
    use diesel::dsl::{exists, not};
    use diesel::PgArrayExpressionMethods;
    for intent in intents {
        let kind = intent.letter.kind().as_str();
        let turned_off = email_preferences::table
            .filter(email_preferences::user_id.eq(users::id))
            .filter(email_preferences::opted_out.contains(vec![Some(kind)]));
        let recipient = patients::table
            .inner_join(users::table)
            .filter(patients::id.eq(intent.patient_id))
            .filter(users::is_active)
            .filter(not(exists(turned_off)))
            .select((
                users::id,
                kind.into_sql::<Text>(),
                intent.letter.to_json().into_sql::<Jsonb>(),
            ));
        diesel::insert_into(email_outbox::table)
            .values(recipient)
            .into_columns((
                email_outbox::user_id,
                email_outbox::kind,
                email_outbox::data,
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The emails a batch of changes sends (see `domain::email::intents::from_audit`).
pub async fn insert_emails_from_audit(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
) -> Result<(), diesel::result::Error> {
    insert_patient_emails(conn, &domain::email::intents::from_audit(events)).await
}

#[derive(Clone)]
pub struct PgEmailOutbox {
    pub pool: PgPool,
}

/// Leases due rows and returns them with their recipient as the account is now.
const CLAIM: &str = "
    UPDATE email_outbox o
       SET lease_owner = $1, lease_until = $3
      FROM (SELECT id FROM email_outbox
             WHERE status = 'PENDING'
               AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
               AND (lease_until IS NULL OR lease_until <= $2)
             ORDER BY created_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED) due,
           users u
     WHERE o.id = due.id AND u.id = o.user_id
    RETURNING o.id, o.data, o.attempts, o.created_at, u.email, u.name, u.is_active";

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Jsonb)]
    data: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    is_active: bool,
}

/// Error texts are kept short (the column's limit), cut on a character boundary.
fn clip(text: &str) -> String {
    text.chars().take(500).collect()
}

#[async_trait]
impl EmailOutbox for PgEmailOutbox {
    async fn claim(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<QueuedEmail>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let mut rows: Vec<ClaimedRow> = diesel::sql_query(CLAIM)
            .bind::<SqlUuid, _>(owner)
            .bind::<Timestamptz, _>(now)
            .bind::<Timestamptz, _>(now + lease)
            .bind::<BigInt, _>(limit)
            .load(&mut conn)
            .await
            .db()?;
        rows.sort_by_key(|r| r.created_at);
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            match serde_json::from_value::<Letter>(row.data) {
                Ok(letter) => claimed.push(QueuedEmail {
                    id: row.id,
                    letter,
                    attempts: row.attempts,
                    created_at: row.created_at,
                    to_email: row.email,
                    to_name: row.name,
                    to_active: row.is_active,
                }),
                // Written by a newer build (or by hand): left for an operator, not retried.
                Err(e) => {
                    tracing::error!(email_id = %row.id, error = %e, "unreadable email in the outbox");
                    self.record(
                        row.id,
                        owner,
                        SendOutcome::Failed {
                            error: format!("unreadable: {e}"),
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(claimed)
    }

    async fn renew(
        &self,
        id: Uuid,
        owner: Uuid,
        until: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let n = diesel::update(
            email_outbox::table
                .find(id)
                .filter(email_outbox::lease_owner.eq(owner))
                .filter(email_outbox::status.eq("PENDING")),
        )
        .set(email_outbox::lease_until.eq(until))
        .execute(&mut conn)
        .await
        .db()?;
        Ok(n == 1)
    }

    async fn record(&self, id: Uuid, owner: Uuid, outcome: SendOutcome) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let mine = email_outbox::table
            .find(id)
            .filter(email_outbox::lease_owner.eq(owner));
        let released = (
            email_outbox::attempts.eq(email_outbox::attempts + 1),
            email_outbox::lease_owner.eq(None::<Uuid>),
            email_outbox::lease_until.eq(None::<DateTime<Utc>>),
        );
        let done = match outcome {
            SendOutcome::Sent { at } => {
                diesel::update(mine)
                    .set((
                        released,
                        email_outbox::status.eq("SENT"),
                        email_outbox::sent_at.eq(at),
                        email_outbox::last_error.eq(None::<String>),
                    ))
                    .execute(&mut conn)
                    .await
            }
            SendOutcome::Retry { at, error } => {
                diesel::update(mine)
                    .set((
                        released,
                        email_outbox::next_attempt_at.eq(at),
                        email_outbox::last_error.eq(clip(&error)),
                    ))
                    .execute(&mut conn)
                    .await
            }
            SendOutcome::Failed { error } => {
                diesel::update(mine)
                    .set((
                        released,
                        email_outbox::status.eq("FAILED"),
                        email_outbox::last_error.eq(clip(&error)),
                    ))
                    .execute(&mut conn)
                    .await
            }
        };
        if done.db()? == 0 {
            // Its lease lapsed and another relay took the email: that relay records it.
            tracing::warn!(email_id = %id, "email outcome not recorded: the lease was lost");
        }
        Ok(())
    }

    async fn doctor_names(&self, ids: Vec<Uuid>) -> Result<HashMap<Uuid, String>, DomainError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let rows: Vec<(Uuid, String)> = doctors::table
            .inner_join(users::table)
            .filter(doctors::id.eq_any(&ids))
            .select((doctors::id, users::name))
            .load(&mut conn)
            .await
            .db()?;
        Ok(rows.into_iter().collect())
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let emails = diesel::delete(
            email_outbox::table
                .filter(email_outbox::status.ne("PENDING"))
                .filter(email_outbox::created_at.lt(before)),
        )
        .execute(&mut conn)
        .await
        .db()?;
        let resets =
            diesel::delete(password_resets::table.filter(password_resets::expires_at.lt(before)))
                .execute(&mut conn)
                .await
                .db()?;
        Ok(emails + resets)
    }
}

#[derive(Clone)]
pub struct PgEmailPreferences {
    pub pool: PgPool,
}

#[async_trait]
impl EmailPreferenceRepository for PgEmailPreferences {
    async fn get(&self, user_id: Uuid) -> Result<EmailPreferences, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let opted_out: Option<Vec<Option<String>>> = email_preferences::table
            .find(user_id)
            .select(email_preferences::opted_out)
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(EmailPreferences::from_opted_out(
            opted_out
                .unwrap_or_default()
                .iter()
                .flatten()
                .filter_map(|k| EmailKind::parse(k)),
        ))
    }

    async fn set(
        &self,
        user_id: Uuid,
        p: EmailPreferences,
        event: AuditEvent,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let opted_out: Vec<Option<String>> = p
            .opted_out()
            .iter()
            .map(|k| Some(k.as_str().to_owned()))
            .collect();
        conn.transaction::<(), TxError, _>(async move |conn| {
            let values = (
                email_preferences::opted_out.eq(&opted_out),
                email_preferences::updated_at.eq(diesel::dsl::now),
            );
            diesel::insert_into(email_preferences::table)
                .values((email_preferences::user_id.eq(user_id), values))
                .on_conflict(email_preferences::user_id)
                .do_update()
                .set(values)
                .execute(conn)
                .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }
}

#[derive(Clone)]
pub struct PgPasswordResets {
    pub pool: PgPool,
}

#[async_trait]
impl PasswordResetRepository for PgPasswordResets {
    async fn open(
        &self,
        reset: NewPasswordReset,
        email: Letter,
        events: Vec<AuditEvent>,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            // A new link closes the older ones.
            diesel::update(
                password_resets::table
                    .filter(password_resets::user_id.eq(reset.user_id))
                    .filter(password_resets::used_at.is_null()),
            )
            .set(password_resets::used_at.eq(reset.created_at))
            .execute(conn)
            .await?;
            diesel::insert_into(password_resets::table)
                .values((
                    password_resets::id.eq(reset.id),
                    password_resets::user_id.eq(reset.user_id),
                    password_resets::token_hash.eq(&reset.token_hash),
                    password_resets::requested_by.eq(reset.requested_by),
                    password_resets::created_at.eq(reset.created_at),
                    password_resets::expires_at.eq(reset.expires_at),
                ))
                .execute(conn)
                .await?;
            diesel::insert_into(email_outbox::table)
                .values((
                    email_outbox::user_id.eq(reset.user_id),
                    email_outbox::kind.eq(email.kind().as_str()),
                    email_outbox::data.eq(email.to_json()),
                ))
                .execute(conn)
                .await?;
            insert_events(conn, &events).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn find(&self, token_hash: String) -> Result<Option<StoredReset>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<(Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>)> =
            password_resets::table
                .filter(password_resets::token_hash.eq(token_hash))
                .select((
                    password_resets::id,
                    password_resets::user_id,
                    password_resets::expires_at,
                    password_resets::used_at,
                ))
                .first(&mut conn)
                .await
                .optional()
                .db()?;
        Ok(row.map(|(id, user_id, expires_at, used_at)| StoredReset {
            id,
            user_id,
            expires_at,
            used_at,
        }))
    }

    async fn complete(
        &self,
        reset_id: Uuid,
        user_id: Uuid,
        hash: PasswordHash,
        now: DateTime<Utc>,
        events: Vec<AuditEvent>,
    ) -> Result<bool, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let done = conn
            .transaction::<bool, TxError, _>(async move |conn| {
                // The conditional update is what makes a link single-use, whatever runs at once.
                let claimed = diesel::update(
                    password_resets::table
                        .find(reset_id)
                        .filter(password_resets::used_at.is_null()),
                )
                .set(password_resets::used_at.eq(now))
                .execute(conn)
                .await?;
                if claimed == 0 {
                    return Ok(false);
                }
                // Any other link still open (asked for at the same moment) dies with this use.
                diesel::update(
                    password_resets::table
                        .filter(password_resets::user_id.eq(user_id))
                        .filter(password_resets::used_at.is_null()),
                )
                .set(password_resets::used_at.eq(now))
                .execute(conn)
                .await?;
                diesel::update(users::table.find(user_id))
                    .set((
                        users::password_hash.eq(&hash.0),
                        users::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
                    .await?;
                insert_events(conn, &events).await?;
                Ok(true)
            })
            .await?;
        Ok(done)
    }
}
