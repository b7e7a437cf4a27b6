//! Pages of query results.

use domain::paging::{Page, PageRequest};

/// Runs a list's two queries on fresh copies of the boxed query `$build()`: its `count(*)` and
/// the page of `$select` rows in `$order`. Evaluates to `(rows, total)`; errors go through
/// `DbResultExt::db` and `?`. A macro rather than a generic function because diesel-async's boxed
/// queries inside `async_trait` methods trip rustc's higher-ranked lifetime check ("`Query` is
/// not general enough").
macro_rules! count_and_page {
    ($conn:expr, $build:ident, $select:expr, $order:expr, $page:expr) => {{
        let total: i64 = crate::errors::DbResultExt::db($build().count().get_result($conn).await)?;
        let rows = crate::errors::DbResultExt::db(
            $build()
                .select($select)
                .order($order)
                .offset($page.offset())
                .limit($page.limit())
                .load($conn)
                .await,
        )?;
        (rows, total)
    }};
}
pub(crate) use count_and_page;

/// One page of `items` out of `total` rows (a `count(*)`, which PostgreSQL returns as bigint).
pub(crate) fn page_of<T>(items: Vec<T>, total: i64, page: PageRequest) -> Page<T> {
    Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
        page: page.page,
        per_page: page.per_page,
    }
}
