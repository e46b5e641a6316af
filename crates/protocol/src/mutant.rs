//! The mutant zoo: deliberate protocol bugs that the model checker and the simulator's checkers
//! must catch. They are named here so that every driver can parse `--mutant NAME`, but they can
//! only be switched on when the crate is built with the `mutants` feature: in a normal build
//! [`Mutants::is`] is a constant `false` and the bugs are compiled out.

use std::fmt;
use std::str::FromStr;

/// One deliberate bug.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutant {
    /// The mirror asks for, and the witness grants, an automatic failover without the
    /// SYNCHRONIZED record and notice (breaks `acknowledged_durable`).
    FailoverWhileSynchronizing,
    /// A principal with a witness keeps serving when it has lost both connections (breaks
    /// `quorum_serving`).
    ServeWithoutQuorum,
    /// A SYNCHRONIZED FULL principal acknowledges after its own flush without waiting for the
    /// mirror (breaks `acknowledged_durable`).
    AckBeforeMirrorHarden,
    /// The witness records an UNSYNCHRONIZED report as SYNCHRONIZED (breaks
    /// `acknowledged_durable`).
    WitnessIgnoresExposed,
    /// A mirror rejoining its principal keeps log the principal does not have: past the
    /// failover LSN after a role change, or past a restarted principal's recovered end (breaks
    /// `log_prefix`).
    RejoinWithoutRollback,
    /// Partners neither adopt a higher role sequence nor ignore a lower one (breaks
    /// `single_principal`).
    IgnoreRoleSequence,
    /// Forced service is accepted while the mirror is still connected to the principal (breaks
    /// `failover_allowed`, which also judges forced service).
    ForceServiceWhilePrincipalConnected,
}

impl Mutant {
    /// Every mutant, in a fixed order.
    pub const ALL: [Mutant; 7] = [
        Mutant::FailoverWhileSynchronizing,
        Mutant::ServeWithoutQuorum,
        Mutant::AckBeforeMirrorHarden,
        Mutant::WitnessIgnoresExposed,
        Mutant::RejoinWithoutRollback,
        Mutant::IgnoreRoleSequence,
        Mutant::ForceServiceWhilePrincipalConnected,
    ];

    /// The name used on the command line (`--mutant NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Self::FailoverWhileSynchronizing => "failover-while-synchronizing",
            Self::ServeWithoutQuorum => "serve-without-quorum",
            Self::AckBeforeMirrorHarden => "ack-before-mirror-harden",
            Self::WitnessIgnoresExposed => "witness-ignores-exposed",
            Self::RejoinWithoutRollback => "rejoin-without-rollback",
            Self::IgnoreRoleSequence => "ignore-role-sequence",
            Self::ForceServiceWhilePrincipalConnected => "force-service-while-principal-connected",
        }
    }

    /// The property the mutant is expected to break.
    pub fn breaks(self) -> &'static str {
        match self {
            Self::FailoverWhileSynchronizing => "acknowledged_durable",
            Self::ServeWithoutQuorum => "quorum_serving",
            Self::AckBeforeMirrorHarden => "acknowledged_durable",
            Self::WitnessIgnoresExposed => "acknowledged_durable",
            Self::RejoinWithoutRollback => "log_prefix",
            Self::IgnoreRoleSequence => "single_principal",
            Self::ForceServiceWhilePrincipalConnected => "failover_allowed",
        }
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mutant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown mutant '{s}'; the mutants are: {}",
                    names.join(", ")
                )
            })
    }
}

/// The mutant switched on in one state machine, if any.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mutants(Option<Mutant>);

impl Mutants {
    /// Switches `mutant` on. Without the `mutants` feature this does nothing: normal builds
    /// cannot carry a bug.
    pub fn set(&mut self, mutant: Option<Mutant>) {
        if cfg!(feature = "mutants") {
            self.0 = mutant;
        }
    }

    /// Whether `mutant` is on (always false without the `mutants` feature).
    #[inline(always)]
    pub fn is(self, mutant: Mutant) -> bool {
        cfg!(feature = "mutants") && self.0 == Some(mutant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The mutant zoo (no reference section: the checkers of reference §4-5 must catch them):
    // every name parses back to its mutant and prints as itself.
    #[test]
    fn mutant_names_round_trip_through_from_str_and_display() {
        for mutant in Mutant::ALL {
            let name = mutant.to_string();
            assert_eq!(name, mutant.name());
            assert_eq!(name.parse::<Mutant>(), Ok(mutant), "{name}");
        }
        assert_eq!(
            "ack-before-mirror-harden".parse::<Mutant>(),
            Ok(Mutant::AckBeforeMirrorHarden)
        );
    }

    // `--mutant NAME` with an unknown NAME: the error names it and lists every known mutant.
    #[test]
    fn unknown_mutant_name_lists_the_known_ones() {
        let err = "no-such-bug".parse::<Mutant>().unwrap_err();
        assert!(err.contains("'no-such-bug'"), "{err}");
        for mutant in Mutant::ALL {
            assert!(err.contains(mutant.name()), "{err} lacks {}", mutant.name());
        }
        // Names are matched exactly: no case folding, no surrounding blanks.
        assert!("Serve-Without-Quorum".parse::<Mutant>().is_err());
        assert!(" serve-without-quorum".parse::<Mutant>().is_err());
    }

    // Every mutant has its own name and names a property of the checkers it must break.
    #[test]
    fn every_mutant_has_a_distinct_name_and_a_broken_property() {
        let mut names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Mutant::ALL.len());
        let properties = [
            "acknowledged_durable",
            "quorum_serving",
            "log_prefix",
            "single_principal",
            "failover_allowed",
        ];
        for mutant in Mutant::ALL {
            assert!(properties.contains(&mutant.breaks()), "{mutant}");
        }
    }

    // Normal builds cannot carry a bug: without the `mutants` feature `set` does nothing.
    #[cfg(not(feature = "mutants"))]
    #[test]
    fn without_the_mutants_feature_set_has_no_effect() {
        for mutant in Mutant::ALL {
            let mut mutants = Mutants::default();
            mutants.set(Some(mutant));
            assert_eq!(mutants, Mutants::default(), "{mutant}");
            assert!(!mutants.is(mutant), "{mutant}");
        }
    }

    // With the `mutants` feature exactly the mutant set is on, and `set(None)` switches it off.
    #[cfg(feature = "mutants")]
    #[test]
    fn with_the_mutants_feature_only_the_mutant_set_is_on() {
        let mut mutants = Mutants::default();
        mutants.set(Some(Mutant::ServeWithoutQuorum));
        assert!(mutants.is(Mutant::ServeWithoutQuorum));
        assert!(!mutants.is(Mutant::AckBeforeMirrorHarden));
        mutants.set(None);
        assert!(!mutants.is(Mutant::ServeWithoutQuorum));
    }
}
