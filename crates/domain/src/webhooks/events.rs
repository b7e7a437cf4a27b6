//! Which changes are webhook events, and what an event says.
//!
//! Events are derived from the audit events every change already writes in its transaction
//! ([`from_audit`]), so every path that books, moves, cancels, bills or prescribes (single
//! bookings, series, the waitlist, the desk, the jobs) emits them without knowing webhooks
//! exist. An event's `data` carries ids, statuses, times and amounts only: never the reason
//! for a visit, notes, a diagnosis or a medicine (the audit snapshots have those; this module
//! picks fields one by one rather than filtering them out).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::audit::{AuditAction, AuditEvent};

/// The kinds of event an endpoint can subscribe to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum EventType {
    #[serde(rename = "appointment.booked")]
    AppointmentBooked,
    #[serde(rename = "appointment.confirmed")]
    AppointmentConfirmed,
    #[serde(rename = "appointment.cancelled")]
    AppointmentCancelled,
    #[serde(rename = "appointment.rescheduled")]
    AppointmentRescheduled,
    #[serde(rename = "appointment.completed")]
    AppointmentCompleted,
    #[serde(rename = "appointment.no_show")]
    AppointmentNoShow,
    #[serde(rename = "bill.paid")]
    BillPaid,
    #[serde(rename = "bill.refunded")]
    BillRefunded,
    #[serde(rename = "bill.overdue")]
    BillOverdue,
    #[serde(rename = "prescription.written")]
    PrescriptionWritten,
}

impl EventType {
    pub const ALL: [Self; 10] = [
        Self::AppointmentBooked,
        Self::AppointmentConfirmed,
        Self::AppointmentCancelled,
        Self::AppointmentRescheduled,
        Self::AppointmentCompleted,
        Self::AppointmentNoShow,
        Self::BillPaid,
        Self::BillRefunded,
        Self::BillOverdue,
        Self::PrescriptionWritten,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppointmentBooked => "appointment.booked",
            Self::AppointmentConfirmed => "appointment.confirmed",
            Self::AppointmentCancelled => "appointment.cancelled",
            Self::AppointmentRescheduled => "appointment.rescheduled",
            Self::AppointmentCompleted => "appointment.completed",
            Self::AppointmentNoShow => "appointment.no_show",
            Self::BillPaid => "bill.paid",
            Self::BillRefunded => "bill.refunded",
            Self::BillOverdue => "bill.overdue",
            Self::PrescriptionWritten => "prescription.written",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// An event about to be written to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub event_type: EventType,
    pub data: Value,
}

/// The webhook event a change makes, if any. Appointment moves are told apart by the status
/// after the change (a status change) or by the time (a reschedule keeps its status).
pub fn from_audit(event: &AuditEvent) -> Option<WebhookEvent> {
    let after = event.after.as_ref()?;
    let status_after = after.get("status").and_then(Value::as_str);
    let status_before = event
        .before
        .as_ref()
        .and_then(|b| b.get("status"))
        .and_then(Value::as_str);
    let (event_type, data) = match (event.entity, event.action) {
        ("appointment", AuditAction::Create) => (
            EventType::AppointmentBooked,
            appointment_data(event.entity_id, after),
        ),
        ("appointment", AuditAction::Update) if status_before != status_after => {
            let event_type = match status_after? {
                "CONFIRMED" => EventType::AppointmentConfirmed,
                "CANCELLED" => EventType::AppointmentCancelled,
                "COMPLETED" => EventType::AppointmentCompleted,
                "NO_SHOW" => EventType::AppointmentNoShow,
                _ => return None,
            };
            (event_type, appointment_data(event.entity_id, after))
        }
        ("appointment", AuditAction::Update) => {
            let before = event.before.as_ref()?;
            if before.get("startsAt") == after.get("startsAt")
                && before.get("timeSlotId") == after.get("timeSlotId")
            {
                return None;
            }
            let mut data = appointment_data(event.entity_id, after);
            copy(&mut data, before, "startsAt", "previousStartsAt");
            copy(&mut data, before, "timeSlotId", "previousTimeSlotId");
            (EventType::AppointmentRescheduled, data)
        }
        ("billing", AuditAction::Update) if status_before != status_after => {
            let event_type = match status_after? {
                "PAID" => EventType::BillPaid,
                "REFUNDED" => EventType::BillRefunded,
                "OVERDUE" => EventType::BillOverdue,
                _ => return None,
            };
            let mut data = json!({ "billId": event.entity_id });
            for field in [
                "appointmentId",
                "patientId",
                "status",
                "amount",
                "paymentMethod",
            ] {
                copy(&mut data, after, field, field);
            }
            (event_type, data)
        }
        ("prescription", AuditAction::Create) => {
            let mut data = json!({ "prescriptionId": event.entity_id });
            for field in ["appointmentId", "patientId", "doctorId"] {
                copy(&mut data, after, field, field);
            }
            (EventType::PrescriptionWritten, data)
        }
        _ => return None,
    };
    Some(WebhookEvent { event_type, data })
}

fn appointment_data(id: Option<Uuid>, after: &Value) -> Value {
    let mut data = json!({ "appointmentId": id });
    for field in [
        "patientId",
        "doctorId",
        "timeSlotId",
        "type",
        "status",
        "startsAt",
    ] {
        copy(&mut data, after, field, field);
    }
    data
}

fn copy(into: &mut Value, from: &Value, field: &str, as_name: &str) {
    if let (Some(map), Some(value)) = (into.as_object_mut(), from.get(field)) {
        map.insert(as_name.to_owned(), value.clone());
    }
}

/// The JSON body a receiver gets: the event's id (the same on every delivery and redelivery,
/// so receivers deduplicate on it), its type, when it happened and its data.
pub fn body(event_id: Uuid, event_type: &str, occurred_at: DateTime<Utc>, data: &Value) -> String {
    let mut map = Map::new();
    map.insert("id".into(), json!(event_id));
    map.insert("type".into(), json!(event_type));
    map.insert(
        "occurredAt".into(),
        json!(occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    map.insert("data".into(), data.clone());
    Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::RequestMeta;

    fn appointment(status: &str, starts_at: &str, slot: &str) -> Value {
        json!({
            "patientId": "p", "doctorId": "d", "timeSlotId": slot, "type": "CONSULTATION",
            "status": status, "reason": "chest pain since Tuesday", "cancelReason": "feeling worse",
            "consultationFee": "80.00", "startsAt": starts_at,
        })
    }

    fn update(entity: &'static str, before: Value, after: Value) -> AuditEvent {
        AuditEvent::new(
            None,
            AuditAction::Update,
            entity,
            Some(Uuid::nil()),
            &RequestMeta::default(),
        )
        .before(before)
        .after(after)
    }

    #[test]
    fn every_appointment_move_has_its_type_and_no_clinical_text() {
        let at = "2026-12-01T09:00:00Z";
        let booked = AuditEvent::new(
            None,
            AuditAction::Create,
            "appointment",
            Some(Uuid::nil()),
            &RequestMeta::default(),
        )
        .after(appointment("SCHEDULED", at, "s1"));
        let cases = [
            (booked, Some(EventType::AppointmentBooked)),
            (
                update(
                    "appointment",
                    appointment("SCHEDULED", at, "s1"),
                    appointment("CONFIRMED", at, "s1"),
                ),
                Some(EventType::AppointmentConfirmed),
            ),
            (
                update(
                    "appointment",
                    appointment("CONFIRMED", at, "s1"),
                    appointment("CANCELLED", at, "s1"),
                ),
                Some(EventType::AppointmentCancelled),
            ),
            (
                update(
                    "appointment",
                    appointment("IN_PROGRESS", at, "s1"),
                    appointment("COMPLETED", at, "s1"),
                ),
                Some(EventType::AppointmentCompleted),
            ),
            (
                update(
                    "appointment",
                    appointment("SCHEDULED", at, "s1"),
                    appointment("NO_SHOW", at, "s1"),
                ),
                Some(EventType::AppointmentNoShow),
            ),
            (
                update(
                    "appointment",
                    appointment("SCHEDULED", at, "s1"),
                    appointment("SCHEDULED", "2026-12-02T09:00:00Z", "s2"),
                ),
                Some(EventType::AppointmentRescheduled),
            ),
            // Starting a visit and an edit that changes neither status nor time are not events.
            (
                update(
                    "appointment",
                    appointment("CONFIRMED", at, "s1"),
                    appointment("IN_PROGRESS", at, "s1"),
                ),
                None,
            ),
            (
                update(
                    "appointment",
                    appointment("SCHEDULED", at, "s1"),
                    appointment("SCHEDULED", at, "s1"),
                ),
                None,
            ),
        ];
        for (event, expected) in cases {
            let got = from_audit(&event);
            assert_eq!(got.as_ref().map(|e| e.event_type), expected, "{event:?}");
            if let Some(got) = got {
                let text = got.data.to_string();
                assert!(
                    !text.contains("chest pain") && !text.contains("worse"),
                    "{text}"
                );
                assert_eq!(got.data["appointmentId"], json!(Uuid::nil()));
                assert_eq!(got.data["status"], event.after.as_ref().unwrap()["status"]);
            }
        }
    }

    #[test]
    fn a_reschedule_says_where_it_came_from() {
        let event = update(
            "appointment",
            appointment("SCHEDULED", "2026-12-01T09:00:00Z", "s1"),
            appointment("SCHEDULED", "2026-12-02T10:00:00Z", "s2"),
        );
        let data = from_audit(&event).unwrap().data;
        assert_eq!(data["previousStartsAt"], "2026-12-01T09:00:00Z");
        assert_eq!(data["previousTimeSlotId"], "s1");
        assert_eq!(data["startsAt"], "2026-12-02T10:00:00Z");
    }

    #[test]
    fn bills_and_prescriptions() {
        let bill = |status: &str| json!({"appointmentId": "a", "patientId": "p", "amount": "80.00", "status": status, "paymentMethod": "CARD", "paidAt": null, "dueAt": null});
        let cases = [
            ("PENDING", "PAID", Some(EventType::BillPaid)),
            ("OVERDUE", "PAID", Some(EventType::BillPaid)),
            ("PAID", "REFUNDED", Some(EventType::BillRefunded)),
            ("PENDING", "OVERDUE", Some(EventType::BillOverdue)),
            ("PENDING", "CANCELLED", None),
        ];
        for (from, to, expected) in cases {
            let got = from_audit(&update("billing", bill(from), bill(to)));
            assert_eq!(
                got.as_ref().map(|e| e.event_type),
                expected,
                "{from} -> {to}"
            );
            if let Some(got) = got {
                assert_eq!(got.data["amount"], "80.00");
                assert_eq!(got.data["billId"], json!(Uuid::nil()));
            }
        }
        let written = AuditEvent::new(
            None,
            AuditAction::Create,
            "prescription",
            Some(Uuid::nil()),
            &RequestMeta::default(),
        )
        .after(
            json!({"appointmentId": "a", "doctorId": "d", "patientId": "p", "diagnosis": "angina",
                "notes": "rest", "items": [{"medicineName": "nitroglycerin"}]}),
        );
        let got = from_audit(&written).unwrap();
        assert_eq!(got.event_type, EventType::PrescriptionWritten);
        let text = got.data.to_string();
        assert!(
            !text.contains("angina") && !text.contains("nitro") && !text.contains("rest"),
            "{text}"
        );
        // Other entities are not events.
        let user = AuditEvent::new(
            None,
            AuditAction::Create,
            "user",
            None,
            &RequestMeta::default(),
        )
        .after(json!({}));
        assert_eq!(from_audit(&user), None);
    }

    #[test]
    fn event_type_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(EventType::parse("appointment.deleted"), None);
    }
}
