//! The session commands on a partner (reference section 5): who may issue them, their errors in
//! the order they are checked, and how they progress.

use super::{Partner, PendingWitness};
use crate::command::SessionCommand;
use crate::error::SqlError;
use crate::message::{Forwarded, Message};
use crate::mutant::Mutant;
use crate::output::{CommandId, Output};
use crate::types::*;

fn principal_only(what: &str) -> SqlError {
    SqlError::new(
        1470,
        format!("{what} can only be issued on the principal server instance"),
    )
}

impl Partner {
    pub(super) fn command(
        &mut self,
        now: Nanos,
        id: CommandId,
        command: SessionCommand,
    ) -> Result<(), SqlError> {
        match command {
            SessionCommand::Failover => self.command_failover(id),
            SessionCommand::ForceService => self.command_force_service(id),
            SessionCommand::Suspend => self.command_suspend(id, true),
            SessionCommand::Resume => self.command_suspend(id, false),
            SessionCommand::Safety(safety) => self.command_safety(id, safety),
            SessionCommand::Timeout(seconds) => self.command_timeout(id, seconds),
            SessionCommand::WitnessOff => self.command_witness_off(id),
            SessionCommand::PartnerOff => self.command_partner_off(id),
            SessionCommand::SetWitness(witness) => self.command_set_witness(now, id, witness),
        }
    }

    /// Manual failover: 1470, 1477, 1422, 1447 in that order (reference section 5).
    fn command_failover(&mut self, id: CommandId) -> Result<(), SqlError> {
        if self.durable.role != Role::Principal || self.taking_over.is_some() {
            return Err(principal_only("SET PARTNER FAILOVER"));
        }
        if self.durable.config.safety != Safety::Full {
            return Err(SqlError::new(
                1477,
                "manual failover needs SAFETY FULL: the session runs with SAFETY OFF",
            ));
        }
        if self.state != MirroringState::Synchronized {
            return Err(SqlError::new(1422, format!("the mirror is not synchronized (the session is {}); manual failover needs a synchronized mirror", self.state.name())));
        }
        if !self.links.is_up(self.durable.partner) {
            return Err(SqlError::new(
                1447,
                "both partners must be up and connected for a manual failover",
            ));
        }
        self.set_state(MirroringState::PendingFailover);
        self.manual_failover = Some((id, self.lsn_end));
        Ok(())
    }

    /// Forced service: 1455 on the principal or while the principal is connected; 1406 when a
    /// witness is set and the mirror cannot reach it, or the witness still sees the principal.
    fn command_force_service(&mut self, id: CommandId) -> Result<(), SqlError> {
        if self.durable.role == Role::Principal {
            return Err(SqlError::new(1455, "service cannot be forced on the principal; FORCE_SERVICE_ALLOW_DATA_LOSS is issued on the mirror"));
        }
        let mutant = self.mutants.is(Mutant::ForceServiceWhilePrincipalConnected);
        if self.links.is_up(self.durable.partner) && !mutant {
            return Err(SqlError::new(
                1455,
                "service cannot be forced: the mirror is still connected to the principal",
            ));
        }
        if let Some(w) = self.durable.config.witness.filter(|_| !mutant) {
            if !self.links.is_up(w) {
                return Err(SqlError::new(1406, "service cannot be forced safely: a witness is set and the mirror is not connected to it"));
            }
            if self.witness_sees_principal {
                return Err(SqlError::new(1406, "service cannot be forced safely: the witness is still connected to the principal"));
            }
        }
        self.force_service();
        self.complete(id, Ok(()));
        Ok(())
    }

    /// M becomes principal at once at role sequence n+1, SUSPENDED, in a new recovery fork that
    /// starts at its hardened end of log (the fork LSN).
    fn force_service(&mut self) {
        let fork_lsn = self.lsn_hardened;
        self.discard_past(fork_lsn);
        let fork = Fork(self.durable.fork.0 + 1);
        self.durable.fork = fork;
        self.out.push(Output::NewFork {
            fork,
            lsn: fork_lsn,
        });
        let change = RoleChange {
            role_sequence: self.role_sequence() + 1,
            principal: self.durable.me,
            failover_lsn: fork_lsn,
            fork,
            kind: FailoverKind::Forced,
        };
        self.durable.config.suspended = true;
        self.durable.config.numbers.suspend += 1;
        self.take_over(change);
        self.set_state(MirroringState::Suspended);
    }

    fn command_suspend(&mut self, id: CommandId, suspend: bool) -> Result<(), SqlError> {
        match self.durable.role {
            Role::Mirror => {
                let command = if suspend {
                    Forwarded::Suspend
                } else {
                    Forwarded::Resume
                };
                self.forward(command)?;
            }
            Role::Principal => self.apply_suspend(suspend),
        }
        self.complete(id, Ok(()));
        Ok(())
    }

    /// A mirror forwards SUSPEND, RESUME and WITNESS OFF to the principal (reference section 4).
    fn forward(&mut self, command: Forwarded) -> Result<(), SqlError> {
        if !self.links.is_up(self.durable.partner) {
            return Err(SqlError::new(
                1456,
                "the command could not reach the principal; nothing changed",
            ));
        }
        self.send(self.durable.partner, Message::Forward(command));
        Ok(())
    }

    pub(super) fn on_forwarded(&mut self, _now: Nanos, command: Forwarded) {
        match command {
            Forwarded::Suspend => self.apply_suspend(true),
            Forwarded::Resume => self.apply_suspend(false),
            Forwarded::WitnessOff => {
                let _ = self.start_witness_off(None);
            }
        }
    }

    /// SUSPEND or RESUME on the principal: bump the suspend sequence; RESUME returns to
    /// SYNCHRONIZING with a new switch LSN once the mirror is ready again.
    fn apply_suspend(&mut self, suspend: bool) {
        if self.durable.config.suspended == suspend || self.taking_over.is_some() {
            return;
        }
        if let Some((id, _)) = self.manual_failover.take() {
            self.complete(
                id,
                Err(SqlError::new(
                    1447,
                    "the session was suspended during the failover; the failover was not done",
                )),
            );
        }
        self.durable.config.suspended = suspend;
        self.durable.config.numbers.suspend += 1;
        self.switch_lsn = None;
        self.mirror_ready = false;
        let state = if suspend {
            MirroringState::Suspended
        } else if self.links.is_up(self.durable.partner) {
            MirroringState::Synchronizing
        } else {
            MirroringState::Disconnected
        };
        self.set_state(state);
        self.broadcast_config();
    }

    fn command_safety(&mut self, id: CommandId, safety: Safety) -> Result<(), SqlError> {
        if self.durable.role != Role::Principal {
            return Err(principal_only("SET PARTNER SAFETY"));
        }
        if self.durable.config.safety != safety {
            self.durable.config.safety = safety;
            self.durable.config.numbers.safety += 1;
            if safety == Safety::Full && self.state == MirroringState::Synchronized {
                // SAFETY FULL after OFF returns to SYNCHRONIZING with a new switch LSN.
                self.set_state(MirroringState::Synchronizing);
                self.switch_lsn = None;
            }
            self.broadcast_config();
        }
        self.complete(id, Ok(()));
        Ok(())
    }

    fn command_timeout(&mut self, id: CommandId, seconds: u64) -> Result<(), SqlError> {
        if self.durable.role != Role::Principal {
            return Err(principal_only("SET PARTNER TIMEOUT"));
        }
        if seconds > u64::from(TIMEOUT_MAX_SECONDS) {
            return Err(SqlError::new(1476, format!("TIMEOUT {seconds} is out of range: the partner timeout is at most {TIMEOUT_MAX_SECONDS} seconds")));
        }
        // 0 to 4 become 5 (reference section 3); the cast is safe after the bound check.
        self.durable.config.timeout_seconds = (seconds as u32).max(TIMEOUT_MIN_SECONDS);
        self.broadcast_config();
        self.complete(id, Ok(()));
        Ok(())
    }

    fn command_witness_off(&mut self, id: CommandId) -> Result<(), SqlError> {
        if self.durable.config.witness.is_none() {
            self.complete(id, Ok(()));
            return Ok(());
        }
        match self.durable.role {
            Role::Mirror => {
                self.forward(Forwarded::WitnessOff)?;
                self.complete(id, Ok(()));
            }
            Role::Principal => self.start_witness_off(Some(id))?,
        }
        Ok(())
    }

    /// WITNESS OFF is applied only after the witness (or, when it cannot be reached, the mirror)
    /// has durably recorded it; neither reachable: 1456 (reference section 4).
    fn start_witness_off(&mut self, id: Option<CommandId>) -> Result<(), SqlError> {
        let Some(w) = self.durable.config.witness else {
            return Ok(());
        };
        let mut numbers = self.durable.config.numbers;
        numbers.witness += 1;
        let recorder = if self.links.is_up(w) {
            w
        } else if self.links.is_up(self.durable.partner) {
            self.durable.partner
        } else {
            return Err(SqlError::new(
                1456,
                "WITNESS OFF could not reach the witness nor the mirror; nothing changed",
            ));
        };
        self.send(recorder, Message::WitnessOff { numbers });
        self.witness_off = Some((id, numbers));
        Ok(())
    }

    pub(super) fn on_witness_off_recorded(&mut self, witness_sequence: u64) {
        let Some((id, numbers)) = self.witness_off else {
            return;
        };
        if numbers.witness != witness_sequence {
            return;
        }
        self.witness_off = None;
        if let Some(w) = self.durable.config.witness.take() {
            self.links.remove_peer(w);
        }
        self.durable.config.numbers = numbers;
        self.witness_state = WitnessState::Unknown;
        self.exposure = super::Exposure::Unreported;
        self.broadcast_config();
        if let Some(id) = id {
            self.complete(id, Ok(()));
        }
    }

    /// The mirror stands in for an unreachable witness: it records WITNESS OFF and takes no part
    /// in an automatic failover of this session any more.
    pub(super) fn record_witness_off_for_principal(&mut self, numbers: Numbers) {
        self.durable.witness_excluded = true;
        self.send(
            self.durable.partner,
            Message::WitnessOffRecorded {
                witness_sequence: numbers.witness,
            },
        );
    }

    fn command_partner_off(&mut self, id: CommandId) -> Result<(), SqlError> {
        self.send(self.durable.partner, Message::PartnerOff);
        if let Some(w) = self.durable.config.witness {
            self.send(w, Message::PartnerOff);
        }
        self.complete(id, Ok(()));
        self.end_session();
        Ok(())
    }

    /// The session is over here. A principal's database stays online (the driver serves it as a
    /// database without mirroring); a mirror's copy stays RESTORING.
    pub(super) fn end_session(&mut self) {
        self.fail_pending("the transaction was rolled back: database mirroring was removed");
        self.ended = true;
        self.out.push(Output::SessionEnded);
    }

    /// SET WITNESS on the principal: 1470, 1429, 1426 (reference section 7; 1416 and 1418 are
    /// judged from the catalogs and the network by the driver before this).
    fn command_set_witness(
        &mut self,
        now: Nanos,
        id: CommandId,
        witness: InstanceId,
    ) -> Result<(), SqlError> {
        if self.durable.role != Role::Principal || self.taking_over.is_some() {
            return Err(principal_only("SET WITNESS"));
        }
        if witness == self.durable.me || witness == self.durable.partner {
            return Err(SqlError::new(
                1429,
                "the witness must be a server instance distinct from both partners",
            ));
        }
        if !self.links.is_up(self.durable.partner)
            || self.set_witness.is_some()
            || self.durable.config.witness.is_some()
        {
            return Err(SqlError::new(1426, "SET WITNESS needs the principal, the mirror and the witness interconnected (and no other witness change under way)"));
        }
        self.links.add_peer(witness, true);
        self.set_witness = Some(PendingWitness {
            id,
            witness,
            lsn_needed: self.lsn_end,
            issued: now,
            joined_sent: false,
        });
        Ok(())
    }

    pub(super) fn check_set_witness_deadline(&mut self, now: Nanos) {
        let Some(pending) = self.set_witness else {
            return;
        };
        let deadline = self.durable.config.timeout() + PING_INTERVAL;
        if !pending.joined_sent && now.saturating_sub(pending.issued) > deadline {
            self.set_witness = None;
            self.links.remove_peer(pending.witness);
            let error = SqlError::new(
                1418,
                "the witness server network address cannot be reached or does not exist",
            );
            self.complete(pending.id, Err(error));
        }
    }

    pub(super) fn on_joined(&mut self, witness_sequence: u64) {
        let Some(pending) = self.set_witness else {
            return;
        };
        if !pending.joined_sent || witness_sequence != self.durable.config.numbers.witness + 1 {
            return;
        }
        self.set_witness = None;
        self.durable.config.witness = Some(pending.witness);
        self.durable.config.numbers.witness = witness_sequence;
        self.witness_state = if self.links.is_up(pending.witness) {
            WitnessState::Connected
        } else {
            WitnessState::Disconnected
        };
        self.broadcast_config();
        self.complete(pending.id, Ok(()));
    }

    /// Sends the configuration to the mirror and the witness after a change of numbers; a
    /// SYNCHRONIZED principal re-tells both at the new numbers, and any exposure is re-reported.
    pub(super) fn broadcast_config(&mut self) {
        let config = self.durable.config;
        self.exposure = super::Exposure::Unreported;
        self.send(self.durable.partner, Message::Config(config));
        self.send_to_witness(Message::Config(config));
        if self.state == MirroringState::Synchronized {
            self.send(
                self.durable.partner,
                Message::Synchronized {
                    numbers: config.numbers,
                },
            );
        }
        if !self.needs_exposure() {
            self.report_status(SyncState::Synchronized);
        }
    }

    /// What pending commands wait for: the mirror hardening the failover tail, the log that
    /// existed when SET PARTNER or SET WITNESS was issued.
    pub(super) fn progress_commands(&mut self) {
        if let Some((id, target)) = self.manual_failover {
            if self.lsn_mirror_hardened >= target {
                self.manual_failover = None;
                self.finish_manual_failover(target);
                self.complete(id, Ok(()));
                return;
            }
        }
        if let Some((id, lsn)) = self.set_partner {
            if self.mirror_ready && self.lsn_mirror_hardened >= lsn {
                self.set_partner = None;
                self.complete(id, Ok(()));
            }
        }
        self.progress_set_witness();
    }

    /// The old principal records durably that it is the mirror at n+1, then tells the mirror
    /// (its Hello carries the change), which takes over (reference section 5, manual failover).
    fn finish_manual_failover(&mut self, failover_lsn: Lsn) {
        let change = RoleChange {
            role_sequence: self.role_sequence() + 1,
            principal: self.durable.partner,
            failover_lsn,
            fork: self.durable.fork,
            kind: FailoverKind::Manual,
        };
        self.merge_history(&[change]);
        self.become_mirror(change.role_sequence);
        self.durable.synced_role_sequence = change.role_sequence;
    }

    fn progress_set_witness(&mut self) {
        let Some(pending) = self.set_witness else {
            return;
        };
        let ready = !pending.joined_sent
            && self.links.is_up(pending.witness)
            && self.links.is_up(self.durable.partner)
            && self.lsn_mirror_hardened >= pending.lsn_needed;
        if !ready {
            return;
        }
        let mut config = self.durable.config;
        config.witness = Some(pending.witness);
        config.numbers.witness += 1;
        let partners = [self.durable.me, self.durable.partner];
        self.send(pending.witness, Message::Join { partners, config });
        self.set_witness = Some(PendingWitness {
            joined_sent: true,
            ..pending
        });
    }
}
