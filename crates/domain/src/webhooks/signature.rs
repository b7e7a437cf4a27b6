//! Signing a delivery, and how a receiver checks one.
//!
//! The header is `HealthSync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, where the HMAC
//! is keyed with the endpoint's secret over `"<t>.<raw body>"`. A receiver recomputes it over
//! the body bytes exactly as received, compares in constant time, and rejects a timestamp
//! further than its tolerance (five minutes is usual) from its own clock, so a captured request
//! cannot be replayed later; within the tolerance it drops an event id it has already seen.
//! The sender writes one `v1=` entry; [`verify`] accepts a header with several (any one
//! matching), so a receiver written against it keeps working if a future sender signs with two
//! secrets during a rotation. Today a rotation takes effect at the next request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "HealthSync-Signature";
pub const EVENT_ID_HEADER: &str = "HealthSync-Event-Id";
pub const EVENT_TYPE_HEADER: &str = "HealthSync-Event-Type";
pub const DELIVERY_ID_HEADER: &str = "HealthSync-Delivery-Id";

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex(&mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Why a receiver refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the timestamp is outside the tolerance (a replay, or a clock far off)")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// What a receiver does, as a reference implementation (the tests' receiver uses it).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now_unix.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    for candidate in signatures {
        let Some(bytes) = unhex(candidate) else {
            continue;
        };
        // `verify_slice` compares in constant time.
        if mac(secret, timestamp, body).verify_slice(&bytes).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_vector() {
        // HMAC-SHA256("secret", "1700000000.{}"), computed independently with
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac secret`.
        assert_eq!(
            sign("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        let header = format!("t={},v1=00", i64::MIN);
        assert_eq!(
            verify("k", &header, b"{}", i64::MAX, 300),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn a_receiver_accepts_the_real_thing_and_nothing_else() {
        let body = br#"{"id":"e1","type":"appointment.booked"}"#;
        let header = sign("whsec_a", 1_000, body);
        assert_eq!(verify("whsec_a", &header, body, 1_100, 300), Ok(()));
        assert_eq!(
            verify("whsec_b", &header, body, 1_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_a", &header, b"{}", 1_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_a", &header, body, 1_400, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("whsec_a", "v1=00", body, 1_000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("whsec_a", "t=1000", body, 1_000, 300),
            Err(SignatureError::Malformed)
        );
        // A timestamp moved forward with the old signature does not verify.
        let forged = header.replace("t=1000", "t=1100");
        assert_eq!(
            verify("whsec_a", &forged, body, 1_100, 300),
            Err(SignatureError::Mismatch)
        );
        // A header listing two signatures passes when either matches.
        let both = format!("{header},v1=deadbeef");
        assert_eq!(verify("whsec_a", &both, body, 1_000, 300), Ok(()));
    }
}
