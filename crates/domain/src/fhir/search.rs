//! FHIR search parameters, parsed strictly: an unknown or repeated parameter, a malformed
//! value or an unsupported prefix is refused (`Validation` naming the parameter, answered 400
//! with the parameter in `OperationOutcome.issue.expression`) rather than ignored, because an
//! ignored filter widens a search silently (a typo in `patient=` would list everyone's).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::appointments::AppointmentStatus;
use crate::error::DomainError;
use crate::paging::PageRequest;

use super::mapping::{appointment_statuses_for, SlotStatus};

/// Results per page when `_count` is not given, and the most a page holds (the API's own).
pub const DEFAULT_COUNT: u32 = 20;
pub const MAX_COUNT: u32 = PageRequest::MAX_PER_PAGE;
/// The deepest `_page` (the API's own bound on numbered pages).
pub const MAX_PAGE: u32 = PageRequest::MAX_PAGE;

/// A half-open interval of instants `[from, until)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Range {
    /// Whether no instant can match (`ge2026-12-02&le2026-12-01`): the search is empty.
    pub fn is_empty(&self) -> bool {
        matches!((self.from, self.until), (Some(f), Some(u)) if f >= u)
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| at >= f) && self.until.is_none_or(|u| at < u)
    }

    /// Narrows the range by one `date`/`start` value: `eq` (or no prefix) keeps the value's
    /// own span (a day, a month, a year, or a second), `ge`/`gt`/`le`/`lt` bound it from one
    /// side. Values without a zone are the clinic's local time, as the API's dates are.
    fn narrow(&mut self, field: &str, value: &str, zone: Tz) -> Result<(), DomainError> {
        let (prefix, rest) = match value.get(..2) {
            Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &value[2..]),
            Some("ne" | "sa" | "eb" | "ap") => {
                return Err(DomainError::validation(
                    field,
                    "supported prefixes are eq, ge, gt, le and lt",
                ))
            }
            _ => ("eq", value),
        };
        let (lo, hi) = span_of(field, rest, zone)?;
        let raise = |from: &mut Option<DateTime<Utc>>, at: DateTime<Utc>| {
            *from = Some(from.map_or(at, |f| f.max(at)));
        };
        let lower = |until: &mut Option<DateTime<Utc>>, at: DateTime<Utc>| {
            *until = Some(until.map_or(at, |u| u.min(at)));
        };
        match prefix {
            "ge" => raise(&mut self.from, lo),
            "gt" => raise(&mut self.from, hi),
            "le" => lower(&mut self.until, hi),
            "lt" => lower(&mut self.until, lo),
            _ => {
                raise(&mut self.from, lo);
                lower(&mut self.until, hi);
            }
        }
        Ok(())
    }
}

/// The span `[lo, hi)` a date or dateTime value covers: `2026`, `2026-12`, `2026-12-01`
/// (clinic-local days), or `2026-12-01T09:00:00Z` / `...+01:00` (that second).
fn span_of(
    field: &str,
    value: &str,
    zone: Tz,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let bad = || {
        DomainError::validation(
            field,
            "a date is YYYY, YYYY-MM, YYYY-MM-DD or an RFC 3339 date-time with a zone, after an optional eq, ge, gt, le or lt",
        )
    };
    let day = |d: NaiveDate| -> Result<NaiveDate, DomainError> {
        crate::dates::check_date(field, d)?;
        Ok(d)
    };
    if value.contains('T') {
        let at = DateTime::parse_from_rfc3339(value)
            .map_err(|_| bad())?
            .with_timezone(&Utc);
        crate::dates::check_instant(field, at)?;
        return Ok((at, at + Duration::seconds(1)));
    }
    let parts: Vec<&str> = value.split('-').collect();
    let number = |s: &str, len: usize| -> Result<u32, DomainError> {
        if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (first, last) = match parts.as_slice() {
        [y] => {
            let y = i32::try_from(number(y, 4)?).map_err(|_| bad())?;
            let first = NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(bad)?;
            (
                day(first)?,
                NaiveDate::from_ymd_opt(y, 12, 31).ok_or_else(bad)?,
            )
        }
        [y, m] => {
            let y = i32::try_from(number(y, 4)?).map_err(|_| bad())?;
            let first = NaiveDate::from_ymd_opt(y, number(m, 2)?, 1).ok_or_else(bad)?;
            let next = if first.month() == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(y, first.month() + 1, 1)
            }
            .ok_or_else(bad)?;
            (day(first)?, next - Duration::days(1))
        }
        [y, m, d] => {
            let y = i32::try_from(number(y, 4)?).map_err(|_| bad())?;
            let date = NaiveDate::from_ymd_opt(y, number(m, 2)?, number(d, 2)?).ok_or_else(bad)?;
            (day(date)?, date)
        }
        _ => return Err(bad()),
    };
    Ok((
        local_start(first, zone),
        local_start(last + Duration::days(1), zone),
    ))
}

/// When a local day starts in `zone` (the first instant of it, also on a day whose midnight
/// falls in a daylight-saving gap).
pub fn local_start(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight: NaiveDateTime = date.and_time(chrono::NaiveTime::MIN);
    (0..=3)
        .find_map(|h| {
            zone.from_local_datetime(&(midnight + Duration::hours(h)))
                .earliest()
        })
        .map_or_else(
            || Utc.from_utc_datetime(&midnight),
            |t| t.with_timezone(&Utc),
        )
}

/// A reference parameter's id: `<Type>/<uuid>` for one of `types`, or a bare uuid when the
/// parameter names one type only (`practitioner=<uuid>`). Returns the type and the id.
fn reference(
    field: &str,
    value: &str,
    types: &[&'static str],
) -> Result<(&'static str, Uuid), DomainError> {
    let expected = types
        .iter()
        .map(|t| format!("{t}/<id>"))
        .collect::<Vec<_>>()
        .join(" or ");
    let bad = || DomainError::validation(field, format!("must be {expected}"));
    let (kind, id) = match value.split_once('/') {
        Some((kind, id)) => (
            types.iter().copied().find(|t| *t == kind).ok_or_else(bad)?,
            id,
        ),
        None if types.len() == 1 => (types[0], value),
        None => return Err(bad()),
    };
    // An id of another form can exist nowhere here: it is a bad value, not a miss.
    Uuid::parse_str(id)
        .ok()
        .filter(|_| id.len() == 36)
        .map(|id| (kind, id))
        .ok_or_else(bad)
}

fn count(value: &str) -> Result<u32, DomainError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_COUNT).contains(n))
        .ok_or_else(|| {
            DomainError::validation(
                "_count",
                format!("must be a whole number from 1 to {MAX_COUNT}"),
            )
        })
}

fn page(value: &str) -> Result<u32, DomainError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            DomainError::validation(
                "_page",
                format!("must be a whole number from 1 to {MAX_PAGE}"),
            )
        })
}

/// Checks every parameter's name and that only `date`-like ones repeat; returns the pairs.
fn checked<'a>(
    params: &'a [(String, String)],
    known: &[&str],
    repeatable: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, DomainError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (name, value) in params {
        let name = name.as_str();
        if crate::text::check_text(value, name, crate::text::Lines::Single).is_err()
            || value.is_empty()
        {
            return Err(DomainError::validation(
                name,
                "must be a non-empty value without control characters",
            ));
        }
        if name == "_format" {
            // Only JSON is served; asking for it explicitly is fine.
            if !matches!(
                value.as_str(),
                "json" | "application/json" | "application/fhir+json"
            ) {
                return Err(DomainError::validation(name, "only json is served"));
            }
            continue;
        }
        if !known.contains(&name) {
            return Err(DomainError::validation(
                name,
                format!(
                    "unknown or unsupported search parameter; supported: {}",
                    known.join(", ")
                ),
            ));
        }
        let times = seen.iter().filter(|n| **n == name).count();
        if times >= 1 && !repeatable.contains(&name) || times >= 2 {
            return Err(DomainError::validation(name, "given too many times"));
        }
        seen.push(name);
        out.push((name, value.as_str()));
    }
    Ok(out)
}

/// The statuses a `status=a,b` list names, through `each` (which refuses unknown codes);
/// `None` when the parameter is absent (any status).
fn status_list<T>(
    value: &str,
    each: impl Fn(&str) -> Result<Vec<T>, DomainError>,
) -> Result<Vec<T>, DomainError> {
    let mut out = Vec::new();
    for code in value.split(',') {
        out.extend(each(code)?);
    }
    Ok(out)
}

/// `GET /fhir/R4/Appointment?...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentSearch {
    pub patient: Option<Uuid>,
    pub practitioner: Option<Uuid>,
    /// `None`: any status; `Some(empty)`: only FHIR codes HealthSync never uses (no match).
    pub statuses: Option<Vec<AppointmentStatus>>,
    pub date: Range,
    pub count: u32,
    /// `_cursor`: where the page starts (the `next` link's; the API's list cursor).
    pub cursor: Option<String>,
}

impl AppointmentSearch {
    pub const PARAMS: &'static [&'static str] = &[
        "patient",
        "practitioner",
        "actor",
        "date",
        "status",
        "_count",
        "_cursor",
    ];

    pub fn parse(params: &[(String, String)], zone: Tz) -> Result<Self, DomainError> {
        let mut search = Self {
            patient: None,
            practitioner: None,
            statuses: None,
            date: Range::default(),
            count: DEFAULT_COUNT,
            cursor: None,
        };
        // `actor=Patient/x` and `patient=x` together must agree, as two filters would.
        let set = |slot: &mut Option<Uuid>, field: &str, id: Uuid| {
            if slot.is_some_and(|s| s != id) {
                return Err(DomainError::validation(field, "names another participant than a parameter before it; one appointment has one doctor and one patient"));
            }
            *slot = Some(id);
            Ok(())
        };
        for (name, value) in checked(params, Self::PARAMS, &["date"])? {
            match name {
                "patient" => {
                    let (_, id) = reference(name, value, &["Patient"])?;
                    set(&mut search.patient, name, id)?;
                }
                "practitioner" => {
                    let (_, id) = reference(name, value, &["Practitioner"])?;
                    set(&mut search.practitioner, name, id)?;
                }
                "actor" => match reference(name, value, &["Practitioner", "Patient"])? {
                    ("Patient", id) => set(&mut search.patient, name, id)?,
                    (_, id) => set(&mut search.practitioner, name, id)?,
                },
                "date" => search.date.narrow(name, value, zone)?,
                "status" => {
                    search.statuses = Some(status_list(value, |code| {
                        appointment_statuses_for(code).ok_or_else(|| {
                            DomainError::validation(
                                name,
                                format!("{code} is not an R4 appointment status"),
                            )
                        })
                    })?);
                }
                "_count" => search.count = count(value)?,
                _ => search.cursor = Some(value.to_owned()),
            }
        }
        Ok(search)
    }

    /// The API's page request: `_count` per page, from `_cursor` when given.
    pub fn page(&self) -> Result<PageRequest, DomainError> {
        PageRequest::parse(None, Some(self.count), self.cursor.as_deref()).map_err(|e| match e {
            DomainError::Validation { message, .. } => DomainError::validation(
                "_cursor",
                if message.contains("cursor") {
                    "not a cursor of this search: follow the bundle's next link".to_owned()
                } else {
                    message
                },
            ),
            other => other,
        })
    }
}

/// `GET /fhir/R4/Slot?...`: one doctor's slots (by `schedule` or `schedule.actor`) over at
/// most 31 local days of `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSearch {
    pub schedule: Option<Uuid>,
    pub practitioner: Option<Uuid>,
    pub statuses: Option<Vec<SlotStatus>>,
    pub start: Range,
    pub count: u32,
    pub page: u32,
}

impl SlotSearch {
    pub const PARAMS: &'static [&'static str] = &[
        "schedule",
        "schedule.actor",
        "start",
        "status",
        "_count",
        "_page",
    ];

    pub fn parse(params: &[(String, String)], zone: Tz) -> Result<Self, DomainError> {
        let mut search = Self {
            schedule: None,
            practitioner: None,
            statuses: None,
            start: Range::default(),
            count: DEFAULT_COUNT,
            page: 1,
        };
        for (name, value) in checked(params, Self::PARAMS, &["start"])? {
            match name {
                "schedule" => search.schedule = Some(reference(name, value, &["Schedule"])?.1),
                "schedule.actor" => {
                    search.practitioner = Some(reference(name, value, &["Practitioner"])?.1);
                }
                "start" => search.start.narrow(name, value, zone)?,
                "status" => {
                    search.statuses = Some(status_list(value, |code| {
                        SlotStatus::parse(code).map(|s| vec![s]).ok_or_else(|| {
                            DomainError::validation(
                                name,
                                format!("{code} is not an R4 slot status"),
                            )
                        })
                    })?);
                }
                "_count" => search.count = count(value)?,
                _ => search.page = page(value)?,
            }
        }
        if search.schedule.is_none() && search.practitioner.is_none() {
            return Err(DomainError::validation(
                "schedule",
                "name the schedule (schedule=Schedule/<id>) or the doctor (schedule.actor=Practitioner/<id>)",
            ));
        }
        Ok(search)
    }

    /// The local days to read: the `start` range's, from today when it has no lower bound and
    /// for 31 days when it has no upper one. `None` when the range is empty.
    pub fn days(&self, zone: Tz, now: DateTime<Utc>) -> Option<(NaiveDate, NaiveDate)> {
        if self.start.is_empty() {
            return None;
        }
        let local = |at: DateTime<Utc>| at.with_timezone(&zone).date_naive();
        let span = crate::scheduling::MAX_SLOT_DAYS - 1;
        let (from, to) = match (self.start.from, self.start.until) {
            (Some(f), Some(u)) => (local(f), local(u - Duration::microseconds(1))),
            (Some(f), None) => (local(f), local(f) + Duration::days(span)),
            (None, Some(u)) => {
                let to = local(u - Duration::microseconds(1));
                (local(now).min(to), to)
            }
            (None, None) => (local(now), local(now) + Duration::days(span)),
        };
        Some((from, to))
    }
}

/// `GET /fhir/R4/Schedule?...`: one doctor's weekly rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSearch {
    pub actor: Uuid,
    pub active: Option<bool>,
    pub count: u32,
    pub page: u32,
}

impl ScheduleSearch {
    pub const PARAMS: &'static [&'static str] = &["actor", "active", "_count", "_page"];

    pub fn parse(params: &[(String, String)]) -> Result<Self, DomainError> {
        let mut actor = None;
        let mut active = None;
        let mut n = DEFAULT_COUNT;
        let mut p = 1;
        for (name, value) in checked(params, Self::PARAMS, &[])? {
            match name {
                "actor" => actor = Some(reference(name, value, &["Practitioner"])?.1),
                "active" => {
                    active = Some(match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(DomainError::validation(name, "must be true or false")),
                    });
                }
                "_count" => n = count(value)?,
                _ => p = page(value)?,
            }
        }
        let actor = actor.ok_or_else(|| {
            DomainError::validation("actor", "name the doctor: actor=Practitioner/<id>")
        })?;
        Ok(Self {
            actor,
            active,
            count: n,
            page: p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn field_of(e: DomainError) -> String {
        match e {
            DomainError::Validation { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_take_prefixes_precisions_and_the_clinic_zone() {
        let london: Tz = "Europe/London".parse().unwrap();
        let s = AppointmentSearch::parse(
            &q(&[("date", "ge2026-07-01"), ("date", "lt2026-07-03")]),
            london,
        )
        .unwrap();
        // British summer time: local midnight is 23:00 UTC the day before.
        assert_eq!(s.date.from, Some(utc("2026-06-30T23:00:00Z")));
        assert_eq!(s.date.until, Some(utc("2026-07-02T23:00:00Z")));
        let s = AppointmentSearch::parse(&q(&[("date", "2026-12")]), Tz::UTC).unwrap();
        assert_eq!(
            (s.date.from, s.date.until),
            (
                Some(utc("2026-12-01T00:00:00Z")),
                Some(utc("2027-01-01T00:00:00Z"))
            )
        );
        let s = AppointmentSearch::parse(&q(&[("date", "gt2026")]), Tz::UTC).unwrap();
        assert_eq!(s.date.from, Some(utc("2027-01-01T00:00:00Z")));
        let s = AppointmentSearch::parse(&q(&[("date", "le2026-12-01T10:00:00+01:00")]), Tz::UTC)
            .unwrap();
        assert_eq!(s.date.until, Some(utc("2026-12-01T09:00:01Z")));
        let s = AppointmentSearch::parse(
            &q(&[("date", "ge2026-12-02"), ("date", "le2026-12-01")]),
            Tz::UTC,
        )
        .unwrap();
        assert!(s.date.is_empty());
        for bad in [
            "ne2026-12-01",
            "2026-13-01",
            "2026-12-1",
            "12/01/2026",
            "2026-12-01T10:00",
            "1800-01-01",
            "ge",
        ] {
            let e = AppointmentSearch::parse(&q(&[("date", bad)]), Tz::UTC).unwrap_err();
            assert_eq!(field_of(e), "date", "{bad}");
        }
        let e = AppointmentSearch::parse(
            &q(&[("date", "ge2026"), ("date", "le2027"), ("date", "2026")]),
            Tz::UTC,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "date");
    }

    #[test]
    fn references_and_participants() {
        let id = Uuid::new_v4();
        let s = AppointmentSearch::parse(&q(&[("actor", &format!("Practitioner/{id}"))]), Tz::UTC)
            .unwrap();
        assert_eq!((s.practitioner, s.patient), (Some(id), None));
        let s = AppointmentSearch::parse(
            &q(&[
                ("actor", &format!("Patient/{id}")),
                ("patient", &id.to_string()),
            ]),
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(s.patient, Some(id));
        let other = Uuid::new_v4();
        let e = AppointmentSearch::parse(
            &q(&[
                ("patient", &id.to_string()),
                ("actor", &format!("Patient/{other}")),
            ]),
            Tz::UTC,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "actor");
        for (name, value) in [
            ("actor", id.to_string()),
            ("practitioner", format!("Patient/{id}")),
            ("patient", "Patient/42".to_owned()),
            ("patient", format!("Patient/{}", id.simple())),
        ] {
            let e = AppointmentSearch::parse(&q(&[(name, &value)]), Tz::UTC).unwrap_err();
            assert_eq!(field_of(e), name, "{name}={value}");
        }
    }

    #[test]
    fn statuses_map_to_ours() {
        let s = AppointmentSearch::parse(&q(&[("status", "fulfilled,noshow")]), Tz::UTC).unwrap();
        assert_eq!(
            s.statuses,
            Some(vec![
                AppointmentStatus::InProgress,
                AppointmentStatus::Completed,
                AppointmentStatus::NoShow
            ])
        );
        let s = AppointmentSearch::parse(&q(&[("status", "proposed")]), Tz::UTC).unwrap();
        assert_eq!(
            s.statuses,
            Some(vec![]),
            "a valid R4 code we never use matches nothing"
        );
        let e = AppointmentSearch::parse(&q(&[("status", "booked,late")]), Tz::UTC).unwrap_err();
        assert_eq!(field_of(e), "status");
        let s = SlotSearch::parse(
            &q(&[
                ("schedule.actor", &Uuid::new_v4().to_string()),
                ("status", "free,busy"),
            ]),
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(s.statuses, Some(vec![SlotStatus::Free, SlotStatus::Busy]));
        let e = SlotSearch::parse(
            &q(&[
                ("schedule", &format!("Schedule/{}", Uuid::new_v4())),
                ("status", "booked"),
            ]),
            Tz::UTC,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "status");
    }

    #[test]
    fn unknown_repeated_and_out_of_range_parameters_are_named() {
        for (pairs, field) in [
            (vec![("patinet", "x")], "patinet"),
            (vec![("status:not", "booked")], "status:not"),
            (vec![("status", "booked"), ("status", "arrived")], "status"),
            (vec![("_count", "0")], "_count"),
            (vec![("_count", "101")], "_count"),
            (vec![("_count", "-1x")], "_count"),
            (vec![("_cursor", "bad\u{0}value")], "_cursor"),
            (vec![("_format", "xml")], "_format"),
            (vec![("patient", "")], "patient"),
        ] {
            let e = AppointmentSearch::parse(&q(&pairs), Tz::UTC).unwrap_err();
            assert_eq!(field_of(e), field, "{pairs:?}");
        }
        let s = AppointmentSearch::parse(&q(&[("_count", "100"), ("_format", "json")]), Tz::UTC)
            .unwrap();
        assert_eq!(s.count, 100);
        let e = AppointmentSearch::parse(&q(&[("_cursor", "garbage")]), Tz::UTC)
            .unwrap()
            .page()
            .unwrap_err();
        assert_eq!(field_of(e), "_cursor");
        assert_eq!(
            field_of(ScheduleSearch::parse(&q(&[])).unwrap_err()),
            "actor"
        );
        assert_eq!(
            field_of(ScheduleSearch::parse(&q(&[("active", "yes")])).unwrap_err()),
            "active"
        );
        assert_eq!(
            field_of(SlotSearch::parse(&q(&[]), Tz::UTC).unwrap_err()),
            "schedule"
        );
        let e = SlotSearch::parse(
            &q(&[
                ("schedule.actor", &Uuid::new_v4().to_string()),
                ("_page", "501"),
            ]),
            Tz::UTC,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "_page");
    }

    #[test]
    fn slot_days_default_to_a_month_from_today() {
        let now = utc("2026-12-01T10:00:00Z");
        let actor = Uuid::new_v4().to_string();
        let s = SlotSearch::parse(&q(&[("schedule.actor", &actor)]), Tz::UTC).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            s.days(Tz::UTC, now),
            Some((d("2026-12-01"), d("2026-12-31")))
        );
        let s = SlotSearch::parse(
            &q(&[
                ("schedule.actor", &actor),
                ("start", "ge2027-01-10"),
                ("start", "lt2027-01-12"),
            ]),
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(
            s.days(Tz::UTC, now),
            Some((d("2027-01-10"), d("2027-01-11")))
        );
        let s = SlotSearch::parse(
            &q(&[("schedule.actor", &actor), ("start", "2027-01-10")]),
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(
            s.days(Tz::UTC, now),
            Some((d("2027-01-10"), d("2027-01-10")))
        );
        let s = SlotSearch::parse(
            &q(&[
                ("schedule.actor", &actor),
                ("start", "gt2027-01-10"),
                ("start", "lt2027-01-10"),
            ]),
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(s.days(Tz::UTC, now), None);
    }
}
