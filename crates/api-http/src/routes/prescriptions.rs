//! Prescriptions: written on an appointment by its doctor; read by that doctor, the patient
//! and admins.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::paging::PageRequest;
use domain::prescriptions::{ItemInput, Prescription, PrescriptionFilter, PrescriptionInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{JsonBody, LazyQuery};
use crate::routes::dto::PrescriptionPage;
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrescriptionItemDto {
    /// Set by the server; ignored when sent.
    #[serde(default)]
    #[schema(read_only)]
    pub id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 200, example = "Amoxicillin")]
    pub medicine_name: String,
    #[schema(min_length = 1, max_length = 100, example = "500 mg")]
    pub dosage: String,
    #[schema(min_length = 1, max_length = 100, example = "3 times a day")]
    pub frequency: String,
    #[schema(min_length = 1, max_length = 100, example = "7 days")]
    pub duration: String,
    #[schema(max_length = 1000)]
    pub instructions: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WritePrescriptionRequest {
    #[schema(min_length = 1, max_length = 4000)]
    pub diagnosis: String,
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
    /// At least one, at most 30, in the order they should be read.
    #[schema(min_items = 1, max_items = 30)]
    pub items: Vec<PrescriptionItemDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrescriptionDto {
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub doctor_id: Uuid,
    pub patient_id: Uuid,
    pub diagnosis: String,
    pub notes: Option<String>,
    pub items: Vec<PrescriptionItemDto>,
    pub created_at: DateTime<Utc>,
}

impl From<Prescription> for PrescriptionDto {
    fn from(p: Prescription) -> Self {
        Self {
            id: p.id,
            appointment_id: p.appointment_id,
            doctor_id: p.doctor_id,
            patient_id: p.patient_id,
            diagnosis: p.diagnosis,
            notes: p.notes,
            items: p
                .items
                .into_iter()
                .map(|i| PrescriptionItemDto {
                    id: Some(i.id),
                    medicine_name: i.medicine_name,
                    dosage: i.dosage,
                    frequency: i.frequency,
                    duration: i.duration,
                    instructions: i.instructions,
                })
                .collect(),
            created_at: p.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PrescriptionListQuery {
    /// Admins only; patients see their own, doctors those they wrote.
    pub patient_id: Option<Uuid>,
    pub doctor_id: Option<Uuid>,
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

/// Write the appointment's prescription (its doctor, while IN_PROGRESS or COMPLETED).
#[utoipa::path(operation_id = "writePrescription", tag = "prescriptions", security(("bearer" = [])),
    request_body = WritePrescriptionRequest, params(("id" = Uuid, Path, description = "Appointment id")),
    responses(
        (status = 201, description = "Written; the patient is notified", body = PrescriptionDto),
        (status = 403, description = "Not a doctor", body = ErrorBody),
        (status = 404, description = "No such appointment of this doctor", body = ErrorBody),
        (status = 409, description = "PRESCRIPTION_EXISTS or APPOINTMENT_NOT_IN_CONSULTATION", body = ErrorBody),
        (status = 422, description = "No items, or an empty field (named, e.g. items[0].dosage)", body = ErrorBody),
    ))]
#[post("/appointments/{id}/prescription")]
pub async fn write(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<WritePrescriptionRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::WritePrescriptions)?;
    let body = body.parse()?;
    let b = body;
    let input = PrescriptionInput {
        diagnosis: b.diagnosis,
        notes: b.notes,
        items: b
            .items
            .into_iter()
            .map(|i| ItemInput {
                medicine_name: i.medicine_name,
                dosage: i.dosage,
                frequency: i.frequency,
                duration: i.duration,
                instructions: i.instructions,
            })
            .collect(),
    };
    let written = state
        .prescriptions
        .write(&user.0, id.into_inner(), input)
        .await?;
    Ok(HttpResponse::Created().json(PrescriptionDto::from(written)))
}

/// The appointment's prescription.
#[utoipa::path(operation_id = "getAppointmentPrescription", tag = "prescriptions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses((status = 200, description = "The prescription", body = PrescriptionDto),
        (status = 403, description = "Receptionists do not read prescriptions", body = ErrorBody),
        (status = 404, description = "None, or not yours", body = ErrorBody)))]
#[get("/appointments/{id}/prescription")]
pub async fn for_appointment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = state
        .prescriptions
        .for_appointment(&user.0, id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(PrescriptionDto::from(p)))
}

/// Prescriptions: my own (patient), those I wrote (doctor), any (admin).
#[utoipa::path(operation_id = "listPrescriptions", tag = "prescriptions", security(("bearer" = [])), params(PrescriptionListQuery),
    responses((status = 200, description = "A page, newest first", body = PrescriptionPage),
        (status = 403, description = "Receptionists do not read prescriptions", body = ErrorBody)))]
#[get("/prescriptions")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: LazyQuery<PrescriptionListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ReadPrescriptions)?;
    let q = query.parse()?;
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let filter = PrescriptionFilter {
        patient_id: q.patient_id,
        doctor_id: q.doctor_id,
    };
    let found = state.prescriptions.list(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(PrescriptionPage::from(found)))
}

/// One prescription.
#[utoipa::path(operation_id = "getPrescription", tag = "prescriptions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Prescription id")),
    responses((status = 200, description = "The prescription", body = PrescriptionDto),
        (status = 403, description = "Receptionists do not read prescriptions", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/prescriptions/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = state.prescriptions.get(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PrescriptionDto::from(p)))
}
