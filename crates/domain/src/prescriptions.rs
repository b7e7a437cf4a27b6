//! Prescriptions: written by the appointment's doctor while the visit is IN_PROGRESS or
//! COMPLETED, one per appointment (a unique key), with 1 to [`MAX_ITEMS`] items. Read by that
//! doctor, the patient and admins; receptionists do not read clinical content (403); anyone
//! else gets 404. Writing one also writes a PRESCRIPTION notification for the patient and an
//! audit event, in the same transaction.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::Permission;
use crate::appointments::{AppointmentRepository, AppointmentStatus};
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::error::{Conflict, DomainError};
use crate::identity::{parse_optional_text, Actor, Role};
use crate::paging::{Page, PageRequest};

/// More items than this on one prescription is a data-entry error, not a treatment.
pub const MAX_ITEMS: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrescriptionItem {
    pub id: Uuid,
    pub medicine_name: String,
    pub dosage: String,
    pub frequency: String,
    pub duration: String,
    pub instructions: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prescription {
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub doctor_id: Uuid,
    pub patient_id: Uuid,
    pub diagnosis: String,
    pub notes: Option<String>,
    pub items: Vec<PrescriptionItem>,
    pub created_at: DateTime<Utc>,
}

impl Prescription {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "appointmentId": self.appointment_id, "doctorId": self.doctor_id,
            "patientId": self.patient_id, "diagnosis": self.diagnosis, "notes": self.notes,
            "items": self.items.iter().map(|i| serde_json::json!({
                "medicineName": i.medicine_name, "dosage": i.dosage, "frequency": i.frequency,
                "duration": i.duration, "instructions": i.instructions,
            })).collect::<Vec<_>>(),
        })
    }
}

/// One item as the doctor typed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemInput {
    pub medicine_name: String,
    pub dosage: String,
    pub frequency: String,
    pub duration: String,
    pub instructions: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrescriptionInput {
    pub diagnosis: String,
    pub notes: Option<String>,
    pub items: Vec<ItemInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrescriptionFilter {
    pub patient_id: Option<Uuid>,
    pub doctor_id: Option<Uuid>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PrescriptionRepository: Send + Sync {
    /// Inserts the prescription and its items, the patient's PRESCRIPTION notification and
    /// the audit event in one transaction. `Conflict(PrescriptionExists)` for a second one on
    /// the same appointment.
    async fn create(
        &self,
        prescription: Prescription,
        notice: crate::notifications::Notice,
        event: AuditEvent,
    ) -> Result<Prescription, DomainError>;
    async fn get(&self, id: Uuid) -> Result<Option<Prescription>, DomainError>;
    async fn for_appointment(
        &self,
        appointment_id: Uuid,
    ) -> Result<Option<Prescription>, DomainError>;
    /// Newest first.
    async fn list(
        &self,
        filter: PrescriptionFilter,
        page: PageRequest,
    ) -> Result<Page<Prescription>, DomainError>;
}

pub struct PrescriptionService {
    prescriptions: Arc<dyn PrescriptionRepository>,
    appointments: Arc<dyn AppointmentRepository>,
    clock: Arc<dyn Clock>,
}

impl PrescriptionService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        prescriptions: Arc<dyn PrescriptionRepository>,
        appointments: Arc<dyn AppointmentRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            prescriptions,
            appointments,
            clock,
        }
    }
}

fn required(raw: &str, field: &str, max: usize) -> Result<String, DomainError> {
    parse_optional_text(Some(raw), field, max)?
        .ok_or_else(|| DomainError::validation(field, "must not be empty"))
}

/// A required one-line value (a medicine name, a dosage): no line breaks.
fn required_line(raw: &str, field: &str, max: usize) -> Result<String, DomainError> {
    crate::text::parse_optional_line(Some(raw), field, max)?
        .ok_or_else(|| DomainError::validation(field, "must not be empty"))
}

impl PrescriptionInput {
    /// Trims every text, refuses empty required ones and oversize ones, naming the field as
    /// the client sent it (`items[2].dosage`).
    fn parse(self) -> Result<(String, Option<String>, Vec<PrescriptionItem>), DomainError> {
        let diagnosis = required(&self.diagnosis, "diagnosis", 4000)?;
        let notes = parse_optional_text(self.notes.as_deref(), "notes", 4000)?;
        if self.items.is_empty() {
            return Err(DomainError::validation(
                "items",
                "a prescription needs at least one item",
            ));
        }
        if self.items.len() > MAX_ITEMS {
            return Err(DomainError::validation(
                "items",
                format!("at most {MAX_ITEMS} items"),
            ));
        }
        let items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let f = |name: &str| format!("items[{i}].{name}");
                Ok(PrescriptionItem {
                    id: Uuid::new_v4(),
                    medicine_name: required_line(&item.medicine_name, &f("medicineName"), 200)?,
                    dosage: required_line(&item.dosage, &f("dosage"), 100)?,
                    frequency: required_line(&item.frequency, &f("frequency"), 100)?,
                    duration: required_line(&item.duration, &f("duration"), 100)?,
                    instructions: parse_optional_text(
                        item.instructions.as_deref(),
                        &f("instructions"),
                        1000,
                    )?,
                })
            })
            .collect::<Result<Vec<_>, DomainError>>()?;
        Ok((diagnosis, notes, items))
    }
}

impl PrescriptionService {
    /// The appointment's doctor writes it while the visit is in progress or completed.
    #[tracing::instrument(name = "prescriptions.write", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, appointment_id = %appointment_id))]
    pub async fn write(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        input: PrescriptionInput,
    ) -> Result<Prescription, DomainError> {
        actor.require(Permission::WritePrescriptions)?;
        let doctor_id = actor.own_doctor_id()?;
        let appointment = self
            .appointments
            .get(appointment_id)
            .await?
            .filter(|a| a.doctor_id == doctor_id)
            .ok_or(DomainError::NotFound("appointment"))?;
        if !matches!(
            appointment.status,
            AppointmentStatus::InProgress | AppointmentStatus::Completed
        ) {
            return Err(DomainError::Conflict(Conflict::NotInConsultation));
        }
        let (diagnosis, notes, items) = input.parse()?;
        let prescription = Prescription {
            id: Uuid::new_v4(),
            appointment_id,
            doctor_id,
            patient_id: appointment.patient_id,
            diagnosis,
            notes,
            items,
            created_at: self.clock.now(),
        };
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "prescription",
            Some(prescription.id),
            &actor.meta,
        )
        .after(prescription.snapshot());
        let notice = crate::notifications::texts::prescription(
            prescription.items.iter().map(|i| i.medicine_name.as_str()),
        );
        self.prescriptions.create(prescription, notice, event).await
    }

    /// `Ok(())` if the actor may read this prescription; `NotFound` for someone else's.
    async fn check_reader(&self, actor: &Actor, p: &Prescription) -> Result<(), DomainError> {
        let allowed = match actor.role {
            Role::Admin => true,
            Role::Receptionist => return Err(DomainError::Forbidden),
            Role::Doctor => actor.own_doctor_id()? == p.doctor_id,
            Role::Patient => actor.own_patient_id()? == p.patient_id,
        };
        if allowed {
            Ok(())
        } else {
            Err(DomainError::NotFound("prescription"))
        }
    }

    #[tracing::instrument(name = "prescriptions.get", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<Prescription, DomainError> {
        if actor.is(Role::Receptionist) {
            return Err(DomainError::Forbidden);
        }
        let p = self
            .prescriptions
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("prescription"))?;
        self.check_reader(actor, &p).await?;
        Ok(p)
    }

    #[tracing::instrument(name = "prescriptions.for_appointment", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, appointment_id = %appointment_id))]
    pub async fn for_appointment(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
    ) -> Result<Prescription, DomainError> {
        if actor.is(Role::Receptionist) {
            return Err(DomainError::Forbidden);
        }
        let p = self
            .prescriptions
            .for_appointment(appointment_id)
            .await?
            .ok_or(DomainError::NotFound("prescription"))?;
        self.check_reader(actor, &p).await?;
        Ok(p)
    }

    /// A patient's own, a doctor's written ones, or any (admins, filtered by patient/doctor).
    #[tracing::instrument(name = "prescriptions.list", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: PrescriptionFilter,
        page: PageRequest,
    ) -> Result<Page<Prescription>, DomainError> {
        actor.require(Permission::ReadPrescriptions)?;
        match actor.role {
            Role::Patient => filter.patient_id = Some(actor.own_patient_id()?),
            Role::Doctor => filter.doctor_id = Some(actor.own_doctor_id()?),
            Role::Admin | Role::Receptionist => {}
        }
        self.prescriptions.list(filter, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::{Appointment, AppointmentType, MockAppointmentRepository};
    use crate::clock::FixedClock;
    use crate::directory::Doctor;
    use crate::money::Money;

    fn item() -> ItemInput {
        ItemInput {
            medicine_name: "Amoxicillin".into(),
            dosage: "500 mg".into(),
            frequency: "3x daily".into(),
            duration: "7 days".into(),
            instructions: None,
        }
    }

    #[test]
    fn items_are_required_and_their_fields_named_by_position() {
        let none = PrescriptionInput {
            diagnosis: "Otitis".into(),
            ..Default::default()
        };
        assert!(
            matches!(none.parse(), Err(DomainError::Validation { ref field, .. }) if field == "items")
        );
        let blank = PrescriptionInput {
            diagnosis: "Otitis".into(),
            notes: None,
            items: vec![
                item(),
                ItemInput {
                    dosage: "  ".into(),
                    ..item()
                },
            ],
        };
        assert!(
            matches!(blank.parse(), Err(DomainError::Validation { ref field, .. }) if field == "items[1].dosage")
        );
        let many = PrescriptionInput {
            diagnosis: "x".into(),
            notes: None,
            items: vec![item(); MAX_ITEMS + 1],
        };
        assert!(many.parse().is_err());
    }

    fn doctor_actor() -> (Actor, Doctor) {
        let actor = crate::testing::actor(Role::Doctor);
        let doctor = crate::testing::doctor_of(actor.user_id, actor.doctor_id.unwrap(), "10");
        (actor, doctor)
    }

    fn appointment(doctor_id: Uuid, status: AppointmentStatus) -> Appointment {
        let t = chrono::Utc::now();
        Appointment {
            id: Uuid::new_v4(),
            patient_id: Uuid::new_v4(),
            doctor_id,
            time_slot_id: None,
            kind: AppointmentType::Consultation,
            status,
            reason: "r".into(),
            notes: None,
            cancel_reason: None,
            consultation_fee: Money::parse("10", "f").unwrap(),
            starts_at: t,
            ends_at: t,
            created_at: t,
            updated_at: t,
        }
    }

    fn service(
        appointments: MockAppointmentRepository,
        prescriptions: MockPrescriptionRepository,
    ) -> PrescriptionService {
        PrescriptionService::new(
            Arc::new(prescriptions),
            Arc::new(appointments),
            Arc::new(FixedClock(chrono::Utc::now())),
        )
    }

    #[tokio::test]
    async fn only_the_appointments_doctor_writes_and_only_during_or_after_the_visit() {
        let (actor, doctor) = doctor_actor();
        let input = PrescriptionInput {
            diagnosis: "Otitis".into(),
            notes: None,
            items: vec![item()],
        };
        for (status, expected) in [
            (
                AppointmentStatus::Confirmed,
                Err(DomainError::Conflict(Conflict::NotInConsultation)),
            ),
            (
                AppointmentStatus::Cancelled,
                Err(DomainError::Conflict(Conflict::NotInConsultation)),
            ),
        ] {
            let a = appointment(doctor.id, status);
            let mut appointments = MockAppointmentRepository::new();
            appointments
                .expect_get()
                .returning(move |_| Ok(Some(a.clone())));
            let svc = service(appointments, MockPrescriptionRepository::new());
            let got = svc.write(&actor, Uuid::new_v4(), input.clone()).await;
            assert_eq!(got.map(|_| ()), expected);
        }
        // Another doctor's appointment does not exist for this one.
        let other = appointment(Uuid::new_v4(), AppointmentStatus::InProgress);
        let mut appointments = MockAppointmentRepository::new();
        appointments
            .expect_get()
            .returning(move |_| Ok(Some(other.clone())));
        let svc = service(appointments, MockPrescriptionRepository::new());
        assert_eq!(
            svc.write(&actor, Uuid::new_v4(), input.clone()).await,
            Err(DomainError::NotFound("appointment"))
        );
        // In progress: written, for the appointment's patient, with an audit event.
        let mine = appointment(doctor.id, AppointmentStatus::InProgress);
        let patient_id = mine.patient_id;
        let mut appointments = MockAppointmentRepository::new();
        appointments
            .expect_get()
            .returning(move |_| Ok(Some(mine.clone())));
        let mut prescriptions = MockPrescriptionRepository::new();
        prescriptions
            .expect_create()
            .withf(move |p, n, e| {
                p.patient_id == patient_id
                    && e.entity == "prescription"
                    && n.message.contains(&p.items[0].medicine_name)
            })
            .returning(|p, _, _| Ok(p));
        let svc = service(appointments, prescriptions);
        let written = svc.write(&actor, Uuid::new_v4(), input).await.unwrap();
        assert_eq!(written.items.len(), 1);
        // Receptionists never write nor read clinical content.
        let desk = Actor {
            role: Role::Receptionist,
            ..actor
        };
        assert_eq!(
            svc.get(&desk, Uuid::new_v4()).await,
            Err(DomainError::Forbidden)
        );
    }
}
