//! The dashboard's figures (see `domain::analytics` for what each one counts), read in one
//! statement from the daily roll-up (migration 000016): a year of the clinic is some tens of
//! thousands of roll-up rows instead of millions of appointments. The roll-up is kept by
//! triggers in the transactions that change appointments, bills and slots, and counted in the
//! clinic's zone, which [`PgAnalyticsRepository::prepare`] sets at start-up.

use std::str::FromStr;

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{Date, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::analytics::{Amount, AnalyticsRepository, Figures, NamedCount, Period, Revenue, Scope};
use domain::appointments::AppointmentStatus;
use domain::error::DomainError;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

use crate::errors::{map_diesel, map_pool};
use crate::pool::PgPool;

/// `$1`, `$2`: the period's instants; `$3`: the doctor, or NULL for the clinic; `$4`, `$5`:
/// the period's first and last local day. Folded rows and changes not folded yet are read
/// together, so the figures are exact whenever the fold last ran.
const FIGURES: &str = r#"
WITH d AS (
    SELECT day, doctor_id, scheduled, confirmed, in_progress, completed, cancelled, no_show,
           slots, slots_taken, paid, pending, overdue, refunded
    FROM analytics_daily
    WHERE day BETWEEN $4 AND $5 AND ($3::uuid IS NULL OR doctor_id = $3)
    UNION ALL
    SELECT day, doctor_id, scheduled, confirmed, in_progress, completed, cancelled, no_show,
           slots, slots_taken, paid, pending, overdue, refunded
    FROM analytics_daily_changes
    WHERE day BETWEEN $4 AND $5 AND ($3::uuid IS NULL OR doctor_id = $3)
), total AS (
    SELECT coalesce(sum(scheduled), 0) AS scheduled, coalesce(sum(confirmed), 0) AS confirmed,
           coalesce(sum(in_progress), 0) AS in_progress, coalesce(sum(completed), 0) AS completed,
           coalesce(sum(cancelled), 0) AS cancelled, coalesce(sum(no_show), 0) AS no_show,
           coalesce(sum(slots), 0) AS slots,
           coalesce(sum(slots_taken), 0) AS slots_taken, coalesce(sum(paid), 0) AS paid,
           coalesce(sum(pending), 0) AS pending, coalesce(sum(overdue), 0) AS overdue,
           coalesce(sum(refunded), 0) AS refunded
    FROM d
), per_day AS (
    SELECT day, sum(scheduled + confirmed + in_progress + completed + cancelled + no_show) AS n
    FROM d GROUP BY day
), per_doctor AS (
    SELECT doctor_id, sum(scheduled + confirmed + in_progress + completed + cancelled + no_show) AS n
    FROM d GROUP BY doctor_id
    HAVING sum(scheduled + confirmed + in_progress + completed + cancelled + no_show) > 0
), lead AS (
    -- The clinic's lead times by whole hours (a doctor's are counted from its appointments).
    SELECT hours, sum(appointments) AS n
    FROM (SELECT hours, appointments FROM analytics_lead_hours WHERE day BETWEEN $4 AND $5
          UNION ALL
          SELECT hours, appointments FROM analytics_lead_hours_changes
          WHERE day BETWEEN $4 AND $5) l
    WHERE $3::uuid IS NULL
    GROUP BY hours
    HAVING sum(appointments) <> 0
)
SELECT json_build_object(
    'zone', (SELECT zone FROM analytics_settings),
    'byStatus', (SELECT json_build_object('SCHEDULED', scheduled, 'CONFIRMED', confirmed,
                                          'IN_PROGRESS', in_progress, 'COMPLETED', completed,
                                          'CANCELLED', cancelled, 'NO_SHOW', no_show)
                 FROM total),
    'byDay', (SELECT coalesce(json_object_agg(to_char(day, 'YYYY-MM-DD'), n), '{}')
              FROM per_day WHERE n <> 0),
    'byDepartment', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'count', n)
                                              ORDER BY n DESC, name, id), '[]')
                     FROM (SELECT dep.id, dep.name, sum(p.n) AS n
                           FROM per_doctor p
                           JOIN doctor_departments dd ON dd.doctor_id = p.doctor_id
                           JOIN departments dep ON dep.id = dd.department_id
                           GROUP BY dep.id, dep.name) x),
    'byDoctor', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'count', n)
                                          ORDER BY n DESC, name, id), '[]')
                 FROM (SELECT d.id, u.name, p.n
                       FROM per_doctor p JOIN doctors d ON d.id = p.doctor_id
                       JOIN users u ON u.id = d.user_id) x),
    'slotsGenerated', (SELECT slots FROM total),
    'slotsBooked', (SELECT slots_taken FROM total),
    'revenue', (SELECT json_build_object('paid', paid::text,
                                         'outstanding', (pending + overdue)::text,
                                         'overdue', overdue::text,
                                         'refunded', refunded::text) FROM total),
    'newPatients', CASE WHEN $3::uuid IS NULL
        THEN (SELECT count(*) FROM users u
              WHERE u.role = 'PATIENT' AND u.created_at >= $1 AND u.created_at < $2)
        ELSE (SELECT count(*) FROM (SELECT patient_id FROM appointments WHERE doctor_id = $3
                                    GROUP BY patient_id
                                    HAVING min(starts_at) >= $1 AND min(starts_at) < $2) f)
        END,
    -- The lower median: the least lead time that half of the appointments do not exceed.
    'medianLeadHours', CASE WHEN $3::uuid IS NULL
        THEN (SELECT min(hours)
              FROM (SELECT hours, sum(n) OVER (ORDER BY hours) AS upto, sum(n) OVER () AS total
                    FROM lead) c
              WHERE 2 * upto >= total)
        ELSE (SELECT percentile_disc(0.5) WITHIN GROUP
                  (ORDER BY floor(extract(epoch FROM starts_at - created_at) / 3600)::integer)
              FROM appointments WHERE doctor_id = $3 AND starts_at >= $1 AND starts_at < $2)
        END
)::text AS doc
"#;

#[derive(QueryableByName)]
struct Doc {
    #[diesel(sql_type = Text)]
    doc: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counted {
    zone: String,
    by_status: HashMap<String, u64>,
    by_day: HashMap<NaiveDate, u64>,
    by_department: Vec<Named>,
    by_doctor: Vec<Named>,
    slots_generated: u64,
    slots_booked: u64,
    revenue: HashMap<String, String>,
    new_patients: u64,
    median_lead_hours: Option<i64>,
}

#[derive(Deserialize)]
struct Named {
    id: Uuid,
    name: String,
    count: u64,
}

#[derive(Clone)]
pub struct PgAnalyticsRepository {
    pub pool: PgPool,
}

fn amount(revenue: &HashMap<String, String>, key: &str) -> Result<Amount, DomainError> {
    let raw = revenue.get(key).map_or("0", String::as_str);
    BigDecimal::from_str(raw)
        .map(|d| Amount(d.with_scale(2)))
        .map_err(|_| DomainError::Unavailable("database"))
}

#[async_trait]
impl AnalyticsRepository for PgAnalyticsRepository {
    async fn figures(
        &self,
        scope: Scope,
        period: Period,
        bounds: (DateTime<Utc>, DateTime<Utc>),
        zone: String,
    ) -> Result<Figures, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let doc: Doc = diesel::sql_query(FIGURES)
            .bind::<Timestamptz, _>(bounds.0)
            .bind::<Timestamptz, _>(bounds.1)
            .bind::<Nullable<SqlUuid>, _>(scope.doctor())
            .bind::<Date, _>(period.from)
            .bind::<Date, _>(period.to)
            .get_result(&mut conn)
            .await
            .map_err(map_diesel)?;
        let counted: Counted = serde_json::from_str(&doc.doc).map_err(|e| {
            tracing::error!(error = %e, "the dashboard's document did not parse");
            DomainError::Unavailable("database")
        })?;
        if counted.zone != zone {
            // Another process rebuilt the roll-up in its own CLINIC_TIMEZONE: its days are not
            // this server's days, and figures counted in them would be wrong without a sign.
            tracing::error!(
                rollup = %counted.zone,
                configured = %zone,
                "the analytics roll-up is counted in another time zone; restart with one CLINIC_TIMEZONE"
            );
            return Err(DomainError::Unavailable("database"));
        }
        let named = |list: Vec<Named>| {
            list.into_iter()
                .map(|n| NamedCount {
                    id: n.id,
                    name: n.name,
                    count: n.count,
                })
                .collect()
        };
        Ok(Figures {
            by_status: AppointmentStatus::ALL
                .into_iter()
                .map(|s| (s, counted.by_status.get(s.as_str()).copied().unwrap_or(0)))
                .collect(),
            by_day: period
                .each_day()
                .map(|d| (d, counted.by_day.get(&d).copied().unwrap_or(0)))
                .collect(),
            by_department: named(counted.by_department),
            by_doctor: named(counted.by_doctor),
            slots_generated: counted.slots_generated,
            slots_booked: counted.slots_booked,
            revenue: Revenue {
                paid: amount(&counted.revenue, "paid")?,
                outstanding: amount(&counted.revenue, "outstanding")?,
                overdue: amount(&counted.revenue, "overdue")?,
                refunded: amount(&counted.revenue, "refunded")?,
            },
            new_patients: counted.new_patients,
            median_lead_time_hours: counted.median_lead_hours,
        })
    }
}

impl PgAnalyticsRepository {
    /// Makes the roll-up count days in `zone` (the server's CLINIC_TIMEZONE): when it was
    /// counted in another zone, counts everything again (writers wait meanwhile; seconds at
    /// millions of appointments). Returns whether it rebuilt.
    pub async fn prepare(&self, zone: &str) -> Result<bool, DomainError> {
        #[derive(QueryableByName)]
        struct Zone {
            #[diesel(sql_type = Text)]
            zone: String,
        }
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let zone = zone.to_owned();
        conn.transaction::<bool, diesel::result::Error, _>(async |conn| {
            // Two servers starting at once: the second waits and finds the work done.
            let current: Zone = diesel::sql_query("SELECT zone FROM analytics_settings FOR UPDATE")
                .get_result(conn)
                .await?;
            if current.zone == zone {
                return Ok(false);
            }
            diesel::sql_query("SELECT analytics_rebuild($1)")
                .bind::<Text, _>(&zone)
                .execute(conn)
                .await?;
            Ok(true)
        })
        .await
        .map_err(map_diesel)
    }

    /// Moves the roll-up's changes into its daily rows (the analytics fold job's step).
    pub async fn fold(&self) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::sql_query("SELECT analytics_fold()")
            .execute(&mut conn)
            .await
            .map_err(map_diesel)?;
        Ok(())
    }
}
