//! Pagination shared by every list.

use crate::error::DomainError;

/// A validated page request: `page` from 1, `per_page` from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    pub const MAX_PER_PAGE: u32 = 100;
    /// The last page a client may ask for: deeper than any list here reaches, and small enough
    /// that `page * perPage` stays a plain 32-bit number for every client.
    pub const MAX_PAGE: u32 = 1_000_000;

    /// Defaults: page 1, 20 per page.
    pub fn parse(page: Option<u32>, per_page: Option<u32>) -> Result<Self, DomainError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(20);
        if page == 0 || page > Self::MAX_PAGE {
            return Err(DomainError::validation(
                "page",
                "page must be between 1 and 1000000",
            ));
        }
        if per_page == 0 || per_page > Self::MAX_PER_PAGE {
            return Err(DomainError::validation(
                "perPage",
                "perPage must be between 1 and 100",
            ));
        }
        Ok(Self { page, per_page })
    }

    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: 20,
        }
    }
}

/// One page of results and the total across all pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest {
                page: 1,
                per_page: 20
            }
        );
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(None, Some(101)).is_err());
        assert_eq!(PageRequest::parse(Some(3), Some(10)).unwrap().offset(), 20);
    }
}
