//! The clinic directory: patients, doctors, departments and which doctor works where.
//!
//! Who sees what: staff see every patient; a doctor sees only patients it has appointments
//! with; a patient sees only itself. Active doctors and departments are public (people choose
//! whom to book). Writes: admins run doctors and departments; receptionists and admins edit
//! patients; a patient edits its own profile; a doctor edits its own professional details
//! except licence number and fee.

mod service;
mod values;

use async_trait::async_trait;
use uuid::Uuid;

pub use service::DirectoryService;
pub use values::{
    BloodGroup, DepartmentInput, DoctorProfile, DoctorUpdate, Gender, PatientProfile,
};

use crate::audit::AuditEvent;
use crate::error::DomainError;
use crate::money::Money;
use crate::paging::{Page, PageRequest};

/// A patient with the account fields people need beside the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub is_active: bool,
    pub profile: PatientProfile,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Doctor {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub specialization: String,
    pub qualification: String,
    pub experience_years: i32,
    pub license_number: String,
    pub consultation_fee: Money,
    pub is_available: bool,
    pub department_ids: Vec<Uuid>,
}

impl Doctor {
    pub fn profile(&self) -> DoctorProfile {
        DoctorProfile {
            specialization: self.specialization.clone(),
            qualification: self.qualification.clone(),
            experience_years: self.experience_years,
            license_number: self.license_number.clone(),
            consultation_fee: self.consultation_fee.clone(),
            is_available: self.is_available,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Department {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
}

/// Filters of the doctor list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorFilter {
    /// Case-insensitive exact specialization.
    pub specialization: Option<String>,
    pub department_id: Option<Uuid>,
    pub available: Option<bool>,
    /// Include doctors whose account is deactivated (admins only).
    pub include_inactive: bool,
}

/// Filters of the patient list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientFilter {
    /// Case-insensitive substring of the name or email.
    pub search: Option<String>,
    /// Only patients with an appointment with this doctor.
    pub doctor_id: Option<Uuid>,
}

/// The directory in PostgreSQL. Mutations write their audit events in the same transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DirectoryRepository: Send + Sync {
    async fn patient(&self, id: Uuid) -> Result<Option<Patient>, DomainError>;
    async fn patient_of_user(&self, user_id: Uuid) -> Result<Option<Patient>, DomainError>;
    async fn list_patients(
        &self,
        filter: PatientFilter,
        page: PageRequest,
    ) -> Result<Page<Patient>, DomainError>;
    async fn update_patient(
        &self,
        id: Uuid,
        profile: PatientProfile,
        event: AuditEvent,
    ) -> Result<Patient, DomainError>;

    async fn doctor(&self, id: Uuid) -> Result<Option<Doctor>, DomainError>;
    async fn doctor_of_user(&self, user_id: Uuid) -> Result<Option<Doctor>, DomainError>;
    async fn list_doctors(
        &self,
        filter: DoctorFilter,
        page: PageRequest,
    ) -> Result<Page<Doctor>, DomainError>;
    /// `Conflict(LicenseNumberTaken)` when the licence belongs to another doctor.
    async fn update_doctor(
        &self,
        id: Uuid,
        profile: DoctorProfile,
        event: AuditEvent,
    ) -> Result<Doctor, DomainError>;
    /// Replaces the doctor's departments. `Validation("departmentIds")` for an unknown one.
    async fn set_doctor_departments(
        &self,
        id: Uuid,
        department_ids: Vec<Uuid>,
        event: AuditEvent,
    ) -> Result<Doctor, DomainError>;
    /// Whether the doctor has (or had) any appointment with the patient.
    async fn doctor_treats_patient(
        &self,
        doctor_id: Uuid,
        patient_id: Uuid,
    ) -> Result<bool, DomainError>;

    /// `Conflict(DepartmentNameTaken)` on a duplicate name (case-insensitive).
    async fn create_department(
        &self,
        department: Department,
        event: AuditEvent,
    ) -> Result<Department, DomainError>;
    async fn department(&self, id: Uuid) -> Result<Option<Department>, DomainError>;
    async fn list_departments(
        &self,
        include_inactive: bool,
        page: PageRequest,
    ) -> Result<Page<Department>, DomainError>;
    async fn update_department(
        &self,
        department: Department,
        event: AuditEvent,
    ) -> Result<Department, DomainError>;
}

/// Builders shared by the domain's unit tests.
/// Whether `viewer` sees a doctor's contact details (email, user id): staff and the doctor
/// itself. Patients and the public see the professional profile only. The licence number stays
/// public: patients check it against the medical register, where it is public anyway.
pub fn sees_doctor_contact(viewer: Option<&crate::identity::Actor>, doctor: &Doctor) -> bool {
    viewer.is_some_and(|v| {
        v.role.is_staff()
            && (v.role != crate::identity::Role::Doctor || v.user_id == doctor.user_id)
    })
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::Doctor;
    use crate::money::Money;
    use uuid::Uuid;

    pub fn doctor(user_id: Uuid) -> Doctor {
        Doctor {
            id: Uuid::new_v4(),
            user_id,
            name: "D".into(),
            email: "d@x.org".into(),
            is_active: true,
            specialization: "GP".into(),
            qualification: "MD".into(),
            experience_years: 3,
            license_number: "L-1".into(),
            consultation_fee: Money::parse("40.00", "fee").unwrap(),
            is_available: true,
            department_ids: vec![],
        }
    }
}
