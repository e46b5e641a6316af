//! A rehearsal: three instances as in the acceptance scenarios (alpha holds Sales, beta is to be
//! the mirror, gamma the witness), driven the way the simulator drives the crate, with the
//! runbook steps of reference §7 as helpers.

#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use mirror_setup::{
    parse_batch, Estate, FailureKind, InstanceSpec, Outcome, RecoveryModel, StatementContext,
    StatementError,
};

pub const SALES_SIZE: u64 = 2 << 30;

pub struct Rehearsal {
    pub estate: Estate,
    /// The simulator's side: what it passes in every statement's context.
    pub context: StatementContext,
}

impl Rehearsal {
    /// alpha, beta, gamma under distinct domain accounts; Sales (FULL) on alpha.
    pub fn new() -> Self {
        let mut estate = Estate::new();
        for name in ["alpha", "beta", "gamma"] {
            let spec = InstanceSpec::new(name, host(name), format!(r"CORP\svc-{name}"));
            estate.add_instance(spec).expect("distinct instances");
        }
        estate
            .add_database("alpha", "Sales", RecoveryModel::Full)
            .expect("a new database");
        let context = StatementContext {
            end_of_log_lsn: 10_000,
            database_size_bytes: SALES_SIZE,
            witness_ready: true,
            ..StatementContext::default()
        };
        Self { estate, context }
    }

    /// The workload writes `bytes` of log on the principal.
    pub fn write_log(&mut self, bytes: u64) {
        self.context.end_of_log_lsn += bytes;
    }

    /// Runs a step's statements in order, stopping at the first failure.
    pub fn try_run(&mut self, on: &str, sql: &str) -> Result<Vec<Outcome>, StatementError> {
        let statements = parse_batch(sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
        let mut outcomes = Vec::new();
        for statement in statements {
            outcomes.push(self.estate.execute(on, &statement, &self.context)?);
        }
        Ok(outcomes)
    }

    /// Runs a step that must succeed; returns the last statement's outcome.
    pub fn run(&mut self, on: &str, sql: &str) -> Outcome {
        let outcomes = self
            .try_run(on, sql)
            .unwrap_or_else(|error| panic!("on {on}: {sql}: {error}"));
        outcomes.into_iter().last().expect("a step has a statement")
    }

    /// Runs one statement that must fail with `number`, and checks that it changed nothing.
    pub fn fails(&mut self, on: &str, sql: &str, number: u32) -> StatementError {
        let before = self.estate.clone();
        let error = match self.try_run(on, sql) {
            Ok(_) => panic!("on {on}: {sql}: succeeded, expected error {number}"),
            Err(error) => error,
        };
        assert_eq!(error.number(), Some(number), "on {on}: {sql}: {error}");
        assert_eq!(
            self.estate, before,
            "on {on}: {sql}: a failed statement changed the estate"
        );
        error
    }

    /// The instance `on` cannot reach `peer` now (the simulator's network).
    pub fn cut(&mut self, peer: &str, kind: FailureKind) {
        self.context.unreachable.insert(peer.to_string(), kind);
    }
}

pub fn host(instance: &str) -> String {
    format!("{instance}.corp.example")
}

pub fn address(instance: &str) -> String {
    format!("TCP://{}:7022", host(instance))
}

pub fn endpoint(role: &str) -> String {
    format!(
        "CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = {role})"
    )
}

pub fn login_and_grant(account_of: &str) -> String {
    let account = format!(r"CORP\svc-{account_of}");
    format!("CREATE LOGIN [{account}] FROM WINDOWS; GRANT CONNECT ON ENDPOINT::Mirroring TO [{account}]")
}

pub fn grant(account_of: &str) -> String {
    format!(r"GRANT CONNECT ON ENDPOINT::Mirroring TO [CORP\svc-{account_of}]")
}

pub fn set_partner(on_behalf_of: &str) -> String {
    format!(
        "ALTER DATABASE Sales SET PARTNER = '{}'",
        address(on_behalf_of)
    )
}

/// Steps 1-9 of the acceptance scenarios: endpoints and Windows logins on all three instances.
pub fn endpoints_and_logins(rehearsal: &mut Rehearsal) {
    rehearsal.run("alpha", &endpoint("PARTNER"));
    rehearsal.run("beta", &endpoint("PARTNER"));
    rehearsal.run("gamma", &endpoint("WITNESS"));
    for (on, peers) in [
        ("alpha", ["beta", "gamma"]),
        ("beta", ["alpha", "gamma"]),
        ("gamma", ["alpha", "beta"]),
    ] {
        for peer in peers {
            rehearsal.run(on, &login_and_grant(peer));
        }
    }
}

/// Full and log backups on alpha, restored WITH NORECOVERY on beta (reference §7 steps 1-2).
pub fn backups_restored_on_beta(rehearsal: &mut Rehearsal) {
    rehearsal.run("alpha", "BACKUP DATABASE Sales TO DISK = 'sales_full.bak'");
    rehearsal.write_log(50_000);
    rehearsal.run("alpha", "BACKUP LOG Sales TO DISK = 'sales_log1.trn'");
    rehearsal.write_log(20_000);
    rehearsal.run(
        "beta",
        "RESTORE DATABASE Sales FROM DISK = 'sales_full.bak' WITH NORECOVERY",
    );
    rehearsal.run(
        "beta",
        "RESTORE LOG Sales FROM DISK = 'sales_log1.trn' WITH NORECOVERY",
    );
}

/// Everything up to the principal's SET PARTNER: endpoints, logins, backups restored, the mirror
/// prepared.
pub fn ready_for_session() -> Rehearsal {
    let mut rehearsal = Rehearsal::new();
    endpoints_and_logins(&mut rehearsal);
    backups_restored_on_beta(&mut rehearsal);
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal
}

/// A running session, alpha principal, beta mirror, no witness.
pub fn session_running() -> Rehearsal {
    let mut rehearsal = ready_for_session();
    rehearsal.run("alpha", &set_partner("beta"));
    rehearsal.write_log(30_000);
    rehearsal
}

pub const SOFT: Duration = mirror_setup::SOFT_FAILURE_NOTICED_AFTER;
