//! Validated values of identity: an invalid one cannot exist past the edge.

use crate::error::DomainError;

/// A user's role; decides which routes and resources it may reach.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Doctor,
    Receptionist,
    Patient,
}

impl Role {
    pub fn is_staff(self) -> bool {
        !matches!(self, Self::Patient)
    }
}

/// An email address, trimmed and lower-cased (uniqueness is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP allows, in bytes.
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let email = raw.trim().to_lowercase();
        let invalid = || DomainError::validation("email", "must be a valid email address");
        if email.len() > Self::MAX_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that meets the policy: 10 to 128 characters with a letter and a digit.
/// Never logged, never stored: only its Argon2id hash is.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let len = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(DomainError::validation(
                field,
                "must be 10 to 128 characters long",
            ));
        }
        if !raw.chars().any(char::is_alphabetic) || !raw.chars().any(|c| c.is_ascii_digit()) {
            return Err(DomainError::validation(
                field,
                "must contain at least one letter and one digit",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// An Argon2id hash in PHC string form.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// A person's display name: 1 to 120 characters once trimmed.
pub fn parse_name(raw: &str, field: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(DomainError::validation(
            field,
            "must be 1 to 120 characters",
        ));
    }
    crate::text::check_text(name, field, crate::text::Lines::Single)?;
    // Zero-width and other invisible characters are not whitespace to `trim`: a name must
    // have something a person can read.
    if !name.chars().any(char::is_alphanumeric) {
        return Err(DomainError::validation(
            field,
            "must contain a letter or a digit",
        ));
    }
    Ok(name.to_owned())
}

/// A phone number: 5 to 32 characters of digits, spaces and `+-().`, with at least 5 digits.
pub fn parse_phone(raw: &str, field: &str) -> Result<String, DomainError> {
    let phone = raw.trim();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !allowed || digits < 5 || phone.len() > 32 {
        return Err(DomainError::validation(
            field,
            "must be a phone number (digits, spaces, + - ( ) .)",
        ));
    }
    Ok(phone.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ann@Clinic.ORG ").unwrap().as_str(),
            "ann@clinic.org"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@clinic.org",
            "ann@clinic",
            "a b@c.org",
            "ann@@c.org",
            "ann@c..org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@c.org", "a".repeat(65))).is_err());
    }

    #[test]
    fn password_policy() {
        assert!(Password::parse("short1", "password").is_err());
        assert!(Password::parse("onlyletters", "password").is_err());
        assert!(Password::parse("1234567890", "password").is_err());
        assert!(Password::parse("correct horse 1", "password").is_ok());
        assert!(Password::parse(&"a1".repeat(65), "password").is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-pass-1", "p").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn names_and_phones() {
        assert_eq!(parse_name("  Ann Lee ", "name").unwrap(), "Ann Lee");
        assert!(parse_name("   ", "name").is_err());
        assert!(parse_name("\u{200B}\u{2060}", "name").is_err());
        assert_eq!(
            parse_name("Zoë O'Brien-Nuñez", "name").unwrap(),
            "Zoë O'Brien-Nuñez"
        );
        assert!(parse_name(&"x".repeat(121), "name").is_err());
        assert!(parse_phone("+44 (0)20 7946-0958", "phone").is_ok());
        assert!(parse_phone("call me", "phone").is_err());
    }

    proptest! {
        #[test]
        fn parsed_emails_are_lowercase_and_trimmed(local in "[a-zA-Z0-9._]{1,20}", domain in "[a-zA-Z]{1,10}\\.[a-z]{2,5}") {
            let email = Email::parse(&format!(" {local}@{domain} ")).unwrap();
            prop_assert_eq!(email.as_str(), format!("{local}@{domain}").to_lowercase());
        }
    }
}
