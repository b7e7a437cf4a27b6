//! Readiness: each store the service needs answers a probe.

use async_trait::async_trait;

/// Why a store did not answer its probe. The message is for operators (logs, `/ready`), never
/// shown with credentials: adapters must not put connection strings in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeError(pub String);

/// A store the service depends on (PostgreSQL, Redis, MongoDB).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StoreProbe: Send + Sync {
    /// A stable, lower-case name (`postgres`, `redis`, `mongodb`) reported by `/ready`.
    fn name(&self) -> &'static str;

    /// Round-trips one cheap command to the store. Returns [`ProbeError`] when the store is
    /// unreachable or answers with an error; must give up within the pool's timeouts.
    async fn ping(&self) -> Result<(), ProbeError>;
}

/// The state of one store as `/ready` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStatus {
    pub name: &'static str,
    pub up: bool,
    pub error: Option<String>,
}

/// Probes every store at once (so one slow store does not add its timeout to the others)
/// and says whether all are up, with each store's state in the order given.
pub async fn check_all(probes: &[std::sync::Arc<dyn StoreProbe>]) -> (bool, Vec<StoreStatus>) {
    let results = futures::future::join_all(probes.iter().map(|p| p.ping())).await;
    let statuses: Vec<StoreStatus> = probes
        .iter()
        .zip(results)
        .map(|(probe, result)| StoreStatus {
            name: probe.name(),
            up: result.is_ok(),
            error: result.err().map(|e| e.0),
        })
        .collect();
    (statuses.iter().all(|s| s.up), statuses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn probe(name: &'static str, ok: bool) -> Arc<dyn StoreProbe> {
        let mut p = MockStoreProbe::new();
        p.expect_name().return_const(name);
        p.expect_ping().returning(move || {
            if ok {
                Ok(())
            } else {
                Err(ProbeError("connection refused".into()))
            }
        });
        Arc::new(p)
    }

    #[tokio::test]
    async fn ready_only_when_every_store_answers() {
        let (ready, statuses) = check_all(&[probe("postgres", true), probe("redis", false)]).await;
        assert!(!ready);
        assert_eq!(
            statuses[0],
            StoreStatus {
                name: "postgres",
                up: true,
                error: None
            }
        );
        assert_eq!(statuses[1].name, "redis");
        assert!(!statuses[1].up);
        assert_eq!(statuses[1].error.as_deref(), Some("connection refused"));

        let (ready, _) = check_all(&[probe("postgres", true), probe("mongodb", true)]).await;
        assert!(ready);
    }
}
