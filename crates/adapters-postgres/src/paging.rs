//! Pages of query results: keyset positions and capped totals (see `domain::paging`).

use chrono::{DateTime, Utc};
use diesel::dsl::{sql, AsExprOf};
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::sql_types::{Bool, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

/// A row comparison `(key, tie) > (k, t)` (or `<`) with its two values bound.
pub(crate) type After<K, KT> = SqlLiteral<
    Bool,
    UncheckedBind<
        SqlLiteral<Bool, UncheckedBind<SqlLiteral<Bool>, AsExprOf<K, KT>>>,
        AsExprOf<Uuid, SqlUuid>,
    >,
>;

/// Rows after `(at, id)` in a list ordered by `columns` (`"(t.col, t.id)"`), ascending or
/// descending in both. A row comparison rather than `a > k OR (a = k AND id > t)`: PostgreSQL
/// reads it as one range of a `(col, id)` index, so a deep page costs what page 1 costs.
pub(crate) fn after_at(
    columns: &str,
    descending: bool,
    (at, id): (DateTime<Utc>, Uuid),
) -> After<DateTime<Utc>, Timestamptz> {
    let op = if descending { "<" } else { ">" };
    sql::<Bool>(&format!("{columns} {op} ("))
        .bind::<Timestamptz, _>(at)
        .sql(", ")
        .bind::<SqlUuid, _>(id)
        .sql(")")
}

/// Rows after `(name, id)` in a list ordered by `columns` ascending.
pub(crate) fn after_name(columns: &str, (name, id): (&str, Uuid)) -> After<String, Text> {
    sql::<Bool>(&format!("{columns} > ("))
        .bind::<Text, _>(name.to_owned())
        .sql(", ")
        .bind::<SqlUuid, _>(id)
        .sql(")")
}

/// Runs a list on fresh copies of the boxed query `$build()`: the page of `$select` rows in
/// `$order`, after the keyset condition `$after` (an `Option` of [`after_at`]/[`after_name`]),
/// one row more than asked (that row only says a next page exists); then, unless a short first
/// page already gave it, the total counted up to `domain::paging::TOTAL_CAP`: a probe for a
/// row past the cap (bounded work), and an exact `count(*)` only when there is none.
/// Evaluates to `(rows, Total)`; errors go through `DbResultExt::db` and `?`. A macro rather
/// than a generic function because diesel-async's boxed queries inside `async_trait` methods
/// trip rustc's higher-ranked lifetime check ("`Query` is not general enough").
macro_rules! keyset_page {
    ($conn:expr, $build:ident, $select:expr, $order:expr, $after:expr, $page:expr) => {{
        use crate::errors::DbResultExt as _;
        use domain::paging::{Total, TOTAL_CAP};
        let page: &domain::paging::PageRequest = &$page;
        let mut q = $build()
            .select($select)
            .order($order)
            .offset(page.offset())
            .limit(page.limit() + 1);
        if let Some(after) = $after {
            q = q.filter(after);
        }
        let rows: Vec<_> = q.load($conn).await.db()?;
        let total = match page.total_from_rows(rows.len()) {
            Some(total) => total,
            None => {
                let beyond: Option<i32> = $build()
                    .select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
                    .offset(TOTAL_CAP as i64)
                    .limit(1)
                    .get_result($conn)
                    .await
                    .optional()
                    .db()?;
                if beyond.is_some() {
                    Total::at_least_cap()
                } else {
                    let count: i64 = $build().count().get_result($conn).await.db()?;
                    Total::exact(u64::try_from(count).unwrap_or(0))
                }
            }
        };
        (rows, total)
    }};
}
pub(crate) use keyset_page;
