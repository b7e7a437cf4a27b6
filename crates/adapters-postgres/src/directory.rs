//! The clinic directory in PostgreSQL: patients, doctors, departments and their links.

use std::collections::HashMap;

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::directory::{
    BloodGroup, Department, DirectoryRepository, Doctor, DoctorFilter, DoctorProfile, Patient,
    PatientFilter, PatientProfile,
};
use domain::error::DomainError;
use domain::money::Money;
use domain::paging::{Cursor, Page, PageRequest};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::PgGender;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::paging::{after_name, keyset_page};
use crate::schema::{appointments, departments, doctor_departments, doctors, patients, users};
use crate::PgPool;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = patients, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct PatientProfileRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<PgGender>,
    pub blood_group: Option<String>,
    pub address: Option<String>,
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
}

impl PatientProfileRow {
    pub fn new(id: Uuid, user_id: Uuid, p: &PatientProfile) -> Self {
        Self {
            id,
            user_id,
            date_of_birth: p.date_of_birth,
            gender: p.gender.map(Into::into),
            blood_group: p.blood_group.map(|b| b.as_str().to_owned()),
            address: p.address.clone(),
            emergency_contact_name: p.emergency_contact_name.clone(),
            emergency_contact_phone: p.emergency_contact_phone.clone(),
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = doctors, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewDoctorRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub specialization: String,
    pub qualification: String,
    pub experience_years: i32,
    pub license_number: String,
    pub consultation_fee: BigDecimal,
    pub is_available: bool,
}

impl NewDoctorRow {
    pub fn new(id: Uuid, user_id: Uuid, p: &DoctorProfile) -> Self {
        Self {
            id,
            user_id,
            specialization: p.specialization.clone(),
            qualification: p.qualification.clone(),
            experience_years: p.experience_years,
            license_number: p.license_number.clone(),
            consultation_fee: p.consultation_fee.as_decimal().clone(),
            is_available: p.is_available,
        }
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = doctors)]
struct DoctorChanges<'a> {
    specialization: &'a str,
    qualification: &'a str,
    experience_years: i32,
    license_number: &'a str,
    consultation_fee: &'a BigDecimal,
    is_available: bool,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = departments, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct DepartmentRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    is_active: bool,
}

impl From<DepartmentRow> for Department {
    fn from(r: DepartmentRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            is_active: r.is_active,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct AccountColumns {
    name: String,
    email: String,
    phone: Option<String>,
    is_active: bool,
}

fn to_patient(row: PatientProfileRow, account: AccountColumns) -> Patient {
    Patient {
        id: row.id,
        user_id: row.user_id,
        name: account.name,
        email: account.email,
        phone: account.phone,
        is_active: account.is_active,
        profile: PatientProfile {
            date_of_birth: row.date_of_birth,
            gender: row.gender.map(Into::into),
            blood_group: row
                .blood_group
                .as_deref()
                .and_then(|b| BloodGroup::parse(b, "bloodGroup").ok()),
            address: row.address,
            emergency_contact_name: row.emergency_contact_name,
            emergency_contact_phone: row.emergency_contact_phone,
        },
    }
}

fn to_doctor(
    row: NewDoctorRow,
    account: AccountColumns,
    department_ids: Vec<Uuid>,
) -> Result<Doctor, DomainError> {
    Ok(Doctor {
        id: row.id,
        user_id: row.user_id,
        name: account.name,
        email: account.email,
        is_active: account.is_active,
        specialization: row.specialization,
        qualification: row.qualification,
        experience_years: row.experience_years,
        license_number: row.license_number,
        consultation_fee: Money::from_decimal(row.consultation_fee)
            .map_err(|_| DomainError::broken("stored fee out of range"))?,
        is_available: row.is_available,
        department_ids,
    })
}

/// `%` and `_` in user input match literally.
fn like_pattern(search: &str) -> String {
    let escaped = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[derive(Clone)]
pub struct PgDirectoryRepository {
    pub pool: PgPool,
}

impl PgDirectoryRepository {
    async fn department_ids(
        conn: &mut AsyncPgConnection,
        doctor_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Uuid>>, diesel::result::Error> {
        let links: Vec<(Uuid, Uuid)> = doctor_departments::table
            .filter(doctor_departments::doctor_id.eq_any(doctor_ids))
            .select((
                doctor_departments::doctor_id,
                doctor_departments::department_id,
            ))
            .order(doctor_departments::department_id)
            .load(conn)
            .await?;
        let mut map: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (doctor, department) in links {
            map.entry(doctor).or_default().push(department);
        }
        Ok(map)
    }

    async fn load_doctor(
        conn: &mut AsyncPgConnection,
        filter_id: Option<Uuid>,
        user_id: Option<Uuid>,
    ) -> Result<Option<Doctor>, DomainError> {
        let mut query = doctors::table
            .inner_join(users::table)
            .select((NewDoctorRow::as_select(), AccountColumns::as_select()))
            .into_boxed();
        if let Some(id) = filter_id {
            query = query.filter(doctors::id.eq(id));
        }
        if let Some(uid) = user_id {
            query = query.filter(doctors::user_id.eq(uid));
        }
        let found: Option<(NewDoctorRow, AccountColumns)> =
            query.first(conn).await.optional().db()?;
        let Some((row, account)) = found else {
            return Ok(None);
        };
        let mut ids = Self::department_ids(conn, &[row.id]).await.db()?;
        let deps = ids.remove(&row.id).unwrap_or_default();
        to_doctor(row, account, deps).map(Some)
    }

    async fn load_patient(
        conn: &mut AsyncPgConnection,
        id: Option<Uuid>,
        user_id: Option<Uuid>,
    ) -> Result<Option<Patient>, DomainError> {
        let mut query = patients::table
            .inner_join(users::table)
            .select((PatientProfileRow::as_select(), AccountColumns::as_select()))
            .into_boxed();
        if let Some(id) = id {
            query = query.filter(patients::id.eq(id));
        }
        if let Some(uid) = user_id {
            query = query.filter(patients::user_id.eq(uid));
        }
        let found: Option<(PatientProfileRow, AccountColumns)> =
            query.first(conn).await.optional().db()?;
        Ok(found.map(|(p, a)| to_patient(p, a)))
    }
}

#[async_trait]
impl DirectoryRepository for PgDirectoryRepository {
    async fn patient(&self, id: Uuid) -> Result<Option<Patient>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        Self::load_patient(&mut conn, Some(id), None).await
    }

    async fn patient_of_user(&self, user_id: Uuid) -> Result<Option<Patient>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        Self::load_patient(&mut conn, None, Some(user_id)).await
    }

    async fn list_patients(
        &self,
        filter: PatientFilter,
        page: PageRequest,
    ) -> Result<Page<Patient>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = patients::table.inner_join(users::table).into_boxed();
            if let Some(search) = &filter.search {
                let pattern = like_pattern(search);
                q = q.filter(
                    users::name
                        .ilike(pattern.clone())
                        .or(users::email.ilike(pattern)),
                );
            }
            if let Some(doctor_id) = filter.doctor_id {
                q = q.filter(diesel::dsl::exists(
                    appointments::table
                        .filter(appointments::patient_id.eq(patients::id))
                        .filter(appointments::doctor_id.eq(doctor_id)),
                ));
            }
            q
        };
        // By name, ties by account id: exactly the users (name, id) index, so a page reads its
        // rows in order. (Ties by the patient id made PostgreSQL sort every patient sharing the
        // first name on the page: 15 ms for page 1 of 333,333 seeded patients, 0.1 ms now.)
        let after = page.after.as_ref().map(|c| c.name()).transpose()?;
        let (rows, total): (Vec<(PatientProfileRow, AccountColumns)>, _) = keyset_page!(
            &mut conn,
            build,
            (PatientProfileRow::as_select(), AccountColumns::as_select()),
            (users::name.asc(), users::id.asc()),
            after.map(|at| after_name("(users.name, users.id)", at)),
            page
        );
        let patients: Vec<Patient> = rows.into_iter().map(|(p, a)| to_patient(p, a)).collect();
        Ok(page.page_of(patients, total, |p| Cursor::Name(p.name.clone(), p.user_id)))
    }

    async fn update_patient(
        &self,
        id: Uuid,
        profile: PatientProfile,
        event: AuditEvent,
    ) -> Result<Patient, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let user_id: Uuid = patients::table
                .find(id)
                .select(patients::user_id)
                .first(conn)
                .await?;
            diesel::update(patients::table.find(id))
                .set(PatientProfileRow::new(id, user_id, &profile))
                .execute(conn)
                .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Self::load_patient(&mut conn, Some(id), None)
            .await?
            .ok_or(DomainError::NotFound("patient"))
    }

    async fn doctor(&self, id: Uuid) -> Result<Option<Doctor>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        Self::load_doctor(&mut conn, Some(id), None).await
    }

    async fn doctor_of_user(&self, user_id: Uuid) -> Result<Option<Doctor>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        Self::load_doctor(&mut conn, None, Some(user_id)).await
    }

    async fn list_doctors(
        &self,
        filter: DoctorFilter,
        page: PageRequest,
    ) -> Result<Page<Doctor>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = doctors::table.inner_join(users::table).into_boxed();
            if !filter.include_inactive {
                q = q.filter(users::is_active.eq(true));
            }
            if let Some(spec) = &filter.specialization {
                q = q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "lower(doctors.specialization) = lower(",
                    )
                    .bind::<diesel::sql_types::Text, _>(spec.clone())
                    .sql(")"),
                );
            }
            if let Some(available) = filter.available {
                q = q.filter(doctors::is_available.eq(available));
            }
            if let Some(department_id) = filter.department_id {
                q = q.filter(diesel::dsl::exists(
                    doctor_departments::table
                        .filter(doctor_departments::doctor_id.eq(doctors::id))
                        .filter(doctor_departments::department_id.eq(department_id)),
                ));
            }
            q
        };
        let after = page.after.as_ref().map(|c| c.name()).transpose()?;
        let (rows, total): (Vec<(NewDoctorRow, AccountColumns)>, _) = keyset_page!(
            &mut conn,
            build,
            (NewDoctorRow::as_select(), AccountColumns::as_select()),
            (users::name.asc(), users::id.asc()),
            after.map(|at| after_name("(users.name, users.id)", at)),
            page
        );
        let ids: Vec<Uuid> = rows.iter().map(|(d, _)| d.id).collect();
        let mut departments = Self::department_ids(&mut conn, &ids).await.db()?;
        let items = rows
            .into_iter()
            .map(|(d, a)| {
                let deps = departments.remove(&d.id).unwrap_or_default();
                to_doctor(d, a, deps)
            })
            .collect::<Result<Vec<Doctor>, _>>()?;
        Ok(page.page_of(items, total, |d| Cursor::Name(d.name.clone(), d.user_id)))
    }

    async fn update_doctor(
        &self,
        id: Uuid,
        profile: DoctorProfile,
        event: AuditEvent,
    ) -> Result<Doctor, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let n = diesel::update(doctors::table.find(id))
                .set(DoctorChanges {
                    specialization: &profile.specialization,
                    qualification: &profile.qualification,
                    experience_years: profile.experience_years,
                    license_number: &profile.license_number,
                    consultation_fee: profile.consultation_fee.as_decimal(),
                    is_available: profile.is_available,
                })
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(DomainError::NotFound("doctor").into());
            }
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Self::load_doctor(&mut conn, Some(id), None)
            .await?
            .ok_or(DomainError::NotFound("doctor"))
    }

    async fn set_doctor_departments(
        &self,
        id: Uuid,
        department_ids: Vec<Uuid>,
        event: AuditEvent,
    ) -> Result<Doctor, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            diesel::delete(doctor_departments::table.filter(doctor_departments::doctor_id.eq(id)))
                .execute(conn)
                .await?;
            let rows: Vec<_> = department_ids
                .iter()
                .map(|d| {
                    (
                        doctor_departments::doctor_id.eq(id),
                        doctor_departments::department_id.eq(*d),
                    )
                })
                .collect();
            diesel::insert_into(doctor_departments::table)
                .values(&rows)
                .execute(conn)
                .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Self::load_doctor(&mut conn, Some(id), None)
            .await?
            .ok_or(DomainError::NotFound("doctor"))
    }

    async fn doctor_treats_patient(
        &self,
        doctor_id: Uuid,
        patient_id: Uuid,
    ) -> Result<bool, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::select(diesel::dsl::exists(
            appointments::table
                .filter(appointments::doctor_id.eq(doctor_id))
                .filter(appointments::patient_id.eq(patient_id)),
        ))
        .get_result(&mut conn)
        .await
        .db()
    }

    async fn create_department(
        &self,
        department: Department,
        event: AuditEvent,
    ) -> Result<Department, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row = conn
            .transaction::<DepartmentRow, TxError, _>(async move |conn| {
                let row = diesel::insert_into(departments::table)
                    .values(DepartmentRow {
                        id: department.id,
                        name: department.name,
                        description: department.description,
                        is_active: department.is_active,
                    })
                    .returning(DepartmentRow::as_returning())
                    .get_result(conn)
                    .await?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(row)
            })
            .await?;
        Ok(row.into())
    }

    async fn department(&self, id: Uuid) -> Result<Option<Department>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<DepartmentRow> = departments::table
            .find(id)
            .select(DepartmentRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(Into::into))
    }

    async fn list_departments(
        &self,
        include_inactive: bool,
        page: PageRequest,
    ) -> Result<Page<Department>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = departments::table.into_boxed();
            if !include_inactive {
                q = q.filter(departments::is_active.eq(true));
            }
            q
        };
        let after = page.after.as_ref().map(|c| c.name()).transpose()?;
        let (rows, total): (Vec<DepartmentRow>, _) = keyset_page!(
            &mut conn,
            build,
            DepartmentRow::as_select(),
            (departments::name.asc(), departments::id.asc()),
            after.map(|at| after_name("(departments.name, departments.id)", at)),
            page
        );
        let departments: Vec<Department> = rows.into_iter().map(Into::into).collect();
        Ok(page.page_of(departments, total, |d| Cursor::Name(d.name.clone(), d.id)))
    }

    async fn update_department(
        &self,
        department: Department,
        event: AuditEvent,
    ) -> Result<Department, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row = conn
            .transaction::<DepartmentRow, TxError, _>(async move |conn| {
                let row: Option<DepartmentRow> =
                    diesel::update(departments::table.find(department.id))
                        .set(DepartmentRow {
                            id: department.id,
                            name: department.name,
                            description: department.description,
                            is_active: department.is_active,
                        })
                        .returning(DepartmentRow::as_returning())
                        .get_result(conn)
                        .await
                        .optional()?;
                let row = row.ok_or(DomainError::NotFound("department"))?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(row)
            })
            .await?;
        Ok(row.into())
    }
}
