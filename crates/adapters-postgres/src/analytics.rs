//! The dashboard's figures (see `domain::analytics` for what each one counts), read in one
//! statement: the period's appointments once, every figure from them, as one JSON document.

use std::str::FromStr;

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{Date, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use domain::analytics::{Amount, AnalyticsRepository, Figures, NamedCount, Period, Revenue, Scope};
use domain::appointments::AppointmentStatus;
use domain::error::DomainError;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

use crate::errors::{map_diesel, map_pool};
use crate::pool::PgPool;

/// `$1`, `$2`: the period's instants; `$3`: the doctor, or NULL for the clinic; `$4`: the
/// clinic's zone; `$5`, `$6`: the period's first and last local day.
const FIGURES: &str = r#"
WITH a AS (
    SELECT id, status, doctor_id, patient_id, starts_at, created_at
    FROM appointments
    WHERE starts_at >= $1 AND starts_at < $2 AND ($3::uuid IS NULL OR doctor_id = $3)
)
SELECT json_build_object(
    'byStatus', (SELECT coalesce(json_object_agg(status, n), '{}')
                 FROM (SELECT status::text AS status, count(*) AS n FROM a GROUP BY 1) s),
    'byDay', (SELECT coalesce(json_object_agg(day, n), '{}')
              FROM (SELECT to_char((starts_at AT TIME ZONE $4)::date, 'YYYY-MM-DD') AS day,
                           count(*) AS n
                    FROM a GROUP BY 1) d),
    'byDepartment', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'count', n)
                                              ORDER BY n DESC, name, id), '[]')
                     FROM (SELECT dep.id, dep.name, count(*) AS n
                           FROM a
                           JOIN doctor_departments dd ON dd.doctor_id = a.doctor_id
                           JOIN departments dep ON dep.id = dd.department_id
                           GROUP BY dep.id, dep.name) x),
    'byDoctor', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'count', n)
                                          ORDER BY n DESC, name, id), '[]')
                 FROM (SELECT d.id, u.name, count(*) AS n
                       FROM a JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
                       GROUP BY d.id, u.name) x),
    'slotsGenerated', (SELECT count(*) FROM time_slots t
                       WHERE t.date BETWEEN $5 AND $6 AND ($3::uuid IS NULL OR t.doctor_id = $3)),
    'slotsBooked', (SELECT count(*) FROM time_slots t
                    WHERE t.date BETWEEN $5 AND $6 AND ($3::uuid IS NULL OR t.doctor_id = $3)
                      AND NOT t.is_available),
    'revenue', (SELECT json_build_object(
                    'paid', coalesce(sum(b.amount) FILTER (WHERE b.status = 'PAID'), 0)::text,
                    'outstanding', coalesce(sum(b.amount)
                                   FILTER (WHERE b.status IN ('PENDING', 'OVERDUE')), 0)::text,
                    'overdue', coalesce(sum(b.amount) FILTER (WHERE b.status = 'OVERDUE'), 0)::text,
                    'refunded', coalesce(sum(b.amount) FILTER (WHERE b.status = 'REFUNDED'), 0)::text)
                -- One index lookup per appointment (at most one bill each; LIMIT keeps the
                -- planner from turning it into a join that hashes every bill there is).
                FROM a CROSS JOIN LATERAL (SELECT amount, status FROM billings
                                           WHERE appointment_id = a.id LIMIT 1) b),
    'newPatients', CASE WHEN $3::uuid IS NULL
        THEN (SELECT count(*) FROM users u
              WHERE u.role = 'PATIENT' AND u.created_at >= $1 AND u.created_at < $2)
        ELSE (SELECT count(*) FROM (SELECT patient_id FROM appointments WHERE doctor_id = $3
                                    GROUP BY patient_id
                                    HAVING min(starts_at) >= $1 AND min(starts_at) < $2) f)
        END,
    'medianLeadSeconds', (SELECT percentile_cont(0.5) WITHIN GROUP
                              (ORDER BY extract(epoch FROM starts_at - created_at))
                          FROM a)
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
    by_status: HashMap<String, u64>,
    by_day: HashMap<NaiveDate, u64>,
    by_department: Vec<Named>,
    by_doctor: Vec<Named>,
    slots_generated: u64,
    slots_booked: u64,
    revenue: HashMap<String, String>,
    new_patients: u64,
    median_lead_seconds: Option<f64>,
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
            .bind::<Text, _>(zone)
            .bind::<Date, _>(period.from)
            .bind::<Date, _>(period.to)
            .get_result(&mut conn)
            .await
            .map_err(map_diesel)?;
        let counted: Counted = serde_json::from_str(&doc.doc).map_err(|e| {
            tracing::error!(error = %e, "the dashboard's document did not parse");
            DomainError::Unavailable("database")
        })?;
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
            // To the nearest minute (the median of an even count is the mean of the middle two).
            median_lead_time_minutes: counted
                .median_lead_seconds
                .map(|s| (s / 60.0).round() as i64),
        })
    }
}
