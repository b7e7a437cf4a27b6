//! A circuit breaker for one store: once the store is known to be failing, calls stop waiting
//! on it.
//!
//! Without it, a hung store (accepting connections, never answering) costs every call the
//! whole store timeout, one after the other: a public request that touches Redis three times
//! waited three timeouts. With it, after [`BreakerPolicy::failures`] consecutive failures the
//! breaker opens and calls are refused at once (each feature then falls back exactly as when
//! the store is down). Requests never test an open breaker's store themselves: a probe does,
//! at most once per [`BreakerPolicy::cooldown`] ([`CircuitBreaker::probe_due`]), off the
//! request path; the first success (of the probe, or of any call still in flight) closes it.
//!
//! The clock is injected so the state machine is tested without waiting. The application
//! gives it the system clock, not the clock tests move for business rules.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use crate::clock::Clock;

/// When to open and how long to stay open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker (at least 1).
    pub failures: u32,
    /// How long an open breaker refuses calls before letting one trial through.
    pub cooldown: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls go through; `failures` consecutive ones have failed.
    Closed { failures: u32 },
    /// Calls are refused; the store is probed again from `next_probe`.
    Open { next_probe: DateTime<Utc> },
}

/// What a reported outcome did to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// It was closed and this failure opened it: start probing the store.
    Opened,
    /// It was open and this success closed it.
    Closed,
    /// No change of state.
    Unchanged,
}

/// The breaker of one store (`name` is the store's, for the logs). Shared by every caller.
pub struct CircuitBreaker {
    name: &'static str,
    policy: BreakerPolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(name: &'static str, policy: BreakerPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            name,
            policy: BreakerPolicy {
                failures: policy.failures.max(1),
                cooldown: policy.cooldown,
            },
            clock,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// The store's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The policy in force.
    pub fn policy(&self) -> BreakerPolicy {
        self.policy
    }

    /// Whether the breaker is open (the store is considered failing).
    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { .. })
    }

    /// Whether a call may be made now: `false` while open (fail fast, fall back).
    pub fn admit(&self) -> bool {
        !self.is_open()
    }

    /// Whether the probe should test the store now: the breaker is open and a cooldown has
    /// passed since it opened or since the last probe began. Saying yes schedules the next
    /// one, so however many tasks ask, the store sees one probe per cooldown.
    pub fn probe_due(&self) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => false,
            State::Open { next_probe } => {
                let now = self.clock.now();
                if now < next_probe {
                    return false;
                }
                *state = State::Open {
                    next_probe: now + self.policy.cooldown,
                };
                true
            }
        }
    }

    /// The store answered: the breaker closes.
    pub fn succeeded(&self) -> Transition {
        let mut state = self.lock();
        let was_open = matches!(*state, State::Open { .. });
        *state = State::Closed { failures: 0 };
        if was_open {
            tracing::info!(store = self.name, "store answers again; circuit closed");
            Transition::Closed
        } else {
            Transition::Unchanged
        }
    }

    /// The store failed (unreachable, timed out): counts towards opening.
    pub fn failed(&self) -> Transition {
        let mut state = self.lock();
        match *state {
            State::Closed { failures } if failures + 1 < self.policy.failures => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                Transition::Unchanged
            }
            State::Closed { .. } => {
                tracing::warn!(
                    store = self.name,
                    failures = self.policy.failures,
                    probe_every_ms = self.policy.cooldown.num_milliseconds(),
                    "store failing; circuit open: calls fail fast until a probe sees it back"
                );
                *state = State::Open {
                    next_probe: self.clock.now() + self.policy.cooldown,
                };
                Transition::Opened
            }
            State::Open { .. } => Transition::Unchanged,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("state", &*self.lock())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn breaker() -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::starting_now());
        let policy = BreakerPolicy {
            failures: 3,
            cooldown: Duration::seconds(5),
        };
        (CircuitBreaker::new("redis", policy, clock.clone()), clock)
    }

    #[test]
    fn opens_after_the_configured_consecutive_failures_only() {
        let (b, _) = breaker();
        assert_eq!(b.failed(), Transition::Unchanged);
        assert_eq!(b.failed(), Transition::Unchanged);
        assert!(b.admit(), "two failures are not three");
        assert_eq!(b.succeeded(), Transition::Unchanged);
        b.failed();
        b.failed();
        assert!(b.admit(), "a success in between starts the count again");
        assert_eq!(b.failed(), Transition::Opened);
        assert!(b.is_open());
        assert!(!b.admit());
        assert_eq!(
            b.failed(),
            Transition::Unchanged,
            "late failures of calls already in flight do not open it twice"
        );
    }

    #[test]
    fn an_open_breaker_refuses_every_call_and_is_probed_once_per_cooldown() {
        let (b, clock) = breaker();
        (0..3).for_each(|_| {
            b.failed();
        });
        clock.advance(Duration::milliseconds(4_999));
        assert!(!b.probe_due(), "still cooling down");
        assert!(!b.admit());
        clock.advance(Duration::milliseconds(1));
        assert!(b.probe_due());
        assert!(!b.probe_due(), "one probe per cooldown, whoever asks");
        assert!(!b.admit(), "requests never test the store themselves");
        // That probe failed (or never reported): the next one a cooldown after it began.
        clock.advance(Duration::milliseconds(4_999));
        assert!(!b.probe_due());
        clock.advance(Duration::milliseconds(1));
        assert!(b.probe_due());
    }

    #[test]
    fn a_success_closes_it_and_the_count_starts_again() {
        let (b, clock) = breaker();
        (0..3).for_each(|_| {
            b.failed();
        });
        clock.advance(Duration::seconds(5));
        assert!(b.probe_due());
        assert_eq!(b.succeeded(), Transition::Closed);
        assert!(!b.is_open());
        assert!(b.admit());
        assert!(!b.probe_due(), "nothing to probe while closed");
        b.failed();
        assert!(b.admit(), "closed again: one failure is not three");
    }

    #[test]
    fn a_policy_of_zero_failures_still_needs_one() {
        let clock = Arc::new(ManualClock::starting_now());
        let b = CircuitBreaker::new(
            "mongodb",
            BreakerPolicy {
                failures: 0,
                cooldown: Duration::seconds(1),
            },
            clock,
        );
        assert!(b.admit());
        assert_eq!(b.failed(), Transition::Opened);
        assert!(!b.admit());
    }
}
