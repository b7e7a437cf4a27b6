//! Authentication at the HTTP edge: access tokens, password hashing, the `AuthUser`
//! extractor and the client's request metadata. Authorisation itself is decided in the domain.

pub mod extractor;
pub mod password;
pub mod tokens;

pub use extractor::{AuthUser, MaybeAuthUser, Meta};
