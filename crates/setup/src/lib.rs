//! mirror-setup: the operator's T-SQL runbook. A parser for the statements a DBA types to set
//! up and run database mirroring, per-instance catalogs (endpoints, certificates, logins,
//! databases, backups), connection judging between endpoints, and the setup rules of
//! reference/mirroring.md section 7 with their SQL Server error numbers.

pub mod parse;

pub use parse::{parse_batch, ParseError, Statement};
