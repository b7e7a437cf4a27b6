//! The upload protocol of medical records and chat attachments: a streamed
//! `multipart/form-data` form with the text fields (records: `type`, `title`, `description`;
//! chat: `message`, `clientMessageId`; each at most once) and then `file`, last.
//!
//! The rules (who may upload what, which bytes are which type, what a name may be) are the
//! domain's ([`domain::medical_records`]); this module moves bytes: it reads the text fields,
//! asks the domain to prepare the upload before a byte of the file is read, sniffs the first
//! bytes, streams the rest into the file store while counting them, and on any failure aborts
//! the partial file so nothing stays behind. A stalled client gets 408 after
//! `UPLOAD_IDLE_TIMEOUT_SECS`.

use std::time::Duration;

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::http::{header, StatusCode};
use actix_web::HttpRequest;
use domain::chat::service::{AttachmentUpload, PreparedAttachment, Sent};
use domain::identity::Actor;
use domain::medical_records::{
    FileKind, FileRejection, FileWriter, PreparedUpload, UploadForm, SNIFF_LEN,
};
use futures::TryStreamExt;
use uuid::Uuid;

use crate::errors::ApiError;
use crate::state::AppState;

/// Largest accepted text field of the form.
const MAX_FIELD_BYTES: usize = 8 * 1024;
/// Room for the form's headers and text fields around the file.
const FORM_OVERHEAD: u64 = 64 * 1024;

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "expected Content-Type: multipart/form-data with a boundary",
        ),
        MultipartError::Incomplete | MultipartError::Payload(_) => ApiError::bad_request(
            "UPLOAD_INTERRUPTED",
            "the upload ended before the form was complete",
        ),
        other => ApiError::bad_request("MALFORMED_MULTIPART", format!("malformed form: {other}")),
    }
}

fn rejection(r: FileRejection) -> ApiError {
    match r {
        FileRejection::Empty => ApiError::validation("file", "the file is empty"),
        FileRejection::TooLarge { max_bytes } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the file is larger than {max_bytes} bytes"),
        )
        .with_field("file"),
        FileRejection::UnsupportedType(why) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            why,
        )
        .with_field("file"),
    }
}

/// The next item of a multipart stream, or 408 when the client sends nothing for `idle`
/// (a stalled upload must not hold a connection and a partial file forever).
async fn next<S, T>(stream: &mut S, idle: Duration) -> Result<Option<T>, ApiError>
where
    S: futures::Stream<Item = Result<T, MultipartError>> + Unpin,
{
    match tokio::time::timeout(idle, stream.try_next()).await {
        Ok(item) => item.map_err(multipart_error),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "UPLOAD_STALLED",
            format!("no data received for {} s", idle.as_secs()),
        )),
    }
}

async fn read_text(mut field: Field, name: &str, idle: Duration) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = next(&mut field, idle).await? {
        if buf.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(ApiError::validation(name, "too long"));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| ApiError::validation(name, "must be UTF-8 text"))
}

/// Where an upload's file goes: how large it may be, how its first bytes are judged, and how
/// its writer is opened (medical records and chat attachments each have their own rules).
pub struct Destination<'a> {
    pub max_bytes: u64,
    pub judge: &'a (dyn Fn(&[u8]) -> Result<FileKind, FileRejection> + Sync),
    pub open:
        futures::future::BoxFuture<'a, Result<Box<dyn FileWriter>, domain::error::DomainError>>,
}

/// Streams the file part into its destination; returns its kind and size. Nothing is stored
/// before the first bytes are judged, and a partial file is aborted on any failure.
async fn store_file(
    idle: Duration,
    destination: Destination<'_>,
    mut field: Field,
) -> Result<(FileKind, u64), ApiError> {
    let max = destination.max_bytes;
    // The first bytes decide the type before anything is stored.
    let mut head = Vec::with_capacity(SNIFF_LEN);
    let mut ended = false;
    while head.len() < SNIFF_LEN {
        match next(&mut field, idle).await? {
            Some(chunk) => head.extend_from_slice(&chunk),
            None => {
                ended = true;
                break;
            }
        }
    }
    let mut size = head.len() as u64;
    if size > max {
        return Err(rejection(FileRejection::TooLarge { max_bytes: max }));
    }
    let kind = (destination.judge)(&head).map_err(rejection)?;
    let mut writer: Box<dyn FileWriter> = destination.open.await?;
    let streamed: Result<(), ApiError> = async {
        writer.write(&head).await?;
        if !ended {
            while let Some(chunk) = next(&mut field, idle).await? {
                size += chunk.len() as u64;
                if size > max {
                    return Err(rejection(FileRejection::TooLarge { max_bytes: max }));
                }
                writer.write(&chunk).await?;
            }
        }
        Ok(())
    }
    .await;
    match streamed {
        Ok(()) => {
            writer.finish().await?;
            Ok((kind, size))
        }
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

/// The file part's name and declared type, as its headers give them.
fn file_part_headers(field: &Field) -> (String, Option<String>) {
    let file_name = field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .unwrap_or("file")
        .to_owned();
    let declared = field.content_type().map(|m| m.essence_str().to_owned());
    (file_name, declared)
}

/// Refuses a body whose declared length already exceeds the limit, before reading it.
pub fn check_declared_length(req: &HttpRequest, max: u64) -> Result<(), ApiError> {
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|n| n > max + FORM_OVERHEAD) {
        return Err(rejection(FileRejection::TooLarge { max_bytes: max }));
    }
    Ok(())
}

/// Reads the form and stores its file; returns the prepared upload, the file's kind and size.
/// The caller records it with `accept_upload`, which removes the file if that fails.
pub async fn receive(
    state: &AppState,
    actor: &Actor,
    patient_id: Uuid,
    mut form: Multipart,
) -> Result<(PreparedUpload, FileKind, u64), ApiError> {
    let mut fields = UploadForm::default();
    let mut stored: Option<(PreparedUpload, domain::medical_records::FileKind, u64)> = None;
    let idle = state.config.upload_idle_timeout();
    loop {
        let field = match next(&mut form, idle).await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            // The form broke (or stalled) after its file was stored: nothing stays behind.
            Err(e) => {
                if let Some((prepared, _, _)) = &stored {
                    state.medical_records.discard(prepared).await;
                }
                return Err(e);
            }
        };
        if let Some((prepared, _, _)) = &stored {
            // Nothing may follow the file: discard it rather than guess.
            state.medical_records.discard(prepared).await;
            return Err(ApiError::validation(
                "file",
                "the file must be the last part of the form",
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "type" => Some(&mut fields.kind),
            "title" => Some(&mut fields.title),
            "description" => Some(&mut fields.description),
            _ => None,
        };
        if let Some(slot) = slot {
            // Each text field once: the form stays a few KiB before the file.
            if slot.is_some() {
                return Err(ApiError::validation(name, "given more than once"));
            }
            *slot = Some(read_text(field, &name, idle).await?);
            continue;
        }
        match name.as_str() {
            "file" => {
                // The rights and the type are decided before any byte is stored, so the text
                // fields must come first: say so rather than "type: required".
                if fields.kind.is_none() {
                    return Err(ApiError::validation(
                        "type",
                        "required, and before the file: send type, title and description \
                         first; the file must be the last part of the form",
                    ));
                }
                let (file_name, declared) = file_part_headers(&field);
                let prepared = state
                    .medical_records
                    .prepare_upload(
                        actor,
                        patient_id,
                        fields.clone(),
                        &file_name,
                        declared.as_deref(),
                    )
                    .await?;
                let service = &state.medical_records;
                let destination = Destination {
                    max_bytes: service.max_bytes(),
                    judge: &|head| service.check_head(&prepared, head),
                    open: Box::pin(service.open_file(&prepared)),
                };
                let (kind, size) = store_file(idle, destination, field).await?;
                stored = Some((prepared, kind, size));
            }
            other => {
                return Err(ApiError::validation(
                    other,
                    "unknown field; expected type, title, description, file",
                ))
            }
        }
    }
    stored.ok_or_else(|| ApiError::validation("file", "required"))
}

/// What a chat attachment form gave: a send to make with the stored file, or the answer of an
/// earlier try with the same client message id.
pub enum ChatUpload {
    Stored(PreparedAttachment, FileKind, u64),
    Replayed(Sent),
}

/// Reads a chat attachment form (`message` and `clientMessageId`, each optional and at most
/// once, then `file`, last) and stores its file. The caller sends it with
/// `ChatService::send_attachment`, which removes the file if the send fails.
pub async fn receive_chat_attachment(
    state: &AppState,
    actor: &Actor,
    appointment_id: Uuid,
    mut form: Multipart,
) -> Result<ChatUpload, ApiError> {
    let chat = &state.chat;
    let idle = state.config.upload_idle_timeout();
    let mut caption: Option<String> = None;
    let mut client_id: Option<String> = None;
    let mut stored: Option<ChatUpload> = None;
    loop {
        let field = match next(&mut form, idle).await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            // The form broke (or stalled) after its file was stored: nothing stays behind.
            Err(e) => {
                if let Some(ChatUpload::Stored(prepared, _, _)) = &stored {
                    chat.discard_attachment(prepared).await;
                }
                return Err(e);
            }
        };
        if let Some(ChatUpload::Stored(prepared, _, _)) = &stored {
            chat.discard_attachment(prepared).await;
            return Err(ApiError::validation(
                "file",
                "the file must be the last part of the form",
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "message" => Some(&mut caption),
            "clientMessageId" => Some(&mut client_id),
            _ => None,
        };
        if let Some(slot) = slot {
            if slot.is_some() {
                return Err(ApiError::validation(name, "given more than once"));
            }
            *slot = Some(read_text(field, &name, idle).await?);
            continue;
        }
        if name != "file" {
            return Err(ApiError::validation(
                name,
                "unknown field; expected message, clientMessageId, file",
            ));
        }
        let client_message_id = client_id
            .as_deref()
            .map(|raw| {
                raw.trim()
                    .parse::<Uuid>()
                    .map_err(|_| ApiError::validation("clientMessageId", "must be a UUID"))
            })
            .transpose()?;
        let (file_name, declared) = file_part_headers(&field);
        let prepared = match chat
            .prepare_attachment(
                actor,
                appointment_id,
                caption.as_deref(),
                client_message_id,
                &file_name,
                declared.as_deref(),
            )
            .await?
        {
            // The rest of the body is not needed: the first try stored it all.
            AttachmentUpload::Replayed(sent) => return Ok(ChatUpload::Replayed(sent)),
            AttachmentUpload::Ready(prepared) => prepared,
        };
        let destination = Destination {
            max_bytes: chat.max_attachment_bytes(),
            judge: &|head| chat.check_attachment_head(&prepared, head),
            open: Box::pin(chat.open_attachment(&prepared)),
        };
        let (kind, size) = store_file(idle, destination, field).await?;
        stored = Some(ChatUpload::Stored(prepared, kind, size));
    }
    stored.ok_or_else(|| ApiError::validation("file", "required"))
}
