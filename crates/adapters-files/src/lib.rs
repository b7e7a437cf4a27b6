//! File stores behind the domain's [`domain::medical_records::FileStore`] port.
//!
//! - [`LocalDirStore`] (default, `FILE_STORE=local`): files under one directory. Writes go to
//!   `<root>/.partial/<random>` and are renamed into place on finish, so a file appears whole
//!   or not at all; an aborted or dropped writer removes its partial file.
//! - [`ObjectStoreFiles`] (`FILE_STORE=s3`): any S3-compatible bucket through the
//!   `object_store` crate, written with a multipart upload that is aborted on failure.
//!
//! Keys come from ids only (`medical-records/<patient>/<record>`); both adapters still refuse
//! a key with an empty, `.` or `..` component, so no key can leave the store.

mod local;
mod s3;

pub use local::LocalDirStore;
pub use s3::{ObjectStoreFiles, S3Config};

use domain::error::DomainError;

/// Refuses keys that could escape the store's root.
fn check_key(key: &str) -> Result<(), DomainError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(DomainError::broken(format!("unsafe storage key {key:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_cannot_escape_the_root() {
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a/.."] {
            assert!(super::check_key(bad).is_err(), "{bad}");
        }
        assert!(super::check_key("medical-records/p/r").is_ok());
    }
}
