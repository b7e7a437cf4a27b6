//! A patient's choice of which emails it gets.

use actix_web::{get, put, web, HttpResponse};
use domain::access::Permission;
use domain::email::EmailPreferences;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

/// Which emails the patient gets, by topic. All are on until the patient turns them off. A
/// password reset link the user asks for is always sent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailPreferencesDto {
    /// Booking confirmations (with a calendar file), cancellations and moves.
    pub appointments: bool,
    /// The reminder before each visit.
    pub reminders: bool,
    /// Bills and payment receipts.
    pub billing: bool,
}

impl From<EmailPreferences> for EmailPreferencesDto {
    fn from(p: EmailPreferences) -> Self {
        Self {
            appointments: p.appointments,
            reminders: p.reminders,
            billing: p.billing,
        }
    }
}

impl From<EmailPreferencesDto> for EmailPreferences {
    fn from(p: EmailPreferencesDto) -> Self {
        Self {
            appointments: p.appointments,
            reminders: p.reminders,
            billing: p.billing,
        }
    }
}

/// The current patient's email choices.
#[utoipa::path(operation_id = "getEmailPreferences", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The choices", body = EmailPreferencesDto),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Not a patient", body = ErrorBody),
    ))]
#[get("/me/email-preferences")]
pub async fn get(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let preferences = state.email_preferences.get(&user.0).await?;
    Ok(HttpResponse::Ok().json(EmailPreferencesDto::from(preferences)))
}

/// Replace the current patient's email choices (all three are required). Audited.
#[utoipa::path(operation_id = "setEmailPreferences", tag = "auth", security(("bearer" = [])),
    request_body = EmailPreferencesDto,
    responses(
        (status = 200, description = "Stored", body = EmailPreferencesDto),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Not a patient", body = ErrorBody),
        (status = 422, description = "A missing or non-boolean field", body = ErrorBody),
    ))]
#[put("/me/email-preferences")]
pub async fn set(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<EmailPreferencesDto>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::EmailPreferences)?;
    let wanted = body.parse()?;
    let stored = state.email_preferences.set(&user.0, wanted.into()).await?;
    Ok(HttpResponse::Ok().json(EmailPreferencesDto::from(stored)))
}
