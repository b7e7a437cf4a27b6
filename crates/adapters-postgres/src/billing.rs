//! Bills in PostgreSQL: creation inside the completing transaction, payment, refund, the
//! OVERDUE sweep and listing.

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::billing::{
    overdue_event, Bill, BillChange, BillFilter, BillingRepository, NewBill, PaymentMethod,
};
use domain::error::{Conflict, DomainError};
use domain::money::Money;
use domain::notifications::NotificationType;
use domain::paging::{Cursor, Page, PageRequest};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::PgBillingStatus;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::notifications::{notify_patient, notify_patients, PatientNotice};
use crate::paging::{after_at, keyset_page};
use crate::schema::billings;
use crate::PgPool;
use domain::notifications::texts;

#[derive(Queryable, Selectable)]
#[diesel(table_name = billings, check_for_backend(diesel::pg::Pg))]
struct BillRow {
    id: Uuid,
    appointment_id: Uuid,
    patient_id: Uuid,
    amount: BigDecimal,
    status: PgBillingStatus,
    payment_method: Option<String>,
    paid_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
}

impl TryFrom<BillRow> for Bill {
    type Error = DomainError;

    fn try_from(r: BillRow) -> Result<Self, DomainError> {
        let payment_method = match r.payment_method.as_deref() {
            None => None,
            Some(raw) => Some(PaymentMethod::parse(raw).ok_or_else(|| {
                DomainError::broken(format!("stored payment method {raw:?} unknown"))
            })?),
        };
        Ok(Self {
            id: r.id,
            appointment_id: r.appointment_id,
            patient_id: r.patient_id,
            amount: Money::from_decimal(r.amount)
                .map_err(|_| DomainError::broken("stored amount out of range"))?,
            status: r.status.into(),
            payment_method,
            paid_at: r.paid_at,
            created_at: r.created_at,
            due_at: r.due_at,
        })
    }
}

/// Writes the PENDING bill of a visit being completed, inside the completing transaction,
/// with its audit event and the patient's PAYMENT notification.
pub(crate) async fn insert_bill(
    conn: &mut AsyncPgConnection,
    appointment_id: Uuid,
    patient_id: Uuid,
    bill: &NewBill,
) -> Result<(), TxError> {
    diesel::insert_into(billings::table)
        .values((
            billings::id.eq(bill.id),
            billings::appointment_id.eq(appointment_id),
            billings::patient_id.eq(patient_id),
            billings::amount.eq(bill.amount.as_decimal()),
            billings::status.eq(PgBillingStatus::Pending),
            billings::due_at.eq(bill.due_at),
        ))
        .execute(conn)
        .await?;
    notify_patient(
        conn,
        patient_id,
        NotificationType::Payment,
        &bill.notice,
        Some(appointment_id),
    )
    .await?;
    insert_events(conn, std::slice::from_ref(&bill.event)).await?;
    Ok(())
}

#[derive(Clone)]
pub struct PgBillingRepository {
    pub pool: PgPool,
}

#[async_trait]
impl BillingRepository for PgBillingRepository {
    async fn get(&self, id: Uuid) -> Result<Option<Bill>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<BillRow> = billings::table
            .find(id)
            .select(BillRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        row.map(Bill::try_from).transpose()
    }

    async fn list(&self, filter: BillFilter, page: PageRequest) -> Result<Page<Bill>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = billings::table.into_boxed();
            if let Some(p) = filter.patient_id {
                q = q.filter(billings::patient_id.eq(p));
            }
            if let Some(s) = filter.status {
                q = q.filter(billings::status.eq(PgBillingStatus::from(s)));
            }
            if let Some(from) = filter.from {
                q = q.filter(billings::created_at.ge(from));
            }
            if let Some(to) = filter.to {
                q = q.filter(billings::created_at.le(to));
            }
            q
        };
        // Newest first: the (created_at, id) index read backwards.
        let after = page.after.as_ref().map(|c| c.at()).transpose()?;
        let (rows, total): (Vec<BillRow>, _) = keyset_page!(
            &mut conn,
            build,
            BillRow::as_select(),
            (billings::created_at.desc(), billings::id.desc()),
            after.map(|at| after_at("(billings.created_at, billings.id)", true, at)),
            page
        );
        let bills = rows
            .into_iter()
            .map(Bill::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.page_of(bills, total, |b| Cursor::At(b.created_at, b.id)))
    }

    async fn change(&self, change: BillChange) -> Result<Bill, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let bill = conn
            .transaction::<Bill, TxError, _>(async move |conn| {
                let target = billings::table
                    .filter(billings::id.eq(change.id))
                    .filter(billings::status.eq(PgBillingStatus::from(change.from)));
                let status = billings::status.eq(PgBillingStatus::from(change.to));
                let row: Option<BillRow> = match change.payment {
                    Some((method, at)) => diesel::update(target)
                        .set((
                            status,
                            billings::payment_method.eq(method.as_str()),
                            billings::paid_at.eq(at),
                        ))
                        .returning(BillRow::as_returning())
                        .get_result(conn)
                        .await
                        .optional()?,
                    None => diesel::update(target)
                        .set(status)
                        .returning(BillRow::as_returning())
                        .get_result(conn)
                        .await
                        .optional()?,
                };
                let row = row.ok_or(DomainError::Conflict(Conflict::StaleStatus))?;
                notify_patient(
                    conn,
                    row.patient_id,
                    NotificationType::Payment,
                    &change.notice,
                    Some(row.appointment_id),
                )
                .await?;
                insert_events(conn, std::slice::from_ref(&change.event)).await?;
                Ok(Bill::try_from(row)?)
            })
            .await?;
        Ok(bill)
    }

    async fn mark_overdue(&self, now: DateTime<Utc>) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let moved = conn
            .transaction::<usize, TxError, _>(async move |conn| {
                // SKIP LOCKED: a bill being paid right now is left to its payment; another
                // process sweeping at the same time takes different rows.
                let due: Vec<BillRow> = billings::table
                    .filter(billings::status.eq(PgBillingStatus::Pending))
                    .filter(billings::due_at.lt(now))
                    .select(BillRow::as_select())
                    .order(billings::due_at.asc())
                    .limit(domain::billing::OVERDUE_BATCH as i64)
                    .for_update()
                    .skip_locked()
                    .load(conn)
                    .await?;
                let bills = due
                    .into_iter()
                    .map(Bill::try_from)
                    .collect::<Result<Vec<_>, _>>()?;
                if bills.is_empty() {
                    return Ok(0);
                }
                let ids: Vec<Uuid> = bills.iter().map(|b| b.id).collect();
                diesel::update(billings::table.filter(billings::id.eq_any(&ids)))
                    .set(billings::status.eq(PgBillingStatus::Overdue))
                    .execute(conn)
                    .await?;
                let events: Vec<AuditEvent> = bills.iter().map(overdue_event).collect();
                let notices = bills
                    .iter()
                    .map(|bill| PatientNotice {
                        patient_id: bill.patient_id,
                        notice: texts::payment_overdue(&bill.amount, bill.due_at),
                        appointment_id: Some(bill.appointment_id),
                    })
                    .collect();
                notify_patients(conn, NotificationType::Payment, notices).await?;
                insert_events(conn, &events).await?;
                Ok(bills.len())
            })
            .await?;
        Ok(moved)
    }
}
