//! The one place where failures become HTTP answers.
//!
//! Every error body has the same shape: a stable machine `code`, a human `message`, and the
//! `field` that was wrong when there is one. Unexpected failures are logged with their cause
//! and answered as a generic 500 that reveals nothing about the internals.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error answer.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `VALIDATION_FAILED`, `NOT_FOUND`, `SLOT_TAKEN`.
    #[schema(example = "VALIDATION_FAILED")]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request field that was wrong, when the error is about one field.
    #[schema(nullable)]
    pub field: Option<String>,
}

/// An error answer: status plus [`ErrorBody`], and optionally a `Retry-After` hint.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after_secs: Option<u64>,
    /// For a 503: the store that is unavailable (`postgres`, `redis`, `mongodb`, `files`),
    /// which the access log names (see [`UnavailableStore`]).
    pub store: Option<&'static str>,
}

/// Put in a 503 response's extensions so the access log line names the store behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnavailableStore(pub &'static str);

/// The store behind a feature the domain reports unavailable.
pub fn store_behind(feature: &'static str) -> &'static str {
    match feature {
        "database" => "postgres",
        "session store" => "redis",
        "audit log" | "chat" => "mongodb",
        "file store" => "files",
        other => other,
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                field: None,
            },
            retry_after_secs: None,
            store: None,
        }
    }

    /// Names the request field the error is about.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    /// Adds a `Retry-After` header.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            message,
        )
        .with_field(field)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A store is down: 503 with a retry hint, never the driver's message; the access log
    /// names the store.
    pub fn unavailable(what: &'static str) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            format!("{what} is temporarily unavailable; retry shortly"),
        )
        .retry_after(5);
        error.store = Some(store_behind(what));
        error
    }

    /// Something that is not the client's fault. The cause is logged here, once, with its
    /// chain; the client sees only a generic message.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause_chain(cause), "unexpected error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "an unexpected error occurred",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.body.code,
            self.body.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(store) = self.store {
            response.extensions_mut().insert(UnavailableStore(store));
        }
        response.json(&self.body)
    }
}

impl From<domain::error::DomainError> for ApiError {
    fn from(error: domain::error::DomainError) -> Self {
        use domain::error::DomainError as E;
        match error {
            E::Validation { field, message } => Self::validation(field, message),
            E::NotFound(what) => Self::not_found(what),
            E::Conflict(c @ domain::error::Conflict::IdempotencyInFlight) => {
                Self::conflict(c.code(), conflict_message(c)).retry_after(1)
            }
            E::Conflict(c) => Self::conflict(c.code(), conflict_message(c)),
            E::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_CREDENTIALS",
                "email or password is incorrect",
            ),
            E::Unauthenticated => Self::unauthorized("a valid session is required; log in again"),
            E::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "your role may not do this",
            ),
            E::Unavailable(what) => Self::unavailable(what),
            E::Unexpected(cause) => Self::internal(&cause),
            E::InvalidTransition { from, to, allowed } => {
                let allowed_text = if allowed.is_empty() {
                    "none (final status)".to_owned()
                } else {
                    allowed.join(", ")
                };
                Self::conflict(
                    "INVALID_TRANSITION",
                    format!("cannot go from {from} to {to}; allowed from {from}: {allowed_text}"),
                )
                .with_field("status")
            }
        }
    }
}

fn conflict_message(conflict: domain::error::Conflict) -> &'static str {
    use domain::error::Conflict as C;
    match conflict {
        C::EmailTaken => "this email cannot be used for a new account",
        C::LicenseNumberTaken => "another doctor has this licence number",
        C::DepartmentNameTaken => "a department with this name exists",
        C::ProfileExists => "this user already has that profile",
        C::ScheduleOverlap => {
            "the schedule overlaps another active schedule of this doctor on that day"
        }
        C::SlotTaken => "this slot is no longer available",
        C::PatientOverlap => "the patient already has an appointment at an overlapping time",
        C::DoctorUnavailable => "this doctor is not taking appointments",
        C::StaleStatus => "it changed meanwhile; read it again",
        C::NotInConsultation => {
            "a prescription is written while the appointment is IN_PROGRESS or COMPLETED"
        }
        C::PrescriptionExists => "this appointment already has a prescription",
        C::IdempotencyInFlight => "a request with this key is still running",
        C::NoShowLimit => {
            "too many missed visits in the last 90 days to book online; the front desk can book"
        }
        C::DoctorTimeOff => "the doctor is away at this time (time off or a clinic holiday)",
        C::SlotHeld => "this slot is held for a patient on the waitlist; try another slot",
        C::OfferClosed => "this offer is no longer open: it was accepted, declined or has expired",
        C::AlreadyWaiting => "the patient is already on this doctor's waitlist",
        C::WebhookLimit => "the clinic has registered the most webhook endpoints it may; delete one first",
        C::DeliveryPending => "this delivery is still pending; it will be sent (or retried) without a redelivery",
        C::UserInactive => "the account is deactivated; activate it first",
        C::ChatClosed => {
            "this conversation takes no more messages: the appointment was cancelled, or completed longer ago than the chat window"
        }
    }
}

/// The handler for actix's own path extractor failures, which are `text/plain` (and a bad UUID
/// is a 404) unless replaced. Bodies and queries never reach actix's extractors: `ApiJson`,
/// `JsonBody`, `ApiQuery` and `LazyQuery` (extract.rs) answer the error model themselves.
pub mod extractor_errors {
    use actix_web::error::PathError;
    use actix_web::{HttpRequest, HttpResponse};

    use super::ApiError;

    /// A path that does not parse. When the path is a literal route of other methods
    /// (`GET /appointments/walk-ins` reaching `/appointments/{id}`), the answer is that route's
    /// 405. Otherwise 400, without echoing the value (it may hold control characters).
    pub fn path(err: PathError, req: &HttpRequest) -> actix_web::Error {
        let table = req.app_data::<actix_web::web::Data<crate::fallback::MethodTable>>();
        if let Some(response) = table.and_then(|t| t.method_not_allowed(req)) {
            return actix_web::error::InternalError::from_response(err, response).into();
        }
        let api = ApiError::bad_request(
            "INVALID_PATH",
            "a path parameter is malformed: ids are UUIDs (8-4-4-4-12 hexadecimal digits)",
        );
        actix_web::error::InternalError::from_response(err, api.error_response_owned()).into()
    }

    impl ApiError {
        pub(crate) fn error_response_owned(&self) -> HttpResponse {
            actix_web::ResponseError::error_response(self)
        }
    }
}

/// An error and each of its sources, `outer: inner: innermost`, for the log of a 500.
pub fn cause_chain(cause: &dyn std::error::Error) -> String {
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::error::DomainError;

    #[test]
    fn a_500_logs_the_whole_cause_chain_and_tells_the_client_nothing() {
        let io = std::io::Error::other("connection reset by peer");
        let DomainError::Unexpected(cause) =
            DomainError::unexpected("PostgreSQL query failed at appointments.rs:42", io)
        else {
            unreachable!()
        };
        assert_eq!(
            cause_chain(&cause),
            "PostgreSQL query failed at appointments.rs:42: connection reset by peer"
        );
        let api = ApiError::from(DomainError::Unexpected(cause));
        assert_eq!(
            (api.status.as_u16(), api.body.code.as_str()),
            (500, "INTERNAL")
        );
        assert!(!api.body.message.contains("PostgreSQL"));
    }

    #[test]
    fn a_503_names_the_store_behind_the_feature() {
        for (feature, store) in [
            ("database", "postgres"),
            ("session store", "redis"),
            ("audit log", "mongodb"),
            ("file store", "files"),
        ] {
            let api = ApiError::from(DomainError::Unavailable(feature));
            assert_eq!(api.status.as_u16(), 503);
            assert_eq!(api.store, Some(store));
            let response = api.error_response();
            assert_eq!(
                response.extensions().get::<UnavailableStore>(),
                Some(&UnavailableStore(store))
            );
        }
    }
}
