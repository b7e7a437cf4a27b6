//! The waitlist in PostgreSQL (see `domain::waitlist` for the rules).
//!
//! Statuses are short strings under CHECK constraints. Exactly one open offer per slot and per
//! entry is kept by the partial unique indexes of migration 000022; matching also locks the
//! entry and the slot it pairs (`FOR UPDATE ... SKIP LOCKED`) so processes matching at once
//! pick different pairs instead of queueing.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Date, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::appointments::{Booked, NewBooking};
use domain::audit::{AuditAction, AuditEvent, RequestMeta};
use domain::error::{Conflict, DomainError};
use domain::notifications::NotificationType;
use domain::paging::{Cursor, Page, PageRequest};
use domain::waitlist::{
    offer_notice, Offer, PartOfDay, WaitlistEntry, WaitlistFilter, WaitlistRepository,
    WaitlistStatus,
};
use uuid::Uuid;

use crate::appointments::{book_in, insert_user_notices};
use crate::audit_outbox::insert_events;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::paging::{after_at, keyset_page};
use crate::schema::{time_slots, waitlist_entries, waitlist_offers};
use crate::PgPool;

const OPEN: &str = "OPEN";

/// Closes the open offers on `slot_ids` with `status`; returns their entries.
async fn close_open_on(
    conn: &mut AsyncPgConnection,
    slot_ids: &[Uuid],
    status: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, diesel::result::Error> {
    diesel::update(
        waitlist_offers::table
            .filter(waitlist_offers::slot_id.eq_any(slot_ids))
            .filter(waitlist_offers::status.eq(OPEN)),
    )
    .set((
        waitlist_offers::status.eq(status),
        waitlist_offers::decided_at.eq(now),
    ))
    .returning(waitlist_offers::entry_id)
    .get_results(conn)
    .await
}

/// Slots about to be withdrawn (time off, a changed schedule) or put out of reach (time off
/// over a slot kept for its history): their open offers end, and the entries holding them wait
/// again. Called with the slots already locked, so no offer is made on them meanwhile.
pub(crate) async fn release_offers_on(
    conn: &mut AsyncPgConnection,
    slot_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    let entries = close_open_on(conn, slot_ids, "EXPIRED", now).await?;
    back_to_waiting(conn, entries, now).await
}

/// The held slot was booked by its patient: the offer is ACCEPTED and its entry BOOKED.
pub(crate) async fn close_accepted(
    conn: &mut AsyncPgConnection,
    slot_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    let entries = close_open_on(conn, &[slot_id], "ACCEPTED", now).await?;
    diesel::update(waitlist_entries::table.filter(waitlist_entries::id.eq_any(entries)))
        .set((
            waitlist_entries::status.eq(WaitlistStatus::Booked.as_str()),
            waitlist_entries::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = waitlist_entries, check_for_backend(diesel::pg::Pg))]
struct EntryRow {
    id: Uuid,
    patient_id: Uuid,
    doctor_id: Uuid,
    from_date: NaiveDate,
    to_date: NaiveDate,
    part_of_day: Option<String>,
    status: String,
    created_by: Uuid,
    created_at: DateTime<Utc>,
}

impl EntryRow {
    fn into_entry(self, offer: Option<Offer>) -> Result<WaitlistEntry, DomainError> {
        let broken = || DomainError::broken("stored waitlist status unknown");
        Ok(WaitlistEntry {
            id: self.id,
            patient_id: self.patient_id,
            doctor_id: self.doctor_id,
            from: self.from_date,
            to: self.to_date,
            part_of_day: match self.part_of_day {
                Some(p) => Some(PartOfDay::parse(&p).ok_or_else(broken)?),
                None => None,
            },
            status: WaitlistStatus::parse(&self.status).ok_or_else(broken)?,
            created_by: self.created_by,
            created_at: self.created_at,
            offer,
        })
    }
}

type OfferRow = (
    Uuid,
    Uuid,
    Uuid,
    Uuid,
    Uuid,
    NaiveDate,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
);

fn offer_of(r: OfferRow) -> Offer {
    let (
        id,
        entry_id,
        patient_id,
        doctor_id,
        slot_id,
        slot_date,
        starts_at,
        ends_at,
        expires_at,
        status,
    ) = r;
    Offer {
        id,
        entry_id,
        patient_id,
        doctor_id,
        slot_id,
        slot_date,
        starts_at,
        ends_at,
        expires_at,
        open: status == OPEN,
    }
}

/// Offers with their slots' facts, selected as an [`OfferRow`].
macro_rules! offers_with_slots {
    () => {
        waitlist_offers::table
            .inner_join(time_slots::table)
            .select((
                waitlist_offers::id,
                waitlist_offers::entry_id,
                waitlist_offers::patient_id,
                time_slots::doctor_id,
                time_slots::id,
                time_slots::date,
                time_slots::starts_at,
                time_slots::ends_at,
                waitlist_offers::expires_at,
                waitlist_offers::status,
            ))
    };
}

/// Open offers with their slots' facts.
macro_rules! open_offers {
    () => {
        offers_with_slots!().filter(waitlist_offers::status.eq(OPEN))
    };
}

async fn open_offers_of(
    conn: &mut AsyncPgConnection,
    entries: Vec<Uuid>,
) -> Result<Vec<Offer>, diesel::result::Error> {
    let rows: Vec<OfferRow> = open_offers!()
        .filter(waitlist_offers::entry_id.eq_any(entries))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(offer_of).collect())
}

/// Offers by id whatever their status (after an update closed them).
async fn offers_by_id(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<Vec<Offer>, diesel::result::Error> {
    let rows: Vec<OfferRow> = offers_with_slots!()
        .filter(waitlist_offers::id.eq_any(ids))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(offer_of).collect())
}

/// Entries whose offer closed without a booking wait again.
async fn back_to_waiting(
    conn: &mut AsyncPgConnection,
    entries: Vec<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    diesel::update(
        waitlist_entries::table
            .filter(waitlist_entries::id.eq_any(entries))
            .filter(waitlist_entries::status.eq(WaitlistStatus::Offered.as_str())),
    )
    .set((
        waitlist_entries::status.eq(WaitlistStatus::Waiting.as_str()),
        waitlist_entries::updated_at.eq(now),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// A pair matching found: the entry, its patient's user, and the slot.
#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = SqlUuid)]
    entry_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    patient_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    patient_user_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    doctor_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    slot_id: Uuid,
    #[diesel(sql_type = Date)]
    slot_date: NaiveDate,
    #[diesel(sql_type = Timestamptz)]
    starts_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    ends_at: DateTime<Utc>,
}

/// The oldest WAITING entry with a matching slot, and its earliest such slot, both locked
/// (rows another transaction holds are skipped). See `domain::waitlist` for what matches.
static NEXT_PAIR: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    NEXT_PAIR_TEMPLATE.replace("{on_schedule}", &crate::scheduling::on_schedule("s", "sc"))
});

const NEXT_PAIR_TEMPLATE: &str = "
SELECT e.id AS entry_id, e.patient_id, p.user_id AS patient_user_id, e.doctor_id,
       s.id AS slot_id, s.date AS slot_date, s.starts_at, s.ends_at
  FROM waitlist_entries e
  JOIN patients p ON p.id = e.patient_id
  JOIN time_slots s ON s.doctor_id = e.doctor_id
                   AND s.date BETWEEN e.from_date AND e.to_date
                   AND s.start_time >= e.earliest
                   AND (e.latest IS NULL OR s.start_time < e.latest)
  JOIN schedules sc ON sc.id = s.schedule_id AND {on_schedule}
 WHERE e.status = 'WAITING'
   AND s.is_available
   AND s.starts_at > $1
   AND NOT EXISTS (SELECT 1 FROM waitlist_offers o WHERE o.slot_id = s.id AND o.status = 'OPEN')
   AND NOT EXISTS (SELECT 1 FROM waitlist_offers o WHERE o.slot_id = s.id AND o.entry_id = e.id)
   AND NOT EXISTS (SELECT 1 FROM time_off t
                    WHERE (t.doctor_id = s.doctor_id OR t.doctor_id IS NULL)
                      AND t.starts_at < s.ends_at AND t.ends_at > s.starts_at)
   AND NOT EXISTS (SELECT 1 FROM appointments a
                    WHERE a.patient_id = e.patient_id
                      AND a.status IN ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS')
                      AND a.starts_at < s.ends_at AND a.ends_at > s.starts_at)
 ORDER BY e.created_at, e.id, s.starts_at, s.id
 LIMIT 1
 FOR UPDATE OF e, s SKIP LOCKED";

/// One offer, or `Ok(None)` when nothing matches; `Err(SlotHeld)` when another process
/// offered the slot between this one's snapshot and its lock (the caller tries again).
async fn offer_in(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    hold: Duration,
) -> Result<Option<Offer>, TxError> {
    let expires_at = now + hold;
    let pair: Option<Pair> = diesel::sql_query(NEXT_PAIR.as_str())
        .bind::<Timestamptz, _>(expires_at)
        .get_result(conn)
        .await
        .optional()?;
    let Some(pair) = pair else {
        return Ok(None);
    };
    let offer = Offer {
        id: Uuid::new_v4(),
        entry_id: pair.entry_id,
        patient_id: pair.patient_id,
        doctor_id: pair.doctor_id,
        slot_id: pair.slot_id,
        slot_date: pair.slot_date,
        starts_at: pair.starts_at,
        ends_at: pair.ends_at,
        expires_at,
        open: true,
    };
    let inserted = diesel::insert_into(waitlist_offers::table)
        .values((
            waitlist_offers::id.eq(offer.id),
            waitlist_offers::entry_id.eq(offer.entry_id),
            waitlist_offers::patient_id.eq(offer.patient_id),
            waitlist_offers::slot_id.eq(offer.slot_id),
            waitlist_offers::expires_at.eq(expires_at),
            waitlist_offers::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 0 {
        return Err(DomainError::Conflict(Conflict::SlotHeld).into());
    }
    diesel::update(waitlist_entries::table.find(offer.entry_id))
        .set((
            waitlist_entries::status.eq(WaitlistStatus::Offered.as_str()),
            waitlist_entries::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    let notice = offer_notice(&offer, pair.patient_user_id);
    insert_user_notices(conn, NotificationType::General, &[(None, &notice)]).await?;
    let event = AuditEvent::new(
        None,
        AuditAction::Create,
        "waitlist_offer",
        Some(offer.id),
        &RequestMeta::default(),
    )
    .after(offer.snapshot());
    insert_events(conn, std::slice::from_ref(&event)).await?;
    Ok(Some(offer))
}

#[derive(Clone)]
pub struct PgWaitlistRepository {
    pub pool: PgPool,
}

#[async_trait]
impl WaitlistRepository for PgWaitlistRepository {
    async fn join(&self, entry: WaitlistEntry, event: AuditEvent) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let (earliest, latest) = entry
            .part_of_day
            .map(PartOfDay::bounds)
            .unwrap_or((NaiveTime::MIN, None));
        conn.transaction::<(), TxError, _>(async move |conn| {
            diesel::insert_into(waitlist_entries::table)
                .values((
                    waitlist_entries::id.eq(entry.id),
                    waitlist_entries::patient_id.eq(entry.patient_id),
                    waitlist_entries::doctor_id.eq(entry.doctor_id),
                    waitlist_entries::from_date.eq(entry.from),
                    waitlist_entries::to_date.eq(entry.to),
                    waitlist_entries::part_of_day.eq(entry.part_of_day.map(PartOfDay::as_str)),
                    waitlist_entries::earliest.eq(earliest),
                    waitlist_entries::latest.eq(latest),
                    waitlist_entries::status.eq(entry.status.as_str()),
                    waitlist_entries::created_by.eq(entry.created_by),
                    waitlist_entries::created_at.eq(entry.created_at),
                    waitlist_entries::updated_at.eq(entry.created_at),
                ))
                .execute(conn)
                .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<WaitlistEntry>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<EntryRow> = waitlist_entries::table
            .find(id)
            .select(EntryRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        let Some(row) = row else { return Ok(None) };
        let offer = open_offers_of(&mut conn, vec![id]).await.db()?.pop();
        row.into_entry(offer).map(Some)
    }

    async fn list(
        &self,
        filter: WaitlistFilter,
        page: PageRequest,
    ) -> Result<Page<WaitlistEntry>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || {
            let mut q = waitlist_entries::table.into_boxed();
            if let Some(p) = filter.patient_id {
                q = q.filter(waitlist_entries::patient_id.eq(p));
            }
            if let Some(d) = filter.doctor_id {
                q = q.filter(waitlist_entries::doctor_id.eq(d));
            }
            if let Some(s) = filter.status {
                q = q.filter(waitlist_entries::status.eq(s.as_str()));
            }
            q
        };
        let after = page.after.as_ref().map(|c| c.at()).transpose()?;
        let keyset = after.map(|position| {
            after_at(
                "(waitlist_entries.created_at, waitlist_entries.id)",
                false,
                position,
            )
        });
        let (rows, total) = keyset_page!(
            &mut conn,
            build,
            EntryRow::as_select(),
            (
                waitlist_entries::created_at.asc(),
                waitlist_entries::id.asc()
            ),
            keyset,
            page
        );
        let ids = rows.iter().map(|r: &EntryRow| r.id).collect();
        let offers = open_offers_of(&mut conn, ids).await.db()?;
        let entries = rows
            .into_iter()
            .map(|row| {
                let offer = offers.iter().find(|o| o.entry_id == row.id).cloned();
                row.into_entry(offer)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.page_of(entries, total, |e| Cursor::At(e.created_at, e.id)))
    }

    async fn leave(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        event: AuditEvent,
    ) -> Result<Option<Offer>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let released = conn
            .transaction::<Option<Offer>, TxError, _>(async move |conn| {
                // The entry first: an offer being made on it commits before we read its
                // offers (so none is left open behind a LEFT entry).
                waitlist_entries::table
                    .find(id)
                    .select(waitlist_entries::id)
                    .for_update()
                    .first::<Uuid>(conn)
                    .await
                    .optional()?;
                let released: Vec<Uuid> = diesel::update(
                    waitlist_offers::table
                        .filter(waitlist_offers::entry_id.eq(id))
                        .filter(waitlist_offers::status.eq(OPEN)),
                )
                .set((
                    waitlist_offers::status.eq("DECLINED"),
                    waitlist_offers::decided_at.eq(now),
                ))
                .returning(waitlist_offers::id)
                .get_results(conn)
                .await?;
                let n = diesel::update(
                    waitlist_entries::table
                        .filter(waitlist_entries::id.eq(id))
                        .filter(waitlist_entries::status.eq_any(["WAITING", "OFFERED"])),
                )
                .set((
                    waitlist_entries::status.eq(WaitlistStatus::Left.as_str()),
                    waitlist_entries::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
                if n == 0 {
                    return Err(DomainError::Conflict(Conflict::StaleStatus).into());
                }
                let released = offers_by_id(conn, &released).await?.pop();
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(released)
            })
            .await?;
        Ok(released)
    }

    async fn offer(&self, id: Uuid) -> Result<Option<Offer>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let row: Option<OfferRow> = offers_with_slots!()
            .filter(waitlist_offers::id.eq(id))
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(row.map(offer_of))
    }

    async fn accept(
        &self,
        offer_id: Uuid,
        booking: NewBooking,
        meta: RequestMeta,
    ) -> Result<Booked, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let booked = conn
            .transaction::<Booked, TxError, _>(async move |conn| {
                // Lock order everywhere: slot, then offer, then entry (as booking does).
                time_slots::table
                    .find(booking.slot_id)
                    .select(time_slots::id)
                    .for_update()
                    .first::<Uuid>(conn)
                    .await
                    .optional()?;
                let open: Option<DateTime<Utc>> = waitlist_offers::table
                    .find(offer_id)
                    .filter(waitlist_offers::status.eq(OPEN))
                    .filter(waitlist_offers::slot_id.eq(booking.slot_id))
                    .select(waitlist_offers::expires_at)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                if open.is_none_or(|expires_at| expires_at <= booking.now) {
                    return Err(DomainError::Conflict(Conflict::OfferClosed).into());
                }
                // Books as its patient (the hold lets it through) and closes the offer.
                book_in(conn, &booking, &meta).await
            })
            .await?;
        Ok(booked)
    }

    async fn decline(
        &self,
        offer_id: Uuid,
        now: DateTime<Utc>,
        event: AuditEvent,
    ) -> Result<Offer, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let declined = conn
            .transaction::<Offer, TxError, _>(async move |conn| {
                let closed: Vec<Uuid> = diesel::update(
                    waitlist_offers::table
                        .filter(waitlist_offers::id.eq(offer_id))
                        .filter(waitlist_offers::status.eq(OPEN)),
                )
                .set((
                    waitlist_offers::status.eq("DECLINED"),
                    waitlist_offers::decided_at.eq(now),
                ))
                .returning(waitlist_offers::id)
                .get_results(conn)
                .await?;
                let offer = offers_by_id(conn, &closed)
                    .await?
                    .pop()
                    .ok_or(DomainError::Conflict(Conflict::OfferClosed))?;
                back_to_waiting(conn, vec![offer.entry_id], now).await?;
                insert_events(conn, std::slice::from_ref(&event)).await?;
                Ok(offer)
            })
            .await?;
        Ok(declined)
    }

    async fn expire(
        &self,
        now: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<Vec<Offer>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let expired = conn
            .transaction::<Vec<Offer>, TxError, _>(async move |conn| {
                // Lock order everywhere: offer, then entry. Offers past their hold, and those
                // of entries past their last day, close first.
                let past_last_day = waitlist_entries::table
                    .filter(waitlist_entries::status.eq_any(["WAITING", "OFFERED"]))
                    .filter(waitlist_entries::to_date.lt(today))
                    .select(waitlist_entries::id);
                let ids: Vec<Uuid> = diesel::update(
                    waitlist_offers::table
                        .filter(waitlist_offers::status.eq(OPEN))
                        .filter(
                            waitlist_offers::expires_at
                                .le(now)
                                .or(waitlist_offers::entry_id.eq_any(past_last_day)),
                        ),
                )
                .set((
                    waitlist_offers::status.eq("EXPIRED"),
                    waitlist_offers::decided_at.eq(now),
                ))
                .returning(waitlist_offers::id)
                .get_results(conn)
                .await?;
                let ended: Vec<Uuid> = diesel::update(
                    waitlist_entries::table
                        .filter(waitlist_entries::status.eq_any(["WAITING", "OFFERED"]))
                        .filter(waitlist_entries::to_date.lt(today)),
                )
                .set((
                    waitlist_entries::status.eq(WaitlistStatus::Expired.as_str()),
                    waitlist_entries::updated_at.eq(now),
                ))
                .returning(waitlist_entries::id)
                .get_results(conn)
                .await?;
                let offers = offers_by_id(conn, &ids).await?;
                back_to_waiting(conn, offers.iter().map(|o| o.entry_id).collect(), now).await?;
                if !offers.is_empty() || !ended.is_empty() {
                    let event = AuditEvent::new(
                        None,
                        AuditAction::Update,
                        "waitlist_offer",
                        None,
                        &RequestMeta::default(),
                    )
                    .after(serde_json::json!({ "expiredOffers": ids, "expiredEntries": ended }));
                    insert_events(conn, std::slice::from_ref(&event)).await?;
                }
                Ok(offers)
            })
            .await?;
        Ok(expired)
    }

    async fn anyone_waiting(&self, doctor_id: Option<Uuid>) -> Result<bool, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let mut q = waitlist_entries::table
            .filter(waitlist_entries::status.eq(WaitlistStatus::Waiting.as_str()))
            .into_boxed();
        if let Some(d) = doctor_id {
            q = q.filter(waitlist_entries::doctor_id.eq(d));
        }
        diesel::select(diesel::dsl::exists(q))
            .get_result(&mut conn)
            .await
            .db()
    }

    async fn offer_next(
        &self,
        now: DateTime<Utc>,
        hold: Duration,
    ) -> Result<Option<Offer>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        // Losing a slot to another process between snapshot and lock is retried a few times.
        for _ in 0..5 {
            let attempt = conn
                .transaction::<Option<Offer>, TxError, _>(async move |conn| {
                    offer_in(conn, now, hold).await
                })
                .await;
            match attempt {
                Ok(offer) => return Ok(offer),
                Err(TxError(DomainError::Conflict(Conflict::SlotHeld))) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}
