//! Medical records: streamed multipart upload (the protocol is in [`crate::uploads`]),
//! authenticated streamed download, listing by patient and type. If the row of a stored file
//! cannot be written, the file is deleted: a failed upload leaves nothing behind.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::medical_records::{MedicalRecord, RecordType};
use domain::paging::PageRequest;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::routes::dto::MedicalRecordPage;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MedicalRecordDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub uploaded_by: Uuid,
    #[serde(rename = "type")]
    pub kind: RecordType,
    pub title: String,
    pub description: Option<String>,
    /// The authenticated download route of the file.
    #[schema(example = "/medical-records/6f1c0f8e-4a57-4c2b-9d1a-3f1f0f6f7a10/file")]
    pub file_url: String,
    /// Decided from the file's bytes.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    pub size_bytes: i64,
    /// Sanitised original name.
    pub file_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<MedicalRecord> for MedicalRecordDto {
    fn from(r: MedicalRecord) -> Self {
        Self {
            id: r.id,
            patient_id: r.patient_id,
            uploaded_by: r.uploaded_by,
            kind: r.kind,
            title: r.title,
            description: r.description,
            file_url: r.file_url,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            file_name: r.file_name,
            created_at: r.created_at,
        }
    }
}

/// The multipart form (documentation only; the handler streams it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadRecordForm {
    r#type: RecordType,
    #[schema(min_length = 1, max_length = 200, example = "Blood panel")]
    title: String,
    /// Empty or left out: none.
    #[schema(value_type = String, required = false, max_length = 4000)]
    description: Option<String>,
    /// The document, after the other fields: PDF, PNG, JPEG, DICOM or plain text, sent with
    /// that Content-Type and a file name. At most `UPLOAD_MAX_BYTES` (20 MiB by default; more is 413).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// A file's raw bytes (documentation only).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileBytes(Vec<u8>);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct RecordListQuery {
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<RecordType>,
    /// 1-based page number, up to 500; deeper pages are read with `cursor`.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Items per page, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// Read the page that starts after this position: the `nextCursor` of the page before,
    /// passed back as it is with the same filters (instead of `page`).
    #[param(
        max_length = 994,
        pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$"
    )]
    pub cursor: Option<String>,
}

/// Upload a document for a patient (multipart; `file` last).
///
/// Who: the patient itself and receptionists (LAB_REPORT, IMAGING), the patient's doctors (any
/// type). The bytes decide the type (PDF, PNG, JPEG, DICOM, plain text); the declared
/// Content-Type and the name's extension must agree. Nothing is kept from a refused upload.
#[utoipa::path(operation_id = "uploadMedicalRecord", tag = "medical-records", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id")),
    request_body(content((UploadRecordForm = "multipart/form-data",
        encoding(("file" = (content_type = "application/pdf, image/png, image/jpeg, application/dicom, text/plain")))))),
    responses(
        (status = 201, description = "Stored", body = MedicalRecordDto),
        (status = 400, description = "UPLOAD_INTERRUPTED or MALFORMED_MULTIPART", body = ErrorBody),
        (status = 403, description = "This role may not upload this type", body = ErrorBody),
        (status = 404, description = "No such patient (or not yours)", body = ErrorBody),
        (status = 408, description = "UPLOAD_STALLED: nothing received for UPLOAD_IDLE_TIMEOUT_SECS", body = ErrorBody),
        (status = 413, description = "Larger than UPLOAD_MAX_BYTES", body = ErrorBody),
        (status = 415, description = "Not an accepted type, or not what it claims to be", body = ErrorBody),
        (status = 422, description = "Missing or invalid field, empty file", body = ErrorBody),
    ))]
#[post("/patients/{id}/medical-records")]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    patient_id: web::Path<Uuid>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    crate::uploads::check_declared_length(&req, state.medical_records.max_bytes())?;
    let (prepared, kind, size) =
        crate::uploads::receive(&state, &user.0, patient_id.into_inner(), form).await?;
    let record = state
        .medical_records
        .accept_upload(&user.0, prepared, kind, size)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/medical-records/{}", record.id)))
        .json(MedicalRecordDto::from(record)))
}

/// A patient's records the caller may read, newest first, optionally of one type.
#[utoipa::path(operation_id = "listMedicalRecords", tag = "medical-records", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), RecordListQuery),
    responses((status = 200, description = "A page of records", body = MedicalRecordPage),
        (status = 404, description = "No such patient (or not yours)", body = ErrorBody)))]
#[get("/patients/{id}/medical-records")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    patient_id: web::Path<Uuid>,
    query: ApiQuery<RecordListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let found = state
        .medical_records
        .list(&user.0, patient_id.into_inner(), q.kind, page)
        .await?;
    Ok(HttpResponse::Ok().json(MedicalRecordPage::from(found)))
}

/// One record's metadata.
#[utoipa::path(operation_id = "getMedicalRecord", tag = "medical-records", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Record id")),
    responses((status = 200, description = "The record", body = MedicalRecordDto),
        (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/medical-records/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let record = state.medical_records.get(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(MedicalRecordDto::from(record)))
}

/// Download the file, streamed, with its content type (an attachment, never rendered inline).
#[utoipa::path(operation_id = "downloadMedicalRecordFile", tag = "medical-records", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Record id")),
    responses((status = 200, description = "The bytes, with the type recorded at upload", content(
            (FileBytes = "application/pdf"), (FileBytes = "image/png"), (FileBytes = "image/jpeg"),
            (FileBytes = "application/dicom"), (FileBytes = "text/plain"))),
        (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/medical-records/{id}/file")]
pub async fn download(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (record, bytes) = state
        .medical_records
        .download(&user.0, id.into_inner())
        .await?;
    Ok(file_response(
        &record.content_type,
        &record.file_name,
        record.size_bytes,
        bytes,
    ))
}

/// A stored file's download: streamed, as an attachment (never rendered inline), with its type
/// and length, not sniffed by the browser, not cached, not compressed again.
pub fn file_response(
    content_type: &str,
    file_name: &str,
    size_bytes: i64,
    bytes: domain::medical_records::ByteStream,
) -> HttpResponse {
    let body = bytes.map(|chunk| {
        chunk.map(bytes::Bytes::from).map_err(|e| {
            tracing::warn!(error = %e, "download interrupted");
            actix_web::error::ErrorInternalServerError("download interrupted")
        })
    });
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CONTENT_LENGTH, size_bytes.to_string()))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .streaming(body)
}
