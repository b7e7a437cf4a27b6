//! Accounts, sessions and who may act: registration, login/logout, password change, staff
//! accounts and deactivation.
//!
//! A login opens a session, one per device, kept under the user's `session:{userId}` key (at most
//! [`MAX_SESSIONS_PER_USER`]; the oldest is ended when a new login would pass the cap). A request
//! is authenticated only while its token's session is stored, so logout ends that device's
//! session at once, and "log out everywhere", deactivation and a password change end all of
//! them. The session remembers the user's patient or doctor record, so no use case has to look
//! up "which patient is this user" again.

pub mod reset;
mod service;
pub mod tickets;
mod values;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use crate::text::parse_optional_text;
pub use reset::{PasswordResetRepository, PasswordResets, ResetKey};
pub use service::{IdentityService, Registration, StaffAccount};
pub use values::{parse_name, parse_phone, Email, Password, PasswordHash, Role};

use crate::audit::{AuditEvent, RequestMeta};
use crate::directory::{DoctorProfile, PatientProfile};
use crate::error::DomainError;

/// A user account as the rest of the system sees it (never with its password hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user to be inserted.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: Email,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub password_hash: PasswordHash,
}

/// How many sessions (devices) one user may hold at once.
pub const MAX_SESSIONS_PER_USER: usize = 10;

/// The acting, authenticated user of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub role: Role,
    pub session_id: Uuid,
    /// The user's patient record (patients), resolved once at login.
    pub patient_id: Option<Uuid>,
    /// The user's doctor record (doctors), resolved once at login.
    pub doctor_id: Option<Uuid>,
    pub meta: RequestMeta,
}

impl Actor {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    /// The actor's own patient record; `Forbidden` for anyone who is not a patient.
    pub fn own_patient_id(&self) -> Result<Uuid, DomainError> {
        self.patient_id.ok_or(DomainError::Forbidden)
    }

    /// The actor's own doctor record; `Forbidden` for anyone who is not a doctor.
    pub fn own_doctor_id(&self) -> Result<Uuid, DomainError> {
        self.doctor_id.ok_or(DomainError::Forbidden)
    }
}

/// One session (device) stored under `session:{userId}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    /// The user's patient record, when it is a patient.
    #[serde(default)]
    pub patient_id: Option<Uuid>,
    /// The user's doctor record, when it is a doctor.
    #[serde(default)]
    pub doctor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Accounts in PostgreSQL. Every mutating method writes its audit events in the same
/// transaction as the change.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Inserts a PATIENT user with its profile. `Conflict(EmailTaken)` when the email exists.
    async fn create_patient(
        &self,
        user: NewUser,
        profile: PatientProfile,
        events: Vec<AuditEvent>,
    ) -> Result<User, DomainError>;

    /// Inserts a staff user, with its doctor profile when the role is DOCTOR.
    /// `Conflict(EmailTaken)` / `Conflict(LicenseNumberTaken)` on duplicates.
    async fn create_staff(
        &self,
        user: NewUser,
        doctor: Option<DoctorProfile>,
        events: Vec<AuditEvent>,
    ) -> Result<User, DomainError>;

    /// The user and its password hash, by (normalised) email.
    async fn find_credentials(
        &self,
        email: &Email,
    ) -> Result<Option<(User, PasswordHash)>, DomainError>;

    /// The password hash of a user, by id.
    async fn find_password_hash(&self, user_id: Uuid) -> Result<Option<PasswordHash>, DomainError>;

    async fn find_user(&self, user_id: Uuid) -> Result<Option<User>, DomainError>;

    /// Replaces the password hash.
    async fn update_password(
        &self,
        user_id: Uuid,
        hash: PasswordHash,
        event: AuditEvent,
    ) -> Result<(), DomainError>;

    /// Activates or deactivates; returns the user after the change (`NotFound` if absent).
    async fn set_active(
        &self,
        user_id: Uuid,
        active: bool,
        event: AuditEvent,
    ) -> Result<User, DomainError>;

    /// Records an event that changes no row (LOGIN, LOGOUT).
    async fn record(&self, event: AuditEvent) -> Result<(), DomainError>;

    /// The user's patient and doctor record ids (each `None` when it has none).
    async fn profile_ids(&self, user_id: Uuid)
        -> Result<(Option<Uuid>, Option<Uuid>), DomainError>;
}

/// Sessions in Redis, several per user under `session:{userId}`. Every method returns
/// `Unavailable("session store")` when Redis is down: nobody is let in without a session check.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Adds the session beside the user's others, kept at least until its `expires_at`.
    async fn put(&self, session: &Session) -> Result<(), DomainError>;
    /// One session of the user (`None` when ended or never there; expiry is the caller's check).
    async fn get(&self, user_id: Uuid, session_id: Uuid) -> Result<Option<Session>, DomainError>;
    /// All stored sessions of the user, expired ones included.
    async fn list(&self, user_id: Uuid) -> Result<Vec<Session>, DomainError>;
    /// Ends these sessions of the user.
    async fn delete(&self, user_id: Uuid, session_ids: &[Uuid]) -> Result<(), DomainError>;
    /// Ends every session of the user.
    async fn delete_all(&self, user_id: Uuid) -> Result<(), DomainError>;
}

/// Argon2id hashing (CPU-heavy: implementations run it off the async threads).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, DomainError>;
    /// Whether `candidate` matches `hash`. Never errors on a mismatch.
    async fn verify(&self, candidate: &str, hash: &PasswordHash) -> bool;
}
