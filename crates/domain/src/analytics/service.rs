//! The dashboard use case: who sees which scope, the cache, and one computation per key at a
//! time: concurrent misses in one process share one computation, and processes claim a key in
//! the cache so that only one of them computes it while the others wait for its result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use chrono_tz::Tz;
use futures::future::{BoxFuture, FutureExt, Shared};

use super::{AnalyticsCache, AnalyticsRepository, Claim, Dashboard, Period, Scope};
use crate::clock::Clock;
use crate::error::DomainError;
use crate::identity::{Actor, Role};

type Computation = Shared<BoxFuture<'static, Result<Dashboard, DomainError>>>;

/// How long a process waits for another's computation of the same dashboard before computing
/// it itself (a year of a large clinic takes well under a second; see the README).
const CLAIM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Builds dashboards, from the cache when it has them.
pub struct AnalyticsService {
    repo: Arc<dyn AnalyticsRepository>,
    cache: Arc<dyn AnalyticsCache>,
    clock: Arc<dyn Clock>,
    zone: Tz,
    /// Computations under way, by cache key: concurrent misses of one key share one.
    inflight: Arc<Mutex<HashMap<String, Computation>>>,
}

impl AnalyticsService {
    pub fn new(
        repo: Arc<dyn AnalyticsRepository>,
        cache: Arc<dyn AnalyticsCache>,
        clock: Arc<dyn Clock>,
        zone: Tz,
    ) -> Self {
        Self {
            repo,
            cache,
            clock,
            zone,
            inflight: Arc::default(),
        }
    }

    /// The scope `actor` may see: the clinic for admins, itself for a doctor, nothing else.
    fn scope(actor: &Actor) -> Result<Scope, DomainError> {
        match actor.role {
            Role::Admin => Ok(Scope::Clinic),
            Role::Doctor => Ok(Scope::Doctor(actor.own_doctor_id()?)),
            Role::Patient | Role::Receptionist => Err(DomainError::Forbidden),
        }
    }

    /// The period a query names, on the clinic's today (checked before anything is read).
    pub fn period(
        &self,
        range: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Period, DomainError> {
        let today = self.clock.now().with_timezone(&self.zone).date_naive();
        Period::resolve(range, from, to, today)
    }

    /// The dashboard of `period` for `actor`'s scope: cached for 15 minutes under
    /// `analytics:{scope}:{from..to}`; computed once however many ask at the same time.
    pub async fn dashboard(&self, actor: &Actor, period: Period) -> Result<Dashboard, DomainError> {
        let scope = Self::scope(actor)?;
        let key = format!("analytics:{}:{}", scope.key(), period.key());
        if let Some(cached) = self.cache.get(&key).await {
            return Ok(cached);
        }
        let computation = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            inflight
                .entry(key.clone())
                .or_insert_with(|| self.compute(scope, period, key.clone()))
                .clone()
        };
        let result = computation.await;
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        result
    }

    fn compute(&self, scope: Scope, period: Period, key: String) -> Computation {
        let repo = self.repo.clone();
        let cache = self.cache.clone();
        let clock = self.clock.clone();
        let zone = self.zone;
        async move {
            let claim = cache.claim(&key).await;
            match &claim {
                Claim::Taken => {
                    if let Some(theirs) = cache.wait(&key, CLAIM_PATIENCE).await {
                        return Ok(theirs);
                    }
                    // The other process failed or is slow: count it here.
                }
                Claim::Won(token) => {
                    // A computation may have finished between the miss and the claim.
                    if let Some(done) = cache.get(&key).await {
                        cache.release(&key, token).await;
                        return Ok(done);
                    }
                }
                Claim::Unavailable => {}
            }
            let previous_period = period.previous();
            // Both periods at once (two connections): the dashboard takes as long as one.
            let (current, previous) = futures::join!(
                repo.figures(scope, period, period.bounds(&zone), zone.name().to_owned()),
                repo.figures(
                    scope,
                    previous_period,
                    previous_period.bounds(&zone),
                    zone.name().to_owned(),
                )
            );
            let result = current.and_then(|current| {
                Ok(Dashboard {
                    scope,
                    period,
                    previous_period,
                    current,
                    previous: previous?,
                    computed_at: clock.now(),
                })
            });
            if let Ok(dashboard) = &result {
                cache.put(&key, dashboard).await;
            }
            if let Claim::Won(token) = &claim {
                cache.release(&key, token).await;
            }
            result
        }
        .boxed()
        .shared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{Figures, MockAnalyticsCache, MockAnalyticsRepository, Revenue};

    /// A cache that wins every claim and expects it released.
    fn claims_won(cache: &mut MockAnalyticsCache) {
        cache
            .expect_claim()
            .returning(|_| Claim::Won("token".into()));
        cache.expect_release().return_const(());
    }
    use crate::clock::FixedClock;
    use crate::testing::actor;
    use chrono::{TimeZone, Utc};

    fn empty(period: Period) -> Figures {
        Figures {
            by_status: vec![],
            by_day: period.each_day().map(|d| (d, 0)).collect(),
            by_department: vec![],
            by_doctor: vec![],
            slots_generated: 0,
            slots_booked: 0,
            revenue: Revenue::default(),
            new_patients: 0,
            median_lead_time_hours: None,
        }
    }

    fn service(repo: MockAnalyticsRepository, cache: MockAnalyticsCache) -> AnalyticsService {
        AnalyticsService::new(
            Arc::new(repo),
            Arc::new(cache),
            Arc::new(FixedClock(
                Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap(),
            )),
            chrono_tz::Europe::London,
        )
    }

    #[tokio::test]
    async fn admins_see_the_clinic_doctors_themselves_and_no_one_else_anything() {
        let mut repo = MockAnalyticsRepository::new();
        repo.expect_figures()
            .returning(|_, period, _, _| Ok(empty(period)));
        let mut cache = MockAnalyticsCache::new();
        cache.expect_get().returning(|_| None);
        claims_won(&mut cache);
        let mut keys = Vec::new();
        let (tx, rx) = std::sync::mpsc::channel();
        cache
            .expect_put()
            .returning(move |key, _| tx.send(key.to_owned()).unwrap());
        let svc = service(repo, cache);
        let period = svc.period(Some("7d"), None, None).unwrap();
        let admin = actor(Role::Admin);
        let d = svc.dashboard(&admin, period).await.unwrap();
        assert_eq!(d.scope, Scope::Clinic);
        assert_eq!(
            d.previous_period.to,
            period.from - chrono::Duration::days(1)
        );
        let doctor = actor(Role::Doctor);
        let d = svc.dashboard(&doctor, period).await.unwrap();
        assert_eq!(d.scope, Scope::Doctor(doctor.doctor_id.unwrap()));
        keys.extend(rx.try_iter());
        assert_eq!(
            keys,
            [
                "analytics:clinic:2026-03-23..2026-03-29".to_owned(),
                format!(
                    "analytics:doctor:{}:2026-03-23..2026-03-29",
                    doctor.doctor_id.unwrap()
                )
            ]
        );
        for refused in [Role::Patient, Role::Receptionist] {
            assert!(matches!(
                svc.dashboard(&actor(refused), period).await,
                Err(DomainError::Forbidden)
            ));
        }
    }

    /// A store that takes a while (it yields before answering) and counts its calls.
    #[derive(Default)]
    struct SlowRepo(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl AnalyticsRepository for SlowRepo {
        async fn figures(
            &self,
            _: Scope,
            period: Period,
            _: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
            _: String,
        ) -> Result<Figures, DomainError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            Ok(empty(period))
        }
    }

    #[tokio::test]
    async fn concurrent_misses_compute_once_and_a_hit_computes_nothing() {
        let repo = Arc::new(SlowRepo::default());
        let mut cache = MockAnalyticsCache::new();
        cache.expect_get().returning(|_| None);
        cache.expect_put().times(1).return_const(());
        cache
            .expect_claim()
            .times(1)
            .returning(|_| Claim::Won("token".into()));
        cache
            .expect_release()
            .withf(|_, token| token == "token")
            .times(1)
            .return_const(());
        let svc = AnalyticsService::new(
            repo.clone(),
            Arc::new(cache),
            Arc::new(FixedClock(
                Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap(),
            )),
            chrono_tz::Europe::London,
        );
        let period = svc.period(Some("30d"), None, None).unwrap();
        let admin = actor(Role::Admin);
        let (a, b, c) = futures::join!(
            svc.dashboard(&admin, period),
            svc.dashboard(&admin, period),
            svc.dashboard(&admin, period)
        );
        assert_eq!(a.unwrap(), b.unwrap());
        assert!(c.is_ok());
        // The current and the previous period: two reads for one computation.
        assert_eq!(repo.0.load(std::sync::atomic::Ordering::SeqCst), 2);

        let mut cache = MockAnalyticsCache::new();
        let hit = svc_dashboard_fixture(period);
        cache.expect_get().returning(move |_| Some(hit.clone()));
        // A store that panics if read: a hit computes nothing.
        let svc = service(MockAnalyticsRepository::new(), cache);
        assert_eq!(svc.dashboard(&admin, period).await.unwrap().period, period);
    }

    #[tokio::test]
    async fn a_key_another_process_computes_is_awaited_and_computed_here_if_it_gives_up() {
        let period = Period {
            from: "2026-03-01".parse().unwrap(),
            to: "2026-03-29".parse().unwrap(),
        };
        let admin = actor(Role::Admin);
        // Theirs arrives: nothing is read from the store (the mock has no expectation), nothing
        // is put, no claim released.
        let mut cache = MockAnalyticsCache::new();
        cache.expect_get().returning(|_| None);
        cache.expect_claim().returning(|_| Claim::Taken);
        let theirs = svc_dashboard_fixture(period);
        let answer = theirs.clone();
        cache
            .expect_wait()
            .returning(move |_, _| Some(answer.clone()));
        let svc = service(MockAnalyticsRepository::new(), cache);
        assert_eq!(svc.dashboard(&admin, period).await.unwrap(), theirs);

        // They give up (or Redis cannot say): counted here, put, and no claim to release.
        for claim in [Claim::Taken, Claim::Unavailable] {
            let mut repo = MockAnalyticsRepository::new();
            repo.expect_figures()
                .times(2)
                .returning(|_, period, _, _| Ok(empty(period)));
            let mut cache = MockAnalyticsCache::new();
            cache.expect_get().returning(|_| None);
            cache.expect_claim().return_const(claim);
            cache.expect_wait().returning(|_, _| None);
            cache.expect_put().times(1).return_const(());
            let svc = service(repo, cache);
            assert!(svc.dashboard(&admin, period).await.is_ok());
        }

        // A claim won just after another process finished: its result, the claim released.
        let mut cache = MockAnalyticsCache::new();
        let mut gets = 0;
        let done = svc_dashboard_fixture(period);
        cache.expect_get().returning(move |_| {
            gets += 1;
            (gets > 1).then(|| done.clone())
        });
        claims_won(&mut cache);
        let svc = service(MockAnalyticsRepository::new(), cache);
        assert!(svc.dashboard(&admin, period).await.is_ok());
    }

    fn svc_dashboard_fixture(period: Period) -> Dashboard {
        Dashboard {
            scope: Scope::Clinic,
            period,
            previous_period: period.previous(),
            current: empty(period),
            previous: empty(period.previous()),
            computed_at: Utc::now(),
        }
    }
}
