//! Medical record metadata in PostgreSQL (the bytes are in the file store).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::appointments::AppointmentStatus;
use domain::audit::AuditEvent;
use domain::error::DomainError;
use domain::medical_records::{MedicalRecord, MedicalRecordRepository, RecordType};
use domain::paging::{Cursor, Page, PageRequest};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::{PgAppointmentStatus, PgMedicalRecordType};
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::paging::{after_at, keyset_page};
use crate::schema::{appointments, medical_records};
use crate::PgPool;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = medical_records, check_for_backend(diesel::pg::Pg))]
struct RecordRow {
    id: Uuid,
    patient_id: Uuid,
    uploaded_by: Uuid,
    type_: PgMedicalRecordType,
    title: String,
    description: Option<String>,
    file_url: String,
    content_type: String,
    size_bytes: i64,
    file_name: String,
    created_at: DateTime<Utc>,
}

impl From<RecordRow> for MedicalRecord {
    fn from(r: RecordRow) -> Self {
        Self {
            id: r.id,
            patient_id: r.patient_id,
            uploaded_by: r.uploaded_by,
            kind: r.type_.into(),
            title: r.title,
            description: r.description,
            file_url: r.file_url,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            file_name: r.file_name,
            created_at: r.created_at,
        }
    }
}

impl From<MedicalRecord> for RecordRow {
    fn from(r: MedicalRecord) -> Self {
        Self {
            id: r.id,
            patient_id: r.patient_id,
            uploaded_by: r.uploaded_by,
            type_: r.kind.into(),
            title: r.title,
            description: r.description,
            file_url: r.file_url,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            file_name: r.file_name,
            created_at: r.created_at,
        }
    }
}

#[derive(Clone)]
pub struct PgMedicalRecordRepository {
    pub pool: PgPool,
}

#[async_trait]
impl MedicalRecordRepository for PgMedicalRecordRepository {
    async fn get(&self, id: Uuid) -> Result<Option<MedicalRecord>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<RecordRow> = medical_records::table
            .find(id)
            .select(RecordRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(Into::into))
    }

    async fn list(
        &self,
        patient_id: Uuid,
        kinds: Vec<RecordType>,
        page: PageRequest,
    ) -> Result<Page<MedicalRecord>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let kinds: Vec<PgMedicalRecordType> = kinds.into_iter().map(Into::into).collect();
        let build = || {
            medical_records::table
                .filter(medical_records::patient_id.eq(patient_id))
                .filter(medical_records::type_.eq_any(kinds.clone()))
                .into_boxed()
        };
        let after = page.after.as_ref().map(|c| c.at()).transpose()?;
        let (rows, total): (Vec<RecordRow>, _) = keyset_page!(
            &mut conn,
            build,
            RecordRow::as_select(),
            (
                medical_records::created_at.desc(),
                medical_records::id.desc(),
            ),
            after.map(|at| {
                after_at("(medical_records.created_at, medical_records.id)", true, at)
            }),
            page
        );
        let records: Vec<MedicalRecord> = rows.into_iter().map(Into::into).collect();
        Ok(page.page_of(records, total, |r| Cursor::At(r.created_at, r.id)))
    }

    async fn insert(
        &self,
        record: MedicalRecord,
        event: AuditEvent,
    ) -> Result<MedicalRecord, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row = conn
            .transaction::<RecordRow, TxError, _>(async move |conn| {
                let row = diesel::insert_into(medical_records::table)
                    .values(RecordRow::from(record))
                    .returning(RecordRow::as_returning())
                    .get_result(conn)
                    .await?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(row)
            })
            .await?;
        Ok(row.into())
    }

    async fn doctor_treats(&self, doctor_id: Uuid, patient_id: Uuid) -> Result<bool, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::select(diesel::dsl::exists(
            appointments::table
                .filter(appointments::doctor_id.eq(doctor_id))
                .filter(appointments::patient_id.eq(patient_id))
                .filter(
                    appointments::status
                        .ne(PgAppointmentStatus::from(AppointmentStatus::Cancelled)),
                ),
        ))
        .get_result(&mut conn)
        .await
        .db()
    }
}
