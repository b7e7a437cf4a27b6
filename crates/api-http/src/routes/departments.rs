//! Departments: public to browse (active ones), run by admins.

use actix_web::{get, post, put, web, HttpResponse};
use domain::directory::DepartmentInput;
use domain::paging::PageRequest;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, MaybeAuthUser};
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, JsonBody};
use crate::routes::dto::{DepartmentDto, DepartmentPage};
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DepartmentRequest {
    #[schema(min_length = 1, max_length = 120, example = "Cardiology")]
    pub name: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// `false` deactivates the department (hidden from the public).
    #[serde(default = "active")]
    pub is_active: bool,
}

fn active() -> bool {
    true
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DepartmentListQuery {
    /// Admins only: include deactivated departments.
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

/// Browse departments (public).
#[utoipa::path(operation_id = "listDepartments", security((), ("bearer" = [])), tag = "departments", params(DepartmentListQuery),
    responses((status = 200, description = "A page of departments", body = DepartmentPage)))]
#[get("/departments")]
pub async fn list(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    query: ApiQuery<DepartmentListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(query.page, query.per_page, query.cursor.as_deref())?;
    let departments = state
        .directory
        .list_departments(
            user.0.as_ref(),
            query.include_inactive.unwrap_or(false),
            page,
        )
        .await?;
    Ok(HttpResponse::Ok().json(DepartmentPage::from(departments)))
}

/// A department (public while active).
#[utoipa::path(operation_id = "getDepartment", security((), ("bearer" = [])), tag = "departments", params(("id" = Uuid, Path, description = "Department id")),
    responses((status = 200, description = "The department", body = DepartmentDto), (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/departments/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(DepartmentDto::from(
        state
            .directory
            .get_department(user.0.as_ref(), id.into_inner())
            .await?,
    )))
}

/// Create a department (admins only).
#[utoipa::path(operation_id = "createDepartment", tag = "departments", security(("bearer" = [])), request_body = DepartmentRequest,
    responses(
        (status = 201, description = "Created", body = DepartmentDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    ))]
#[post("/departments")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<DepartmentRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageDepartments)?;
    let body = body.parse()?;
    let input = DepartmentInput::parse(&body.name, body.description.as_deref(), body.is_active)?;
    Ok(HttpResponse::Created().json(DepartmentDto::from(
        state.directory.create_department(&user.0, input).await?,
    )))
}

/// Replace a department (admins only); `isActive: false` deactivates it.
#[utoipa::path(operation_id = "updateDepartment", tag = "departments", security(("bearer" = [])), request_body = DepartmentRequest,
    params(("id" = Uuid, Path, description = "Department id")),
    responses(
        (status = 200, description = "Updated", body = DepartmentDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    ))]
#[put("/departments/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<DepartmentRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageDepartments)?;
    let body = body.parse()?;
    let input = DepartmentInput::parse(&body.name, body.description.as_deref(), body.is_active)?;
    Ok(HttpResponse::Ok().json(DepartmentDto::from(
        state
            .directory
            .update_department(&user.0, id.into_inner(), input)
            .await?,
    )))
}
