//! Webhook use cases: admins manage endpoints and read their delivery logs; the relay
//! delivers what is due.

use std::sync::Arc;

use chrono::Duration;
use uuid::Uuid;

use super::addresses::AddressPolicy;
use super::endpoint::{
    parse_event_types, Delivery, Endpoint, NewSecret, RetryPolicy, WebhookUrl,
    MAX_DESCRIPTION_CHARS, MAX_ENDPOINTS,
};
use super::signature::{
    sign, DELIVERY_ID_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER,
};
use super::{
    events, AttemptRecord, ClaimedEndpoint, DeliveryFilter, SendOutcome, WebhookRepository,
    WebhookSender,
};
use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::error::DomainError;
use crate::identity::Actor;
use crate::paging::{Page, PageRequest};
use crate::text::parse_optional_line;

/// How the relay runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RelaySettings {
    pub retry: RetryPolicy,
    /// How long a claim on an endpoint holds without renewal (each recorded attempt renews
    /// it); longer than one request's timeout.
    pub lease: Duration,
    /// Endpoints delivered to at once by one process.
    pub endpoints_per_pass: i64,
    /// Deliveries to one endpoint before its lease is given back for others' turn.
    pub deliveries_per_claim: usize,
}

pub struct WebhookService {
    repo: Arc<dyn WebhookRepository>,
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
    policy: AddressPolicy,
    require_https: bool,
    relay: RelaySettings,
    /// This process, as a lease owner.
    owner: Uuid,
}

/// A new endpoint as the admin sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointChange {
    pub url: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    /// Switching an endpoint back on clears the reason the relay switched it off.
    pub is_active: Option<bool>,
}

impl WebhookService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    pub fn new(
        repo: Arc<dyn WebhookRepository>,
        sender: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
        policy: AddressPolicy,
        require_https: bool,
        relay: RelaySettings,
    ) -> Self {
        Self {
            repo,
            sender,
            clock,
            policy,
            require_https,
            relay,
            owner: Uuid::new_v4(),
        }
    }

    fn description(raw: Option<String>) -> Result<Option<String>, DomainError> {
        parse_optional_line(raw.as_deref(), "description", MAX_DESCRIPTION_CHARS)
    }

    /// Registers an endpoint; the answer carries its secret, which is never shown again.
    pub async fn create(
        &self,
        actor: &Actor,
        input: NewEndpoint,
    ) -> Result<(Endpoint, NewSecret), DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        let url = WebhookUrl::parse(&input.url, self.require_https, &self.policy)?;
        let description = Self::description(input.description)?;
        let event_types = parse_event_types(&input.event_types)?;
        let now = self.clock.now();
        let endpoint = Endpoint {
            id: Uuid::new_v4(),
            url: url.as_str().to_owned(),
            description,
            event_types,
            is_active: true,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        let secret = NewSecret::generate();
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "webhook_endpoint",
            Some(endpoint.id),
            &actor.meta,
        )
        .after(endpoint.snapshot());
        self.repo
            .create(
                endpoint.clone(),
                secret.0.clone(),
                actor.user_id,
                event,
                MAX_ENDPOINTS,
            )
            .await?;
        Ok((endpoint, secret))
    }

    pub async fn list(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<Endpoint>, DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        self.repo.list(page).await
    }

    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<Endpoint, DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        self.repo.get(id).await
    }

    pub async fn update(
        &self,
        actor: &Actor,
        id: Uuid,
        change: EndpointChange,
    ) -> Result<Endpoint, DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        let before = self.repo.get(id).await?;
        let mut after = before.clone();
        if let Some(url) = change.url {
            after.url = WebhookUrl::parse(&url, self.require_https, &self.policy)?
                .as_str()
                .to_owned();
        }
        if let Some(description) = change.description {
            after.description = Self::description(description)?;
        }
        if let Some(types) = change.event_types {
            after.event_types = parse_event_types(&types)?;
        }
        if let Some(active) = change.is_active {
            after.is_active = active;
            after.disabled_reason = None;
        }
        after.updated_at = self.clock.now();
        self.save(actor, &before, after, None).await
    }

    /// A new secret for the endpoint, shown once; the old one stops signing at once.
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(Endpoint, NewSecret), DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        let before = self.repo.get(id).await?;
        let mut after = before.clone();
        after.updated_at = self.clock.now();
        let secret = NewSecret::generate();
        let mut snapshot = after.clone().snapshot();
        snapshot["secretRotated"] = serde_json::Value::Bool(true);
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "webhook_endpoint",
            Some(id),
            &actor.meta,
        )
        .before(before.snapshot())
        .after(snapshot);
        self.repo
            .update(after.clone(), Some(secret.0.clone()), event)
            .await?;
        Ok((after, secret))
    }

    async fn save(
        &self,
        actor: &Actor,
        before: &Endpoint,
        after: Endpoint,
        secret: Option<String>,
    ) -> Result<Endpoint, DomainError> {
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "webhook_endpoint",
            Some(before.id),
            &actor.meta,
        )
        .before(before.snapshot())
        .after(after.snapshot());
        self.repo.update(after.clone(), secret, event).await?;
        Ok(after)
    }

    pub async fn delete(&self, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        let before = self.repo.get(id).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Delete,
            "webhook_endpoint",
            Some(id),
            &actor.meta,
        )
        .before(before.snapshot());
        self.repo.delete(id, event).await
    }

    pub async fn deliveries(
        &self,
        actor: &Actor,
        endpoint_id: Uuid,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>, DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        self.repo.get(endpoint_id).await?;
        self.repo.deliveries(endpoint_id, filter, page).await
    }

    /// Sends an event again (same event id, so a receiver that has it drops it).
    pub async fn redeliver(
        &self,
        actor: &Actor,
        endpoint_id: Uuid,
        delivery_id: i64,
    ) -> Result<Delivery, DomainError> {
        actor.require(Permission::ManageWebhooks)?;
        self.repo.get(endpoint_id).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "webhook_delivery",
            Some(endpoint_id),
            &actor.meta,
        )
        .after(serde_json::json!({ "redeliveryOf": delivery_id }));
        self.repo.redeliver(endpoint_id, delivery_id, event).await
    }

    /// Forgets the delivery log older than `retention` (pending deliveries are kept whatever
    /// their age), in batches until a short one. Returns how many rows went.
    pub async fn prune_log(&self, retention: Duration) -> Result<usize, DomainError> {
        const BATCH: i64 = 1000;
        let before = self.clock.now() - retention;
        let mut pruned = 0;
        loop {
            let n = self.repo.prune(before, BATCH).await?;
            pruned += n;
            if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                return Ok(pruned);
            }
        }
    }

    /// The relay's pass: claims the endpoints with something due and delivers to each (at
    /// once, one request at a time per endpoint). Returns how many deliveries succeeded.
    pub async fn deliver_due(&self) -> Result<usize, DomainError> {
        let claimed = self
            .repo
            .claim(
                self.owner,
                self.clock.now(),
                self.relay.lease,
                self.relay.endpoints_per_pass,
            )
            .await?;
        let runs = claimed
            .into_iter()
            .map(|endpoint| self.deliver_to(endpoint));
        let results = futures::future::join_all(runs).await;
        let mut delivered = 0;
        for result in results {
            delivered += result?;
        }
        Ok(delivered)
    }

    async fn deliver_to(&self, endpoint: ClaimedEndpoint) -> Result<usize, DomainError> {
        let result = self.deliver_queue(&endpoint).await;
        // Given back even after an error, so another process need not wait for the lease.
        let released = self.repo.release(self.owner, endpoint.id).await;
        let delivered = result?;
        released?;
        Ok(delivered)
    }

    async fn deliver_queue(&self, endpoint: &ClaimedEndpoint) -> Result<usize, DomainError> {
        let mut delivered = 0;
        // A pass waits for all its endpoints: one slow receiver with a backlog gives its turn
        // back after half a lease, so it cannot hold the others' next pass for long.
        let until = self.clock.now() + self.relay.lease / 2;
        while delivered < self.relay.deliveries_per_claim && self.clock.now() < until {
            let Some(due) = self.repo.next_due(endpoint.id, self.clock.now()).await? else {
                break;
            };
            let body = events::body(due.event_id, &due.event_type, due.occurred_at, &due.data);
            // The signature's time is the sending machine's wall clock, which is what the
            // receiver compares with (not the clinic's business clock).
            let timestamp = chrono::Utc::now().timestamp();
            let headers = vec![
                (
                    SIGNATURE_HEADER.to_owned(),
                    sign(&due.secret, timestamp, body.as_bytes()),
                ),
                (EVENT_ID_HEADER.to_owned(), due.event_id.to_string()),
                (EVENT_TYPE_HEADER.to_owned(), due.event_type.clone()),
                (DELIVERY_ID_HEADER.to_owned(), due.id.to_string()),
            ];
            let outcome = self.sender.send(&due.url, headers, body).await;
            let now = self.clock.now();
            let (record, ok) = match outcome {
                SendOutcome::Delivered { status_code } => (
                    AttemptRecord::Delivered {
                        at: now,
                        status_code,
                    },
                    true,
                ),
                SendOutcome::Failed { status_code, error } => {
                    let first = due.first_attempt_at.unwrap_or(now);
                    match self.relay.retry.next_attempt(due.attempts + 1, first, now) {
                        Some(next_at) => (
                            AttemptRecord::Retry {
                                at: now,
                                next_at,
                                status_code,
                                error,
                            },
                            false,
                        ),
                        None => {
                            let reason = format!(
                                "switched off after failing for {} hours; last error: {error}",
                                self.relay.retry.give_up_after.num_hours()
                            );
                            tracing::warn!(endpoint = %endpoint.id, delivery = due.id, "webhook endpoint switched off after sustained failure");
                            (
                                AttemptRecord::GaveUp {
                                    at: now,
                                    status_code,
                                    error,
                                    reason,
                                },
                                false,
                            )
                        }
                    }
                }
            };
            let still_ours = self
                .repo
                .record(self.owner, endpoint.id, due.id, record, self.relay.lease)
                .await?;
            if !still_ours || !ok {
                // A failure holds the queue (order per endpoint) until its next attempt.
                break;
            }
            delivered += 1;
        }
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::identity::Role;
    use crate::testing::actor;
    use crate::webhooks::{DueDelivery, MockWebhookRepository, MockWebhookSender};
    use chrono::{DateTime, Utc};
    use mockall::predicate::eq;
    use std::sync::Mutex;

    fn settings() -> RelaySettings {
        RelaySettings {
            retry: RetryPolicy {
                base: Duration::seconds(30),
                max: Duration::hours(1),
                give_up_after: Duration::hours(24),
            },
            lease: Duration::minutes(5),
            endpoints_per_pass: 8,
            deliveries_per_claim: 100,
        }
    }

    fn service(
        repo: MockWebhookRepository,
        sender: MockWebhookSender,
        clock: Arc<ManualClock>,
    ) -> WebhookService {
        WebhookService::new(
            Arc::new(repo),
            Arc::new(sender),
            clock,
            AddressPolicy::default(),
            true,
            settings(),
        )
    }

    fn due(id: i64, attempts: i32, first: Option<DateTime<Utc>>) -> DueDelivery {
        DueDelivery {
            id,
            url: "https://hooks.example.com/h".into(),
            secret: "whsec_x".into(),
            event_id: Uuid::from_u128(id as u128),
            event_type: "appointment.booked".into(),
            data: serde_json::json!({"appointmentId": "a"}),
            occurred_at: DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
            attempts,
            first_attempt_at: first,
        }
    }

    fn claimed() -> ClaimedEndpoint {
        ClaimedEndpoint {
            id: Uuid::from_u128(7),
        }
    }

    #[tokio::test]
    async fn only_admins_manage_endpoints() {
        let clock = Arc::new(ManualClock::starting_now());
        let svc = service(
            MockWebhookRepository::new(),
            MockWebhookSender::new(),
            clock,
        );
        for role in [Role::Patient, Role::Doctor, Role::Receptionist] {
            let input = NewEndpoint {
                url: "https://hooks.example.com".into(),
                description: None,
                event_types: vec!["bill.paid".into()],
            };
            assert!(matches!(
                svc.create(&actor(role), input).await,
                Err(DomainError::Forbidden)
            ));
            assert!(matches!(
                svc.list(&actor(role), PageRequest::default()).await,
                Err(DomainError::Forbidden)
            ));
        }
    }

    #[tokio::test]
    async fn the_queue_is_delivered_in_order_signed_and_stops_at_a_failure() {
        let clock = Arc::new(ManualClock::starting_now());
        let now = clock.now();
        let mut repo = MockWebhookRepository::new();
        repo.expect_claim()
            .returning(|_, _, _, _| Ok(vec![claimed()]));
        // The head stays delivery 1 until it is recorded delivered.
        repo.expect_next_due()
            .returning(|_, _| Ok(Some(due(1, 0, None))));
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let seen = recorded.clone();
        repo.expect_record().returning(move |_, _, id, attempt, _| {
            seen.lock().unwrap().push((id, attempt));
            Ok(true)
        });
        repo.expect_release()
            .with(mockall::predicate::always(), eq(Uuid::from_u128(7)))
            .times(1)
            .returning(|_, _| Ok(()));
        let mut sender = MockWebhookSender::new();
        let calls = Arc::new(Mutex::new(0));
        let counted = calls.clone();
        sender.expect_send().returning(move |url, headers, body| {
            assert_eq!(url, "https://hooks.example.com/h");
            let signature = &headers
                .iter()
                .find(|(k, _)| k == SIGNATURE_HEADER)
                .unwrap()
                .1;
            let now = chrono::Utc::now().timestamp();
            assert_eq!(
                super::super::signature::verify("whsec_x", signature, body.as_bytes(), now, 300),
                Ok(())
            );
            let mut n = counted.lock().unwrap();
            *n += 1;
            if *n == 1 {
                SendOutcome::Failed {
                    status_code: Some(500),
                    error: "HTTP 500".into(),
                }
            } else {
                SendOutcome::Delivered { status_code: 204 }
            }
        });
        let svc = service(repo, sender, clock);
        assert_eq!(svc.deliver_due().await.unwrap(), 0);
        // One attempt: it failed, so nothing behind it was tried.
        assert_eq!(*calls.lock().unwrap(), 1);
        let recorded = recorded.lock().unwrap();
        assert_eq!(recorded.len(), 1);
        assert_eq!(
            recorded[0],
            (
                1,
                AttemptRecord::Retry {
                    at: now,
                    next_at: now + Duration::seconds(30),
                    status_code: Some(500),
                    error: "HTTP 500".into()
                }
            )
        );
    }

    #[tokio::test]
    async fn a_day_of_failure_gives_up_and_a_lost_lease_stops_the_run() {
        let clock = Arc::new(ManualClock::starting_now());
        let now = clock.now();
        let mut repo = MockWebhookRepository::new();
        repo.expect_claim()
            .returning(|_, _, _, _| Ok(vec![claimed()]));
        repo.expect_next_due().returning(move |_, _| {
            Ok(Some(due(
                9,
                30,
                Some(now - Duration::hours(23) - Duration::minutes(59)),
            )))
        });
        repo.expect_record()
            .withf(|_, _, id, attempt, _| *id == 9 && matches!(attempt, AttemptRecord::GaveUp { reason, .. } if reason.contains("24 hours") && reason.contains("timed out")))
            .times(1)
            .returning(|_, _, _, _, _| Ok(false));
        repo.expect_release().times(1).returning(|_, _| Ok(()));
        let mut sender = MockWebhookSender::new();
        sender
            .expect_send()
            .times(1)
            .returning(|_, _, _| SendOutcome::Failed {
                status_code: None,
                error: "timed out".into(),
            });
        let svc = service(repo, sender, clock);
        assert_eq!(svc.deliver_due().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn successes_continue_down_the_queue_up_to_the_claim_limit() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut repo = MockWebhookRepository::new();
        repo.expect_claim()
            .returning(|_, _, _, _| Ok(vec![claimed()]));
        let next = Arc::new(Mutex::new(0i64));
        let n = next.clone();
        repo.expect_next_due().returning(move |_, _| {
            let mut n = n.lock().unwrap();
            *n += 1;
            Ok(Some(due(*n, 0, None)))
        });
        repo.expect_record().returning(|_, _, _, attempt, _| {
            assert!(matches!(
                attempt,
                AttemptRecord::Delivered {
                    status_code: 200,
                    ..
                }
            ));
            Ok(true)
        });
        repo.expect_release().times(1).returning(|_, _| Ok(()));
        let mut sender = MockWebhookSender::new();
        sender
            .expect_send()
            .returning(|_, _, _| SendOutcome::Delivered { status_code: 200 });
        let mut relay = settings();
        relay.deliveries_per_claim = 5;
        let svc = WebhookService::new(
            Arc::new(repo),
            Arc::new(sender),
            clock,
            AddressPolicy::default(),
            true,
            relay,
        );
        assert_eq!(svc.deliver_due().await.unwrap(), 5);
        assert_eq!(*next.lock().unwrap(), 5);
    }

    #[tokio::test]
    async fn the_secret_is_in_no_audit_event() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut repo = MockWebhookRepository::new();
        let events = Arc::new(Mutex::new(Vec::new()));
        let kept = events.clone();
        repo.expect_create()
            .returning(move |_, secret, _, event, max| {
                assert_eq!(max, MAX_ENDPOINTS);
                kept.lock().unwrap().push((secret, event));
                Ok(())
            });
        let svc = service(repo, MockWebhookSender::new(), clock);
        let input = NewEndpoint {
            url: "https://hooks.example.com".into(),
            description: Some("ERP".into()),
            event_types: vec!["bill.paid".into()],
        };
        let (endpoint, secret) = svc.create(&actor(Role::Admin), input).await.unwrap();
        assert_eq!(
            endpoint.event_types,
            vec![crate::webhooks::EventType::BillPaid]
        );
        let events = events.lock().unwrap();
        assert_eq!(events[0].0, secret.0);
        assert!(!format!("{:?}", events[0].1).contains(&secret.0));
    }

    #[tokio::test]
    async fn a_slow_receiver_gives_its_turn_back_after_half_a_lease() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut repo = MockWebhookRepository::new();
        repo.expect_claim()
            .returning(|_, _, _, _| Ok(vec![claimed()]));
        repo.expect_next_due()
            .returning(|_, _| Ok(Some(due(1, 0, None))));
        repo.expect_record().returning(|_, _, _, _, _| Ok(true));
        repo.expect_release().times(1).returning(|_, _| Ok(()));
        let mut sender = MockWebhookSender::new();
        let ticking = clock.clone();
        // Each request takes 20 s; the lease is 5 minutes, so the turn ends after 150 s.
        sender.expect_send().returning(move |_, _, _| {
            ticking.advance(Duration::seconds(20));
            SendOutcome::Delivered { status_code: 200 }
        });
        let svc = service(repo, sender, clock);
        assert_eq!(svc.deliver_due().await.unwrap(), 8);
    }
}
