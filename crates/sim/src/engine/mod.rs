//! The deterministic discrete-event engine (issue 5): one event queue keyed by (time, sequence
//! number), named random streams from one seed, the network, the disks, the instances driven by
//! the protocol core and the log engine, the operator's steps, the workload, the faults, the
//! history with its checkers, and the report.

pub(crate) mod acks;
pub(crate) mod dblog;
pub(crate) mod faults;
pub(crate) mod history;
pub(crate) mod net;
pub(crate) mod pending;
pub mod queue;
pub mod record;
pub(crate) mod retransmit;
pub(crate) mod rng;
pub mod run;
pub(crate) mod steps;
pub mod trace;
pub(crate) mod world;

pub use record::Recorder;
pub use run::{run, RunResult};
