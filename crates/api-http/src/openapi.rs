//! The OpenAPI document, assembled from the handlers' `#[utoipa::path]` annotations and the
//! DTOs' `ToSchema` derives. `healthsync openapi` prints it; `openapi/openapi.json` is the
//! committed copy, and a test fails when the two differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::errors::ErrorBody;
use crate::routes::{
    appointments, audit, auth, billing, departments, doctors, dto, health, medical_records,
    notifications, patients, prescriptions, schedules, users,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "HealthSync API",
        description = "Clinic backend: patients book a doctor's time slot, receptionists run the \
front desk, doctors run their day, admins run the clinic. Every error answers the `ErrorBody` \
shape with a stable `code`.",
        version = "0.1.0"
    ),
    paths(
        health::health, health::ready,
        auth::register, auth::login, auth::logout, auth::logout_all, auth::sessions, auth::end_session, auth::me, auth::change_password,
        users::create_staff, users::get_user, users::set_status,
        patients::create, patients::list, patients::me, patients::get, patients::update,
        doctors::list, doctors::get, doctors::update, doctors::set_departments,
        departments::list, departments::get, departments::create, departments::update,
        schedules::list, schedules::create, schedules::update, schedules::available,
        appointments::book, appointments::list, appointments::get, appointments::confirm,
        appointments::start, appointments::complete, appointments::cancel,
        appointments::reschedule, appointments::walk_in,
        notifications::list, notifications::unread_count, notifications::mark_read,
        notifications::mark_all_read, notifications::broadcast, notifications::stream,
        prescriptions::write, prescriptions::for_appointment, prescriptions::list, prescriptions::get,
        medical_records::upload, medical_records::list, medical_records::get, medical_records::download,
        billing::list, billing::get, billing::pay, billing::refund,
        audit::search,
    ),
    components(schemas(
        ErrorBody, health::Health, health::Readiness, health::StoreReport,
        auth::RegisterRequest, auth::LoginRequest, auth::LoginResponse, auth::ChangePasswordRequest, auth::SessionDto,
        users::StaffRequest, users::StatusRequest,
        doctors::DoctorProfileRequest, doctors::DoctorUpdateRequest, doctors::DepartmentsRequest,
        departments::DepartmentRequest,
        dto::UserDto, dto::PatientDto, dto::PatientProfileDto, dto::DoctorDto, dto::DepartmentDto,
        dto::PatientPage, dto::DoctorPage, dto::DepartmentPage, dto::AuditLogPage,
        audit::AuditLogDto, audit::AuditChangesDto,
        notifications::NotificationDto, notifications::CountDto, notifications::BroadcastRequest, dto::NotificationPage,
        schedules::ScheduleRequest, schedules::ScheduleDto, schedules::SlotDto,
        appointments::BookRequest, appointments::CancelRequest, appointments::AppointmentDto, dto::AppointmentPage,
        appointments::RescheduleRequest, appointments::WalkInRequest,
        prescriptions::WritePrescriptionRequest, prescriptions::PrescriptionItemDto,
        prescriptions::PrescriptionDto, dto::PrescriptionPage,
        medical_records::MedicalRecordDto, medical_records::UploadRecordForm, medical_records::FileBytes, dto::MedicalRecordPage,
        billing::BillDto, billing::PayRequest, dto::BillPage,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Liveness and readiness"),
        (name = "auth", description = "Registration, login, sessions"),
        (name = "users", description = "Staff accounts and account status (admins)"),
        (name = "patients", description = "Patients"),
        (name = "doctors", description = "Doctors"),
        (name = "departments", description = "Departments"),
        (name = "scheduling", description = "Schedules and free slots"),
        (name = "appointments", description = "Booking and the appointment lifecycle"),
        (name = "notifications", description = "A user's notifications; admin broadcasts"),
        (name = "prescriptions", description = "Prescriptions written during a visit"),
        (name = "medical-records", description = "Patients' documents: upload, list, download"),
        (name = "billing", description = "Bills of completed visits: payment, refund"),
        (name = "audit", description = "The audit log (admins)"),
    ),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme (JWT access tokens from `POST /auth/login`).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn document_json() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    /// Fails when the code's API drifts from the committed `openapi/openapi.json`.
    /// Regenerate with `make openapi`.
    #[test]
    fn committed_openapi_document_matches_the_code() {
        let committed = include_str!("../../../openapi/openapi.json");
        assert!(
            committed == super::document_json(),
            "openapi/openapi.json is stale: run `make openapi` and commit the result"
        );
    }
}
