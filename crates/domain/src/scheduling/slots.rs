//! Slot generation: a weekly schedule becomes concrete time slots over a date range, in the
//! clinic's time zone. Pure: the same inputs give the same slots, and the database's unique
//! key `(schedule_id, date, start_time)` makes inserting them twice a no-op.
//!
//! A schedule's buffer leaves that many minutes free after each slot, on the wall clock and in
//! real time (a slot right after a DST gap never starts within the buffer of the one before).
//!
//! Daylight-saving days: a slot whose local start does not exist (spring forward) is skipped;
//! a local start that exists twice (fall back) takes its first occurrence; `ends_at` is always
//! `starts_at` plus the slot length, and a slot that would start before the previous one really
//! ends (right after a gap) is skipped. Absolute instants are what overlap checks and clients
//! rely on; the local `start_time`/`end_time` are the schedule's nominal labels.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use uuid::Uuid;

use super::Schedule;

/// A slot to be inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSpec {
    pub schedule_id: Uuid,
    pub doctor_id: Uuid,
    pub date: NaiveDate,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// The first instant of a local date-time; `None` when it does not exist (DST gap).
pub fn local_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// The slots of `schedule` on every matching weekday in `from..=to` that start after `now`.
pub fn generate(
    schedule: &Schedule,
    from: NaiveDate,
    to: NaiveDate,
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<SlotSpec> {
    let mut slots = Vec::new();
    if !schedule.is_active || from > to {
        return slots;
    }
    let step = Duration::minutes(i64::from(schedule.slot_minutes));
    let buffer = Duration::minutes(i64::from(schedule.buffer_minutes));
    let mut date = from;
    while date <= to {
        if date.weekday() == schedule.day_of_week.weekday() {
            let mut start = date.and_time(schedule.start_time);
            // Across a spring-forward gap a slot really ends later than its local end label,
            // so the next local slot could start before it ends: such a slot is skipped.
            let mut previous_end: Option<DateTime<Utc>> = None;
            let window_end = date.and_time(schedule.end_time);
            while start + step <= window_end {
                let end = start + step;
                if let Some(starts_at) = local_instant(tz, start) {
                    // Real length, whatever the wall clock does in between.
                    let ends_at = starts_at + step;
                    let overlaps_previous =
                        previous_end.is_some_and(|end| starts_at < end + buffer);
                    if starts_at > now && !overlaps_previous {
                        previous_end = Some(ends_at);
                        slots.push(SlotSpec {
                            schedule_id: schedule.id,
                            doctor_id: schedule.doctor_id,
                            date,
                            start_time: start.time(),
                            end_time: end.time(),
                            starts_at,
                            ends_at,
                        });
                    }
                }
                start = end + buffer;
            }
        }
        date = match date.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduling::{DayOfWeek, ScheduleInput};
    use proptest::prelude::*;

    fn schedule(day: DayOfWeek, start: (u32, u32), end: (u32, u32), minutes: u32) -> Schedule {
        let input = ScheduleInput::parse(
            day,
            NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap(),
            NaiveTime::from_hms_opt(end.0, end.1, 0).unwrap(),
            minutes,
        )
        .unwrap();
        Schedule::new(Uuid::new_v4(), Uuid::new_v4(), input)
    }

    fn past() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_morning_of_thirty_minute_slots() {
        let s = schedule(DayOfWeek::Mon, (9, 0), (12, 0), 30);
        let monday = NaiveDate::from_ymd_opt(2030, 1, 7).unwrap();
        let slots = generate(&s, monday, monday + Duration::days(6), Tz::UTC, past());
        assert_eq!(slots.len(), 6);
        assert_eq!(
            slots[0].start_time,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap()
        );
        assert_eq!(
            slots[5].end_time,
            NaiveTime::from_hms_opt(12, 0, 0).unwrap()
        );
        assert!(slots.iter().all(|x| x.date == monday));
    }

    #[test]
    fn a_window_that_does_not_divide_evenly_drops_the_remainder() {
        let s = schedule(DayOfWeek::Tue, (9, 0), (10, 10), 20);
        let tuesday = NaiveDate::from_ymd_opt(2030, 1, 8).unwrap();
        assert_eq!(generate(&s, tuesday, tuesday, Tz::UTC, past()).len(), 3);
    }

    #[test]
    fn slots_already_started_are_not_generated() {
        let s = schedule(DayOfWeek::Mon, (9, 0), (12, 0), 60);
        let monday = NaiveDate::from_ymd_opt(2030, 1, 7).unwrap();
        let now = Utc.with_ymd_and_hms(2030, 1, 7, 10, 30, 0).unwrap();
        let slots = generate(&s, monday, monday, Tz::UTC, now);
        assert_eq!(slots.len(), 1, "only 11:00-12:00 is still ahead");
    }

    #[test]
    fn spring_forward_skips_the_missing_hour_and_fall_back_keeps_real_durations() {
        // Europe/London: 2030-03-31 01:00 -> 02:00 (Sunday); 2030-10-27 02:00 -> 01:00.
        let tz: Tz = "Europe/London".parse().unwrap();
        let s = schedule(DayOfWeek::Sun, (0, 0), (3, 0), 30);
        let spring = NaiveDate::from_ymd_opt(2030, 3, 31).unwrap();
        let slots = generate(&s, spring, spring, tz, past());
        let starts: Vec<String> = slots
            .iter()
            .map(|x| x.start_time.format("%H:%M").to_string())
            .collect();
        assert_eq!(
            starts,
            ["00:00", "00:30", "02:00", "02:30"],
            "01:00-02:00 does not exist that night"
        );
        assert!(slots
            .iter()
            .all(|x| x.ends_at - x.starts_at == Duration::minutes(30)));

        let autumn = NaiveDate::from_ymd_opt(2030, 10, 27).unwrap();
        let slots = generate(&s, autumn, autumn, tz, past());
        assert_eq!(slots.len(), 6);
        for pair in slots.windows(2) {
            assert!(
                pair[0].ends_at <= pair[1].starts_at,
                "instants never overlap"
            );
        }
    }

    #[test]
    fn a_slot_off_the_current_grid_is_not_one_the_schedule_generates() {
        let mut s = schedule(DayOfWeek::Mon, (9, 15), (11, 0), 30);
        let monday = NaiveDate::from_ymd_opt(2030, 1, 7).unwrap();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert!(s.generates(monday, t(9, 15), t(9, 45)));
        assert!(s.generates(monday, t(10, 15), t(10, 45)));
        assert!(
            !s.generates(monday, t(9, 0), t(9, 30)),
            "the old 09:00 grid"
        );
        assert!(!s.generates(monday, t(9, 30), t(10, 0)), "between steps");
        assert!(!s.generates(monday, t(10, 45), t(11, 15)), "past the end");
        assert!(!s.generates(monday, t(9, 15), t(9, 35)), "another length");
        assert!(
            !s.generates(monday.succ_opt().unwrap(), t(9, 15), t(9, 45)),
            "another day"
        );
        s.is_active = false;
        assert!(!s.generates(monday, t(9, 15), t(9, 45)));
    }

    #[test]
    fn a_buffer_leaves_its_minutes_free_after_each_slot() {
        let input = ScheduleInput::parse(
            DayOfWeek::Mon,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(11, 0, 0).unwrap(),
            30,
        )
        .unwrap()
        .with_buffer(10)
        .unwrap();
        let s = Schedule::new(Uuid::new_v4(), Uuid::new_v4(), input);
        let monday = NaiveDate::from_ymd_opt(2030, 1, 7).unwrap();
        let starts: Vec<String> = generate(&s, monday, monday, Tz::UTC, past())
            .iter()
            .map(|x| x.start_time.format("%H:%M").to_string())
            .collect();
        assert_eq!(
            starts,
            ["09:00", "09:40", "10:20"],
            "10:20-10:50; 11:00 would end past the window"
        );
        assert!(input.with_buffer(241).is_err());
    }

    fn day() -> impl Strategy<Value = DayOfWeek> {
        prop::sample::select(DayOfWeek::ALL.to_vec())
    }

    proptest! {
        /// Any valid schedule, any buffer, any zone, any date range (DST days included): slots
        /// lie inside the window, on the right weekday, never overlap one another or a buffer,
        /// have the schedule's length locally, and regenerating gives exactly the same slots.
        #[test]
        fn generated_slots_are_well_formed(
            day in day(),
            start_quarter in 0u32..80,
            length_quarters in 1u32..16,
            slot_minutes in prop::sample::select(vec![5u32, 10, 15, 20, 30, 45, 60]),
            zone in prop::sample::select(vec!["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]),
            start_day in 0i64..730,
            span in 0i64..60,
            buffer in prop::sample::select(vec![0u32, 5, 10, 15, 45]),
        ) {
            let start = NaiveTime::from_hms_opt(start_quarter / 4, (start_quarter % 4) * 15, 0).unwrap();
            let end_minutes = start_quarter * 15 + length_quarters * 15 * 4;
            prop_assume!(end_minutes < 24 * 60);
            let end = NaiveTime::from_hms_opt(end_minutes / 60, end_minutes % 60, 0).unwrap();
            prop_assume!(Duration::minutes(i64::from(slot_minutes)) <= end - start);
            let input = ScheduleInput::parse(day, start, end, slot_minutes).unwrap().with_buffer(buffer).unwrap();
            let s = Schedule::new(Uuid::new_v4(), Uuid::new_v4(), input);
            let tz: Tz = zone.parse().unwrap();
            let gap = Duration::minutes(i64::from(buffer));
            let from = NaiveDate::from_ymd_opt(2029, 1, 1).unwrap() + Duration::days(start_day);
            let to = from + Duration::days(span);
            let slots = generate(&s, from, to, tz, past());
            for slot in &slots {
                prop_assert!(slot.start_time >= start && slot.end_time <= end);
                prop_assert_eq!(slot.end_time - slot.start_time, Duration::minutes(i64::from(slot_minutes)));
                prop_assert_eq!(slot.date.weekday(), day.weekday());
                prop_assert!(slot.date >= from && slot.date <= to);
                prop_assert!(slot.ends_at > slot.starts_at);
                prop_assert!(s.generates(slot.date, slot.start_time, slot.end_time), "{slot:?}");
            }
            for pair in slots.windows(2) {
                // Never inside the previous slot or its buffer, in real time or on the wall clock.
                prop_assert!(pair[0].ends_at + gap <= pair[1].starts_at, "overlap: {:?} {:?}", pair[0], pair[1]);
                if pair[0].date == pair[1].date {
                    prop_assert!(pair[0].end_time + gap <= pair[1].start_time);
                }
            }
            prop_assert_eq!(generate(&s, from, to, tz, past()), slots);
        }
    }
}
