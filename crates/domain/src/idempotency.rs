//! `Idempotency-Key`: a retried request returns the first result instead of acting twice, and
//! no crash between any two steps can leave a client locked out.
//!
//! The protocol, per (user, key):
//!
//! 1. [`Idempotency::begin`] claims the key with a *lease* (a row with `locked_until`). A key
//!    seen before answers by what its row holds: a stored response is replayed; a different
//!    request (another fingerprint) is refused; a claim still within its lease is "in flight"
//!    (409, retry shortly); a claim whose lease ran out was abandoned by a crashed worker and is
//!    taken over.
//! 2. The work itself records its result's id on the key **in its own transaction** (booking
//!    writes `resource_id` beside the appointment), so "committed" and "the key knows it" are
//!    one fact.
//! 3. [`Idempotency::finish`] stores the response to replay. If the process dies between 2 and
//!    3, the next retry finds the resource id without a response and gets the same resource
//!    back ([`Begin::Recovered`]) instead of booking again or waiting for ever.
//!
//! A failure that is nobody's fault (a store down) releases the claim so a retry acts again. Keys
//! expire after [`KEY_TTL_HOURS`]: an expired key is claimed afresh, and a job deletes them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::{Conflict, DomainError};

/// How long a key is remembered.
pub const KEY_TTL_HOURS: i64 = 24;

/// A stored answer: HTTP-agnostic status number and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

/// One client key of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub user_id: Uuid,
    pub key: String,
}

/// What the store found when claiming a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Claimed (first use, expired, or taken over after the lease): go ahead.
    New,
    /// Seen before with the same request: answer this.
    Replay(StoredResponse),
    /// The work committed (its result is this id) but the response was never stored.
    Committed(Uuid),
    /// Seen before with a different request.
    Mismatch,
    /// Another request with this key holds the lease.
    InFlight,
}

/// Keys in a store shared by every process.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` atomically: inserts it with a lease until `lease_until`, or, when it exists,
    /// reports it; a row created before `expired_before` counts as absent and a row whose
    /// lease ended before `now` without a result is taken over (both re-claimed as `New`).
    async fn claim(
        &self,
        key: &KeyRef,
        fingerprint: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<Claim, DomainError>;

    /// Stores the response to replay.
    async fn complete(&self, key: &KeyRef, response: StoredResponse) -> Result<(), DomainError>;

    /// Forgets a claim whose work failed unexpectedly, so a retry can act again.
    async fn release(&self, key: &KeyRef) -> Result<(), DomainError>;

    /// Deletes keys created before `before`; returns how many.
    async fn purge(&self, before: DateTime<Utc>) -> Result<usize, DomainError>;
}

/// How a request with a key goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// Do the work (recording its result id on the key in the work's transaction), then
    /// [`Idempotency::finish`] or [`Idempotency::abandon`].
    Proceed(KeyRef),
    /// Answer this, do nothing.
    Replay(StoredResponse),
    /// The work already committed with this result; answer with it (and `finish`).
    Recovered(KeyRef, Uuid),
}

/// The idempotency use case, shared by every route that accepts a key.
pub struct Idempotency {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    lease: Duration,
}

impl Idempotency {
    /// `lease`: how long a claim blocks retries before it counts as abandoned; longer than the
    /// slowest request (the booking store timeout), shorter than a client's patience.
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>, lease: Duration) -> Self {
        Self {
            store,
            clock,
            lease,
        }
    }

    /// Claims `raw_key` for `user_id` and this request's `fingerprint` ([`fingerprint`]).
    /// Errors: `Validation("Idempotency-Key")` for a malformed key or a key reused for another
    /// request, `Conflict(IdempotencyInFlight)` while another request holds it.
    #[tracing::instrument(name = "idempotency.begin", skip_all, fields(user_id = %user_id))]
    pub async fn begin(
        &self,
        user_id: Uuid,
        raw_key: &str,
        fingerprint: &str,
    ) -> Result<Begin, DomainError> {
        let key = KeyRef {
            user_id,
            key: parse_key(raw_key)?,
        };
        let now = self.clock.now();
        let expired_before = now - Duration::hours(KEY_TTL_HOURS);
        let claim = self
            .store
            .claim(&key, fingerprint, now, now + self.lease, expired_before)
            .await?;
        match claim {
            Claim::New => Ok(Begin::Proceed(key)),
            Claim::Replay(stored) => Ok(Begin::Replay(stored)),
            Claim::Committed(id) => Ok(Begin::Recovered(key, id)),
            Claim::Mismatch => Err(DomainError::validation(
                "Idempotency-Key",
                "this key was used for a different request",
            )),
            Claim::InFlight => Err(DomainError::Conflict(Conflict::IdempotencyInFlight)),
        }
    }

    /// Stores the answer of a finished request for its retries.
    #[tracing::instrument(name = "idempotency.finish", skip_all)]
    pub async fn finish(&self, key: &KeyRef, response: StoredResponse) -> Result<(), DomainError> {
        self.store.complete(key, response).await
    }

    /// Releases the key after a failure that was not the request's fault.
    #[tracing::instrument(name = "idempotency.abandon", skip_all)]
    pub async fn abandon(&self, key: &KeyRef) -> Result<(), DomainError> {
        self.store.release(key).await
    }

    /// The clean-up job's step: forgets keys older than [`KEY_TTL_HOURS`].
    #[tracing::instrument(name = "idempotency.purge_expired", skip_all)]
    pub async fn purge_expired(&self) -> Result<usize, DomainError> {
        self.store
            .purge(self.clock.now() - Duration::hours(KEY_TTL_HOURS))
            .await
    }
}

/// Whether a failed request should be remembered (its answer replayed) or released: the
/// client's own mistakes and business refusals are answers; infrastructure failures are not.
pub fn is_final(error: &DomainError) -> bool {
    !matches!(
        error,
        DomainError::Unexpected(_) | DomainError::Unavailable(_)
    )
}

/// Validates a client's key: 1 to 200 visible ASCII characters.
pub fn parse_key(raw: &str) -> Result<String, DomainError> {
    let key = raw.trim();
    if key.is_empty() || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(DomainError::validation(
            "Idempotency-Key",
            "1 to 200 visible ASCII characters",
        ));
    }
    Ok(key.to_owned())
}

/// SHA-256 (hex) of the operation and the canonical JSON of its body: object keys sorted,
/// no whitespace, so the same request written differently has the same fingerprint.
pub fn fingerprint(operation: &str, body: &serde_json::Value) -> String {
    let mut text = String::from(operation);
    text.push('\n');
    canonical_json(body, &mut text);
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `value` as canonical JSON: sorted keys, no insignificant whitespace.
pub fn canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use chrono::TimeZone;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    fn service(store: MockIdempotencyStore) -> Idempotency {
        Idempotency::new(
            Arc::new(store),
            Arc::new(FixedClock(at())),
            Duration::seconds(30),
        )
    }

    #[test]
    fn the_fingerprint_ignores_key_order_and_whitespace_but_not_values() {
        let a = json!({ "timeSlotId": "s", "reason": "cough", "nested": { "b": 1, "a": [1, 2] } });
        let b: serde_json::Value = serde_json::from_str(
            r#"{ "nested": {"a":[1,2],"b":1}, "reason":"cough",   "timeSlotId":"s" }"#,
        )
        .unwrap();
        assert_eq!(
            fingerprint("POST /appointments", &a),
            fingerprint("POST /appointments", &b)
        );
        let c = json!({ "timeSlotId": "s", "reason": "cough!", "nested": { "b": 1, "a": [1, 2] } });
        assert_ne!(
            fingerprint("POST /appointments", &a),
            fingerprint("POST /appointments", &c)
        );
        assert_ne!(
            fingerprint("POST /appointments", &a),
            fingerprint("POST /other", &a)
        );
        let mut out = String::new();
        canonical_json(&b, &mut out);
        assert_eq!(
            out,
            r#"{"nested":{"a":[1,2],"b":1},"reason":"cough","timeSlotId":"s"}"#
        );
    }

    #[tokio::test]
    async fn a_claim_gets_a_lease_and_keys_older_than_a_day_count_as_new() {
        let mut store = MockIdempotencyStore::new();
        store
            .expect_claim()
            .withf(|k, fp, now, lease, expired| {
                k.key == "k-1"
                    && fp == "fp"
                    && *now == at()
                    && *lease == at() + Duration::seconds(30)
                    && *expired == at() - Duration::hours(24)
            })
            .returning(|_, _, _, _, _| Ok(Claim::New));
        let begin = service(store)
            .begin(Uuid::new_v4(), " k-1 ", "fp")
            .await
            .unwrap();
        assert!(matches!(begin, Begin::Proceed(k) if k.key == "k-1"));
    }

    #[tokio::test]
    async fn each_claim_outcome_becomes_the_right_answer() {
        let id = Uuid::new_v4();
        for (claim, expected) in [
            (Claim::Committed(id), "recovered"),
            (Claim::Mismatch, "422"),
            (Claim::InFlight, "409"),
            (
                Claim::Replay(StoredResponse {
                    status: 201,
                    body: json!({}),
                }),
                "replay",
            ),
        ] {
            let mut store = MockIdempotencyStore::new();
            store
                .expect_claim()
                .returning(move |_, _, _, _, _| Ok(claim.clone()));
            let got = service(store).begin(Uuid::new_v4(), "k", "fp").await;
            let kind = match got {
                Ok(Begin::Recovered(_, got_id)) if got_id == id => "recovered",
                Ok(Begin::Replay(r)) if r.status == 201 => "replay",
                Err(DomainError::Validation { field, .. }) if field == "Idempotency-Key" => "422",
                Err(DomainError::Conflict(Conflict::IdempotencyInFlight)) => "409",
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(kind, expected);
        }
    }

    #[tokio::test]
    async fn malformed_keys_never_reach_the_store() {
        let svc = service(MockIdempotencyStore::new());
        for bad in ["", "   ", "with space", "é", &"x".repeat(201)] {
            assert!(
                svc.begin(Uuid::new_v4(), bad, "fp").await.is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn infrastructure_failures_are_released_business_answers_are_kept() {
        assert!(!is_final(&DomainError::Unavailable("database")));
        assert!(!is_final(&DomainError::broken("x")));
        assert!(is_final(&DomainError::Conflict(Conflict::SlotTaken)));
        assert!(is_final(&DomainError::validation("reason", "empty")));
    }
}
