//! mirror-protocol: the rules of SQL Server database mirroring as pure, sans-IO state machines
//! (reference/mirroring.md sections 1 to 5). No clock, no I/O, no threads, no randomness: time
//! comes in as an argument and every effect leaves through an outbox.

pub mod error;

pub use error::SqlError;
