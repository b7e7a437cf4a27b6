//! The one shape of every status machine (appointments, bills): a status names the statuses it
//! may move to; a move to anything else is `InvalidTransition`, which names the allowed ones so
//! a client can show what is possible instead of guessing.

use crate::error::DomainError;

/// A status with a fixed set of next statuses.
pub trait Lifecycle: Copy + Eq + 'static {
    /// The statuses this one may move to; empty for a final status.
    fn next(self) -> &'static [Self];

    /// The stored and displayed name (`SCHEDULED`, `PAID`).
    fn name(self) -> &'static str;

    fn can_become(self, to: Self) -> bool {
        self.next().contains(&to)
    }

    fn is_final(self) -> bool {
        self.next().is_empty()
    }

    /// `Ok` if `self -> to` is allowed, else `InvalidTransition` naming the allowed moves.
    fn check_move(self, to: Self) -> Result<(), DomainError> {
        if self.can_become(to) {
            return Ok(());
        }
        Err(self.refuse(to.name()))
    }

    /// `InvalidTransition` from this status to an action that is not a status of its own
    /// (`RESCHEDULED`), naming the allowed moves.
    fn refuse(self, to: &str) -> DomainError {
        DomainError::InvalidTransition {
            from: self.name().into(),
            to: to.into(),
            allowed: self.next().iter().map(|s| s.name().to_owned()).collect(),
        }
    }
}
