//! The identity use cases: one public method per user action.

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

use super::{
    Actor, Email, NewUser, Password, PasswordHash, PasswordHasher, Role, Session, SessionStore,
    User, UserRepository,
};
use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent, RequestMeta};
use crate::clock::Clock;
use crate::directory::{DoctorProfile, PatientProfile};
use crate::error::DomainError;

/// A patient's self-registration, already parsed.
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub name: String,
    pub phone: Option<String>,
    pub profile: PatientProfile,
}

/// A staff account an admin creates; `doctor` is required exactly when `role` is DOCTOR.
#[derive(Debug, Clone)]
pub struct StaffAccount {
    pub email: Email,
    pub password: Password,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub doctor: Option<DoctorProfile>,
}

pub struct IdentityService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionStore>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    session_ttl: Duration,
    /// A valid hash of a random password, verified when the email is unknown so a failed
    /// login takes as long whether or not the account exists.
    decoy_hash: PasswordHash,
}

impl IdentityService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionStore>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        session_ttl: Duration,
        decoy_hash: PasswordHash,
    ) -> Self {
        Self {
            users,
            sessions,
            hasher,
            clock,
            session_ttl,
            decoy_hash,
        }
    }
}

/// The sessions a new login ends: the expired ones, and the oldest live ones beyond
/// [`MAX_SESSIONS_PER_USER`] - 1, so the new one fits under the cap.
pub fn sessions_to_end(existing: &[Session], now: chrono::DateTime<chrono::Utc>) -> Vec<Uuid> {
    let (mut live, expired): (Vec<&Session>, Vec<&Session>) =
        existing.iter().partition(|s| s.expires_at > now);
    let mut end: Vec<Uuid> = expired.iter().map(|s| s.session_id).collect();
    live.sort_by_key(|s| s.issued_at);
    let over = (live.len() + 1).saturating_sub(super::MAX_SESSIONS_PER_USER);
    end.extend(live.iter().take(over).map(|s| s.session_id));
    end
}

/// The audit picture of a user: what changed, never the password hash.
pub fn user_snapshot(user: &User) -> serde_json::Value {
    json!({
        "id": user.id, "email": user.email, "name": user.name, "phone": user.phone,
        "role": user.role, "isActive": user.is_active,
    })
}

impl IdentityService {
    /// A patient registers itself: the user and its patient profile in one transaction.
    #[tracing::instrument(name = "identity.register_patient", skip_all)]
    pub async fn register_patient(
        &self,
        registration: Registration,
        meta: &RequestMeta,
    ) -> Result<User, DomainError> {
        self.insert_patient(None, registration, meta).await
    }

    /// Today's date (UTC) by the service's clock: the bound for a date of birth.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.now().date_naive()
    }

    /// The front desk registers a patient (receptionists and admins).
    #[tracing::instrument(name = "identity.register_patient_for", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn register_patient_for(
        &self,
        actor: &Actor,
        registration: Registration,
    ) -> Result<User, DomainError> {
        actor.require(Permission::RegisterPatients)?;
        self.insert_patient(Some(actor.user_id), registration, &actor.meta)
            .await
    }

    async fn insert_patient(
        &self,
        by: Option<Uuid>,
        registration: Registration,
        meta: &RequestMeta,
    ) -> Result<User, DomainError> {
        let id = Uuid::new_v4();
        let password_hash = self.hasher.hash(&registration.password).await?;
        let user = NewUser {
            id,
            email: registration.email,
            name: registration.name,
            phone: registration.phone,
            role: Role::Patient,
            password_hash,
        };
        let event = AuditEvent::new(
            Some(by.unwrap_or(id)),
            AuditAction::Create,
            "user",
            Some(id),
            meta,
        )
        .after(json!({
            "email": user.email.as_str(), "name": user.name, "role": Role::Patient,
            "patient": registration.profile.snapshot(),
        }));
        self.users
            .create_patient(user, registration.profile, vec![event])
            .await
    }

    /// An admin creates a staff account (DOCTOR with its profile, RECEPTIONIST, ADMIN).
    #[tracing::instrument(name = "identity.create_staff", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn create_staff(
        &self,
        actor: &Actor,
        account: StaffAccount,
    ) -> Result<User, DomainError> {
        actor.require(Permission::ManageUsers)?;
        match (account.role, &account.doctor) {
            (Role::Patient, _) => {
                return Err(DomainError::validation(
                    "role",
                    "patients register themselves; staff roles are ADMIN, DOCTOR, RECEPTIONIST",
                ))
            }
            (Role::Doctor, None) => {
                return Err(DomainError::validation(
                    "doctor",
                    "a DOCTOR account needs its doctor profile",
                ))
            }
            (Role::Admin | Role::Receptionist, Some(_)) => {
                return Err(DomainError::validation(
                    "doctor",
                    "only DOCTOR accounts have a doctor profile",
                ))
            }
            _ => {}
        }
        let id = Uuid::new_v4();
        let password_hash = self.hasher.hash(&account.password).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "user",
            Some(id),
            &actor.meta,
        )
        .after(json!({
            "email": account.email.as_str(), "name": account.name, "role": account.role,
            "doctor": account.doctor.as_ref().map(DoctorProfile::snapshot),
        }));
        let user = NewUser {
            id,
            email: account.email,
            name: account.name,
            phone: account.phone,
            role: account.role,
            password_hash,
        };
        self.users
            .create_staff(user, account.doctor, vec![event])
            .await
    }

    /// Verifies the credentials and opens a session; returns it with the user it belongs to. Every failure (unknown email, wrong
    /// password, inactive account) is the same `InvalidCredentials`, in about the same time.
    #[tracing::instrument(name = "identity.login", skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(Session, User), DomainError> {
        // Longer than any address or password there can be: refused before any hashing. This
        // says nothing about accounts (the limits are public), and the time is not spent.
        if email.len() > Email::MAX_LEN {
            return Err(DomainError::validation(
                "email",
                "must be at most 254 characters",
            ));
        }
        if password.chars().count() > Password::MAX_LEN {
            return Err(DomainError::validation(
                "password",
                "must be at most 128 characters",
            ));
        }
        let found = match Email::parse(email) {
            Ok(email) => self.users.find_credentials(&email).await?,
            Err(_) => None,
        };
        let Some((user, hash)) = found else {
            let _ = self.hasher.verify(password, &self.decoy_hash).await;
            return Err(DomainError::InvalidCredentials);
        };
        if !self.hasher.verify(password, &hash).await || !user.is_active {
            return Err(DomainError::InvalidCredentials);
        }
        let now = self.clock.now();
        let (patient_id, doctor_id) = self.users.profile_ids(user.id).await?;
        let session = Session {
            session_id: Uuid::new_v4(),
            user_id: user.id,
            role: user.role,
            patient_id,
            doctor_id,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            issued_at: now,
            expires_at: now + self.session_ttl,
        };
        let existing = self.sessions.list(user.id).await?;
        self.sessions
            .delete(user.id, &sessions_to_end(&existing, now))
            .await?;
        self.sessions.put(&session).await?;
        self.users
            .record(AuditEvent::new(
                Some(user.id),
                AuditAction::Login,
                "user",
                Some(user.id),
                meta,
            ))
            .await?;
        Ok((session, user))
    }

    /// Checks that a token's session is still one of the user's live sessions.
    #[tracing::instrument(name = "identity.authenticate", skip_all, fields(user_id = %user_id, session_id = %session_id))]
    pub async fn authenticate(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        meta: RequestMeta,
    ) -> Result<Actor, DomainError> {
        match self.sessions.get(user_id, session_id).await? {
            Some(session) if session.expires_at > self.clock.now() => {
                let (patient_id, doctor_id) = match session.role {
                    // A session stored before profile ids were kept in it: look them up.
                    Role::Patient if session.patient_id.is_none() => {
                        self.users.profile_ids(user_id).await?
                    }
                    Role::Doctor if session.doctor_id.is_none() => {
                        self.users.profile_ids(user_id).await?
                    }
                    _ => (session.patient_id, session.doctor_id),
                };
                Ok(Actor {
                    user_id,
                    role: session.role,
                    session_id,
                    patient_id,
                    doctor_id,
                    meta,
                })
            }
            _ => Err(DomainError::Unauthenticated),
        }
    }

    /// Ends the actor's session on this device.
    #[tracing::instrument(name = "identity.logout", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn logout(&self, actor: &Actor) -> Result<(), DomainError> {
        self.sessions
            .delete(actor.user_id, &[actor.session_id])
            .await?;
        self.record_logout(actor, json!({ "sessions": [actor.session_id] }))
            .await
    }

    /// Ends every session of the actor, on every device.
    #[tracing::instrument(name = "identity.logout_everywhere", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn logout_everywhere(&self, actor: &Actor) -> Result<(), DomainError> {
        self.sessions.delete_all(actor.user_id).await?;
        self.record_logout(actor, json!({ "sessions": "all" }))
            .await
    }

    /// The actor's live sessions, newest first.
    #[tracing::instrument(name = "identity.sessions", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn sessions(&self, actor: &Actor) -> Result<Vec<Session>, DomainError> {
        let now = self.clock.now();
        let mut live: Vec<Session> = self
            .sessions
            .list(actor.user_id)
            .await?
            .into_iter()
            .filter(|s| s.expires_at > now)
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse(s.issued_at));
        Ok(live)
    }

    /// Ends one of the actor's sessions (another device, or this one). Someone else's session
    /// id is `NotFound`.
    #[tracing::instrument(name = "identity.end_session", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, session_id = %session_id))]
    pub async fn end_session(&self, actor: &Actor, session_id: Uuid) -> Result<(), DomainError> {
        if !self
            .sessions(actor)
            .await?
            .iter()
            .any(|s| s.session_id == session_id)
        {
            return Err(DomainError::NotFound("session"));
        }
        self.sessions.delete(actor.user_id, &[session_id]).await?;
        self.record_logout(actor, json!({ "sessions": [session_id] }))
            .await
    }

    async fn record_logout(
        &self,
        actor: &Actor,
        ended: serde_json::Value,
    ) -> Result<(), DomainError> {
        self.users
            .record(
                AuditEvent::new(
                    Some(actor.user_id),
                    AuditAction::Logout,
                    "user",
                    Some(actor.user_id),
                    &actor.meta,
                )
                .after(ended),
            )
            .await
    }

    /// The actor's own account.
    #[tracing::instrument(name = "identity.me", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn me(&self, actor: &Actor) -> Result<User, DomainError> {
        self.users
            .find_user(actor.user_id)
            .await?
            .ok_or(DomainError::Unauthenticated)
    }

    /// Changes the actor's password after checking the current one; ends the session.
    #[tracing::instrument(name = "identity.change_password", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: Password,
    ) -> Result<(), DomainError> {
        let hash = self
            .users
            .find_password_hash(actor.user_id)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        if current.chars().count() > Password::MAX_LEN || !self.hasher.verify(current, &hash).await
        {
            return Err(DomainError::validation(
                "currentPassword",
                "the current password is wrong",
            ));
        }
        if new.expose() == current {
            return Err(DomainError::validation(
                "newPassword",
                "must differ from the current password",
            ));
        }
        let new_hash = self.hasher.hash(&new).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "user",
            Some(actor.user_id),
            &actor.meta,
        )
        .before(json!({ "password": "changed" }))
        .after(json!({ "password": "changed" }));
        self.users
            .update_password(actor.user_id, new_hash, event)
            .await?;
        self.sessions.delete_all(actor.user_id).await
    }

    /// An admin activates or deactivates a user; deactivation ends its session at once.
    #[tracing::instrument(name = "identity.set_active", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, user_id = %user_id))]
    pub async fn set_active(
        &self,
        actor: &Actor,
        user_id: Uuid,
        active: bool,
    ) -> Result<User, DomainError> {
        actor.require(Permission::ManageUsers)?;
        if user_id == actor.user_id && !active {
            return Err(DomainError::validation(
                "isActive",
                "an admin cannot deactivate itself",
            ));
        }
        let before = self
            .users
            .find_user(user_id)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        let mut after = before.clone();
        after.is_active = active;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "user",
            Some(user_id),
            &actor.meta,
        )
        .before(user_snapshot(&before))
        .after(user_snapshot(&after));
        let user = self.users.set_active(user_id, active, event).await?;
        if !active {
            self.sessions.delete_all(user_id).await?;
        }
        Ok(user)
    }

    /// A user by id: admins see anyone, other users only themselves.
    #[tracing::instrument(name = "identity.get_user", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, user_id = %user_id))]
    pub async fn get_user(&self, actor: &Actor, user_id: Uuid) -> Result<User, DomainError> {
        if !actor.is(Role::Admin) && actor.user_id != user_id {
            return Err(DomainError::NotFound("user"));
        }
        self.users
            .find_user(user_id)
            .await?
            .ok_or(DomainError::NotFound("user"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::identity::{MockPasswordHasher, MockSessionStore, MockUserRepository};
    use chrono::{TimeZone, Utc};

    fn user(role: Role, active: bool) -> User {
        let t = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
        User {
            id: Uuid::new_v4(),
            email: "a@b.org".into(),
            name: "A".into(),
            phone: None,
            role,
            is_active: active,
            created_at: t,
            updated_at: t,
        }
    }

    fn service(
        users: MockUserRepository,
        sessions: MockSessionStore,
        hasher: MockPasswordHasher,
    ) -> IdentityService {
        IdentityService {
            users: Arc::new(users),
            sessions: Arc::new(sessions),
            hasher: Arc::new(hasher),
            clock: Arc::new(FixedClock(
                Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap(),
            )),
            session_ttl: Duration::hours(24),
            decoy_hash: PasswordHash("decoy".into()),
        }
    }

    use crate::testing::actor;

    #[tokio::test]
    async fn login_with_an_unknown_email_checks_the_decoy_hash_and_says_invalid_credentials() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_verify()
            .withf(|_, h| h.0 == "decoy")
            .times(1)
            .returning(|_, _| false);
        let err = service(users, MockSessionStore::new(), hasher)
            .login("nobody@x.org", "pw", &RequestMeta::default())
            .await;
        assert_eq!(err, Err(DomainError::InvalidCredentials));
    }

    #[tokio::test]
    async fn an_overlong_login_is_refused_before_any_lookup_or_hashing() {
        // No expectation set: a store lookup or a hash would panic the mocks.
        let service = service(
            MockUserRepository::new(),
            MockSessionStore::new(),
            MockPasswordHasher::new(),
        );
        let meta = RequestMeta::default();
        let long_email = format!("{}@x.org", "a".repeat(250));
        let err = service.login(&long_email, "pw", &meta).await.unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "email"));
        let err = service
            .login("a@b.org", &"p1".repeat(65), &meta)
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "password"));
    }

    #[tokio::test]
    async fn an_inactive_account_cannot_log_in_even_with_the_right_password() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_credentials()
            .returning(|_| Ok(Some((user(Role::Patient, false), PasswordHash("h".into())))));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| true);
        let sessions = MockSessionStore::new(); // put must not be called
        let err = service(users, sessions, hasher)
            .login("a@b.org", "right", &RequestMeta::default())
            .await;
        assert_eq!(err, Err(DomainError::InvalidCredentials));
    }

    #[tokio::test]
    async fn login_stores_a_24h_session_and_audits_the_login() {
        let u = user(Role::Doctor, true);
        let uid = u.id;
        let mut users = MockUserRepository::new();
        users
            .expect_find_credentials()
            .returning(move |_| Ok(Some((u.clone(), PasswordHash("h".into())))));
        users
            .expect_record()
            .withf(move |e| e.action == AuditAction::Login && e.user_id == Some(uid))
            .times(1)
            .returning(|_| Ok(()));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| true);
        let doctor_id = Uuid::new_v4();
        users
            .expect_profile_ids()
            .returning(move |_| Ok((None, Some(doctor_id))));
        let mut sessions = MockSessionStore::new();
        sessions.expect_list().returning(|_| Ok(vec![]));
        sessions
            .expect_delete()
            .withf(|_, ids| ids.is_empty())
            .returning(|_, _| Ok(()));
        sessions
            .expect_put()
            .withf(move |s| {
                s.user_id == uid
                    && s.expires_at - s.issued_at == Duration::hours(24)
                    && s.role == Role::Doctor
                    && s.doctor_id == Some(doctor_id)
            })
            .times(1)
            .returning(|_| Ok(()));
        let (session, _) = service(users, sessions, hasher)
            .login("A@B.org", "right", &RequestMeta::default())
            .await
            .unwrap();
        assert_eq!(session.user_id, uid);
    }

    #[tokio::test]
    async fn an_ended_or_expired_session_is_unauthenticated_and_redis_down_is_unavailable() {
        let uid = Uuid::new_v4();
        let mut sessions = MockSessionStore::new();
        let mut seq = mockall::Sequence::new();
        sessions
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        sessions
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| {
                let t = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
                Ok(Some(Session {
                    session_id: Uuid::new_v4(),
                    user_id: uid,
                    role: Role::Patient,
                    patient_id: Some(Uuid::new_v4()),
                    doctor_id: None,
                    ip: None,
                    user_agent: None,
                    // Expired: the clock of these tests is later.
                    issued_at: t - Duration::days(3650),
                    expires_at: t - Duration::days(3649),
                }))
            });
        sessions
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(DomainError::Unavailable("session store")));
        let svc = service(
            MockUserRepository::new(),
            sessions,
            MockPasswordHasher::new(),
        );
        let sid = Uuid::new_v4();
        assert_eq!(
            svc.authenticate(uid, sid, RequestMeta::default()).await,
            Err(DomainError::Unauthenticated)
        );
        assert_eq!(
            svc.authenticate(uid, sid, RequestMeta::default()).await,
            Err(DomainError::Unauthenticated)
        );
        assert_eq!(
            svc.authenticate(uid, sid, RequestMeta::default()).await,
            Err(DomainError::Unavailable("session store"))
        );
    }

    fn session_at(user_id: Uuid, issued_minutes_ago: i64, ttl_minutes: i64) -> Session {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
        let issued_at = now - Duration::minutes(issued_minutes_ago);
        Session {
            session_id: Uuid::new_v4(),
            user_id,
            role: Role::Patient,
            patient_id: None,
            doctor_id: None,
            ip: None,
            user_agent: None,
            issued_at,
            expires_at: issued_at + Duration::minutes(ttl_minutes),
        }
    }

    #[test]
    fn a_new_login_ends_the_expired_sessions_and_the_oldest_beyond_the_cap() {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
        let uid = Uuid::new_v4();
        let expired = session_at(uid, 120, 60);
        let live: Vec<Session> = (0..super::super::MAX_SESSIONS_PER_USER as i64)
            .map(|i| session_at(uid, 10 + i, 600))
            .collect();
        let oldest_live = live.last().unwrap().session_id;
        let mut all = live.clone();
        all.push(expired.clone());
        let ended = sessions_to_end(&all, now);
        assert_eq!(ended.len(), 2, "the expired one and the oldest live one");
        assert!(ended.contains(&expired.session_id) && ended.contains(&oldest_live));
        // Under the cap nothing live is ended.
        assert!(sessions_to_end(&live[..3], now).is_empty());
    }

    #[tokio::test]
    async fn only_admins_create_staff_and_patients_are_not_staff() {
        let svc = service(
            MockUserRepository::new(),
            MockSessionStore::new(),
            MockPasswordHasher::new(),
        );
        let account = StaffAccount {
            email: Email::parse("r@x.org").unwrap(),
            password: Password::parse("password123", "password").unwrap(),
            name: "R".into(),
            phone: None,
            role: Role::Receptionist,
            doctor: None,
        };
        assert_eq!(
            svc.create_staff(&actor(Role::Receptionist), account.clone())
                .await,
            Err(DomainError::Forbidden)
        );
        let patient = StaffAccount {
            role: Role::Patient,
            ..account.clone()
        };
        assert!(matches!(
            svc.create_staff(&actor(Role::Admin), patient).await,
            Err(DomainError::Validation { .. })
        ));
        let doctor_without_profile = StaffAccount {
            role: Role::Doctor,
            ..account
        };
        assert!(matches!(
            svc.create_staff(&actor(Role::Admin), doctor_without_profile).await,
            Err(DomainError::Validation { ref field, .. }) if field == "doctor"
        ));
    }

    #[tokio::test]
    async fn deactivation_ends_the_session_and_is_audited_with_before_and_after() {
        let target = user(Role::Receptionist, true);
        let tid = target.id;
        let mut users = MockUserRepository::new();
        let t2 = target.clone();
        users
            .expect_find_user()
            .returning(move |_| Ok(Some(t2.clone())));
        users
            .expect_set_active()
            .withf(|_, active, e| {
                !active
                    && e.before.as_ref().unwrap()["isActive"] == true
                    && e.after.as_ref().unwrap()["isActive"] == false
            })
            .times(1)
            .returning(move |_, _, _| {
                Ok(User {
                    is_active: false,
                    ..target.clone()
                })
            });
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_delete_all()
            .withf(move |id| *id == tid)
            .times(1)
            .returning(|_| Ok(()));
        let svc = service(users, sessions, MockPasswordHasher::new());
        let user = svc
            .set_active(&actor(Role::Admin), tid, false)
            .await
            .unwrap();
        assert!(!user.is_active);
    }

    #[tokio::test]
    async fn other_users_are_not_found_for_non_admins() {
        let svc = service(
            MockUserRepository::new(),
            MockSessionStore::new(),
            MockPasswordHasher::new(),
        );
        assert_eq!(
            svc.get_user(&actor(Role::Doctor), Uuid::new_v4()).await,
            Err(DomainError::NotFound("user"))
        );
    }
}
