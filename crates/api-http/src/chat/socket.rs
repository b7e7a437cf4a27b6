//! One chat socket, from upgrade to close.
//!
//! - Authentication happens before the upgrade (a single-use live ticket or the
//!   `Authorization` header); the session is re-checked on every heartbeat, and the socket is
//!   closed (4001, after an `end` frame) once it has ended.
//! - Heartbeats: a ping every `LIVE_KEEPALIVE_SECS`; a client silent for three intervals is
//!   gone and its socket closed.
//! - Throttling: every client frame takes a token from a bucket (`CHAT_SOCKET_RATE_PER_SEC`,
//!   burst `CHAT_SOCKET_BURST`); a frame without one is answered `RATE_LIMITED`, and a socket
//!   that keeps flooding past another burst's worth of refusals is closed (1008).
//! - Ordering: for each conversation the socket has resumed or delivered a message of, it
//!   remembers which numbers its client has; a message it has is not sent again, a gap (a
//!   missed announcement) is filled from MongoDB before the message that revealed it, and a
//!   `resume` sends exactly what the client lacks, even when live messages of the
//!   conversation reached the socket before the `resume` did.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::web;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use domain::chat::service::MAX_SEQ;
use domain::chat::ChatEvent;
use domain::error::DomainError;
use domain::identity::Actor;
use uuid::Uuid;

use super::frames::{ChatClientFrame, ChatServerFrame, ReadReceiptDto};
use super::ChatSubscription;
use crate::errors::ApiError;
use crate::state::AppState;

/// The budget of a gap fill: a gap is as long as the announcements missed.
const UNLIMITED: usize = usize::MAX;

/// The most messages one `resume` sends; the client resumes again from `lastSeq` for more,
/// so one frame cannot make the socket replay a whole long conversation.
pub const RESUME_MAX: usize = 500;

/// The largest frame a client may send (a 4,000-character message is at most 16 KB).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// The messages of one conversation a socket's client has: every one from `first` to `last`
/// (sent on this socket; live announcements arrive in commit order, and gaps are filled), and,
/// once the client has resumed the conversation, every one before too (`first` is then 1).
#[derive(Debug, Clone, Copy)]
struct Span {
    first: i64,
    last: i64,
}

/// Why the loop stopped, and how to close.
enum Stop {
    Gone,
    Close(CloseReason),
}

struct Socket {
    state: web::Data<AppState>,
    actor: Actor,
    session: Session,
    /// Per conversation, what this socket sent of it.
    delivered: HashMap<Uuid, Span>,
    bucket: Bucket,
    refusals: u32,
}

impl Socket {
    async fn send(&mut self, frame: &ChatServerFrame) -> Result<(), Stop> {
        self.session
            .text(frame.to_json())
            .await
            .map_err(|_| Stop::Gone)
    }

    /// An `error` frame about the frame that named `appointment_id` and `reference`.
    async fn send_error(
        &mut self,
        e: impl Into<ApiError>,
        appointment_id: Option<Uuid>,
        reference: Option<Uuid>,
    ) -> Result<(), Stop> {
        let e = e.into();
        self.send(&ChatServerFrame::error(&e, appointment_id, reference))
            .await
    }

    /// Sends the conversation's messages after `after_seq` and before `until` (to the end when
    /// `None`), oldest first, at most `budget` of them (taken from it); answers the last number
    /// sent (`after_seq` when none was).
    async fn backfill(
        &mut self,
        appointment_id: Uuid,
        after_seq: i64,
        until: Option<i64>,
        budget: &mut usize,
    ) -> Result<i64, Stop> {
        let mut last = after_seq;
        loop {
            if *budget == 0 {
                return Ok(last);
            }
            let page = match self.state.chat.missed(appointment_id, last, 200).await {
                Ok(page) => page,
                Err(e) => {
                    self.send_error(e, Some(appointment_id), None).await?;
                    return Ok(last);
                }
            };
            let full = page.len() == 200;
            for m in page {
                if until.is_some_and(|u| m.seq >= u) || *budget == 0 {
                    return Ok(last);
                }
                *budget -= 1;
                last = m.seq;
                self.send(&ChatServerFrame::Message { message: m.into() })
                    .await?;
            }
            if !full {
                return Ok(last);
            }
        }
    }

    /// Delivers an announced event, in order and once.
    async fn deliver(&mut self, event: &ChatEvent) -> Result<(), Stop> {
        match event {
            ChatEvent::Message(m) => {
                let appointment_id = m.appointment_id;
                match self.delivered.get(&appointment_id).copied() {
                    Some(span) if m.seq <= span.last => Ok(()),
                    // A gap: fill it from the store, this message included.
                    Some(span) if m.seq > span.last + 1 => {
                        let last = self
                            .backfill(appointment_id, span.last, None, &mut UNLIMITED.clone())
                            .await?;
                        self.delivered.insert(appointment_id, Span { last, ..span });
                        Ok(())
                    }
                    known => {
                        let first = known.map_or(m.seq, |span| span.first);
                        self.delivered
                            .insert(appointment_id, Span { first, last: m.seq });
                        self.send(&ChatServerFrame::Message {
                            message: m.clone().into(),
                        })
                        .await
                    }
                }
            }
            ChatEvent::Read(r) => {
                self.send(&ChatServerFrame::Read {
                    receipt: ReadReceiptDto::from(r.clone()),
                })
                .await
            }
            // The relay reads these back before dispatching.
            ChatEvent::MessageRef { .. } => Ok(()),
        }
    }

    /// A `resume`: the client has every message up to `after_seq`; it gets the rest once, at
    /// most [`RESUME_MAX`] per `resume` (answers the last number it has, and whether that is
    /// the conversation's last). What this socket already sent it live (before the `resume`)
    /// is not sent again.
    async fn resume(
        &mut self,
        appointment_id: Uuid,
        after_seq: i64,
        count: i64,
    ) -> Result<(i64, bool), Stop> {
        // A number past the conversation's end names nothing the client could have seen.
        let after = after_seq.clamp(0, count);
        let mut budget = RESUME_MAX;
        let last = match self.delivered.get(&appointment_id).copied() {
            None => {
                self.backfill(appointment_id, after, None, &mut budget)
                    .await?
            }
            Some(span) => {
                let mut last = after.max(span.last);
                if after + 1 < span.first {
                    let before_span = self
                        .backfill(appointment_id, after, Some(span.first), &mut budget)
                        .await?;
                    if before_span + 1 < span.first {
                        // The budget ran out below the span: the client has up to here.
                        last = before_span;
                    }
                }
                if last >= span.last {
                    last = self
                        .backfill(appointment_id, last, None, &mut budget)
                        .await?;
                }
                last
            }
        };
        self.delivered
            .insert(appointment_id, Span { first: 1, last });
        Ok((last, last >= count))
    }

    /// After missed events: backfills every conversation this socket follows, then says so.
    async fn catch_up(&mut self) -> Result<(), Stop> {
        let followed: Vec<(Uuid, Span)> = self.delivered.iter().map(|(k, v)| (*k, *v)).collect();
        for (appointment_id, span) in followed {
            let last = self
                .backfill(appointment_id, span.last, None, &mut UNLIMITED.clone())
                .await?;
            self.delivered.insert(appointment_id, Span { last, ..span });
        }
        self.send(&ChatServerFrame::Lagged {}).await
    }

    /// A client frame: throttled, then only while the session lives (a logged-out user's
    /// socket cannot write in the seconds before the next heartbeat), then handled.
    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        if let Err(wait) = self.bucket.take() {
            self.refusals += 1;
            if self.refusals > self.state.config.chat_socket_burst {
                return Err(Stop::Close(CloseReason {
                    code: CloseCode::Policy,
                    description: Some("too many frames".into()),
                }));
            }
            let e = ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many frames on this socket; slow down",
            )
            .retry_after(wait.as_secs().max(1));
            return self.send_error(e, None, None).await;
        }
        self.refusals = 0;
        self.check_session().await?;
        let frame: ChatClientFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(e) => {
                // Name what the frame named, when it is readable at all.
                let raw: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
                let id = |key: &str| raw.get(key).and_then(|v| v.as_str()?.parse().ok());
                let e = ApiError::bad_request(
                    "MALFORMED_FRAME",
                    format!("not a chat frame ({e}); see the ChatClientFrame schema"),
                );
                return self
                    .send_error(e, id("appointmentId"), id("clientMessageId"))
                    .await;
            }
        };
        let chat = &self.state.chat;
        match frame {
            ChatClientFrame::Send {
                appointment_id,
                message,
                client_message_id,
            } => match chat
                .send(&self.actor, appointment_id, &message, client_message_id)
                .await
            {
                Ok(sent) => {
                    self.send(&ChatServerFrame::Sent {
                        client_message_id,
                        message_id: sent.message.id,
                        appointment_id,
                        seq: sent.message.seq,
                        replayed: sent.replayed,
                    })
                    .await
                }
                Err(e) => {
                    self.send_error(e, Some(appointment_id), client_message_id)
                        .await
                }
            },
            ChatClientFrame::Resume {
                appointment_id,
                after_seq,
            } => {
                if !(0..=MAX_SEQ).contains(&after_seq) {
                    let e = ApiError::validation("afterSeq", format!("must be 0 to {MAX_SEQ}"));
                    return self.send_error(e, Some(appointment_id), None).await;
                }
                let count = match chat.join(&self.actor, appointment_id).await {
                    Ok(count) => count,
                    Err(e) => return self.send_error(e, Some(appointment_id), None).await,
                };
                let (last, complete) = self.resume(appointment_id, after_seq, count).await?;
                self.send(&ChatServerFrame::Resumed {
                    appointment_id,
                    last_seq: last,
                    complete,
                })
                .await
            }
            ChatClientFrame::Read {
                appointment_id,
                up_to_seq,
            } => match chat.mark_read(&self.actor, appointment_id, up_to_seq).await {
                // Something was marked: the announcement brings the receipt to every socket.
                Ok(r) if r.marked > 0 => Ok(()),
                Ok(r) => {
                    self.send(&ChatServerFrame::Read { receipt: r.into() })
                        .await
                }
                Err(e) => self.send_error(e, Some(appointment_id), None).await,
            },
        }
    }

    /// `Stop` (after an `end` frame) when the socket's session has ended.
    async fn check_session(&mut self) -> Result<(), Stop> {
        let session = self
            .state
            .identity
            .authenticate(
                self.actor.user_id,
                self.actor.session_id,
                self.actor.meta.clone(),
            )
            .await;
        if matches!(session, Err(DomainError::Unauthenticated)) {
            self.send(&ChatServerFrame::End {
                reason: "session ended".into(),
            })
            .await?;
            return Err(Stop::Close(CloseReason {
                code: CloseCode::Other(4001),
                description: Some("session ended".into()),
            }));
        }
        Ok(())
    }

    /// The heartbeat: `Stop` when the client went silent or the session ended.
    async fn heartbeat(&mut self, last_heard: Instant, every: Duration) -> Result<(), Stop> {
        if last_heard.elapsed() > every * 3 {
            return Err(Stop::Close(CloseReason {
                code: CloseCode::Away,
                description: Some("no answer to pings".into()),
            }));
        }
        self.check_session().await?;
        self.session.ping(b"").await.map_err(|_| Stop::Gone)
    }
}

fn break_with(stop: Stop) -> Result<(), Stop> {
    Err(stop)
}

/// Runs one socket until it closes.
pub async fn run(
    state: web::Data<AppState>,
    actor: Actor,
    session: Session,
    stream: actix_ws::MessageStream,
    mut subscription: ChatSubscription,
    unread: u64,
) {
    let every = Duration::from_secs(state.config.live_keepalive_secs);
    let mut socket = Socket {
        bucket: Bucket::new(
            state.config.chat_socket_rate_per_sec,
            state.config.chat_socket_burst,
        ),
        state,
        actor,
        session,
        delivered: HashMap::new(),
        refusals: 0,
    };
    let mut stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let mut heartbeat = tokio::time::interval(every);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    let mut outcome = socket.send(&ChatServerFrame::Ready { unread }).await;
    while outcome.is_ok() {
        outcome = tokio::select! {
            frame = stream.recv() => match frame {
                None => Err(Stop::Gone),
                Some(Err(_)) => Err(Stop::Close(CloseReason {
                    code: CloseCode::Protocol,
                    description: Some("bad frame (too large, or not WebSocket)".into()),
                })),
                Some(Ok(frame)) => {
                    last_heard = Instant::now();
                    match frame {
                        AggregatedMessage::Text(text) => socket.on_text(&text).await,
                        AggregatedMessage::Binary(_) => {
                            let e = ApiError::bad_request("MALFORMED_FRAME", "text frames only");
                            socket.send_error(e, None, None).await
                        }
                        AggregatedMessage::Ping(bytes) => {
                            socket.session.pong(&bytes).await.map_err(|_| Stop::Gone)
                        }
                        AggregatedMessage::Pong(_) => Ok(()),
                        AggregatedMessage::Close(_) => Err(Stop::Close(CloseReason {
                            code: CloseCode::Normal,
                            description: None,
                        })),
                    }
                }
            },
            event = subscription.events.recv() => match event {
                Some(event) => {
                    if subscription.lagged.swap(false, Ordering::AcqRel) {
                        if let Err(stop) = socket.catch_up().await {
                            break_with(stop)
                        } else {
                            socket.deliver(&event).await
                        }
                    } else {
                        socket.deliver(&event).await
                    }
                }
                None => Err(Stop::Gone),
            },
            _ = heartbeat.tick() => {
                if subscription.lagged.swap(false, Ordering::AcqRel) {
                    socket.catch_up().await
                } else {
                    socket.heartbeat(last_heard, every).await
                }
            }
        };
    }
    if let Err(Stop::Close(reason)) = outcome {
        let _ = socket.session.close(Some(reason)).await;
    }
}
