//! Notifications to users. This module holds the kinds; the booking transaction writes
//! BOOKING_CONFIRMATION rows for the patient and the doctor.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    BookingConfirmation,
    Reminder,
    Prescription,
    Payment,
    General,
}
