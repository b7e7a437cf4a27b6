//! `AuthUser`: the authenticated actor of a request, or 401 (no/invalid/ended session) or 503
//! (the session store is down: nobody is let in unchecked).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use domain::audit::RequestMeta;
use domain::identity::Actor;
use futures::future::{ready, LocalBoxFuture, Ready};

use crate::errors::ApiError;
use crate::state::AppState;

/// The client's address and user agent, for audit events and rate limiting.
pub struct Meta(pub RequestMeta);

/// The client IP: the peer address, or the first `X-Forwarded-For` hop behind a trusted proxy.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> Option<String> {
    if trust_proxy {
        if let Some(forwarded) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            if let Some(first) = forwarded
                .split(',')
                .next()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                return Some(first.to_owned());
            }
        }
    }
    req.peer_addr().map(|a| a.ip().to_string())
}

pub fn request_meta(req: &HttpRequest) -> RequestMeta {
    let trust_proxy = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.trust_proxy);
    RequestMeta {
        ip: client_ip(req, trust_proxy),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}

impl FromRequest for Meta {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(request_meta(req))))
    }
}

/// An authenticated request. Handlers that take it are closed to anonymous callers.
pub struct AuthUser(pub Actor);

/// An optionally authenticated request (public routes that show more to admins). A present
/// but invalid token is still refused with 401 rather than silently treated as anonymous.
pub struct MaybeAuthUser(pub Option<Actor>);

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn authenticate(
    state: web::Data<AppState>,
    token: String,
    meta: RequestMeta,
) -> Result<Actor, ApiError> {
    let (user_id, session_id) = state
        .tokens
        .verify(&token)
        .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
    Ok(state
        .identity
        .authenticate(user_id, session_id, meta)
        .await?)
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let meta = request_meta(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal(&std::io::Error::other("no app state")))?;
            let token = token.ok_or_else(|| {
                ApiError::unauthorized("an Authorization: Bearer token is required")
            })?;
            authenticate(state, token, meta).await.map(AuthUser)
        })
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let meta = request_meta(req);
        Box::pin(async move {
            match (state, token) {
                (Some(state), Some(token)) => authenticate(state, token, meta)
                    .await
                    .map(|a| MaybeAuthUser(Some(a))),
                _ => Ok(MaybeAuthUser(None)),
            }
        })
    }
}
