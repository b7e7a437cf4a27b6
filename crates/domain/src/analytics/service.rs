//! The dashboard use case: who sees which scope, the cache, and one computation per key at a
//! time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use chrono_tz::Tz;
use futures::future::{BoxFuture, FutureExt, Shared};

use super::{AnalyticsCache, AnalyticsRepository, Dashboard, Period, Scope};
use crate::clock::Clock;
use crate::error::DomainError;
use crate::identity::{Actor, Role};

type Computation = Shared<BoxFuture<'static, Result<Dashboard, DomainError>>>;

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
            let (current, previous) = (current?, previous?);
            let dashboard = Dashboard {
                scope,
                period,
                previous_period,
                current,
                previous,
                computed_at: clock.now(),
            };
            cache.put(&key, &dashboard).await;
            Ok(dashboard)
        }
        .boxed()
        .shared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{Figures, MockAnalyticsCache, MockAnalyticsRepository, Revenue};
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
            median_lead_time_minutes: None,
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
