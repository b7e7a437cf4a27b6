//! Every text a user reads in a notification, in one place, so wording is reviewed (and one
//! day translated) here rather than hunted through SQL and adapters. Pure functions of the
//! facts they mention; no clinical detail beyond what the recipient already knows.

use chrono::{DateTime, Utc};

use crate::billing::PaymentMethod;
use crate::money::Money;

/// A notification's title and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub message: String,
}

fn notice(title: &str, message: String) -> Notice {
    Notice {
        title: title.to_owned(),
        message,
    }
}

/// BOOKING_CONFIRMATION to the patient.
pub fn booked_for_patient(starts_at: DateTime<Utc>) -> Notice {
    notice(
        "Appointment booked",
        format!("Your appointment on {} is booked.", starts_at.to_rfc3339()),
    )
}

/// BOOKING_CONFIRMATION to the doctor.
pub fn booked_for_doctor(starts_at: DateTime<Utc>) -> Notice {
    notice(
        "New appointment",
        format!("A patient booked your slot on {}.", starts_at.to_rfc3339()),
    )
}

/// REMINDER to the patient, before the appointment.
pub fn reminder(starts_at: DateTime<Utc>) -> Notice {
    notice(
        "Appointment reminder",
        format!(
            "Your appointment starts at {} UTC.",
            starts_at.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// GENERAL to a patient whose booked visit falls inside new time off of its doctor.
pub fn needs_rescheduling(starts_at: DateTime<Utc>) -> Notice {
    notice(
        "Your appointment needs a new time",
        format!(
            "Your doctor is not available for your appointment on {} UTC. It is still booked: please choose another slot, or the front desk will call you.",
            starts_at.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// GENERAL to the front desk when new time off leaves booked visits to move.
pub fn time_off_displaces(from: DateTime<Utc>, to: DateTime<Utc>, visits: usize) -> Notice {
    notice(
        "Appointments to reschedule",
        format!(
            "Time off from {} to {} UTC leaves {visits} booked appointment(s) to reschedule; see the appointments needing rescheduling.",
            from.format("%Y-%m-%d %H:%M"),
            to.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// GENERAL to a waiting patient: a slot is held for them until the offer expires.
pub fn waitlist_offer(starts_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Notice {
    notice(
        "A slot is held for you",
        format!(
            "A slot on {} UTC opened on the waitlist you joined. It is held for you until {} UTC: accept it to book, or it goes to the next patient.",
            starts_at.format("%Y-%m-%d %H:%M"),
            expires_at.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// BOOKING_CONFIRMATION to the patient for a whole series of visits.
pub fn series_booked(count: usize, first: DateTime<Utc>) -> Notice {
    notice(
        "Appointments booked",
        format!(
            "{count} recurring appointments are booked for you, the first on {} UTC.",
            first.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// BOOKING_CONFIRMATION to the doctor for a whole series of visits.
pub fn series_booked_for_doctor(count: usize, first: DateTime<Utc>) -> Notice {
    notice(
        "New recurring appointments",
        format!(
            "{count} recurring appointments were booked with you, the first on {} UTC.",
            first.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// GENERAL to the patient when the desk cancels the rest of a series.
pub fn series_cancelled(count: usize, from: DateTime<Utc>) -> Notice {
    notice(
        "Appointments cancelled",
        format!(
            "{count} of your recurring appointments, from {} UTC on, were cancelled.",
            from.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// PRESCRIPTION to the patient: the medicines, as the doctor wrote them.
pub fn prescription<'a>(medicines: impl IntoIterator<Item = &'a str>) -> Notice {
    let names: Vec<&str> = medicines.into_iter().collect();
    notice(
        "New prescription",
        format!("Your doctor prescribed: {}.", names.join(", ")),
    )
}

/// PAYMENT to the patient when a completed visit is billed.
pub fn bill_ready(amount: &Money, due_at: DateTime<Utc>) -> Notice {
    notice(
        "Your bill is ready",
        format!(
            "Your visit is billed {amount}, due by {}.",
            due_at.format("%Y-%m-%d")
        ),
    )
}

/// PAYMENT to the patient when a bill is paid.
pub fn payment_received(amount: &Money, method: PaymentMethod) -> Notice {
    notice(
        "Payment received",
        format!(
            "We received {amount} by {} for your visit. Thank you.",
            method.as_str()
        ),
    )
}

/// PAYMENT to the patient when a paid bill is refunded.
pub fn payment_refunded(amount: &Money) -> Notice {
    notice(
        "Payment refunded",
        format!("{amount} has been refunded to you."),
    )
}

/// PAYMENT to the patient when a bill passes its due date unpaid.
pub fn payment_overdue(amount: &Money, due_at: DateTime<Utc>) -> Notice {
    notice(
        "Payment overdue",
        format!(
            "Your bill of {amount} was due on {}. Please pay at the front desk or online.",
            due_at.format("%Y-%m-%d")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn texts_name_the_facts_and_nothing_clinical() {
        let at = Utc.with_ymd_and_hms(2026, 3, 29, 8, 30, 0).unwrap();
        let fee = Money::parse("80.50", "fee").unwrap();
        assert_eq!(
            booked_for_patient(at).message,
            "Your appointment on 2026-03-29T08:30:00+00:00 is booked."
        );
        assert_eq!(
            reminder(at).message,
            "Your appointment starts at 2026-03-29 08:30 UTC."
        );
        assert_eq!(
            prescription(["Amoxicillin", "Ibuprofen"]).message,
            "Your doctor prescribed: Amoxicillin, Ibuprofen."
        );
        assert_eq!(
            bill_ready(&fee, at).message,
            "Your visit is billed 80.50, due by 2026-03-29."
        );
        assert_eq!(
            payment_received(&fee, PaymentMethod::Card).message,
            "We received 80.50 by CARD for your visit. Thank you."
        );
        assert!(payment_overdue(&fee, at)
            .message
            .contains("was due on 2026-03-29"));
        assert_eq!(payment_refunded(&fee).title, "Payment refunded");
    }
}
