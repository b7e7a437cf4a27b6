//! The error every use case returns. Variants say what went wrong in business terms; the HTTP
//! crate maps each to a status and a stable code in one place. No HTTP codes here.

/// A uniqueness rule that a request broke, named so clients can react to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Registration or staff creation with an email already in use. The message deliberately
    /// does not confirm whether that account is active, a patient or staff.
    EmailTaken,
    LicenseNumberTaken,
    DepartmentNameTaken,
    /// The user already has the profile being created.
    ProfileExists,
    /// The schedule overlaps another active schedule of the doctor on that day.
    ScheduleOverlap,
    /// The slot already has an active appointment (or was withdrawn).
    SlotTaken,
    /// The patient already holds an active appointment at an overlapping time.
    PatientOverlap,
    /// The doctor is not taking appointments (`is_available = false` or deactivated).
    DoctorUnavailable,
    /// The appointment (or bill) changed while the request was being handled; read it again.
    StaleStatus,
    /// A prescription is written while the appointment is IN_PROGRESS or COMPLETED.
    NotInConsultation,
    /// The appointment already has its one prescription.
    PrescriptionExists,
    /// Another request with the same `Idempotency-Key` is still running; retry shortly.
    IdempotencyInFlight,
    /// A message to a conversation that takes none any more (cancelled, or completed longer ago
    /// than the chat window).
    ChatClosed,
    /// A patient with too many recent no-shows books online (the clinic's
    /// `NO_SHOW_BOOKING_LIMIT`); the front desk still can.
    NoShowLimit,
    /// The slot lies inside time off of its doctor (or a clinic holiday).
    DoctorTimeOff,
    /// A waitlist offer holds the slot for another patient until it is answered or expires.
    SlotHeld,
    /// The waitlist offer was accepted, declined or has expired.
    OfferClosed,
    /// The patient is already on this doctor's waitlist.
    AlreadyWaiting,
    /// The clinic has registered as many webhook endpoints as it may.
    WebhookLimit,
    /// A redelivery of a delivery that is still pending (it will be sent anyway).
    DeliveryPending,
    /// A password reset link for a deactivated account (it could not sign in with it).
    UserInactive,
}

impl Conflict {
    /// The stable machine code of this conflict.
    pub fn code(self) -> &'static str {
        match self {
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::LicenseNumberTaken => "LICENSE_NUMBER_TAKEN",
            Self::DepartmentNameTaken => "DEPARTMENT_NAME_TAKEN",
            Self::ProfileExists => "PROFILE_EXISTS",
            Self::ScheduleOverlap => "SCHEDULE_OVERLAP",
            Self::SlotTaken => "SLOT_TAKEN",
            Self::PatientOverlap => "PATIENT_OVERLAP",
            Self::DoctorUnavailable => "DOCTOR_UNAVAILABLE",
            Self::StaleStatus => "STALE_STATUS",
            Self::NotInConsultation => "APPOINTMENT_NOT_IN_CONSULTATION",
            Self::PrescriptionExists => "PRESCRIPTION_EXISTS",
            Self::IdempotencyInFlight => "IDEMPOTENCY_IN_FLIGHT",
            Self::ChatClosed => "CHAT_CLOSED",
            Self::NoShowLimit => "NO_SHOW_LIMIT",
            Self::DoctorTimeOff => "DOCTOR_TIME_OFF",
            Self::SlotHeld => "SLOT_HELD",
            Self::OfferClosed => "OFFER_CLOSED",
            Self::AlreadyWaiting => "ALREADY_WAITING",
            Self::WebhookLimit => "WEBHOOK_LIMIT",
            Self::DeliveryPending => "DELIVERY_PENDING",
            Self::UserInactive => "USER_INACTIVE",
        }
    }
}

/// An infrastructure failure, kept with where it happened and its cause chain so the log of a
/// 500 shows the whole story (`ApiError::internal` walks [`std::error::Error::source`]), while
/// the client only ever sees the stable code `INTERNAL`.
#[derive(Debug, Clone)]
pub struct Unexpected {
    context: String,
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl Unexpected {
    /// What was being done (and, from adapters, the source location that did it).
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.context)
    }
}

impl std::error::Error for Unexpected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Two unexpected failures are equal when they say the same; causes are not compared.
impl PartialEq for Unexpected {
    fn eq(&self, other: &Self) -> bool {
        self.context == other.context
    }
}

impl Eq for Unexpected {}

/// Why a use case refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value broke a rule; `field` names it in the request's terms.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// The resource does not exist, or exists but the actor may not see it (the two are
    /// indistinguishable on purpose, so ids cannot be probed).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A status change the appointment's state machine does not allow from its status.
    #[error("cannot go from {from} to {to}")]
    InvalidTransition {
        from: String,
        to: String,
        allowed: Vec<String>,
    },
    /// Wrong email or password, or an inactive account: one answer for all, so logins cannot
    /// tell which accounts exist.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No valid session (token missing, expired, logged out, or user deactivated).
    #[error("not authenticated")]
    Unauthenticated,
    /// The actor's role may not perform this action at all (on resources it can see).
    #[error("forbidden")]
    Forbidden,
    /// A store needed for this action is down; the caller should retry later.
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// An infrastructure failure that is nobody's fault in the request; logged, answered 500.
    #[error("unexpected: {0}")]
    Unexpected(#[source] Unexpected),
}

impl DomainError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl DomainError {
    /// An infrastructure failure with its cause. Adapters call this through their own
    /// `#[track_caller]` helpers, so `context` names the call site.
    pub fn unexpected(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unexpected(Unexpected {
            context: context.into(),
            source: Some(std::sync::Arc::new(source)),
        })
    }

    /// An infrastructure failure that has no underlying error (a broken invariant of stored
    /// data, a writer used after close).
    pub fn broken(context: impl Into<String>) -> Self {
        Self::Unexpected(Unexpected {
            context: context.into(),
            source: None,
        })
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
