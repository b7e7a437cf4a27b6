//! Billing: one bill per completed appointment, for the fee quoted at booking.
//!
//! The bill is written PENDING by the same transaction that completes the appointment (see
//! [`crate::appointments::AppointmentRepository::transition`]), so a completed visit without a
//! bill, or a bill for a visit that did not complete, cannot exist. From there:
//!
//! ```text
//! PENDING --pay--> PAID --refund (admin)--> REFUNDED
//!    \--due_at passes (job)--> OVERDUE --pay--> PAID
//! ```
//!
//! Who: the patient sees and pays its own bills; receptionists and admins see all bills and
//! record payments at the desk; only admins refund. Doctors do not handle money (403).
//! Every change writes a PAYMENT notification for the patient and an audit event.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent, RequestMeta};
use crate::clock::Clock;
use crate::error::DomainError;
use crate::identity::{Actor, Role};
use crate::lifecycle::Lifecycle;
use crate::money::Money;
use crate::notifications::{texts, Notice};
use crate::paging::{Page, PageRequest};

/// How many bills one OVERDUE sweep moves in one transaction.
pub const OVERDUE_BATCH: usize = 500;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingStatus {
    Pending,
    Paid,
    Overdue,
    Refunded,
}

impl BillingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Paid => "PAID",
            Self::Overdue => "OVERDUE",
            Self::Refunded => "REFUNDED",
        }
    }
}

impl Lifecycle for BillingStatus {
    /// PENDING -> PAID | OVERDUE, OVERDUE -> PAID, PAID -> REFUNDED; REFUNDED is final.
    fn next(self) -> &'static [BillingStatus] {
        match self {
            Self::Pending => &[Self::Paid, Self::Overdue],
            Self::Overdue => &[Self::Paid],
            Self::Paid => &[Self::Refunded],
            Self::Refunded => &[],
        }
    }

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// How a bill was paid (stored as its SCREAMING_SNAKE_CASE name).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethod {
    Cash,
    Card,
    Insurance,
    BankTransfer,
    Online,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 5] = [
        Self::Cash,
        Self::Card,
        Self::Insurance,
        Self::BankTransfer,
        Self::Online,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "CASH",
            Self::Card => "CARD",
            Self::Insurance => "INSURANCE",
            Self::BankTransfer => "BANK_TRANSFER",
            Self::Online => "ONLINE",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub amount: Money,
    pub status: BillingStatus,
    pub payment_method: Option<PaymentMethod>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

impl Bill {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "appointmentId": self.appointment_id, "patientId": self.patient_id,
            "amount": self.amount.to_string(), "status": self.status.as_str(),
            "paymentMethod": self.payment_method.map(PaymentMethod::as_str),
            "paidAt": self.paid_at, "dueAt": self.due_at,
        })
    }
}

/// The bill the completing transaction writes, decided here so the rule stays in the domain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBill {
    pub id: Uuid,
    pub amount: Money,
    pub due_at: DateTime<Utc>,
    pub event: AuditEvent,
    /// The patient's PAYMENT notification.
    pub notice: Notice,
}

impl NewBill {
    /// A PENDING bill for the fee quoted at booking, due `due_in` after completion.
    pub fn for_completion(
        appointment: &crate::appointments::Appointment,
        actor: &Actor,
        now: DateTime<Utc>,
        due_in: Duration,
    ) -> Self {
        Self::of(
            appointment,
            actor,
            now,
            due_in,
            appointment.consultation_fee.clone(),
        )
    }

    /// A PENDING bill of the clinic's no-show `fee` for a visit the patient missed.
    pub fn for_no_show(
        appointment: &crate::appointments::Appointment,
        actor: &Actor,
        now: DateTime<Utc>,
        due_in: Duration,
        fee: Money,
    ) -> Self {
        Self::of(appointment, actor, now, due_in, fee)
    }

    fn of(
        appointment: &crate::appointments::Appointment,
        actor: &Actor,
        now: DateTime<Utc>,
        due_in: Duration,
        amount: Money,
    ) -> Self {
        let id = Uuid::new_v4();
        let due_at = now + due_in;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "billing",
            Some(id),
            &actor.meta,
        )
        .after(serde_json::json!({
            "appointmentId": appointment.id, "patientId": appointment.patient_id,
            "amount": amount.to_string(), "status": "PENDING", "dueAt": due_at,
        }));
        let notice = texts::bill_ready(&amount, due_at);
        Self {
            id,
            amount,
            due_at,
            event,
            notice,
        }
    }
}

/// A status change of one bill, with what the repository writes alongside it.
#[derive(Debug, Clone, PartialEq)]
pub struct BillChange {
    pub id: Uuid,
    /// The status the bill must still have (optimistic check).
    pub from: BillingStatus,
    pub to: BillingStatus,
    /// Set when paying; kept as is otherwise.
    pub payment: Option<(PaymentMethod, DateTime<Utc>)>,
    /// The PAYMENT notification for the patient.
    pub notice: Notice,
    pub event: AuditEvent,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillFilter {
    pub patient_id: Option<Uuid>,
    pub status: Option<BillingStatus>,
    /// Bills created at or after / at or before.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BillingRepository: Send + Sync {
    async fn get(&self, id: Uuid) -> Result<Option<Bill>, DomainError>;

    /// Newest first.
    async fn list(&self, filter: BillFilter, page: PageRequest) -> Result<Page<Bill>, DomainError>;

    /// Applies `change` only if the bill is still in `change.from`, with the patient's PAYMENT
    /// notification and the audit event, in one transaction. `Conflict(StaleStatus)` if the
    /// bill moved meanwhile.
    async fn change(&self, change: BillChange) -> Result<Bill, DomainError>;

    /// Marks up to [`OVERDUE_BATCH`] PENDING bills whose `due_at` is before `now` OVERDUE,
    /// each with a PAYMENT notification and an audit event. Safe with several processes
    /// running it (a bill only moves once). Returns how many moved.
    async fn mark_overdue(&self, now: DateTime<Utc>) -> Result<usize, DomainError>;
}

pub struct BillingService {
    bills: Arc<dyn BillingRepository>,
    clock: Arc<dyn Clock>,
}

impl BillingService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(bills: Arc<dyn BillingRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { bills, clock }
    }
}

impl BillingService {
    /// The bill if the actor may see it: the desk and admins all, a patient its own;
    /// doctors are refused outright.
    async fn visible(&self, actor: &Actor, id: Uuid) -> Result<Bill, DomainError> {
        let owner = match actor.role {
            Role::Doctor => return Err(DomainError::Forbidden),
            Role::Patient => Some(actor.own_patient_id()?),
            Role::Admin | Role::Receptionist => None,
        };
        let bill = self
            .bills
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("bill"))?;
        if owner.is_some_and(|p| p != bill.patient_id) {
            return Err(DomainError::NotFound("bill"));
        }
        Ok(bill)
    }

    #[tracing::instrument(name = "billing.get", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<Bill, DomainError> {
        self.visible(actor, id).await
    }

    /// My bills (patient) or any patient's (desk, admin), filtered, newest first.
    #[tracing::instrument(name = "billing.list", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: BillFilter,
        page: PageRequest,
    ) -> Result<Page<Bill>, DomainError> {
        actor.require(Permission::ListBills)?;
        if actor.is(Role::Patient) {
            filter.patient_id = Some(actor.own_patient_id()?);
        }
        crate::dates::check_window(filter.from, filter.to)?;
        self.bills.list(filter, page).await
    }

    /// Records a payment of a PENDING or OVERDUE bill: the patient itself or the desk.
    #[tracing::instrument(name = "billing.pay", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn pay(
        &self,
        actor: &Actor,
        id: Uuid,
        method: PaymentMethod,
    ) -> Result<Bill, DomainError> {
        actor.require(Permission::Pay)?;
        let bill = self.visible(actor, id).await?;
        let now = self.clock.now();
        let notice = texts::payment_received(&bill.amount, method);
        self.change(
            actor,
            bill,
            BillingStatus::Paid,
            Some((method, now)),
            notice,
        )
        .await
    }

    /// Refunds a PAID bill (admins only).
    #[tracing::instrument(name = "billing.refund", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn refund(&self, actor: &Actor, id: Uuid) -> Result<Bill, DomainError> {
        actor.require(Permission::Refund)?;
        let bill = self.visible(actor, id).await?;
        let notice = texts::payment_refunded(&bill.amount);
        self.change(actor, bill, BillingStatus::Refunded, None, notice)
            .await
    }

    async fn change(
        &self,
        actor: &Actor,
        bill: Bill,
        to: BillingStatus,
        payment: Option<(PaymentMethod, DateTime<Utc>)>,
        notice: Notice,
    ) -> Result<Bill, DomainError> {
        bill.status.check_move(to)?;
        let mut after = bill.clone();
        after.status = to;
        if let Some((method, at)) = payment {
            after.payment_method = Some(method);
            after.paid_at = Some(at);
        }
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "billing",
            Some(bill.id),
            &actor.meta,
        )
        .before(bill.snapshot())
        .after(after.snapshot());
        self.bills
            .change(BillChange {
                id: bill.id,
                from: bill.status,
                to,
                payment,
                notice,
                event,
            })
            .await
    }

    /// The OVERDUE job's one step.
    #[tracing::instrument(name = "billing.mark_overdue", skip_all)]
    pub async fn mark_overdue(&self) -> Result<usize, DomainError> {
        self.bills.mark_overdue(self.clock.now()).await
    }
}

/// The audit event the OVERDUE job writes for one bill (no user: the system did it).
pub fn overdue_event(before: &Bill) -> AuditEvent {
    let mut after = before.clone();
    after.status = BillingStatus::Overdue;
    AuditEvent::new(
        None,
        AuditAction::Update,
        "billing",
        Some(before.id),
        &RequestMeta::default(),
    )
    .before(before.snapshot())
    .after(after.snapshot())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap()
    }

    use crate::testing::actor;

    fn bill(patient_id: Uuid, status: BillingStatus) -> Bill {
        Bill {
            id: Uuid::new_v4(),
            appointment_id: Uuid::new_v4(),
            patient_id,
            amount: Money::parse("80.15", "amount").unwrap(),
            status,
            payment_method: None,
            paid_at: None,
            created_at: now(),
            due_at: now() + Duration::days(30),
        }
    }

    fn service(repo: MockBillingRepository) -> BillingService {
        BillingService::new(Arc::new(repo), Arc::new(FixedClock(now())))
    }

    #[test]
    fn the_status_machine_allows_only_the_documented_moves() {
        use BillingStatus::*;
        assert!(Pending.can_become(Paid) && Pending.can_become(Overdue));
        assert!(Overdue.can_become(Paid) && Paid.can_become(Refunded));
        assert!(
            !Pending.can_become(Refunded),
            "only a paid bill is refunded"
        );
        assert!(!Refunded.can_become(Paid) && !Paid.can_become(Paid));
        for m in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::parse(m.as_str()), Some(m));
        }
    }

    #[tokio::test]
    async fn doctors_do_not_handle_money_and_only_admins_refund() {
        let svc = service(MockBillingRepository::new());
        let id = Uuid::new_v4();
        assert_eq!(
            svc.get(&actor(Role::Doctor), id).await,
            Err(DomainError::Forbidden)
        );
        assert_eq!(
            svc.list(
                &actor(Role::Doctor),
                BillFilter::default(),
                PageRequest::default()
            )
            .await,
            Err(DomainError::Forbidden)
        );
        for role in [Role::Patient, Role::Doctor, Role::Receptionist] {
            assert_eq!(
                svc.refund(&actor(role), id).await,
                Err(DomainError::Forbidden)
            );
        }
    }

    #[tokio::test]
    async fn a_patient_pays_its_own_bill_and_not_anothers() {
        let me = actor(Role::Patient);
        let patient = crate::testing::patient_of(&me);
        let mine = bill(patient.id, BillingStatus::Overdue);
        let theirs = bill(Uuid::new_v4(), BillingStatus::Pending);
        let (mine_id, theirs_id) = (mine.id, theirs.id);
        let mut repo = MockBillingRepository::new();
        let (m, t) = (mine.clone(), theirs.clone());
        repo.expect_get()
            .returning(move |id| Ok(Some(if id == m.id { m.clone() } else { t.clone() })));
        repo.expect_change()
            .withf(|c| {
                c.from == BillingStatus::Overdue
                    && c.to == BillingStatus::Paid
                    && c.payment == Some((PaymentMethod::Card, now()))
                    && c.notice.message.contains("80.15")
            })
            .returning(move |c| {
                let mut b = mine.clone();
                b.status = c.to;
                b.payment_method = c.payment.map(|p| p.0);
                b.paid_at = c.payment.map(|p| p.1);
                Ok(b)
            });
        let svc = service(repo);
        let paid = svc.pay(&me, mine_id, PaymentMethod::Card).await.unwrap();
        assert_eq!(paid.status, BillingStatus::Paid);
        assert_eq!(
            svc.pay(&me, theirs_id, PaymentMethod::Card).await,
            Err(DomainError::NotFound("bill"))
        );
    }

    #[tokio::test]
    async fn refunding_an_unpaid_bill_names_the_allowed_moves() {
        let pending = bill(Uuid::new_v4(), BillingStatus::Pending);
        let mut repo = MockBillingRepository::new();
        repo.expect_get()
            .returning(move |_| Ok(Some(pending.clone())));
        let svc = service(repo);
        assert_eq!(
            svc.refund(&actor(Role::Admin), Uuid::new_v4()).await,
            Err(DomainError::InvalidTransition {
                from: "PENDING".into(),
                to: "REFUNDED".into(),
                allowed: vec!["PAID".into(), "OVERDUE".into()],
            })
        );
    }
}
