//! Doctors: public to browse (active ones), edited by admins (and partly by the doctor).

use actix_web::{get, patch, put, web, HttpResponse};
use domain::directory::{DoctorFilter, DoctorProfile, DoctorUpdate};
use domain::error::DomainError;
use domain::paging::PageRequest;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, MaybeAuthUser};
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, JsonBody};
use crate::routes::dto::{DoctorDto, DoctorPage};
use crate::state::AppState;
use domain::access::Permission;

/// A doctor's professional details (at staff creation).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DoctorProfileRequest {
    #[schema(min_length = 1, max_length = 120, example = "Cardiology")]
    pub specialization: String,
    #[schema(min_length = 1, max_length = 200, example = "MD")]
    pub qualification: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 80)]
    pub experience_years: i32,
    #[schema(min_length = 1, max_length = 64)]
    pub license_number: String,
    /// Exact decimal as a string with at most two places, below 100000000 (a JSON number is
    /// refused).
    #[schema(
        max_length = 11,
        pattern = r"^[0-9]{1,8}(\.[0-9]{1,2})?$",
        example = "80.50"
    )]
    pub consultation_fee: String,
    #[serde(default = "yes")]
    pub is_available: bool,
}

fn yes() -> bool {
    true
}

impl DoctorProfileRequest {
    pub fn parse(&self) -> Result<DoctorProfile, DomainError> {
        DoctorProfile::parse(
            &self.specialization,
            &self.qualification,
            self.experience_years,
            &self.license_number,
            &self.consultation_fee,
            self.is_available,
        )
    }
}

/// A partial update; absent fields keep their value. Licence and fee: admins only.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DoctorUpdateRequest {
    #[schema(min_length = 1, max_length = 120)]
    pub specialization: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub qualification: Option<String>,
    #[schema(minimum = 0, maximum = 80)]
    pub experience_years: Option<i32>,
    #[schema(min_length = 1, max_length = 64)]
    pub license_number: Option<String>,
    #[schema(
        max_length = 11,
        pattern = r"^[0-9]{1,8}(\.[0-9]{1,2})?$",
        example = "95.00"
    )]
    pub consultation_fee: Option<String>,
    pub is_available: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DepartmentsRequest {
    /// The doctor's whole set of departments (replaces the old one); at most 20.
    #[schema(max_items = 20)]
    pub department_ids: Vec<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DoctorListQuery {
    /// Exact specialization, case-insensitive.
    #[param(max_length = 120)]
    pub specialization: Option<String>,
    pub department_id: Option<Uuid>,
    pub available: Option<bool>,
    /// Admins only: include deactivated doctors.
    pub include_inactive: Option<bool>,
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

/// Browse doctors (public): filter by specialization, department and availability.
#[utoipa::path(operation_id = "listDoctors", security((), ("bearer" = [])), tag = "doctors", params(DoctorListQuery),
    responses((status = 200, description = "A page of doctors", body = DoctorPage)))]
#[get("/doctors")]
pub async fn list(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    query: ApiQuery<DoctorListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let filter = DoctorFilter {
        specialization: domain::text::parse_optional_line(
            q.specialization.as_deref(),
            "specialization",
            120,
        )?,
        department_id: q.department_id,
        available: q.available,
        include_inactive: q.include_inactive.unwrap_or(false),
    };
    let viewer = user.0.as_ref();
    let doctors = state
        .directory
        .list_doctors(viewer, filter, page)
        .await?
        .map(|d| DoctorDto::seen_by(d, viewer));
    Ok(HttpResponse::Ok().json(DoctorPage::from(doctors)))
}

/// A doctor (public while active).
#[utoipa::path(operation_id = "getDoctor", security((), ("bearer" = [])), tag = "doctors", params(("id" = Uuid, Path, description = "Doctor id")),
    responses((status = 200, description = "The doctor", body = DoctorDto), (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/doctors/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let viewer = user.0.as_ref();
    let doctor = state.directory.get_doctor(viewer, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DoctorDto::seen_by(doctor, viewer)))
}

/// Update a doctor (admins; a doctor itself except licence number and fee).
#[utoipa::path(operation_id = "updateDoctor", tag = "doctors", security(("bearer" = [])), request_body = DoctorUpdateRequest,
    params(("id" = Uuid, Path, description = "Doctor id")),
    responses(
        (status = 200, description = "Updated", body = DoctorDto),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Licence number taken", body = ErrorBody),
    ))]
#[patch("/doctors/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<DoctorUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::EditDoctors)?;
    let body = body.parse()?;
    let b = body;
    let update = DoctorUpdate {
        specialization: b.specialization,
        qualification: b.qualification,
        experience_years: b.experience_years,
        license_number: b.license_number,
        consultation_fee: b.consultation_fee,
        is_available: b.is_available,
    };
    Ok(HttpResponse::Ok().json(DoctorDto::from(
        state
            .directory
            .update_doctor(&user.0, id.into_inner(), update)
            .await?,
    )))
}

/// Replace the departments a doctor belongs to (admins only).
#[utoipa::path(operation_id = "setDoctorDepartments", tag = "doctors", security(("bearer" = [])), request_body = DepartmentsRequest,
    params(("id" = Uuid, Path, description = "Doctor id")),
    responses(
        (status = 200, description = "Updated", body = DoctorDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such doctor", body = ErrorBody),
        (status = 422, description = "Unknown department", body = ErrorBody),
    ))]
#[put("/doctors/{id}/departments")]
pub async fn set_departments(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<DepartmentsRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageDepartments)?;
    let body = body.parse()?;
    let doctor = state
        .directory
        .set_doctor_departments(&user.0, id.into_inner(), body.department_ids)
        .await?;
    Ok(HttpResponse::Ok().json(DoctorDto::from(doctor)))
}
