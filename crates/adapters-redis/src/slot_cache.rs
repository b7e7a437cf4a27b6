//! The availability cache at `slots:{doctorId}:{date}` (5 minutes). Best effort: a Redis
//! failure is logged and treated as a miss, so availability falls through to PostgreSQL.
//!
//! The value is the start of the day's earliest slot (RFC 3339, empty when there is none), a
//! newline, then the slots' JSON array as the API sends it: a hit hands the array over
//! without parsing it, and the start tells the domain whether a slot has begun meanwhile.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use deadpool_redis::redis::Cmd;
use domain::scheduling::{AvailableSlot, CachedSlots, SlotCache};
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
    async fn get(&self, doctor_id: Uuid, date: NaiveDate) -> Option<CachedSlots> {
        match self.store.get(&key(doctor_id, date)).await {
            // Anything else (an older format) is a miss, and is replaced.
            Ok(Some(value)) => decode(value),
            Ok(None) => None,
            Err(e) => {
                if !e.is_circuit_open() {
                    tracing::warn!(error = %e, "slot cache unavailable; reading PostgreSQL");
                }
                None
            }
        }
    }

    async fn put(&self, doctor_id: Uuid, date: NaiveDate, slots: &[AvailableSlot]) {
        let Ok(json) = serde_json::to_string(slots) else {
            return;
        };
        let first_start = slots
            .iter()
            .map(|s| s.starts_at)
            .min()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let value = format!("{first_start}\n{json}");
        match self.store.set_ex(&key(doctor_id, date), &value, TTL).await {
            Err(e) if !e.is_circuit_open() => tracing::warn!(error = %e, "slot cache not written"),
            _ => {}
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

/// Splits a stored value into its first start and its JSON array.
fn decode(mut value: String) -> Option<CachedSlots> {
    let newline = value.find('\n')?;
    let first_start = match &value[..newline] {
        "" => None,
        text => Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc)),
    };
    let json = value.split_off(newline + 1);
    (json.starts_with('[') && json.ends_with(']')).then_some(CachedSlots { json, first_start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_its_first_start_and_the_array_and_nothing_else_decodes() {
        let cached = decode("2030-01-02T09:00:00+00:00\n[{\"id\":1}]".into()).unwrap();
        assert_eq!(cached.json, "[{\"id\":1}]");
        assert_eq!(
            cached.first_start.unwrap().to_rfc3339(),
            "2030-01-02T09:00:00+00:00"
        );
        assert_eq!(
            decode("\n[]".into()),
            Some(CachedSlots {
                json: "[]".into(),
                first_start: None
            })
        );
        for stale in ["[]", "yesterday\n[]", "\n{}", "\n"] {
            assert_eq!(decode(stale.into()), None, "{stale:?}");
        }
    }
}
