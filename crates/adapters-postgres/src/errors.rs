//! Driver errors -> domain errors. Constraint violations the domain knows become their
//! business meaning; an unreachable database becomes `Unavailable`; the rest is `Unexpected`
//! (logged by the HTTP layer, never shown to clients).

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;
use domain::error::{Conflict, DomainError};

/// Maps a query error, turning known unique constraints into conflicts. Anything else keeps
/// the driver error as its source and the caller's file and line as its context (this is
/// `#[track_caller]`, and so are the `?` conversion into [`TxError`] and [`DbResultExt::db`]).
#[track_caller]
pub fn map_diesel(error: DieselError) -> DomainError {
    if let DieselError::DatabaseError(kind, info) = &error {
        // Constraints the domain knows by name, whatever their kind (unique, exclusion, FK).
        let known = match info.constraint_name() {
            Some("users_email_key") => Some(DomainError::Conflict(Conflict::EmailTaken)),
            Some("doctors_license_number_key") => {
                Some(DomainError::Conflict(Conflict::LicenseNumberTaken))
            }
            Some("departments_name_key") => {
                Some(DomainError::Conflict(Conflict::DepartmentNameTaken))
            }
            Some("patients_user_id_key" | "doctors_user_id_key") => {
                Some(DomainError::Conflict(Conflict::ProfileExists))
            }
            Some("schedules_no_overlap") => Some(DomainError::Conflict(Conflict::ScheduleOverlap)),
            Some("appointments_active_slot_key") => {
                Some(DomainError::Conflict(Conflict::SlotTaken))
            }
            Some("prescriptions_appointment_id_key") => {
                Some(DomainError::Conflict(Conflict::PrescriptionExists))
            }
            Some("appointments_patient_no_overlap") => {
                Some(DomainError::Conflict(Conflict::PatientOverlap))
            }
            Some("waitlist_entries_one_active_key") => {
                Some(DomainError::Conflict(Conflict::AlreadyWaiting))
            }
            Some("waitlist_offers_one_open_per_slot_key") => {
                Some(DomainError::Conflict(Conflict::SlotHeld))
            }
            Some("doctor_departments_department_id_fkey") => Some(DomainError::validation(
                "departmentIds",
                "unknown department",
            )),
            _ => None,
        };
        if let Some(mapped) = known {
            return mapped;
        }
        if matches!(kind, DatabaseErrorKind::ClosedConnection) {
            return DomainError::Unavailable("database");
        }
        // Two transactions that locked rows in opposite orders (every path takes slots by
        // start, then offers, then entries, so this is rare): PostgreSQL aborted this one, and
        // the same request succeeds when sent again. 503 with Retry-After says exactly that.
        if matches!(kind, DatabaseErrorKind::SerializationFailure)
            || info.message().starts_with("deadlock detected")
        {
            tracing::warn!(
                message = info.message(),
                "transaction aborted by a lock conflict; the client may retry"
            );
            return DomainError::Unavailable("database");
        }
    }
    let at = std::panic::Location::caller();
    DomainError::unexpected(
        format!("PostgreSQL query failed at {}:{}", at.file(), at.line()),
        error,
    )
}

/// `.db()` on a diesel result: [`map_diesel`] with the call site as context.
pub trait DbResultExt<T> {
    fn db(self) -> Result<T, DomainError>;
}

impl<T> DbResultExt<T> for Result<T, DieselError> {
    #[track_caller]
    fn db(self) -> Result<T, DomainError> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(map_diesel(e)),
        }
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
    #[track_caller]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failing() -> Result<(), DieselError> {
        Err(DieselError::BrokenTransactionManager)
    }

    fn through_question_mark() -> (Result<(), TxError>, u32) {
        let line = line!() + 1;
        let r = (|| -> Result<(), TxError> { Ok(failing()?) })();
        (r, line)
    }

    #[test]
    fn an_unexpected_driver_error_names_the_adapter_line_that_ran_it_and_keeps_its_source() {
        let line = line!() + 1;
        let by_db = failing().db().unwrap_err();
        let (tx, tx_line) = through_question_mark();
        for (err, at) in [(by_db, line), (DomainError::from(tx.unwrap_err()), tx_line)] {
            let DomainError::Unexpected(cause) = err else {
                panic!("not unexpected");
            };
            assert!(
                cause.context().ends_with(&format!("errors.rs:{at}")),
                "{} (expected line {at})",
                cause.context()
            );
            let source = std::error::Error::source(&cause).map(|s| s.to_string());
            assert!(source.is_some_and(|s| !s.is_empty()), "no source");
        }
    }
}
