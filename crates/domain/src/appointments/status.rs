//! The appointment status machine:
//! SCHEDULED -> CONFIRMED -> IN_PROGRESS -> COMPLETED, SCHEDULED | CONFIRMED -> CANCELLED, and
//! SCHEDULED | CONFIRMED -> NO_SHOW (issue 14, an addition to the seed's statuses: the patient
//! did not come). COMPLETED, CANCELLED and NO_SHOW are final.

use crate::lifecycle::Lifecycle;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
}

impl AppointmentStatus {
    pub const ALL: [Self; 6] = [
        Self::Scheduled,
        Self::Confirmed,
        Self::InProgress,
        Self::Completed,
        Self::Cancelled,
        Self::NoShow,
    ];

    /// May move to another slot: not yet started, not final.
    pub fn can_be_rescheduled(self) -> bool {
        matches!(self, Self::Scheduled | Self::Confirmed)
    }

    /// Holds its slot and counts for patient overlap.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Scheduled | Self::Confirmed | Self::InProgress)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "SCHEDULED",
            Self::Confirmed => "CONFIRMED",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::NoShow => "NO_SHOW",
        }
    }
}

impl Lifecycle for AppointmentStatus {
    fn next(self) -> &'static [Self] {
        match self {
            Self::Scheduled => &[Self::Confirmed, Self::Cancelled, Self::NoShow],
            Self::Confirmed => &[Self::InProgress, Self::Cancelled, Self::NoShow],
            Self::InProgress => &[Self::Completed],
            Self::Completed | Self::Cancelled | Self::NoShow => &[],
        }
    }

    fn name(self) -> &'static str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::AppointmentStatus as S;
    use crate::lifecycle::Lifecycle;
    use proptest::prelude::*;

    #[test]
    fn the_spec_transitions_and_no_others() {
        let allowed = [
            (S::Scheduled, S::Confirmed),
            (S::Confirmed, S::InProgress),
            (S::InProgress, S::Completed),
            (S::Scheduled, S::Cancelled),
            (S::Confirmed, S::Cancelled),
            (S::Scheduled, S::NoShow),
            (S::Confirmed, S::NoShow),
        ];
        for from in S::ALL {
            for to in S::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    proptest! {
        /// Whatever is attempted, only allowed steps happen: a COMPLETED appointment went
        /// through IN_PROGRESS (and CONFIRMED), nothing leaves a final state, and an
        /// IN_PROGRESS or COMPLETED appointment is never CANCELLED.
        #[test]
        fn no_path_reaches_a_forbidden_state(attempts in prop::collection::vec(prop::sample::select(S::ALL.to_vec()), 0..30)) {
            let mut status = S::Scheduled;
            let mut history = vec![status];
            for next in attempts {
                if status.can_become(next) {
                    status = next;
                    history.push(status);
                }
            }
            if history.contains(&S::Completed) {
                let i = history.iter().position(|s| *s == S::Completed).unwrap();
                prop_assert_eq!(&history[..i], &[S::Scheduled, S::Confirmed, S::InProgress][..]);
            }
            if history.contains(&S::Cancelled) {
                prop_assert!(!history.contains(&S::InProgress));
                prop_assert_eq!(*history.last().unwrap(), S::Cancelled);
            }
            for pair in history.windows(2) {
                prop_assert!(pair[0].can_become(pair[1]));
            }
        }
    }
}
