//! Pages of query results.

use domain::paging::{Page, PageRequest};

/// One page of `items` out of `total` rows (a `count(*)`, which PostgreSQL returns as bigint).
pub(crate) fn page_of<T>(items: Vec<T>, total: i64, page: PageRequest) -> Page<T> {
    Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
        page: page.page,
        per_page: page.per_page,
    }
}
