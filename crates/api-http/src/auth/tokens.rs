//! Signed access tokens (JWT, HS256). A token names its session; it is honoured only while
//! that session is the user's current one in Redis.

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    sid: Uuid,
    iat: i64,
    exp: i64,
}

/// Issues and verifies access tokens with the configured secret.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenService {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["sub", "exp"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> String {
        let claims = Claims {
            sub: user_id,
            sid: session_id,
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The (user id, session id) of a valid, unexpired token signed with our key.
    pub fn verify(&self, token: &str) -> Option<(Uuid, Uuid)> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| (data.claims.sub, data.claims.sid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let tokens = TokenService::new("0123456789abcdef0123456789abcdef");
        let (u, s) = (Uuid::new_v4(), Uuid::new_v4());
        let now = Utc::now();
        let token = tokens.issue(u, s, now, now + chrono::Duration::hours(1));
        assert_eq!(tokens.verify(&token), Some((u, s)));
        let other = TokenService::new("another-secret-another-secret-xx");
        assert_eq!(other.verify(&token), None);
        let expired = tokens.issue(
            u,
            s,
            now - chrono::Duration::hours(2),
            now - chrono::Duration::hours(1),
        );
        assert_eq!(tokens.verify(&expired), None);
        assert_eq!(tokens.verify("not.a.token"), None);
    }
}
