//! The clinic's dashboard (issue 13): JSON and CSV of the same figures. What each figure
//! counts is `domain::analytics`'s (and the README's).

use std::str::FromStr;

use actix_web::{get, web, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use domain::analytics::{ratio, Dashboard, Figures, NamedCount, Period, Scope};
use domain::appointments::AppointmentStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::LazyQuery;
use crate::state::AppState;

/// A period ending today in the clinic's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum RangePreset {
    #[serde(rename = "today")]
    Today,
    /// The last 7 days, today included.
    #[serde(rename = "7d")]
    Days7,
    #[serde(rename = "30d")]
    Days30,
    /// Month to date.
    #[serde(rename = "mtd")]
    MonthToDate,
    /// Year to date.
    #[serde(rename = "ytd")]
    YearToDate,
}

impl RangePreset {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Today => "today",
            Self::Days7 => "7d",
            Self::Days30 => "30d",
            Self::MonthToDate => "mtd",
            Self::YearToDate => "ytd",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// A preset ending today in the clinic's zone (`30d` when nothing is given); or give
    /// `from` and `to` instead.
    pub range: Option<RangePreset>,
    /// First day (local), with `to`; at most 366 days in all.
    pub from: Option<NaiveDate>,
    /// Last day (local, included), with `from`.
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodDto {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: i64,
}

impl From<Period> for PeriodDto {
    fn from(p: Period) -> Self {
        Self {
            from: p.from,
            to: p.to,
            days: p.days(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCountDto {
    pub status: AppointmentStatus,
    pub count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayCountDto {
    pub date: NaiveDate,
    pub count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedCountDto {
    pub id: Uuid,
    pub name: String,
    pub count: u64,
}

/// A headline figure now and in the previous period. Counts are integers; rates and money are
/// exact decimal strings (`change` signed, e.g. `"-0.0500"`, `"+12.50"`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDto {
    pub current: String,
    pub previous: String,
    pub change: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueDto {
    /// PAID bills of the period's appointments.
    pub paid: String,
    /// PENDING and OVERDUE bills.
    pub outstanding: String,
    pub overdue: String,
    pub refunded: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadlineDto {
    pub appointments: ChangeDto,
    pub cancellation_rate: ChangeDto,
    pub slot_utilisation: ChangeDto,
    pub revenue_paid: ChangeDto,
    pub revenue_outstanding: ChangeDto,
    pub new_patients: ChangeDto,
    /// Empty strings when a period has no appointments.
    pub median_lead_time_hours: ChangeDto,
}

/// The dashboard of a period.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardDto {
    /// `clinic` (admins) or `doctor` (a doctor's own figures).
    pub scope: String,
    #[schema(nullable, required = true)]
    pub doctor_id: Option<Uuid>,
    pub time_zone: String,
    pub period: PeriodDto,
    pub previous_period: PeriodDto,
    /// When these figures were computed (they are cached for 15 minutes).
    pub computed_at: DateTime<Utc>,
    pub appointments: u64,
    /// Every status, zeros included.
    pub by_status: Vec<StatusCountDto>,
    /// Every day of the period, zeros included.
    pub by_day: Vec<DayCountDto>,
    pub by_department: Vec<NamedCountDto>,
    pub by_doctor: Vec<NamedCountDto>,
    pub cancellation_rate: String,
    pub slots_generated: u64,
    pub slots_booked: u64,
    pub slot_utilisation: String,
    pub revenue: RevenueDto,
    pub new_patients: u64,
    /// Lower median of the appointments' booking lead times (start - booked, whole hours
    /// rounded down); null without appointments.
    #[schema(nullable, required = true)]
    pub median_lead_time_hours: Option<i64>,
    /// Each headline figure against the previous period of the same length.
    pub headline: HeadlineDto,
}

/// `current - previous` of two decimal strings, signed (`+0.0500`, `-3.00`, `0.00`).
fn signed_change(current: &str, previous: &str) -> String {
    match (
        BigDecimal::from_str(current),
        BigDecimal::from_str(previous),
    ) {
        (Ok(c), Ok(p)) => {
            let d = c - p;
            let zero = BigDecimal::from(0);
            if d > zero {
                format!("+{d}")
            } else {
                d.to_string()
            }
        }
        _ => String::new(),
    }
}

fn change(current: String, previous: String) -> ChangeDto {
    ChangeDto {
        change: signed_change(&current, &previous),
        current,
        previous,
    }
}

fn named(list: &[NamedCount]) -> Vec<NamedCountDto> {
    list.iter()
        .map(|n| NamedCountDto {
            id: n.id,
            name: n.name.clone(),
            count: n.count,
        })
        .collect()
}

fn lead_hours(f: &Figures) -> String {
    f.median_lead_time_hours
        .map(|m| m.to_string())
        .unwrap_or_default()
}

impl DashboardDto {
    fn from_dashboard(d: Dashboard, zone: &str) -> Self {
        let (c, p) = (&d.current, &d.previous);
        let headline = HeadlineDto {
            appointments: change(c.appointments().to_string(), p.appointments().to_string()),
            cancellation_rate: change(c.cancellation_rate(), p.cancellation_rate()),
            slot_utilisation: change(c.slot_utilisation(), p.slot_utilisation()),
            revenue_paid: change(c.revenue.paid.to_string(), p.revenue.paid.to_string()),
            revenue_outstanding: change(
                c.revenue.outstanding.to_string(),
                p.revenue.outstanding.to_string(),
            ),
            new_patients: change(c.new_patients.to_string(), p.new_patients.to_string()),
            median_lead_time_hours: change(lead_hours(c), lead_hours(p)),
        };
        Self {
            scope: match d.scope {
                Scope::Clinic => "clinic".into(),
                Scope::Doctor(_) => "doctor".into(),
            },
            doctor_id: d.scope.doctor(),
            time_zone: zone.to_owned(),
            period: d.period.into(),
            previous_period: d.previous_period.into(),
            computed_at: d.computed_at,
            appointments: c.appointments(),
            by_status: c
                .by_status
                .iter()
                .map(|(status, count)| StatusCountDto {
                    status: *status,
                    count: *count,
                })
                .collect(),
            by_day: c
                .by_day
                .iter()
                .map(|(date, count)| DayCountDto {
                    date: *date,
                    count: *count,
                })
                .collect(),
            by_department: named(&c.by_department),
            by_doctor: named(&c.by_doctor),
            cancellation_rate: c.cancellation_rate(),
            slots_generated: c.slots_generated,
            slots_booked: c.slots_booked,
            slot_utilisation: ratio(c.slots_booked, c.slots_generated),
            revenue: RevenueDto {
                paid: c.revenue.paid.to_string(),
                outstanding: c.revenue.outstanding.to_string(),
                overdue: c.revenue.overdue.to_string(),
                refunded: c.revenue.refunded.to_string(),
            },
            new_patients: c.new_patients,
            median_lead_time_hours: c.median_lead_time_hours,
            headline,
        }
    }

    /// The same figures as CSV rows `section,key,value`: one table a spreadsheet can pivot.
    fn to_csv(&self) -> String {
        let mut rows: Vec<(String, String, String)> = vec![
            ("period".into(), "from".into(), self.period.from.to_string()),
            ("period".into(), "to".into(), self.period.to.to_string()),
            ("period".into(), "timeZone".into(), self.time_zone.clone()),
            (
                "period".into(),
                "computedAt".into(),
                self.computed_at.to_rfc3339(),
            ),
            (
                "total".into(),
                "appointments".into(),
                self.appointments.to_string(),
            ),
            (
                "total".into(),
                "cancellationRate".into(),
                self.cancellation_rate.clone(),
            ),
            (
                "total".into(),
                "slotsGenerated".into(),
                self.slots_generated.to_string(),
            ),
            (
                "total".into(),
                "slotsBooked".into(),
                self.slots_booked.to_string(),
            ),
            (
                "total".into(),
                "slotUtilisation".into(),
                self.slot_utilisation.clone(),
            ),
            (
                "total".into(),
                "newPatients".into(),
                self.new_patients.to_string(),
            ),
            (
                "total".into(),
                "medianLeadTimeHours".into(),
                self.median_lead_time_hours
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            ),
            ("revenue".into(), "paid".into(), self.revenue.paid.clone()),
            (
                "revenue".into(),
                "outstanding".into(),
                self.revenue.outstanding.clone(),
            ),
            (
                "revenue".into(),
                "overdue".into(),
                self.revenue.overdue.clone(),
            ),
            (
                "revenue".into(),
                "refunded".into(),
                self.revenue.refunded.clone(),
            ),
        ];
        rows.extend(self.by_status.iter().map(|s| {
            (
                "byStatus".into(),
                s.status.as_str().into(),
                s.count.to_string(),
            )
        }));
        rows.extend(
            self.by_day
                .iter()
                .map(|d| ("byDay".into(), d.date.to_string(), d.count.to_string())),
        );
        rows.extend(
            self.by_department
                .iter()
                .map(|d| ("byDepartment".into(), d.name.clone(), d.count.to_string())),
        );
        rows.extend(
            self.by_doctor
                .iter()
                .map(|d| ("byDoctor".into(), d.name.clone(), d.count.to_string())),
        );
        let mut out = String::from("section,key,value\r\n");
        for (section, key, value) in rows {
            out.push_str(&format!(
                "{},{},{}\r\n",
                csv(&section),
                csv(&key),
                csv(&value)
            ));
        }
        out
    }
}

/// One CSV field: quoted when it needs to be, and never read as a formula by a spreadsheet.
fn csv(field: &str) -> String {
    let field =
        if field.starts_with(['=', '+', '-', '@', '\t', '\r']) && field.parse::<f64>().is_err() {
            format!("'{field}")
        } else {
            field.to_owned()
        };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

async fn dashboard_of(
    state: &AppState,
    user: &AuthUser,
    query: &LazyQuery<DashboardQuery>,
) -> Result<DashboardDto, ApiError> {
    user.0.require(domain::access::Permission::Analytics)?;
    let q = query.parse()?;
    let period = state
        .analytics
        .period(q.range.map(RangePreset::as_str), q.from, q.to)?;
    let computed = state.analytics.dashboard(&user.0, period).await?;
    Ok(DashboardDto::from_dashboard(
        computed,
        &state.config.clinic_timezone,
    ))
}

/// The dashboard of a period (admins: the clinic; a doctor: itself).
#[utoipa::path(operation_id = "getDashboard", tag = "analytics", security(("bearer" = [])),
    params(DashboardQuery),
    responses(
        (status = 200, description = "The figures, cached for 15 minutes (see computedAt)", body = DashboardDto),
        (status = 403, description = "Patients and the desk have no dashboard", body = ErrorBody),
        (status = 422, description = "An unknown range, a missing from/to, more than 366 days", body = ErrorBody),
    ))]
#[get("/analytics/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    user: AuthUser,
    query: LazyQuery<DashboardQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(dashboard_of(&state, &user, &query).await?))
}

/// The same figures as CSV (`section,key,value`), for spreadsheets.
#[utoipa::path(operation_id = "exportDashboardCsv", tag = "analytics", security(("bearer" = [])),
    params(DashboardQuery),
    responses(
        (status = 200, description = "CSV, UTF-8", content_type = "text/csv", body = String),
        (status = 403, description = "Patients and the desk have no dashboard", body = ErrorBody),
        (status = 422, description = "An unknown range, a missing from/to, more than 366 days", body = ErrorBody),
    ))]
#[get("/analytics/dashboard.csv")]
pub async fn dashboard_csv(
    state: web::Data<AppState>,
    user: AuthUser,
    query: LazyQuery<DashboardQuery>,
) -> Result<HttpResponse, ApiError> {
    let dto = dashboard_of(&state, &user, &query).await?;
    let name = format!("dashboard-{}-{}.csv", dto.period.from, dto.period.to);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(dto.to_csv()))
}
