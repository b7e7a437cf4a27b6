//! Builders shared by the domain's unit tests.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::appointments::{Appointment, AppointmentStatus, AppointmentType};

use crate::audit::RequestMeta;
use crate::directory::{Doctor, Patient, PatientProfile};
use crate::identity::{Actor, Role};
use crate::money::Money;

/// A fresh actor of `role` with its own user and session (and, for patients and doctors, its
/// own patient or doctor record id, as a login resolves it).
pub fn actor(role: Role) -> Actor {
    Actor {
        user_id: Uuid::new_v4(),
        role,
        session_id: Uuid::new_v4(),
        patient_id: (role == Role::Patient).then(Uuid::new_v4),
        doctor_id: (role == Role::Doctor).then(Uuid::new_v4),
        meta: RequestMeta::default(),
    }
}

/// The patient record of a patient actor (the id its session carries).
pub fn patient_of(actor: &Actor) -> Patient {
    Patient {
        id: actor.patient_id.unwrap_or_else(Uuid::new_v4),
        user_id: actor.user_id,
        name: "P".into(),
        email: "p@x.org".into(),
        phone: None,
        is_active: true,
        profile: PatientProfile::default(),
    }
}

/// The doctor record `id` of `user_id`, whose current fee is `fee`.
pub fn doctor_of(user_id: Uuid, id: Uuid, fee: &str) -> Doctor {
    Doctor {
        id,
        user_id,
        name: "D".into(),
        email: "d@x.org".into(),
        is_active: true,
        specialization: "GP".into(),
        qualification: "MD".into(),
        experience_years: 1,
        license_number: "L1".into(),
        consultation_fee: Money::parse(fee, "fee").unwrap(),
        is_available: true,
        department_ids: vec![],
    }
}

/// A 15-minute consultation of `patient_id` with `doctor_id` starting at `starts_at`, booked
/// three days before, in `status`.
pub fn appointment_of(
    patient_id: Uuid,
    doctor_id: Uuid,
    status: AppointmentStatus,
    starts_at: DateTime<Utc>,
) -> Appointment {
    Appointment {
        id: Uuid::new_v4(),
        patient_id,
        doctor_id,
        time_slot_id: None,
        kind: AppointmentType::Consultation,
        status,
        reason: "Ear ache".into(),
        notes: None,
        cancel_reason: None,
        consultation_fee: Money::parse("50.00", "fee").unwrap(),
        starts_at,
        ends_at: starts_at + Duration::minutes(15),
        created_at: starts_at - Duration::days(3),
        updated_at: starts_at,
    }
}
