//! Request ids and access logs: every request runs inside a tracing span carrying its id, which
//! is echoed in the `X-Request-Id` response header so a client's report can be matched to logs.
//! A well-formed incoming `X-Request-Id` (from a proxy) is kept; anything else is replaced.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The id of the current request, readable by handlers from the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The middleware; installed with `actix_web::middleware::from_fn(request_id::middleware)`.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "http_request",
        request_id = %id,
        method = %req.method(),
        path = %loggable_path(req.path()),
    );
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let _enter = span.enter();
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let store = response
                .response()
                .extensions()
                .get::<crate::errors::UnavailableStore>()
                .map(|s| s.0);
            if let Some(store) = store {
                tracing::error!(
                    status,
                    latency_ms,
                    store,
                    "request failed: store unavailable"
                );
            } else if status >= 500 {
                tracing::error!(status, latency_ms, "request failed");
            } else {
                tracing::info!(status, latency_ms, "request handled");
            }
            if let Ok(value) = HeaderValue::from_str(&id) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(HEADER), value);
            }
            Ok(response)
        }
        Err(e) => {
            tracing::error!(error = %e, "request errored");
            Err(e)
        }
    }
}
/// The path as the request log shows it: a calendar feed's secret (the credential in its URL)
/// becomes `{token}`, so log readers and log shippers never hold a working feed URL.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/calendar/") {
        Some(rest) => {
            let after = rest.find('/').map_or("", |i| &rest[i..]);
            std::borrow::Cow::Owned(format!("/calendar/{{token}}{after}"))
        }
        None => std::borrow::Cow::Borrowed(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_tokens_never_reach_the_log() {
        assert_eq!(
            loggable_path("/calendar/hscal_0123abc/appointments.ics"),
            "/calendar/{token}/appointments.ics"
        );
        assert_eq!(
            loggable_path("/calendar/hscal_0123abc"),
            "/calendar/{token}"
        );
        assert_eq!(loggable_path("/appointments/1"), "/appointments/1");
    }
}
