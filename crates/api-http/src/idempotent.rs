//! The HTTP face of `Idempotency-Key` (the protocol itself is `domain::idempotency`): read the
//! header, fingerprint the request, and answer a retry with what the first request answered.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use domain::error::DomainError;
use domain::idempotency::{Begin, KeyRef, StoredResponse};
use domain::identity::Actor;
use serde::Serialize;

use crate::errors::ApiError;
use crate::state::AppState;

/// What a keyed request does: its work (given the claimed key, to record its result in its
/// own transaction) and how to answer again for a result that committed without its response.
pub(crate) trait KeyedWork<T: Serialize> {
    async fn run(&self, key: Option<KeyRef>) -> Result<T, DomainError>;
    async fn recover(&self, resource_id: uuid::Uuid) -> Result<T, DomainError>;
}

/// Runs `work` at most once per (user, `Idempotency-Key`): without the header it just runs;
/// with it, a retry gets the first answer (also after a crash between the work's commit and
/// storing its response), a reused key for another request is 422, one still running 409.
pub(crate) async fn respond<T: Serialize>(
    state: &AppState,
    req: &HttpRequest,
    actor: &Actor,
    body: &serde_json::Value,
    success: StatusCode,
    work: impl KeyedWork<T>,
) -> Result<HttpResponse, ApiError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        let done = work.run(None).await?;
        return Ok(HttpResponse::build(success).json(done));
    };
    let raw = raw.to_str().map_err(|_| {
        ApiError::validation("Idempotency-Key", "1 to 200 visible ASCII characters")
    })?;
    let operation = format!("{} {}", req.method(), req.path());
    let fingerprint = domain::idempotency::fingerprint(&operation, body);
    let (key, outcome) = match state
        .idempotency
        .begin(actor.user_id, raw, &fingerprint)
        .await?
    {
        Begin::Replay(stored) => return Ok(replay(stored)),
        Begin::Recovered(key, id) => {
            let outcome = work.recover(id).await;
            (key, outcome)
        }
        Begin::Proceed(key) => {
            let outcome = work.run(Some(key.clone())).await;
            (key, outcome)
        }
    };
    let stored = match outcome {
        Ok(done) => StoredResponse {
            status: success.as_u16(),
            body: serde_json::to_value(done).unwrap_or_default(),
        },
        Err(e) if !domain::idempotency::is_final(&e) => {
            // Not the client's fault: a retry should act again.
            state.idempotency.abandon(&key).await?;
            return Err(e.into());
        }
        Err(e) => {
            let api = ApiError::from(e);
            StoredResponse {
                status: api.status.as_u16(),
                body: serde_json::to_value(&api.body).unwrap_or_default(),
            }
        }
    };
    state.idempotency.finish(&key, stored.clone()).await?;
    Ok(replay(stored))
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    HttpResponse::build(status).json(stored.body)
}
