//! What happens when no handler matched: a path that exists with other methods answers 405
//! with `Allow`; an unknown path answers the JSON 404. And `HEAD` is served wherever `GET` is
//! (RFC 9110 §9.3.2): the request is routed as GET and the connection codec, which remembers
//! it was HEAD, sends the headers (with the GET's `Content-Length`) and no body.
//!
//! The table of paths and methods is read from the OpenAPI document, which is generated from
//! the registered routes, so it cannot drift from them.

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::errors::ApiError;

/// Every documented path with the methods it answers.
pub struct MethodTable(Vec<(ResourceDef, Vec<Method>)>);

impl MethodTable {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let value = serde_json::to_value(doc).unwrap_or_default();
        let mut routes = Vec::new();
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let methods: Vec<Method> = item
                    .as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                    .collect();
                routes.push((ResourceDef::new(path.as_str()), methods));
            }
        }
        // Served by the binary but not part of the API document.
        routes.push((
            ResourceDef::new("/api-docs/openapi.json"),
            vec![Method::GET],
        ));
        Self(routes)
    }

    /// The methods a path answers (with HEAD beside GET), or `None` for an unknown path. A
    /// literal route wins over a pattern that also matches (`/appointments/walk-ins` is not
    /// `/appointments/{id}`), as it does when actix routes.
    pub fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let literal_segments = |def: &ResourceDef| {
            def.pattern()
                .unwrap_or("")
                .split('/')
                .filter(|s| !s.is_empty() && !s.contains('{'))
                .count()
        };
        let matching: Vec<&(ResourceDef, Vec<Method>)> = self
            .0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .collect();
        let most_specific = matching
            .iter()
            .map(|(def, _)| literal_segments(def))
            .max()?;
        let mut allowed: Vec<Method> = Vec::new();
        for (def, methods) in matching {
            if literal_segments(def) == most_specific {
                allowed.extend(methods.iter().cloned());
            }
        }
        if allowed.contains(&Method::GET) {
            allowed.push(Method::HEAD);
        }
        allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }
}

impl MethodTable {
    /// The 405 for a request whose path is known but whose method is not one of its own.
    pub fn method_not_allowed(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let methods = self.allowed(req.path())?;
        if methods.contains(req.method()) {
            return None;
        }
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("{} is not allowed here; allowed: {allow}", req.method()),
        )
        .error_response();
        if let Ok(value) = header::HeaderValue::from_str(&allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        Some(response)
    }
}

/// The default service: 405 with `Allow` for a known path, 404 otherwise.
pub async fn no_route(req: HttpRequest, table: web::Data<MethodTable>) -> HttpResponse {
    table.method_not_allowed(&req).unwrap_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND", "no such route").error_response()
    })
}

/// Routes HEAD as GET; the codec drops the body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_list_their_methods_and_head_goes_with_get() {
        let table = MethodTable::from_openapi(&crate::openapi::document());
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            table.allowed(&format!("/appointments/{id}")),
            Some(vec![Method::GET, Method::HEAD])
        );
        assert_eq!(
            table.allowed("/appointments"),
            Some(vec![Method::GET, Method::HEAD, Method::POST])
        );
        assert_eq!(
            table.allowed("/appointments/walk-ins"),
            Some(vec![Method::POST]),
            "the literal route, not /appointments/{{id}}"
        );
        assert_eq!(table.allowed("/departments/x/y/z"), None);
        assert_eq!(table.allowed("/nope"), None);
    }
}
