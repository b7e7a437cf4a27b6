//! Writing iCalendar (RFC 5545): content lines with their escaping and folding, and a
//! `VTIMEZONE` built from the IANA zone for the span a feed covers.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// A calendar being written: content lines joined by CRLF, each folded at 75 octets.
#[derive(Debug, Default)]
pub struct Ics {
    out: String,
}

impl Ics {
    /// A property whose value is written as given (dates, codes, already-escaped text).
    pub fn raw(&mut self, name: &str, value: &str) -> &mut Self {
        self.line(&format!("{name}:{value}"));
        self
    }

    /// A TEXT property: backslash, semicolon, comma and line breaks escaped (RFC 5545 3.3.11).
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.raw(name, &escape(value))
    }

    /// A DATE-TIME in UTC (`19980119T070000Z`).
    pub fn utc(&mut self, name: &str, at: DateTime<Utc>) -> &mut Self {
        self.raw(name, &at.format("%Y%m%dT%H%M%SZ").to_string())
    }

    /// A DATE-TIME as local time of `zone`, referring to its `VTIMEZONE` by `TZID`. Only for
    /// instants [`names_unambiguously`] accepts: a local time that occurs twice means its first
    /// occurrence (RFC 5545 3.3.5), so the second must be written in UTC.
    pub fn local(&mut self, name: &str, at: DateTime<Utc>, zone: Tz) -> &mut Self {
        let local = at.with_timezone(&zone).naive_local();
        self.raw(
            &format!("{name};TZID={}", zone.name()),
            &local.format("%Y%m%dT%H%M%S").to_string(),
        )
    }

    fn line(&mut self, line: &str) {
        // Fold at 75 octets, never inside a UTF-8 sequence; continuation lines start with a
        // space, which counts toward their 75.
        let mut width = 0;
        for c in line.chars() {
            let len = c.len_utf8();
            if width + len > 75 {
                self.out.push_str("\r\n ");
                width = 1;
            }
            self.out.push(c);
            width += len;
        }
        self.out.push_str("\r\n");
    }

    /// The `VTIMEZONE` of `zone` valid from `from` to `to`: its offset at `from` and every
    /// transition in between, each as an explicit observance (no recurrence rules, so no
    /// client has to extrapolate the zone's rules).
    pub fn timezone(&mut self, zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> &mut Self {
        let from = whole_minute(from);
        self.raw("BEGIN", "VTIMEZONE").raw("TZID", zone.name());
        let mut previous = zone.offset_from_utc_datetime(&from.naive_utc());
        self.observance(
            &previous,
            &previous,
            from.naive_utc() + offset_of(&previous),
        );
        for at in transitions(zone, from, to) {
            let next = zone.offset_from_utc_datetime(&at.naive_utc());
            // DTSTART of an observance is the local time by the offset in force before it.
            self.observance(&next, &previous, at.naive_utc() + offset_of(&previous));
            previous = next;
        }
        self.raw("END", "VTIMEZONE");
        self
    }

    fn observance(
        &mut self,
        offset: &<Tz as TimeZone>::Offset,
        before: &<Tz as TimeZone>::Offset,
        starts: NaiveDateTime,
    ) {
        let kind = if offset.dst_offset().is_zero() {
            "STANDARD"
        } else {
            "DAYLIGHT"
        };
        self.raw("BEGIN", kind)
            .raw("DTSTART", &starts.format("%Y%m%dT%H%M%S").to_string())
            .raw("TZOFFSETFROM", &utc_offset(offset_of(before)))
            .raw("TZOFFSETTO", &utc_offset(offset_of(offset)));
        if let Some(name) = offset.abbreviation() {
            self.text("TZNAME", name);
        }
        self.raw("END", kind);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn offset_of(offset: &<Tz as TimeZone>::Offset) -> Duration {
    Duration::seconds(offset.fix().local_minus_utc().into())
}

/// `+0100`, `-0330`, `+1030`.
fn utc_offset(d: Duration) -> String {
    let total = d.num_minutes();
    let sign = if total < 0 { '-' } else { '+' };
    format!("{sign}{:02}{:02}", total.abs() / 60, total.abs() % 60)
}

/// Whether `at`'s wall-clock time in `zone` names it alone: false for the second occurrence of
/// a local time repeated when the clocks go back.
pub fn names_unambiguously(at: DateTime<Utc>, zone: Tz) -> bool {
    let local = at.with_timezone(&zone).naive_local();
    match zone.from_local_datetime(&local) {
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc) == at,
        _ => true,
    }
}

/// `at` without its seconds: transitions fall on whole minutes, and the scan below finds them
/// at its start's second.
fn whole_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp().div_euclid(60) * 60, 0).unwrap_or(at)
}

/// The instants in `[from, to]` at which `zone`'s offset changes, found hour by hour and then
/// to the minute (every zone's transitions fall on whole minutes).
pub fn transitions(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset_at = |t: DateTime<Utc>| zone.offset_from_utc_datetime(&t.naive_utc()).fix();
    let mut found = Vec::new();
    let mut t = whole_minute(from);
    while t < to {
        let next = (t + Duration::hours(1)).min(to);
        if offset_at(t) != offset_at(next) {
            // The first minute in (t, next] with the new offset.
            let (mut lo, mut hi) = (0, (next - t).num_minutes());
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if offset_at(t + Duration::minutes(mid)) == offset_at(t) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            found.push(t + Duration::minutes(hi));
        }
        t = next;
    }
    found
}

/// RFC 5545 TEXT escaping.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_lines_folded_at_75_octets_on_character_boundaries() {
        let mut ics = Ics::default();
        ics.text("SUMMARY", "Dr. Ä, Łukasz; note\\x\nnext");
        let long = "é".repeat(100);
        ics.text("DESCRIPTION", &long);
        let out = ics.finish();
        assert!(
            out.starts_with("SUMMARY:Dr. Ä\\, Łukasz\\; note\\\\x\\nnext\r\n"),
            "{out}"
        );
        for line in out.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        // Unfolding gives the value back.
        let unfolded = out.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("DESCRIPTION:{long}\r\n")));
    }

    #[test]
    fn berlin_has_its_two_transitions_of_2026_at_the_right_instants() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            transitions(zone, from, to),
            vec![
                Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0).unwrap(),
            ]
        );
        let mut ics = Ics::default();
        ics.timezone(zone, from, to);
        let out = ics.finish();
        assert!(out.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT"), "{out}");
        assert!(out.contains("BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD"), "{out}");
    }

    #[test]
    fn a_start_with_seconds_still_finds_transitions_on_the_minute() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let from =
            Utc.with_ymd_and_hms(2026, 3, 1, 10, 17, 47).unwrap() + Duration::milliseconds(123);
        let to = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        assert_eq!(
            transitions(zone, from, to),
            vec![Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()]
        );
        let mut ics = Ics::default();
        ics.timezone(zone, from, to);
        let out = ics.finish();
        assert!(out.contains("DTSTART:20260329T020000\r\n"), "{out}");
        assert!(
            out.contains("DTSTART:20260301T111700\r\n"),
            "the first observance on the minute: {out}"
        );
    }

    #[test]
    fn the_repeated_hour() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        // Clocks go back at 01:00Z on 25 October 2026: 02:00-03:00 local happens twice.
        let first = Utc.with_ymd_and_hms(2026, 10, 25, 0, 45, 0).unwrap(); // 02:45 CEST
        let second = Utc.with_ymd_and_hms(2026, 10, 25, 1, 15, 0).unwrap(); // 02:15 CET
        assert!(names_unambiguously(first, zone));
        assert!(!names_unambiguously(second, zone));
        assert!(names_unambiguously(
            Utc.with_ymd_and_hms(2026, 10, 25, 2, 15, 0).unwrap(),
            zone
        ));
        // A spring-forward gap has no local time to be ambiguous about.
        assert!(names_unambiguously(
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(),
            zone
        ));
    }

    #[test]
    fn half_hour_zones_and_zones_without_transitions() {
        let lord_howe: Tz = "Australia/Lord_Howe".parse().unwrap();
        let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(transitions(lord_howe, from, to).len(), 2);
        let mut ics = Ics::default();
        ics.timezone(lord_howe, from, to);
        let out = ics.finish();
        assert!(
            out.contains("TZOFFSETTO:+1030") && out.contains("TZOFFSETTO:+1100"),
            "{out}"
        );
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert!(transitions(kolkata, from, to).is_empty());
        assert!(transitions(Tz::UTC, from, to).is_empty());
    }

    #[test]
    fn local_times_name_their_zone() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let mut ics = Ics::default();
        ics.local(
            "DTSTART",
            Utc.with_ymd_and_hms(2026, 7, 1, 13, 0, 0).unwrap(),
            zone,
        );
        assert_eq!(
            ics.finish(),
            "DTSTART;TZID=America/New_York:20260701T090000\r\n"
        );
    }
}
