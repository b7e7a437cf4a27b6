//! Prescriptions and their items in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::error::DomainError;
use domain::notifications::NotificationType;
use domain::paging::{Cursor, Page, PageRequest};
use domain::prescriptions::{
    Prescription, PrescriptionFilter, PrescriptionItem, PrescriptionRepository,
};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::notifications::notify_patient;
use crate::paging::{after_at, keyset_page};
use crate::schema::{prescription_items, prescriptions};
use crate::PgPool;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = prescriptions, check_for_backend(diesel::pg::Pg))]
struct PrescriptionRow {
    id: Uuid,
    appointment_id: Uuid,
    doctor_id: Uuid,
    patient_id: Uuid,
    diagnosis: String,
    notes: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = prescription_items, check_for_backend(diesel::pg::Pg))]
struct ItemRow {
    id: Uuid,
    prescription_id: Uuid,
    medicine_name: String,
    dosage: String,
    frequency: String,
    duration: String,
    instructions: Option<String>,
}

impl From<ItemRow> for PrescriptionItem {
    fn from(r: ItemRow) -> Self {
        Self {
            id: r.id,
            medicine_name: r.medicine_name,
            dosage: r.dosage,
            frequency: r.frequency,
            duration: r.duration,
            instructions: r.instructions,
        }
    }
}

/// Loads the items of `rows` in one query and assembles the prescriptions, in `rows` order.
async fn with_items(
    conn: &mut AsyncPgConnection,
    rows: Vec<PrescriptionRow>,
) -> Result<Vec<Prescription>, diesel::result::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items: Vec<ItemRow> = prescription_items::table
        .filter(prescription_items::prescription_id.eq_any(&ids))
        .select(ItemRow::as_select())
        .order((
            prescription_items::prescription_id,
            prescription_items::position,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (mine, rest): (Vec<ItemRow>, Vec<ItemRow>) = std::mem::take(&mut items)
                .into_iter()
                .partition(|i| i.prescription_id == r.id);
            items = rest;
            Prescription {
                id: r.id,
                appointment_id: r.appointment_id,
                doctor_id: r.doctor_id,
                patient_id: r.patient_id,
                diagnosis: r.diagnosis,
                notes: r.notes,
                items: mine.into_iter().map(Into::into).collect(),
                created_at: r.created_at,
            }
        })
        .collect())
}

#[derive(Clone)]
pub struct PgPrescriptionRepository {
    pub pool: PgPool,
}

impl PgPrescriptionRepository {
    async fn one(
        &self,
        filter: impl FnOnce(
            prescriptions::BoxedQuery<'static, diesel::pg::Pg>,
        ) -> prescriptions::BoxedQuery<'static, diesel::pg::Pg>,
    ) -> Result<Option<Prescription>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<PrescriptionRow> = filter(prescriptions::table.into_boxed())
            .select(PrescriptionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        match row {
            None => Ok(None),
            Some(r) => Ok(with_items(&mut conn, vec![r]).await.db()?.pop()),
        }
    }
}

#[async_trait]
impl PrescriptionRepository for PgPrescriptionRepository {
    async fn create(
        &self,
        p: Prescription,
        notice: domain::notifications::Notice,
        event: AuditEvent,
    ) -> Result<Prescription, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async |conn| {
            diesel::insert_into(prescriptions::table)
                .values(PrescriptionRow {
                    id: p.id,
                    appointment_id: p.appointment_id,
                    doctor_id: p.doctor_id,
                    patient_id: p.patient_id,
                    diagnosis: p.diagnosis.clone(),
                    notes: p.notes.clone(),
                    created_at: p.created_at,
                })
                .execute(conn)
                .await?;
            let items: Vec<_> = p
                .items
                .iter()
                .enumerate()
                .map(|(position, i)| {
                    (
                        prescription_items::id.eq(i.id),
                        prescription_items::prescription_id.eq(p.id),
                        prescription_items::medicine_name.eq(&i.medicine_name),
                        prescription_items::dosage.eq(&i.dosage),
                        prescription_items::frequency.eq(&i.frequency),
                        prescription_items::duration.eq(&i.duration),
                        prescription_items::instructions.eq(&i.instructions),
                        prescription_items::position.eq(position as i32),
                    )
                })
                .collect();
            diesel::insert_into(prescription_items::table)
                .values(&items)
                .execute(conn)
                .await?;
            notify_patient(
                conn,
                p.patient_id,
                NotificationType::Prescription,
                &notice,
                Some(p.appointment_id),
            )
            .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Ok(p)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Prescription>, DomainError> {
        self.one(|q| q.filter(prescriptions::id.eq(id))).await
    }

    async fn for_appointment(
        &self,
        appointment_id: Uuid,
    ) -> Result<Option<Prescription>, DomainError> {
        self.one(|q| q.filter(prescriptions::appointment_id.eq(appointment_id)))
            .await
    }

    async fn list(
        &self,
        filter: PrescriptionFilter,
        page: PageRequest,
    ) -> Result<Page<Prescription>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = prescriptions::table.into_boxed();
            if let Some(p) = filter.patient_id {
                q = q.filter(prescriptions::patient_id.eq(p));
            }
            if let Some(d) = filter.doctor_id {
                q = q.filter(prescriptions::doctor_id.eq(d));
            }
            q
        };
        let after = page.after.as_ref().map(|c| c.at()).transpose()?;
        let (rows, total): (Vec<PrescriptionRow>, _) = keyset_page!(
            &mut conn,
            build,
            PrescriptionRow::as_select(),
            (prescriptions::created_at.desc(), prescriptions::id.desc()),
            after.map(|at| after_at("(prescriptions.created_at, prescriptions.id)", true, at)),
            page
        );
        let prescriptions = with_items(&mut conn, rows).await.db()?;
        Ok(page.page_of(prescriptions, total, |p| Cursor::At(p.created_at, p.id)))
    }
}
