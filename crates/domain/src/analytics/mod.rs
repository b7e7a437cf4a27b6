//! The clinic's dashboard (issue 13): what is counted, over which days, for whom.
//!
//! A dashboard covers a [`Period`] of whole local days in the clinic's time zone: a preset
//! (`today`, `7d` and `30d` ending today, `mtd` from the 1st, `ytd` from 1 January) or a custom
//! `from`/`to` of at most 366 days. Every figure is compared with the previous period of the
//! same length (the days just before).
//!
//! Definitions (the README repeats them for clinic managers):
//! - an appointment belongs to the day, in the clinic's zone, on which it starts; every
//!   appointment counts in `byStatus` and `byDay`; `byDepartment` counts an appointment once
//!   in each department its doctor belongs to (a doctor in none counts under no department);
//! - cancellation rate: cancelled / all appointments of the period (0 when none);
//! - slot utilisation: slots of the period that are taken / slots generated for the period;
//! - revenue: the bills of the period's appointments by status: paid (PAID), outstanding
//!   (PENDING and OVERDUE), overdue (OVERDUE), refunded (REFUNDED); exact decimals;
//! - new patients: patient accounts created during the period;
//! - median booking lead time: each appointment's lead is (start - booking time) in whole
//!   hours, rounded down; the figure is the lower median of the period's leads (the least
//!   lead that at least half of them do not exceed; none without appointments). Whole hours
//!   because a roll-up by the hour stays small while counting exactly (see
//!   `adapters-postgres`'s analytics module).
//!
//! Admins see the clinic; a doctor sees the same dashboard restricted to itself; patients and
//! the desk are refused (403).

pub mod service;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::appointments::AppointmentStatus;
use crate::error::DomainError;
use std::str::FromStr;

use bigdecimal::BigDecimal;

/// The longest custom period, in days.
pub const MAX_DAYS: i64 = 366;

/// Whole local days, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The period a query names, on the clinic's `today`: a preset, or `from` and `to`.
    pub fn resolve(
        range: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<Self, DomainError> {
        let period = match (range, from, to) {
            (Some(preset), None, None) => match preset {
                "today" => Self {
                    from: today,
                    to: today,
                },
                "7d" => Self {
                    from: today - Duration::days(6),
                    to: today,
                },
                "30d" => Self {
                    from: today - Duration::days(29),
                    to: today,
                },
                "mtd" => Self {
                    from: today.with_day(1).unwrap_or(today),
                    to: today,
                },
                "ytd" => Self {
                    from: NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
                    to: today,
                },
                _ => {
                    return Err(DomainError::validation(
                        "range",
                        "must be one of today, 7d, 30d, mtd, ytd (or give from and to)",
                    ))
                }
            },
            (None, Some(from), Some(to)) => {
                crate::dates::check_date("from", from)?;
                crate::dates::check_date("to", to)?;
                if to < from {
                    return Err(DomainError::validation("to", "must not be before from"));
                }
                Self { from, to }
            }
            (None, None, None) => Self {
                from: today - Duration::days(29),
                to: today,
            },
            (Some(_), _, _) => {
                return Err(DomainError::validation(
                    "range",
                    "give either range or from and to, not both",
                ))
            }
            (None, None, Some(_)) => {
                return Err(DomainError::validation("from", "required with to"))
            }
            (None, Some(_), None) => {
                return Err(DomainError::validation("to", "required with from"))
            }
        };
        if period.days() > MAX_DAYS {
            return Err(DomainError::validation(
                "to",
                format!("a period is at most {MAX_DAYS} days"),
            ));
        }
        Ok(period)
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Self {
        let days = self.days();
        Self {
            from: self.from - Duration::days(days),
            to: self.from - Duration::days(1),
        }
    }

    /// Every day of the period, in order.
    pub fn each_day(&self) -> impl Iterator<Item = NaiveDate> {
        let from = self.from;
        (0..self.days()).map(move |i| from + Duration::days(i))
    }

    /// The instants the period covers in `zone`: from the start of `from` to the start of the
    /// day after `to` (a day is 23 or 25 hours across a DST change).
    pub fn bounds<Tz: TimeZone>(&self, zone: &Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            start_of(self.from, zone),
            start_of(self.to + Duration::days(1), zone),
        )
    }

    /// The period in a cache key: `2026-11-01..2026-11-30`.
    pub fn key(&self) -> String {
        format!("{}..{}", self.from, self.to)
    }
}

/// Midnight of `day` in `zone` (or the first instant of the day when midnight is skipped).
fn start_of<Tz: TimeZone>(day: NaiveDate, zone: &Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=3)
        .find_map(|h| {
            zone.from_local_datetime(&(midnight + Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// Whose appointments a dashboard counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    Clinic,
    Doctor(Uuid),
}

impl Scope {
    /// The scope in a cache key, so a doctor never reads the clinic's figures.
    pub fn key(&self) -> String {
        match self {
            Self::Clinic => "clinic".into(),
            Self::Doctor(id) => format!("doctor:{id}"),
        }
    }

    pub fn doctor(&self) -> Option<Uuid> {
        match self {
            Self::Clinic => None,
            Self::Doctor(id) => Some(*id),
        }
    }
}

/// A count under a name (a department or a doctor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCount {
    pub id: Uuid,
    pub name: String,
    pub count: u64,
}

/// A sum of money: exact, two places, unbounded (a clinic's year passes any one bill's cap).
/// A string in JSON, never a float.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Amount(pub BigDecimal);

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `{:.2}`, not `with_scale(2)`: the latter prints a zero as "0".
        write!(f, "{:.2}", self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        BigDecimal::from_str(&raw)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// Revenue of the period's appointments, by bill status.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Revenue {
    pub paid: Amount,
    pub outstanding: Amount,
    pub overdue: Amount,
    pub refunded: Amount,
}

/// What the store counts for one scope and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Every status, zeros included, in the status machine's order.
    pub by_status: Vec<(AppointmentStatus, u64)>,
    /// Every day of the period, zeros included.
    pub by_day: Vec<(NaiveDate, u64)>,
    /// Departments with at least one appointment, most first.
    pub by_department: Vec<NamedCount>,
    /// Doctors with at least one appointment, most first.
    pub by_doctor: Vec<NamedCount>,
    pub slots_generated: u64,
    pub slots_booked: u64,
    pub revenue: Revenue,
    pub new_patients: u64,
    /// Lower median of the leads in whole hours (see the module's definitions).
    pub median_lead_time_hours: Option<i64>,
}

impl Figures {
    pub fn appointments(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }

    pub fn cancelled(&self) -> u64 {
        self.by_status
            .iter()
            .find(|(s, _)| *s == AppointmentStatus::Cancelled)
            .map_or(0, |(_, n)| *n)
    }

    /// Cancelled over all, as a decimal string with four places (`"0.2500"`); `"0.0000"` when
    /// there is nothing to divide.
    pub fn cancellation_rate(&self) -> String {
        ratio(self.cancelled(), self.appointments())
    }

    /// Booked over generated slots, as [`Self::cancellation_rate`].
    pub fn slot_utilisation(&self) -> String {
        ratio(self.slots_booked, self.slots_generated)
    }
}

/// `part / whole` rounded half up to four places, exactly (integer arithmetic).
pub fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.0000".into();
    }
    let scaled = (u128::from(part) * 20_000 / u128::from(whole)).div_ceil(2);
    format!("{}.{:04}", scaled / 10_000, scaled % 10_000)
}

/// A dashboard as answered (and cached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub scope: Scope,
    pub period: Period,
    pub previous_period: Period,
    pub current: Figures,
    pub previous: Figures,
    pub computed_at: DateTime<Utc>,
}

/// Where the figures are counted (PostgreSQL).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AnalyticsRepository: Send + Sync {
    /// The figures of `scope` over `period`, whose instants are `bounds`, days counted in the
    /// IANA zone `zone`.
    async fn figures(
        &self,
        scope: Scope,
        period: Period,
        bounds: (DateTime<Utc>, DateTime<Utc>),
        zone: String,
    ) -> Result<Figures, DomainError>;
}

/// The answer to "may this process compute the dashboard of a key?" across processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This process computes it; the token releases the claim.
    Won(String),
    /// Another process is computing it: wait for its result.
    Taken,
    /// The cache cannot say (Redis down): compute it.
    Unavailable,
}

/// Where computed dashboards are kept for a while (Redis `analytics:{scope}:{range}`), and
/// where processes agree on which of them computes a missing one. Failures are the cache's
/// to log: a miss, never an error.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AnalyticsCache: Send + Sync {
    async fn get(&self, key: &str) -> Option<Dashboard>;
    async fn put(&self, key: &str, dashboard: &Dashboard);
    /// Claims the computation of `key` for a while (longer than a computation takes).
    async fn claim(&self, key: &str) -> Claim;
    /// Gives up a claim won with `token` (once the result is `put`, or on failure).
    async fn release(&self, key: &str, token: &str);
    /// Waits for another process's result under `key`: `None` when it gave up its claim
    /// without one, or after `patience`.
    async fn wait(&self, key: &str, patience: std::time::Duration) -> Option<Dashboard>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn presets_end_today_and_custom_periods_are_bounded() {
        let today = day("2026-03-29");
        let p = |r: &str| Period::resolve(Some(r), None, None, today).unwrap();
        assert_eq!(
            p("today"),
            Period {
                from: today,
                to: today
            }
        );
        assert_eq!(p("7d").from, day("2026-03-23"));
        assert_eq!(p("30d").days(), 30);
        assert_eq!(p("mtd").from, day("2026-03-01"));
        assert_eq!(p("ytd").from, day("2026-01-01"));
        assert_eq!(
            p("7d").previous(),
            Period {
                from: day("2026-03-16"),
                to: day("2026-03-22")
            }
        );
        let custom = Period::resolve(
            None,
            Some(day("2025-01-01")),
            Some(day("2025-12-31")),
            today,
        );
        assert_eq!(custom.unwrap().days(), 365);
        for (range, from, to, field) in [
            (Some("week"), None, None, "range"),
            (Some("7d"), Some(today), Some(today), "range"),
            (None, Some(today), None, "to"),
            (None, None, Some(today), "from"),
            (None, Some(day("2026-03-02")), Some(day("2026-03-01")), "to"),
            (None, Some(day("2024-01-01")), Some(day("2025-01-01")), "to"),
        ] {
            assert!(
                matches!(Period::resolve(range, from, to, today), Err(DomainError::Validation { field: ref f, .. }) if f == field),
                "{range:?} {from:?} {to:?}"
            );
        }
    }

    #[test]
    fn a_day_across_a_dst_change_is_23_or_25_hours() {
        let london = chrono_tz::Europe::London;
        let spring = Period {
            from: day("2026-03-29"),
            to: day("2026-03-29"),
        };
        let (start, end) = spring.bounds(&london);
        assert_eq!((end - start).num_hours(), 23);
        assert_eq!(start.to_rfc3339(), "2026-03-29T00:00:00+00:00");
        let autumn = Period {
            from: day("2026-10-25"),
            to: day("2026-10-25"),
        };
        let (start, end) = autumn.bounds(&london);
        assert_eq!((end - start).num_hours(), 25);
        assert_eq!(start.to_rfc3339(), "2026-10-24T23:00:00+00:00");
    }

    #[test]
    fn ratios_are_exact_to_four_places() {
        assert_eq!(ratio(0, 0), "0.0000");
        assert_eq!(ratio(1, 4), "0.2500");
        assert_eq!(ratio(1, 3), "0.3333");
        assert_eq!(ratio(2, 3), "0.6667");
        assert_eq!(ratio(5, 5), "1.0000");
        assert_eq!(ratio(1, 80_000), "0.0000");
        assert_eq!(ratio(1, 20_000), "0.0001");
    }

    #[test]
    fn amounts_print_two_places_zero_included() {
        let amount = |s: &str| Amount(BigDecimal::from_str(s).unwrap()).to_string();
        assert_eq!(amount("0"), "0.00");
        assert_eq!(amount("80.5"), "80.50");
        assert_eq!(amount("870000000.25"), "870000000.25");
    }
}
