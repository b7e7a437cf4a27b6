//! The calendar the clinic works in. chrono accepts years from -262143 to 262142; the stores do
//! not (PostgreSQL timestamps end in 294276, MongoDB dates are milliseconds in an i64), and no
//! appointment, bill or audit entry lies outside 1900-9999. Every date or instant a client sends
//! to filter or book by is checked here first, so an absurd year is a 422 naming the field
//! instead of a database error.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::error::DomainError;

/// The first year a client may name.
pub const EARLIEST_YEAR: i32 = 1900;
/// The last year a client may name.
pub const LATEST_YEAR: i32 = 9999;

fn out_of_range(field: &str) -> DomainError {
    DomainError::validation(
        field,
        format!("must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}"),
    )
}

/// A calendar date within the years the clinic works in.
pub fn check_date(field: &str, date: NaiveDate) -> Result<(), DomainError> {
    if (EARLIEST_YEAR..=LATEST_YEAR).contains(&date.year()) {
        Ok(())
    } else {
        Err(out_of_range(field))
    }
}

/// An instant within the years the clinic works in.
pub fn check_instant(field: &str, at: DateTime<Utc>) -> Result<(), DomainError> {
    check_date(field, at.date_naive())
}

/// A `from`/`to` filter: each bound in range, and `from` not after `to`.
pub fn check_window(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(), DomainError> {
    if let Some(from) = from {
        check_instant("from", from)?;
    }
    if let Some(to) = to {
        check_instant("to", to)?;
    }
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(DomainError::validation("from", "from must not be after to"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn years_outside_1900_to_9999_are_refused_naming_the_field() {
        let at = |y| Utc.with_ymd_and_hms(y, 6, 1, 0, 0, 0).unwrap();
        assert!(check_window(Some(at(2026)), Some(at(2027))).is_ok());
        assert!(check_window(None, None).is_ok());
        for (from, to, field) in [
            (Some(at(-5000)), None, "from"),
            (None, Some(at(200_000)), "to"),
            (Some(at(1899)), Some(at(2000)), "from"),
            (Some(at(2027)), Some(at(2026)), "from"),
        ] {
            let err = check_window(from, to).unwrap_err();
            assert!(
                matches!(&err, DomainError::Validation { field: f, .. } if f == field),
                "{err:?}"
            );
        }
        let date = |y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
        assert!(check_date("date", date(9999)).is_ok());
        assert!(check_date("date", date(10_000)).is_err());
        assert!(check_date("date", date(1899)).is_err());
    }
}
