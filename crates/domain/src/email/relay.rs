//! The email relay: claims due emails from the outbox, renders and sends them, records each
//! outcome. Every `serve` process runs one; leases keep them from sending the same email.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use uuid::Uuid;

use super::templates::Renderer;
use super::{EmailOutbox, EmailSender, QueuedEmail, SendOutcome};
use crate::clock::Clock;
use crate::error::DomainError;
use crate::retry::RetryPolicy;

/// How the relay retries and leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySettings {
    /// Back-off after a temporary failure, and when to give up.
    pub retry: RetryPolicy,
    /// How long a claim, and each renewal before a send, keeps other relays away. Longer than
    /// one send may take, so a slow server does not let a second relay send the same email.
    pub lease: Duration,
    /// Emails claimed per pass.
    pub batch: i64,
}

/// Temporary failures in a row that end a relay pass (see [`EmailRelay::deliver_due`]).
pub const GIVE_UP_PASS_AFTER: usize = 3;

pub struct EmailRelay {
    outbox: Arc<dyn EmailOutbox>,
    sender: Arc<dyn EmailSender>,
    clock: Arc<dyn Clock>,
    renderer: Renderer,
    settings: RelaySettings,
    /// This process's name on its leases.
    owner: Uuid,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl EmailRelay {
    pub fn new(
        outbox: Arc<dyn EmailOutbox>,
        sender: Arc<dyn EmailSender>,
        clock: Arc<dyn Clock>,
        renderer: Renderer,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            sender,
            clock,
            renderer,
            settings,
            owner: Uuid::new_v4(),
        }
    }

    /// Sends what is due, batch after batch until the outbox has no more due emails this
    /// relay can claim, or until [`GIVE_UP_PASS_AFTER`] sends in a row failed for a reason that
    /// may pass (the server is down: the rest of the batch is not tried against it, and waits for
    /// its lease to lapse, by when the failed ones' back-off is near anyway).
    pub async fn deliver_due(&self) -> Result<Pass, DomainError> {
        let mut total = Pass::default();
        let mut failing = 0;
        loop {
            let now = self.clock.now();
            let batch = self
                .outbox
                .claim(self.owner, now, self.settings.lease, self.settings.batch)
                .await?;
            let claimed = batch.len();
            // The doctors the batch names, in one read.
            let mut ids: Vec<Uuid> = batch.iter().flat_map(|e| e.letter.doctor_ids()).collect();
            ids.sort();
            ids.dedup();
            let doctors = if ids.is_empty() {
                HashMap::new()
            } else {
                self.outbox.doctor_names(ids).await?
            };
            for email in batch {
                match self.deliver(email, &doctors).await? {
                    Some(SendOutcome::Sent { .. }) => {
                        total.sent += 1;
                        failing = 0;
                    }
                    Some(SendOutcome::Retry { .. }) => {
                        total.retrying += 1;
                        failing += 1;
                        if failing >= GIVE_UP_PASS_AFTER {
                            return Ok(total);
                        }
                    }
                    Some(SendOutcome::Failed { .. }) => total.failed += 1,
                    None => {}
                }
            }
            if i64::try_from(claimed).unwrap_or(0) < self.settings.batch {
                return Ok(total);
            }
        }
    }

    /// One email: renew the lease, render, send, record. `None` when the lease was lost.
    async fn deliver(
        &self,
        email: QueuedEmail,
        doctors: &HashMap<Uuid, String>,
    ) -> Result<Option<SendOutcome>, DomainError> {
        let now = self.clock.now();
        if !self
            .outbox
            .renew(email.id, self.owner, now + self.settings.lease)
            .await?
        {
            return Ok(None);
        }
        let outcome = if let Some(reason) = self.not_worth_sending(&email, now) {
            SendOutcome::Failed {
                error: reason.into(),
            }
        } else {
            let outgoing = self.renderer.render(&email, doctors, now);
            match self.sender.send(&outgoing).await {
                Ok(()) => SendOutcome::Sent {
                    at: self.clock.now(),
                },
                Err(failure) => {
                    let attempts = email.attempts.saturating_add(1);
                    let after = self.clock.now();
                    match self
                        .settings
                        .retry
                        .next_attempt(attempts, email.created_at, after)
                    {
                        Some(at) if !failure.permanent => SendOutcome::Retry {
                            at,
                            error: failure.message,
                        },
                        _ => SendOutcome::Failed {
                            error: failure.message,
                        },
                    }
                }
            }
        };
        match &outcome {
            SendOutcome::Sent { .. } => {
                tracing::info!(email_id = %email.id, kind = email.letter.kind().as_str(), "email sent")
            }
            SendOutcome::Retry { at, error } => {
                tracing::warn!(email_id = %email.id, retry_at = %at, error = %error, "email not sent; will retry")
            }
            SendOutcome::Failed { error } => {
                tracing::warn!(email_id = %email.id, error = %error, "email given up")
            }
        }
        self.outbox
            .record(email.id, self.owner, outcome.clone())
            .await?;
        Ok(Some(outcome))
    }

    /// Why an email is no longer worth sending: its account was deactivated, it is about visits
    /// that have all started (after retries while the server was down), or it is a reset link
    /// that expired while it waited.
    fn not_worth_sending(
        &self,
        email: &QueuedEmail,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<&'static str> {
        if !email.to_active {
            return Some("the account is deactivated");
        }
        match &email.letter {
            super::Letter::PasswordReset { expires_at, .. } if *expires_at <= now => {
                Some("the reset link expired before it could be sent")
            }
            super::Letter::WaitlistOffer { expires_at, .. } if *expires_at <= now => {
                Some("the offer expired before it could be sent")
            }
            letter => letter
                .last_visit_start()
                .is_some_and(|start| start <= now)
                .then_some("the visit started before the email could be sent"),
        }
    }

    /// Forgets sent and failed emails (and spent reset requests) older than `retention`.
    pub async fn prune(&self, retention: Duration) -> Result<usize, DomainError> {
        self.outbox.prune(self.clock.now() - retention).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::email::{Letter, MockEmailOutbox, MockEmailSender, SendFailure};
    use crate::identity::reset::ResetKey;
    use chrono::Utc;
    use std::collections::HashMap;

    fn settings() -> RelaySettings {
        RelaySettings {
            retry: RetryPolicy {
                base: Duration::seconds(30),
                max: Duration::hours(1),
                give_up_after: Duration::hours(24),
            },
            lease: Duration::minutes(2),
            batch: 10,
        }
    }

    fn queued(attempts: i32, created_at: chrono::DateTime<Utc>) -> QueuedEmail {
        QueuedEmail {
            id: Uuid::from_u128(1),
            letter: Letter::Bill {
                bill_id: Uuid::nil(),
                amount: "10.00".into(),
                due_at: None,
            },
            attempts,
            created_at,
            to_email: "ann@example.org".into(),
            to_name: "Ann".into(),
            to_active: true,
        }
    }

    fn relay(
        outbox: MockEmailOutbox,
        sender: MockEmailSender,
        clock: Arc<ManualClock>,
    ) -> EmailRelay {
        EmailRelay::new(
            Arc::new(outbox),
            Arc::new(sender),
            clock,
            Renderer {
                zone: chrono_tz::UTC,
                clinic_name: "Clinic".into(),
                app_url: "https://app.example".into(),
                reset_key: ResetKey::from_secret("k"),
            },
            settings(),
        )
    }

    fn outbox_with(
        email: QueuedEmail,
        expect: impl Fn(&SendOutcome) -> bool + Send + Sync + 'static,
    ) -> MockEmailOutbox {
        let mut outbox = MockEmailOutbox::new();
        let mut once = Some(email);
        outbox
            .expect_claim()
            .returning(move |_, _, _, _| Ok(once.take().into_iter().collect()));
        outbox.expect_renew().returning(|_, _, _| Ok(true));
        outbox
            .expect_doctor_names()
            .returning(|_| Ok(HashMap::new()));
        outbox
            .expect_record()
            .withf(move |_, _, outcome| expect(outcome))
            .times(1)
            .returning(|_, _, _| Ok(()));
        outbox
    }

    #[tokio::test]
    async fn a_temporary_failure_is_retried_with_back_off_and_a_permanent_one_is_given_up() {
        let clock = Arc::new(ManualClock::starting_now());
        let now = clock.now();
        for (permanent, attempts, created, want_retry_in) in [
            (false, 0, now, Some(30)),
            (false, 3, now, Some(240)),
            (true, 0, now, None),
            // A day of trying is enough.
            (false, 20, now - Duration::hours(24), None),
        ] {
            let mut sender = MockEmailSender::new();
            sender.expect_send().times(1).returning(move |_| {
                Err(SendFailure {
                    permanent,
                    message: "451 try later".into(),
                })
            });
            let outbox = outbox_with(queued(attempts, created), move |outcome| {
                match (outcome, want_retry_in) {
                    (SendOutcome::Retry { at, .. }, Some(secs)) => {
                        *at == now + Duration::seconds(secs)
                    }
                    (SendOutcome::Failed { .. }, None) => true,
                    _ => false,
                }
            });
            relay(outbox, sender, clock.clone())
                .deliver_due()
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_server_that_keeps_failing_ends_the_pass() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut outbox = MockEmailOutbox::new();
        let now = clock.now();
        let mut once = Some((0..10).map(|_| queued(0, now)).collect::<Vec<_>>());
        outbox
            .expect_claim()
            .times(1)
            .returning(move |_, _, _, _| Ok(once.take().unwrap_or_default()));
        outbox.expect_renew().returning(|_, _, _| Ok(true));
        outbox
            .expect_doctor_names()
            .returning(|_| Ok(HashMap::new()));
        outbox
            .expect_record()
            .times(GIVE_UP_PASS_AFTER)
            .returning(|_, _, _| Ok(()));
        let mut sender = MockEmailSender::new();
        sender
            .expect_send()
            .times(GIVE_UP_PASS_AFTER)
            .returning(|_| {
                Err(SendFailure {
                    permanent: false,
                    message: "connection refused".into(),
                })
            });
        let pass = relay(outbox, sender, clock).deliver_due().await.unwrap();
        assert_eq!(pass.retrying, GIVE_UP_PASS_AFTER);
    }

    #[tokio::test]
    async fn a_lost_lease_sends_nothing() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut outbox = MockEmailOutbox::new();
        let mut once = Some(queued(0, clock.now()));
        outbox
            .expect_claim()
            .returning(move |_, _, _, _| Ok(once.take().into_iter().collect()));
        outbox.expect_renew().returning(|_, _, _| Ok(false));
        outbox.expect_record().never();
        let mut sender = MockEmailSender::new();
        sender.expect_send().never();
        let pass = relay(outbox, sender, clock).deliver_due().await.unwrap();
        assert_eq!(pass, Pass::default());
    }

    #[tokio::test]
    async fn an_expired_reset_link_or_a_deactivated_account_is_not_sent() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut expired = queued(0, clock.now());
        expired.letter = Letter::PasswordReset {
            reset_id: Uuid::nil(),
            expires_at: clock.now() - Duration::minutes(1),
            by_admin: false,
        };
        let mut inactive = queued(0, clock.now());
        inactive.to_active = false;
        for email in [expired, inactive] {
            let mut sender = MockEmailSender::new();
            sender.expect_send().never();
            let outbox = outbox_with(email, |o| matches!(o, SendOutcome::Failed { .. }));
            let pass = relay(outbox, sender, clock.clone())
                .deliver_due()
                .await
                .unwrap();
            assert_eq!(pass.failed, 1);
        }
    }

    #[tokio::test]
    async fn a_visit_email_that_waited_past_the_visit_is_not_sent() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut late = queued(0, clock.now());
        late.letter = Letter::Reminder {
            visits: vec![crate::email::Visit {
                appointment_id: Uuid::nil(),
                doctor_id: Uuid::nil(),
                starts_at: clock.now() - Duration::minutes(5),
                ends_at: clock.now() + Duration::minutes(25),
            }],
        };
        let mut sender = MockEmailSender::new();
        sender.expect_send().never();
        let outbox = outbox_with(late, |o| matches!(o, SendOutcome::Failed { .. }));
        let pass = relay(outbox, sender, clock).deliver_due().await.unwrap();
        assert_eq!(pass.failed, 1);
    }

    #[tokio::test]
    async fn a_sent_email_is_recorded_sent() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut sender = MockEmailSender::new();
        sender
            .expect_send()
            .withf(|e| e.to_email == "ann@example.org" && e.subject.contains("10.00"))
            .times(1)
            .returning(|_| Ok(()));
        let outbox = outbox_with(queued(0, clock.now()), |o| {
            matches!(o, SendOutcome::Sent { .. })
        });
        let pass = relay(outbox, sender, clock).deliver_due().await.unwrap();
        assert_eq!(pass.sent, 1);
    }
}
