//! Patients: the front desk registers and edits them, doctors read their own patients, a
//! patient reads and edits itself.

use actix_web::{get, post, put, web, HttpResponse};
use domain::directory::PatientFilter;
use domain::paging::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{JsonBody, LazyQuery};
use crate::routes::auth::RegisterRequest;
use crate::routes::dto::{PatientDto, PatientPage, PatientProfileDto, UserDto};
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PatientListQuery {
    /// Case-insensitive part of the name or email.
    #[param(max_length = 100)]
    pub search: Option<String>,
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

/// Register a patient at the front desk (receptionists and admins).
#[utoipa::path(operation_id = "createPatient", tag = "patients", security(("bearer" = [])), request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserDto),
        (status = 403, description = "Not front-desk staff", body = ErrorBody),
        (status = 409, description = "Email taken", body = ErrorBody),
    ))]
#[post("/patients")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::RegisterPatients)?;
    let body = body.parse()?;
    let registration = body.parse(state.identity.today())?;
    let created = state
        .identity
        .register_patient_for(&user.0, registration)
        .await?;
    Ok(HttpResponse::Created().json(UserDto::from(created)))
}

/// List patients: staff see all, a doctor only its own patients; patients may not list.
#[utoipa::path(operation_id = "listPatients", tag = "patients", security(("bearer" = [])), params(PatientListQuery),
    responses((status = 200, description = "A page of patients", body = PatientPage), (status = 403, description = "Patients may not list", body = ErrorBody)))]
#[get("/patients")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: LazyQuery<PatientListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ListPatients)?;
    let q = query.parse()?;
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let search = domain::text::parse_optional_line(q.search.as_deref(), "search", 100)?;
    let patients = state
        .directory
        .list_patients(
            &user.0,
            PatientFilter {
                search,
                doctor_id: None,
            },
            page,
        )
        .await?;
    Ok(HttpResponse::Ok().json(PatientPage::from(patients)))
}

/// The current patient's own record.
#[utoipa::path(operation_id = "getMyPatient", tag = "patients", security(("bearer" = [])),
    responses((status = 200, description = "My patient record", body = PatientDto), (status = 404, description = "Not a patient", body = ErrorBody)))]
#[get("/patients/me")]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(PatientDto::from(state.directory.my_patient(&user.0).await?)))
}

/// A patient, if the caller may see it (404 otherwise, also for other patients' records).
#[utoipa::path(operation_id = "getPatient", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id")),
    responses((status = 200, description = "The patient", body = PatientDto), (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/patients/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(PatientDto::from(
        state
            .directory
            .get_patient(&user.0, id.into_inner())
            .await?,
    )))
}

/// A patient's no-shows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoShowsDto {
    pub patient_id: Uuid,
    /// Appointments the patient missed, in all.
    pub total: u64,
    /// Those starting in the last 90 days (what `NO_SHOW_BOOKING_LIMIT` counts).
    pub last90_days: u64,
}

/// How often a patient did not come (the desk, doctors, admins; a patient gets 403).
#[utoipa::path(operation_id = "getPatientNoShows", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id")),
    responses((status = 200, description = "The counts", body = NoShowsDto),
        (status = 403, description = "Patients", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/patients/{id}/no-shows")]
pub async fn no_shows(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let count = state.appointments.no_shows(&user.0, id).await?;
    Ok(HttpResponse::Ok().json(NoShowsDto {
        patient_id: id,
        total: count.total,
        last90_days: count.recent,
    }))
}

/// Replace a patient's profile (front desk, admins, or the patient itself).
#[utoipa::path(operation_id = "updatePatient", tag = "patients", security(("bearer" = [])), request_body = PatientProfileDto,
    params(("id" = Uuid, Path, description = "Patient id")),
    responses(
        (status = 200, description = "Updated", body = PatientDto),
        (status = 403, description = "Doctors read only", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
#[put("/patients/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<PatientProfileDto>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::EditPatients)?;
    let body = body.parse()?;
    let profile = body.parse(state.identity.today())?;
    let updated = state
        .directory
        .update_patient(&user.0, id.into_inner(), profile)
        .await?;
    Ok(HttpResponse::Ok().json(PatientDto::from(updated)))
}
