//! Time off: a doctor's leave (whole days, or part of a day) or a clinic holiday (every
//! doctor). The `time_off` table is the one source of truth, consulted everywhere a slot could
//! leak through: generation leaves slots inside time off out, availability hides the ones that
//! exist, and the booking transaction refuses them (`Conflict(DoctorTimeOff)`) after locking
//! the slot. Appointments already booked inside are never cancelled by it: they stay as they
//! are and are listed as needing a new time (`GET /appointments?needsRescheduling=true`); the
//! patient and the front desk are told in the transaction that records the time off.
//!
//! A request is in the clinic's local time: `from`..=`to` whole days, optionally starting at
//! `startTime` on `from` and ending at `endTime` on `to` (so "Tuesday 14:00 to 17:00" is one
//! day with both times). It is stored as the instants it covers, so daylight-saving days need
//! no special case afterwards: a local time that does not exist (spring forward) is read as
//! the first instant after the gap, one that exists twice as the first.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::slots::local_instant;
use super::SlotSpec;
use crate::appointments::UserNotice;
use crate::error::DomainError;
use crate::notifications::texts;

/// The longest time off one request records, in days (longer leave is several requests).
pub const MAX_TIME_OFF_DAYS: i64 = 366;

/// A half-open stretch of time `[starts_at, ends_at)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Span {
    /// Whether `[start, end)` shares any instant with this span (touching is not overlapping).
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.starts_at < end && start < self.ends_at
    }

    /// The local dates whose slots can overlap this span: a slot is dated by its local start,
    /// and starts at most [`super::MAX_SLOT_MINUTES`] before the span does.
    pub fn slot_dates(&self, tz: Tz) -> (NaiveDate, NaiveDate) {
        let first = (self.starts_at - Duration::minutes(i64::from(super::MAX_SLOT_MINUTES)))
            .with_timezone(&tz)
            .date_naive();
        let last = self.ends_at.with_timezone(&tz).date_naive();
        (first, last)
    }
}

/// Time off as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOff {
    pub id: Uuid,
    /// `None`: a clinic holiday, for every doctor.
    pub doctor_id: Option<Uuid>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl TimeOff {
    pub fn span(&self) -> Span {
        Span {
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        }
    }

    /// Whether it keeps `doctor_id` away (its own time off, or a clinic holiday).
    pub fn applies_to(&self, doctor_id: Uuid) -> bool {
        self.doctor_id.is_none_or(|d| d == doctor_id)
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "doctorId": self.doctor_id, "startsAt": self.starts_at, "endsAt": self.ends_at,
            "reason": self.reason,
        })
    }
}

/// What a client asks for, in the clinic's local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffRequest {
    /// `None`: a clinic holiday (admins only).
    pub doctor_id: Option<Uuid>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// When the time off starts on `from` (midnight when left out).
    pub start_time: Option<NaiveTime>,
    /// When it ends on `to` (the end of that day when left out).
    pub end_time: Option<NaiveTime>,
    pub reason: Option<String>,
}

/// The first instant at or after a local date-time: a time inside a spring-forward gap is read
/// as the end of the gap.
pub(crate) fn at_or_after(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Gaps are at most a few hours; a minute at a time finds the end of any real one.
    (0..=24 * 60).find_map(|m| local_instant(tz, local + Duration::minutes(m)))
}

impl TimeOffRequest {
    /// The instants this request covers in `tz`, validated: dates in range, `to` not before
    /// `from`, at most [`MAX_TIME_OFF_DAYS`], whole minutes, and the end after the start.
    pub fn span(&self, tz: Tz) -> Result<Span, DomainError> {
        crate::dates::check_date("from", self.from)?;
        crate::dates::check_date("to", self.to)?;
        if self.to < self.from {
            return Err(DomainError::validation("to", "must be on or after from"));
        }
        if self.to - self.from >= Duration::days(MAX_TIME_OFF_DAYS) {
            return Err(DomainError::validation(
                "to",
                format!(
                    "time off spans at most {MAX_TIME_OFF_DAYS} days; record longer leave in parts"
                ),
            ));
        }
        for (field, time) in [("startTime", self.start_time), ("endTime", self.end_time)] {
            if time.is_some_and(|t| t.second() != 0 || t.nanosecond() != 0) {
                return Err(DomainError::validation(
                    field,
                    "must be a whole minute (HH:MM)",
                ));
            }
        }
        let start = self
            .from
            .and_time(self.start_time.unwrap_or(NaiveTime::MIN));
        let end = match self.end_time {
            Some(t) => self.to.and_time(t),
            None => (self.to + Duration::days(1)).and_time(NaiveTime::MIN),
        };
        let unreadable =
            |field| DomainError::validation(field, "is not a time in the clinic's zone");
        let starts_at = at_or_after(tz, start).ok_or_else(|| unreadable("startTime"))?;
        let ends_at = at_or_after(tz, end).ok_or_else(|| unreadable("endTime"))?;
        if ends_at <= starts_at {
            return Err(DomainError::validation(
                "endTime",
                "must be after the start of the time off",
            ));
        }
        Ok(Span { starts_at, ends_at })
    }
}

/// The slots that overlap none of `spans` (generation's last step).
pub fn clear_of(slots: Vec<SlotSpec>, spans: &[Span]) -> Vec<SlotSpec> {
    slots
        .into_iter()
        .filter(|s| {
            !spans
                .iter()
                .any(|span| span.overlaps(s.starts_at, s.ends_at))
        })
        .collect()
}

/// The spans of `time_off` that keep `doctor_id` away.
pub fn spans_for(time_off: &[TimeOff], doctor_id: Uuid) -> Vec<Span> {
    time_off
        .iter()
        .filter(|t| t.applies_to(doctor_id))
        .map(TimeOff::span)
        .collect()
}

/// A booked appointment that falls inside new time off, as the recording transaction found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Displaced {
    pub appointment_id: Uuid,
    pub patient_user_id: Uuid,
    pub starts_at: DateTime<Utc>,
}

/// What recording time off changed besides the time off itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// The booked visits inside it, by start.
    pub displaced: Vec<Displaced>,
    /// `(doctor, local date)` of every free slot withdrawn.
    pub withdrawn: Vec<(Uuid, NaiveDate)>,
}

/// The notifications new time off sends, each with its appointment when it is about one: every
/// displaced patient is told its visit needs a new time, and every front-desk user (`desk`)
/// once how many visits to move. Nothing when no visit is displaced.
pub fn displacement_notices(
    span: Span,
    displaced: &[Displaced],
    desk: &[Uuid],
) -> Vec<(Option<Uuid>, UserNotice)> {
    if displaced.is_empty() {
        return Vec::new();
    }
    let mut notices: Vec<(Option<Uuid>, UserNotice)> = displaced
        .iter()
        .map(|d| {
            (
                Some(d.appointment_id),
                UserNotice {
                    user_id: d.patient_user_id,
                    notice: texts::needs_rescheduling(d.starts_at),
                },
            )
        })
        .collect();
    let desk_notice = texts::time_off_displaces(span.starts_at, span.ends_at, displaced.len());
    notices.extend(desk.iter().map(|&user_id| {
        (
            None,
            UserNotice {
                user_id,
                notice: desk_notice.clone(),
            },
        )
    }));
    notices
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduling::{generate, DayOfWeek, Schedule, ScheduleInput};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn request(from: NaiveDate, to: NaiveDate) -> TimeOffRequest {
        TimeOffRequest {
            doctor_id: None,
            from,
            to,
            start_time: None,
            end_time: None,
            reason: None,
        }
    }

    #[test]
    fn whole_days_run_from_local_midnight_to_the_next_across_dst() {
        let london: Tz = "Europe/London".parse().unwrap();
        // 29 March 2026 is 23 hours long in London; 25 October 25 hours.
        let spring = request(day(2026, 3, 29), day(2026, 3, 29))
            .span(london)
            .unwrap();
        assert_eq!(spring.starts_at, utc(2026, 3, 29, 0, 0));
        assert_eq!(spring.ends_at, utc(2026, 3, 29, 23, 0));
        let autumn = request(day(2026, 10, 25), day(2026, 10, 25))
            .span(london)
            .unwrap();
        assert_eq!(autumn.ends_at - autumn.starts_at, Duration::hours(25));
        let week = request(day(2026, 1, 5), day(2026, 1, 9))
            .span(Tz::UTC)
            .unwrap();
        assert_eq!(week.ends_at - week.starts_at, Duration::days(5));
    }

    #[test]
    fn part_of_a_day_and_times_in_a_gap() {
        let london: Tz = "Europe/London".parse().unwrap();
        let mut afternoon = request(day(2026, 1, 6), day(2026, 1, 6));
        afternoon.start_time = Some(hm(14, 0));
        afternoon.end_time = Some(hm(17, 30));
        let span = afternoon.span(london).unwrap();
        assert_eq!(
            (span.starts_at, span.ends_at),
            (utc(2026, 1, 6, 14, 0), utc(2026, 1, 6, 17, 30))
        );
        // 01:30 does not exist on 29 March 2026: the time off starts when the clock jumps.
        let mut gap = request(day(2026, 3, 29), day(2026, 3, 29));
        gap.start_time = Some(hm(1, 30));
        assert_eq!(gap.span(london).unwrap().starts_at, utc(2026, 3, 29, 1, 0));
    }

    #[test]
    fn bad_requests_name_their_field() {
        let field_of = |r: TimeOffRequest| match r.span(Tz::UTC) {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field_of(request(day(2026, 1, 6), day(2026, 1, 5))), "to");
        assert_eq!(field_of(request(day(2026, 1, 1), day(2027, 1, 2))), "to");
        assert_eq!(field_of(request(day(1800, 1, 1), day(2026, 1, 1))), "from");
        let mut backwards = request(day(2026, 1, 6), day(2026, 1, 6));
        backwards.start_time = Some(hm(15, 0));
        backwards.end_time = Some(hm(14, 0));
        assert_eq!(field_of(backwards), "endTime");
        let mut seconds = request(day(2026, 1, 6), day(2026, 1, 6));
        seconds.start_time = NaiveTime::from_hms_opt(9, 0, 30);
        assert_eq!(field_of(seconds), "startTime");
        // 366 days (a leap year) is the most one request records.
        assert!(request(day(2026, 1, 1), day(2027, 1, 1))
            .span(Tz::UTC)
            .is_ok());
    }

    #[test]
    fn holidays_apply_to_everyone_leave_to_its_doctor() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let base = TimeOff {
            id: Uuid::new_v4(),
            doctor_id: None,
            starts_at: utc(2026, 1, 1, 0, 0),
            ends_at: utc(2026, 1, 2, 0, 0),
            reason: None,
            created_by: Uuid::new_v4(),
            created_at: utc(2025, 12, 1, 0, 0),
        };
        let leave = TimeOff {
            doctor_id: Some(a),
            ..base.clone()
        };
        assert!(base.applies_to(a) && base.applies_to(b));
        assert!(leave.applies_to(a) && !leave.applies_to(b));
        assert_eq!(spans_for(&[base, leave], b).len(), 1);
    }

    #[test]
    fn displaced_patients_and_the_desk_are_told_once() {
        let span = Span {
            starts_at: utc(2026, 1, 6, 0, 0),
            ends_at: utc(2026, 1, 7, 0, 0),
        };
        assert!(displacement_notices(span, &[], &[Uuid::new_v4()]).is_empty());
        let displaced = [
            Displaced {
                appointment_id: Uuid::new_v4(),
                patient_user_id: Uuid::new_v4(),
                starts_at: utc(2026, 1, 6, 9, 0),
            },
            Displaced {
                appointment_id: Uuid::new_v4(),
                patient_user_id: Uuid::new_v4(),
                starts_at: utc(2026, 1, 6, 10, 0),
            },
        ];
        let desk = [Uuid::new_v4()];
        let notices = displacement_notices(span, &displaced, &desk);
        assert_eq!(notices.len(), 3);
        assert_eq!(notices[0].0, Some(displaced[0].appointment_id));
        assert_eq!(notices[0].1.user_id, displaced[0].patient_user_id);
        assert_eq!(notices[2].0, None);
        assert_eq!(notices[2].1.user_id, desk[0]);
        assert!(notices[2].1.notice.message.contains("2 booked"));
    }

    fn zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            "UTC",
            "Europe/London",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ])
        .prop_map(|z| z.parse::<Tz>().unwrap())
    }

    proptest! {
        /// Any schedule with any buffer, any time off (whole days or part of a day, starting on
        /// any day of two years, so across every DST change of those zones): no generated slot
        /// overlaps the time off or another slot's buffer, and every slot that was left out
        /// did overlap it.
        #[test]
        fn no_generated_slot_overlaps_time_off_or_a_buffer(
            tz in zone(),
            weekday in prop::sample::select(DayOfWeek::ALL.to_vec()),
            start_quarter in 0u32..80,
            length_quarters in 4u32..40,
            slot_minutes in prop::sample::select(vec![10u32, 15, 20, 30, 45, 60]),
            buffer in prop::sample::select(vec![0u32, 5, 15]),
            first_day in 0i64..730,
            off_offset in 0i64..21,
            off_days in 0i64..4,
            off_times in prop::option::of((0u32..96, 1u32..96)),
        ) {
            let start = hm(start_quarter / 4, (start_quarter % 4) * 15);
            let end_minutes = start_quarter * 15 + length_quarters * 15;
            prop_assume!(end_minutes < 24 * 60);
            let end = hm(end_minutes / 60, end_minutes % 60);
            prop_assume!(Duration::minutes(i64::from(slot_minutes)) <= end - start);
            let input = ScheduleInput::parse(weekday, start, end, slot_minutes).unwrap().with_buffer(buffer).unwrap();
            let schedule = Schedule::new(Uuid::new_v4(), Uuid::new_v4(), input);
            let from = day(2029, 1, 1) + Duration::days(first_day);
            let to = from + Duration::days(27);
            let mut off = request(from + Duration::days(off_offset), from + Duration::days(off_offset + off_days));
            if let Some((a, b)) = off_times {
                off.start_time = Some(hm(a / 4, (a % 4) * 15));
                off.end_time = Some(hm(b / 4, (b % 4) * 15));
            }
            let Ok(span) = off.span(tz) else { return Ok(()) };
            let all = generate(&schedule, from, to, tz, utc(2000, 1, 1, 0, 0));
            let kept = clear_of(all.clone(), &[span]);
            let gap = Duration::minutes(i64::from(buffer));
            for slot in &kept {
                prop_assert!(!span.overlaps(slot.starts_at, slot.ends_at), "{slot:?} inside {span:?}");
            }
            for pair in kept.windows(2) {
                prop_assert!(pair[0].ends_at + gap <= pair[1].starts_at);
            }
            for slot in all.iter().filter(|s| !kept.contains(s)) {
                prop_assert!(span.overlaps(slot.starts_at, slot.ends_at));
                let (first, last) = span.slot_dates(tz);
                prop_assert!(slot.date >= first && slot.date <= last, "cache dates miss {slot:?}");
            }
            // Independently of the instants, on the wall clock as the request was meant: whole
            // days keep exactly the slots dated outside them; part of a day (on days whose
            // offset does not change) keeps exactly the slots that do not meet it locally.
            let steady = |d: NaiveDate| {
                let offset = |t: NaiveTime| local_instant(tz, d.and_time(t)).map(|i| i.naive_utc() - d.and_time(t));
                offset(NaiveTime::MIN) == offset(hm(23, 59))
            };
            for slot in &all {
                let local = (slot.date.and_time(slot.start_time), slot.date.and_time(slot.end_time));
                let meets = match (off.start_time, off.end_time) {
                    (None, None) => Some(slot.date >= off.from && slot.date <= off.to),
                    (Some(a), Some(b)) if steady(off.from) && steady(off.to) && steady(slot.date) => {
                        Some(local.0 < off.to.and_time(b) && off.from.and_time(a) < local.1)
                    }
                    _ => None,
                };
                if let Some(meets) = meets {
                    prop_assert_eq!(kept.contains(slot), !meets, "{:?} against {:?}", slot, off);
                }
            }
        }
    }
}
