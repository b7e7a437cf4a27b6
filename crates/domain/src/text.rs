//! Text from the outside world. Every string a client sends passes [`check_text`] before
//! anything else sees it (the HTTP edge runs it over every JSON string and query value, and the
//! parsers below run it again), so a NUL byte or a terminal escape can never reach a store, a
//! log line or another user's screen.
//!
//! Free text (reasons, notes, descriptions) may span lines: `\n`, `\r` and `\t` are allowed
//! there. Single-line values (names, titles, search terms) allow no control character at all.

use crate::error::DomainError;

/// Whether a value may contain line breaks and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, titles, search terms: no control character at all.
    Single,
    /// Free text: line breaks and tabs allowed, other control characters refused.
    Multi,
}

/// Refuses NUL and other control characters (Unicode category Cc, which includes the C1
/// range); with [`Lines::Multi`], `\n`, `\r` and `\t` are allowed.
pub fn check_text(text: &str, field: &str, lines: Lines) -> Result<(), DomainError> {
    let refused =
        |c: char| c.is_control() && !(lines == Lines::Multi && matches!(c, '\n' | '\r' | '\t'));
    if text.chars().any(refused) {
        let message = if text.contains('\0') {
            "must not contain NUL characters"
        } else {
            "must not contain control characters"
        };
        return Err(DomainError::validation(field, message));
    }
    Ok(())
}

/// Optional free text with a maximum length, trimmed; empty becomes `None`.
pub fn parse_optional_text(
    raw: Option<&str>,
    field: &str,
    max: usize,
) -> Result<Option<String>, DomainError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    check_text(text, field, Lines::Multi)?;
    if text.chars().count() > max {
        return Err(DomainError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// An optional single-line value (a title, a search term), trimmed; empty becomes `None`.
pub fn parse_optional_line(
    raw: Option<&str>,
    field: &str,
    max: usize,
) -> Result<Option<String>, DomainError> {
    if let Some(text) = raw {
        check_text(text.trim(), field, Lines::Single)?;
    }
    parse_optional_text(raw, field, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_control_characters_are_refused_with_the_field() {
        for bad in [
            "a\0b",
            "\u{1b}[31mred",
            "bell\u{7}",
            "c1\u{85}",
            "del\u{7f}",
        ] {
            for lines in [Lines::Single, Lines::Multi] {
                let err = check_text(bad, "reason", lines).unwrap_err();
                assert!(
                    matches!(&err, DomainError::Validation { field, .. } if field == "reason"),
                    "{bad:?}: {err:?}"
                );
            }
        }
        assert!(check_text("two\nlines\tand tab\r\n", "notes", Lines::Multi).is_ok());
        assert!(check_text("two\nlines", "name", Lines::Single).is_err());
        assert!(check_text("Zoë – ünïcode ✓", "name", Lines::Single).is_ok());
    }

    #[test]
    fn optional_text_is_trimmed_bounded_and_checked() {
        assert_eq!(
            parse_optional_text(Some("  hi "), "f", 5).unwrap(),
            Some("hi".into())
        );
        assert_eq!(parse_optional_text(Some("   "), "f", 5).unwrap(), None);
        assert_eq!(parse_optional_text(None, "f", 5).unwrap(), None);
        assert!(parse_optional_text(Some("toolong"), "f", 5).is_err());
        assert!(parse_optional_text(Some("a\0"), "f", 5).is_err());
        assert!(parse_optional_line(Some("a\nb"), "title", 50).is_err());
        assert_eq!(
            parse_optional_line(Some(" title "), "title", 50).unwrap(),
            Some("title".into())
        );
    }
}
