//! mirror-protocol: the rules of SQL Server database mirroring as pure, sans-IO state machines
//! (reference/mirroring.md sections 1 to 5). No clock, no I/O, no threads, no randomness: time
//! comes in as an argument and every effect leaves through an outbox
//! ([`Partner::take_outputs`], [`Witness::take_outputs`]).
//!
//! The same code runs under the simulator (`mirror-sim`) and the model checker
//! (`mirror-model`), so a property the model checker proves is a statement about the code the
//! simulator runs.

pub mod command;
pub mod error;
pub mod link;
pub mod message;
pub mod mutant;
pub mod output;
pub mod partner;
pub mod types;
pub mod witness;

pub use command::{
    commits_waiting_at_their_bound, SessionCommand, ERROR_DATABASE_UNAVAILABLE,
    ERROR_INSUFFICIENT_MEMORY,
};
pub use error::SqlError;
pub use link::{Link, LinkState, Links};
pub use message::{ConnId, Envelope, FailoverDenial, Forwarded, Hello, Message};
pub use mutant::{Mutant, Mutants};
pub use output::{CommandId, Output, StopReason, Timer, INTERNAL_COMMAND};
pub use partner::{Exposure, Partner, PartnerDurable};
pub use types::*;
pub use witness::{Witness, WitnessRecord};
