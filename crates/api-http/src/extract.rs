//! Request extractors that answer bad input with the error model.

use actix_web::{web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// A JSON body deserialised with the path of the offending field kept, so a wrong type or an
/// unknown enum value is answered 422 naming the field (`patient.gender`), not just a line and
/// column. Requires `Content-Type: application/json` (else 415); size limited by the
/// `JSON_BODY_LIMIT` (else 413). Handlers whose route is closed to some roles take
/// [`JsonBody`] instead, so the role is checked before the body is looked at.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = JsonBody::<T>::from_request(req, payload);
        Box::pin(async move { body.await?.parse().map(ApiJson) })
    }
}

/// A JSON body read but not yet judged: the handler first lets the domain check the actor's
/// role, then calls [`JsonBody::parse`]. So a patient posting anything to an admin route (the
/// wrong media type, an oversized or invalid body) is told 403, not what the route accepts;
/// the 415, 413, 400 or 422 comes only after the role passed.
pub struct JsonBody<T> {
    bytes: Result<web::Bytes, ApiError>,
    _type: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// Decodes the body: 415 without a JSON media type, 413 when too large, 400 when it is not
    /// JSON, 422 naming the field otherwise.
    pub fn parse(self) -> Result<T, ApiError> {
        decode(&self.bytes?)
    }

    /// Like `parse`, also returning the body as a JSON value (to fingerprint the request),
    /// from the one parse.
    pub fn parse_with_value(self) -> Result<(T, serde_json::Value), ApiError> {
        let value = read_value(&self.bytes?)?;
        let typed = decode_value(value.clone())?;
        Ok((typed, value))
    }
}

impl<T: 'static> FromRequest for JsonBody<T> {
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
            // Read (or drain) the body either way; report what is wrong with it only when the
            // handler asks, after the role check.
            let read = bytes.await.map_err(|_| too_large());
            let bytes = if !is_json {
                Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "expected Content-Type: application/json",
                ))
            } else {
                read.and_then(|b| {
                    if b.len() > limit {
                        Err(too_large())
                    } else {
                        Ok(b)
                    }
                })
            };
            Ok(Self {
                bytes,
                _type: std::marker::PhantomData,
            })
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

/// Decodes a JSON document in two steps, so each kind of mistake gets one status:
///
/// 1. syntax: anything that is not JSON is 400 `MALFORMED_JSON`;
/// 2. every string (and key) passes [`domain::text::check_text`]: a NUL or control character
///    is 422 naming the field, before any use case or store sees it;
/// 3. shape: a wrong type, a missing field, an unknown enum value (also given as a number) is
///    422 `VALIDATION_FAILED` naming the field, with a message that names JSON types, never
///    Rust ones.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    decode_value(read_value(body)?)
}

/// Steps 1 and 2 of [`decode`]: JSON syntax, then the text rule on every string.
fn read_value(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("MALFORMED_JSON", "request body is not valid JSON"))?;
    check_strings(&value, &mut String::new())?;
    Ok(value)
}

/// Step 3 of [`decode`]: the shape, naming the field that does not fit.
fn decode_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        shape_error(&path, &message)
    })
}

/// Walks every string of a JSON document, naming a bad one by its path (`items[1].dosage`).
fn check_strings(value: &serde_json::Value, path: &mut String) -> Result<(), ApiError> {
    use domain::text::{check_text, Lines};
    let field = |path: &str| {
        if path.is_empty() {
            ".".to_owned()
        } else {
            path.to_owned()
        }
    };
    match value {
        serde_json::Value::String(s) => {
            check_text(s, &field(path), Lines::Multi).map_err(ApiError::from)
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_strings(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                check_text(key, &field(path), Lines::Single).map_err(ApiError::from)?;
                check_strings(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The 422 of a well-formed value of the wrong shape, with its field: the path serde reached,
/// or the field a "missing field" message names.
pub(crate) fn shape_error(path: &str, message: &str) -> ApiError {
    let message = humanize(message);
    let missing = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))
        .and_then(|rest| rest.split('`').next())
        .map(|name| {
            if path == "." || path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        });
    let field = missing.or_else(|| (path != "." && !path.is_empty()).then(|| path.to_owned()));
    let mut e = ApiError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
        message,
    );
    e.body.field = field;
    e
}

/// serde's message in JSON's terms: no Rust type names (`struct BookRequest`, `i32`), no
/// "at line X column Y".
pub(crate) fn humanize(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    let Some((head, expected)) = message.split_once(", expected ") else {
        return rust_free(message);
    };
    let expected = expected.trim();
    let word = expected.split([' ', '<']).next().unwrap_or("");
    let plain = if expected.starts_with("struct ") || expected == "a map" {
        "an object".to_owned()
    } else if expected.starts_with("one of ") || expected.starts_with('`') {
        expected.to_owned()
    } else if ["i8", "i16", "i32", "i64", "i128", "isize"].contains(&word) {
        "an integer".to_owned()
    } else if ["u8", "u16", "u32", "u64", "u128", "usize"].contains(&word) {
        "a non-negative integer".to_owned()
    } else if ["f32", "f64"].contains(&word) {
        "a number".to_owned()
    } else if expected == "a sequence" || expected.starts_with("a sequence") {
        "an array".to_owned()
    } else if expected == "string or map" || expected.starts_with("variant identifier") {
        "a string".to_owned()
    } else if expected.starts_with("a boolean") {
        "true or false".to_owned()
    } else if expected.starts_with("newtype struct")
        || expected.starts_with("tuple struct")
        || expected.starts_with("unit variant")
        || expected.starts_with("struct variant")
        || expected.starts_with("enum ")
    {
        "another kind of value".to_owned()
    } else {
        rust_free(expected)
    };
    format!("{}, expected {plain}", rust_free(head))
}

/// Drops what would still name Rust internals.
fn rust_free(text: &str) -> String {
    // A number in a query string that does not parse (`std::num::ParseIntError`'s words).
    if [
        "invalid digit found in string",
        "cannot parse integer from empty string",
        "number too large to fit in target type",
        "number too small to fit in target type",
    ]
    .contains(&text)
    {
        return "expected a whole number in range".to_owned();
    }
    if text.contains("untagged enum") {
        return "does not match any accepted shape".to_owned();
    }
    text.replace("Uuid", "UUID")
}

/// A query string deserialised with the same rules as a JSON body: every value passes the text
/// check, and a value that does not fit its parameter (`perPage=-1`, `status=LATE`, a bad date)
/// is 422 naming the parameter. Only a query string that cannot be split at all would be 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> ApiQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }

    pub fn parse(query: &str) -> Result<T, ApiError> {
        refuse_invalid_utf8(query)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| {
            ApiError::bad_request("INVALID_QUERY", "the query string cannot be parsed")
        })?;
        for (key, value) in &pairs {
            domain::text::check_text(key, key, domain::text::Lines::Single)?;
            domain::text::check_text(value, key, domain::text::Lines::Single)?;
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            let mut e = shape_error(&path, &message);
            // serde_urlencoded reports a bad value without its key: name the only candidate
            // when the message quotes it.
            if e.body.field.is_none() {
                e.body.field = pairs
                    .iter()
                    .find(|(_, v)| !v.is_empty() && message.contains(&format!("`{v}`")))
                    .map(|(k, _)| k.clone());
            }
            e
        })
    }
}

/// Refuses a query whose percent-escapes decode to bytes that are not UTF-8 (`name=%FF`):
/// the decoder would otherwise turn them into U+FFFD and search for, or store, a value the
/// client never sent. 422 naming the parameter.
fn refuse_invalid_utf8(query: &str) -> Result<(), ApiError> {
    let is_utf8 = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .is_ok()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !is_utf8(key) || !is_utf8(value) {
            let name = if is_utf8(key) { key } else { "query" };
            return Err(ApiError::validation(
                name,
                "must be valid UTF-8 once percent-decoded",
            ));
        }
    }
    Ok(())
}

/// A query string kept unparsed until the handler has let the domain check the actor's role,
/// for routes closed to some roles: a patient probing an admin list learns nothing about its
/// parameters. [`LazyQuery::parse`] then applies [`ApiQuery`]'s rules.
pub struct LazyQuery<T> {
    raw: String,
    _type: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> LazyQuery<T> {
    pub fn parse(&self) -> Result<T, ApiError> {
        ApiQuery::<T>::parse(&self.raw)
    }
}

impl<T: 'static> FromRequest for LazyQuery<T> {
    type Error = ApiError;
    type Future = futures::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        futures::future::ready(Ok(Self {
            raw: req.query_string().to_owned(),
            _type: std::marker::PhantomData,
        }))
    }
}

impl<T> std::ops::Deref for ApiQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = futures::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        futures::future::ready(Self::parse(req.query_string()).map(ApiQuery))
    }
}

/// This server's origin as the client reached it (`http://host:port`), for absolute URLs in
/// answers (a calendar feed's URL, FHIR links): the connection's scheme and the `Host` header.
/// `Forwarded`/`X-Forwarded-*` are believed only with `TRUST_PROXY=true`, as for client IPs;
/// otherwise any caller could make a cacheable answer point at a host of its choosing.
pub fn origin(req: &HttpRequest) -> String {
    let trust_proxy = req
        .app_data::<web::Data<crate::state::AppState>>()
        .is_some_and(|s| s.config.trust_proxy);
    if trust_proxy {
        let info = req.connection_info();
        return format!("{}://{}", info.scheme(), info.host());
    }
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map_or_else(|| req.app_config().host().to_owned(), str::to_owned);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_that_is_not_utf8_once_decoded_is_refused_naming_its_key() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Q {
            search: Option<String>,
        }
        let err = ApiQuery::<Q>::parse("search=%FF%FE").unwrap_err();
        assert_eq!(err.body.field.as_deref(), Some("search"));
        assert_eq!(err.status.as_u16(), 422);
        let ok = ApiQuery::<Q>::parse("search=Zo%C3%AB+50%25").unwrap();
        assert_eq!(ok.search.as_deref(), Some("Zoë 50%"));
        assert!(ApiQuery::<Q>::parse("search=100%").is_ok());
    }

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
        assert_eq!(e.body.field.as_deref(), Some("name"));
    }

    #[test]
    fn an_enum_given_a_number_is_422_with_its_field() {
        let e = decode::<Probe>(br#"{"name": "x", "inner": {"kind": 0}}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 422, "{:?}", e.body);
        assert_eq!(e.body.field.as_deref(), Some("inner.kind"));
    }

    #[test]
    fn nul_and_control_characters_are_422_naming_the_field() {
        let e = decode::<Probe>(br#"{"name": "a\u0000b", "inner": {"kind": "A"}}"#).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.body.field.as_deref()),
            (422, Some("name"))
        );
        let e =
            decode::<serde_json::Value>(br#"{"items": [{"dosage": "\u001b[2J"}]}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("items[0].dosage"));
        assert!(decode::<serde_json::Value>(br#"{"notes": "two\nlines\t"}"#).is_ok());
    }

    #[test]
    fn messages_name_json_types_never_rust_ones() {
        for (body, expected) in [
            (&br#"[]"#[..], "expected an object"),
            (
                br#"{"name": 3, "inner": {"kind": "A"}}"#,
                "expected a string",
            ),
            (br#"{"name": "x", "inner": 7}"#, "expected an object"),
        ] {
            let e = decode::<Probe>(body).unwrap_err();
            assert!(e.body.message.ends_with(expected), "{}", e.body.message);
            assert!(!e.body.message.contains("struct"), "{}", e.body.message);
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Numbers {
            a: i32,
            b: u32,
        }
        let e = decode::<Numbers>(br#"{"a": "x", "b": 1}"#).unwrap_err();
        assert_eq!(
            e.body.message,
            "invalid type: string \"x\", expected an integer"
        );
        let e = decode::<Numbers>(br#"{"a": 1, "b": -1}"#).unwrap_err();
        assert!(e.body.message.ends_with("expected a non-negative integer"));
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct ListQuery {
        per_page: Option<u32>,
        status: Option<Kind>,
        q: Option<String>,
    }

    #[test]
    fn query_values_that_do_not_fit_are_422_naming_the_parameter() {
        for (query, field) in [
            ("perPage=-1", "perPage"),
            ("perPage=abc", "perPage"),
            ("status=LATE", "status"),
            ("q=a%00b", "q"),
        ] {
            let e = ApiQuery::<ListQuery>::parse(query).err().unwrap();
            assert_eq!(
                (e.status.as_u16(), e.body.field.as_deref()),
                (422, Some(field)),
                "{query}: {:?}",
                e.body
            );
        }
        assert!(ApiQuery::<ListQuery>::parse("perPage=5&status=A&q=x").is_ok());
    }
}
