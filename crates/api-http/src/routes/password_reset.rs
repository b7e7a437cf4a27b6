//! A way back in after a forgotten password: ask for a link by email, set a new password with
//! it; admins can send a user the link. The rules are `domain::identity::reset`'s.

use actix_web::{post, web, HttpRequest, HttpResponse};
use domain::identity::Password;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, Meta};
use crate::errors::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::rate_limit;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[schema(format = "email", max_length = 254, example = "ann@example.org")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the link in the email (`hsrst_` and 64 hex digits; the link carries it
    /// after `#token=`).
    #[schema(
        max_length = 70,
        example = "hsrst_0d1f6c0e7b8a9d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f809"
    )]
    pub token: String,
    /// 10 to 128 characters with at least one letter and one digit.
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// The answer to every accepted reset request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetRequested {
    #[schema(
        example = "If an active account uses this address, a link to reset its password is on its way. It works once, for 30 minutes."
    )]
    pub message: String,
}

fn accepted(message: String) -> HttpResponse {
    HttpResponse::Accepted().json(ResetRequested { message })
}

/// Ask for a password reset link.
///
/// Always answers 202 with the same body, in the same time (at least
/// `PASSWORD_RESET_RESPONSE_MS`, 250 ms by default), whether or not an account uses the
/// address, so accounts cannot be discovered; when one does (and is active), a link valid for
/// `PASSWORD_RESET_TTL_MINUTES` (30 by default) is emailed to it, and any older link stops
/// working. Limited per address (`PASSWORD_RESET_PER_EMAIL_PER_HOUR`, 3, counted whether or not
/// an account uses it) and per IP (`PASSWORD_RESET_PER_IP_PER_HOUR`, 20); beyond, 429 with
/// `Retry-After`. With the rate limiter unreachable, 503 (no unlimited emails).
#[utoipa::path(operation_id = "forgotPassword", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted (the same answer for every address)", body = ResetRequested),
        (status = 422, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Too many requests for this address or from this IP", body = ErrorBody),
        (status = 503, description = "The rate limiter is unreachable", body = ErrorBody),
    ))]
#[post("/auth/forgot-password")]
pub async fn forgot_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    meta: Meta,
    body: ApiJson<ForgotPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    rate_limit::check_password_reset_ip(&req, &state).await?;
    rate_limit::check_password_reset_email(&state, &body.0.email).await?;
    // Both paths answer at the same moment: the work is far shorter than the floor.
    let floor = tokio::time::Instant::now()
        + std::time::Duration::from_millis(state.config.password_reset_response_ms);
    let outcome = state.password_resets.request(&body.0.email, &meta.0).await;
    tokio::time::sleep_until(floor).await;
    outcome?;
    Ok(accepted(format!(
        "If an active account uses this address, a link to reset its password is on its way. \
         It works once, for {} minutes.",
        state.config.password_reset_ttl_minutes
    )))
}

/// Set a new password with the token from a reset link.
///
/// The token works once, within `PASSWORD_RESET_TTL_MINUTES` (30 by default) of the request,
/// for an active account; using it closes any other open link of the account. The new
/// password must meet the password policy; on success every session of the account ends (log
/// in again). An unknown, expired or used token is one answer: 422 on `token`. Limited per IP
/// with the reset requests.
#[utoipa::path(operation_id = "resetPassword", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password set; every session ended"),
        (status = 422, description = "Unusable token, or a weak new password", body = ErrorBody),
        (status = 429, description = "Too many attempts from this IP", body = ErrorBody),
        (status = 503, description = "The rate limiter or the session store is unreachable", body = ErrorBody),
    ))]
#[post("/auth/reset-password")]
pub async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    meta: Meta,
    body: ApiJson<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    rate_limit::check_password_reset_ip(&req, &state).await?;
    let password = Password::parse(&body.0.new_password, "newPassword")?;
    state
        .password_resets
        .complete(&body.0.token, password, &meta.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Email a user a password reset link (admins).
///
/// The same link the user could ask for (the email says an administrator sent it): valid for
/// `PASSWORD_RESET_TTL_MINUTES`, once; older links stop working. The admin never sees the
/// token. A deactivated account is 409 `USER_INACTIVE`.
#[utoipa::path(operation_id = "sendPasswordReset", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 202, description = "The link is on its way", body = ResetRequested),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The account is deactivated", body = ErrorBody),
    ))]
#[post("/users/{id}/password-reset")]
pub async fn send_password_reset(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .password_resets
        .send_by_admin(&user.0, id.into_inner())
        .await?;
    Ok(accepted(format!(
        "A link to reset the password is on its way to the account's address. It works once, \
         for {} minutes.",
        state.config.password_reset_ttl_minutes
    )))
}
