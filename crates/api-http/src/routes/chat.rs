//! Doctor-patient chat over REST, and the WebSocket that makes it live (issue 12). The rules
//! are `domain::chat`'s; the socket protocol is [`crate::chat`]'s.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use domain::access::Permission;
use domain::paging::Cursor;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::chat::frames::{ChatMessageDto, ReadReceiptDto};
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{JsonBody, LazyQuery};
use crate::routes::medical_records::FileBytes;
use crate::state::AppState;
use crate::uploads::ChatUpload;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageRequest {
    /// Trimmed; 1 to 4,000 characters; line breaks allowed.
    #[schema(
        min_length = 1,
        max_length = 4000,
        example = "Should I keep taking it with food?"
    )]
    pub message: String,
    /// Your id for this send: a retry with the same one answers the first message (200)
    /// instead of storing another.
    #[serde(default)]
    pub client_message_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarkReadRequest {
    /// Marks read every message sent to me up to this number.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub up_to_seq: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages per page, 50 by default.
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
    /// Read the older page after this position: the `nextCursor` of the page before.
    #[param(
        max_length = 994,
        pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$"
    )]
    pub cursor: Option<String>,
}

/// A page of a conversation, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessagePage {
    pub items: Vec<ChatMessageDto>,
    /// How many messages the conversation holds.
    pub total: u64,
    /// Always true: a conversation's count is known exactly.
    pub total_is_exact: bool,
    #[schema(minimum = 1, maximum = 200)]
    pub per_page: u32,
    /// Pass as `cursor` for the older messages; null on the oldest page. Messages sent
    /// meanwhile never shift a page: they are newer than every cursor.
    #[schema(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationUnreadDto {
    pub appointment_id: Uuid,
    pub count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatUnreadDto {
    pub total: u64,
    /// Conversations with unread messages, by appointment id.
    pub conversations: Vec<ConversationUnreadDto>,
}

/// Send a message in an appointment's conversation (its patient or its doctor).
///
/// Open from booking, until `CHAT_WRITE_WINDOW_DAYS` (14) after a completed visit's end;
/// read-only once cancelled. The other participant's sockets get it at once.
#[utoipa::path(operation_id = "sendChatMessage", tag = "chat", security(("bearer" = [])),
    request_body = SendMessageRequest, params(("id" = Uuid, Path, description = "Appointment id")),
    responses(
        (status = 201, description = "Stored and delivered", body = ChatMessageDto),
        (status = 200, description = "A retry: the message the first try stored", body = ChatMessageDto),
        (status = 404, description = "No such conversation, or not one of yours (admins and the desk included)", body = ErrorBody),
        (status = 409, description = "CHAT_CLOSED: cancelled, or past the window after the visit", body = ErrorBody),
        (status = 422, description = "Empty or too long `message`; `clientMessageId` used in another conversation", body = ErrorBody),
        (status = 503, description = "The chat store is unavailable; retry after Retry-After", body = ErrorBody),
    ))]
#[post("/appointments/{id}/messages")]
pub async fn send(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.parse()?;
    let sent = state
        .chat
        .send(
            &user.0,
            id.into_inner(),
            &body.message,
            body.client_message_id,
        )
        .await?;
    let dto = ChatMessageDto::from(sent.message);
    Ok(if sent.replayed {
        HttpResponse::Ok().json(dto)
    } else {
        HttpResponse::Created().json(dto)
    })
}

/// The multipart form of an attachment (documentation only; the handler streams it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SendAttachmentForm {
    /// The message's text; empty or left out: the file's name.
    #[schema(value_type = String, required = false, max_length = 4000)]
    message: Option<String>,
    /// Makes the send idempotent, as for text messages.
    #[schema(value_type = String, format = Uuid, required = false, rename = "clientMessageId")]
    client_message_id: Option<Uuid>,
    /// The file, after the other fields: PDF, PNG, JPEG, DICOM or plain text, sent with that
    /// Content-Type and a file name. At most `UPLOAD_MAX_BYTES` (20 MiB by default; more is 413).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Send a file in the conversation (multipart; `file` last).
///
/// The same rules as a text message (participants, open conversation, idempotent by
/// `clientMessageId`), and as a medical record's upload for the file: its bytes decide its
/// type, the declared Content-Type and the name's extension must agree, nothing is kept from
/// a refused upload.
#[utoipa::path(operation_id = "sendChatAttachment", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id")),
    request_body(content((SendAttachmentForm = "multipart/form-data",
        encoding(("file" = (content_type = "application/pdf, image/png, image/jpeg, application/dicom, text/plain")))))),
    responses(
        (status = 201, description = "Stored and delivered", body = ChatMessageDto),
        (status = 200, description = "A retry: the message the first try stored", body = ChatMessageDto),
        (status = 400, description = "UPLOAD_INTERRUPTED or MALFORMED_MULTIPART", body = ErrorBody),
        (status = 404, description = "No such conversation, or not one of yours", body = ErrorBody),
        (status = 408, description = "UPLOAD_STALLED", body = ErrorBody),
        (status = 409, description = "CHAT_CLOSED", body = ErrorBody),
        (status = 413, description = "Larger than UPLOAD_MAX_BYTES", body = ErrorBody),
        (status = 415, description = "Not an accepted type, or not what it claims to be", body = ErrorBody),
        (status = 422, description = "Missing or invalid field, empty file", body = ErrorBody),
        (status = 503, description = "The chat store is unavailable", body = ErrorBody),
    ))]
#[post("/appointments/{id}/messages/attachments")]
pub async fn send_attachment(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    form: actix_multipart::Multipart,
) -> Result<HttpResponse, ApiError> {
    crate::uploads::check_declared_length(&req, state.chat.max_attachment_bytes())?;
    let sent = match crate::uploads::receive_chat_attachment(&state, &user.0, id.into_inner(), form)
        .await?
    {
        ChatUpload::Replayed(sent) => sent,
        ChatUpload::Stored(prepared, kind, size) => {
            state
                .chat
                .send_attachment(&user.0, prepared, kind, size)
                .await?
        }
    };
    let dto = ChatMessageDto::from(sent.message);
    Ok(if sent.replayed {
        HttpResponse::Ok().json(dto)
    } else {
        HttpResponse::Created().json(dto)
    })
}

/// Download a message's attachment (the conversation's two participants only).
#[utoipa::path(operation_id = "downloadChatAttachment", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id"),
        ("messageId" = Uuid, Path, description = "Message id"),
        ("attachmentId" = Uuid, Path, description = "Attachment id")),
    responses((status = 200, description = "The bytes, with the type decided at upload", content(
            (FileBytes = "application/pdf"), (FileBytes = "image/png"), (FileBytes = "image/jpeg"),
            (FileBytes = "application/dicom"), (FileBytes = "text/plain"))),
        (status = 404, description = "No such attachment in a conversation of yours", body = ErrorBody),
        (status = 503, description = "The chat store is unavailable", body = ErrorBody)))]
#[get("/appointments/{id}/messages/{messageId}/attachments/{attachmentId}")]
pub async fn download_attachment(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (appointment_id, message_id, attachment_id) = path.into_inner();
    let (attachment, bytes) = state
        .chat
        .attachment(&user.0, appointment_id, message_id, attachment_id)
        .await?;
    Ok(crate::routes::medical_records::file_response(
        &attachment.content_type,
        &attachment.file_name,
        attachment.size_bytes,
        bytes,
    ))
}

/// The conversation, newest first, by cursor (its patient or its doctor, whatever its state).
#[utoipa::path(operation_id = "listChatMessages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id"), HistoryQuery),
    responses(
        (status = 200, description = "A page, newest first", body = ChatMessagePage),
        (status = 404, description = "No such conversation, or not one of yours", body = ErrorBody),
        (status = 422, description = "A bad `cursor` or `perPage`", body = ErrorBody),
        (status = 503, description = "The chat store is unavailable", body = ErrorBody),
    ))]
#[get("/appointments/{id}/messages")]
pub async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: LazyQuery<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.parse()?;
    let per_page = match q.per_page {
        None => 50,
        Some(n @ 1..=200) => n as usize,
        Some(_) => return Err(ApiError::validation("perPage", "must be 1 to 200")),
    };
    let before = match q.cursor.as_deref() {
        None => None,
        Some(raw) => Some(Cursor::parse(raw)?.seq()?.1),
    };
    let page = state
        .chat
        .history(&user.0, id.into_inner(), before, per_page)
        .await?;
    let next_cursor = page
        .items
        .last()
        .filter(|_| page.more)
        .map(|m| Cursor::Seq(m.sent_at, m.seq).encode());
    Ok(HttpResponse::Ok().json(ChatMessagePage {
        items: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        total_is_exact: true,
        per_page: per_page as u32,
        next_cursor,
    }))
}

/// Mark read the messages sent to me up to `upToSeq` (a read receipt for the sender).
#[utoipa::path(operation_id = "markChatRead", tag = "chat", security(("bearer" = [])),
    request_body = MarkReadRequest, params(("id" = Uuid, Path, description = "Appointment id")),
    responses(
        (status = 200, description = "Marked; `marked` says how many were unread", body = ReadReceiptDto),
        (status = 404, description = "No such conversation, or not one of yours", body = ErrorBody),
        (status = 422, description = "`upToSeq` below 1", body = ErrorBody),
        (status = 503, description = "The chat store is unavailable", body = ErrorBody),
    ))]
#[post("/appointments/{id}/messages/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<MarkReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.parse()?;
    let receipt = state
        .chat
        .mark_read(&user.0, id.into_inner(), body.up_to_seq)
        .await?;
    Ok(HttpResponse::Ok().json(ReadReceiptDto::from(receipt)))
}

/// My unread messages, in total and per conversation (patients and doctors).
#[utoipa::path(operation_id = "getChatUnread", tag = "chat", security(("bearer" = [])),
    responses(
        (status = 200, description = "Unread counts", body = ChatUnreadDto),
        (status = 403, description = "Only patients and doctors chat", body = ErrorBody),
        (status = 503, description = "The chat store is unavailable", body = ErrorBody),
    ))]
#[get("/chat/unread")]
pub async fn unread(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::Chat)?;
    let unread = state.chat.unread(&user.0).await?;
    Ok(HttpResponse::Ok().json(ChatUnreadDto {
        total: unread.iter().map(|u| u.count).sum(),
        conversations: unread
            .into_iter()
            .map(|u| ConversationUnreadDto {
                appointment_id: u.appointment_id,
                count: u.count,
            })
            .collect(),
    }))
}

/// The chat WebSocket: my conversations, live.
///
/// Open with a live ticket (`POST /notifications/stream-ticket`; single use, 30 s) as
/// `?ticket=`, or with the `Authorization` header from a non-browser client; never put the
/// access token in the URL. At most `CHAT_MAX_SOCKETS_PER_USER` (5) per user and process.
///
/// Frames are JSON text, each with a `type` (schemas `ChatClientFrame` and `ChatServerFrame`):
/// - the server first sends `ready` (my unread total), then `message` and `read` events of all
///   my conversations as they commit, on any `serve` process;
/// - the client sends `send`, `resume` and `read`; `send` is answered by `sent` (the message
///   itself then arrives as a `message` event) or `error` (the REST error model, with the
///   frame's `clientMessageId` as `ref`);
/// - after a reconnect, `resume` with the last `seq` seen in a conversation: the server sends
///   what was missed, oldest first (500 at most; `resumed.complete` false: resume again from
///   `lastSeq`), then `resumed`; nothing is lost and nothing comes twice. A live message that
///   overtook the `resume` comes before the backfill: order by `seq`;
/// - pings every `LIVE_KEEPALIVE_SECS` (15 s); a client silent for three intervals is closed;
/// - frames beyond `CHAT_SOCKET_RATE_PER_SEC` (burst `CHAT_SOCKET_BURST`) are answered
///   `RATE_LIMITED`; a socket that keeps flooding is closed with 1008;
/// - when my session ends the server sends `end` and closes with 4001; when the chat store is
///   down, frames are answered `SERVICE_UNAVAILABLE` with `retryAfter`, and the socket stays.
#[utoipa::path(operation_id = "openChatSocket", tag = "chat", security(("bearer" = []), ()),
    params(("ticket" = Option<String>, Query, pattern = r"^[0-9a-f]{64}$", description = "A live ticket, instead of the Authorization header (browsers)")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket handshake", body = ErrorBody),
        (status = 401, description = "No valid session or ticket", body = ErrorBody),
        (status = 403, description = "Only patients and doctors chat", body = ErrorBody),
        (status = 429, description = "TOO_MANY_SOCKETS", body = ErrorBody),
    ))]
#[get("/chat/socket")]
pub async fn socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The query first (a malformed ticket is 422, as everywhere), then the handshake, before
    // the ticket is spent: a plain GET must not use it up.
    crate::extract::ApiQuery::<crate::routes::notifications::StreamQuery>::parse(
        req.query_string(),
    )?;
    let upgrade = req
        .headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok());
    if !upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::bad_request(
            "NOT_A_WEBSOCKET",
            "a WebSocket handshake is required (Upgrade: websocket)",
        ));
    }
    let actor = crate::routes::notifications::stream_actor(&req, &state).await?;
    actor.require(Permission::Chat)?;
    // Subscribe before counting, so nothing committed in between is missed.
    let subscription = state.chat_hub.subscribe(actor.user_id)?;
    let unread_total = state
        .chat
        .unread(&actor)
        .await
        .map(|u| u.iter().map(|c| c.count).sum())
        .unwrap_or(0);
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|e| {
        ApiError::bad_request(
            "NOT_A_WEBSOCKET",
            format!("a WebSocket handshake is required: {e}"),
        )
    })?;
    actix_web::rt::spawn(crate::chat::socket::run(
        state.clone(),
        actor,
        session,
        stream,
        subscription,
        unread_total,
    ));
    Ok(response)
}
