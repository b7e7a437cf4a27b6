//! What every response carries for the browser's sake, and who may call from another origin.
//!
//! - `X-Content-Type-Options: nosniff` on everything: a JSON body is never sniffed into HTML.
//! - `X-Frame-Options: DENY` and `Content-Security-Policy: frame-ancestors 'none'`: neither the
//!   API nor Swagger UI can be framed by another site (clickjacking).
//! - `Cache-Control: no-store` on every answer to an authenticated request: patient data never
//!   lands in a shared or browser cache.
//! - CORS only for the origins in `CORS_ALLOWED_ORIGINS` (none by default). A request from any
//!   other origin is served without CORS headers, so the browser withholds the answer from the
//!   foreign page while same-origin pages (Swagger UI) keep working.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};

/// The headers every response carries.
pub fn default_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
}

/// `Cache-Control: no-store` on answers to requests that carry credentials.
pub async fn no_store_when_authenticated(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let authenticated = req.headers().contains_key(header::AUTHORIZATION);
    let mut res = next.call(req).await?;
    if authenticated {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// CORS for the configured origins: preflight answered, the API's request headers allowed, the
/// headers a client reads exposed.
pub fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            header::LOCATION,
        ])
        .max_age(600)
        .block_on_origin_mismatch(false);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
