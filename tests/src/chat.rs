//! A chat WebSocket client for tests (tokio-tungstenite), speaking the JSON frames of
//! `GET /chat/socket`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::TestApp;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// An open chat socket.
pub struct ChatSocket {
    ws: Ws,
}

/// How a socket ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// A close frame with this code.
    Closed(u16),
    /// The connection dropped without a close frame.
    Dropped,
}

impl TestApp {
    fn ws_url(&self, query: &str) -> String {
        format!("ws://127.0.0.1:{}/chat/socket{query}", self.port)
    }

    /// Opens the chat socket with the `Authorization` header; `Err(status)` when refused.
    pub async fn chat_socket(&self, token: &str) -> Result<ChatSocket, u16> {
        let mut request = self.ws_url("").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        connect(request).await
    }

    /// Opens the chat socket as a browser does: a live ticket in the URL, no header.
    pub async fn chat_socket_with_ticket(&self, token: &str) -> Result<ChatSocket, u16> {
        let (status, body) = self
            .json(
                reqwest::Method::POST,
                "/notifications/stream-ticket",
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let ticket = body["ticket"].as_str().unwrap();
        let request = self
            .ws_url(&format!("?ticket={ticket}"))
            .into_client_request()
            .unwrap();
        connect(request).await
    }
}

async fn connect(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<ChatSocket, u16> {
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => {
            let mut socket = ChatSocket { ws };
            let ready = socket.next().await;
            assert_eq!(ready["type"], "ready", "{ready}");
            Ok(socket)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("chat socket: {e}"),
    }
}

impl ChatSocket {
    /// Sends one JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .expect("frame sent");
    }

    /// Sends raw bytes as a frame (text or binary).
    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("frame sent");
    }

    /// The next JSON frame, skipping pings; fails after 15 s without one, or if the socket ends.
    pub async fn next(&mut self) -> Value {
        match self.next_or_end(Duration::from_secs(15)).await {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("no frame within 15 s"),
            Err(ended) => panic!("the socket ended: {ended:?}"),
        }
    }

    /// The next frame of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next JSON frame within `wait` (`None` if none came), or how the socket ended.
    pub async fn next_or_end(&mut self, wait: Duration) -> Result<Option<Value>, Ended> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(item) = tokio::time::timeout_at(deadline, self.ws.next()).await else {
                return Ok(None);
            };
            match item {
                Some(Ok(Message::Text(text))) => {
                    return Ok(Some(serde_json::from_str(&text).expect("a JSON frame")))
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(Ended::Closed(
                        frame.map(|f| u16::from(f.code)).unwrap_or(1005),
                    ))
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(Ended::Dropped),
            }
        }
    }

    /// Waits (up to `wait`) for the socket to end, skipping frames.
    pub async fn ended(&mut self, wait: Duration) -> Ended {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_or_end(left).await {
                Err(ended) => return ended,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the socket did not end within {wait:?}"),
            }
        }
    }

    /// Closes the socket from the client side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
