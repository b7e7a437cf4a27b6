//! Which changes send a patient an email, and what the email says.
//!
//! Like webhook events, email intents are derived from the audit events each change already
//! writes in its transaction ([`from_audit`]), so every path that books, moves, cancels or
//! bills (single bookings, the waitlist, the desk, the jobs) writes its emails without knowing
//! email exists. A recurring series writes one confirmation for all its visits
//! ([`booking_confirmation`]), and the reminder job one reminder per visit ([`reminder`]).
//!
//! Fields are picked one by one: the audit snapshots carry the reason for a visit, notes and
//! cancel reasons, and none of that may reach an email.

use serde_json::Value;
use uuid::Uuid;

use super::{Letter, Visit};
use crate::appointments::Appointment;
use crate::audit::{AuditAction, AuditEvent};

/// A letter for a patient (by patient record id), written if the patient wants its topic.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailIntent {
    pub patient_id: Uuid,
    pub letter: Letter,
}

impl Visit {
    pub fn of(a: &Appointment) -> Self {
        Self {
            appointment_id: a.id,
            doctor_id: a.doctor_id,
            starts_at: a.starts_at,
            ends_at: a.ends_at,
        }
    }

    /// The visit an appointment's audit snapshot describes.
    fn from_snapshot(id: Option<Uuid>, snapshot: &Value) -> Option<Self> {
        let field = |name: &str| snapshot.get(name).cloned().unwrap_or(Value::Null);
        Some(Self {
            appointment_id: id?,
            doctor_id: serde_json::from_value(field("doctorId")).ok()?,
            starts_at: serde_json::from_value(field("startsAt")).ok()?,
            ends_at: serde_json::from_value(field("endsAt")).ok()?,
        })
    }
}

fn patient_of(snapshot: &Value) -> Option<Uuid> {
    serde_json::from_value(snapshot.get("patientId")?.clone()).ok()
}

/// One confirmation for visits booked together (a series), to their patient.
pub fn booking_confirmation(patient_id: Uuid, booked: &[Appointment]) -> Option<EmailIntent> {
    (!booked.is_empty()).then(|| EmailIntent {
        patient_id,
        letter: Letter::BookingConfirmation {
            visits: booked.iter().map(Visit::of).collect(),
        },
    })
}

/// The reminder of one visit.
pub fn reminder(patient_id: Uuid, visit: Visit) -> EmailIntent {
    EmailIntent {
        patient_id,
        letter: Letter::Reminder {
            visits: vec![visit],
        },
    }
}

/// The emails a batch of changes (one transaction's audit events) sends. Bookings and
/// cancellations of one patient in one batch share one email.
pub fn from_audit(events: &[AuditEvent]) -> Vec<EmailIntent> {
    let mut out: Vec<EmailIntent> = Vec::new();
    for event in events {
        let Some(intent) = one(event) else { continue };
        let merged = out.iter_mut().any(|known| {
            if known.patient_id != intent.patient_id {
                return false;
            }
            match (&mut known.letter, &intent.letter) {
                (
                    Letter::BookingConfirmation { visits },
                    Letter::BookingConfirmation { visits: more },
                )
                | (Letter::Cancellation { visits }, Letter::Cancellation { visits: more }) => {
                    visits.extend(more.iter().cloned());
                    true
                }
                _ => false,
            }
        });
        if !merged {
            out.push(intent);
        }
    }
    out
}

fn one(event: &AuditEvent) -> Option<EmailIntent> {
    let after = event.after.as_ref()?;
    let status = |snapshot: Option<&Value>| {
        snapshot
            .and_then(|s| s.get("status"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (status_before, status_after) = (status(event.before.as_ref()), status(Some(after)));
    let patient_id = patient_of(after)?;
    let letter = match (event.entity, event.action) {
        // A walk-in (no slot) is booked at the desk with the patient there, already under way.
        ("appointment", AuditAction::Create)
            if after.get("timeSlotId").is_some_and(|s| !s.is_null()) =>
        {
            Letter::BookingConfirmation {
                visits: vec![Visit::from_snapshot(event.entity_id, after)?],
            }
        }
        ("appointment", AuditAction::Update) if status_before != status_after => {
            if status_after.as_deref() != Some("CANCELLED") {
                return None;
            }
            Letter::Cancellation {
                visits: vec![Visit::from_snapshot(event.entity_id, after)?],
            }
        }
        ("appointment", AuditAction::Update) => {
            let before = event.before.as_ref()?;
            let previous: chrono::DateTime<chrono::Utc> =
                serde_json::from_value(before.get("startsAt")?.clone()).ok()?;
            let visit = Visit::from_snapshot(event.entity_id, after)?;
            if previous == visit.starts_at {
                return None;
            }
            Letter::Reschedule {
                visit,
                previous_starts_at: previous,
                previous_ends_at: before
                    .get("endsAt")
                    .and_then(|v| serde_json::from_value(v.clone()).ok()),
            }
        }
        // The hold is short (30 minutes by default): a patient who is not in the app would miss it.
        ("waitlist_offer", AuditAction::Create) => {
            let time = |name: &str| -> Option<chrono::DateTime<chrono::Utc>> {
                serde_json::from_value(after.get(name)?.clone()).ok()
            };
            Letter::WaitlistOffer {
                offer_id: event.entity_id?,
                doctor_id: serde_json::from_value(after.get("doctorId")?.clone()).ok()?,
                starts_at: time("startsAt")?,
                ends_at: time("endsAt")?,
                expires_at: time("expiresAt")?,
            }
        }
        ("billing", AuditAction::Create) => Letter::Bill {
            bill_id: event.entity_id?,
            amount: after.get("amount")?.as_str()?.to_owned(),
            due_at: after
                .get("dueAt")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
        },
        ("billing", AuditAction::Update)
            if status_before != status_after && status_after.as_deref() == Some("PAID") =>
        {
            Letter::PaymentReceipt {
                bill_id: event.entity_id?,
                amount: after.get("amount")?.as_str()?.to_owned(),
                paid_at: after
                    .get("paidAt")
                    .and_then(|v| serde_json::from_value(v.clone()).ok()),
                payment_method: after
                    .get("paymentMethod")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }
        }
        _ => return None,
    };
    Some(EmailIntent { patient_id, letter })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::RequestMeta;
    use serde_json::json;

    const CLINICAL: [&str; 3] = ["chest pain since Tuesday", "feeling worse", "see notes"];

    fn snapshot(patient: Uuid, status: &str, starts_at: &str) -> Value {
        json!({
            "patientId": patient, "doctorId": Uuid::nil(), "timeSlotId": Uuid::nil(),
            "type": "CONSULTATION", "status": status, "reason": CLINICAL[0],
            "cancelReason": CLINICAL[1], "notes": CLINICAL[2], "consultationFee": "80.00",
            "startsAt": starts_at, "endsAt": "2026-12-01T09:30:00Z",
        })
    }

    fn event(
        action: AuditAction,
        entity: &'static str,
        before: Option<Value>,
        after: Value,
    ) -> AuditEvent {
        let e = AuditEvent::new(
            None,
            action,
            entity,
            Some(Uuid::new_v4()),
            &RequestMeta::default(),
        )
        .after(after);
        match before {
            Some(b) => e.before(b),
            None => e,
        }
    }

    #[test]
    fn each_change_has_its_letter_and_no_clinical_text() {
        let p = Uuid::new_v4();
        let at = "2026-12-01T09:00:00Z";
        let events = [
            event(
                AuditAction::Create,
                "appointment",
                None,
                snapshot(p, "SCHEDULED", at),
            ),
            event(
                AuditAction::Update,
                "appointment",
                Some(snapshot(p, "SCHEDULED", "2026-11-30T09:00:00Z")),
                snapshot(p, "SCHEDULED", at),
            ),
            event(
                AuditAction::Update,
                "appointment",
                Some(snapshot(p, "SCHEDULED", at)),
                snapshot(p, "CANCELLED", at),
            ),
            event(
                AuditAction::Update,
                "appointment",
                Some(snapshot(p, "SCHEDULED", at)),
                snapshot(p, "CONFIRMED", at),
            ),
            event(
                AuditAction::Create,
                "billing",
                None,
                json!({"patientId": p, "amount": "80.00", "status": "PENDING", "dueAt": at}),
            ),
            event(
                AuditAction::Update,
                "billing",
                Some(json!({"patientId": p, "amount": "80.00", "status": "PENDING"})),
                json!({"patientId": p, "amount": "80.00", "status": "PAID", "paymentMethod": "CARD", "paidAt": at}),
            ),
            event(
                AuditAction::Create,
                "waitlist_offer",
                None,
                json!({"patientId": p, "doctorId": Uuid::nil(), "slotId": Uuid::nil(),
                    "startsAt": at, "endsAt": at, "expiresAt": at}),
            ),
            event(
                AuditAction::Create,
                "prescription",
                None,
                json!({"patientId": p, "diagnosis": "flu", "medicines": "aspirin"}),
            ),
        ];
        let walk_in = {
            let mut s = snapshot(p, "IN_PROGRESS", at);
            s["timeSlotId"] = Value::Null;
            event(AuditAction::Create, "appointment", None, s)
        };
        assert!(
            from_audit(&[walk_in]).is_empty(),
            "a walk-in is at the desk already"
        );
        let kinds: Vec<_> = events
            .iter()
            .flat_map(|e| from_audit(std::slice::from_ref(e)))
            .map(|i| i.letter.kind().as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "BOOKING_CONFIRMATION",
                "RESCHEDULE",
                "CANCELLATION",
                "BILL",
                "PAYMENT_RECEIPT",
                "WAITLIST_OFFER"
            ]
        );
        let all = serde_json::to_string(
            &from_audit(&events)
                .iter()
                .map(|i| i.letter.to_json())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        for text in CLINICAL.iter().chain(&["flu", "aspirin"]) {
            assert!(!all.contains(text), "{text} leaked into {all}");
        }
    }

    #[test]
    fn bookings_of_one_patient_in_one_batch_share_a_letter() {
        let (p, q) = (Uuid::new_v4(), Uuid::new_v4());
        let events = [
            event(
                AuditAction::Create,
                "appointment",
                None,
                snapshot(p, "SCHEDULED", "2026-12-01T09:00:00Z"),
            ),
            event(
                AuditAction::Create,
                "appointment",
                None,
                snapshot(q, "SCHEDULED", "2026-12-01T09:00:00Z"),
            ),
            event(
                AuditAction::Create,
                "appointment",
                None,
                snapshot(p, "SCHEDULED", "2026-12-08T09:00:00Z"),
            ),
        ];
        let intents = from_audit(&events);
        assert_eq!(intents.len(), 2);
        assert_eq!(intents[0].patient_id, p);
        let Letter::BookingConfirmation { visits } = &intents[0].letter else {
            panic!("a confirmation")
        };
        assert_eq!(visits.len(), 2);
    }

    #[test]
    fn a_letter_survives_the_outbox_column() {
        let letter = Letter::PasswordReset {
            reset_id: Uuid::new_v4(),
            expires_at: chrono::Utc::now(),
            by_admin: true,
        };
        let back: Letter = serde_json::from_value(letter.to_json()).unwrap();
        assert_eq!(back, letter);
        assert_eq!(letter.to_json()["kind"], "PASSWORD_RESET");
    }
}
