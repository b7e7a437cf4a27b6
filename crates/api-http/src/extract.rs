//! Request extractors that answer bad input with the error model.

use actix_web::{web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// A JSON body deserialised with the path of the offending field kept, so a wrong type or an
/// unknown enum value is answered 422 naming the field (`patient.gender`), not just a line and
/// column. Requires `Content-Type: application/json` (else 415); size limited by the
/// `JsonConfig` limit (else 413).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        let limit = req
            .app_data::<web::Data<crate::state::AppState>>()
            .map_or(64 * 1024, |s| s.config.json_body_limit);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "expected Content-Type: application/json",
                ));
            }
            let body = bytes.await.map_err(|_| too_large())?;
            if body.len() > limit {
                return Err(too_large());
            }
            decode(&body).map(ApiJson)
        })
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "request body is too large",
    )
}

/// Decodes a JSON document, mapping syntax errors to 400 and shape errors to 422 with the
/// field path.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request("MALFORMED_JSON", "request body is not valid JSON")
        } else {
            // serde's message without the "at line X column Y" suffix.
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            let field = if path == "." { None } else { Some(path) };
            let mut e = ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                message,
            );
            e.body.field = field;
            e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        inner: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        kind: Kind,
    }
    #[derive(serde::Deserialize, Debug)]
    enum Kind {
        A,
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_name_the_field() {
        let e = decode::<Probe>(b"{not json").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert_eq!(e.body.code, "MALFORMED_JSON");

        let e = decode::<Probe>(br#"{"name": 3, "inner": {"kind": "A"}}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert_eq!(e.body.field.as_deref(), Some("name"));

        let e = decode::<Probe>(br#"{"name": "x", "inner": {"kind": "Z"}}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("inner.kind"));
        assert!(
            e.body.message.contains("unknown variant"),
            "{}",
            e.body.message
        );

        let e = decode::<Probe>(br#"{"inner": {"kind": "A"}}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(e.body.message.contains("missing field `name`"));
    }
}
