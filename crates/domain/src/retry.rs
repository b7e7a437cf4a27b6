//! Back-off for deliveries that failed for a reason that may pass: webhooks
//! (`crate::webhooks`) and emails (`crate::email::relay`) retry on the same schedule shape,
//! each with its own settings.

use chrono::{DateTime, Duration, Utc};

/// When to try a failed delivery again: exponential back-off from `base`, doubling per
/// attempt up to `max`, for `give_up_after` from the first attempt; then the delivery is given
/// up (a webhook endpoint is switched off, an email is FAILED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub give_up_after: Duration,
}

impl RetryPolicy {
    /// After the `attempts`-th failed attempt (1 for the first) at `now`: the next attempt's
    /// time, or `None` to give up.
    pub fn next_attempt(
        &self,
        attempts: i32,
        first_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let delay = self
            .base
            .checked_mul(1 << doublings)
            .map_or(self.max, |d| d.min(self.max));
        let next = now + delay;
        (next - first_attempt_at <= self.give_up_after).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_caps_and_gives_up_after_a_day() {
        let policy = RetryPolicy {
            base: Duration::seconds(30),
            max: Duration::hours(1),
            give_up_after: Duration::hours(24),
        };
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(
            policy.next_attempt(1, t0, t0),
            Some(t0 + Duration::seconds(30))
        );
        assert_eq!(
            policy.next_attempt(2, t0, t0),
            Some(t0 + Duration::seconds(60))
        );
        assert_eq!(
            policy.next_attempt(8, t0, t0),
            Some(t0 + Duration::seconds(3840).min(Duration::hours(1)))
        );
        assert_eq!(
            policy.next_attempt(1_000, t0, t0),
            Some(t0 + Duration::hours(1))
        );
        // Walk the schedule: attempts stop a day after the first.
        let (mut now, mut attempts) = (t0, 0);
        while let Some(next) = policy.next_attempt(attempts + 1, t0, now) {
            attempts += 1;
            now = next;
        }
        assert!(
            now - t0 <= Duration::hours(24) && now - t0 > Duration::hours(23),
            "{}",
            now - t0
        );
        assert!((25..=40).contains(&attempts), "{attempts}");
    }
}
