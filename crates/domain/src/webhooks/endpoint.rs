//! Endpoints as admins register them, and the retry schedule of their deliveries.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::addresses::AddressPolicy;
use super::events::EventType;
use crate::error::DomainError;

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// How many endpoints a clinic may register (each costs a request per event).
pub const MAX_ENDPOINTS: u64 = 50;

/// A webhook URL that passed [`WebhookUrl::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    raw: String,
    /// The host as written (a name, or an address without brackets).
    host: String,
}

impl WebhookUrl {
    /// `http(s)://host[:port][/path][?query]`: no user name or password (they would be sent
    /// in clear to every redirect and logged), no fragment, no white space. Plain `http` only
    /// where configuration allows it (`WEBHOOK_REQUIRE_HTTPS=false`).
    ///
    /// Parsed as the sender parses it (the WHATWG URL rules of the `url` crate, which reqwest
    /// uses), so `http://2130706433/`, `http://0x7f.1/` and `http://127.1/` are the literal
    /// address 127.0.0.1 here too. A literal address must be one the policy permits; a name is
    /// checked when it is resolved, at each delivery.
    pub fn parse(
        raw: &str,
        require_https: bool,
        policy: &AddressPolicy,
    ) -> Result<Self, DomainError> {
        let bad = |message: &str| DomainError::validation("url", message);
        if raw.len() > MAX_URL_LEN {
            return Err(bad("must be at most 2048 characters"));
        }
        if raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(bad(
                "must not contain spaces, backslashes or control characters",
            ));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("must be an absolute http(s) URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if !require_https => {}
            "http" => return Err(bad("must use https")),
            _ => return Err(bad("must be an absolute http(s) URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry a user name or password"));
        }
        if url.fragment().is_some() {
            return Err(bad("must not have a fragment"));
        }
        if url.port() == Some(0) {
            return Err(bad("has an invalid port"));
        }
        let refused =
            |ip: IpAddr| {
                (!policy.permits(ip)).then(|| {
                bad("points at a private or reserved address; an operator can allow its network \
                     with WEBHOOK_ALLOWED_NETWORKS")
            })
            };
        let host = match url.host() {
            Some(url::Host::Ipv4(v4)) => {
                if let Some(e) = refused(IpAddr::V4(v4)) {
                    return Err(e);
                }
                v4.to_string()
            }
            Some(url::Host::Ipv6(v6)) => {
                if let Some(e) = refused(IpAddr::V6(v6)) {
                    return Err(e);
                }
                v6.to_string()
            }
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                // These names are the machine itself whatever DNS says.
                if (name == "localhost" || name.ends_with(".localhost"))
                    && !policy.permits(IpAddr::from([127, 0, 0, 1]))
                {
                    return Err(bad(
                        "points at this machine; an operator can allow it with WEBHOOK_ALLOWED_NETWORKS",
                    ));
                }
                if name.is_empty() {
                    return Err(bad("must have a host"));
                }
                name.to_owned()
            }
            None => return Err(bad("must have a host")),
        };
        Ok(Self {
            raw: url.as_str().to_owned(),
            host,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

/// The event types an endpoint subscribes to: at least one, each once, in a stable order.
pub fn parse_event_types(raw: &[String]) -> Result<Vec<EventType>, DomainError> {
    if raw.is_empty() {
        return Err(DomainError::validation(
            "eventTypes",
            "subscribe to at least one event type",
        ));
    }
    if raw.len() > EventType::ALL.len() {
        return Err(DomainError::validation(
            "eventTypes",
            format!("at most {} event types (each once)", EventType::ALL.len()),
        ));
    }
    let mut types = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let t = EventType::parse(name).ok_or_else(|| {
            DomainError::validation(
                &format!("eventTypes[{i}]"),
                format!(
                    "unknown event type; one of: {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
        })?;
        types.push(t);
    }
    types.sort();
    types.dedup();
    Ok(types)
}

/// A registered endpoint (its secret is kept apart: see [`NewSecret`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<EventType>,
    pub is_active: bool,
    /// Why the relay switched it off, when it did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// What the audit trail keeps of it: everything but the secret.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url, "description": self.description,
            "eventTypes": self.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "isActive": self.is_active, "disabledReason": self.disabled_reason,
        })
    }
}

/// A fresh signing secret: `whsec_` and 64 hex digits from two v4 UUIDs' random bits (the
/// operating system's generator), shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSecret(pub String);

impl NewSecret {
    pub fn generate() -> Self {
        Self(format!(
            "whsec_{}{}",
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple()
        ))
    }
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSecret(..)")
    }
}

/// Where a delivery stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Waiting for its turn or for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after the retry period; the endpoint was switched off.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Delivered => "DELIVERED",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One line of an endpoint's delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub use crate::retry::RetryPolicy;

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> Result<WebhookUrl, DomainError> {
        WebhookUrl::parse(raw, true, &AddressPolicy::default())
    }

    #[test]
    fn urls() {
        assert_eq!(
            url("https://hooks.example.com/healthsync?x=1")
                .unwrap()
                .host(),
            "hooks.example.com"
        );
        assert_eq!(
            url("HTTPS://Hooks.Example.com:8443").unwrap().host(),
            "hooks.example.com"
        );
        assert_eq!(
            url("https://[2606:4700::1111]:443/h").unwrap().host(),
            "2606:4700::1111"
        );
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "hooks.example.com",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://hooks example.com/",
            "https://hooks.example.com:0/",
            "https://hooks.example.com:99999/",
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://127.1/",
            "https://127.0.0.1./",
            "https://[2606:4700::1111]junk/",
            "https://hooks.example.com\\@127.0.0.1/",
            "https://localhost./",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://localhost/",
            "https://db.localhost/",
            "https://[2606:4700::1111/",
        ] {
            let err = url(bad).unwrap_err();
            assert!(
                matches!(err, DomainError::Validation { ref field, .. } if field == "url"),
                "{bad}: {err:?}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(2100));
        assert!(url(&long).is_err());
        let loopback = AddressPolicy::parse("127.0.0.1/32").unwrap();
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", false, &loopback).is_ok());
        assert!(WebhookUrl::parse("http://localhost:9000/hook", false, &loopback).is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true, &loopback).is_err());
    }

    #[test]
    fn event_types() {
        let got = parse_event_types(&[
            "bill.paid".into(),
            "appointment.booked".into(),
            "bill.paid".into(),
        ])
        .unwrap();
        assert_eq!(got, vec![EventType::AppointmentBooked, EventType::BillPaid]);
        assert!(parse_event_types(&[]).is_err());
        assert!(parse_event_types(&vec!["bill.paid".to_owned(); 11]).is_err());
        assert!(parse_event_types(&vec!["bill.paid".to_owned(); 11]).is_err());
        let err = parse_event_types(&["bill.paid".into(), "bill.lost".into()]).unwrap_err();
        assert!(
            matches!(err, DomainError::Validation { ref field, .. } if field == "eventTypes[1]")
        );
    }

    #[test]
    fn secrets_are_fresh_and_not_printed() {
        let (a, b) = (NewSecret::generate(), NewSecret::generate());
        assert_ne!(a, b);
        assert_eq!(a.0.len(), 6 + 64);
        assert_eq!(format!("{a:?}"), "NewSecret(..)");
    }
}
