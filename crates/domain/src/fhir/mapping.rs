//! Our entities as FHIR R4 resources, and the status codes both ways. The tables are in the
//! module's documentation ([`super`]) and the README's "FHIR R4" section.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::appointments::{Appointment, AppointmentStatus, AppointmentType};
use crate::scheduling::{DayOfWeek, Schedule, SlotAvailability, SlotState};

use super::resources::{self, instant, CodeableConcept, Coding, Meta, Participant, Reference};

/// The R4 appointment status of ours. CONFIRMED is the desk confirming the patient's arrival
/// on the day (product spec: receptionists "confirm arrivals"; `CONFIRM_ON_THE_DAY`), which
/// is R4's `arrived`, not a confirmation of the booking (every booking is `booked` at once).
/// R4 has no status for a visit under way: once the encounter starts the appointment is
/// `fulfilled` (its planning is complete, the encounter carries on), so IN_PROGRESS and
/// COMPLETED are both `fulfilled`.
pub fn appointment_status(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Scheduled => "booked",
        AppointmentStatus::Confirmed => "arrived",
        AppointmentStatus::InProgress | AppointmentStatus::Completed => "fulfilled",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::NoShow => "noshow",
    }
}

/// Our statuses an R4 code stands for (the inverse of [`appointment_status`]); an R4 code we
/// never use matches none; `None` for a code that is not R4's.
pub fn appointment_statuses_for(code: &str) -> Option<Vec<AppointmentStatus>> {
    match code {
        "proposed" | "pending" | "checked-in" | "waitlist" | "entered-in-error" => Some(vec![]),
        _ => {
            let ours: Vec<_> = AppointmentStatus::ALL
                .into_iter()
                .filter(|s| appointment_status(*s) == code)
                .collect();
            (!ours.is_empty()).then_some(ours)
        }
    }
}

/// R4's slot statuses (`entered-in-error` is never given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotStatus {
    Free,
    Busy,
    BusyUnavailable,
    BusyTentative,
    EnteredInError,
}

impl SlotStatus {
    pub fn code(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Busy => "busy",
            Self::BusyUnavailable => "busy-unavailable",
            Self::BusyTentative => "busy-tentative",
            Self::EnteredInError => "entered-in-error",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [
            Self::Free,
            Self::Busy,
            Self::BusyUnavailable,
            Self::BusyTentative,
            Self::EnteredInError,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// A slot's status as `viewer` may see it. Staff (the desk, admins, the slot's own doctor)
    /// see why a slot cannot be booked: booked `busy`; time off, a doctor taking no
    /// appointments, or closed (started, or off its changed schedule) `busy-unavailable`; held
    /// for a waiting patient by a waitlist offer `busy-tentative` (R4: "tentatively
    /// scheduled", which an unanswered offer is). Everyone
    /// else sees `free` or `busy`: the rest of the API never tells them about time off or
    /// another patient's offer, and free-or-not is what they can already read from availability.
    pub fn of(availability: SlotAvailability, viewer: Viewer) -> Self {
        match (availability, viewer) {
            (SlotAvailability::Free, _) => Self::Free,
            (SlotAvailability::Booked, _) | (_, Viewer::Public) => Self::Busy,
            (SlotAvailability::TimeOff | SlotAvailability::Closed, Viewer::Staff) => {
                Self::BusyUnavailable
            }
            (SlotAvailability::Held, Viewer::Staff) => Self::BusyTentative,
        }
    }
}

/// How much of a slot's state the caller may see (see [`SlotStatus::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Staff,
    Public,
}

fn weekday_plural(day: DayOfWeek) -> &'static str {
    match day {
        DayOfWeek::Mon => "Mondays",
        DayOfWeek::Tue => "Tuesdays",
        DayOfWeek::Wed => "Wednesdays",
        DayOfWeek::Thu => "Thursdays",
        DayOfWeek::Fri => "Fridays",
        DayOfWeek::Sat => "Saturdays",
        DayOfWeek::Sun => "Sundays",
    }
}

/// A weekly rule as a `Schedule`.
pub fn schedule(s: &Schedule, zone: Tz) -> resources::Schedule {
    let mut comment = format!(
        "{} {}-{} ({}), {}-minute slots",
        weekday_plural(s.day_of_week),
        s.start_time.format("%H:%M"),
        s.end_time.format("%H:%M"),
        zone.name(),
        s.slot_minutes
    );
    if s.buffer_minutes > 0 {
        comment.push_str(&format!(", {} minutes between", s.buffer_minutes));
    }
    resources::Schedule {
        resource_type: "Schedule",
        id: s.id.to_string(),
        active: s.is_active,
        actor: vec![Reference::to("Practitioner", s.doctor_id)],
        comment,
    }
}

/// A slot as a `Slot`, its status as `viewer` may see it at `now`.
pub fn slot(s: &SlotState, now: DateTime<Utc>, viewer: Viewer) -> resources::Slot {
    resources::Slot {
        resource_type: "Slot",
        id: s.id.to_string(),
        schedule: Reference::to("Schedule", s.schedule.id),
        status: SlotStatus::of(s.availability(now), viewer).code(),
        start: instant(s.starts_at),
        end: instant(s.ends_at),
    }
}

const APPOINTMENT_TYPES: &str = "http://terminology.hl7.org/CodeSystem/v2-0276";
const PARTICIPATION_TYPES: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

/// An appointment as an `Appointment`. It carries what the rest of the API shows the same
/// caller and nothing more: the booking reason and a cancellation's reason (both on
/// `AppointmentDto` for everyone who may read it), never the visit's `notes`, which are the
/// doctor's and have no place in scheduling.
pub fn appointment(a: &Appointment) -> resources::Appointment {
    let (code, display) = match a.kind {
        AppointmentType::Consultation => ("ROUTINE", "Routine appointment - default if not valued"),
        AppointmentType::FollowUp => ("FOLLOWUP", "A follow up visit from a previous appointment"),
        AppointmentType::Emergency => ("EMERGENCY", "Emergency appointment"),
    };
    let text = |t: &str| CodeableConcept {
        coding: vec![],
        text: Some(t.to_owned()),
    };
    let minutes = (a.ends_at - a.starts_at).num_minutes();
    resources::Appointment {
        resource_type: "Appointment",
        id: a.id.to_string(),
        meta: Meta {
            last_updated: instant(a.updated_at),
        },
        status: appointment_status(a.status),
        cancelation_reason: a
            .cancel_reason
            .as_deref()
            .filter(|_| a.status == AppointmentStatus::Cancelled)
            .map(text),
        appointment_type: CodeableConcept {
            coding: vec![Coding {
                system: APPOINTMENT_TYPES.to_owned(),
                code: code.to_owned(),
                display: Some(display.to_owned()),
            }],
            text: Some(
                match a.kind {
                    AppointmentType::Consultation => "CONSULTATION",
                    AppointmentType::FollowUp => "FOLLOW_UP",
                    AppointmentType::Emergency => "EMERGENCY",
                }
                .to_owned(),
            ),
        },
        reason_code: (!a.reason.is_empty())
            .then(|| text(&a.reason))
            .into_iter()
            .collect(),
        start: instant(a.starts_at),
        end: instant(a.ends_at),
        minutes_duration: u32::try_from(minutes).unwrap_or(0).max(1),
        slot: a
            .time_slot_id
            .map(|id| Reference::to("Slot", id))
            .into_iter()
            .collect(),
        created: instant(a.created_at),
        participant: vec![
            Participant {
                kind: vec![CodeableConcept {
                    coding: vec![Coding {
                        system: PARTICIPATION_TYPES.to_owned(),
                        code: "ATND".to_owned(),
                        display: Some("attender".to_owned()),
                    }],
                    text: None,
                }],
                actor: Reference::to("Practitioner", a.doctor_id),
                required: "required",
                status: "accepted",
            },
            Participant {
                kind: vec![],
                actor: Reference::to("Patient", a.patient_id),
                required: "required",
                status: "accepted",
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
    use uuid::Uuid;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
    }

    fn visit(status: AppointmentStatus) -> Appointment {
        Appointment {
            id: Uuid::new_v4(),
            patient_id: Uuid::new_v4(),
            doctor_id: Uuid::new_v4(),
            time_slot_id: Some(Uuid::new_v4()),
            kind: AppointmentType::FollowUp,
            status,
            reason: "Ear ache".into(),
            notes: Some("private clinical note".into()),
            cancel_reason: Some("Travelling".into()),
            consultation_fee: Money::parse("10", "f").unwrap(),
            starts_at: at(9),
            ends_at: at(9) + Duration::minutes(30),
            created_at: at(8),
            updated_at: at(8),
        }
    }

    #[test]
    fn every_status_of_ours_has_an_r4_code_that_searches_back_to_it() {
        let table = [
            (AppointmentStatus::Scheduled, "booked"),
            (AppointmentStatus::Confirmed, "arrived"),
            (AppointmentStatus::InProgress, "fulfilled"),
            (AppointmentStatus::Completed, "fulfilled"),
            (AppointmentStatus::Cancelled, "cancelled"),
            (AppointmentStatus::NoShow, "noshow"),
        ];
        for (ours, code) in table {
            assert_eq!(appointment_status(ours), code);
            assert!(appointment_statuses_for(code).unwrap().contains(&ours));
        }
        assert_eq!(appointment_statuses_for("checked-in"), Some(vec![]));
        assert_eq!(appointment_statuses_for("BOOKED"), None);
    }

    #[test]
    fn an_appointment_names_its_participants_and_leaves_the_notes_out() {
        let a = visit(AppointmentStatus::Scheduled);
        let json = serde_json::to_value(appointment(&a)).unwrap();
        assert_eq!(json["resourceType"], "Appointment");
        assert_eq!(json["status"], "booked");
        assert_eq!(json["start"], "2026-12-01T09:00:00Z");
        assert_eq!(json["minutesDuration"], 30);
        assert_eq!(json["appointmentType"]["coding"][0]["code"], "FOLLOWUP");
        assert_eq!(json["reasonCode"][0]["text"], "Ear ache");
        assert_eq!(
            json["slot"][0]["reference"],
            format!("Slot/{}", a.time_slot_id.unwrap())
        );
        assert_eq!(
            json["participant"][0]["actor"]["reference"],
            format!("Practitioner/{}", a.doctor_id)
        );
        assert_eq!(
            json["participant"][1]["actor"]["reference"],
            format!("Patient/{}", a.patient_id)
        );
        assert!(json["participant"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "accepted"));
        assert!(
            json.get("cancelationReason").is_none(),
            "only a cancelled one says why"
        );
        assert!(!json.to_string().contains("private clinical note"));
        let cancelled =
            serde_json::to_value(appointment(&visit(AppointmentStatus::Cancelled))).unwrap();
        assert_eq!(cancelled["cancelationReason"]["text"], "Travelling");
        let mut walk_in = visit(AppointmentStatus::InProgress);
        walk_in.time_slot_id = None;
        let json = serde_json::to_value(appointment(&walk_in)).unwrap();
        assert!(json.get("slot").is_none());
        assert_eq!(json["status"], "fulfilled");
    }

    fn state(schedule: &Schedule, start: u32) -> SlotState {
        SlotState {
            id: Uuid::new_v4(),
            schedule: schedule.clone(),
            doctor_id: schedule.doctor_id,
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            start_time: NaiveTime::from_hms_opt(start, 0, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt(start, 30, 0).unwrap(),
            starts_at: at(start),
            ends_at: at(start) + Duration::minutes(30),
            booked: false,
            held: false,
            time_off: false,
            doctor_unavailable: false,
        }
    }

    #[test]
    fn slot_statuses_for_staff_and_for_everyone_else() {
        // 2026-12-01 is a Tuesday.
        let input = crate::scheduling::ScheduleInput::parse(
            DayOfWeek::Tue,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            30,
        )
        .unwrap();
        let rule = Schedule::new(Uuid::new_v4(), Uuid::new_v4(), input);
        let now = at(8);
        let free = state(&rule, 10);
        let booked = SlotState {
            booked: true,
            ..state(&rule, 10)
        };
        let away = SlotState {
            time_off: true,
            ..state(&rule, 10)
        };
        let held = SlotState {
            held: true,
            ..state(&rule, 10)
        };
        let started = state(&rule, 10);
        let doctor_away = SlotState {
            doctor_unavailable: true,
            ..state(&rule, 10)
        };
        let cases = [
            (&free, now, "free", "free"),
            (&booked, now, "busy", "busy"),
            (&away, now, "busy-unavailable", "busy"),
            (&held, now, "busy-tentative", "busy"),
            (&doctor_away, now, "busy-unavailable", "busy"),
            (&started, at(11), "busy-unavailable", "busy"),
            (&booked, at(11), "busy", "busy"),
        ];
        for (s, now, staff, public) in cases {
            assert_eq!(slot(s, now, Viewer::Staff).status, staff);
            assert_eq!(slot(s, now, Viewer::Public).status, public);
        }
        let json = serde_json::to_value(slot(&free, now, Viewer::Public)).unwrap();
        assert_eq!(
            json["schedule"]["reference"],
            format!("Schedule/{}", rule.id)
        );
        assert_eq!(json["end"], "2026-12-01T10:30:00Z");
        // Off the grid after the rule changed: not listed unless booked.
        let mut moved = rule.clone();
        moved.start_time = NaiveTime::from_hms_opt(9, 15, 0).unwrap();
        assert!(!state(&moved, 10).is_listed());
        assert!(SlotState {
            booked: true,
            ..state(&moved, 10)
        }
        .is_listed());
        assert_eq!(
            slot(&state(&moved, 10), now, Viewer::Staff).status,
            "busy-unavailable"
        );
    }

    #[test]
    fn a_schedule_is_one_weekly_rule_of_one_doctor() {
        let input = crate::scheduling::ScheduleInput::parse(
            DayOfWeek::Mon,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            30,
        )
        .unwrap()
        .with_buffer(10)
        .unwrap();
        let mut rule = Schedule::new(Uuid::new_v4(), Uuid::new_v4(), input);
        rule.is_active = false;
        let json = serde_json::to_value(schedule(&rule, "Europe/London".parse().unwrap())).unwrap();
        assert_eq!(json["resourceType"], "Schedule");
        assert_eq!(json["active"], false);
        assert_eq!(
            json["actor"][0]["reference"],
            format!("Practitioner/{}", rule.doctor_id)
        );
        assert_eq!(
            json["comment"],
            "Mondays 09:00-12:00 (Europe/London), 30-minute slots, 10 minutes between"
        );
    }
}
