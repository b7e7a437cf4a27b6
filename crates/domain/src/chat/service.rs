//! The chat's use cases: resolve the appointment and its two participants, apply
//! [`ChatPolicy`](super::ChatPolicy), and hand the stores what to keep.

use std::sync::Arc;

use chrono::SubsecRound;
use serde_json::json;
use uuid::Uuid;

use super::{
    ChatEvent, ChatLedger, ChatMessage, ChatPolicy, ChatRepository, MessageText, Participants,
    ReadReceipt, Side, Unread,
};
use crate::appointments::{Appointment, AppointmentRepository};
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::directory::DirectoryRepository;
use crate::error::DomainError;
use crate::identity::Actor;

/// A send's answer: the stored message, and whether it was stored by an earlier try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message: ChatMessage,
    pub replayed: bool,
}

/// Sends, reads and marks read the messages of appointments' conversations.
pub struct ChatService {
    appointments: Arc<dyn AppointmentRepository>,
    directory: Arc<dyn DirectoryRepository>,
    chats: Arc<dyn ChatRepository>,
    ledger: Arc<dyn ChatLedger>,
    clock: Arc<dyn Clock>,
    policy: ChatPolicy,
}

/// The longest page of history or backfill one call returns.
pub const MAX_PAGE: usize = 200;

impl ChatService {
    /// Wires the use cases to their ports; only the composition root (and tests) build one.
    pub fn new(
        appointments: Arc<dyn AppointmentRepository>,
        directory: Arc<dyn DirectoryRepository>,
        chats: Arc<dyn ChatRepository>,
        ledger: Arc<dyn ChatLedger>,
        clock: Arc<dyn Clock>,
        policy: ChatPolicy,
    ) -> Self {
        Self {
            appointments,
            directory,
            chats,
            ledger,
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

    /// Checks that `actor` takes part in the conversation (for a socket's resume).
    pub async fn join(&self, actor: &Actor, appointment_id: Uuid) -> Result<(), DomainError> {
        self.conversation(actor, appointment_id).await.map(|_| ())
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
    /// the same client message id answers the first send's message.
    pub async fn send(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        text: &str,
        client_message_id: Option<Uuid>,
    ) -> Result<Sent, DomainError> {
        let text = MessageText::parse(text)?;
        let (appointment, _) = self.conversation(actor, appointment_id).await?;
        if let Some(sent) = self
            .earlier_send(actor, appointment_id, client_message_id)
            .await?
        {
            return Ok(sent);
        }
        // Milliseconds: what MongoDB keeps, so the message answered is the message stored.
        let now = self.clock.now().trunc_subsecs(3);
        let participants = self.policy.may_send(actor, &appointment, now)?;
        let receiver_id = self.other_user(participants).await?;
        let message = ChatMessage {
            id: Uuid::new_v4(),
            appointment_id,
            seq: 0,
            sender_id: actor.user_id,
            receiver_id,
            message: text.as_str().to_owned(),
            attachments: Vec::new(),
            is_read: false,
            read_at: None,
            sent_at: now,
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
        .after(json!({ "appointmentId": appointment_id, "receiverId": receiver_id }));
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

    /// A page of the conversation, newest first: up to `limit` messages before `before_seq`,
    /// and whether older ones remain. Participants may read whatever the conversation's state.
    pub async fn history(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool), DomainError> {
        self.conversation(actor, appointment_id).await?;
        let limit = limit.clamp(1, MAX_PAGE);
        let mut page = self
            .chats
            .newest(appointment_id, before_seq, limit + 1)
            .await?;
        let more = page.len() > limit;
        page.truncate(limit);
        Ok((page, more))
    }

    /// What a reconnecting client missed: up to `limit` messages after `after_seq`, oldest
    /// first. The participant check is the caller's ([`Self::join`]) once per conversation.
    pub async fn missed(
        &self,
        appointment_id: Uuid,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, DomainError> {
        self.chats
            .after(appointment_id, after_seq, limit.clamp(1, MAX_PAGE))
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
        if up_to_seq < 1 {
            return Err(DomainError::validation("upToSeq", "must be at least 1"));
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
                .after(appointment_id, seq - 1, 1)
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
    }

    impl World {
        fn new(appointment: Option<Appointment>, chats: MockChatRepository) -> Self {
            Self {
                appointment,
                doctor_user: Uuid::new_v4(),
                patient: None,
                chats,
                ledger: MockChatLedger::new(),
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
                Arc::new(FixedClock(
                    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
                )),
                ChatPolicy::default(),
            )
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
        // The ledger (no expectations) panics if the retry reaches it.
        let svc = World::new(Some(a.clone()), chats).service();
        let sent = svc
            .send(&patient, a.id, "first, again", Some(client_id))
            .await
            .unwrap();
        assert!(sent.replayed);
        assert_eq!(sent.message, first);
        // The same client id for another conversation is refused, not answered.
        let other = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Confirmed);
        let mut chats = MockChatRepository::new();
        let stored = first.clone();
        chats
            .expect_by_client_id()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let svc = World::new(Some(other.clone()), chats).service();
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
            // Not there when checked first; there once the ledger found it taken.
            Ok((calls > 1).then(|| ChatMessage {
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
            .withf(move |id, before, limit| {
                *id == appointment_id && *before == Some(10) && *limit == 4
            })
            .returning(|id, _, limit| {
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
        let world = World::new(Some(a.clone()), chats);
        // A cancelled visit's conversation stays readable.
        let (page, more) = world
            .service()
            .history(&patient, a.id, Some(10), 3)
            .await
            .unwrap();
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [9, 8, 7]);
        assert!(more);
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
        chats.expect_after().returning(|id, after, _| {
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
}
