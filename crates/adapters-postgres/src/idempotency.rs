//! Idempotency keys in PostgreSQL (`idempotency_keys`). A claimed-but-unfinished key has
//! `response_status = 0`.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::error::DomainError;
use domain::idempotency::{Claim, IdempotencyStore, StoredResponse};
use uuid::Uuid;

use crate::errors::{map_pool, DbResultExt};
use crate::schema::idempotency_keys;
use crate::PgPool;

#[derive(Clone)]
pub struct PgIdempotencyStore {
    pub pool: PgPool,
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    async fn claim(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let inserted = diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(user_id),
                idempotency_keys::key.eq(key),
                idempotency_keys::request_hash.eq(request_hash),
                idempotency_keys::response_status.eq(0i16),
                idempotency_keys::response_body.eq(serde_json::Value::Null),
            ))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await
            .db()?;
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let (hash, status, body): (String, i16, serde_json::Value) = idempotency_keys::table
            .find((user_id, key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::response_status,
                idempotency_keys::response_body,
            ))
            .first(&mut conn)
            .await
            .db()?;
        Ok(if hash != request_hash {
            Claim::Mismatch
        } else if status == 0 {
            Claim::InFlight
        } else {
            Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body,
            })
        })
    }

    async fn complete(
        &self,
        user_id: Uuid,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::update(idempotency_keys::table.find((user_id, key)))
            .set((
                idempotency_keys::response_status.eq(i16::try_from(response.status).unwrap_or(500)),
                idempotency_keys::response_body.eq(response.body),
            ))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .db()
    }

    async fn release(&self, user_id: Uuid, key: &str) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::delete(idempotency_keys::table.find((user_id, key)))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .db()
    }
}
