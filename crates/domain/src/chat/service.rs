//! The chat's use cases: resolve the appointment and its two participants, apply
//! [`ChatPolicy`](super::ChatPolicy), and hand the store what to keep.

use std::sync::Arc;

use uuid::Uuid;

use super::{ChatMessage, ChatPolicy, ChatRepository, MessageText, Side};
use crate::appointments::AppointmentRepository;
use crate::clock::Clock;
use crate::directory::DirectoryRepository;
use crate::error::DomainError;
use crate::identity::Actor;

/// Sends messages within an appointment's conversation.
pub struct ChatService {
    appointments: Arc<dyn AppointmentRepository>,
    directory: Arc<dyn DirectoryRepository>,
    chats: Arc<dyn ChatRepository>,
    clock: Arc<dyn Clock>,
    policy: ChatPolicy,
}

impl ChatService {
    /// Wires the use cases to their ports; only the composition root (and tests) build one.
    pub fn new(
        appointments: Arc<dyn AppointmentRepository>,
        directory: Arc<dyn DirectoryRepository>,
        chats: Arc<dyn ChatRepository>,
        clock: Arc<dyn Clock>,
        policy: ChatPolicy,
    ) -> Self {
        Self {
            appointments,
            directory,
            chats,
            clock,
            policy,
        }
    }

    /// Sends `text` from `actor` to the other participant. The text is checked before anything
    /// is read (422 `message`), then the appointment (404 for a non-participant, as for a
    /// missing one), then whether the conversation is open (409 `CHAT_CLOSED`).
    pub async fn send(
        &self,
        actor: &Actor,
        appointment_id: Uuid,
        text: &str,
        client_message_id: Option<Uuid>,
    ) -> Result<ChatMessage, DomainError> {
        let text = MessageText::parse(text)?;
        let appointment = self
            .appointments
            .get(appointment_id)
            .await?
            .ok_or(DomainError::NotFound("conversation"))?;
        let now = self.clock.now();
        let participants = self.policy.may_send(actor, &appointment, now)?;
        let receiver_id = match participants.side {
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
        .ok_or(DomainError::NotFound("conversation"))?;
        self.chats
            .send(ChatMessage {
                id: Uuid::new_v4(),
                appointment_id,
                sender_id: actor.user_id,
                receiver_id,
                message: text.as_str().to_owned(),
                attachments: Vec::new(),
                is_read: false,
                read_at: None,
                sent_at: now,
                client_message_id,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::{Appointment, AppointmentStatus, MockAppointmentRepository};
    use crate::chat::MockChatRepository;
    use crate::clock::FixedClock;
    use crate::directory::MockDirectoryRepository;
    use crate::error::Conflict;
    use crate::identity::Role;
    use crate::testing::{actor, appointment_of, doctor_of};
    use chrono::{TimeZone, Utc};

    fn appointment(patient: &Actor, doctor_id: Uuid, status: AppointmentStatus) -> Appointment {
        let starts_at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        appointment_of(patient.patient_id.unwrap(), doctor_id, status, starts_at)
    }

    fn service(
        appointment: Option<Appointment>,
        doctor_user: Uuid,
        chats: MockChatRepository,
    ) -> ChatService {
        let mut appointments = MockAppointmentRepository::new();
        appointments
            .expect_get()
            .returning(move |_| Ok(appointment.clone()));
        let mut directory = MockDirectoryRepository::new();
        directory
            .expect_doctor()
            .returning(move |id| Ok(Some(doctor_of(doctor_user, id, "50.00"))));
        ChatService::new(
            Arc::new(appointments),
            Arc::new(directory),
            Arc::new(chats),
            Arc::new(FixedClock(
                Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
            )),
            ChatPolicy::default(),
        )
    }

    #[tokio::test]
    async fn a_patient_writes_to_the_doctors_user_with_a_trimmed_text() {
        let patient = actor(Role::Patient);
        let doctor_user = Uuid::new_v4();
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Confirmed);
        let client_id = Uuid::new_v4();
        let sender = patient.user_id;
        let mut chats = MockChatRepository::new();
        chats
            .expect_send()
            .withf(move |m| {
                m.sender_id == sender
                    && m.receiver_id == doctor_user
                    && m.message == "Is it serious?"
                    && m.client_message_id == Some(client_id)
                    && !m.is_read
            })
            .times(1)
            .returning(Ok);
        let svc = service(Some(a.clone()), doctor_user, chats);
        let sent = svc
            .send(&patient, a.id, "  Is it serious? ", Some(client_id))
            .await
            .unwrap();
        assert_eq!(sent.sender_id, patient.user_id);
        assert_eq!(sent.appointment_id, a.id);
    }

    #[tokio::test]
    async fn bad_text_outsiders_and_closed_conversations_store_nothing() {
        let patient = actor(Role::Patient);
        let a = appointment(&patient, Uuid::new_v4(), AppointmentStatus::Cancelled);
        // A store that panics on use: nothing may reach it.
        let svc = service(Some(a.clone()), Uuid::new_v4(), MockChatRepository::new());
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
        }
        let missing = service(None, Uuid::new_v4(), MockChatRepository::new());
        assert!(matches!(
            missing.send(&patient, a.id, "hello", None).await,
            Err(DomainError::NotFound("conversation"))
        ));
    }
}
