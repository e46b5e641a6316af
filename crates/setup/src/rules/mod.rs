//! The statements' rules, one module per area, each an `impl Estate` block: judge first, then
//! change the catalogs, so that a failed statement changes nothing.

pub(crate) mod backups;
mod security;
mod session;
