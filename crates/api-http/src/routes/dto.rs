//! DTOs shared by several resources. DTOs are separate from domain entities: they are the
//! public contract (camelCase JSON, documented by utoipa), entities are free to change.

use chrono::{DateTime, NaiveDate, Utc};
use domain::directory::{BloodGroup, Department, Doctor, Gender, Patient, PatientProfile};
use domain::error::DomainError;
use domain::identity::{Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A user account (never its password hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            phone: u.phone,
            role: u.role,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A patient's profile fields, as sent and received.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientProfileDto {
    /// Between 1900-01-01 and today.
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<Gender>,
    #[schema(value_type = Option<BloodGroup>)]
    pub blood_group: Option<String>,
    #[schema(max_length = 500)]
    pub address: Option<String>,
    /// Up to 120 characters; empty means none.
    #[schema(max_length = 120)]
    pub emergency_contact_name: Option<String>,
    #[schema(
        max_length = 32,
        pattern = r"^[0-9 +().-]{5,32}$",
        example = "+44 20 7946 0000"
    )]
    pub emergency_contact_phone: Option<String>,
}

impl PatientProfileDto {
    pub fn parse(&self, today: NaiveDate) -> Result<PatientProfile, DomainError> {
        PatientProfile::parse(
            self.date_of_birth,
            self.gender,
            self.blood_group.as_deref(),
            self.address.as_deref(),
            self.emergency_contact_name.as_deref(),
            self.emergency_contact_phone.as_deref(),
            today,
        )
    }

    pub fn from_profile(p: &PatientProfile) -> Self {
        Self {
            date_of_birth: p.date_of_birth,
            gender: p.gender,
            blood_group: p.blood_group.map(|b| BloodGroup::as_str(b).to_owned()),
            address: p.address.clone(),
            emergency_contact_name: p.emergency_contact_name.clone(),
            emergency_contact_phone: p.emergency_contact_phone.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatientDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub is_active: bool,
    pub profile: PatientProfileDto,
}

impl From<Patient> for PatientDto {
    fn from(p: Patient) -> Self {
        Self {
            id: p.id,
            user_id: p.user_id,
            name: p.name,
            email: p.email,
            phone: p.phone,
            is_active: p.is_active,
            profile: PatientProfileDto::from_profile(&p.profile),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DoctorDto {
    pub id: Uuid,
    /// Only for staff and the doctor itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    pub name: String,
    /// Only for staff and the doctor itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub is_active: bool,
    pub specialization: String,
    pub qualification: String,
    pub experience_years: i32,
    pub license_number: String,
    /// Exact decimal as a string, e.g. "80.50".
    #[schema(example = "80.50")]
    pub consultation_fee: String,
    pub is_available: bool,
    pub department_ids: Vec<Uuid>,
}

impl DoctorDto {
    /// The doctor as `viewer` may see it (`domain::directory::sees_doctor_contact`).
    pub fn seen_by(d: Doctor, viewer: Option<&domain::identity::Actor>) -> Self {
        let contact = domain::directory::sees_doctor_contact(viewer, &d);
        let mut dto = Self::from(d);
        if !contact {
            dto.user_id = None;
            dto.email = None;
        }
        dto
    }
}

impl From<Doctor> for DoctorDto {
    fn from(d: Doctor) -> Self {
        Self {
            id: d.id,
            user_id: Some(d.user_id),
            name: d.name,
            email: Some(d.email),
            is_active: d.is_active,
            specialization: d.specialization,
            qualification: d.qualification,
            experience_years: d.experience_years,
            license_number: d.license_number,
            consultation_fee: d.consultation_fee.to_string(),
            is_available: d.is_available,
            department_ids: d.department_ids,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentDto {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
}

impl From<Department> for DepartmentDto {
    fn from(d: Department) -> Self {
        Self {
            id: d.id,
            name: d.name,
            description: d.description,
            is_active: d.is_active,
        }
    }
}

/// Declares a page type for each listed DTO (utoipa documents concrete types best).
macro_rules! page_dto {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub items: Vec<$item>,
            /// Items matching the filters, counted up to 1,000.
            pub total: u64,
            /// False when the count stopped at 1,000: there are more than `total`.
            pub total_is_exact: bool,
            /// The page number; null on a page read by `cursor`.
            pub page: Option<u32>,
            pub per_page: u32,
            /// Pass as `cursor` (with the same filters) for the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl<T: Into<$item>> From<domain::paging::Page<T>> for $name {
            fn from(p: domain::paging::Page<T>) -> Self {
                Self {
                    items: p.items.into_iter().map(Into::into).collect(),
                    total: p.total,
                    total_is_exact: p.total_is_exact,
                    page: p.page,
                    per_page: p.per_page,
                    next_cursor: p.next.map(|c| c.encode()),
                }
            }
        }
    };
}

page_dto!(PatientPage, PatientDto);
page_dto!(DoctorPage, DoctorDto);
page_dto!(DepartmentPage, DepartmentDto);
page_dto!(AuditLogPage, crate::routes::audit::AuditLogDto);
page_dto!(
    NotificationPage,
    crate::routes::notifications::NotificationDto
);
page_dto!(AppointmentPage, crate::routes::appointments::AppointmentDto);
page_dto!(BillPage, crate::routes::billing::BillDto);
page_dto!(
    PrescriptionPage,
    crate::routes::prescriptions::PrescriptionDto
);
page_dto!(
    MedicalRecordPage,
    crate::routes::medical_records::MedicalRecordDto
);
page_dto!(WaitlistPage, crate::routes::waitlist::WaitlistEntryDto);
page_dto!(WebhookPage, crate::routes::webhooks::WebhookDto);
page_dto!(
    WebhookDeliveryPage,
    crate::routes::webhooks::WebhookDeliveryDto
);
