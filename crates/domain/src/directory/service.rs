//! Directory use cases with their access rules.

use std::sync::Arc;

use uuid::Uuid;

use super::{
    Department, DepartmentInput, DirectoryRepository, Doctor, DoctorFilter, DoctorUpdate, Patient,
    PatientFilter, PatientProfile,
};
use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::DomainError;
use crate::identity::{Actor, Role};
use crate::paging::{Page, PageRequest};

pub struct DirectoryService {
    repo: Arc<dyn DirectoryRepository>,
}

impl DirectoryService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(repo: Arc<dyn DirectoryRepository>) -> Self {
        Self { repo }
    }
}

fn is_admin(actor: Option<&Actor>) -> bool {
    actor.is_some_and(|a| a.is(Role::Admin))
}

impl DirectoryService {
    /// Whether `actor` may see `patient`: staff at the desk and admins always, the patient
    /// itself, a doctor only for patients it has appointments with.
    async fn can_see_patient(&self, actor: &Actor, patient: &Patient) -> Result<bool, DomainError> {
        Ok(match actor.role {
            Role::Admin | Role::Receptionist => true,
            Role::Patient => patient.user_id == actor.user_id,
            Role::Doctor => match actor.doctor_id {
                Some(doctor_id) => {
                    self.repo
                        .doctor_treats_patient(doctor_id, patient.id)
                        .await?
                }
                None => false,
            },
        })
    }

    #[tracing::instrument(name = "directory.get_patient", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn get_patient(&self, actor: &Actor, id: Uuid) -> Result<Patient, DomainError> {
        let patient = self
            .repo
            .patient(id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        if !self.can_see_patient(actor, &patient).await? {
            return Err(DomainError::NotFound("patient"));
        }
        Ok(patient)
    }

    /// The acting patient's own record.
    #[tracing::instrument(name = "directory.my_patient", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn my_patient(&self, actor: &Actor) -> Result<Patient, DomainError> {
        self.repo
            .patient_of_user(actor.user_id)
            .await?
            .ok_or(DomainError::NotFound("patient"))
    }

    /// Staff see all patients; a doctor only its own; patients may not list.
    #[tracing::instrument(name = "directory.list_patients", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn list_patients(
        &self,
        actor: &Actor,
        mut filter: PatientFilter,
        page: PageRequest,
    ) -> Result<Page<Patient>, DomainError> {
        actor.require(Permission::ListPatients)?;
        if actor.is(Role::Doctor) {
            filter.doctor_id = Some(actor.own_doctor_id()?);
        }
        self.repo.list_patients(filter, page).await
    }

    /// Receptionists, admins and the patient itself edit a profile; doctors read only.
    #[tracing::instrument(name = "directory.update_patient", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn update_patient(
        &self,
        actor: &Actor,
        id: Uuid,
        profile: PatientProfile,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::EditPatients)?;
        let current = self.get_patient(actor, id).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "patient",
            Some(id),
            &actor.meta,
        )
        .before(current.profile.snapshot())
        .after(profile.snapshot());
        self.repo.update_patient(id, profile, event).await
    }

    /// Public: active doctors; admins also see deactivated ones.
    #[tracing::instrument(name = "directory.get_doctor", skip_all, fields(id = %id))]
    pub async fn get_doctor(&self, actor: Option<&Actor>, id: Uuid) -> Result<Doctor, DomainError> {
        let doctor = self
            .repo
            .doctor(id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        if !doctor.is_active && !is_admin(actor) {
            return Err(DomainError::NotFound("doctor"));
        }
        Ok(doctor)
    }

    #[tracing::instrument(name = "directory.list_doctors", skip_all)]
    pub async fn list_doctors(
        &self,
        actor: Option<&Actor>,
        mut filter: DoctorFilter,
        page: PageRequest,
    ) -> Result<Page<Doctor>, DomainError> {
        filter.include_inactive = filter.include_inactive && is_admin(actor);
        self.repo.list_doctors(filter, page).await
    }

    /// Admins change anything; a doctor changes its own details except licence and fee.
    #[tracing::instrument(name = "directory.update_doctor", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn update_doctor(
        &self,
        actor: &Actor,
        id: Uuid,
        update: DoctorUpdate,
    ) -> Result<Doctor, DomainError> {
        actor.require(Permission::EditDoctors)?;
        let current = self
            .repo
            .doctor(id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        match actor.role {
            Role::Admin => {}
            Role::Doctor if current.user_id == actor.user_id => {
                if update.touches_admin_fields() {
                    return Err(DomainError::Forbidden);
                }
            }
            Role::Doctor | Role::Patient | Role::Receptionist => {
                return Err(if current.is_active {
                    DomainError::Forbidden
                } else {
                    DomainError::NotFound("doctor")
                })
            }
        }
        let profile = update.apply(&current.profile())?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "doctor",
            Some(id),
            &actor.meta,
        )
        .before(current.profile().snapshot())
        .after(profile.snapshot());
        self.repo.update_doctor(id, profile, event).await
    }

    #[tracing::instrument(name = "directory.set_doctor_departments", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn set_doctor_departments(
        &self,
        actor: &Actor,
        id: Uuid,
        mut department_ids: Vec<Uuid>,
    ) -> Result<Doctor, DomainError> {
        actor.require(Permission::ManageDepartments)?;
        department_ids.sort();
        department_ids.dedup();
        if department_ids.len() > 20 {
            return Err(DomainError::validation(
                "departmentIds",
                "at most 20 departments",
            ));
        }
        let current = self
            .repo
            .doctor(id)
            .await?
            .ok_or(DomainError::NotFound("doctor"))?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "doctor",
            Some(id),
            &actor.meta,
        )
        .before(serde_json::json!({ "departmentIds": current.department_ids }))
        .after(serde_json::json!({ "departmentIds": department_ids }));
        self.repo
            .set_doctor_departments(id, department_ids, event)
            .await
    }

    #[tracing::instrument(name = "directory.create_department", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn create_department(
        &self,
        actor: &Actor,
        input: DepartmentInput,
    ) -> Result<Department, DomainError> {
        actor.require(Permission::ManageDepartments)?;
        let department = Department {
            id: Uuid::new_v4(),
            name: input.name,
            description: input.description,
            is_active: input.is_active,
        };
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "department",
            Some(department.id),
            &actor.meta,
        )
        .after(serde_json::to_value(&department).unwrap_or_default());
        self.repo.create_department(department, event).await
    }

    #[tracing::instrument(name = "directory.update_department", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn update_department(
        &self,
        actor: &Actor,
        id: Uuid,
        input: DepartmentInput,
    ) -> Result<Department, DomainError> {
        actor.require(Permission::ManageDepartments)?;
        let current = self
            .repo
            .department(id)
            .await?
            .ok_or(DomainError::NotFound("department"))?;
        let updated = Department {
            id,
            name: input.name,
            description: input.description,
            is_active: input.is_active,
        };
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "department",
            Some(id),
            &actor.meta,
        )
        .before(serde_json::to_value(&current).unwrap_or_default())
        .after(serde_json::to_value(&updated).unwrap_or_default());
        self.repo.update_department(updated, event).await
    }

    /// Public: active departments; admins also see deactivated ones.
    #[tracing::instrument(name = "directory.get_department", skip_all, fields(id = %id))]
    pub async fn get_department(
        &self,
        actor: Option<&Actor>,
        id: Uuid,
    ) -> Result<Department, DomainError> {
        match self.repo.department(id).await? {
            Some(d) if d.is_active || is_admin(actor) => Ok(d),
            _ => Err(DomainError::NotFound("department")),
        }
    }

    #[tracing::instrument(name = "directory.list_departments", skip_all)]
    pub async fn list_departments(
        &self,
        actor: Option<&Actor>,
        include_inactive: bool,
        page: PageRequest,
    ) -> Result<Page<Department>, DomainError> {
        self.repo
            .list_departments(include_inactive && is_admin(actor), page)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::MockDirectoryRepository;
    use crate::money::Money;

    use crate::testing::actor;

    fn patient(user_id: Uuid) -> Patient {
        Patient {
            id: Uuid::new_v4(),
            user_id,
            name: "P".into(),
            email: "p@x.org".into(),
            phone: None,
            is_active: true,
            profile: PatientProfile::default(),
        }
    }

    fn doctor(user_id: Uuid, active: bool) -> Doctor {
        Doctor {
            id: Uuid::new_v4(),
            user_id,
            name: "D".into(),
            email: "d@x.org".into(),
            is_active: active,
            specialization: "GP".into(),
            qualification: "MD".into(),
            experience_years: 3,
            license_number: "L-1".into(),
            consultation_fee: Money::parse("40.00", "fee").unwrap(),
            is_available: true,
            department_ids: vec![],
        }
    }

    #[tokio::test]
    async fn another_patients_record_is_not_found_not_forbidden() {
        let me = actor(Role::Patient);
        let other = patient(Uuid::new_v4());
        let mut repo = MockDirectoryRepository::new();
        repo.expect_patient()
            .returning(move |_| Ok(Some(other.clone())));
        let svc = DirectoryService {
            repo: Arc::new(repo),
        };
        assert_eq!(
            svc.get_patient(&me, Uuid::new_v4()).await,
            Err(DomainError::NotFound("patient"))
        );
    }

    #[tokio::test]
    async fn a_doctor_sees_only_patients_it_treats() {
        let mut doc_actor = actor(Role::Doctor);
        let d = doctor(doc_actor.user_id, true);
        doc_actor.doctor_id = Some(d.id);
        let p = patient(Uuid::new_v4());
        let (pid, did) = (p.id, d.id);
        let mut repo = MockDirectoryRepository::new();
        repo.expect_patient()
            .returning(move |_| Ok(Some(p.clone())));
        repo.expect_doctor_of_user()
            .returning(move |_| Ok(Some(d.clone())));
        let mut seq = mockall::Sequence::new();
        repo.expect_doctor_treats_patient()
            .withf(move |a, b| *a == did && *b == pid)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(false));
        repo.expect_doctor_treats_patient()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(true));
        let svc = DirectoryService {
            repo: Arc::new(repo),
        };
        assert_eq!(
            svc.get_patient(&doc_actor, pid).await,
            Err(DomainError::NotFound("patient"))
        );
        assert_eq!(svc.get_patient(&doc_actor, pid).await.unwrap().id, pid);
    }

    #[tokio::test]
    async fn doctors_list_only_their_patients_and_patients_cannot_list() {
        let mut doc_actor = actor(Role::Doctor);
        let d = doctor(doc_actor.user_id, true);
        doc_actor.doctor_id = Some(d.id);
        let did = d.id;
        let mut repo = MockDirectoryRepository::new();
        repo.expect_doctor_of_user()
            .returning(move |_| Ok(Some(d.clone())));
        repo.expect_list_patients()
            .withf(move |f, _| f.doctor_id == Some(did))
            .times(1)
            .returning(|_, p| Ok(Page::whole(vec![], &p)));
        let svc = DirectoryService {
            repo: Arc::new(repo),
        };
        svc.list_patients(&doc_actor, PatientFilter::default(), PageRequest::default())
            .await
            .unwrap();
        assert_eq!(
            svc.list_patients(
                &actor(Role::Patient),
                PatientFilter::default(),
                PageRequest::default()
            )
            .await,
            Err(DomainError::Forbidden)
        );
    }

    #[tokio::test]
    async fn a_doctor_cannot_change_its_own_fee_and_inactive_doctors_are_hidden_from_the_public() {
        let doc_actor = actor(Role::Doctor);
        let d = doctor(doc_actor.user_id, true);
        let hidden = doctor(Uuid::new_v4(), false);
        let mut repo = MockDirectoryRepository::new();
        let mut seq = mockall::Sequence::new();
        repo.expect_doctor()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| Ok(Some(d.clone())));
        repo.expect_doctor()
            .times(2)
            .in_sequence(&mut seq)
            .returning(move |_| Ok(Some(hidden.clone())));
        let svc = DirectoryService {
            repo: Arc::new(repo),
        };
        let raise = DoctorUpdate {
            consultation_fee: Some("999".into()),
            ..DoctorUpdate::default()
        };
        assert_eq!(
            svc.update_doctor(&doc_actor, Uuid::new_v4(), raise).await,
            Err(DomainError::Forbidden)
        );
        assert_eq!(
            svc.get_doctor(None, Uuid::new_v4()).await,
            Err(DomainError::NotFound("doctor"))
        );
        assert!(svc
            .get_doctor(Some(&actor(Role::Admin)), Uuid::new_v4())
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn only_admins_run_departments() {
        let svc = DirectoryService {
            repo: Arc::new(MockDirectoryRepository::new()),
        };
        let input = DepartmentInput::parse("Cardiology", None, true).unwrap();
        for role in [Role::Doctor, Role::Receptionist, Role::Patient] {
            assert_eq!(
                svc.create_department(&actor(role), input.clone()).await,
                Err(DomainError::Forbidden)
            );
        }
    }
}
