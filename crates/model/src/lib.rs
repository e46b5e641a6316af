//! mirror-model: stateright models of the mirroring protocol core (`mirror-protocol`), the
//! properties of spec/scenario.md, bounded checks for each operating mode, and the mutant zoo.
//!
//! # A driver, not a second implementation
//!
//! A state of the model holds the protocol's own state machines ([`mirror_protocol::Partner`]
//! for alpha and beta, [`mirror_protocol::Witness`] for gamma) and what a driver holds around
//! them: the messages in flight, the flushes asked for, the log contents, the timers that are
//! set, the partitions, the budgets left, and a ghost history. Every step calls one of the
//! protocol's handlers (`handle_message`, `handle_timer`, `handle_connection_lost`,
//! `handle_flushed`, `handle_log_sent`, `handle_redo_drained`, `handle_commit`,
//! `handle_command`, `crash`, `restart`) and routes its outputs, exactly as the simulator and
//! the protocol's test harness do. No rule of reference/mirroring.md is re-implemented here.
//!
//! # Modelling decisions
//!
//! - **Setup.** Each model starts from a set-up session: SET PARTNER on the mirror and the
//!   principal, the handshake run to quiescence in a fixed order, then SET WITNESS (with a
//!   witness) or SAFETY OFF (high performance), each run to completion. alpha is the principal,
//!   beta the mirror, gamma the witness; the session is SYNCHRONIZED.
//! - **No clock.** `now` is always 0. Ping ticks therefore never time out; failure detection is
//!   the action "declare connection lost" ([`model::Action::DeclareLost`]), offered on either
//!   side of every connection that side holds up, even falsely. A declaration is *true* (and
//!   free) when the peer is not running or no longer holds that connection; one made while the
//!   peer still holds it costs one `suspicions`, or one `partitions` (below). Ping and Pong
//!   messages, which only feed the clock-based detector, are dropped. The ping tick is an
//!   action offered only when it changes the state (it opens a connection, resends a lost
//!   connect request, or retries a failover request).
//! - **Network.** One FIFO queue per directed pair of instances, as TCP gives per connection
//!   (a queue holds the messages of old and new connections, in order; the protocol drops or
//!   resets those of a connection it no longer holds). The reorder variant
//!   ([`config::Configuration::reorder`]) lets any queued message be delivered. A partition
//!   holds the messages of its link (TCP retransmits) until it heals, and lets either end
//!   declare the connection lost. Holding messages adds nothing to a network that may already
//!   hold any message for as long as it likes, and after the first end's declaration the
//!   other's is true anyway; so a partition is modelled by what it adds, one declaration of a
//!   connection the peer still holds, with no cut state and no heal step (about a fifth fewer
//!   states; [`config::Configuration::literal_partitions`] keeps the literal cut-and-heal model,
//!   and a test shows that both reach the same states). A message to a process that is not
//!   running is dropped, and a crash
//!   drops the messages queued to it. A retry (connect request, failover request) identical to
//!   one still queued is not queued twice.
//! - **Disks.** A `Flush` output becomes an outstanding flush; the oldest completes as an
//!   action, so either partner may harden first. Flushes of discarded log (an older epoch) or of
//!   log already hardened are dropped (the protocol ignores them). The remaining flushes are all of
//!   the current epoch, so each partner's epoch is then renumbered 0: the protocol only compares
//!   it for equality with flush completions, and states that differ only in how many times a log
//!   was discarded or recovered have the same futures (17% fewer states in the witness mode with
//!   a crash; [`config::Configuration::renumber_epochs`] switches it off, and a test shows that
//!   both ways reach the same states up to the renumbering).
//! - **Log content.** One commit is one LSN. The model keeps each partner's log as
//!   `(lsn, tx)` pairs: a `Log` message carries the records of its range, a crash keeps only the
//!   hardened prefix, a `Discard` truncates. Durability and prefixes are judged by content, so a
//!   forked or rewritten LSN is not mistaken for the same commit.
//! - **Timers and redo.** `DrainRedo` and the take-over timer become actions
//!   (`RedoDrained`, `TakeOver`).
//! - **Bounds.** Transactions, crashes (each may be followed by a restart), partitions, false
//!   suspicions and operator commands are budgeted per configuration
//!   ([`config::Configuration`]); everything else is bounded by what these produce. Operator
//!   commands (manual failover, forced service, suspend, resume, SAFETY FULL/OFF) are offered
//!   only when the protocol accepts them (tried on a copy); a refused command changes nothing.
//! - **Determinism.** `actions()` and `next_state()` depend only on the state (vectors and
//!   arrays, no hash-map iteration), as stateright's path reconstruction requires, and
//!   `next_state` always returns a state.
//! - **Symmetry.** None: the three instances have distinct roles from the set-up on, and the
//!   lower instance id opens the partner connection, so swapping alpha and beta is not a
//!   symmetry of the protocol; transactions are numbered in commit order. (stateright's
//!   breadth-first search would ignore it anyway.) The reductions used instead are listed
//!   above: no pings, no no-op flushes, no duplicate retries, useful ticks only.
//!
//! # Properties
//!
//! See [`properties`] for the table: `always` single_principal, acknowledged_durable,
//! log_prefix, failover_allowed, quorum_serving; `sometimes` commit_acknowledged,
//! automatic_failover, manual_failover, forced_service_loses_acknowledged,
//! split_brain_via_forced_service. Event-based judgements are made by the driver at the moment
//! of the event (an acknowledgement, a grant, a handshake, a forced service) and recorded in the
//! ghost history ([`state::Ghost`]); the state-based ones read the state.
//!
//! # Checking
//!
//! [`check::check`] runs one configuration breadth-first or depth-first (stateright) or as
//! seeded random walks; [`cli::run_check`] is `sim check`. With the `mutants` feature, every
//! state machine can carry one deliberate bug ([`mirror_protocol::Mutant`]); the test suite
//! asserts that each is caught by the property it breaks.

pub mod check;
pub mod cli;
pub mod config;
pub mod model;
pub mod properties;
pub mod report;
pub mod shared;
pub mod state;

pub use check::{check, CheckOptions, CheckReport, Outcome, Strategy};
pub use cli::{run_check, CheckArgs};
pub use config::{Configuration, Mode};
pub use model::{Action, SessionModel};
pub use state::SessionState;
