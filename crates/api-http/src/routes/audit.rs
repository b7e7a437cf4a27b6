//! The admin search over MongoDB `audit_logs`.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::audit::{AuditAction, AuditQuery, AuditRecord};
use domain::paging::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::LazyQuery;
use crate::routes::dto::AuditLogPage;
use crate::state::AppState;
use domain::access::Permission;

/// One audit entry, as stored in `audit_logs`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogDto {
    pub user_id: Option<Uuid>,
    pub action: AuditAction,
    #[schema(example = "user")]
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub changes: AuditChangesDto,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditChangesDto {
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditRecord> for AuditLogDto {
    fn from(r: AuditRecord) -> Self {
        Self {
            user_id: r.user_id,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            changes: AuditChangesDto {
                before: r.before,
                after: r.after,
            },
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            timestamp: r.timestamp,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditSearchQuery {
    pub user_id: Option<Uuid>,
    /// `user`, `patient`, `doctor`, `department`, `appointment`, `medical_record`, ...
    #[param(max_length = 40, pattern = r"^[a-z_]{1,40}$")]
    pub entity: Option<String>,
    pub entity_id: Option<Uuid>,
    /// CREATE, UPDATE, DELETE, LOGIN or LOGOUT.
    pub action: Option<AuditAction>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// 1-based page number, up to 500; deeper pages are read with `cursor`.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Items per page, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// Read the page that starts after this position: the `nextCursor` of the page before,
    /// passed back as it is with the same filters (instead of `page`).
    #[param(
        max_length = 994,
        pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$"
    )]
    pub cursor: Option<String>,
}

/// Search the audit log (admins only), newest first.
#[utoipa::path(operation_id = "searchAuditLog", tag = "audit", security(("bearer" = [])), params(AuditSearchQuery),
    responses(
        (status = 200, description = "A page of audit entries", body = AuditLogPage),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "MongoDB down", body = ErrorBody),
    ))]
#[get("/audit-logs")]
pub async fn search(
    state: web::Data<AppState>,
    user: AuthUser,
    query: LazyQuery<AuditSearchQuery>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::SearchAudit)?;
    let q = query.parse()?;
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let criteria = AuditQuery {
        user_id: q.user_id,
        entity: domain::audit::parse_entity_filter(q.entity.as_deref())?,
        entity_id: q.entity_id,
        action: q.action,
        from: q.from,
        to: q.to,
    };
    let found = domain::audit::search(&state.audit_log, criteria, page).await?;
    Ok(HttpResponse::Ok().json(AuditLogPage::from(found)))
}
