//! Money: exact decimals with two places, never floats. Carried as strings in JSON.

use std::str::FromStr;

use bigdecimal::BigDecimal;

use crate::error::DomainError;

/// A non-negative amount with at most two decimal places, below 100,000,000.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(BigDecimal);

impl Money {
    /// Parses `"50"`, `"50.5"`, `"50.25"`; refuses negatives, more than two decimals,
    /// exponents and anything that is not a plain decimal.
    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let plain = !raw.is_empty()
            && raw.chars().all(|c| c.is_ascii_digit() || c == '.')
            && raw.matches('.').count() <= 1
            && !raw.starts_with('.')
            && !raw.ends_with('.');
        if !plain {
            return Err(DomainError::validation(
                field,
                "must be a non-negative decimal string such as \"50.25\"",
            ));
        }
        if raw
            .split_once('.')
            .is_some_and(|(_, cents)| cents.len() > 2)
        {
            return Err(DomainError::validation(
                field,
                "must have at most two decimal places",
            ));
        }
        let value = BigDecimal::from_str(raw)
            .map_err(|_| DomainError::validation(field, "must be a decimal number"))?;
        Self::from_decimal(value)
            .map_err(|_| DomainError::validation(field, "must be below 100000000"))
    }

    /// Wraps a stored decimal (from `numeric(10,2)`).
    pub fn from_decimal(value: BigDecimal) -> Result<Self, DomainError> {
        let range = BigDecimal::from(0)..BigDecimal::from(100_000_000);
        if !range.contains(&value) {
            return Err(DomainError::validation("amount", "out of range"));
        }
        Ok(Self(value.with_scale(2)))
    }

    pub fn as_decimal(&self) -> &BigDecimal {
        &self.0
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.with_scale(2))
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_cents_and_refuses_the_rest() {
        assert_eq!(Money::parse("50", "fee").unwrap().to_string(), "50.00");
        assert_eq!(Money::parse("0.1", "fee").unwrap().to_string(), "0.10");
        assert_eq!(Money::parse("123.45", "fee").unwrap().to_string(), "123.45");
        for bad in [
            "-1",
            "1.234",
            "1e3",
            "",
            ".5",
            "5.",
            "abc",
            "100000000",
            "1,5",
        ] {
            assert!(Money::parse(bad, "fee").is_err(), "{bad}");
        }
    }

    #[test]
    fn no_float_drift() {
        let a = Money::parse("0.10", "x").unwrap();
        let b = Money::parse("0.20", "x").unwrap();
        assert_eq!(
            (a.as_decimal() + b.as_decimal()).with_scale(2).to_string(),
            "0.30"
        );
    }
}
