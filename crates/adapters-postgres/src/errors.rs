//! Driver errors -> domain errors. Constraint violations the domain knows become their
//! business meaning; an unreachable database becomes `Unavailable`; the rest is `Unexpected`
//! (logged by the HTTP layer, never shown to clients).

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;
use domain::error::{Conflict, DomainError};

/// Maps a query error, turning known unique constraints into conflicts.
pub fn map_diesel(error: DieselError) -> DomainError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => match info
            .constraint_name()
        {
            Some("users_email_key") => DomainError::Conflict(Conflict::EmailTaken),
            Some("doctors_license_number_key") => {
                DomainError::Conflict(Conflict::LicenseNumberTaken)
            }
            Some("departments_name_key") => DomainError::Conflict(Conflict::DepartmentNameTaken),
            Some("patients_user_id_key" | "doctors_user_id_key") => {
                DomainError::Conflict(Conflict::ProfileExists)
            }
            _ => DomainError::Unexpected(error.to_string()),
        },
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            DomainError::Unavailable("database")
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)
            if info.constraint_name() == Some("doctor_departments_department_id_fkey") =>
        {
            DomainError::validation("departmentIds", "unknown department")
        }
        _ => DomainError::Unexpected(error.to_string()),
    }
}

/// No connection could be had: the database is down or saturated.
pub fn map_pool(error: PoolError) -> DomainError {
    tracing::warn!(error = %crate::pool::pool_error_kind(&error), "PostgreSQL unavailable");
    DomainError::Unavailable("database")
}

/// Transactions need one error type that both diesel and the domain convert into.
#[derive(Debug)]
pub struct TxError(pub DomainError);

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        Self(map_diesel(e))
    }
}

impl From<DomainError> for TxError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl From<TxError> for DomainError {
    fn from(e: TxError) -> Self {
        e.0
    }
}
