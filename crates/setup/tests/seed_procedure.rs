//! The seed document's procedure (reference §7 "Steps") succeeds, with Windows authentication
//! and with certificates, and says what work each step is.

mod common;

use common::*;
use mirror_setup::{
    BackupKind, DatabaseState, Effect, MirroringRole, Query, RecoveryModel, RoleSwitch,
    ServerAddress, SessionCommand, Work,
};

// reference §7, steps 1-5, as in acceptance/setup-high-safety-witness.toml.
#[test]
fn seed_procedure_with_windows_logins_succeeds() {
    let mut rehearsal = Rehearsal::new();
    endpoints_and_logins(&mut rehearsal);
    backups_restored_on_beta(&mut rehearsal);
    let mirror_side = rehearsal.run("beta", &set_partner("alpha"));
    assert_eq!(
        mirror_side.work,
        Work::Immediate,
        "the mirror side completes at once (not in the 1 ms catalog changes)"
    );

    let end = rehearsal.context.end_of_log_lsn;
    let principal_side = rehearsal.run("alpha", &set_partner("beta"));
    assert_eq!(principal_side.work, Work::UntilMirrorHardens { lsn: end });
    let Effect::StartSession {
        principal,
        mirror,
        mirror_address,
        principal_address,
        ..
    } = &principal_side.effect
    else {
        panic!("SET PARTNER on the principal starts the session: {principal_side:?}")
    };
    assert_eq!((principal.as_str(), mirror.as_str()), ("alpha", "beta"));
    assert_eq!(mirror_address, &ServerAddress::new(host("beta"), 7022));
    assert_eq!(principal_address, &ServerAddress::new(host("alpha"), 7022));

    let witness = rehearsal.run(
        "alpha",
        &format!("ALTER DATABASE Sales SET WITNESS = '{}'", address("gamma")),
    );
    assert_eq!(witness.work, Work::UntilWitnessRecords);
    assert!(matches!(&witness.effect, Effect::SetWitness { witness, .. } if witness == "gamma"));

    let roles = |instance: &str| {
        let copy = rehearsal
            .estate
            .instance(instance)
            .and_then(|catalog| catalog.database("Sales"))
            .expect("a copy");
        (copy.state, copy.session().map(|session| session.role))
    };
    assert_eq!(
        roles("alpha"),
        (DatabaseState::Online, Some(MirroringRole::Principal))
    );
    assert_eq!(
        roles("beta"),
        (DatabaseState::Restoring, Some(MirroringRole::Mirror))
    );
}

// reference §7 prerequisite 3: "Built-in or non-domain service accounts must use certificates",
// with the certificate runbook: create, back up, import on each peer, map to a login, grant.
#[test]
fn seed_procedure_with_certificates_succeeds() {
    let mut rehearsal = Rehearsal::new();
    for name in ["alpha", "beta", "gamma"] {
        let role = if name == "gamma" {
            "WITNESS"
        } else {
            "PARTNER"
        };
        rehearsal.run(
            name,
            &format!(
                "CREATE CERTIFICATE {name}_cert WITH SUBJECT = '{name} mirroring';
                 CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022)
                   FOR DATABASE_MIRRORING (AUTHENTICATION = CERTIFICATE {name}_cert, ENCRYPTION = REQUIRED ALGORITHM AES, ROLE = {role});
                 BACKUP CERTIFICATE {name}_cert TO FILE = '{name}_cert.cer'"
            ),
        );
    }
    for (on, peers) in [
        ("alpha", ["beta", "gamma"]),
        ("beta", ["alpha", "gamma"]),
        ("gamma", ["alpha", "beta"]),
    ] {
        for peer in peers {
            rehearsal.run(
                on,
                &format!(
                    "CREATE CERTIFICATE {peer}_cert FROM FILE = '{peer}_cert.cer';
                     CREATE LOGIN {peer}_login FROM CERTIFICATE {peer}_cert;
                     GRANT CONNECT ON ENDPOINT::Mirroring TO {peer}_login"
                ),
            );
        }
    }
    backups_restored_on_beta(&mut rehearsal);
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal.run("alpha", &set_partner("beta"));
    rehearsal.run(
        "alpha",
        &format!("ALTER DATABASE Sales SET WITNESS = '{}'", address("gamma")),
    );
    let negotiated = rehearsal
        .estate
        .judge_connection(
            "alpha",
            mirror_setup::SessionPart::Partner,
            &ServerAddress::new(host("beta"), 7022),
            mirror_setup::SessionPart::Partner,
        )
        .expect("certificates in both directions");
    assert_eq!(
        negotiated.authentication,
        mirror_setup::NegotiatedAuthentication::Certificate
    );
    assert_eq!(negotiated.encryption, Some(mirror_setup::Algorithm::Aes));
}

/// alpha and beta, each with a certificate of its own authenticating its endpoint, backed up to
/// `name.cer` for the other to import.
fn certificate_endpoints() -> Rehearsal {
    let mut rehearsal = Rehearsal::new();
    for name in ["alpha", "beta"] {
        rehearsal.run(
            name,
            &format!(
                "CREATE CERTIFICATE {name}_cert WITH SUBJECT = '{name}';
                 CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = PARTNER, AUTHENTICATION = CERTIFICATE {name}_cert);
                 BACKUP CERTIFICATE {name}_cert TO FILE = '{name}.cer'"
            ),
        );
    }
    rehearsal
}

// reference §7 prerequisite 3: the certificate's AUTHORIZATION owner is the login it maps to.
#[test]
fn certificate_owned_by_a_login_authorizes_its_presenter() {
    let mut rehearsal = certificate_endpoints();
    for (on, peer) in [("alpha", "beta"), ("beta", "alpha")] {
        rehearsal.run(
            on,
            &format!(
                r"CREATE LOGIN [CORP\svc-{peer}] FROM WINDOWS;
                  CREATE CERTIFICATE {peer}_cert AUTHORIZATION [CORP\svc-{peer}] FROM FILE = '{peer}.cer';
                  GRANT CONNECT ON ENDPOINT::Mirroring TO [CORP\svc-{peer}]"
            ),
        );
    }
    backups_restored_on_beta(&mut rehearsal);
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal.run("alpha", &set_partner("beta"));
}

// spec/scenario.md lists `CREATE CERTIFICATE name AUTHORIZATION login FROM FILE` and `CREATE
// LOGIN name FROM CERTIFICATE cert`: the certificate may name the login that is then made from
// it (it failed with 15151, the login not existing yet, so the spec's setup never connected).
// An owner that never becomes a login authorizes nobody.
#[test]
fn certificate_owned_by_the_login_made_from_it_authorizes_its_presenter() {
    let setup = |make_login: bool| {
        let mut rehearsal = certificate_endpoints();
        for (on, peer) in [("alpha", "beta"), ("beta", "alpha")] {
            rehearsal.run(
                on,
                &format!(
                    "CREATE CERTIFICATE {peer}_cert AUTHORIZATION {peer}_login FROM FILE = '{peer}.cer'"
                ),
            );
            if make_login {
                rehearsal.run(
                    on,
                    &format!(
                        "CREATE LOGIN {peer}_login FROM CERTIFICATE {peer}_cert;
                         GRANT CONNECT ON ENDPOINT::Mirroring TO [{peer}_login]"
                    ),
                );
            }
        }
        backups_restored_on_beta(&mut rehearsal);
        rehearsal
    };
    let mut rehearsal = setup(true);
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal.run("alpha", &set_partner("beta"));

    let refusal = setup(false)
        .estate
        .judge_connection(
            "alpha",
            mirror_setup::SessionPart::Partner,
            &mirror_setup::ServerAddress::new(host("beta"), 7022),
            mirror_setup::SessionPart::Partner,
        )
        .expect_err("the owner is no login");
    assert_eq!(refusal.rule, mirror_setup::ConnectionRule::NoLogin);
}

// reference §7 prerequisite 4: one domain account for all instances needs no logins.
#[test]
fn same_service_account_needs_no_logins() {
    let mut rehearsal = Rehearsal::new();
    let mut estate = mirror_setup::Estate::new();
    for name in ["alpha", "beta"] {
        estate
            .add_instance(mirror_setup::InstanceSpec::new(
                name,
                host(name),
                r"CORP\sqlsvc",
            ))
            .expect("new");
    }
    estate
        .add_database("alpha", "Sales", RecoveryModel::Full)
        .expect("new");
    rehearsal.estate = estate;
    rehearsal.run("alpha", &endpoint("PARTNER"));
    rehearsal.run("beta", &endpoint("ALL"));
    backups_restored_on_beta(&mut rehearsal);
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal.run("alpha", &set_partner("beta"));
}

// reference §7: "Backups and restores take their size divided by the disk throughput (a log
// backup: the log since the previous one)"; catalog changes 1 ms.
#[test]
fn backups_and_restores_report_their_size() {
    let mut rehearsal = Rehearsal::new();
    assert_eq!(
        rehearsal.run("alpha", &endpoint("PARTNER")).work,
        Work::Catalog
    );
    let full_at = rehearsal.context.end_of_log_lsn;
    assert_eq!(
        rehearsal
            .run("alpha", "BACKUP DATABASE Sales TO DISK = 'f.bak'")
            .work,
        Work::Disk { bytes: SALES_SIZE }
    );
    rehearsal.write_log(70_000);
    assert_eq!(
        rehearsal
            .run("alpha", "BACKUP LOG Sales TO DISK = 'l1.trn'")
            .work,
        Work::Disk { bytes: 70_000 }
    );
    rehearsal.write_log(5_000);
    assert_eq!(
        rehearsal
            .run("alpha", "BACKUP LOG Sales TO DISK = 'l2.trn'")
            .work,
        Work::Disk { bytes: 5_000 }
    );
    rehearsal.write_log(1_000);
    assert_eq!(
        rehearsal
            .run(
                "alpha",
                "BACKUP DATABASE Sales TO DISK = 'd.bak' WITH DIFFERENTIAL"
            )
            .work,
        Work::Disk { bytes: 76_000 },
        "a differential holds the changes since its base, at most the database"
    );
    assert_eq!(
        rehearsal
            .run(
                "beta",
                "RESTORE DATABASE Sales FROM DISK = 'f.bak' WITH NORECOVERY"
            )
            .work,
        Work::Disk { bytes: SALES_SIZE }
    );
    assert_eq!(
        rehearsal
            .run(
                "beta",
                "RESTORE LOG Sales FROM DISK = 'l1.trn' WITH NORECOVERY"
            )
            .work,
        Work::Disk { bytes: 70_000 }
    );
    let sets = rehearsal
        .estate
        .backup_folder()
        .backups_of("alpha", "Sales");
    let kinds: Vec<_> = sets
        .iter()
        .map(|set| (set.kind, set.first_lsn, set.last_lsn))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (BackupKind::Full, full_at, full_at),
            (BackupKind::Log, full_at, full_at + 70_000),
            (BackupKind::Log, full_at + 70_000, full_at + 75_000),
            (BackupKind::Differential, full_at + 76_000, full_at + 76_000),
        ]
    );
    assert_eq!(
        rehearsal
            .run("beta", "RESTORE DATABASE Sales WITH RECOVERY")
            .work,
        Work::Catalog
    );
}

// spec/scenario.md "The statements understood": the session commands reach the protocol core.
#[test]
fn session_commands_are_handed_to_the_protocol_core() {
    let mut rehearsal = session_running();
    for (sql, command, work) in [
        (
            "ALTER DATABASE Sales SET PARTNER SAFETY OFF",
            SessionCommand::Safety(mirror_setup::Safety::Off),
            Work::Catalog,
        ),
        (
            "ALTER DATABASE Sales SET PARTNER TIMEOUT 20",
            SessionCommand::Timeout(20),
            Work::Catalog,
        ),
        (
            "ALTER DATABASE Sales SET PARTNER SUSPEND",
            SessionCommand::Suspend,
            Work::Catalog,
        ),
        (
            "ALTER DATABASE Sales SET PARTNER RESUME",
            SessionCommand::Resume,
            Work::Catalog,
        ),
        (
            "ALTER DATABASE Sales SET WITNESS OFF",
            SessionCommand::WitnessOff,
            Work::Catalog,
        ),
        (
            "ALTER DATABASE Sales SET PARTNER FAILOVER",
            SessionCommand::Failover,
            Work::UntilRoleSwitch,
        ),
    ] {
        let outcome = rehearsal.run("alpha", sql);
        assert_eq!(outcome.work, work, "{sql}");
        assert_eq!(
            outcome.effect,
            Effect::SessionCommand {
                database: "Sales".into(),
                command
            },
            "{sql}"
        );
    }
    let forced = rehearsal.run(
        "beta",
        "ALTER DATABASE Sales SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS",
    );
    assert!(matches!(
        forced.effect,
        Effect::SessionCommand {
            command: SessionCommand::ForceServiceAllowDataLoss,
            ..
        }
    ));
    let query = rehearsal.run("beta", "EXEC msdb.dbo.sp_dbmmonitorresults Sales");
    assert_eq!(query.work, Work::Immediate);
    assert_eq!(
        query.effect,
        Effect::Query(Query::MonitorResults {
            database: "Sales".into(),
            mode: 0,
            update_table: false,
        })
    );
    // A database the instance does not have gets 911, not another database's rows.
    rehearsal.fails("beta", "EXEC msdb.dbo.sp_dbmmonitorresults Nope", 911);
}

// reference §5: after a failover the new principal backs up; the old one is a mirror (954) and
// may not set the witness (1470); the log backup chain carries on where it was.
#[test]
fn role_switch_moves_the_principal_and_its_log_chain() {
    let mut rehearsal = session_running();
    rehearsal.run("alpha", "BACKUP LOG Sales TO DISK = 'before.trn'");
    let chain = rehearsal.context.end_of_log_lsn;
    rehearsal.write_log(8_000);
    let failover = RoleSwitch::Failover {
        failover_lsn: rehearsal.context.end_of_log_lsn,
    };
    rehearsal
        .estate
        .record_role_switch("Sales", "beta", failover, true)
        .expect("a session");
    let recorded = rehearsal.estate.clone();
    rehearsal
        .estate
        .record_role_switch("Sales", "beta", failover, true)
        .expect("a session");
    assert_eq!(
        rehearsal.estate, recorded,
        "recording it again changes nothing"
    );
    let after = rehearsal.run("beta", "BACKUP LOG Sales TO DISK = 'after.trn'");
    assert_eq!(after.work, Work::Disk { bytes: 8_000 });
    let sets = rehearsal.estate.backup_folder().backups_of("beta", "Sales");
    assert_eq!(sets[0].first_lsn, chain);
    rehearsal.fails("alpha", "BACKUP LOG Sales TO DISK = 'x.trn'", 954);
    rehearsal.fails(
        "alpha",
        &format!("ALTER DATABASE Sales SET WITNESS = '{}'", address("gamma")),
        1470,
    );
    rehearsal.run(
        "beta",
        &format!("ALTER DATABASE Sales SET WITNESS = '{}'", address("gamma")),
    );
    assert!(rehearsal
        .estate
        .record_role_switch("Sales", "gamma", failover, true)
        .is_err());
}

// reference §7: "SET PARTNER OFF (either partner) ends the session; the mirror stays RESTORING
// ... To mirror again, every log backup taken since must be restored first."
#[test]
fn partner_off_then_mirroring_again_needs_the_log_backups_taken_since() {
    let mut rehearsal = session_running();
    rehearsal.context.mirror_hardened_lsn = rehearsal.context.end_of_log_lsn;
    let off = rehearsal.run("beta", "ALTER DATABASE Sales SET PARTNER OFF");
    // Only beta's copy has left the session: alpha's leaves it when alpha hears of it.
    assert!(rehearsal
        .estate
        .instance("alpha")
        .and_then(|c| c.database("Sales"))
        .is_some_and(|d| d.session().is_some()));
    let hardened = rehearsal.context.end_of_log_lsn;
    rehearsal.estate.session_ended("alpha", "Sales", hardened);
    assert_eq!(off.work, Work::Catalog);
    assert_eq!(
        off.effect,
        Effect::EndSession {
            database: "Sales".into(),
            principal: "alpha".into(),
            mirror: "beta".into()
        }
    );
    let beta = rehearsal
        .estate
        .instance("beta")
        .and_then(|catalog| catalog.database("Sales"))
        .expect("kept");
    assert_eq!(
        (beta.state, beta.mirroring.is_none()),
        (DatabaseState::Restoring, true)
    );

    rehearsal.write_log(40_000);
    rehearsal.run("alpha", "BACKUP LOG Sales TO DISK = 'sales_log2.trn'");
    rehearsal.write_log(1_000);
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal.fails("alpha", &set_partner("beta"), 1412);
    rehearsal.run("beta", "ALTER DATABASE Sales SET PARTNER OFF");
    rehearsal.run(
        "beta",
        "RESTORE LOG Sales FROM DISK = 'sales_log2.trn' WITH NORECOVERY",
    );
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal.run("alpha", &set_partner("beta"));
}

// reference §7: "recovering it (RESTORE DATABASE db WITH RECOVERY) starts a new fork": the old
// copy can no longer be mirrored; a fresh full backup restored WITH REPLACE can.
#[test]
fn recovering_the_old_mirror_starts_a_new_fork() {
    let mut rehearsal = session_running();
    rehearsal.context.mirror_hardened_lsn = rehearsal.context.end_of_log_lsn;
    rehearsal.run("alpha", "ALTER DATABASE Sales SET PARTNER OFF");
    let hardened = rehearsal.context.mirror_hardened_lsn;
    rehearsal.estate.session_ended("beta", "Sales", hardened);
    let fork_before = rehearsal
        .estate
        .instance("beta")
        .and_then(|c| c.database("Sales"))
        .expect("kept")
        .fork
        .clone();
    rehearsal.run("beta", "RESTORE DATABASE Sales WITH RECOVERY");
    let recovered = rehearsal
        .estate
        .instance("beta")
        .and_then(|c| c.database("Sales"))
        .expect("kept");
    assert_eq!(recovered.state, DatabaseState::Online);
    assert_eq!(recovered.fork.family_guid, fork_before.family_guid);
    assert_ne!(recovered.fork, fork_before);
    // Log written on the recovered copy, in no log backup, is a tail the restore would lose
    // (with none written, it proceeds: see setup_errors' 3159 test).
    rehearsal.write_log(100);
    rehearsal.fails(
        "beta",
        "RESTORE DATABASE Sales FROM DISK = 'sales_full.bak' WITH NORECOVERY",
        3159,
    );
    rehearsal.run("alpha", "BACKUP DATABASE Sales TO DISK = 'again.bak'");
    rehearsal.write_log(100);
    rehearsal.run("alpha", "BACKUP LOG Sales TO DISK = 'again.trn'");
    rehearsal.run(
        "beta",
        "RESTORE DATABASE Sales FROM DISK = 'again.bak' WITH NORECOVERY, REPLACE",
    );
    rehearsal.run(
        "beta",
        "RESTORE LOG Sales FROM DISK = 'again.trn' WITH NORECOVERY",
    );
    rehearsal.run("beta", &set_partner("alpha"));
    rehearsal.run("alpha", &set_partner("beta"));
}

// reference §5 forced service: "a new recovery fork starts at the fork LSN". The new
// principal's log backup chain is the one its log holds: a log backup the old principal took
// past the fork LSN (the mirror behind, or the session suspended) is not in it, so the chain
// goes back to the backup before (reference §6: the log is kept from the end of the last log
// backup). It was taken at the fork LSN, freeing log no backup the new principal knows holds.
#[test]
fn forced_service_starts_a_new_fork_and_keeps_the_log_chain_its_log_holds() {
    let mut rehearsal = session_running();
    let chain_before = alpha_sales(&rehearsal).log_chain_lsn.expect("a chain");
    rehearsal.context.end_of_log_lsn = chain_before + 10_000;
    rehearsal.run("alpha", "BACKUP LOG Sales TO DISK = 'last_on_alpha.trn'");
    let fork_before = alpha_sales(&rehearsal).fork.clone();
    let fork_lsn = rehearsal.context.end_of_log_lsn - 3_000; // the mirror was behind (SAFETY OFF)
    let beta = force_service_on_beta(&mut rehearsal, fork_lsn);
    assert_ne!(beta.fork, fork_before);
    assert_eq!(beta.fork.family_guid, fork_before.family_guid);
    assert_eq!(beta.log_chain_lsn, Some(chain_before));
    rehearsal.context.end_of_log_lsn = fork_lsn + 500;
    assert_eq!(
        rehearsal
            .run("beta", "BACKUP LOG Sales TO DISK = 'first_on_beta.trn'")
            .work,
        Work::Disk {
            bytes: fork_lsn + 500 - chain_before
        }
    );
}

// The same when the old principal's last log backup ends within the log the new principal
// holds: the chain is that backup's end, as before.
#[test]
fn forced_service_keeps_a_log_backup_its_log_holds() {
    let mut rehearsal = session_running();
    rehearsal.run("alpha", "BACKUP LOG Sales TO DISK = 'last_on_alpha.trn'");
    let backed_up_to = alpha_sales(&rehearsal).log_chain_lsn.expect("a chain");
    let beta = force_service_on_beta(&mut rehearsal, backed_up_to + 2_000);
    assert_eq!(beta.log_chain_lsn, Some(backed_up_to));
}

/// Records a forced service by beta at `fork_lsn` and returns beta's copy of Sales.
fn force_service_on_beta(rehearsal: &mut Rehearsal, fork_lsn: u64) -> &mirror_setup::Database {
    rehearsal
        .estate
        .record_role_switch(
            "Sales",
            "beta",
            RoleSwitch::ForcedService { fork_lsn },
            true,
        )
        .expect("a session");
    rehearsal
        .estate
        .instance("beta")
        .and_then(|c| c.database("Sales"))
        .expect("beta holds Sales")
}

fn alpha_sales(rehearsal: &Rehearsal) -> &mirror_setup::Database {
    rehearsal
        .estate
        .instance("alpha")
        .and_then(|c| c.database("Sales"))
        .expect("alpha holds Sales")
}
