//! Liveness and readiness.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// Liveness: the process is up and serving HTTP.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// One store's state in a readiness report.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct StoreReport {
    #[schema(example = "postgres")]
    pub name: String,
    #[schema(example = "up")]
    pub status: String,
    /// `unreachable` when the store is down. The driver's own words (addresses, topology) go
    /// to the log only: this route is public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Readiness: whether every store answers.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every store is up, else `unavailable`.
    #[schema(example = "ready")]
    pub status: String,
    pub stores: Vec<StoreReport>,
}

/// Liveness probe.
///
/// Answers 200 as long as the process serves HTTP; it checks no store.
#[utoipa::path(operation_id = "getHealth", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Readiness probe.
///
/// Checks PostgreSQL, Redis and MongoDB; 200 when all answer, 503 naming the ones that do not.
/// Recovers by itself when a store comes back.
#[utoipa::path(operation_id = "getReadiness", tag = "operations",
    responses(
        (status = 200, description = "Every store answers", body = Readiness),
        (status = 503, description = "At least one store is down", body = Readiness),
    ))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let (all_up, statuses) = domain::health::check_all(&state.probes).await;
    let body = Readiness {
        status: if all_up { "ready" } else { "unavailable" }.into(),
        stores: statuses
            .into_iter()
            .map(|s| {
                if let Some(cause) = &s.error {
                    tracing::warn!(store = s.name, error = %cause, "readiness probe failed");
                }
                StoreReport {
                    name: s.name.into(),
                    status: if s.up { "up" } else { "down" }.into(),
                    error: s.error.map(|_| "unreachable".to_owned()),
                }
            })
            .collect(),
    };
    if all_up {
        HttpResponse::Ok().json(body)
    } else {
        let mut response = HttpResponse::ServiceUnavailable();
        if let Some(down) = body.stores.iter().find(|s| s.status == "down") {
            // The access log names the (first) store that is down.
            let name = state
                .probes
                .iter()
                .map(|p| p.name())
                .find(|n| *n == down.name);
            if let Some(name) = name {
                response
                    .extensions_mut()
                    .insert(crate::errors::UnavailableStore(name));
            }
        }
        response.insert_header(("Retry-After", "5")).json(body)
    }
}
