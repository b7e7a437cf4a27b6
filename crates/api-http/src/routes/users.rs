//! Staff accounts and account status (admins).

use actix_web::{get, patch, post, web, HttpResponse};
use domain::identity::{parse_name, parse_phone, Email, Password, Role, StaffAccount};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::routes::auth::prefix_field;
use crate::routes::doctors::DoctorProfileRequest;
use crate::routes::dto::UserDto;
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaffRequest {
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
    /// ADMIN, DOCTOR or RECEPTIONIST.
    pub role: Role,
    /// Required for DOCTOR, refused otherwise.
    pub doctor: Option<DoctorProfileRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusRequest {
    pub is_active: bool,
}

/// Create a staff account (admins only).
///
/// DOCTOR accounts are created with their doctor profile in the same transaction.
#[utoipa::path(operation_id = "createStaff", tag = "users", security(("bearer" = [])), request_body = StaffRequest,
    responses(
        (status = 201, description = "Created", body = UserDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Email or licence number taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
#[post("/users")]
pub async fn create_staff(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<StaffRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageUsers)?;
    let body = body.parse()?;
    let b = body;
    let account = StaffAccount {
        email: Email::parse(&b.email)?,
        password: Password::parse(&b.password, "password")?,
        name: parse_name(&b.name, "name")?,
        phone: b
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(|p| parse_phone(p, "phone"))
            .transpose()?,
        role: b.role,
        doctor: b
            .doctor
            .as_ref()
            .map(DoctorProfileRequest::parse)
            .transpose()
            .map_err(|e| prefix_field(e, "doctor"))?,
    };
    let created = state.identity.create_staff(&user.0, account).await?;
    Ok(HttpResponse::Created().json(UserDto::from(created)))
}

/// A user account: admins see anyone, other users only themselves (404 otherwise).
#[utoipa::path(operation_id = "getUser", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserDto), (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserDto::from(
        state.identity.get_user(&user.0, id.into_inner()).await?,
    )))
}

/// Activate or deactivate an account (admins only). Deactivation ends its session at once.
#[utoipa::path(operation_id = "setUserStatus", tag = "users", security(("bearer" = [])), request_body = StatusRequest,
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Updated", body = UserDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
    ))]
#[patch("/users/{id}/status")]
pub async fn set_status(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<StatusRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageUsers)?;
    let body = body.parse()?;
    let updated = state
        .identity
        .set_active(&user.0, id.into_inner(), body.is_active)
        .await?;
    Ok(HttpResponse::Ok().json(UserDto::from(updated)))
}
