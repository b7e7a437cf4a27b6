//! The webhook sender: one POST per attempt, with the relay's headers, a timeout, no
//! redirects, no proxy, and only to addresses the [`AddressPolicy`] permits.
//!
//! The address check happens where the connection is made: host names go through
//! [`GuardedResolver`], which drops every address the policy refuses (so a name that resolves,
//! or is re-pointed, to an internal address reaches nothing), and a literal address in the URL
//! is checked before sending (reqwest does not resolve those).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::webhooks::addresses::AddressPolicy;
use domain::webhooks::{SendOutcome, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves names with the system resolver and keeps only permitted addresses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

/// The resolver's refusal, found again in the error chain to say so in the delivery log.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves only to private or reserved addresses, which WEBHOOK_ALLOWED_NETWORKS does not allow",
            self.0
        )
    }
}

impl std::error::Error for Refused {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Sends webhook requests with reqwest.
#[derive(Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    policy: AddressPolicy,
    timeout: Duration,
}

impl HttpWebhookSender {
    pub fn new(policy: AddressPolicy, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("HealthSync-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()
            .map_err(|e| format!("the webhook HTTP client cannot be built: {e}"))?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    fn describe(&self, error: &reqwest::Error) -> String {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = source {
            if let Some(refused) = e.downcast_ref::<Refused>() {
                return format!("refused: {refused}");
            }
            source = e.source();
        }
        if error.is_timeout() {
            format!("timed out after {} ms", self.timeout.as_millis())
        } else if error.is_connect() {
            "could not connect".to_owned()
        } else {
            // The innermost cause says most (a TLS failure, a reset connection).
            let mut last = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(e) = source {
                last = e.to_string();
                source = e.source();
            }
            format!("request failed: {last}")
        }
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, url: &str, headers: Vec<(String, String)>, body: String) -> SendOutcome {
        let parsed = match reqwest::Url::parse(url) {
            Ok(u) => u,
            Err(_) => {
                return SendOutcome::Failed {
                    status_code: None,
                    error: "the URL cannot be parsed".into(),
                }
            }
        };
        let literal: Option<IpAddr> = parsed
            .host_str()
            .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
        if let Some(ip) = literal {
            if !self.policy.permits(ip) {
                return SendOutcome::Failed {
                    status_code: None,
                    error: format!("refused: {ip} is a private or reserved address, which WEBHOOK_ALLOWED_NETWORKS does not allow"),
                };
            }
        }
        let mut request = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.body(body).send().await {
            Ok(response) if response.status().is_success() => SendOutcome::Delivered {
                status_code: response.status().as_u16(),
            },
            Ok(response) => SendOutcome::Failed {
                status_code: Some(response.status().as_u16()),
                error: format!("the receiver answered HTTP {}", response.status().as_u16()),
            },
            Err(e) => SendOutcome::Failed {
                status_code: None,
                error: self.describe(&e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback listener answering every request with `answer`; counts connections.
    async fn listener(answer: &'static str) -> (u16, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        (port, hits)
    }

    const OK: &str = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";

    fn sender(allowed: &str) -> HttpWebhookSender {
        HttpWebhookSender::new(
            AddressPolicy::parse(allowed).unwrap(),
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn loopback_is_reached_only_when_allowed_by_address_or_by_name() {
        let (port, hits) = listener(OK).await;
        for url in [
            format!("http://127.0.0.1:{port}/h"),
            format!("http://localhost:{port}/h"),
        ] {
            let refused = sender("").send(&url, vec![], "{}".into()).await;
            match refused {
                SendOutcome::Failed {
                    status_code: None,
                    error,
                } => {
                    assert!(error.starts_with("refused: "), "{url}: {error}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0, "no connection was made");
        let allowed = sender("127.0.0.1/32")
            .send(&format!("http://localhost:{port}/h"), vec![], "{}".into())
            .await;
        assert_eq!(allowed, SendOutcome::Delivered { status_code: 204 });
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (target, target_hits) = listener(OK).await;
        let redirect: &'static str = Box::leak(
            format!("HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target}/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .into_boxed_str(),
        );
        let (port, _) = listener(redirect).await;
        let got = sender("127.0.0.1")
            .send(&format!("http://127.0.0.1:{port}/"), vec![], "{}".into())
            .await;
        assert_eq!(
            got,
            SendOutcome::Failed {
                status_code: Some(302),
                error: "the receiver answered HTTP 302".into()
            }
        );
        assert_eq!(target_hits.load(Ordering::SeqCst), 0);
    }
}
