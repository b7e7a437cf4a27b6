//! The per-IP request budget (`rate:{ip}`), shared by every API process through Redis.
//! Over budget: 429 with `Retry-After`. Redis down: fail open, logged, so an outage of the
//! cache never takes the API down with it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, ResponseError};
use adapters_redis::RateDecision;

use crate::auth::extractor::client_ip;
use crate::errors::ApiError;
use crate::state::AppState;

fn too_many(retry_after_secs: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        "too many requests; slow down",
    )
    .retry_after(retry_after_secs)
}

/// Counts the request against `bucket`; `Err` is the 429 to answer.
pub async fn check(state: &AppState, bucket: &str, budget: u64) -> Result<(), ApiError> {
    match state.rate_limiter.hit(bucket, budget).await {
        Ok(RateDecision::Allowed { .. }) => Ok(()),
        Ok(RateDecision::Limited { retry_after_secs }) => Err(too_many(retry_after_secs)),
        Err(e) if e.is_circuit_open() => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; allowing the request");
            Ok(())
        }
    }
}

/// Counts the request against `bucket` in a window of an hour. Unlike the per-minute budgets,
/// this one fails closed: with Redis down, reset emails could be sent without limit (an
/// inbox flooded from outside), so the request is refused with 503 instead.
async fn check_hourly(state: &AppState, bucket: &str, budget: u64) -> Result<(), ApiError> {
    match state.rate_limiter.hit_per(bucket, budget, 3600).await {
        Ok(RateDecision::Allowed { .. }) => Ok(()),
        Ok(RateDecision::Limited { retry_after_secs }) => Err(too_many(retry_after_secs)),
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; refusing the password reset request");
            Err(domain::error::DomainError::Unavailable("rate limiter").into())
        }
    }
}

/// The hourly budget of password reset requests and uses from one IP, at
/// `rate:{ip}:password-reset`.
pub async fn check_password_reset_ip(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let ip = client_ip(req, state.config.trust_proxy).unwrap_or_else(|| "unknown".into());
    check_hourly(
        state,
        &format!("{ip}:password-reset"),
        state.config.password_reset_per_ip_per_hour,
    )
    .await
}

/// The hourly budget of reset requests for one address (counted whether or not an account
/// uses it, so a 429 says nothing about accounts), at `rate:password-reset:{sha256(address)}`:
/// the key does not spell out the address.
pub async fn check_password_reset_email(state: &AppState, email: &str) -> Result<(), ApiError> {
    use sha2::{Digest, Sha256};
    let normalised = email.trim().to_lowercase();
    let digest: String = Sha256::digest(normalised.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    check_hourly(
        state,
        &format!("password-reset:{digest}"),
        state.config.password_reset_per_email_per_hour,
    )
    .await
}

/// The stricter budget of login attempts, at `rate:{ip}:login`.
pub async fn check_login(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let ip = client_ip(req, state.config.trust_proxy).unwrap_or_else(|| "unknown".into());
    check(
        state,
        &format!("{ip}:login"),
        state.config.login_rate_limit_per_minute,
    )
    .await
}

/// Middleware for every route but the probes.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let path = req.path();
    let exempt = path == "/health"
        || path == "/ready"
        || path.starts_with("/swagger-ui")
        || path.starts_with("/api-docs");
    if !exempt {
        if let Some(state) = req.app_data::<web::Data<AppState>>().cloned() {
            let ip = client_ip(req.request(), state.config.trust_proxy)
                .unwrap_or_else(|| "unknown".into());
            if let Err(limited) = check(&state, &ip, state.config.rate_limit_per_minute).await {
                let response = limited.error_response().map_into_right_body();
                return Ok(req.into_response(response));
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
