//! Calendar feed use cases: a doctor creates, rotates or revokes its own feed (an admin may
//! read whether one exists and revoke it, say for a leaked URL); anyone holding the URL reads
//! the feed.

use std::sync::Arc;

use chrono::Duration;
use chrono_tz::Tz;
use uuid::Uuid;

use super::{render, CalendarFeed, CalendarFeedRepository, FeedToken, PAST_DAYS};
use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::error::DomainError;
use crate::identity::{Actor, Role};

pub struct CalendarFeedService {
    repo: Arc<dyn CalendarFeedRepository>,
    clock: Arc<dyn Clock>,
    zone: Tz,
    /// How far ahead the feed reaches: the slot horizon.
    horizon_days: i64,
}

impl CalendarFeedService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    pub fn new(
        repo: Arc<dyn CalendarFeedRepository>,
        clock: Arc<dyn Clock>,
        zone: Tz,
        horizon_days: i64,
    ) -> Self {
        Self {
            repo,
            clock,
            zone,
            horizon_days,
        }
    }

    /// The doctor itself; an admin for reading and revoking. Another doctor's feed answers
    /// 404, like any other user's data.
    fn check(actor: &Actor, doctor_id: Uuid, admin_may: bool) -> Result<(), DomainError> {
        actor.require(Permission::CalendarFeed)?;
        let own = actor.doctor_id == Some(doctor_id);
        if own || (admin_may && actor.is(Role::Admin)) {
            Ok(())
        } else if actor.is(Role::Admin) {
            Err(DomainError::Forbidden)
        } else {
            Err(DomainError::NotFound("calendar feed"))
        }
    }

    /// Creates the doctor's feed, or rotates its URL (the old one stops working at once), and
    /// sets whether events show patients' names. The token is in the answer, and only there.
    pub async fn issue(
        &self,
        actor: &Actor,
        doctor_id: Uuid,
        include_patient_names: bool,
    ) -> Result<(CalendarFeed, FeedToken), DomainError> {
        Self::check(actor, doctor_id, false)?;
        let now = self.clock.now();
        let created_at = match self.repo.get(doctor_id).await {
            Ok(existing) => existing.created_at,
            Err(DomainError::NotFound(_)) => now,
            Err(e) => return Err(e),
        };
        let feed = CalendarFeed {
            doctor_id,
            include_patient_names,
            created_at,
            updated_at: now,
        };
        let token = FeedToken::generate();
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "calendar_feed",
            Some(doctor_id),
            &actor.meta,
        )
        .after(serde_json::json!({ "includePatientNames": include_patient_names, "tokenIssued": true }));
        self.repo
            .save(feed.clone(), FeedToken::hash(&token.0), event)
            .await?;
        Ok((feed, token))
    }

    pub async fn get(&self, actor: &Actor, doctor_id: Uuid) -> Result<CalendarFeed, DomainError> {
        Self::check(actor, doctor_id, true)?;
        self.repo.get(doctor_id).await
    }

    /// Deletes the feed: its URL answers 404 from now on.
    pub async fn revoke(&self, actor: &Actor, doctor_id: Uuid) -> Result<(), DomainError> {
        Self::check(actor, doctor_id, true)?;
        let before = self.repo.get(doctor_id).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Delete,
            "calendar_feed",
            Some(doctor_id),
            &actor.meta,
        )
        .before(before.snapshot());
        self.repo.delete(doctor_id, event).await
    }

    /// The feed a token opens, as iCalendar text; `NotFound` for anything else (a malformed,
    /// rotated or revoked token alike).
    pub async fn read(&self, token: &str) -> Result<String, DomainError> {
        if !FeedToken::looks_valid(token) {
            return Err(DomainError::NotFound("calendar feed"));
        }
        let owner = self
            .repo
            .owner(&FeedToken::hash(token))
            .await?
            .ok_or(DomainError::NotFound("calendar feed"))?;
        let now = self.clock.now();
        let span = (
            now - Duration::days(PAST_DAYS),
            now + Duration::days(self.horizon_days),
        );
        let items = self.repo.items(owner.doctor_id, span.0, span.1).await?;
        Ok(render(&owner, &items, self.zone, span, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{FeedOwner, MockCalendarFeedRepository};
    use crate::clock::ManualClock;
    use crate::testing::actor;

    fn service(repo: MockCalendarFeedRepository) -> CalendarFeedService {
        CalendarFeedService::new(
            Arc::new(repo),
            Arc::new(ManualClock::starting_now()),
            Tz::UTC,
            60,
        )
    }

    fn doctor() -> Actor {
        let mut a = actor(Role::Doctor);
        a.doctor_id = Some(Uuid::from_u128(1));
        a
    }

    #[tokio::test]
    async fn only_the_doctor_issues_its_own_and_the_token_is_stored_hashed() {
        let mut repo = MockCalendarFeedRepository::new();
        repo.expect_get()
            .returning(|_| Err(DomainError::NotFound("calendar feed")));
        let stored = Arc::new(std::sync::Mutex::new(String::new()));
        let keep = stored.clone();
        repo.expect_save().times(1).returning(move |_, hash, _| {
            *keep.lock().unwrap() = hash;
            Ok(())
        });
        let svc = service(repo);
        let (feed, token) = svc
            .issue(&doctor(), Uuid::from_u128(1), false)
            .await
            .unwrap();
        assert!(!feed.include_patient_names);
        assert_eq!(*stored.lock().unwrap(), FeedToken::hash(&token.0));
        // Another doctor's: 404. An admin cannot issue one (the opt-in is the doctor's).
        assert!(matches!(
            svc.issue(&doctor(), Uuid::from_u128(2), true).await,
            Err(DomainError::NotFound(_))
        ));
        assert!(matches!(
            svc.issue(&actor(Role::Admin), Uuid::from_u128(1), true)
                .await,
            Err(DomainError::Forbidden)
        ));
        for role in [Role::Patient, Role::Receptionist] {
            assert!(matches!(
                svc.get(&actor(role), Uuid::from_u128(1)).await,
                Err(DomainError::Forbidden)
            ));
        }
    }

    #[tokio::test]
    async fn a_malformed_token_never_reaches_the_store_and_an_unknown_one_is_404() {
        let mut repo = MockCalendarFeedRepository::new();
        repo.expect_owner().times(1).returning(|_| Ok(None));
        let svc = service(repo);
        assert!(matches!(
            svc.read("../etc").await,
            Err(DomainError::NotFound(_))
        ));
        assert!(matches!(
            svc.read(&FeedToken::generate().0).await,
            Err(DomainError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn the_feed_spans_thirty_days_back_to_the_horizon() {
        let mut repo = MockCalendarFeedRepository::new();
        repo.expect_owner().returning(|_| {
            Ok(Some(FeedOwner {
                doctor_id: Uuid::from_u128(1),
                doctor_name: "Ada".into(),
                include_patient_names: false,
            }))
        });
        repo.expect_items()
            .withf(|d, from, to| *d == Uuid::from_u128(1) && *to - *from == Duration::days(90))
            .times(1)
            .returning(|_, _, _| Ok(vec![]));
        let out = service(repo).read(&FeedToken::generate().0).await.unwrap();
        assert!(out.contains("X-WR-CALNAME:HealthSync: Ada"));
    }
}
