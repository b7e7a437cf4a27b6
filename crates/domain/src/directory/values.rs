//! Validated directory values.

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::error::DomainError;
use crate::identity::{parse_name, parse_optional_text, parse_phone};
use crate::money::Money;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Gender {
    Male,
    Female,
    Other,
}

/// The eight ABO/Rh blood groups, written as on a donor card (`A+`, `AB-`, ...).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BloodGroup {
    #[cfg_attr(feature = "openapi", schema(rename = "A+"))]
    APos,
    #[cfg_attr(feature = "openapi", schema(rename = "A-"))]
    ANeg,
    #[cfg_attr(feature = "openapi", schema(rename = "B+"))]
    BPos,
    #[cfg_attr(feature = "openapi", schema(rename = "B-"))]
    BNeg,
    #[cfg_attr(feature = "openapi", schema(rename = "AB+"))]
    AbPos,
    #[cfg_attr(feature = "openapi", schema(rename = "AB-"))]
    AbNeg,
    #[cfg_attr(feature = "openapi", schema(rename = "O+"))]
    OPos,
    #[cfg_attr(feature = "openapi", schema(rename = "O-"))]
    ONeg,
}

impl BloodGroup {
    pub const ALL: [(&'static str, Self); 8] = [
        ("A+", Self::APos),
        ("A-", Self::ANeg),
        ("B+", Self::BPos),
        ("B-", Self::BNeg),
        ("AB+", Self::AbPos),
        ("AB-", Self::AbNeg),
        ("O+", Self::OPos),
        ("O-", Self::ONeg),
    ];

    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let upper = raw.trim().to_uppercase();
        Self::ALL
            .iter()
            .find(|(label, _)| *label == upper)
            .map(|(_, g)| *g)
            .ok_or_else(|| {
                DomainError::validation(field, "must be one of A+, A-, B+, B-, AB+, AB-, O+, O-")
            })
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, g)| *g == self)
            .map_or("", |(label, _)| label)
    }
}

/// A patient's profile (all optional: a patient fills it in over time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientProfile {
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub blood_group: Option<BloodGroup>,
    pub address: Option<String>,
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
}

impl PatientProfile {
    /// Validates raw fields; `today` bounds the date of birth.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        date_of_birth: Option<NaiveDate>,
        gender: Option<Gender>,
        blood_group: Option<&str>,
        address: Option<&str>,
        emergency_contact_name: Option<&str>,
        emergency_contact_phone: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, DomainError> {
        if let Some(dob) = date_of_birth {
            if dob > today {
                return Err(DomainError::validation(
                    "dateOfBirth",
                    "must not be in the future",
                ));
            }
            if dob < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(dob) {
                return Err(DomainError::validation(
                    "dateOfBirth",
                    "must be after 1900-01-01",
                ));
            }
        }
        Ok(Self {
            date_of_birth,
            gender,
            blood_group: blood_group
                .map(|b| BloodGroup::parse(b, "bloodGroup"))
                .transpose()?,
            address: parse_optional_text(address, "address", 500)?,
            emergency_contact_name: emergency_contact_name
                .filter(|s| !s.trim().is_empty())
                .map(|n| parse_name(n, "emergencyContactName"))
                .transpose()?,
            emergency_contact_phone: emergency_contact_phone
                .filter(|s| !s.trim().is_empty())
                .map(|p| parse_phone(p, "emergencyContactPhone"))
                .transpose()?,
        })
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "dateOfBirth": self.date_of_birth, "gender": self.gender,
            "bloodGroup": self.blood_group.map(BloodGroup::as_str), "address": self.address,
            "emergencyContactName": self.emergency_contact_name,
            "emergencyContactPhone": self.emergency_contact_phone,
        })
    }
}

/// A doctor's professional details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorProfile {
    pub specialization: String,
    pub qualification: String,
    pub experience_years: i32,
    pub license_number: String,
    pub consultation_fee: Money,
    pub is_available: bool,
}

/// A required single-line value (a specialization, a department name).
fn required_text(raw: &str, field: &str, max: usize) -> Result<String, DomainError> {
    crate::text::parse_optional_line(Some(raw), field, max)?
        .ok_or_else(|| DomainError::validation(field, "must not be empty"))
}

impl DoctorProfile {
    pub fn parse(
        specialization: &str,
        qualification: &str,
        experience_years: i32,
        license_number: &str,
        consultation_fee: &str,
        is_available: bool,
    ) -> Result<Self, DomainError> {
        if !(0..=80).contains(&experience_years) {
            return Err(DomainError::validation(
                "experienceYears",
                "must be between 0 and 80",
            ));
        }
        let license_number = required_text(license_number, "licenseNumber", 64)?;
        if !license_number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
        {
            return Err(DomainError::validation(
                "licenseNumber",
                "letters, digits, '-' and '/' only",
            ));
        }
        Ok(Self {
            specialization: required_text(specialization, "specialization", 120)?,
            qualification: required_text(qualification, "qualification", 200)?,
            experience_years,
            license_number,
            consultation_fee: Money::parse(consultation_fee, "consultationFee")?,
            is_available,
        })
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "specialization": self.specialization, "qualification": self.qualification,
            "experienceYears": self.experience_years, "licenseNumber": self.license_number,
            "consultationFee": self.consultation_fee.to_string(), "isAvailable": self.is_available,
        })
    }
}

/// A partial update of a doctor; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorUpdate {
    pub specialization: Option<String>,
    pub qualification: Option<String>,
    pub experience_years: Option<i32>,
    pub license_number: Option<String>,
    pub consultation_fee: Option<String>,
    pub is_available: Option<bool>,
}

impl DoctorUpdate {
    /// Whether the update touches what only an admin may change (licence, fee).
    pub fn touches_admin_fields(&self) -> bool {
        self.license_number.is_some() || self.consultation_fee.is_some()
    }

    /// The profile after applying the update to `current`, validated as a whole.
    pub fn apply(&self, current: &DoctorProfile) -> Result<DoctorProfile, DomainError> {
        DoctorProfile::parse(
            self.specialization
                .as_deref()
                .unwrap_or(&current.specialization),
            self.qualification
                .as_deref()
                .unwrap_or(&current.qualification),
            self.experience_years.unwrap_or(current.experience_years),
            self.license_number
                .as_deref()
                .unwrap_or(&current.license_number),
            &self
                .consultation_fee
                .clone()
                .unwrap_or_else(|| current.consultation_fee.to_string()),
            self.is_available.unwrap_or(current.is_available),
        )
    }
}

/// A department's editable fields, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentInput {
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
}

impl DepartmentInput {
    pub fn parse(
        name: &str,
        description: Option<&str>,
        is_active: bool,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            name: required_text(name, "name", 120)?,
            description: parse_optional_text(description, "description", 2000)?,
            is_active,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_profile_rules() {
        let today = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let p = PatientProfile::parse(
            NaiveDate::from_ymd_opt(1990, 5, 1),
            Some(Gender::Female),
            Some("ab-"),
            Some(" 1 Main St "),
            None,
            Some(""),
            today,
        )
        .unwrap();
        assert_eq!(p.blood_group, Some(BloodGroup::AbNeg));
        assert_eq!(p.address.as_deref(), Some("1 Main St"));
        assert_eq!(p.emergency_contact_phone, None);
        assert!(PatientProfile::parse(
            NaiveDate::from_ymd_opt(2031, 1, 1),
            None,
            None,
            None,
            None,
            None,
            today
        )
        .is_err());
        assert!(PatientProfile::parse(None, None, Some("C+"), None, None, None, today).is_err());
        assert!(
            PatientProfile::parse(None, None, None, Some(&"x".repeat(501)), None, None, today)
                .is_err()
        );
    }

    #[test]
    fn doctor_profile_rules() {
        assert!(DoctorProfile::parse("Cardiology", "MD", 10, "LIC-1", "80.50", true).is_ok());
        let err = DoctorProfile::parse("Cardiology", "MD", 81, "LIC-1", "80", true).unwrap_err();
        assert!(
            matches!(err, DomainError::Validation { ref field, .. } if field == "experienceYears")
        );
        let err = DoctorProfile::parse("Cardiology", "MD", 1, "LIC 1", "80", true).unwrap_err();
        assert!(
            matches!(err, DomainError::Validation { ref field, .. } if field == "licenseNumber")
        );
        let err = DoctorProfile::parse("Cardiology", "MD", 1, "LIC-1", "-5", true).unwrap_err();
        assert!(
            matches!(err, DomainError::Validation { ref field, .. } if field == "consultationFee")
        );
    }

    #[test]
    fn doctor_update_keeps_unset_fields() {
        let current = DoctorProfile::parse("Cardiology", "MD", 10, "LIC-1", "80.50", true).unwrap();
        let updated = DoctorUpdate {
            is_available: Some(false),
            ..DoctorUpdate::default()
        }
        .apply(&current)
        .unwrap();
        assert_eq!(updated.consultation_fee.to_string(), "80.50");
        assert!(!updated.is_available);
        assert!(!DoctorUpdate {
            qualification: Some("PhD".into()),
            ..DoctorUpdate::default()
        }
        .touches_admin_fields());
        assert!(DoctorUpdate {
            consultation_fee: Some("1".into()),
            ..DoctorUpdate::default()
        }
        .touches_admin_fields());
    }
}
