//! A patient's choice of which emails it gets, kind by kind.

use actix_web::{get, patch, web, HttpResponse};
use domain::access::Permission;
use domain::email::{EmailKind, EmailPreferences};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

/// Which emails the patient gets, one switch per kind. All are on until the patient turns them
/// off. A password reset link the user asks for is always sent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailPreferencesDto {
    /// A visit (or a series of visits) booked, with a calendar file.
    pub booking_confirmations: bool,
    /// The reminder before each visit.
    pub reminders: bool,
    /// A visit cancelled, with a calendar file that cancels it.
    pub cancellations: bool,
    /// A visit moved to another time, with a calendar file.
    pub reschedules: bool,
    /// A bill issued.
    pub bills: bool,
    /// A payment received.
    pub payment_receipts: bool,
    /// A freed slot held for the patient from the waitlist (the hold is short).
    pub waitlist_offers: bool,
}

/// The switches to change; one left out keeps its value.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailPreferencesChange {
    pub booking_confirmations: Option<bool>,
    pub reminders: Option<bool>,
    pub cancellations: Option<bool>,
    pub reschedules: Option<bool>,
    pub bills: Option<bool>,
    pub payment_receipts: Option<bool>,
    pub waitlist_offers: Option<bool>,
}

impl From<&EmailPreferences> for EmailPreferencesDto {
    fn from(p: &EmailPreferences) -> Self {
        Self {
            booking_confirmations: p.wants(EmailKind::BookingConfirmation),
            reminders: p.wants(EmailKind::Reminder),
            cancellations: p.wants(EmailKind::Cancellation),
            reschedules: p.wants(EmailKind::Reschedule),
            bills: p.wants(EmailKind::Bill),
            payment_receipts: p.wants(EmailKind::PaymentReceipt),
            waitlist_offers: p.wants(EmailKind::WaitlistOffer),
        }
    }
}

impl EmailPreferencesChange {
    fn changes(&self) -> Vec<(EmailKind, bool)> {
        [
            (EmailKind::BookingConfirmation, self.booking_confirmations),
            (EmailKind::Reminder, self.reminders),
            (EmailKind::Cancellation, self.cancellations),
            (EmailKind::Reschedule, self.reschedules),
            (EmailKind::Bill, self.bills),
            (EmailKind::PaymentReceipt, self.payment_receipts),
            (EmailKind::WaitlistOffer, self.waitlist_offers),
        ]
        .into_iter()
        .filter_map(|(kind, wanted)| wanted.map(|w| (kind, w)))
        .collect()
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
    Ok(HttpResponse::Ok().json(EmailPreferencesDto::from(&preferences)))
}

/// Turn kinds of email on or off for the current patient (the ones named; the others keep
/// their choice). Answers every choice. Audited.
#[utoipa::path(operation_id = "updateEmailPreferences", tag = "auth", security(("bearer" = [])),
    request_body = EmailPreferencesChange,
    responses(
        (status = 200, description = "Stored; every choice", body = EmailPreferencesDto),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Not a patient", body = ErrorBody),
        (status = 422, description = "A field that is not a boolean, or an unknown field", body = ErrorBody),
    ))]
#[patch("/me/email-preferences")]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<EmailPreferencesChange>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::EmailPreferences)?;
    let change = body.parse()?;
    let stored = state
        .email_preferences
        .change(&user.0, &change.changes())
        .await?;
    Ok(HttpResponse::Ok().json(EmailPreferencesDto::from(&stored)))
}
