//! Schedules and time slots in PostgreSQL.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::appointments::booking::DoctorWindow;
use domain::audit::AuditEvent;
use domain::error::DomainError;
use domain::scheduling::{AvailableSlot, Schedule, ScheduleRepository, SlotSpec, SlotState};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::enums::PgDayOfWeek;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::schema::{
    appointments, doctor_booking_windows, schedules, time_off, time_slots, waitlist_offers,
};
use crate::PgPool;

/// SQL for `domain::scheduling::Schedule::generates` (the slot `slot` is still one its
/// schedule `schedule` generates), for the two queries that must pick such slots in the
/// database: the waitlist's matching and a series' occurrence lookup. Availability and the
/// booking transaction ask the domain function itself.
pub(crate) fn on_schedule(slot: &str, schedule: &str) -> String {
    format!(
        "({schedule}.is_active \
          AND {schedule}.day_of_week::text = upper(to_char({slot}.date, 'FMDy')) \
          AND {slot}.start_time >= {schedule}.start_time \
          AND {slot}.end_time <= {schedule}.end_time \
          AND {slot}.end_time - {slot}.start_time = make_interval(mins => {schedule}.slot_duration_minutes) \
          AND mod(extract(epoch FROM {slot}.start_time - {schedule}.start_time)::int, \
                  ({schedule}.slot_duration_minutes + {schedule}.buffer_minutes) * 60) = 0)"
    )
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = schedules, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ScheduleRow {
    id: Uuid,
    doctor_id: Uuid,
    day_of_week: PgDayOfWeek,
    start_time: NaiveTime,
    end_time: NaiveTime,
    slot_duration_minutes: i32,
    buffer_minutes: i32,
    is_active: bool,
}

impl From<&Schedule> for ScheduleRow {
    fn from(s: &Schedule) -> Self {
        Self {
            id: s.id,
            doctor_id: s.doctor_id,
            day_of_week: s.day_of_week.into(),
            start_time: s.start_time,
            end_time: s.end_time,
            slot_duration_minutes: i32::try_from(s.slot_minutes).unwrap_or(i32::MAX),
            buffer_minutes: i32::try_from(s.buffer_minutes).unwrap_or(i32::MAX),
            is_active: s.is_active,
        }
    }
}

impl From<ScheduleRow> for Schedule {
    fn from(r: ScheduleRow) -> Self {
        Self {
            id: r.id,
            doctor_id: r.doctor_id,
            day_of_week: r.day_of_week.into(),
            start_time: r.start_time,
            end_time: r.end_time,
            slot_minutes: u32::try_from(r.slot_duration_minutes).unwrap_or(0),
            buffer_minutes: u32::try_from(r.buffer_minutes).unwrap_or(0),
            is_active: r.is_active,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = time_slots)]
struct NewSlotRow {
    schedule_id: Uuid,
    doctor_id: Uuid,
    date: NaiveDate,
    start_time: NaiveTime,
    end_time: NaiveTime,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = time_slots, check_for_backend(diesel::pg::Pg))]
struct SlotRow {
    id: Uuid,
    doctor_id: Uuid,
    date: NaiveDate,
    start_time: NaiveTime,
    end_time: NaiveTime,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

/// A slot with everything [`SlotState`] reports.
#[derive(Queryable, Selectable)]
#[diesel(table_name = time_slots, check_for_backend(diesel::pg::Pg))]
struct SlotStateRow {
    id: Uuid,
    doctor_id: Uuid,
    date: NaiveDate,
    start_time: NaiveTime,
    end_time: NaiveTime,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    is_available: bool,
}

/// Which slots [`load_slot_states`] reads.
enum SlotsOf {
    /// A doctor's, on local dates `from..=to`.
    Doctor(Uuid, NaiveDate, NaiveDate),
    One(Uuid),
}

/// Loads slots with their schedule, whether an open offer holds each at `now`, and whether
/// time off covers it, in one typed query, by start.
async fn load_slot_states(
    conn: &mut AsyncPgConnection,
    which: SlotsOf,
    now: DateTime<Utc>,
) -> Result<Vec<SlotState>, DomainError> {
    let held = diesel::dsl::exists(
        waitlist_offers::table
            .filter(waitlist_offers::slot_id.eq(time_slots::id))
            .filter(waitlist_offers::status.eq("OPEN"))
            .filter(waitlist_offers::expires_at.gt(now)),
    );
    let away = diesel::dsl::exists(
        time_off::table
            .filter(
                time_off::doctor_id
                    .eq(time_slots::doctor_id.nullable())
                    .or(time_off::doctor_id.is_null()),
            )
            .filter(time_off::starts_at.lt(time_slots::ends_at))
            .filter(time_off::ends_at.gt(time_slots::starts_at)),
    );
    let mut query = time_slots::table
        .inner_join(schedules::table.on(schedules::id.eq(time_slots::schedule_id)))
        .select((
            SlotStateRow::as_select(),
            ScheduleRow::as_select(),
            held,
            away,
        ))
        .order((time_slots::starts_at.asc(), time_slots::id.asc()))
        .into_boxed();
    query = match which {
        SlotsOf::Doctor(doctor_id, from, to) => query
            .filter(time_slots::doctor_id.eq(doctor_id))
            .filter(time_slots::date.between(from, to)),
        SlotsOf::One(id) => query.filter(time_slots::id.eq(id)),
    };
    let rows: Vec<(SlotStateRow, ScheduleRow, bool, bool)> = query.load(conn).await.db()?;
    Ok(rows
        .into_iter()
        .map(|(r, schedule, held, time_off)| SlotState {
            id: r.id,
            schedule: schedule.into(),
            doctor_id: r.doctor_id,
            date: r.date,
            start_time: r.start_time,
            end_time: r.end_time,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            booked: !r.is_available,
            held,
            time_off,
            // The service reads the doctor from the directory.
            doctor_unavailable: false,
        })
        .collect())
}

/// Inserts slots in chunks, skipping those that exist (the unique key makes this idempotent).
async fn insert_slot_rows(
    conn: &mut AsyncPgConnection,
    slots: &[SlotSpec],
) -> Result<usize, diesel::result::Error> {
    let mut inserted = 0;
    for chunk in slots.chunks(1000) {
        let rows: Vec<NewSlotRow> = chunk
            .iter()
            .map(|s| NewSlotRow {
                schedule_id: s.schedule_id,
                doctor_id: s.doctor_id,
                date: s.date,
                start_time: s.start_time,
                end_time: s.end_time,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
            })
            .collect();
        inserted += diesel::insert_into(time_slots::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(inserted)
}

#[derive(Clone)]
pub struct PgScheduleRepository {
    pub pool: PgPool,
}

#[async_trait]
impl ScheduleRepository for PgScheduleRepository {
    async fn create(
        &self,
        schedule: Schedule,
        slots: Vec<SlotSpec>,
        event: AuditEvent,
    ) -> Result<Schedule, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row = conn
            .transaction::<ScheduleRow, TxError, _>(async move |conn| {
                let row = diesel::insert_into(schedules::table)
                    .values(ScheduleRow::from(&schedule))
                    .returning(ScheduleRow::as_returning())
                    .get_result(conn)
                    .await?;
                insert_slot_rows(conn, &slots).await?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(row)
            })
            .await?;
        Ok(row.into())
    }

    async fn replace(
        &self,
        schedule: Schedule,
        now: DateTime<Utc>,
        slots: Vec<SlotSpec>,
        event: AuditEvent,
    ) -> Result<Vec<NaiveDate>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let dates = conn
            .transaction::<Vec<NaiveDate>, TxError, _>(async move |conn| {
                let row = ScheduleRow::from(&schedule);
                let n = diesel::update(schedules::table.find(schedule.id))
                    .set((
                        schedules::day_of_week.eq(row.day_of_week),
                        schedules::start_time.eq(row.start_time),
                        schedules::end_time.eq(row.end_time),
                        schedules::slot_duration_minutes.eq(row.slot_duration_minutes),
                        schedules::buffer_minutes.eq(row.buffer_minutes),
                        schedules::is_active.eq(row.is_active),
                    ))
                    .execute(conn)
                    .await?;
                if n == 0 {
                    return Err(DomainError::NotFound("schedule").into());
                }
                // Withdraw future slots nobody ever booked; booked ones are never touched.
                // Locked first, by start as every path that locks several slots: an offer
                // being made on one commits before the withdrawal reads them.
                let future: Vec<Uuid> = time_slots::table
                    .filter(time_slots::schedule_id.eq(schedule.id))
                    .filter(time_slots::starts_at.gt(now))
                    .order((time_slots::starts_at, time_slots::id))
                    .select(time_slots::id)
                    .for_update()
                    .load(conn)
                    .await?;
                let doomed: Vec<Uuid> = time_slots::table
                    .filter(time_slots::id.eq_any(&future))
                    .filter(diesel::dsl::not(diesel::dsl::exists(
                        appointments::table
                            .filter(appointments::time_slot_id.eq(time_slots::id.nullable())),
                    )))
                    .select(time_slots::id)
                    .load(conn)
                    .await?;
                crate::waitlist::release_offers_on(conn, &doomed, now).await?;
                let withdrawn: Vec<NaiveDate> =
                    diesel::delete(time_slots::table.filter(time_slots::id.eq_any(&doomed)))
                        .returning(time_slots::date)
                        .get_results(conn)
                        .await?;
                insert_slot_rows(conn, &slots).await?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(withdrawn
                    .into_iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect())
            })
            .await?;
        Ok(dates)
    }

    async fn booking_window(&self, doctor_id: Uuid) -> Result<DoctorWindow, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<(Option<i32>, Option<i32>)> = doctor_booking_windows::table
            .find(doctor_id)
            .select((
                doctor_booking_windows::min_notice_hours,
                doctor_booking_windows::max_advance_days,
            ))
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        let (notice, advance) = row.unwrap_or_default();
        Ok(DoctorWindow {
            min_notice_hours: notice.and_then(|h| u32::try_from(h).ok()),
            max_advance_days: advance.and_then(|d| u32::try_from(d).ok()),
        })
    }

    async fn set_booking_window(
        &self,
        doctor_id: Uuid,
        window: DoctorWindow,
        event: AuditEvent,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let notice = window.min_notice_hours.and_then(|h| i32::try_from(h).ok());
            let advance = window.max_advance_days.and_then(|d| i32::try_from(d).ok());
            if notice.is_none() && advance.is_none() {
                diesel::delete(doctor_booking_windows::table.find(doctor_id))
                    .execute(conn)
                    .await?;
            } else {
                diesel::insert_into(doctor_booking_windows::table)
                    .values((
                        doctor_booking_windows::doctor_id.eq(doctor_id),
                        doctor_booking_windows::min_notice_hours.eq(notice),
                        doctor_booking_windows::max_advance_days.eq(advance),
                    ))
                    .on_conflict(doctor_booking_windows::doctor_id)
                    .do_update()
                    .set((
                        doctor_booking_windows::min_notice_hours.eq(notice),
                        doctor_booking_windows::max_advance_days.eq(advance),
                        doctor_booking_windows::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
                    .await?;
            }
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Schedule>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<ScheduleRow> = schedules::table
            .find(id)
            .select(ScheduleRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(Into::into))
    }

    async fn list_for_doctor(&self, doctor_id: Uuid) -> Result<Vec<Schedule>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let rows: Vec<ScheduleRow> = schedules::table
            .filter(schedules::doctor_id.eq(doctor_id))
            .order((schedules::day_of_week.asc(), schedules::start_time.asc()))
            .select(ScheduleRow::as_select())
            .load(&mut conn)
            .await
            .db()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn list_active(&self) -> Result<Vec<Schedule>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let rows: Vec<ScheduleRow> = schedules::table
            .filter(schedules::is_active.eq(true))
            .select(ScheduleRow::as_select())
            .load(&mut conn)
            .await
            .db()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn insert_slots(&self, slots: Vec<SlotSpec>) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        insert_slot_rows(&mut conn, &slots).await.db()
    }

    async fn slot_states(
        &self,
        doctor_id: Uuid,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<SlotState>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        load_slot_states(&mut conn, SlotsOf::Doctor(doctor_id, from, to), now).await
    }

    async fn slot_state(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<SlotState>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        Ok(load_slot_states(&mut conn, SlotsOf::One(id), now)
            .await?
            .into_iter()
            .next())
    }

    async fn available_slots(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<AvailableSlot>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        // A typed query throughout, so its plan is prepared once per connection; whether the
        // schedule still generates each slot is the domain's `Schedule::generates`, below.
        let rows: Vec<(SlotRow, ScheduleRow)> = time_slots::table
            .inner_join(schedules::table.on(schedules::id.eq(time_slots::schedule_id)))
            .filter(time_slots::doctor_id.eq(doctor_id))
            .filter(time_slots::date.eq(date))
            .filter(time_slots::is_available.eq(true))
            .filter(time_slots::starts_at.gt(now))
            .filter(schedules::is_active.eq(true))
            // Slots inside time off exist when they were booked once (or generated before it):
            // hidden here, refused by booking.
            // Held for a waiting patient (an open offer): nobody else sees it.
            .filter(diesel::dsl::not(diesel::dsl::exists(
                waitlist_offers::table
                    .filter(waitlist_offers::slot_id.eq(time_slots::id))
                    .filter(waitlist_offers::status.eq("OPEN"))
                    .filter(waitlist_offers::expires_at.gt(now)),
            )))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                time_off::table
                    .filter(
                        time_off::doctor_id
                            .eq(time_slots::doctor_id.nullable())
                            .or(time_off::doctor_id.is_null()),
                    )
                    .filter(time_off::starts_at.lt(time_slots::ends_at))
                    .filter(time_off::ends_at.gt(time_slots::starts_at)),
            )))
            .order(time_slots::starts_at.asc())
            .select((SlotRow::as_select(), ScheduleRow::as_select()))
            .load(&mut conn)
            .await
            .db()?;
        Ok(rows
            .into_iter()
            .filter_map(|(r, schedule)| {
                Schedule::from(schedule)
                    .generates(r.date, r.start_time, r.end_time)
                    .then_some(r)
            })
            .map(|r| AvailableSlot {
                id: r.id,
                doctor_id: r.doctor_id,
                date: r.date,
                start_time: r.start_time,
                end_time: r.end_time,
                starts_at: r.starts_at,
                ends_at: r.ends_at,
            })
            .collect())
    }
}
