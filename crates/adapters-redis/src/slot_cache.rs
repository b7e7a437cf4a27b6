//! The availability cache at `slots:{doctorId}:{date}` (5 minutes). Best effort: a Redis
//! failure is logged and treated as a miss, so availability falls through to PostgreSQL.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use deadpool_redis::redis::Cmd;
use domain::scheduling::{AvailableSlot, SlotCache};
use uuid::Uuid;

use crate::RedisStore;

pub const TTL: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct RedisSlotCache {
    pub store: RedisStore,
}

fn key(doctor_id: Uuid, date: NaiveDate) -> String {
    format!("slots:{doctor_id}:{date}")
}

#[async_trait]
impl SlotCache for RedisSlotCache {
    async fn get(&self, doctor_id: Uuid, date: NaiveDate) -> Option<Vec<AvailableSlot>> {
        match self.store.get(&key(doctor_id, date)).await {
            Ok(Some(json)) => serde_json::from_str(&json).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "slot cache unavailable; reading PostgreSQL");
                None
            }
        }
    }

    async fn put(&self, doctor_id: Uuid, date: NaiveDate, slots: &[AvailableSlot]) {
        let Ok(json) = serde_json::to_string(slots) else {
            return;
        };
        if let Err(e) = self.store.set_ex(&key(doctor_id, date), &json, TTL).await {
            tracing::warn!(error = %e, "slot cache not written");
        }
    }

    async fn invalidate(&self, doctor_id: Uuid, dates: &[NaiveDate]) {
        if dates.is_empty() {
            return;
        }
        // One DEL for every date: one round trip.
        let keys: Vec<String> = dates
            .iter()
            .map(|date| self.store.key(&key(doctor_id, *date)))
            .collect();
        if let Err(e) = self.store.query::<()>(&Cmd::del(keys)).await {
            // A stale entry lives at most its 5-minute TTL; booking itself is still
            // protected by the database, so a stale read can never double-book.
            tracing::warn!(error = %e, "slot cache not invalidated");
        }
    }
}
