//! Idempotency keys in PostgreSQL (`idempotency_keys`). A claimed-but-unfinished key has
//! `response_status = 0`; `locked_until` is its lease; `resource_id` is written by the work's
//! own transaction ([`mark_committed`]) so a crash before completion cannot lose the result.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::error::DomainError;
use domain::idempotency::{Claim, IdempotencyStore, KeyRef, StoredResponse};
use uuid::Uuid;

use crate::errors::{map_pool, DbResultExt};
use crate::schema::idempotency_keys;
use crate::PgPool;

#[derive(Clone)]
pub struct PgIdempotencyStore {
    pub pool: PgPool,
}

/// Records, inside the caller's transaction, that the work of `key` produced `resource_id`.
pub(crate) async fn mark_committed(
    conn: &mut AsyncPgConnection,
    key: &KeyRef,
    resource_id: Uuid,
) -> Result<(), diesel::result::Error> {
    diesel::update(idempotency_keys::table.find((key.user_id, &key.key)))
        .set(idempotency_keys::resource_id.eq(Some(resource_id)))
        .execute(conn)
        .await
        .map(|_| ())
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    one: i32,
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    /// One statement claims a new key, re-claims an expired one, or takes over an abandoned
    /// claim of the same request; PostgreSQL's row lock on conflict makes two racing takeovers
    /// see each other (the loser finds a live lease: in flight).
    async fn claim(
        &self,
        key: &KeyRef,
        fingerprint: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<Claim, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let claimed: Option<Claimed> = diesel::sql_query(
            "INSERT INTO idempotency_keys
                 (user_id, key, request_hash, response_status, response_body, locked_until, created_at)
             VALUES ($1, $2, $3, 0, 'null', $4, $5)
             ON CONFLICT (user_id, key) DO UPDATE
                SET request_hash = EXCLUDED.request_hash, response_status = 0,
                    response_body = 'null', resource_id = NULL,
                    locked_until = EXCLUDED.locked_until, created_at = EXCLUDED.created_at
              WHERE idempotency_keys.created_at < $6
                 OR (idempotency_keys.response_status = 0
                     AND idempotency_keys.resource_id IS NULL
                     AND idempotency_keys.locked_until < $5
                     AND idempotency_keys.request_hash = EXCLUDED.request_hash)
             RETURNING 1 AS one",
        )
        .bind::<SqlUuid, _>(key.user_id)
        .bind::<Text, _>(&key.key)
        .bind::<Text, _>(fingerprint)
        .bind::<Timestamptz, _>(lease_until)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(expired_before)
        .get_result(&mut conn)
        .await
        .optional()
        .db()?;
        if claimed.is_some() {
            return Ok(Claim::New);
        }
        let (hash, status, body, resource): (String, i16, serde_json::Value, Option<Uuid>) =
            idempotency_keys::table
                .find((key.user_id, &key.key))
                .select((
                    idempotency_keys::request_hash,
                    idempotency_keys::response_status,
                    idempotency_keys::response_body,
                    idempotency_keys::resource_id,
                ))
                .first(&mut conn)
                .await
                .db()?;
        Ok(if hash != fingerprint {
            Claim::Mismatch
        } else if status != 0 {
            Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body,
            })
        } else if let Some(id) = resource {
            Claim::Committed(id)
        } else {
            Claim::InFlight
        })
    }

    async fn complete(&self, key: &KeyRef, response: StoredResponse) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::update(idempotency_keys::table.find((key.user_id, &key.key)))
            .set((
                idempotency_keys::response_status.eq(i16::try_from(response.status).unwrap_or(500)),
                idempotency_keys::response_body.eq(response.body),
            ))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .db()
    }

    async fn release(&self, key: &KeyRef) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::delete(idempotency_keys::table.find((key.user_id, &key.key)))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .db()
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
            .execute(&mut conn)
            .await
            .db()
    }
}
