//! Every email's words, in one place: each [`Letter`] becomes a [`Draft`] (subject, paragraphs,
//! a table of details, an optional button), which is written out twice, as plain text and as
//! HTML, so the two never say different things. Times are in the clinic's zone with its
//! abbreviation; confirmations, moves and cancellations carry an iCalendar file whose event
//! UIDs are the doctor feed's (`<appointment id>@healthsync`), so calendars merge them. A
//! visit's type is never written (an "Emergency" in a shared calendar says too much).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::{Attachment, Letter, OutgoingEmail, QueuedEmail, Visit};
use crate::calendar::ics;
use crate::identity::reset::ResetKey;

/// What rendering needs besides the letter: the clinic's zone and name, where the web app is,
/// and the key that derives reset tokens.
#[derive(Clone)]
pub struct Renderer {
    pub zone: Tz,
    pub clinic_name: String,
    /// The web app's address (no trailing slash); links in emails point into it.
    pub app_url: String,
    pub reset_key: ResetKey,
}

/// A letter's content before it is written as text or HTML.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    pub subject: String,
    pub paragraphs: Vec<String>,
    pub details: Vec<(String, String)>,
    /// A button (HTML) or a line with the address (text).
    pub action: Option<(String, String)>,
    /// Why the recipient gets this and what it can do about it.
    pub footer: String,
    pub calendar: Option<String>,
}

impl Renderer {
    /// The email for `queued`, with doctors' names from `doctors` (a doctor missing from it
    /// is "your doctor").
    pub fn render(
        &self,
        queued: &QueuedEmail,
        doctors: &HashMap<Uuid, String>,
        now: DateTime<Utc>,
    ) -> OutgoingEmail {
        let draft = self.draft(&queued.letter, doctors, queued.id, now);
        let first_name = queued.to_name.split_whitespace().next().unwrap_or("there");
        OutgoingEmail {
            id: queued.id,
            to_email: queued.to_email.clone(),
            to_name: queued.to_name.clone(),
            subject: draft.subject.clone(),
            text: text(&draft, first_name, &self.clinic_name),
            html: html(&draft, first_name, &self.clinic_name),
            attachments: draft
                .calendar
                .clone()
                .map(|content| Attachment {
                    filename: "appointment.ics".into(),
                    content_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
                    content,
                })
                .into_iter()
                .collect(),
        }
    }

    /// The words of a letter.
    pub fn draft(
        &self,
        letter: &Letter,
        doctors: &HashMap<Uuid, String>,
        email_id: Uuid,
        now: DateTime<Utc>,
    ) -> Draft {
        let clinic = &self.clinic_name;
        let preferences = format!(
            "You get this email because you have an account at {clinic}. You can choose which \
             emails you get under Email preferences in the app: {}/settings/email",
            self.app_url
        );
        let manage = Some((
            "See your appointments".to_owned(),
            format!("{}/appointments", self.app_url),
        ));
        // Subjects name the first visit; a letter always has one (an empty list, which no code
        // path writes, reads as "now" rather than stopping the relay).
        let first = |visits: &[Visit]| visits.first().map_or(now, |v| v.starts_at);
        let several = |visits: &[Visit]| visits.len() > 1;
        match letter {
            Letter::BookingConfirmation { visits } => Draft {
                subject: if several(visits) {
                    format!("{} appointments booked at {clinic}", visits.len())
                } else {
                    format!("Appointment booked: {}", self.short(first(visits)))
                },
                paragraphs: vec![
                    if several(visits) {
                        format!("Your {} appointments at {clinic} are booked.", visits.len())
                    } else {
                        format!("Your appointment at {clinic} is booked.")
                    },
                    "The attached calendar file adds it to your calendar. If you cannot come, \
                     please cancel in the app so someone else can have the time."
                        .into(),
                ],
                details: self.visit_details(visits, doctors),
                action: manage,
                footer: preferences,
                calendar: Some(self.calendar(visits, doctors, email_id, now, false)),
            },
            Letter::Reminder { visits } => Draft {
                subject: format!("Reminder: your appointment {}", self.short(first(visits))),
                paragraphs: vec![
                    format!("This is a reminder of your appointment at {clinic}."),
                    "If you cannot come, please cancel in the app so someone else can have the \
                     time."
                        .into(),
                ],
                details: self.visit_details(visits, doctors),
                action: manage,
                footer: preferences,
                calendar: None,
            },
            Letter::Cancellation { visits } => Draft {
                subject: if several(visits) {
                    format!("{} appointments cancelled", visits.len())
                } else {
                    format!("Appointment cancelled: {}", self.short(first(visits)))
                },
                paragraphs: vec![
                    if several(visits) {
                        "These appointments are cancelled.".into()
                    } else {
                        "This appointment is cancelled.".into()
                    },
                    "The attached calendar file marks it cancelled in your calendar. You can \
                     book another time in the app."
                        .into(),
                ],
                details: self.visit_details(visits, doctors),
                action: Some(("Book again".into(), format!("{}/doctors", self.app_url))),
                footer: preferences,
                calendar: Some(self.calendar(visits, doctors, email_id, now, true)),
            },
            Letter::Reschedule {
                visit,
                previous_starts_at,
                previous_ends_at,
            } => {
                let previous_end = previous_ends_at
                    .unwrap_or(*previous_starts_at + (visit.ends_at - visit.starts_at));
                let mut details = vec![(
                    "Was".to_owned(),
                    self.span(*previous_starts_at, previous_end),
                )];
                details.extend(self.visit_details(std::slice::from_ref(visit), doctors));
                Draft {
                    subject: format!("Appointment moved to {}", self.short(visit.starts_at)),
                    paragraphs: vec![
                        format!("Your appointment at {clinic} has moved to a new time."),
                        "The attached calendar file updates it in your calendar.".into(),
                    ],
                    details,
                    action: manage,
                    footer: preferences,
                    calendar: Some(self.calendar(
                        std::slice::from_ref(visit),
                        doctors,
                        email_id,
                        now,
                        false,
                    )),
                }
            }
            Letter::Bill {
                bill_id,
                amount,
                due_at,
            } => Draft {
                subject: format!("Your bill from {clinic}: {amount}"),
                paragraphs: vec![format!("{clinic} has issued you a bill.")],
                details: [("Amount".to_owned(), amount.clone())]
                    .into_iter()
                    .chain(due_at.map(|d| ("Due by".to_owned(), self.day(d))))
                    .collect(),
                action: Some((
                    "View and pay the bill".into(),
                    format!("{}/bills/{bill_id}", self.app_url),
                )),
                footer: preferences,
                calendar: None,
            },
            Letter::PaymentReceipt {
                bill_id,
                amount,
                paid_at,
                payment_method,
            } => Draft {
                subject: format!("Payment received: {amount}"),
                paragraphs: vec![format!("Thank you. {clinic} has received your payment.")],
                details: [("Amount".to_owned(), amount.clone())]
                    .into_iter()
                    .chain(paid_at.map(|d| ("Paid".to_owned(), self.moment(d))))
                    .chain(
                        payment_method
                            .as_deref()
                            .map(|m| ("Method".to_owned(), method_label(m).to_owned())),
                    )
                    .chain([("Receipt number".to_owned(), bill_id.to_string())])
                    .collect(),
                action: Some((
                    "View the bill".into(),
                    format!("{}/bills/{bill_id}", self.app_url),
                )),
                footer: preferences,
                calendar: None,
            },
            Letter::WaitlistOffer {
                offer_id,
                doctor_id,
                starts_at,
                ends_at,
                expires_at,
            } => Draft {
                subject: format!(
                    "A time with {} is held for you until {}",
                    doctor_name(doctors, *doctor_id),
                    self.local(*expires_at).format("%H:%M")
                ),
                paragraphs: vec![
                    format!(
                        "A time you were waiting for at {clinic} has come free, and it is held \
                         for you."
                    ),
                    "Accept it in the app before the hold ends to book it; after that it goes \
                     to the next patient waiting."
                        .into(),
                ],
                details: vec![
                    ("When".into(), self.span(*starts_at, *ends_at)),
                    ("Doctor".into(), doctor_name(doctors, *doctor_id)),
                    ("Held until".into(), self.moment(*expires_at)),
                ],
                action: Some((
                    "Accept or decline".into(),
                    format!("{}/waitlist/offers/{offer_id}", self.app_url),
                )),
                footer: preferences,
                calendar: None,
            },
            Letter::PasswordReset {
                reset_id,
                expires_at,
                by_admin,
            } => Draft {
                subject: format!("Reset your {clinic} password"),
                paragraphs: vec![
                    if *by_admin {
                        format!(
                            "An administrator of {clinic} has sent you a link to choose a new \
                             password for your account. It works once."
                        )
                    } else {
                        "Someone (we hope you) asked to reset the password of your account. \
                         The link below lets you choose a new one; it works once."
                            .into()
                    },
                    "Setting a new password signs you out on every device.".into(),
                ],
                details: vec![("Link valid until".into(), self.moment(*expires_at))],
                action: Some((
                    "Choose a new password".into(),
                    // In the fragment, which browsers never send to a server or a proxy log.
                    format!(
                        "{}/reset-password#token={}",
                        self.app_url,
                        self.reset_key.token(*reset_id)
                    ),
                )),
                footer: "If you did not expect this, ignore this email: your password stays as \
                         it is."
                    .into(),
                calendar: None,
            },
        }
    }

    /// When and with whom, per visit (numbered when there are several).
    fn visit_details(
        &self,
        visits: &[Visit],
        doctors: &HashMap<Uuid, String>,
    ) -> Vec<(String, String)> {
        let many = visits.len() > 1;
        visits
            .iter()
            .enumerate()
            .flat_map(|(i, v)| {
                let n = if many {
                    format!(" {}", i + 1)
                } else {
                    String::new()
                };
                [
                    (format!("When{n}"), self.span(v.starts_at, v.ends_at)),
                    (format!("Doctor{n}"), doctor_name(doctors, v.doctor_id)),
                ]
            })
            .collect()
    }

    fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.zone)
    }

    /// "Tuesday 1 December 2026, 09:00–09:30 CET" ("01:30 BST–01:10 GMT" across a change).
    fn span(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let (a, b) = (self.local(from), self.local(to));
        let (za, zb) = (a.format("%Z").to_string(), b.format("%Z").to_string());
        if za == zb {
            format!(
                "{}, {}–{} {zb}",
                a.format("%A %-d %B %Y"),
                a.format("%H:%M"),
                b.format("%H:%M"),
            )
        } else {
            format!(
                "{}, {} {za}–{} {zb}",
                a.format("%A %-d %B %Y"),
                a.format("%H:%M"),
                b.format("%H:%M"),
            )
        }
    }

    /// "Tue 1 Dec, 09:00" for subjects.
    fn short(&self, at: DateTime<Utc>) -> String {
        self.local(at).format("%a %-d %b, %H:%M").to_string()
    }

    /// "1 December 2026".
    fn day(&self, at: DateTime<Utc>) -> String {
        self.local(at).format("%-d %B %Y").to_string()
    }

    /// "1 December 2026, 09:00 CET".
    fn moment(&self, at: DateTime<Utc>) -> String {
        self.local(at).format("%-d %B %Y, %H:%M %Z").to_string()
    }

    /// The visits as an iCalendar object (`METHOD:PUBLISH`), `STATUS:CANCELLED` for a
    /// cancellation. `SEQUENCE` grows with each email about a visit, so a move replaces the
    /// booked time, and a cancellation the event, in the recipient's calendar.
    fn calendar(
        &self,
        visits: &[Visit],
        doctors: &HashMap<Uuid, String>,
        email_id: Uuid,
        now: DateTime<Utc>,
        cancelled: bool,
    ) -> String {
        let from = visits.iter().map(|v| v.starts_at).min().unwrap_or(now);
        let to = visits.iter().map(|v| v.ends_at).max().unwrap_or(now);
        let mut cal = ics::Ics::default();
        cal.raw("BEGIN", "VCALENDAR")
            .raw("VERSION", "2.0")
            .raw("PRODID", "-//HealthSync//Appointment email//EN")
            .raw("CALSCALE", "GREGORIAN")
            .raw("METHOD", "PUBLISH");
        cal.timezone(self.zone, from - Duration::days(1), to + Duration::days(1));
        // Seconds since 2024: an integer that only grows, as SEQUENCE must.
        let sequence = (now.timestamp() - 1_704_067_200).max(0);
        for v in visits {
            cal.raw("BEGIN", "VEVENT")
                .raw("UID", &format!("{}@healthsync", v.appointment_id))
                .utc("DTSTAMP", now)
                .raw("SEQUENCE", &sequence.to_string());
            if ics::names_unambiguously(v.starts_at, self.zone)
                && ics::names_unambiguously(v.ends_at, self.zone)
            {
                cal.local("DTSTART", v.starts_at, self.zone)
                    .local("DTEND", v.ends_at, self.zone);
            } else {
                cal.utc("DTSTART", v.starts_at).utc("DTEND", v.ends_at);
            }
            cal.text(
                "SUMMARY",
                &format!("Appointment with {}", doctor_name(doctors, v.doctor_id)),
            )
            .text("LOCATION", &self.clinic_name)
            .text(
                "DESCRIPTION",
                &format!(
                    "Appointment at {}. Booked through HealthSync (email {email_id}).",
                    self.clinic_name
                ),
            )
            .raw("STATUS", if cancelled { "CANCELLED" } else { "CONFIRMED" })
            .raw("TRANSP", if cancelled { "TRANSPARENT" } else { "OPAQUE" })
            .raw("END", "VEVENT");
        }
        cal.raw("END", "VCALENDAR");
        cal.finish()
    }
}

/// A doctor's name, or "your doctor" when it could not be read.
fn doctor_name(doctors: &HashMap<Uuid, String>, id: Uuid) -> String {
    doctors
        .get(&id)
        .cloned()
        .unwrap_or_else(|| "your doctor".into())
}

fn method_label(method: &str) -> &str {
    match method {
        "CASH" => "Cash",
        "CARD" => "Card",
        "INSURANCE" => "Insurance",
        "BANK_TRANSFER" => "Bank transfer",
        other => other,
    }
}

/// The plain-text part.
pub fn text(draft: &Draft, first_name: &str, clinic: &str) -> String {
    let mut out = format!("Hello {first_name},\n\n");
    for p in &draft.paragraphs {
        out.push_str(p);
        out.push_str("\n\n");
    }
    let width = draft
        .details
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, v) in &draft.details {
        out.push_str(&format!("  {k:<width$}  {v}\n"));
    }
    if !draft.details.is_empty() {
        out.push('\n');
    }
    if let Some((label, url)) = &draft.action {
        out.push_str(&format!("{label}: {url}\n\n"));
    }
    out.push_str(&format!("{clinic}\n\n-- \n{}\n", draft.footer));
    out
}

/// The HTML part: simple markup with inline styles (what mail clients render), every value
/// escaped.
pub fn html(draft: &Draft, first_name: &str, clinic: &str) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:Arial,Helvetica,sans-serif;color:#1f2933;max-width:560px\">\n",
    );
    out.push_str(&format!("<p>Hello {},</p>\n", escape(first_name)));
    for p in &draft.paragraphs {
        out.push_str(&format!("<p>{}</p>\n", escape(p)));
    }
    if !draft.details.is_empty() {
        out.push_str("<table style=\"border-collapse:collapse;margin:16px 0\">\n");
        for (k, v) in &draft.details {
            out.push_str(&format!(
                "<tr><th style=\"text-align:left;padding:4px 16px 4px 0;color:#52606d\">{}</th>\
                 <td style=\"padding:4px 0\">{}</td></tr>\n",
                escape(k),
                escape(v)
            ));
        }
        out.push_str("</table>\n");
    }
    if let Some((label, url)) = &draft.action {
        out.push_str(&format!(
            "<p><a href=\"{}\" style=\"display:inline-block;background:#0b69a3;color:#ffffff;\
             padding:10px 18px;border-radius:4px;text-decoration:none\">{}</a></p>\n",
            escape(url),
            escape(label)
        ));
    }
    out.push_str(&format!(
        "<p>{}</p>\n<hr style=\"border:none;border-top:1px solid #d9e2ec\">\n\
         <p style=\"font-size:12px;color:#7b8794\">{}</p>\n</body></html>\n",
        escape(clinic),
        escape(&draft.footer)
    ));
    out
}

/// HTML text escaping (`& < > " '`).
pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::EmailKind;

    fn renderer() -> Renderer {
        Renderer {
            zone: "Europe/Berlin".parse().unwrap(),
            clinic_name: "Riverside <Clinic>".into(),
            app_url: "https://app.example".into(),
            reset_key: ResetKey::from_secret("test"),
        }
    }

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    fn visit(starts: &str) -> Visit {
        let starts_at = at(starts);
        Visit {
            appointment_id: Uuid::from_u128(7),
            doctor_id: Uuid::from_u128(1),
            starts_at,
            ends_at: starts_at + Duration::minutes(30),
        }
    }

    fn queued(letter: Letter) -> QueuedEmail {
        QueuedEmail {
            id: Uuid::from_u128(99),
            letter,
            attempts: 0,
            created_at: at("2026-11-01T00:00:00Z"),
            to_email: "ann@example.org".into(),
            to_name: "Ann O'Neil".into(),
            to_active: true,
        }
    }

    fn doctors() -> HashMap<Uuid, String> {
        HashMap::from([(Uuid::from_u128(1), "Dr Maria Rossi".to_owned())])
    }

    #[test]
    fn a_confirmation_in_the_clinic_zone_with_its_calendar_file() {
        // 08:00 UTC in winter is 09:00 in Berlin (CET).
        let email = renderer().render(
            &queued(Letter::BookingConfirmation {
                visits: vec![visit("2026-12-01T08:00:00Z")],
            }),
            &doctors(),
            at("2026-11-20T10:00:00Z"),
        );
        assert_eq!(email.subject, "Appointment booked: Tue 1 Dec, 09:00");
        assert!(email.text.starts_with("Hello Ann,\n"));
        assert!(email
            .text
            .contains("When    Tuesday 1 December 2026, 09:00–09:30 CET"));
        assert!(email.text.contains("Dr Maria Rossi"));
        // Escaped in HTML, as written in text.
        assert!(email.html.contains("Riverside &lt;Clinic&gt;"));
        assert!(email.text.contains("Riverside <Clinic>"));
        let ics = &email.attachments[0].content;
        assert!(ics.contains("UID:00000000-0000-0000-0000-000000000007@healthsync"));
        assert!(ics.contains("DTSTART;TZID=Europe/Berlin:20261201T090000"));
        assert!(ics.contains("BEGIN:VTIMEZONE"));
        assert!(ics.contains("SUMMARY:Appointment with Dr Maria Rossi"));
        assert!(ics.contains("STATUS:CONFIRMED"));
    }

    #[test]
    fn confirmations_moves_and_cancellations_carry_a_calendar_file() {
        let r = renderer();
        let now = at("2026-11-20T10:00:00Z");
        let letters = [
            Letter::BookingConfirmation {
                visits: vec![visit("2026-12-01T08:00:00Z")],
            },
            Letter::Reminder {
                visits: vec![visit("2026-12-01T08:00:00Z")],
            },
            Letter::Cancellation {
                visits: vec![visit("2026-12-01T08:00:00Z")],
            },
            Letter::Reschedule {
                visit: visit("2026-12-02T08:00:00Z"),
                previous_starts_at: at("2026-12-01T08:00:00Z"),
                previous_ends_at: None,
            },
            Letter::Bill {
                bill_id: Uuid::nil(),
                amount: "80.00".into(),
                due_at: None,
            },
            Letter::PaymentReceipt {
                bill_id: Uuid::nil(),
                amount: "80.00".into(),
                paid_at: Some(now),
                payment_method: Some("CARD".into()),
            },
            Letter::PasswordReset {
                reset_id: Uuid::nil(),
                expires_at: now,
                by_admin: false,
            },
            Letter::WaitlistOffer {
                offer_id: Uuid::nil(),
                doctor_id: Uuid::from_u128(1),
                starts_at: at("2026-12-01T08:00:00Z"),
                ends_at: at("2026-12-01T08:30:00Z"),
                expires_at: at("2026-11-20T10:30:00Z"),
            },
            // Never written, but must not stop the relay.
            Letter::Reminder { visits: Vec::new() },
        ];
        for letter in letters {
            let kind = letter.kind();
            let email = r.render(&queued(letter), &doctors(), now);
            let with_calendar = matches!(
                kind,
                EmailKind::BookingConfirmation | EmailKind::Reschedule | EmailKind::Cancellation
            );
            assert_eq!(
                email.attachments.len(),
                usize::from(with_calendar),
                "{kind:?}"
            );
            assert!(!email.subject.is_empty() && email.html.contains("</html>"));
        }
    }

    #[test]
    fn a_reset_link_carries_the_derived_token_in_the_fragment() {
        let r = renderer();
        let id = Uuid::from_u128(5);
        let email = r.render(
            &queued(Letter::PasswordReset {
                reset_id: id,
                expires_at: at("2026-12-01T08:30:00Z"),
                by_admin: false,
            }),
            &doctors(),
            at("2026-12-01T08:00:00Z"),
        );
        let token = r.reset_key.token(id);
        assert!(email
            .text
            .contains(&format!("https://app.example/reset-password#token={token}")));
        assert!(email.text.contains("1 December 2026, 09:30 CET"));
    }

    #[test]
    fn a_move_names_the_old_and_the_new_time() {
        let email = renderer().render(
            &queued(Letter::Reschedule {
                visit: visit("2026-12-02T08:00:00Z"),
                previous_starts_at: at("2026-12-01T08:00:00Z"),
                previous_ends_at: Some(at("2026-12-01T08:45:00Z")),
            }),
            &HashMap::new(),
            at("2026-11-20T10:00:00Z"),
        );
        assert!(email
            .text
            .contains("Was     Tuesday 1 December 2026, 09:00–09:45 CET"));
        assert!(email
            .text
            .contains("When    Wednesday 2 December 2026, 09:00–09:30 CET"));
        assert!(email.text.contains("your doctor"));
    }

    #[test]
    fn a_visit_across_the_clocks_going_back_names_both_offsets() {
        // Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET (01:00 UTC).
        let email = renderer().render(
            &queued(Letter::Reminder {
                visits: vec![Visit {
                    appointment_id: Uuid::nil(),
                    doctor_id: Uuid::nil(),
                    starts_at: at("2026-10-25T00:30:00Z"),
                    ends_at: at("2026-10-25T01:10:00Z"),
                }],
            }),
            &HashMap::new(),
            at("2026-10-24T10:00:00Z"),
        );
        assert!(
            email
                .text
                .contains("Sunday 25 October 2026, 02:30 CEST–02:10 CET"),
            "{}",
            email.text
        );
    }

    #[test]
    fn a_link_sent_by_an_admin_says_so() {
        let email = renderer().render(
            &queued(Letter::PasswordReset {
                reset_id: Uuid::nil(),
                expires_at: at("2026-12-01T08:30:00Z"),
                by_admin: true,
            }),
            &HashMap::new(),
            at("2026-12-01T08:00:00Z"),
        );
        assert!(email
            .text
            .contains("An administrator of Riverside <Clinic>"));
        assert!(!email.text.contains("we hope you"));
    }
}
