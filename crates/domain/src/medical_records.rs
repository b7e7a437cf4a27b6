//! Medical records: documents about a patient, with the file kept in a [`FileStore`].
//!
//! Who (the spec's rule, made precise here):
//!
//! | role         | uploads                                   | reads                        |
//! |--------------|-------------------------------------------|------------------------------|
//! | patient      | its own LAB_REPORT / IMAGING              | all its own                  |
//! | doctor       | any type, for patients it treats         | those of patients it treats  |
//! | receptionist | LAB_REPORT / IMAGING (documents at desk)  | LAB_REPORT / IMAGING         |
//! | admin        | nothing (not in the spec's list)          | all                          |
//!
//! "Treats" means the doctor has a non-cancelled appointment with the patient. PRESCRIPTION
//! and CLINICAL_NOTE are clinical documents: only a doctor writes them, receptionists never
//! see them. A record the actor may not read is `NotFound`.
//!
//! Files: the type is decided by the bytes ([`sniff`]), not by the name or the declared
//! Content-Type, which must both agree with it; the stored name is [`sanitize_file_name`]d
//! and the storage key never contains it. The upload protocol lives in
//! [`MedicalRecordService::prepare_upload`] and [`MedicalRecordService::accept_upload`].

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::directory::DirectoryRepository;
use crate::error::DomainError;
use crate::identity::{parse_optional_text, Actor, Role};
use crate::paging::{Page, PageRequest};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordType {
    Prescription,
    LabReport,
    Imaging,
    ClinicalNote,
}

impl RecordType {
    pub const ALL: [RecordType; 4] = [
        Self::Prescription,
        Self::LabReport,
        Self::Imaging,
        Self::ClinicalNote,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prescription => "PRESCRIPTION",
            Self::LabReport => "LAB_REPORT",
            Self::Imaging => "IMAGING",
            Self::ClinicalNote => "CLINICAL_NOTE",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// Written by a doctor only; never shown to the front desk.
    pub fn is_clinical(self) -> bool {
        matches!(self, Self::Prescription | Self::ClinicalNote)
    }
}

/// The file kinds the clinic accepts, recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
    Dicom,
    Text,
}

/// How many leading bytes [`sniff`] needs to decide (DICOM's magic sits at offset 128; plain
/// text is judged on this much).
pub const SNIFF_LEN: usize = 4096;

impl FileKind {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Dicom => "application/dicom",
            Self::Text => "text/plain",
        }
    }

    /// File-name extensions that may carry this kind.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Pdf => &["pdf"],
            Self::Png => &["png"],
            Self::Jpeg => &["jpg", "jpeg"],
            Self::Dicom => &["dcm", "dicom"],
            Self::Text => &["txt", "text", "log", "csv"],
        }
    }

    /// The kind a declared Content-Type names (parameters such as `; charset=utf-8` ignored).
    pub fn from_content_type(raw: &str) -> Option<Self> {
        let essence = raw
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/pdf" => Some(Self::Pdf),
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "application/dicom" => Some(Self::Dicom),
            "text/plain" => Some(Self::Text),
            _ => None,
        }
    }
}

/// Recognises the kind from the first bytes of a file (at least [`SNIFF_LEN`] of them, or the
/// whole file when shorter). Plain text is valid UTF-8 (a character cut at the end of the
/// window is allowed) without NUL or other control bytes besides tab, CR, LF and form feed.
pub fn sniff(head: &[u8]) -> Option<FileKind> {
    if head.starts_with(b"%PDF-") {
        return Some(FileKind::Pdf);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(FileKind::Png);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(FileKind::Jpeg);
    }
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Some(FileKind::Dicom);
    }
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut by the window is fine; an invalid byte is not.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return None,
    };
    let printable = !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{c}'));
    printable.then_some(FileKind::Text)
}

/// A safe display name: the last path component only, characters outside letters, digits,
/// `.`, `-`, `_` and space replaced by `_`, no leading dots (hidden files, `..`), at most 120
/// characters keeping the extension. Never used as a storage path; only shown and sent back
/// in `Content-Disposition`.
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let mut name = if trimmed.is_empty() || trimmed.chars().all(|c| c == '_' || c == '.') {
        "file".to_owned()
    } else {
        trimmed.to_owned()
    };
    if name.len() > 120 {
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.chars().take(10).collect::<String>())
            .unwrap_or_default();
        name.truncate(120 - ext.len() - 1);
        name = format!("{}.{}", name.trim_end_matches('.'), ext);
    }
    name
}

/// Refuses a name that tries to be a path (`/`, `\\`, a `..` component) or carries control
/// characters, which no honest client sends; sanitises the rest.
pub fn check_file_name(raw: &str) -> Result<String, DomainError> {
    let path_like =
        raw.contains(['/', '\\']) || raw.trim() == ".." || raw.chars().any(char::is_control);
    if path_like {
        return Err(DomainError::validation(
            "file",
            "the file name must be a plain name, not a path",
        ));
    }
    Ok(sanitize_file_name(raw))
}

fn extension(name: &str) -> Option<String> {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicalRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub uploaded_by: Uuid,
    pub kind: RecordType,
    pub title: String,
    pub description: Option<String>,
    /// The authenticated download route of the file (not a storage location).
    pub file_url: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub file_name: String,
    pub created_at: DateTime<Utc>,
}

impl MedicalRecord {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "patientId": self.patient_id, "uploadedBy": self.uploaded_by,
            "type": self.kind.as_str(), "title": self.title, "description": self.description,
            "contentType": self.content_type, "sizeBytes": self.size_bytes,
            "fileName": self.file_name,
        })
    }

    /// Where the bytes live in the file store: derived from ids only, never from user input.
    pub fn storage_key(&self) -> String {
        storage_key(self.patient_id, self.id)
    }
}

pub fn storage_key(patient_id: Uuid, record_id: Uuid) -> String {
    format!("medical-records/{patient_id}/{record_id}")
}

/// The download route `file_url` points to.
pub fn file_url(record_id: Uuid) -> String {
    format!("/medical-records/{record_id}/file")
}

/// A chunked stream of a stored file's bytes.
pub type ByteStream =
    Pin<Box<dyn futures::Stream<Item = Result<Vec<u8>, DomainError>> + Send + 'static>>;

/// Where the files are: a local directory or an S3-compatible bucket (adapters).
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Starts writing `key`. Nothing is visible under `key` until [`FileWriter::finish`]; an
    /// aborted or dropped writer leaves nothing behind.
    async fn create(&self, key: &str) -> Result<Box<dyn FileWriter>, DomainError>;
    /// The bytes of `key`; `NotFound("file")` when missing.
    async fn open(&self, key: &str) -> Result<ByteStream, DomainError>;
    /// Removes `key` (missing is fine).
    async fn delete(&self, key: &str) -> Result<(), DomainError>;
}

/// A file being written.
#[async_trait]
pub trait FileWriter: Send {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError>;
    /// Makes the file visible under its key.
    async fn finish(self: Box<Self>) -> Result<(), DomainError>;
    /// Discards everything written.
    async fn abort(self: Box<Self>);
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MedicalRecordRepository: Send + Sync {
    async fn get(&self, id: Uuid) -> Result<Option<MedicalRecord>, DomainError>;
    /// The patient's records of any of `kinds`, newest first.
    async fn list(
        &self,
        patient_id: Uuid,
        kinds: Vec<RecordType>,
        page: PageRequest,
    ) -> Result<Page<MedicalRecord>, DomainError>;
    /// Inserts the record with its audit event in one transaction.
    async fn insert(
        &self,
        record: MedicalRecord,
        event: AuditEvent,
    ) -> Result<MedicalRecord, DomainError>;
    /// Whether the doctor has a non-cancelled appointment with the patient.
    async fn doctor_treats(&self, doctor_id: Uuid, patient_id: Uuid) -> Result<bool, DomainError>;
}

/// The metadata fields of an upload, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadForm {
    pub kind: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// An upload the actor may make, decided before any byte of the file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedUpload {
    pub record_id: Uuid,
    pub patient_id: Uuid,
    pub kind: RecordType,
    pub title: String,
    pub description: Option<String>,
    pub file_name: String,
    /// The kind the file part's Content-Type names; `None` when it names none we accept.
    pub declared: Option<FileKind>,
    pub storage_key: String,
}

/// Why an upload's bytes were refused (the HTTP layer answers 415 or 413 or 422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRejection {
    /// Not one of PDF, PNG, JPEG, DICOM, plain text, or not what the name or the declared
    /// Content-Type says.
    UnsupportedType(String),
    TooLarge {
        max_bytes: u64,
    },
    Empty,
}

/// Judges an uploaded file's first bytes against what its part declared: the bytes decide the
/// kind, and the declared Content-Type (`declared`, `None` when it names no accepted kind) and
/// the name's extension must agree with them. Shared by every upload (records, chat).
pub fn judge_head(
    head: &[u8],
    declared: Option<FileKind>,
    file_name: &str,
) -> Result<FileKind, FileRejection> {
    if head.is_empty() {
        return Err(FileRejection::Empty);
    }
    let kind = sniff(head).ok_or_else(|| {
        FileRejection::UnsupportedType(
            "the file is not a PDF, PNG, JPEG, DICOM or plain text document".into(),
        )
    })?;
    let Some(declared) = declared else {
        return Err(FileRejection::UnsupportedType(
            "the file's Content-Type must be one of application/pdf, image/png, image/jpeg, application/dicom, text/plain".into(),
        ));
    };
    if kind != declared {
        return Err(FileRejection::UnsupportedType(format!(
            "the file's content is {}, not the declared {}",
            kind.content_type(),
            declared.content_type()
        )));
    }
    if let Some(ext) = extension(file_name) {
        if !kind.extensions().contains(&ext.as_str()) {
            return Err(FileRejection::UnsupportedType(format!(
                "a .{ext} name does not fit {} content",
                kind.content_type()
            )));
        }
    }
    Ok(kind)
}

///
/// The file store is private to the use case: it alone creates, keeps or discards a stored
/// file, so the guarantee "a rejected upload leaves nothing behind" lives in one place.
pub struct MedicalRecordService {
    records: Arc<dyn MedicalRecordRepository>,
    files: Arc<dyn FileStore>,
    directory: Arc<dyn DirectoryRepository>,
    clock: Arc<dyn Clock>,
    max_bytes: u64,
}

/// What an actor may do with one patient's records.
struct Access {
    /// Types it may read.
    read: Vec<RecordType>,
    /// Types it may upload.
    upload: Vec<RecordType>,
}

const DESK_TYPES: [RecordType; 2] = [RecordType::LabReport, RecordType::Imaging];

impl MedicalRecordService {
    pub fn new(
        records: Arc<dyn MedicalRecordRepository>,
        files: Arc<dyn FileStore>,
        directory: Arc<dyn DirectoryRepository>,
        clock: Arc<dyn Clock>,
        max_bytes: u64,
    ) -> Self {
        Self {
            records,
            files,
            directory,
            clock,
            max_bytes,
        }
    }

    /// The largest file accepted, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Opens the writer of a prepared upload's file (after [`Self::check_head`] accepted its
    /// first bytes). The writer is aborted on any failure; a finished file that is then not
    /// recorded is removed by [`Self::accept_upload`] or [`Self::discard`].
    pub async fn open_file(
        &self,
        upload: &PreparedUpload,
    ) -> Result<Box<dyn FileWriter>, DomainError> {
        self.files.create(&upload.storage_key).await
    }

    /// Removes a finished file whose upload was refused after it was written (for example a
    /// form part after the file). Best effort: a failure is logged by the store.
    pub async fn discard(&self, upload: &PreparedUpload) {
        let _ = self.files.delete(&upload.storage_key).await;
    }

    /// The actor's rights over `patient_id`'s records; `NotFound("patient")` when it may not
    /// even know the patient (another patient, a doctor who does not treat them).
    async fn access(&self, actor: &Actor, patient_id: Uuid) -> Result<Access, DomainError> {
        let not_found = DomainError::NotFound("patient");
        let access = match actor.role {
            Role::Admin => Access {
                read: RecordType::ALL.to_vec(),
                upload: vec![],
            },
            Role::Receptionist => Access {
                read: DESK_TYPES.to_vec(),
                upload: DESK_TYPES.to_vec(),
            },
            Role::Patient => {
                if actor.own_patient_id()? != patient_id {
                    return Err(not_found);
                }
                Access {
                    read: RecordType::ALL.to_vec(),
                    upload: DESK_TYPES.to_vec(),
                }
            }
            Role::Doctor => {
                if !self
                    .records
                    .doctor_treats(actor.own_doctor_id()?, patient_id)
                    .await?
                {
                    return Err(not_found);
                }
                Access {
                    read: RecordType::ALL.to_vec(),
                    upload: RecordType::ALL.to_vec(),
                }
            }
        };
        Ok(access)
    }

    /// [`Self::access`] for a patient named by the caller (upload, list): staff may reach any
    /// patient, so for them the patient must also exist. (A stored record's patient exists.)
    async fn access_named(&self, actor: &Actor, patient_id: Uuid) -> Result<Access, DomainError> {
        let access = self.access(actor, patient_id).await?;
        if matches!(actor.role, Role::Admin | Role::Receptionist)
            && self.directory.patient(patient_id).await?.is_none()
        {
            return Err(DomainError::NotFound("patient"));
        }
        Ok(access)
    }

    /// Checks the metadata and the actor's right to upload it, before the file is read.
    /// `file_name` and `declared_type` come from the file part's headers.
    #[tracing::instrument(name = "medical_records.prepare_upload", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, patient_id = %patient_id))]
    pub async fn prepare_upload(
        &self,
        actor: &Actor,
        patient_id: Uuid,
        form: UploadForm,
        file_name: &str,
        declared_type: Option<&str>,
    ) -> Result<PreparedUpload, DomainError> {
        if actor.is(Role::Admin) {
            return Err(DomainError::Forbidden);
        }
        let kind_raw = form
            .kind
            .ok_or_else(|| DomainError::validation("type", "required"))?;
        let kind = RecordType::parse(kind_raw.trim()).ok_or_else(|| {
            DomainError::validation(
                "type",
                "must be one of PRESCRIPTION, LAB_REPORT, IMAGING, CLINICAL_NOTE",
            )
        })?;
        let title = crate::text::parse_optional_line(form.title.as_deref(), "title", 200)?
            .ok_or_else(|| DomainError::validation("title", "required"))?;
        let description = parse_optional_text(form.description.as_deref(), "description", 4000)?;
        let access = self.access_named(actor, patient_id).await?;
        if !access.upload.contains(&kind) {
            return Err(DomainError::Forbidden);
        }
        let declared = declared_type.and_then(FileKind::from_content_type);
        let file_name = check_file_name(file_name)?;
        let record_id = Uuid::new_v4();
        Ok(PreparedUpload {
            record_id,
            patient_id,
            kind,
            title,
            description,
            file_name,
            declared,
            storage_key: storage_key(patient_id, record_id),
        })
    }

    /// Judges the first bytes of the file against what was declared (see [`judge_head`]).
    pub fn check_head(
        &self,
        upload: &PreparedUpload,
        head: &[u8],
    ) -> Result<FileKind, FileRejection> {
        judge_head(head, upload.declared, &upload.file_name)
    }

    /// Records an upload whose bytes are already finished in the file store. If the record
    /// cannot be written, the file is deleted: a failed upload leaves nothing behind.
    #[tracing::instrument(name = "medical_records.accept_upload", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn accept_upload(
        &self,
        actor: &Actor,
        upload: PreparedUpload,
        kind: FileKind,
        size_bytes: u64,
    ) -> Result<MedicalRecord, DomainError> {
        let record = MedicalRecord {
            id: upload.record_id,
            patient_id: upload.patient_id,
            uploaded_by: actor.user_id,
            kind: upload.kind,
            title: upload.title,
            description: upload.description,
            file_url: file_url(upload.record_id),
            content_type: kind.content_type().to_owned(),
            size_bytes: i64::try_from(size_bytes)
                .map_err(|_| DomainError::validation("file", "too large"))?,
            file_name: upload.file_name,
            created_at: self.clock.now(),
        };
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "medical_record",
            Some(record.id),
            &actor.meta,
        )
        .after(record.snapshot());
        let key = record.storage_key();
        match self.records.insert(record, event).await {
            Ok(record) => Ok(record),
            Err(e) => {
                let _ = self.files.delete(&key).await;
                Err(e)
            }
        }
    }

    #[tracing::instrument(name = "medical_records.get", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<MedicalRecord, DomainError> {
        let record = self
            .records
            .get(id)
            .await?
            .ok_or(DomainError::NotFound("medical record"))?;
        let access = match self.access(actor, record.patient_id).await {
            Err(DomainError::NotFound(_)) => return Err(DomainError::NotFound("medical record")),
            other => other?,
        };
        if !access.read.contains(&record.kind) {
            return Err(DomainError::NotFound("medical record"));
        }
        Ok(record)
    }

    /// The record and its bytes, for the download route.
    #[tracing::instrument(name = "medical_records.download", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn download(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(MedicalRecord, ByteStream), DomainError> {
        let record = self.get(actor, id).await?;
        let bytes = self.files.open(&record.storage_key()).await?;
        Ok((record, bytes))
    }

    /// A patient's records the actor may read, optionally of one type.
    #[tracing::instrument(name = "medical_records.list", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, patient_id = %patient_id))]
    pub async fn list(
        &self,
        actor: &Actor,
        patient_id: Uuid,
        kind: Option<RecordType>,
        page: PageRequest,
    ) -> Result<Page<MedicalRecord>, DomainError> {
        let access = self.access_named(actor, patient_id).await?;
        let kinds = match kind {
            Some(k) if access.read.contains(&k) => vec![k],
            Some(_) => vec![],
            None => access.read,
        };
        if kinds.is_empty() {
            return Ok(Page::whole(vec![], &page));
        }
        self.records.list(patient_id, kinds, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_decide_the_kind() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(FileKind::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some(FileKind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some(FileKind::Jpeg));
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\x02\x00");
        assert_eq!(sniff(&dicom), Some(FileKind::Dicom));
        assert_eq!(
            sniff("Glucose: 5.4 mmol/L\r\nNote: état stable\n".as_bytes()),
            Some(FileKind::Text)
        );
        // A Windows executable renamed to .pdf, a zip, a NUL-laden blob: none accepted.
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), None);
        assert_eq!(sniff(b"PK\x03\x04"), None);
        assert_eq!(sniff(b"abc\0def"), None);
        assert_eq!(sniff(b"\x1b[31mred"), None);
        // A multi-byte character cut at the end of the sniffing window is still text.
        let cut = "é".as_bytes();
        assert_eq!(sniff(&[b"ab", &cut[..1]].concat()), Some(FileKind::Text));
    }

    #[test]
    fn file_names_are_sanitised() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_file_name("...."), "file");
        assert_eq!(sanitize_file_name(".bashrc"), "bashrc");
        assert_eq!(sanitize_file_name("lab<script>.pdf"), "lab_script_.pdf");
        assert_eq!(sanitize_file_name("résumé 2026.pdf"), "r_sum_ 2026.pdf");
        assert_eq!(sanitize_file_name("a\0b\r\n.txt"), "a_b__.txt");
        assert_eq!(sanitize_file_name(""), "file");
        let long = format!("{}.pdf", "x".repeat(300));
        let short = sanitize_file_name(&long);
        assert!(short.len() <= 120 && short.ends_with(".pdf"), "{short}");
    }

    #[test]
    fn path_like_names_are_refused_outright() {
        for bad in [
            "../../etc/passwd",
            "..\\boot.ini",
            "/etc/shadow",
            "..",
            "a\0.txt",
            "x\n.pdf",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_file_name("lab report (1).pdf").unwrap(),
            "lab report _1_.pdf"
        );
    }

    #[test]
    fn declared_types_are_matched_loosely_but_only_from_the_allowlist() {
        assert_eq!(
            FileKind::from_content_type("text/plain; charset=utf-8"),
            Some(FileKind::Text)
        );
        assert_eq!(
            FileKind::from_content_type("Application/PDF"),
            Some(FileKind::Pdf)
        );
        assert_eq!(
            FileKind::from_content_type("application/x-msdownload"),
            None
        );
        assert_eq!(FileKind::from_content_type("text/html"), None);
        assert!(RecordType::ClinicalNote.is_clinical() && !RecordType::LabReport.is_clinical());
    }
}
