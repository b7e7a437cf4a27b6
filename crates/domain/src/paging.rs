//! Pagination shared by every list.
//!
//! A list is read in pages of `per_page` items, reached in one of two ways:
//! - **by number** (`page`), for the first pages a screen shows. The number is bounded
//!   ([`PageRequest::MAX_PAGE`]) because a page number is an OFFSET, and an OFFSET walks every
//!   row before it: page 400,000 of ten million appointments would read eight million rows;
//! - **by cursor** (`cursor`), for going deeper: every page of a deep list answers with
//!   `nextCursor`, the position after its last item, and the next page is read from there by the
//!   list's index (a keyset), so page 1 and page 100,000 cost the same.
//!
//! The total is counted up to [`TOTAL_CAP`] matching items: a count reads every matching row,
//! which at ten million appointments takes seconds on every page. Past the cap the answer says
//! `total: 1000, totalIsExact: false` ("more than 1,000"), which is what a screen shows anyway
//! (50 pages of 20). The cap is the cost of the count on every page: with 10,000 it made page 1
//! of the desk's list 6 times dearer than the page itself (measured, `make bench-scale`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::DomainError;

/// Totals are exact up to this many items; past it, a page says "at least this many".
pub const TOTAL_CAP: u64 = 1_000;

/// A validated page request: `page` from 1 (or a cursor), `per_page` from 1 to 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
    /// Read the items after this position instead of page `page` (which is then 1).
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub const MAX_PER_PAGE: u32 = 100;
    /// The deepest page reached by number: at most 49,900 rows are skipped (page 500 of 100),
    /// a bounded cost; deeper pages are read by cursor.
    pub const MAX_PAGE: u32 = 500;

    /// Defaults: page 1, 20 per page. `cursor` and `page` are exclusive: a cursor already says
    /// where the page starts.
    pub fn parse(
        page: Option<u32>,
        per_page: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Self, DomainError> {
        let per_page = per_page.unwrap_or(20);
        if per_page == 0 || per_page > Self::MAX_PER_PAGE {
            return Err(DomainError::validation(
                "perPage",
                "perPage must be between 1 and 100",
            ));
        }
        let after = cursor.map(Cursor::parse).transpose()?;
        if after.is_some() && page.is_some() {
            return Err(DomainError::validation(
                "cursor",
                "give either page or cursor, not both: the cursor already says where the page starts",
            ));
        }
        let page = page.unwrap_or(1);
        if page == 0 || page > Self::MAX_PAGE {
            return Err(DomainError::validation(
                "page",
                "page must be between 1 and 500; read deeper pages with the nextCursor of the page before",
            ));
        }
        Ok(Self {
            page,
            per_page,
            after,
        })
    }

    /// Rows skipped before the page (none when reading from a cursor).
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    /// Whether this is the list's first page (where a short page gives the exact total).
    pub fn is_first(&self) -> bool {
        self.page == 1 && self.after.is_none()
    }

    /// Builds the page from up to `per_page + 1` loaded `rows` (the extra row only says that
    /// more follow) and the list's total, counted by the adapter through `count` when the rows
    /// alone do not give it. `position` gives an item's cursor.
    pub fn page_of<T>(
        &self,
        mut rows: Vec<T>,
        total: Total,
        position: impl Fn(&T) -> Cursor,
    ) -> Page<T> {
        let more = rows.len() > self.per_page as usize;
        rows.truncate(self.per_page as usize);
        let next = if more {
            rows.last().map(&position)
        } else {
            None
        };
        Page {
            items: rows,
            total: total.count,
            total_is_exact: total.exact,
            page: self.after.is_none().then_some(self.page),
            per_page: self.per_page,
            next,
        }
    }

    /// The total when the first page holds every item: `loaded` rows were read with a limit of
    /// `per_page + 1`, so fewer than that on the first page is the whole list.
    pub fn total_from_rows(&self, loaded: usize) -> Option<Total> {
        (self.is_first() && loaded <= self.per_page as usize).then(|| Total::exact(loaded as u64))
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: 20,
            after: None,
        }
    }
}

/// How many items a list holds, exactly or as "at least".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub count: u64,
    pub exact: bool,
}

impl Total {
    pub fn exact(count: u64) -> Self {
        Self { count, exact: true }
    }

    /// More than [`TOTAL_CAP`] items: the count stops there.
    pub fn at_least_cap() -> Self {
        Self {
            count: TOTAL_CAP,
            exact: false,
        }
    }
}

/// A position in a list: the sort key of the last item read and its id (the tie-break), so the
/// next page starts strictly after it whatever was inserted meanwhile. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// Lists ordered by a time, ties by id (appointments, bills, notifications, ...).
    At(DateTime<Utc>, Uuid),
    /// Lists ordered by a name, ties by id (patients, users).
    Name(String, Uuid),
    /// Lists ordered by a time, ties by a sequence number (the audit log).
    Seq(DateTime<Utc>, i64),
    /// A notification inbox: unread first, then newest first, ties by id.
    Inbox {
        read: bool,
        at: DateTime<Utc>,
        id: Uuid,
    },
}

impl Cursor {
    /// Longest encoded cursor: `n`, a 120-character name (at most 480 UTF-8 bytes, 960 in
    /// hex), `.` and a 32-digit id.
    pub const MAX_LEN: usize = 994;
    /// What an encoded cursor looks like, for the API document.
    pub const PATTERN: &'static str = "^[tnsur][0-9a-f-]{0,960}\\.[0-9a-f-]{1,36}$";

    /// `t<microseconds>.<uuid>`, `n<hex of the name>.<uuid>`, `s<microseconds>.<sequence>`:
    /// URL-safe as they are, so a client passes them back without encoding.
    pub fn encode(&self) -> String {
        match self {
            Self::At(at, id) => format!("t{}.{}", at.timestamp_micros(), id.simple()),
            Self::Name(name, id) => {
                let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
                format!("n{hex}.{}", id.simple())
            }
            Self::Seq(at, seq) => format!("s{}.{seq}", at.timestamp_micros()),
            Self::Inbox { read, at, id } => {
                let kind = if *read { 'r' } else { 'u' };
                format!("{kind}{}.{}", at.timestamp_micros(), id.simple())
            }
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::decode(raw).ok_or_else(|| {
            DomainError::validation(
                "cursor",
                "not a cursor of this list: pass back a nextCursor exactly as it was given",
            )
        })
    }

    fn decode(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.is_ascii() {
            return None;
        }
        let (kind, rest) = raw.split_at(1);
        let (key, tie) = rest.rsplit_once('.')?;
        let at = |key: &str| {
            key.parse::<i64>()
                .ok()
                .and_then(DateTime::<Utc>::from_timestamp_micros)
        };
        let id = |tie: &str| (tie.len() == 32).then(|| Uuid::try_parse(tie).ok())?;
        match kind {
            "t" => Some(Self::At(at(key)?, id(tie)?)),
            "s" => Some(Self::Seq(at(key)?, tie.parse().ok()?)),
            "u" | "r" => Some(Self::Inbox {
                read: kind == "r",
                at: at(key)?,
                id: id(tie)?,
            }),
            "n" => {
                if key.len() % 2 != 0 {
                    return None;
                }
                let bytes = (0..key.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&key[i..i + 2], 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some(Self::Name(String::from_utf8(bytes).ok()?, id(tie)?))
            }
            _ => None,
        }
    }

    /// The cursor as an `(at, id)` position, or a 422 when it belongs to another kind of list.
    pub fn at(&self) -> Result<(DateTime<Utc>, Uuid), DomainError> {
        match self {
            Self::At(at, id) => Ok((*at, *id)),
            _ => Err(Self::foreign()),
        }
    }

    /// The cursor as a `(name, id)` position, or a 422 when it belongs to another kind of list.
    pub fn name(&self) -> Result<(&str, Uuid), DomainError> {
        match self {
            Self::Name(name, id) => Ok((name, *id)),
            _ => Err(Self::foreign()),
        }
    }

    /// The cursor as an `(at, sequence)` position, or a 422 when it belongs to another list.
    pub fn seq(&self) -> Result<(DateTime<Utc>, i64), DomainError> {
        match self {
            Self::Seq(at, seq) => Ok((*at, *seq)),
            _ => Err(Self::foreign()),
        }
    }

    /// The cursor as an inbox position `(read, at, id)`, or a 422 for another list's cursor.
    pub fn inbox(&self) -> Result<(bool, DateTime<Utc>, Uuid), DomainError> {
        match self {
            Self::Inbox { read, at, id } => Ok((*read, *at, *id)),
            _ => Err(Self::foreign()),
        }
    }

    fn foreign() -> DomainError {
        DomainError::validation(
            "cursor",
            "this cursor belongs to another list: pass back the nextCursor this list gave",
        )
    }
}

/// One page of results, the total across all pages and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Matching items, counted up to [`TOTAL_CAP`].
    pub total: u64,
    /// False when `total` stopped at the cap: there are more.
    pub total_is_exact: bool,
    /// The page number, or `None` for a page read by cursor.
    pub page: Option<u32>,
    pub per_page: u32,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            total_is_exact: self.total_is_exact,
            page: self.page,
            per_page: self.per_page,
            next: self.next,
        }
    }

    /// A page of items known in full (short in-memory lists).
    pub fn whole(items: Vec<T>, page: &PageRequest) -> Self {
        Self {
            total: items.len() as u64,
            total_is_exact: true,
            items,
            page: Some(page.page),
            per_page: page.per_page,
            next: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn bounds() {
        assert_eq!(
            PageRequest::parse(None, None, None).unwrap(),
            PageRequest::default()
        );
        assert!(PageRequest::parse(Some(0), None, None).is_err());
        assert!(PageRequest::parse(Some(501), None, None).is_err());
        assert!(PageRequest::parse(None, Some(101), None).is_err());
        assert_eq!(
            PageRequest::parse(Some(3), Some(10), None)
                .unwrap()
                .offset(),
            20
        );
    }

    #[test]
    fn page_and_cursor_are_exclusive() {
        let c = Cursor::At(Utc::now(), Uuid::new_v4()).encode();
        let err = PageRequest::parse(Some(2), None, Some(&c)).unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "cursor"));
        let from_cursor = PageRequest::parse(None, Some(5), Some(&c)).unwrap();
        assert_eq!(from_cursor.offset(), 0);
        assert!(!from_cursor.is_first());
    }

    #[test]
    fn cursors_round_trip() {
        let at = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        let id = Uuid::new_v4();
        for cursor in [
            Cursor::At(at, id),
            Cursor::At(Utc.timestamp_micros(-5).unwrap(), id),
            Cursor::Name("Zoë O'Brien-Łukasz".into(), id),
            Cursor::Name(String::new(), id),
            Cursor::Name("\u{1F600}".repeat(120), id),
            Cursor::Seq(at, 42),
            Cursor::Inbox { read: true, at, id },
            Cursor::Inbox {
                read: false,
                at,
                id,
            },
        ] {
            let encoded = cursor.encode();
            assert!(encoded.len() <= Cursor::MAX_LEN, "{}", encoded.len());
            assert!(encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
            assert_eq!(Cursor::parse(&encoded).unwrap(), cursor, "{encoded}");
        }
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        let id = Uuid::new_v4().simple().to_string();
        for raw in [
            "",
            "x",
            "t",
            "t.",
            "tabc.def",
            &format!("t12.{id}x"),
            &format!("x12.{id}"),
            &format!("n0.{id}"),
            &format!("nzz.{id}"),
            &format!("nff.{id}"),
            "s12.notanumber",
            &format!("t99999999999999999999.{id}"),
            "é",
        ] {
            let err = Cursor::parse(raw).unwrap_err();
            assert!(
                matches!(err, DomainError::Validation { ref field, .. } if field == "cursor"),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_cursor_of_another_kind_of_list_is_refused() {
        let name = Cursor::Name("Ann".into(), Uuid::new_v4());
        assert!(name.at().is_err());
        assert!(name.seq().is_err());
        assert!(Cursor::Seq(Utc::now(), 1).name().is_err());
    }

    #[test]
    fn the_extra_row_makes_the_next_cursor() {
        let request = PageRequest::parse(None, Some(2), None).unwrap();
        let at = Utc::now();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let page = request.page_of(ids.clone(), Total::exact(3), |id| Cursor::At(at, *id));
        assert_eq!(page.items, ids[..2]);
        assert_eq!(page.next, Some(Cursor::At(at, ids[1])));
        assert_eq!(page.page, Some(1));

        let last = request.page_of(ids[..2].to_vec(), Total::exact(2), |id| Cursor::At(at, *id));
        assert_eq!(last.next, None);
        assert_eq!(request.total_from_rows(2), Some(Total::exact(2)));
        assert_eq!(request.total_from_rows(3), None);
    }
}
