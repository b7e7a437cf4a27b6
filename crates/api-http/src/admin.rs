//! Bootstrapping the first admin: `healthsync create-admin`. There is no default account or
//! password; the first admin is created by whoever runs the binary with database access.

use std::sync::Arc;

use adapters_postgres::pool::{build_pool, PgPoolConfig};
use adapters_postgres::PgUserRepository;
use domain::audit::{AuditAction, AuditEvent, RequestMeta};
use domain::identity::{Email, NewUser, Password, PasswordHasher, Role, User, UserRepository};
use uuid::Uuid;

use crate::auth::password::Argon2Hasher;
use crate::config::Config;

/// The parsed account of a new admin.
pub struct AdminAccount {
    pub email: Email,
    pub password: Password,
    pub name: String,
}

pub fn first_admin(email: Email, password: Password, name: String) -> AdminAccount {
    AdminAccount {
        email,
        password,
        name,
    }
}

/// Inserts an ADMIN user (audited as created by the system, i.e. no acting user).
pub async fn create_admin(config: &Config, account: AdminAccount) -> anyhow::Result<User> {
    let pool = build_pool(&PgPoolConfig {
        url: config.database_url.clone(),
        max_size: 1,
        timeout: config.store_timeout(),
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    let users: Arc<dyn UserRepository> = Arc::new(PgUserRepository { pool });
    let id = Uuid::new_v4();
    let password_hash = Argon2Hasher
        .hash(&account.password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let event = AuditEvent::new(None, AuditAction::Create, "user", Some(id), &RequestMeta::default()).after(serde_json::json!({
        "email": account.email.as_str(), "name": account.name, "role": Role::Admin, "via": "create-admin",
    }));
    let user = NewUser {
        id,
        email: account.email,
        name: account.name,
        phone: None,
        role: Role::Admin,
        password_hash,
    };
    users
        .create_staff(user, None, vec![event])
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
