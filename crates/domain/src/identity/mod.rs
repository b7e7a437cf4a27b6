//! Accounts, sessions and who may act: registration, login/logout, password change, staff
//! accounts and deactivation.
//!
//! A login creates one session at `session:{userId}` (a new login replaces the previous
//! session). A request is authenticated only while its token's session id matches the stored
//! session, so logout, deactivation and a password change end access at once.

mod service;
mod values;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use crate::text::parse_optional_text;
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

/// The acting, authenticated user of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub role: Role,
    pub session_id: Uuid,
    pub meta: RequestMeta,
}

impl Actor {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }
}

/// The session stored at `session:{userId}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
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
}

/// Sessions in Redis. Every method returns `Unavailable("session store")` when Redis is down:
/// nobody is let in without a session check.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores the session until its `expires_at`, replacing any previous one of the user.
    async fn put(&self, session: &Session) -> Result<(), DomainError>;
    async fn get(&self, user_id: Uuid) -> Result<Option<Session>, DomainError>;
    async fn delete(&self, user_id: Uuid) -> Result<(), DomainError>;
}

/// Argon2id hashing (CPU-heavy: implementations run it off the async threads).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, DomainError>;
    /// Whether `candidate` matches `hash`. Never errors on a mismatch.
    async fn verify(&self, candidate: &str, hash: &PasswordHash) -> bool;
}
