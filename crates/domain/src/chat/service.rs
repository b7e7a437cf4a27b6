//! The chat's use cases: resolve the appointment and its two participants, apply
//! [`ChatPolicy`](super::ChatPolicy), and hand the stores what to keep.

use std::sync::Arc;

use chrono::SubsecRound;
use serde_json::json;
use uuid::Uuid;

use super::{
    attachment_key, ChatAttachment, ChatEvent, ChatLedger, ChatMessage, ChatPolicy, ChatRepository,
    MessageText, Participants, ReadReceipt, Side, Unread,
};
use crate::appointments::{Appointment, AppointmentRepository};
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::directory::DirectoryRepository;
use crate::error::DomainError;
use crate::identity::Actor;
use crate::medical_records::{
    check_file_name, judge_head, ByteStream, FileKind, FileRejection, FileStore, FileWriter,
};

/// A send's answer: the stored message, and whether it was stored by an earlier try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message: ChatMessage,
    pub replayed: bool,
}

/// An attachment the actor may send, decided before any byte of the file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedAttachment {
    pub appointment_id: Uuid,
    pub attachment_id: Uuid,
    /// The message's text: the caption, or the file's name when there is none.
    pub text: String,
    pub client_message_id: Option<Uuid>,
    pub file_name: String,
    /// The kind the file part's Content-Type names; `None` when it names none we accept.
    pub declared: Option<FileKind>,
    pub storage_key: String,
    receiver_id: Uuid,
}

/// What [`ChatService::prepare_attachment`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentUpload {
    /// Read the file and hand it over.
    Ready(PreparedAttachment),
    /// A retry of a send that was stored: nothing to read or store.
    Replayed(Sent),
}

/// Where attachments' bytes go, and how large they may be.
pub struct AttachmentStore {
    pub files: Arc<dyn FileStore>,
    pub max_bytes: u64,
}

/// Sends, reads and marks read the messages of appointments' conversations.
pub struct ChatService {
    appointments: Arc<dyn AppointmentRepository>,
    directory: Arc<dyn DirectoryRepository>,
    chats: Arc<dyn ChatRepository>,
    ledger: Arc<dyn ChatLedger>,
    attachments: AttachmentStore,
    clock: Arc<dyn Clock>,
    policy: ChatPolicy,
}

/// A page of a conversation, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub items: Vec<ChatMessage>,
    /// Whether older messages remain.
    pub more: bool,
    /// How many messages the conversation holds.
    pub total: u64,
}

/// The highest message number a client may name (far beyond any conversation).
pub const MAX_SEQ: i64 = 1_000_000_000;

/// The longest page of history or backfill one call returns.
pub const MAX_PAGE: usize = 200;

impl ChatService {
    /// Wires the use cases to their ports; only the composition root (and tests) build one.
    pub fn new(
        appointments: Arc<dyn AppointmentRepository>,
        directory: Arc<dyn DirectoryRepository>,
        chats: Arc<dyn ChatRepository>,
        ledger: Arc<dyn ChatLedger>,
        attachments: AttachmentStore,
        clock: Arc<dyn Clock>,
        policy: ChatPolicy,
    ) -> Self {
        Self {
            appointments,
            directory,
            chats,
            ledger,
            attachments,
            clock,
            policy,
        }
    }

    /// The appointment, if `actor` takes part in its conversation (404 `conversation` for a
    /// missing appointment and for everyone else alike).
    async fn conversation(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
    ) -> Result<(Appointment, Participants), DomainError> {
        let appointment = self
            .appointments
            .get(appointment_id)
            .await?
            .ok_or(DomainError::NotFound("conversation"))?;
        let participants = self.policy.participants(actor, &appointment)?;
        Ok((appointment, participants))
    }

    /// Checks that `actor` takes part in the conversation (for a socket's resume); answers
    /// how many messages it holds.
    pub async fn join(&self, actor: &Actor, appointment_id: Uuid) -> Result<i64, DomainError> {
        self.conversation(actor, appointment_id).await?;
        self.committed(appointment_id).await
    }

    /// The conversation's last committed number: no read goes past it.
    async fn committed(&self, appointment_id: Uuid) -> Result<i64, DomainError> {
        let count = self.ledger.count(appointment_id).await?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    /// The user on the other side of the conversation.
    async fn other_user(&self, participants: Participants) -> Result<Uuid, DomainError> {
        match participants.side {
            Side::Patient => self
                .directory
                .doctor(participants.other)
                .await?
                .map(|d| d.user_id),
            Side::Doctor => self
                .directory
                .patient(participants.other)
                .await?
                .map(|p| p.user_id),
        }
        .ok_or(DomainError::NotFound("conversation"))
    }

    /// A retried send: the message the sender stored with `client_message_id`, if any. The same
    /// id used for another conversation is refused rather than answered with the other one.
    async fn earlier_send(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        client_message_id: Option<Uuid>,
    ) -> Result<Option<Sent>, DomainError> {
        let Some(client_id) = client_message_id else {
            return Ok(None);
        };
        match self.chats.by_client_id(actor.user_id, client_id).await? {
            Some(m) if m.appointment_id == appointment_id => Ok(Some(Sent {
                message: m,
                replayed: true,
            })),
            Some(_) => Err(DomainError::validation(
                "clientMessageId",
                "already used for a message in another conversation",
            )),
            None => Ok(None),
        }
    }

    /// Sends `text` from `actor` to the other participant. The text is checked before anything
    /// is read (422 `message`), then the appointment (404 for a non-participant, as for a
    /// missing one), then whether the conversation is open (409 `CHAT_CLOSED`). A retry with
    /// the same client message id answers the first send's message, even once the
    /// conversation has closed.
    ///
    /// The happy path does not look for an earlier try: the store's unique client key finds a
    /// retry when it inserts (one MongoDB operation instead of two; the benchmark measured the
    /// lookup at a fifth to a third of the send's cost). Only a refused send looks.
    pub async fn send(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        text: &str,
        client_message_id: Option<Uuid>,
    ) -> Result<Sent, DomainError> {
        let text = MessageText::parse(text)?;
        let (appointment, _) = self.conversation(actor, appointment_id).await?;
        let participants = match self.policy.may_send(actor, &appointment, self.clock.now()) {
            Ok(participants) => participants,
            Err(refused) => {
                return match self
                    .earlier_send(actor, appointment_id, client_message_id)
                    .await?
                {
                    Some(sent) => Ok(sent),
                    None => Err(refused),
                }
            }
        };
        let receiver_id = self.other_user(participants).await?;
        self.store(
            actor,
            appointment_id,
            receiver_id,
            text.as_str(),
            vec![],
            client_message_id,
        )
        .await
    }

    /// Numbers, stores, audits and announces a checked message.
    async fn store(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        receiver_id: Uuid,
        text: &str,
        attachments: Vec<ChatAttachment>,
        client_message_id: Option<Uuid>,
    ) -> Result<Sent, DomainError> {
        let message = ChatMessage {
            id: Uuid::new_v4(),
            appointment_id,
            seq: 0,
            sender_id: actor.user_id,
            receiver_id,
            message: text.to_owned(),
            attachments,
            is_read: false,
            read_at: None,
            // Milliseconds: what MongoDB keeps, so the message answered is the message stored.
            sent_at: self.clock.now().trunc_subsecs(3),
            client_message_id,
        };
        // What is audited names the message, never its clinical text.
        let audit = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Create,
            "chat_message",
            Some(message.id),
            &actor.meta,
        )
        .after(json!({
            "appointmentId": appointment_id,
            "receiverId": receiver_id,
            "attachments": message.attachments.len(),
        }));
        match self.ledger.append(message, audit, &*self.chats).await? {
            Some(message) => Ok(Sent {
                message,
                replayed: false,
            }),
            // Two tries with one client id raced, and the other stored first.
            None => self
                .earlier_send(actor, appointment_id, client_message_id)
                .await?
                .ok_or(DomainError::NotFound("conversation")),
        }
    }

    /// The largest attachment accepted, in bytes.
    pub fn max_attachment_bytes(&self) -> u64 {
        self.attachments.max_bytes
    }

    /// Checks an attachment's send before any byte of the file is read: a participant of an
    /// open conversation, a valid caption (or none: the file's name is the text) and file
    /// name. A retry of a stored send is answered at once.
    pub async fn prepare_attachment(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        caption: Option<&str>,
        client_message_id: Option<Uuid>,
        file_name: &str,
        declared_type: Option<&str>,
    ) -> Result<AttachmentUpload, DomainError> {
        let file_name = check_file_name(file_name)?;
        let text = match caption.map(str::trim).filter(|c| !c.is_empty()) {
            Some(caption) => MessageText::parse(caption)?,
            None => MessageText::parse(&file_name)?,
        };
        let (appointment, _) = self.conversation(actor, appointment_id).await?;
        if let Some(sent) = self
            .earlier_send(actor, appointment_id, client_message_id)
            .await?
        {
            return Ok(AttachmentUpload::Replayed(sent));
        }
        let participants = self
            .policy
            .may_send(actor, &appointment, self.clock.now())?;
        let receiver_id = self.other_user(participants).await?;
        let attachment_id = Uuid::new_v4();
        Ok(AttachmentUpload::Ready(PreparedAttachment {
            appointment_id,
            attachment_id,
            text: text.as_str().to_owned(),
            client_message_id,
            file_name,
            declared: declared_type.and_then(FileKind::from_content_type),
            storage_key: attachment_key(appointment_id, attachment_id),
            receiver_id,
        }))
    }

    /// Judges the file's first bytes, as for medical records.
    pub fn check_attachment_head(
        &self,
        prepared: &PreparedAttachment,
        head: &[u8],
    ) -> Result<FileKind, FileRejection> {
        judge_head(head, prepared.declared, &prepared.file_name)
    }

    /// Opens the writer of the attachment's bytes (after [`Self::check_attachment_head`]).
    pub async fn open_attachment(
        &self,
        prepared: &PreparedAttachment,
    ) -> Result<Box<dyn FileWriter>, DomainError> {
        self.attachments.files.create(&prepared.storage_key).await
    }

    /// Removes a finished attachment whose send was refused after it was written.
    pub async fn discard_attachment(&self, prepared: &PreparedAttachment) {
        let _ = self.attachments.files.delete(&prepared.storage_key).await;
    }

    /// Sends the message of an attachment whose bytes are finished in the file store. When the
    /// message is not stored (a failure, or a concurrent retry that won), the file is removed:
    /// nothing stays behind.
    pub async fn send_attachment(
        &self,
        actor: &Actor,
        prepared: PreparedAttachment,
        kind: FileKind,
        size_bytes: u64,
    ) -> Result<Sent, DomainError> {
        let attachment = ChatAttachment {
            id: prepared.attachment_id,
            file_name: prepared.file_name.clone(),
            content_type: kind.content_type().to_owned(),
            size_bytes: i64::try_from(size_bytes)
                .map_err(|_| DomainError::validation("file", "too large"))?,
        };
        let stored = self
            .store(
                actor,
                prepared.appointment_id,
                prepared.receiver_id,
                &prepared.text,
                vec![attachment],
                prepared.client_message_id,
            )
            .await;
        let kept = matches!(&stored, Ok(sent) if !sent.replayed);
        if !kept {
            self.discard_attachment(&prepared).await;
        }
        stored
    }

    /// An attachment and its bytes, for the two participants only (404 for anyone else, and
    /// for a message or attachment that is not in this conversation).
    pub async fn attachment(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        message_id: Uuid,
        attachment_id: Uuid,
    ) -> Result<(ChatAttachment, ByteStream), DomainError> {
        self.conversation(actor, appointment_id).await?;
        let attachment = self
            .chats
            .get(message_id)
            .await?
            .filter(|m| m.appointment_id == appointment_id)
            .and_then(|m| m.attachments.into_iter().find(|a| a.id == attachment_id))
            .ok_or(DomainError::NotFound("attachment"))?;
        let bytes = self
            .attachments
            .files
            .open(&attachment_key(appointment_id, attachment_id))
            .await?;
        Ok((attachment, bytes))
    }

    /// A page of the conversation, newest first: up to `limit` messages before `before_seq`,
    /// whether older ones remain, and how many the conversation holds. Participants may read
    /// whatever the conversation's state.
    pub async fn history(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<HistoryPage, DomainError> {
        self.conversation(actor, appointment_id).await?;
        let limit = limit.clamp(1, MAX_PAGE);
        let committed = self.committed(appointment_id).await?;
        let mut items = self
            .chats
            .newest(appointment_id, before_seq, committed, limit + 1)
            .await?;
        let more = items.len() > limit;
        items.truncate(limit);
        Ok(HistoryPage {
            items,
            more,
            total: u64::try_from(committed).unwrap_or(0),
        })
    }

    /// What a reconnecting client missed: up to `limit` messages after `after_seq`, oldest
    /// first. The participant check is the caller's ([`Self::join`]) once per conversation.
    pub async fn missed(
        &self,
        appointment_id: Uuid,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, DomainError> {
        let committed = self.committed(appointment_id).await?;
        self.chats
            .after(
                appointment_id,
                after_seq,
                committed,
                limit.clamp(1, MAX_PAGE),
            )
            .await
    }

    /// Marks read every message sent to `actor` in the conversation up to `up_to_seq`, and
    /// tells the sender (a read receipt) when any was unread. Allowed on read-only
    /// conversations too: reading is never closed.
    pub async fn mark_read(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        up_to_seq: i64,
    ) -> Result<ReadReceipt, DomainError> {
        if !(1..=MAX_SEQ).contains(&up_to_seq) {
            return Err(DomainError::validation(
                "upToSeq",
                format!("must be 1 to {MAX_SEQ}"),
            ));
        }
        let (_, participants) = self.conversation(actor, appointment_id).await?;
        let sender_id = self.other_user(participants).await?;
        let now = self.clock.now().trunc_subsecs(3);
        let marked = self
            .chats
            .mark_read(appointment_id, actor.user_id, up_to_seq, now)
            .await?;
        let receipt = ReadReceipt {
            appointment_id,
            reader_id: actor.user_id,
            sender_id,
            up_to_seq,
            read_at: now,
            marked,
        };
        if marked > 0 {
            let audit = AuditEvent::new(
                Some(actor.user_id),
                AuditAction::Update,
                "conversation",
                Some(appointment_id),
                &actor.meta,
            )
            .after(json!({ "readUpToSeq": up_to_seq, "marked": marked }));
            self.ledger.announce_read(&receipt, audit).await?;
        }
        Ok(receipt)
    }

    /// `actor`'s unread messages per conversation.
    pub async fn unread(&self, actor: &Actor) -> Result<Vec<Unread>, DomainError> {
        self.chats.unread(actor.user_id).await
    }

    /// Completes an announcement too long to carry its message: reads the message back.
    /// `None` when it is gone (it cannot be, short of someone deleting it by hand).
    pub async fn resolve(&self, event: ChatEvent) -> Result<Option<ChatEvent>, DomainError> {
        match event {
            ChatEvent::MessageRef {
                appointment_id,
                seq,
                ..
            } => Ok(self
                .chats
                .after(appointment_id, seq - 1, seq, 1)
                .await?
                .into_iter()
                .find(|m| m.seq == seq)
                .map(ChatEvent::Message)),
            other => Ok(Some(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::{AppointmentStatus, MockAppointmentRepository};
    use crate::chat::{MockChatLedger, MockChatRepository};
    use crate::clock::FixedClock;
    use crate::directory::MockDirectoryRepository;
    use crate::error::Conflict;
    use crate::identity::Role;
    use crate::testing::{actor, appointment_of, doctor_of, patient_of};
    use chrono::{TimeZone, Utc};

    fn appointment(patient: &Actor, doctor_id: Uuid, status: AppointmentStatus) -> Appointment {
        let starts_at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        appointment_of(patient.patient_id.unwrap(), doctor_id, status, starts_at)
    }

    /// A ledger that numbers every append 7 and stores it in `store`.
    fn numbering_ledger() -> MockChatLedger {
        let mut ledger = MockChatLedger::new();
        ledger
            .expect_append()
            .returning(|m, _, _| Ok(Some(ChatMessage { seq: 7, ..m })));
        ledger
    }

    struct World {
        appointment: Option<Appointment>,
        doctor_user: Uuid,
        patient: Option<Actor>,
        chats: MockChatRepository,
        ledger: MockChatLedger,
        files: Arc<dyn FileStore>,
    }

    impl World {
        fn new(appointment: Option<Appointment>, chats: MockChatRepository) -> Self {
            Self {
                appointment,
                doctor_user: Uuid::new_v4(),
                patient: None,
                chats,
                ledger: MockChatLedger::new(),
                files: Arc::new(NoFiles),
            }
        }

        fn service(self) -> ChatService {
            let mut appointments = MockAppointmentRepository::new();
            let appointment = self.appointment;
            appointments
                .expect_get()
                .returning(move |_| Ok(appointment.clone()));
            let mut directory = MockDirectoryRepository::new();
            let doctor_user = self.doctor_user;
            directory
                .expect_doctor()
                .returning(move |id| Ok(Some(doctor_of(doctor_user, id, "50.00"))));
            let patient = self.patient;
            directory
                .expect_patient()
                .returning(move |_| Ok(patient.as_ref().map(patient_of)));
            ChatService::new(
                Arc::new(appointments),
                Arc::new(directory),
                Arc::new(self.chats),
                Arc::new(self.ledger),
                AttachmentStore {
                    files: self.files,
                    max_bytes: 1024,
                },
                Arc::new(FixedClock(
                    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
                )),
                ChatPolicy::default(),
            )
        }
    }

    /// A file store the text-only tests must never touch.
    struct NoFiles;

    #[async_trait::async_trait]
    impl FileStore for NoFiles {
        async fn create(&self, _: &str) -> Result<Box<dyn FileWriter>, DomainError> {
            unreachable!("no file expected")
        }
        async fn open(&self, _: &str) -> Result<ByteStream, DomainError> {
            unreachable!("no file expected")
        }
        async fn delete(&self, _: &str) -> Result<(), DomainError> {
            unreachable!("no file expected")
        }
    }

    fn no_earlier_send() -> MockChatRepository {
        let mut chats = MockChatRepository::new();
        chats.expect_by_client_id().returning(|_, _| Ok(None));
        chats
    }

    #[tokio::test]
    async fn a_patient_writes_to_the_doctors_user_with_a_trimmed_text() {
        let patient = actor(Role::Patient);
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Confirmed);
        let client_id = Uuid::new_v4();
        let mut world = World::new(Some(a.clone()), no_earlier_send());
        let doctor_user = world.doctor_user;
        let sender = patient.user_id;
        world
            .ledger
            .expect_append()
            .withf(move |m, audit, _| {
                m.sender_id == sender
                    && m.receiver_id == doctor_user
                    && m.message == "Is it serious?"
                    && m.client_message_id == Some(client_id)
                    && !m.is_read
                    && audit.entity == "chat_message"
                    // The audit trail names the message, never its text.
                    && !audit.after.as_ref().unwrap().to_string().contains("serious")
            })
            .times(1)
            .returning(|m, _, _| Ok(Some(ChatMessage { seq: 1, ..m })));
        let sent = world
            .service()
            .send(&patient, a.id, "  Is it serious? ", Some(client_id))
            .await
            .unwrap();
        assert!(!sent.replayed);
        assert_eq!(sent.message.seq, 1);
        assert_eq!(sent.message.appointment_id, a.id);
    }

    #[tokio::test]
    async fn bad_text_outsiders_and_closed_conversations_store_nothing() {
        let patient = actor(Role::Patient);
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Cancelled);
        // Stores that panic on use: nothing may reach them.
        let svc = World::new(Some(a.clone()), no_earlier_send()).service();
        assert!(matches!(
            svc.send(&patient, a.id, "   ", None).await,
            Err(DomainError::Validation { .. })
        ));
        assert!(matches!(
            svc.send(&patient, a.id, "hello", None).await,
            Err(DomainError::Conflict(Conflict::ChatClosed))
        ));
        for outsider in [
            actor(Role::Patient),
            actor(Role::Receptionist),
            actor(Role::Admin),
        ] {
            assert!(matches!(
                svc.send(&outsider, a.id, "hello", None).await,
                Err(DomainError::NotFound("conversation"))
            ));
            assert!(matches!(
                svc.history(&outsider, a.id, None, 10).await,
                Err(DomainError::NotFound("conversation"))
            ));
            assert!(matches!(
                svc.mark_read(&outsider, a.id, 1).await,
                Err(DomainError::NotFound("conversation"))
            ));
        }
        let missing = World::new(None, MockChatRepository::new()).service();
        assert!(matches!(
            missing.send(&patient, a.id, "hello", None).await,
            Err(DomainError::NotFound("conversation"))
        ));
    }

    #[tokio::test]
    async fn a_retried_send_answers_the_first_message_and_stores_nothing() {
        let patient = actor(Role::Patient);
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Confirmed);
        let client_id = Uuid::new_v4();
        let first = ChatMessage {
            id: Uuid::new_v4(),
            appointment_id: a.id,
            seq: 3,
            sender_id: patient.user_id,
            receiver_id: Uuid::new_v4(),
            message: "first".into(),
            attachments: vec![],
            is_read: false,
            read_at: None,
            sent_at: Utc::now(),
            client_message_id: Some(client_id),
        };
        let mut chats = MockChatRepository::new();
        let stored = first.clone();
        chats
            .expect_by_client_id()
            .returning(move |_, _| Ok(Some(stored.clone())));
        // The store finds the client id taken when it inserts: nothing is stored or announced.
        let mut world = World::new(Some(a.clone()), chats);
        world
            .ledger
            .expect_append()
            .times(1)
            .returning(|_, _, _| Ok(None));
        let sent = world
            .service()
            .send(&patient, a.id, "first, again", Some(client_id))
            .await
            .unwrap();
        assert!(sent.replayed);
        assert_eq!(sent.message, first);
        // A retry that comes after the conversation closed still gets its message.
        let closed = Appointment {
            status: AppointmentStatus::Cancelled,
            ..a.clone()
        };
        let mut chats = MockChatRepository::new();
        let stored = first.clone();
        chats
            .expect_by_client_id()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let svc = World::new(Some(closed), chats).service();
        let late = svc
            .send(&patient, a.id, "first, again", Some(client_id))
            .await
            .unwrap();
        assert!(late.replayed);
        // The same client id for another conversation is refused, not answered.
        let other = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Confirmed);
        let mut chats = MockChatRepository::new();
        let stored = first.clone();
        chats
            .expect_by_client_id()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let mut world = World::new(Some(other.clone()), chats);
        world.ledger.expect_append().returning(|_, _, _| Ok(None));
        let svc = world.service();
        assert!(matches!(
            svc.send(&patient, other.id, "hi", Some(client_id)).await,
            Err(DomainError::Validation { ref field, .. }) if field == "clientMessageId"
        ));
    }

    #[tokio::test]
    async fn a_send_that_loses_the_race_for_its_client_id_answers_the_winner() {
        let patient = actor(Role::Patient);
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Confirmed);
        let client_id = Uuid::new_v4();
        let mut chats = MockChatRepository::new();
        let mut calls = 0;
        let appointment_id = a.id;
        let sender = patient.user_id;
        chats.expect_by_client_id().returning(move |_, id| {
            calls += 1;
            // Looked up only once the ledger found the client id taken.
            Ok((calls >= 1).then(|| ChatMessage {
                id: Uuid::new_v4(),
                appointment_id,
                seq: 9,
                sender_id: sender,
                receiver_id: Uuid::new_v4(),
                message: "winner".into(),
                attachments: vec![],
                is_read: false,
                read_at: None,
                sent_at: Utc::now(),
                client_message_id: Some(id),
            }))
        });
        let mut world = World::new(Some(a.clone()), chats);
        world.ledger.expect_append().returning(|_, _, _| Ok(None));
        let sent = world
            .service()
            .send(&patient, a.id, "loser", Some(client_id))
            .await
            .unwrap();
        assert!(sent.replayed);
        assert_eq!(sent.message.message, "winner");
    }

    #[tokio::test]
    async fn history_pages_newest_first_and_says_whether_more_remain() {
        let patient = actor(Role::Patient);
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Cancelled);
        let mut chats = MockChatRepository::new();
        let appointment_id = a.id;
        chats
            .expect_newest()
            .withf(move |id, before, up_to, limit| {
                *id == appointment_id && *before == Some(10) && *up_to == 9 && *limit == 4
            })
            .returning(|id, _, _, limit| {
                Ok((0..limit as i64)
                    .map(|i| ChatMessage {
                        id: Uuid::new_v4(),
                        appointment_id: id,
                        seq: 9 - i,
                        sender_id: Uuid::new_v4(),
                        receiver_id: Uuid::new_v4(),
                        message: "m".into(),
                        attachments: vec![],
                        is_read: true,
                        read_at: None,
                        sent_at: Utc::now(),
                        client_message_id: None,
                    })
                    .collect())
            });
        let mut world = World::new(Some(a.clone()), chats);
        world.ledger.expect_count().returning(|_| Ok(9));
        // A cancelled visit's conversation stays readable.
        let page = world
            .service()
            .history(&patient, a.id, Some(10), 3)
            .await
            .unwrap();
        assert_eq!(
            page.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [9, 8, 7]
        );
        assert!(page.more);
        assert_eq!(page.total, 9);
    }

    #[tokio::test]
    async fn reading_tells_the_sender_only_when_something_was_unread() {
        let doctor = actor(Role::Doctor);
        let patient = actor(Role::Patient);
        let a = appointment(
            &patient,
            doctor.doctor_id.unwrap(),
            AppointmentStatus::Completed,
        );
        for (unread, announced) in [(2_u64, 1_usize), (0, 0)] {
            let mut chats = MockChatRepository::new();
            let reader = doctor.user_id;
            chats
                .expect_mark_read()
                .withf(move |_, receiver, up_to, _| *receiver == reader && *up_to == 5)
                .returning(move |_, _, _, _| Ok(unread));
            let mut world = World::new(Some(a.clone()), chats);
            world.patient = Some(patient.clone());
            let patient_user = patient.user_id;
            world
                .ledger
                .expect_announce_read()
                .withf(move |r, audit| {
                    r.sender_id == patient_user && r.marked == 2 && audit.entity == "conversation"
                })
                .times(announced)
                .returning(|_, _| Ok(()));
            let svc = world.service();
            let receipt = svc.mark_read(&doctor, a.id, 5).await.unwrap();
            assert_eq!((receipt.marked, receipt.up_to_seq), (unread, 5));
            assert!(matches!(
                svc.mark_read(&doctor, a.id, 0).await,
                Err(DomainError::Validation { ref field, .. }) if field == "upToSeq"
            ));
        }
    }

    #[tokio::test]
    async fn an_announcement_without_its_text_is_completed_from_the_store() {
        let mut chats = MockChatRepository::new();
        chats.expect_after().returning(|id, after, _, _| {
            Ok(vec![ChatMessage {
                id: Uuid::new_v4(),
                appointment_id: id,
                seq: after + 1,
                sender_id: Uuid::new_v4(),
                receiver_id: Uuid::new_v4(),
                message: "long".into(),
                attachments: vec![],
                is_read: false,
                read_at: None,
                sent_at: Utc::now(),
                client_message_id: None,
            }])
        });
        let mut world = World::new(None, chats);
        world.ledger = numbering_ledger();
        let svc = world.service();
        let event = ChatEvent::MessageRef {
            appointment_id: Uuid::new_v4(),
            seq: 4,
            sender_id: Uuid::new_v4(),
            receiver_id: Uuid::new_v4(),
        };
        match svc.resolve(event).await.unwrap() {
            Some(ChatEvent::Message(m)) => assert_eq!((m.seq, m.message.as_str()), (4, "long")),
            other => panic!("{other:?}"),
        }
    }

    /// A file store that records which keys were deleted.
    #[derive(Default)]
    struct DeletedKeys(std::sync::Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl FileStore for DeletedKeys {
        async fn create(&self, _: &str) -> Result<Box<dyn FileWriter>, DomainError> {
            unreachable!("the test stores no bytes")
        }
        async fn open(&self, _: &str) -> Result<ByteStream, DomainError> {
            unreachable!("the test reads no bytes")
        }
        async fn delete(&self, key: &str) -> Result<(), DomainError> {
            self.0.lock().unwrap().push(key.to_owned());
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_attachment_whose_message_is_not_stored_leaves_no_file() {
        let patient = actor(Role::Patient);
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Confirmed);
        let files = Arc::new(DeletedKeys::default());
        let mut world = World::new(Some(a.clone()), no_earlier_send());
        world.files = files.clone();
        world
            .ledger
            .expect_append()
            .returning(|_, _, _| Err(DomainError::Unavailable("chat")));
        let svc = world.service();
        let prepared = match svc
            .prepare_attachment(
                &patient,
                a.id,
                None,
                None,
                "scan.pdf",
                Some("application/pdf"),
            )
            .await
            .unwrap()
        {
            AttachmentUpload::Ready(p) => p,
            other => panic!("{other:?}"),
        };
        // No caption: the file's name is the message.
        assert_eq!(prepared.text, "scan.pdf");
        assert_eq!(
            svc.check_attachment_head(&prepared, b"MZ\x90\0"),
            Err(FileRejection::UnsupportedType(
                "the file is not a PDF, PNG, JPEG, DICOM or plain text document".into()
            ))
        );
        let key = prepared.storage_key.clone();
        assert!(matches!(
            svc.send_attachment(&patient, prepared, FileKind::Pdf, 10)
                .await,
            Err(DomainError::Unavailable(_))
        ));
        assert_eq!(*files.0.lock().unwrap(), [key]);
        // Outsiders are refused before any file is touched (NoFiles would panic).
        let svc = World::new(Some(a.clone()), no_earlier_send()).service();
        assert!(matches!(
            svc.prepare_attachment(&actor(Role::Receptionist), a.id, None, None, "a.pdf", None)
                .await,
            Err(DomainError::NotFound("conversation"))
        ));
        assert!(matches!(
            svc.attachment(&actor(Role::Patient), a.id, Uuid::new_v4(), Uuid::new_v4())
                .await,
            Err(DomainError::NotFound("conversation"))
        ));
    }
}
