//! Registration, login, logout, the current user and password change.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::identity::{parse_name, parse_phone, Email, Password, Registration};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, Meta};
use crate::errors::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::rate_limit;
use crate::routes::dto::{PatientProfileDto, UserDto};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = "email", max_length = 254, example = "ann@example.org")]
    pub email: String,
    /// 10 to 128 characters with at least one letter and one digit.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    #[schema(min_length = 1, max_length = 120)]
    pub name: String,
    #[schema(
        max_length = 32,
        pattern = r"^[0-9 +().-]{5,32}$",
        example = "+44 20 7946 0000"
    )]
    pub phone: Option<String>,
    #[serde(default)]
    pub profile: PatientProfileDto,
}

impl RegisterRequest {
    pub fn parse(&self, today: chrono::NaiveDate) -> Result<Registration, ApiError> {
        Ok(Registration {
            email: Email::parse(&self.email)?,
            password: Password::parse(&self.password, "password")?,
            name: parse_name(&self.name, "name")?,
            phone: self
                .phone
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(|p| parse_phone(p, "phone"))
                .transpose()?,
            profile: self
                .profile
                .parse(today)
                .map_err(|e| prefix_field(e, "profile"))?,
        })
    }
}

/// Prefixes a validation error's field with the enclosing object (`profile.bloodGroup`).
pub fn prefix_field(error: domain::error::DomainError, prefix: &str) -> domain::error::DomainError {
    match error {
        domain::error::DomainError::Validation { field, message } => {
            domain::error::DomainError::Validation {
                field: format!("{prefix}.{field}"),
                message,
            }
        }
        other => other,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(max_length = 254, example = "ann@example.org")]
    pub email: String,
    #[schema(max_length = 128)]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(max_length = 128)]
    pub current_password: String,
    /// 10 to 128 characters with at least one letter and one digit.
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// Register as a patient.
///
/// Creates the account (role PATIENT) and its patient profile in one transaction. A taken
/// email answers 409 `EMAIL_TAKEN` without saying anything about that account.
#[utoipa::path(operation_id = "register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserDto),
        (status = 409, description = "Email taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    meta: Meta,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let registration = body.0.parse(state.identity.today())?;
    let user = state
        .identity
        .register_patient(registration, &meta.0)
        .await?;
    Ok(HttpResponse::Created().json(UserDto::from(user)))
}

/// Log in.
///
/// Verifies the password (Argon2id) and opens a 24-hour session; a new login replaces the
/// user's previous session. Wrong email, wrong password and deactivated account all answer the
/// same 401 `INVALID_CREDENTIALS`. At most 5 attempts per minute per IP (429 beyond).
#[utoipa::path(operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
        (status = 503, description = "Session store down", body = ErrorBody),
    ))]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    meta: Meta,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    rate_limit::check_login(&req, &state).await?;
    let (session, user) = state
        .identity
        .login(&body.0.email, &body.0.password, &meta.0)
        .await?;
    let token = state.tokens.issue(
        session.user_id,
        session.session_id,
        session.issued_at,
        session.expires_at,
    );
    Ok(HttpResponse::Ok().json(LoginResponse {
        access_token: token,
        token_type: "Bearer".into(),
        expires_at: session.expires_at,
        user: user.into(),
    }))
}

/// Log out this device: ends this session at once (its token stops working immediately);
/// the user's other sessions stay.
#[utoipa::path(operation_id = "logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out"), (status = 401, description = "No session", body = ErrorBody)))]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    state.identity.logout(&user.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Log out everywhere: ends every session of the user, on every device, at once.
#[utoipa::path(operation_id = "logoutEverywhere", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Every session ended"), (status = 401, description = "No session", body = ErrorBody)))]
#[post("/auth/logout-all")]
pub async fn logout_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    state.identity.logout_everywhere(&user.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One signed-in device of the current user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    pub id: Uuid,
    /// The session making this request.
    pub current: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The current user's signed-in sessions (devices), newest first. A user holds at most 10; a
/// new login beyond that ends the oldest.
#[utoipa::path(operation_id = "listSessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Live sessions", body = [SessionDto]), (status = 401, description = "No session", body = ErrorBody)))]
#[get("/auth/sessions")]
pub async fn sessions(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let current = user.0.session_id;
    let list: Vec<SessionDto> = state
        .identity
        .sessions(&user.0)
        .await?
        .into_iter()
        .map(|s| SessionDto {
            id: s.session_id,
            current: s.session_id == current,
            ip: s.ip,
            user_agent: s.user_agent,
            issued_at: s.issued_at,
            expires_at: s.expires_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// End one of the current user's sessions (for example a lost phone). Another user's session
/// id is 404.
#[utoipa::path(operation_id = "endSession", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 404, description = "Not one of your sessions", body = ErrorBody),
    ))]
#[delete("/auth/sessions/{id}")]
pub async fn end_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.identity.end_session(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The current user.
#[utoipa::path(operation_id = "getMe", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The current user", body = UserDto), (status = 401, description = "No session", body = ErrorBody)))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserDto::from(state.identity.me(&user.0).await?)))
}

/// Change the current user's password. Ends the session: log in again with the new password.
#[utoipa::path(operation_id = "changePassword", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; session ended"),
        (status = 422, description = "Wrong current password or weak new one", body = ErrorBody),
    ))]
#[put("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = Password::parse(&body.0.new_password, "newPassword")?;
    state
        .identity
        .change_password(&user.0, &body.0.current_password, new)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
