//! Bills: listing, payment, refund. Bills are created by completing an appointment.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::billing::{Bill, BillFilter, BillingStatus, PaymentMethod};
use domain::paging::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{JsonBody, LazyQuery};
use crate::routes::dto::BillPage;
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillDto {
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    /// Exact decimal string: the fee quoted when the appointment was booked.
    #[schema(example = "80.15")]
    pub amount: String,
    pub status: BillingStatus,
    pub payment_method: Option<PaymentMethod>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// After this instant an unpaid bill becomes OVERDUE.
    pub due_at: DateTime<Utc>,
}

impl From<Bill> for BillDto {
    fn from(b: Bill) -> Self {
        Self {
            id: b.id,
            appointment_id: b.appointment_id,
            patient_id: b.patient_id,
            amount: b.amount.to_string(),
            status: b.status,
            payment_method: b.payment_method,
            paid_at: b.paid_at,
            created_at: b.created_at,
            due_at: b.due_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayRequest {
    /// CASH, CARD, INSURANCE, BANK_TRANSFER or ONLINE.
    pub payment_method: PaymentMethod,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct BillListQuery {
    /// Staff only; patients always see their own.
    pub patient_id: Option<Uuid>,
    pub status: Option<BillingStatus>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub to: Option<DateTime<Utc>>,
    /// 1-based page number, up to 500; deeper pages are read with `cursor`.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Items per page, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// Read the page that starts after this position: the `nextCursor` of the page before,
    /// passed back as it is with the same filters (instead of `page`).
    #[param(
        max_length = 994,
        pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$"
    )]
    pub cursor: Option<String>,
}

/// Bills: a patient's own; any patient's for receptionists and admins (doctors: 403).
#[utoipa::path(operation_id = "listBills", tag = "billing", security(("bearer" = [])), params(BillListQuery),
    responses((status = 200, description = "A page of bills, newest first", body = BillPage),
        (status = 403, description = "Doctors do not handle bills", body = ErrorBody)))]
#[get("/billings")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: LazyQuery<BillListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ListBills)?;
    let q = query.parse()?;
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let filter = BillFilter {
        patient_id: q.patient_id,
        status: q.status,
        from: q.from,
        to: q.to,
    };
    let found = state.billing.list(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(BillPage::from(found)))
}

/// One bill (404 for another patient's).
#[utoipa::path(operation_id = "getBill", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Bill id")),
    responses((status = 200, description = "The bill", body = BillDto),
        (status = 403, description = "Doctors do not handle bills", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/billings/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let bill = state.billing.get(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(BillDto::from(bill)))
}

/// Pay a PENDING or OVERDUE bill (the patient itself, or recorded at the desk).
#[utoipa::path(operation_id = "payBill", tag = "billing", security(("bearer" = [])), request_body = PayRequest,
    params(("id" = Uuid, Path, description = "Bill id")),
    responses((status = 200, description = "Paid", body = BillDto),
        (status = 403, description = "Doctors do not handle bills", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "INVALID_TRANSITION (already paid or refunded) or STALE_STATUS", body = ErrorBody)))]
#[post("/billings/{id}/pay")]
pub async fn pay(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<PayRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::Pay)?;
    let body = body.parse()?;
    let bill = state
        .billing
        .pay(&user.0, id.into_inner(), body.payment_method)
        .await?;
    Ok(HttpResponse::Ok().json(BillDto::from(bill)))
}

/// Refund a PAID bill (admins only).
#[utoipa::path(operation_id = "refundBill", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Bill id")),
    responses((status = 200, description = "Refunded", body = BillDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not PAID", body = ErrorBody)))]
#[post("/billings/{id}/refund")]
pub async fn refund(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let bill = state.billing.refund(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(BillDto::from(bill)))
}
