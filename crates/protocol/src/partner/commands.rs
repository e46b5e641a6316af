//! The session commands on a partner (reference section 5): who may issue them, their errors in
//! the order they are checked, and how they progress.

use super::{Partner, PendingWitness, PendingWitnessOff, Replacement};
use crate::command::SessionCommand;
use crate::error::SqlError;
use crate::link::Link;
use crate::message::{Forwarded, Message};
use crate::mutant::Mutant;
use crate::output::INTERNAL_COMMAND;
use crate::output::{CommandId, Output};
use crate::types::*;

fn witness_off_unreachable() -> SqlError {
    SqlError::new(
        1456,
        "WITNESS OFF could not reach the witness nor the mirror; nothing changed",
    )
}

fn witness_off_overtaken() -> SqlError {
    SqlError::new(
        1404,
        "WITNESS OFF failed: a role change made this instance the mirror before the witness \
         recorded it; reissue it on the new principal",
    )
}

/// Reference section 4: a principal with a witness set that has declared both its mirror and its
/// witness connections lost has no quorum; a command that needs the other instances fails.
fn no_quorum(what: &str) -> SqlError {
    SqlError::new(
        1431,
        format!(
            "{what} failed: neither the partner nor the witness server instance is available \
             (this principal has lost both connections: no quorum, the database is offline)"
        ),
    )
}

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

    /// Manual failover: 1470, 1477, then 1447 without the mirror's connection, 1422 with it
    /// but not synchronized (reference section 5).
    fn command_failover(&mut self, id: CommandId) -> Result<(), SqlError> {
        if self.durable.role != Role::Principal {
            return Err(principal_only("SET PARTNER FAILOVER"));
        }
        if self.durable.config.safety != Safety::Full {
            return Err(SqlError::new(
                1477,
                "manual failover needs SAFETY FULL: the session runs with SAFETY OFF",
            ));
        }
        if self.taking_over.is_some() {
            // It is the principal (sys.database_mirroring says so), still taking over: its
            // mirror is not synchronized to it yet.
            return Err(SqlError::new(1422, "the mirror is not synchronized: this instance is still taking over as principal (draining its redo queue)"));
        }
        // Reference section 5 lists "SYNCHRONIZED (else 1422), partners connected (else
        // 1447)". A principal without its mirror's connection is never SYNCHRONIZED, so were
        // 1422 judged first, 1447 could never answer the statement; section 7's table gives
        // 1447 for "both partners must be up and connected", the mirror down or cut off.
        if !self.links.is_up(self.durable.partner) {
            return Err(SqlError::new(
                1447,
                format!("both partners must be up and connected for a manual failover (the session is {})", self.state.name()),
            ));
        }
        if self.state != MirroringState::Synchronized {
            return Err(SqlError::new(1422, format!("the mirror is not synchronized (the session is {}); manual failover needs a synchronized mirror", self.state.name())));
        }
        self.set_state(MirroringState::PendingFailover);
        self.manual_failover = Some((id, self.lsn_end));
        let failover_lsn = self.lsn_end;
        self.send(
            self.durable.partner,
            Message::FailoverPrepare { failover_lsn },
        );
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
            if self.forcing.is_some() {
                return Err(SqlError::new(
                    1406,
                    "service cannot be forced: a forced service is already waiting for the witness",
                ));
            }
            // The witness decides, atomically, as it does an automatic failover: what it last told
            // the mirror may be out of date (issue 6, the rule this changes in reference
            // section 5). The command completes on its answer.
            self.offer_failover_lsn();
            let body = Message::ForceServiceRequest {
                numbers: self.durable.config.numbers,
                lsn_hardened: self.lsn_hardened,
                fork: self.durable.fork,
            };
            self.send(w, body);
            self.forcing = Some(id);
            return Ok(());
        }
        self.force_service_now(id);
        Ok(())
    }

    /// Forced service without a witness: this mirror takes role sequence n+1 at once, in a new
    /// fork at its hardened end, and the statement completes.
    fn force_service_now(&mut self, id: CommandId) {
        let change = RoleChange {
            role_sequence: self.role_sequence() + 1,
            principal: self.durable.me,
            failover_lsn: self.lsn_hardened,
            fork: Fork(self.durable.fork.0 + 1),
            kind: FailoverKind::Forced,
        };
        self.take_forced_service(change);
        self.complete(id, Ok(()));
    }

    /// The witness answered a forced service with the WITNESS OFF it recorded from the
    /// principal while this mirror was out of reach: the session has no witness any more
    /// (reference section 4: whoever recorded the removal takes no part in a role change), so
    /// service is forced as without one (section 5: allowed once the mirror has declared the
    /// principal lost, which the request required).
    pub(super) fn force_service_without_the_removed_witness(&mut self, now: Nanos) {
        let Some(id) = self.forcing.take() else {
            return;
        };
        let mut config = self.durable.config;
        config.witness = None;
        config.numbers.witness += 1;
        self.apply_config(now, config);
        self.force_service_now(id);
    }

    /// Forced service: M becomes principal at once at `change`'s role sequence (n+1),
    /// SUSPENDED, in a new recovery fork that starts at the fork LSN (its hardened end of log
    /// when service was forced). Without a witness at once; with one, when the witness grants it
    /// (or, after a restart, when the witness tells it the grant it recorded).
    pub(super) fn take_forced_service(&mut self, change: RoleChange) {
        debug_assert_eq!(change.kind, FailoverKind::Forced);
        // Granted by the witness, the fork LSN may have been fixed on an offer made before the
        // log was replaced; without a witness it is this mirror's hardened end now.
        let change = if self.witness().is_some() {
            self.failover_lsn_still_held(change)
        } else {
            change
        };
        let fork_lsn = change.failover_lsn;
        self.discard_past(fork_lsn);
        self.durable.fork = change.fork;
        self.out.push(Output::NewFork {
            fork: change.fork,
            lsn: fork_lsn,
        });
        self.durable.config.suspended = true;
        self.durable.config.numbers.suspend += 1;
        self.take_over(change);
        self.set_state(MirroringState::Suspended);
        if let Some(id) = self.forcing.take() {
            self.complete(id, Ok(()));
        }
    }

    fn command_suspend(&mut self, id: CommandId, suspend: bool) -> Result<(), SqlError> {
        if self.durable.role == Role::Principal {
            let what = if suspend {
                "SET PARTNER SUSPEND"
            } else {
                "SET PARTNER RESUME"
            };
            self.require_quorum_peer(what)?;
        }
        match self.durable.role {
            Role::Mirror => {
                let command = if suspend {
                    Forwarded::Suspend
                } else {
                    Forwarded::Resume
                };
                // Completes with the principal's answer.
                return self.forward(id, command);
            }
            Role::Principal => self.apply_suspend(suspend),
        }
        self.complete_unless_held(id);
        Ok(())
    }

    /// Completes the operator's command now, or, when this instance is taking over, once the
    /// take-over lets it be applied (`apply_commands_held_by_take_over`): completed at once, a
    /// command held by a take-over that a crash then cut short reported success with no effect.
    fn complete_unless_held(&mut self, id: CommandId) {
        if self.taking_over.is_none() {
            self.complete(id, Ok(()));
            return;
        }
        if let Some(earlier) = self.held_command.replace(id) {
            // Steps run one at a time, so there is no earlier one; should there be, it is done.
            self.complete(earlier, Ok(()));
        }
    }

    /// The commands held by a take-over have been applied (or, `Err`, dropped with it).
    pub(super) fn complete_held_command(&mut self, result: Result<(), SqlError>) {
        if let Some(id) = self.held_command.take() {
            self.complete(id, result);
        }
    }

    /// A mirror forwards SUSPEND, RESUME and WITNESS OFF to the principal (reference section 4).
    /// The statement completes when the principal answers: a command sent into a connection
    /// that is silently gone (a partition not yet noticed, a principal that crashed as it
    /// arrived) succeeded here with no effect, leaving automatic failover armed after a WITNESS
    /// OFF. If the connection is declared lost first, it fails with 1456.
    fn forward(&mut self, id: CommandId, command: Forwarded) -> Result<(), SqlError> {
        if !self.links.is_up(self.durable.partner) {
            return Err(SqlError::new(
                1456,
                "the command could not reach the principal; nothing changed",
            ));
        }
        if id == INTERNAL_COMMAND {
            // The instance's own (a mirror that cannot write its log, a page repair): sent
            // whatever the operator has under way, and answered in turn (FIFO), so the answers
            // it gets first are counted off before the operator's.
            self.send(self.durable.partner, Message::Forward(command));
            self.internal_forwards = self.internal_forwards.saturating_add(1);
            return Ok(());
        }
        if self.forwarded.is_some() {
            return Err(SqlError::new(
                1456,
                "another command issued on this mirror is still waiting for the principal; nothing changed",
            ));
        }
        self.send(self.durable.partner, Message::Forward(command));
        self.forwarded = Some((id, command, self.internal_forwards));
        Ok(())
    }

    /// The principal's answer to a command this mirror forwarded. Answers come in the order
    /// the commands were sent, except a WITNESS OFF's, which comes once it is recorded; the
    /// instance's own are only ever SUSPEND or RESUME, so one of another kind is not the
    /// operator's.
    pub(super) fn on_forward_done(&mut self, answered: Forwarded, applied: bool) {
        let answers_ours = match &mut self.forwarded {
            Some((_, ours, ahead)) if *ahead == 0 && *ours == answered => true,
            Some((_, _, ahead)) => {
                *ahead = ahead.saturating_sub(1);
                false
            }
            None => false,
        };
        if !answers_ours {
            // An answer to one of the instance's own commands.
            self.internal_forwards = self.internal_forwards.saturating_sub(1);
            return;
        }
        let Some((id, _, _)) = self.forwarded.take() else {
            return;
        };
        let result = if applied {
            Ok(())
        } else {
            Err(SqlError::new(
                1456,
                "the principal could not reach the witness or this mirror to record the command; nothing changed",
            ))
        };
        self.complete(id, result);
    }

    /// The forwarded command gets no answer: 1456 (reference section 7: the command could not
    /// reach the remote instance). The principal may have applied it; the message says so.
    pub(super) fn fail_forwarded(&mut self, why: &str) {
        self.internal_forwards = 0;
        if let Some((id, _, _)) = self.forwarded.take() {
            let message =
                format!("{why}; it may not have been applied (check sys.database_mirroring)");
            self.complete(id, Err(SqlError::new(1456, message)));
        }
    }

    pub(super) fn on_forwarded(&mut self, _now: Nanos, command: Forwarded) {
        let applied = match command {
            Forwarded::Suspend => {
                self.apply_suspend(true);
                true
            }
            Forwarded::Resume => {
                self.apply_suspend(false);
                true
            }
            Forwarded::WitnessOff => return self.witness_off_for_mirror(),
        };
        if self.taking_over.is_some() {
            // Held by the take-over (see `apply_suspend`): answered once applied, as the
            // principal answers what it applies (reference section 4).
            // Bounded: a mirror has one operator's command and at most `u8::MAX` of its own
            // unanswered (`internal_forwards`).
            if self.forward_done_after_take_over.len() <= usize::from(u8::MAX) {
                self.forward_done_after_take_over.push(command);
            }
            return;
        }
        self.send(
            self.durable.partner,
            Message::ForwardDone { command, applied },
        );
    }

    /// WITNESS OFF forwarded by the mirror: answered once it is recorded (reference section 4:
    /// applied only then), or at once when there is nothing to do or it cannot be done.
    fn witness_off_for_mirror(&mut self) {
        let answer_now = match &mut self.witness_off {
            // The first half of a witness replacement: turning the witness off is not what it
            // ends with, so the mirror's WITNESS OFF is not done.
            Some(pending) if pending.replacement.is_some() => Some(false),
            // One under way (the operator's): the mirror's is answered with it. Asked anew, the
            // operator's statement would never complete.
            Some(pending) => {
                pending.for_mirror = true;
                None
            }
            None if self.durable.config.witness.is_none() => Some(true),
            None => match self.start_witness_off(None, None) {
                Ok(()) => {
                    if let Some(pending) = &mut self.witness_off {
                        pending.for_mirror = true;
                    }
                    None
                }
                Err(_) => Some(false),
            },
        };
        if let Some(applied) = answer_now {
            self.send_witness_off_answer(applied);
        }
    }

    /// Answers the mirror whose WITNESS OFF `pending` carried, if it did.
    fn answer_witness_off_for_mirror(&mut self, pending: &PendingWitnessOff, applied: bool) {
        if pending.for_mirror && self.links.is_up(self.durable.partner) {
            self.send_witness_off_answer(applied);
        }
    }

    /// The answer to a WITNESS OFF the mirror forwarded.
    fn send_witness_off_answer(&mut self, applied: bool) {
        let answer = Message::ForwardDone {
            command: Forwarded::WitnessOff,
            applied,
        };
        self.send(self.durable.partner, answer);
    }

    /// SUSPEND or RESUME on the principal: bump the suspend sequence; RESUME returns to
    /// SYNCHRONIZING with a new switch LSN once the mirror is ready again.
    pub(super) fn apply_suspend(&mut self, suspend: bool) {
        if self.taking_over.is_some() {
            // The session's numbers are being changed by the role change: the operator's
            // SUSPEND or RESUME is applied as soon as this instance serves, never dropped.
            self.suspend_after_take_over = Some(suspend);
            return;
        }
        if self.durable.config.suspended == suspend {
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
        if suspend {
            // SET PARTNER completes once the mirror has hardened the log that existed when it
            // was issued (reference section 7), which a SUSPENDED session never does: it waited
            // for ever, holding up every later step (a mirror whose disk filled during its
            // catch-up). The session stays, SUSPENDED.
            if let Some(pending) = self.set_partner.take() {
                let message = "the session was suspended (by the mirror, or by SUSPEND) before the mirror hardened the log that existed when SET PARTNER was issued; the session stays SUSPENDED: RESUME once the cause is fixed";
                self.complete(pending.id, Err(SqlError::new(1418, message)));
            }
        }
        self.durable.config.suspended = suspend;
        self.durable.config.numbers.suspend += 1;
        self.switch_lsn = None;
        self.mirror_ready = false;
        let state = if suspend {
            MirroringState::Suspended
        } else if self.links.is_up(self.durable.partner)
            && self.partner_member == super::Membership::Member
        {
            // Connected to a partner that has shown it holds the session. A connection to an
            // instance that left it (PARTNER OFF: its endpoint still accepts, as a witness's
            // would) is no mirror, and the principal stayed SYNCHRONIZING with none (audit AW).
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
        self.require_quorum_peer("SET PARTNER SAFETY")?;
        if self.durable.config.safety != safety {
            self.durable.config.safety = safety;
            self.durable.config.numbers.safety += 1;
            if safety == Safety::Full
                && matches!(
                    self.state,
                    MirroringState::Synchronized | MirroringState::Synchronizing
                )
            {
                // SAFETY FULL after OFF returns to SYNCHRONIZING with a new switch LSN
                // (reference section 4), also when already SYNCHRONIZING: a switch LSN fixed
                // under OFF lies below commits acknowledged since, which the mirror may not
                // have, and reaching it would report SYNCHRONIZED to the witness (found by an
                // audit: an automatic failover then lost those commits).
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
            return Err(SqlError::new(1476, format!("Database mirroring timeout value {seconds} exceeds the maximum value {TIMEOUT_MAX_SECONDS}.")));
        }
        self.require_quorum_peer("SET PARTNER TIMEOUT")?;
        // 0 to 4 become 5 (reference section 3); the cast is safe after the bound check.
        self.durable.config.timeout_seconds = (seconds as u32).max(TIMEOUT_MIN_SECONDS);
        // No sequence number changes: the witness's record and the mirror's notice stand, and
        // so does a confirmed exposure (a TIMEOUT change must not stop an exposed principal).
        self.send_config();
        self.complete(id, Ok(()));
        Ok(())
    }

    /// 1431 on a principal with a witness set that has neither its mirror nor its witness
    /// connection (reference section 4: no quorum, it has stopped serving); a connection whose
    /// peer has shown it holds no session does not count. Without a witness, quorum is not required
    /// and the command goes ahead (a DBA may change SAFETY while the mirror is away). Judged on
    /// the connections alone, whatever a mutant does to serving.
    fn require_quorum_peer(&self, what: &str) -> Result<(), SqlError> {
        if self.quorum_by(Self::may_be_member) {
            return Ok(());
        }
        Err(no_quorum(what))
    }

    fn command_witness_off(&mut self, id: CommandId) -> Result<(), SqlError> {
        let known = self.durable.config.witness.is_some();
        match self.durable.role {
            // A connected mirror forwards it even when it knows of no witness: the principal's
            // SET WITNESS completes once the witness has recorded the session, a message before
            // the mirror hears of it, so a WITNESS OFF issued on the mirror right after it
            // succeeded here without effect and automatic failover stayed armed.
            Role::Mirror if known || self.links.is_up(self.durable.partner) => {
                self.forward(id, Forwarded::WitnessOff)?;
            }
            Role::Principal if known => self.start_witness_off(Some(id), None)?,
            Role::Mirror | Role::Principal => self.complete(id, Ok(())),
        }
        Ok(())
    }

    /// WITNESS OFF is applied only after the witness (or, when it cannot be reached, the mirror)
    /// has durably recorded it; neither reachable: 1456 (reference section 4). With a
    /// `replacement`, this is the first half of a SET WITNESS that replaces the witness.
    fn start_witness_off(
        &mut self,
        id: Option<CommandId>,
        replacement: Option<Replacement>,
    ) -> Result<(), SqlError> {
        let Some(w) = self.durable.config.witness else {
            return Ok(());
        };
        let witness_sequence = self.durable.config.numbers.witness + 1;
        let Some(recorder) = self.witness_off_recorder(w) else {
            return Err(witness_off_unreachable());
        };
        self.send_witness_off(id, witness_sequence, recorder, replacement, false);
        Ok(())
    }

    /// Fails a pending WITNESS OFF: this instance stopped being the principal before it was
    /// recorded, and the new principal decides on its witness. (Left pending, it was later
    /// asked again with the numbers of the older role, and whoever recorded it went back to
    /// that role sequence: found by the model checker.)
    pub(super) fn fail_witness_off(&mut self) {
        if let Some(pending) = self.witness_off.take() {
            if let Some(id) = pending.id {
                self.complete(id, Err(witness_off_overtaken()));
            }
            self.answer_witness_off_for_mirror(&pending, false);
        }
    }

    /// Who can record WITNESS OFF now: the witness, else the mirror, connected and not known to
    /// hold no session (a greeting may still be on the way: the witness is reachable, and
    /// reference section 4 has it record the removal, or keep its record of a session without
    /// it). A witness that dropped its record (a PARTNER OFF on the mirror reached it) answers
    /// no WITNESS OFF: asked, it left the statement waiting to the end of the run. Once it
    /// shows it holds no session, the statement goes to the mirror or fails with 1456
    /// (`progress_witness_off`).
    fn witness_off_recorder(&self, witness: InstanceId) -> Option<InstanceId> {
        [witness, self.durable.partner]
            .into_iter()
            .find(|&peer| self.may_be_member(peer))
    }

    /// Asks `recorder` to record WITNESS OFF at `witness_sequence`, with the session's other
    /// numbers as they are now (asked again later, the safety or suspend sequence may have moved
    /// on; the witness sequence it asks for stays the same).
    fn send_witness_off(
        &mut self,
        id: Option<CommandId>,
        witness_sequence: u64,
        recorder: InstanceId,
        replacement: Option<Replacement>,
        for_mirror: bool,
    ) {
        let numbers = Numbers {
            witness: witness_sequence,
            ..self.durable.config.numbers
        };
        self.send(recorder, Message::WitnessOff { numbers });
        self.witness_off = Some(PendingWitnessOff {
            id,
            for_mirror,
            numbers,
            recorder,
            conn: self.links.link(recorder).and_then(Link::conn),
            replacement,
        });
    }

    /// A pending WITNESS OFF whose connection to its recorder was lost before the answer (a
    /// witness that died silently is only declared lost after TIMEOUT), or whose recorder showed
    /// it holds no session, is asked again of whoever can record it now; with neither reachable
    /// it fails with 1456, as at the start.
    fn progress_witness_off(&mut self) {
        let Some(pending) = self.witness_off else {
            return;
        };
        let link = self.links.link(pending.recorder);
        if link.is_some_and(|l| l.is_up() && l.conn() == pending.conn)
            && self.may_be_member(pending.recorder)
        {
            return;
        }
        let Some(w) = self.durable.config.witness else {
            self.witness_off = None;
            return;
        };
        match self.witness_off_recorder(w) {
            Some(recorder) => self.send_witness_off(
                pending.id,
                pending.numbers.witness,
                recorder,
                pending.replacement,
                pending.for_mirror,
            ),
            None => {
                self.witness_off = None;
                if let Some(id) = pending.id {
                    self.complete(id, Err(witness_off_unreachable()));
                }
                self.answer_witness_off_for_mirror(&pending, false);
            }
        }
    }

    pub(super) fn on_witness_off_recorded(&mut self, now: Nanos, witness_sequence: u64) {
        let Some(pending) = self.witness_off else {
            return;
        };
        let PendingWitnessOff {
            id,
            numbers,
            replacement,
            ..
        } = pending;
        if numbers.witness != witness_sequence {
            return;
        }
        self.witness_off = None;
        if let Some(w) = self.durable.config.witness.take() {
            self.drop_witness_connection(w);
        }
        // Only the witness sequence: the other numbers may have moved on since the command was
        // issued (a SAFETY change, a SUSPEND), and a sequence number never goes back (found by
        // the model checker with WITNESS OFF among its commands).
        let current = &mut self.durable.config.numbers;
        current.witness = current.witness.max(numbers.witness);
        self.witness_state = WitnessState::Unknown;
        self.exposure = super::Exposure::Unreported;
        self.broadcast_config();
        // After the configuration: the mirror knows the witness is gone when its statement ends.
        self.answer_witness_off_for_mirror(&pending, true);
        match (id, replacement) {
            // The old witness is out; the same statement now sets the new one.
            (Some(id), Some(r)) => self.ask_for_witness(now, id, r, true),
            (Some(id), None) => self.complete(id, Ok(())),
            (None, _) => {}
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
        if self.taking_over.is_some() {
            // Held with the role change, peers included: told at once, the witness dropped the
            // session this instance was about to serve, and a crash before it served left the
            // database unserved.
            self.end_after_take_over = Some(true);
            self.complete_unless_held(id);
            return Ok(());
        }
        self.send_partner_off();
        self.complete(id, Ok(()));
        self.end_session();
        Ok(())
    }

    /// Tells the partner and the witness that the session is over.
    pub(super) fn send_partner_off(&mut self) {
        self.send(self.durable.partner, Message::PartnerOff);
        if let Some(w) = self.durable.config.witness {
            self.send(w, Message::PartnerOff);
        }
    }

    /// The session is over here. A principal's database stays online (the driver serves it as a
    /// database without mirroring); a mirror's copy stays RESTORING.
    pub(super) fn end_session(&mut self) {
        if self.taking_over.is_some() {
            // The role change is recorded: finish it (drain redo, serve), then end the session,
            // so that the database comes online here instead of nowhere.
            self.end_after_take_over.get_or_insert(false);
            return;
        }
        self.fail_forwarded("the session ended before the principal confirmed the command");
        if let Some((id, _)) = self.manual_failover.take() {
            // The mirror's PARTNER OFF crossed the principal's FAILOVER: there is no session
            // left to fail over (1416, as the statement issued now would get).
            self.complete(
                id,
                Err(SqlError::new(
                    1416,
                    "the session ended (SET PARTNER OFF) during the failover; the failover was not done",
                )),
            );
        }
        if self.durable.role == Role::Principal && self.running {
            // The principal goes on as a database without mirroring: what waited for the mirror
            // (or for a failover that PARTNER OFF ends) completes on the local flush.
            for (tx, lsn) in std::mem::take(&mut self.pending) {
                self.out.push(Output::CommitWithoutMirroring { tx, lsn });
            }
        } else {
            self.fail_pending("the transaction was rolled back: database mirroring was removed");
        }
        self.ended = true;
        self.out.push(Output::SessionEnded);
    }

    /// SET WITNESS on the principal: 1470, 1429, 1426 (reference section 7; 1416 and 1418 are
    /// judged from the catalogs and the network by the driver before this). Naming the witness
    /// already set changes nothing and completes at once. Naming another while one is set
    /// replaces it: the WITNESS OFF procedure for the old one (reference section 4: recorded by
    /// the old witness or, if it cannot be reached, the mirror; 1456 if neither), then the
    /// SET WITNESS procedure for the new one, under this one command.
    fn command_set_witness(
        &mut self,
        now: Nanos,
        id: CommandId,
        witness: InstanceId,
    ) -> Result<(), SqlError> {
        if self.durable.role != Role::Principal {
            return Err(principal_only("SET WITNESS"));
        }
        if witness == self.durable.me || witness == self.durable.partner {
            return Err(SqlError::new(
                1429,
                "the witness must be a server instance distinct from both partners",
            ));
        }
        if self.taking_over.is_some() {
            // It is the principal (sys.database_mirroring says so), still finishing its role
            // change: the three are not yet interconnected in their new roles. It said 1470,
            // "only on the principal", to the DBA who had just failed over to it.
            return Err(SqlError::new(1426, "SET WITNESS needs the principal, the mirror and the witness interconnected: this principal is still finishing its role change (try again once it serves)"));
        }
        if !self.links.is_up(self.durable.partner)
            || self.set_witness.is_some()
            || self.witness_off.is_some()
        {
            return Err(SqlError::new(1426, "SET WITNESS needs the principal, the mirror and the witness interconnected (and no other witness change under way)"));
        }
        if self.durable.config.witness == Some(witness) {
            return self.confirm_witness(id, witness);
        }
        if self.durable.config.suspended && self.lsn_mirror_hardened < self.lsn_end {
            // Reference section 7: 1426 when the mirror has not hardened the log that existed
            // when the statement was issued; a SUSPENDED session sends it none.
            return Err(SqlError::new(1426, "the session is SUSPENDED: the mirror cannot harden the log that existed when SET WITNESS was issued (RESUME first)"));
        }
        let replacement = Replacement {
            witness,
            lsn_needed: self.lsn_end,
        };
        if self.durable.config.witness.is_some() {
            // The old witness must have recorded its removal (or the mirror for it) before the
            // new one is asked for: whoever recorded it takes no part in an automatic failover
            // any more, so no two witnesses can vouch for the session at once.
            return self.start_witness_off(Some(id), Some(replacement));
        }
        self.ask_for_witness(now, id, replacement, false);
        Ok(())
    }

    /// SET WITNESS naming the witness already set: nothing to change (no new witness sequence)
    /// once the three are interconnected, as the statement requires (1426 otherwise).
    fn confirm_witness(&mut self, id: CommandId, witness: InstanceId) -> Result<(), SqlError> {
        if !self.links.is_up(witness) {
            return Err(SqlError::new(1426, "SET WITNESS needs the principal, the mirror and the witness interconnected: the principal is not connected to its witness"));
        }
        self.complete(id, Ok(()));
        Ok(())
    }

    /// Connects to the new witness and waits for the mirror's hardening, then asks the witness
    /// to record the session (`progress_set_witness`). `replacing`: the old witness has been
    /// removed by this same statement.
    fn ask_for_witness(
        &mut self,
        now: Nanos,
        id: CommandId,
        replacement: Replacement,
        replacing: bool,
    ) {
        self.links.add_peer(replacement.witness, true);
        self.tick_now(); // connect to the witness now, not at the next ping
        self.set_witness = Some(PendingWitness {
            id,
            witness: replacement.witness,
            lsn_needed: replacement.lsn_needed,
            issued: now,
            joined_sent: false,
            replacing,
        });
    }

    /// Ends the pending SET WITNESS with `error`: the new witness is dropped. A replacement has
    /// removed the old witness already, so the session is left without a witness, as after
    /// WITNESS OFF; the message says so.
    pub(super) fn abandon_set_witness(&mut self, error: SqlError) {
        let Some(pending) = self.set_witness.take() else {
            return;
        };
        self.drop_witness_connection(pending.witness);
        let error = if pending.replacing {
            SqlError::new(
                error.number,
                format!(
                    "{}; the old witness was removed by this statement: the session now runs \
                     without a witness, as after WITNESS OFF",
                    error.message
                ),
            )
        } else {
            error
        };
        self.complete(pending.id, Err(error));
    }

    /// Whether a set-up statement issued at `issued` has waited as long as a silent failure
    /// takes to notice (reference section 3: TIMEOUT plus one ping interval, 11 s by default).
    fn setup_deadline_passed(&self, issued: Nanos, now: Nanos) -> bool {
        now.saturating_sub(issued) >= self.durable.config.timeout() + PING_INTERVAL
    }

    /// SET PARTNER whose connection to the mirror never came up fails with 1418 once a silent
    /// failure would be noticed (the connect requests were dropped: a powered-off host, a cut
    /// link). One that came up waits for the mirror's hardening, however long the backlog.
    pub(super) fn check_set_partner_deadline(&mut self, now: Nanos) {
        let Some(pending) = self.set_partner else {
            return;
        };
        if !self.links.is_up(self.durable.partner)
            && self.setup_deadline_passed(pending.issued, now)
        {
            self.fail_set_partner(
                "the connection to the mirror did not come up within the timeout",
            );
        }
    }

    /// The principal's SET PARTNER fails with 1418: the mirror was lost (or never reached)
    /// before it hardened the log that existed when the statement was issued (reference
    /// section 7: the connection to the partner fails).
    pub(super) fn fail_set_partner(&mut self, detail: &str) {
        if let Some(pending) = self.set_partner.take() {
            let message = format!(
                "the partner server network address cannot be reached or does not exist: {detail}"
            );
            self.complete(pending.id, Err(SqlError::new(1418, message)));
        }
    }

    /// The SET WITNESS naming `witness` fails with 1418: the witness was lost (or refused the
    /// connection) before it recorded the session (reference section 7).
    pub(super) fn fail_set_witness(&mut self, witness: InstanceId, detail: &str) {
        if self.set_witness.is_none_or(|p| p.witness != witness) {
            return;
        }
        let message = format!(
            "the witness server network address cannot be reached or does not exist: {detail}"
        );
        self.abandon_set_witness(SqlError::new(1418, message));
    }

    /// A connection this instance was opening was refused (a reset: the process behind the
    /// port died, or the port is closed): a hard error, noticed at once (reference section 3).
    /// A SET PARTNER or SET WITNESS waiting for that peer fails now, not at its deadline.
    pub(super) fn on_connection_refused(&mut self, peer: InstanceId) {
        if peer == self.durable.partner {
            self.awaiting_partner_since = None; // its process is down: serve exposed
        }
        if self.durable.role == Role::Principal && peer == self.durable.partner {
            self.fail_set_partner("the mirror refused the connection (reset)");
        }
        self.fail_set_witness(peer, "the witness refused the connection (reset)");
    }

    /// A SET WITNESS still waiting once a silent failure would be noticed fails: the witness's
    /// connection never came up (1418), or the mirror never hardened the log that existed when
    /// the statement was issued (1426). One whose Join went out on a connection that is still
    /// up waits for the answer, as SET PARTNER waits for the mirror: losing that connection
    /// fails it (1418). A witness far away (2.75 s or more one way) was refused at the deadline
    /// while its answer was on its way, though reference section 7 gives 1418 only for a
    /// witness that cannot be reached.
    pub(super) fn check_set_witness_deadline(&mut self, now: Nanos) {
        let Some(pending) = self.set_witness else {
            return;
        };
        if pending.joined_sent && self.links.is_up(pending.witness) {
            return;
        }
        if self.setup_deadline_passed(pending.issued, now) {
            // Which condition never held: the witness's connection and its answer (1418), or
            // the mirror hardening the log that existed when the statement was issued (1426).
            let error = if self.links.is_up(pending.witness) && !pending.joined_sent {
                SqlError::new(
                    1426,
                    "the mirror did not harden the log that existed when SET WITNESS was issued",
                )
            } else {
                SqlError::new(
                    1418,
                    "the witness server network address cannot be reached or does not exist",
                )
            };
            self.abandon_set_witness(error);
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
        self.send_config();
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

    /// Sends the session's configuration to the mirror and the witness.
    fn send_config(&mut self) {
        let config = self.durable.config;
        self.send(self.durable.partner, Message::Config(config));
        self.send_to_witness(Message::Config(config));
    }

    /// What pending commands wait for: the mirror hardening the failover tail, the log that
    /// existed when SET PARTNER or SET WITNESS was issued.
    pub(super) fn progress_commands(&mut self) {
        if let Some(pending) = self.set_partner {
            if self.mirror_ready && self.lsn_mirror_hardened >= pending.lsn_needed {
                self.set_partner = None;
                self.complete(pending.id, Ok(()));
            }
        }
        self.progress_set_witness();
        self.progress_witness_off();
    }

    /// The mirror has hardened the failover tail and recorded its LSN: the manual failover
    /// completes. Until this answer the principal waits (PENDING_FAILOVER); a mirror that never
    /// answers is declared lost after TIMEOUT and the statement fails with 1447.
    pub(super) fn on_failover_prepared(&mut self, failover_lsn: Lsn) {
        let Some((id, target)) = self.manual_failover else {
            return;
        };
        if failover_lsn != target {
            return;
        }
        self.manual_failover = None;
        self.lsn_mirror_hardened = self.lsn_mirror_hardened.max(target);
        self.finish_manual_failover(target);
        self.complete(id, Ok(()));
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
        // The witness records the change as well, with its failover LSN (reference section 4:
        // the witness's record holds "the failover LSN of the last role change"), and passes it
        // to the new principal with its next greeting. Should the hand-over never reach the
        // mirror (their link broke after it answered), the mirror, still connected to the
        // witness, takes over from the witness's word (a role change from the witness at the
        // current witness sequence, section 4) instead of waiting for the link to heal.
        let hello = self.hello();
        self.send_to_witness(hello);
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use crate::message::FailoverDenial;
    use crate::output::{StopReason, Timer};

    /// Issues `command` on `p`, expects it refused, and checks that nothing changed: the whole
    /// state machine is as before (its durable part included) and no completion is queued.
    fn refused(p: &mut Partner, command: SessionCommand) -> u32 {
        p.take_outputs();
        let before = p.clone();
        let err = p
            .handle_command(SECOND, 99, command)
            .expect_err("the command is refused");
        p.invariants();
        let out = p.take_outputs();
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::CommandCompleted { .. })),
            "a refused command completes nothing: {out:?}"
        );
        assert_eq!(
            p.durable(),
            before.durable(),
            "{command:?} changed the durable state"
        );
        assert_eq!(*p, before, "{command:?} changed the state");
        err.number
    }

    fn accepted(p: &mut Partner, id: CommandId, command: SessionCommand) -> Vec<Output> {
        p.handle_command(SECOND, id, command).expect("accepted");
        p.invariants();
        p.take_outputs()
    }

    fn completed(out: &[Output], id: CommandId) -> Option<Result<(), u32>> {
        out.iter().find_map(|o| match o {
            Output::CommandCompleted { id: i, result } if *i == id => {
                Some(result.clone().map_err(|e| e.number))
            }
            _ => None,
        })
    }

    // reference §5 manual failover, **Decision**: FAILOVER on the mirror fails with 1470
    // (checked first: the mirror's other conditions do not matter).
    #[test]
    fn failover_on_the_mirror_is_1470() {
        let mut m = synchronized_mirror(SessionConfig::new());
        assert_eq!(refused(&mut m, SessionCommand::Failover), 1470);
        let mut m = connected_mirror(0);
        lose(&mut m, P);
        assert_eq!(refused(&mut m, SessionCommand::Failover), 1470);
    }

    // reference §5: "Requires SAFETY FULL (else 1477)", checked before SYNCHRONIZED.
    #[test]
    fn failover_with_safety_off_is_1477_before_the_state_is_checked() {
        let mut p = synchronized_principal();
        accepted(&mut p, 5, SessionCommand::Safety(Safety::Off));
        assert_eq!(refused(&mut p, SessionCommand::Failover), 1477);
        lose(&mut p, M);
        assert_eq!(p.state(), MirroringState::Disconnected);
        assert_eq!(refused(&mut p, SessionCommand::Failover), 1477);
    }

    // reference §5: "SYNCHRONIZED (else 1422), partners connected (else 1447)": 1422 with the
    // mirror connected but not synchronized, 1447 without its connection (it was 1422, so 1447
    // could never answer the statement itself).
    #[test]
    fn failover_is_1422_when_not_synchronized_and_1447_without_the_mirror() {
        let mut p = connected_principal(200_000);
        from_peer(
            &mut p,
            0,
            M,
            Message::Ready {
                lsn_end: 0,
                lsn_hardened: 0,
            },
        );
        assert_eq!(p.state(), MirroringState::Synchronizing);
        assert_eq!(refused(&mut p, SessionCommand::Failover), 1422);
        let mut p = synchronized_principal();
        lose(&mut p, M);
        assert_eq!(refused(&mut p, SessionCommand::Failover), 1447);
    }

    // reference §5: "partners connected (else 1447)". A SYNCHRONIZED FULL principal always has
    // its mirror connection (an invariant), so 1447 shows when the connection is lost while the
    // failover is under way: the failover is not done and nothing changes role.
    #[test]
    fn failover_interrupted_by_losing_the_mirror_completes_with_1447() {
        let mut p = synchronized_principal();
        commit(&mut p, 1, 100);
        flushed(&mut p, 100);
        let out = accepted(&mut p, 7, SessionCommand::Failover);
        assert_eq!(
            completed(&out, 7),
            None,
            "waits for the mirror to harden the tail"
        );
        assert_eq!(p.state(), MirroringState::PendingFailover);
        let out = lose(&mut p, M);
        assert_eq!(completed(&out, 7), Some(Err(1447)));
        assert_eq!(p.role(), Role::Principal);
        assert_eq!(p.role_sequence(), 0);
        assert!(p.durable().role_history.is_empty());
        assert_eq!(p.state(), MirroringState::Disconnected);
        assert!(p.is_serving(), "no witness: serves again, exposed");
    }

    // reference §5 forced service: 1455 when issued on the principal.
    #[test]
    fn force_service_on_the_principal_is_1455() {
        let mut p = synchronized_principal();
        assert_eq!(refused(&mut p, SessionCommand::ForceService), 1455);
        lose(&mut p, M);
        assert_eq!(refused(&mut p, SessionCommand::ForceService), 1455);
    }

    // reference §5: 1455 "when M still has its connection to P" -- checked before the witness.
    #[test]
    fn force_service_while_connected_to_the_principal_is_1455_before_the_witness_is_checked() {
        let mut m = synchronized_mirror(witness_config());
        assert!(!m.is_connected(W));
        assert_eq!(refused(&mut m, SessionCommand::ForceService), 1455);
    }

    // reference §5: 1406 "when a witness is set and M is not connected to it".
    #[test]
    fn force_service_with_the_witness_unreachable_is_1406() {
        let mut m = synchronized_mirror(witness_config());
        lose(&mut m, P);
        assert_eq!(refused(&mut m, SessionCommand::ForceService), 1406);
    }

    // reference §5: 1406 "or W still sees P"; allowed once W has itself declared P lost.
    #[test]
    fn force_service_while_the_witness_sees_the_principal_is_1406() {
        let mut m = mirror_with_witness(false);
        let numbers = witness_config().numbers;
        from_peer(
            &mut m,
            0,
            W,
            Message::WitnessHello {
                last_change: None,
                numbers,
                config: witness_config(),
                sees_principal: true,
            },
        );
        lose(&mut m, P);
        assert_eq!(refused(&mut m, SessionCommand::ForceService), 1406);
        from_peer(
            &mut m,
            0,
            W,
            Message::WitnessView {
                sees_principal: false,
            },
        );
        let out = accepted(&mut m, 8, SessionCommand::ForceService);
        assert_eq!(completed(&out, 8), None, "the witness decides");
        assert!(asked_to_force(&out));
        let out = grant_forced(&mut m);
        assert_eq!(completed(&out, 8), Some(Ok(())));
        assert_eq!(m.role(), Role::Principal);
    }

    /// A mirror with a witness set that has declared the principal lost, told by the witness
    /// that it has lost the principal too: forced service may be asked for.
    fn mirror_lost_principal_witness_too() -> Partner {
        let mut m = mirror_with_witness(false);
        let view = Message::WitnessView {
            sees_principal: false,
        };
        from_peer(&mut m, 0, W, view);
        lose(&mut m, P);
        m
    }

    /// The forced service the witness records for `m` (role sequence n+1, the next fork at its
    /// hardened end), with the witness's numbers after it.
    fn forced_change(m: &Partner) -> (RoleChange, Numbers) {
        let mut numbers = m.config().numbers;
        numbers.role += 1;
        let change = RoleChange {
            role_sequence: numbers.role,
            principal: M,
            failover_lsn: m.lsn_hardened(),
            fork: Fork(m.durable().fork.0 + 1),
            kind: FailoverKind::Forced,
        };
        (change, numbers)
    }

    /// Whether `out` asks the witness for forced service.
    fn asked_to_force(out: &[Output]) -> bool {
        out.iter().any(|o| {
            matches!(o, Output::Send(e) if e.to == W
                && matches!(e.body, Message::ForceServiceRequest { .. }))
        })
    }

    /// The witness's grant of the forced service `m` asked for, as the witness sends it (its
    /// record at role sequence n+1 with `m` principal).
    fn grant_forced(m: &mut Partner) -> Vec<Output> {
        let (change, numbers) = forced_change(m);
        let body = Message::FailoverGranted { change, numbers };
        from_witness_at(m, numbers.role, M, body)
    }

    /// `body` from the witness on `m`'s current connection to it, sent with the witness's view
    /// of the roles (role sequence `role`, `principal` principal).
    fn from_witness_at(
        m: &mut Partner,
        role: u64,
        principal: InstanceId,
        body: Message,
    ) -> Vec<Output> {
        let conn = m.links().conn(W).expect("connected");
        deliver(m, 2 * SECOND, env(W, M, conn, role, principal, body))
    }

    // reference §4: whoever recorded WITNESS OFF "takes no part in an automatic failover of
    // this session any more"; §5: without a witness, service may be forced once the mirror has
    // declared the principal lost. A mirror cut off while the principal removed the witness
    // was refused (1406) on every try, and the database stayed down.
    #[test]
    fn a_witness_that_recorded_witness_off_lets_the_mirror_force_service_without_it() {
        let mut m = mirror_lost_principal_witness_too();
        let witness_sequence = m.config().numbers.witness;
        let out = accepted(&mut m, 8, SessionCommand::ForceService);
        assert!(asked_to_force(&out));
        let out = from_peer(
            &mut m,
            SECOND,
            W,
            Message::ForceServiceDenied {
                reason: FailoverDenial::WitnessRemoved,
            },
        );
        assert_eq!(completed(&out, 8), Some(Ok(())));
        assert_eq!(m.role(), Role::Principal);
        assert_eq!(m.config().witness, None);
        assert_eq!(m.config().numbers.witness, witness_sequence + 1);
        assert_eq!(m.state(), MirroringState::Suspended);
        m.invariants();
    }

    // Forced service with a witness is granted by the witness atomically (issue 6: the rule of
    // reference section 5 raced the witness's next word). A refusal, or the witness lost before
    // it answers, fails the command with 1406 and changes nothing durable.
    #[test]
    fn forced_service_refused_by_the_witness_or_unanswered_is_1406() {
        let mut m = mirror_lost_principal_witness_too();
        let before = m.durable().clone();
        let out = accepted(&mut m, 8, SessionCommand::ForceService);
        assert!(asked_to_force(&out));
        assert_eq!(
            refused(&mut m, SessionCommand::ForceService),
            1406,
            "one request at a time"
        );
        let out = from_peer(
            &mut m,
            SECOND,
            W,
            Message::ForceServiceDenied {
                reason: FailoverDenial::PrincipalConnected,
            },
        );
        assert_eq!(completed(&out, 8), Some(Err(1406)));
        assert_eq!(m.role(), Role::Mirror);
        // Nothing changed but the record of the failover LSN offered (kept in case a grant of
        // it is learnt later: see `PartnerDurable::failover_offers`).
        let mut after = m.durable().clone();
        assert_eq!(
            after.failover_offers.len(),
            before.failover_offers.len() + 1
        );
        after.failover_offers.clone_from(&before.failover_offers);
        assert_eq!(after, before);
        assert_eq!(
            refused(&mut m, SessionCommand::ForceService),
            1406,
            "the witness said it sees the principal"
        );
        from_peer(
            &mut m,
            SECOND,
            W,
            Message::WitnessView {
                sees_principal: false,
            },
        );
        let out = accepted(&mut m, 9, SessionCommand::ForceService);
        assert!(asked_to_force(&out));
        let out = lose(&mut m, W);
        assert_eq!(completed(&out, 9), Some(Err(1406)));
        assert_eq!(m.role(), Role::Mirror);
        let mut after = m.durable().clone();
        after.failover_offers.clone_from(&before.failover_offers);
        assert_eq!(after, before);
    }

    // A forced service still waiting for the witness when a failover settles the roles first
    // is answered by the mirror itself: the witness ignores a request made at an older role
    // sequence, and the statement must not wait for ever.
    #[test]
    fn a_failover_before_the_witness_answers_ends_the_forced_service_command() {
        let mut m = mirror_lost_principal_witness_too();
        let out = accepted(&mut m, 8, SessionCommand::ForceService);
        assert!(asked_to_force(&out));
        let (mut change, numbers) = forced_change(&m);
        change.kind = FailoverKind::Automatic;
        change.fork = m.durable().fork;
        let body = Message::FailoverGranted { change, numbers };
        let out = from_witness_at(&mut m, numbers.role, M, body);
        assert_eq!(completed(&out, 8), Some(Err(1455)));
        assert_eq!(m.role_sequence(), 1);

        let mut m = mirror_lost_principal_witness_too();
        let out = accepted(&mut m, 9, SessionCommand::ForceService);
        assert!(asked_to_force(&out));
        let view = Message::WitnessView {
            sees_principal: false,
        };
        // The old principal failed over elsewhere: role sequence 1 with P principal.
        let out = from_witness_at(&mut m, 1, P, view);
        assert_eq!(completed(&out, 9), Some(Err(1406)));
        assert_eq!(m.role(), Role::Mirror);
    }

    // A grant the witness recorded but the mirror never received (it crashed) is learnt from the
    // witness's hello after the restart: the mirror takes the forced service then, in the fork
    // the witness recorded.
    #[test]
    fn a_recorded_forced_service_is_taken_after_a_restart() {
        let mut m = mirror_lost_principal_witness_too();
        let out = accepted(&mut m, 8, SessionCommand::ForceService);
        assert!(asked_to_force(&out));
        let (change, numbers) = forced_change(&m);
        assert_eq!(change.fork, Fork(1));
        m.crash();
        m.restart(SECOND, m.lsn_hardened());
        m.handle_timer(SECOND, Timer::Ping);
        deliver(&mut m, SECOND, env(W, M, conn(M, 1), 0, P, Message::Accept));
        let hello = Message::WitnessHello {
            last_change: Some(change),
            numbers,
            config: witness_config(),
            sees_principal: false,
        };
        let out = deliver(
            &mut m,
            SECOND,
            env(W, M, conn(M, 1), numbers.role, M, hello),
        );
        assert!(out.contains(&Output::NewFork {
            fork: Fork(1),
            lsn: change.failover_lsn
        }));
        assert_eq!(m.role(), Role::Principal);
        assert_eq!(m.role_sequence(), 1);
        assert_eq!(m.state(), MirroringState::Suspended);
        assert_eq!(m.durable().fork, Fork(1));
    }

    // reference §5: forced service needs "M connected to W and W has itself declared P lost"
    // (1406 while W still sees P). A mirror that restarted and reconnected to the witness has
    // not heard the witness's view yet: it must refuse, not take the silence for "P lost".
    // Found by the model checker (high safety with witness and commands: beta crashes,
    // restarts, connects to gamma, and forcing service was accepted while gamma still had
    // alpha connected and its WitnessHello was in flight).
    #[test]
    fn force_service_before_the_witness_has_spoken_is_1406() {
        let mut m = mirror_with_witness(false);
        lose(&mut m, P);
        assert_eq!(refused(&mut m, SessionCommand::ForceService), 1406);
        m.crash();
        m.restart(SECOND, 0);
        m.handle_timer(SECOND, Timer::Ping);
        deliver(&mut m, SECOND, env(W, M, conn(M, 1), 0, P, Message::Accept));
        assert!(m.is_connected(W));
        assert_eq!(
            m.witness_state(),
            WitnessState::Disconnected,
            "the witness has not spoken"
        );
        assert!(!m.is_connected(P));
        assert_eq!(refused(&mut m, SessionCommand::ForceService), 1406);
        // Once the witness says it has lost the principal, service can be forced.
        from_peer(
            &mut m,
            SECOND,
            W,
            Message::WitnessHello {
                last_change: None,
                numbers: witness_config().numbers,
                config: witness_config(),
                sees_principal: false,
            },
        );
        let out = accepted(&mut m, 9, SessionCommand::ForceService);
        assert!(asked_to_force(&out));
        let out = grant_forced(&mut m);
        assert_eq!(completed(&out, 9), Some(Ok(())));
    }

    // reference §5 forced service: "M becomes principal at once at role sequence n+1, the
    // session goes SUSPENDED, a new recovery fork starts at the fork LSN = M's hardened end".
    #[test]
    fn force_service_takes_over_at_once_suspended_in_a_new_fork_at_the_hardened_end() {
        let mut m = connected_mirror(0);
        from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 0));
        from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 0,
                lsn_to: 100,
            },
        );
        flushed(&mut m, 100);
        from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 100,
                lsn_to: 300,
            },
        ); // not hardened
        lose(&mut m, P);
        let out = accepted(&mut m, 9, SessionCommand::ForceService);
        assert_eq!(completed(&out, 9), Some(Ok(())));
        assert!(out.contains(&Output::NewFork {
            fork: Fork(1),
            lsn: 100
        }));
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Discard { lsn: 100, .. })));
        assert!(out.contains(&Output::RoleChanged {
            role: Role::Principal,
            role_sequence: 1
        }));
        assert_eq!(m.role(), Role::Principal);
        assert_eq!(m.state(), MirroringState::Suspended);
        assert_eq!(m.lsn_end(), 100);
        let config = m.config();
        assert!(config.suspended);
        assert_eq!(config.numbers.role, 1);
        assert_eq!(config.numbers.suspend, 1);
        assert_eq!(m.durable().fork, Fork(1));
        assert_eq!(
            m.durable().role_history.last(),
            Some(&RoleChange {
                role_sequence: 1,
                principal: M,
                failover_lsn: 100,
                fork: Fork(1),
                kind: FailoverKind::Forced
            })
        );
        // Still finishing its take-over, it is the principal: SET WITNESS now is 1426 (the
        // three are not interconnected in their new roles), never 1470.
        assert!(m.taking_over.is_some());
        assert_eq!(refused(&mut m, SessionCommand::SetWitness(W)), 1426);
    }

    // reference §3: TIMEOUT "at most 32767 (error 1476 above)"; a refused TIMEOUT changes nothing.
    #[test]
    fn timeout_above_32767_is_1476() {
        let mut p = synchronized_principal();
        assert_eq!(refused(&mut p, SessionCommand::Timeout(32_768)), 1476);
        assert_eq!(refused(&mut p, SessionCommand::Timeout(u64::MAX)), 1476);
        assert_eq!(
            refused(&mut p, SessionCommand::Timeout(u64::from(u32::MAX) + 6)),
            1476
        );
        assert_eq!(p.config().timeout_seconds, 10);
        let out = accepted(&mut p, 3, SessionCommand::Timeout(32_767));
        assert_eq!(completed(&out, 3), Some(Ok(())));
        assert_eq!(p.config().timeout_seconds, 32_767);
        assert_eq!(p.config().timeout(), 32_767 * SECOND);
    }

    // reference §3: "0-4 becomes 5"; the principal passes TIMEOUT to the mirror.
    #[test]
    fn timeout_below_5_becomes_5_and_is_sent_to_the_mirror() {
        for (typed, kept) in [(0, 5), (4, 5), (5, 5), (6, 6), (10, 10)] {
            let mut p = synchronized_principal();
            let out = accepted(&mut p, 3, SessionCommand::Timeout(typed));
            assert_eq!(p.config().timeout_seconds, kept, "TIMEOUT {typed}");
            assert!(sent(&out).contains(&(M, Message::Config(p.config()))));
        }
    }

    // reference §3: TIMEOUT is set "on the principal only" (1470 first, even out of range).
    #[test]
    fn timeout_on_the_mirror_is_1470() {
        let mut m = synchronized_mirror(SessionConfig::new());
        assert_eq!(refused(&mut m, SessionCommand::Timeout(20)), 1470);
        assert_eq!(refused(&mut m, SessionCommand::Timeout(40_000)), 1470);
    }

    // reference §1: "Only the principal changes it (SET PARTNER SAFETY FULL|OFF)".
    #[test]
    fn safety_on_the_mirror_is_1470() {
        let mut m = synchronized_mirror(SessionConfig::new());
        assert_eq!(refused(&mut m, SessionCommand::Safety(Safety::Off)), 1470);
    }

    // reference §4: SAFETY bumps the safety sequence; "SAFETY FULL after OFF ... return the
    // session to SYNCHRONIZING with a new switch LSN", and the mirror is told afresh.
    #[test]
    fn safety_change_bumps_the_safety_sequence_and_full_after_off_resynchronizes() {
        let mut p = synchronized_principal();
        let out = accepted(&mut p, 4, SessionCommand::Safety(Safety::Off));
        assert_eq!(p.config().numbers.safety, 1);
        assert!(sent(&out).contains(&(M, Message::Config(p.config()))));
        assert_eq!(p.state(), MirroringState::Synchronized);
        let out = accepted(&mut p, 5, SessionCommand::Safety(Safety::Full));
        assert_eq!(p.config().numbers.safety, 2);
        let via_synchronizing = out.iter().any(|o| {
            *o == Output::StateChanged {
                old: MirroringState::Synchronized,
                new: MirroringState::Synchronizing,
            }
        });
        assert!(via_synchronizing, "{out:?}");
        // Nothing is unsent, so the new switch LSN is reached at once.
        assert_eq!(p.state(), MirroringState::Synchronized);
        let numbers = p.config().numbers;
        assert!(sent(&out).contains(&(M, Message::Synchronized { numbers })));
        // The same SAFETY again is no change.
        accepted(&mut p, 6, SessionCommand::Safety(Safety::Full));
        assert_eq!(p.config().numbers.safety, 2);
    }

    // reference §4: "SAFETY FULL after OFF, and RESUME, return the session to SYNCHRONIZING with
    // a new switch LSN" -- also when the session is already SYNCHRONIZING under OFF: the switch
    // LSN fixed then lies below commits acknowledged since, which the mirror may not have.
    #[test]
    fn safety_full_while_synchronizing_under_off_fixes_a_new_switch_lsn() {
        let end = 200_000;
        let mut p = connected_principal(end);
        accepted(&mut p, 4, SessionCommand::Safety(Safety::Off));
        from_peer(
            &mut p,
            0,
            M,
            Message::Ready {
                lsn_end: 0,
                lsn_hardened: 0,
            },
        );
        p.handle_log_sent(0, end);
        assert_eq!(p.switch_lsn(), Some(end), "fixed under OFF");
        commit(&mut p, 1, end + 100);
        assert_eq!(
            acked(&flushed(&mut p, end + 100)),
            vec![1],
            "OFF: after the flush"
        );

        accepted(&mut p, 5, SessionCommand::Safety(Safety::Full));
        assert_eq!(p.state(), MirroringState::Synchronizing);
        assert_eq!(
            p.switch_lsn(),
            Some(end + 100),
            "a new switch LSN, at the end of log (all of it sent)"
        );
        from_peer(&mut p, 0, M, Message::Hardened { lsn: end });
        assert_eq!(
            p.state(),
            MirroringState::Synchronizing,
            "the mirror lacks commit 1: not SYNCHRONIZED at the old switch LSN"
        );
        from_peer(&mut p, 0, M, Message::Hardened { lsn: end + 100 });
        assert_eq!(p.state(), MirroringState::Synchronized);
    }

    // reference §4: "SUSPEND or RESUME issued on the mirror is forwarded to the principal, which
    // applies it" -- the mirror's own numbers do not change.
    #[test]
    fn suspend_on_the_mirror_is_forwarded_to_the_principal() {
        let mut m = synchronized_mirror(SessionConfig::new());
        let before = m.durable().clone();
        let out = accepted(&mut m, 6, SessionCommand::Suspend);
        assert_eq!(sent(&out), vec![(P, Message::Forward(Forwarded::Suspend))]);
        assert_eq!(
            completed(&out, 6),
            None,
            "it waits for the principal's answer"
        );
        assert_eq!(m.durable(), &before);
        assert_eq!(m.state(), MirroringState::Synchronized);

        let mut p = synchronized_principal();
        let out = from_peer(&mut p, 0, M, Message::Forward(Forwarded::Suspend));
        assert_eq!(p.state(), MirroringState::Suspended);
        assert_eq!(p.config().numbers.suspend, 1);
        assert!(sent(&out).contains(&(
            M,
            Message::ForwardDone {
                command: Forwarded::Suspend,
                applied: true
            }
        )));

        let out = from_peer(
            &mut m,
            0,
            P,
            Message::ForwardDone {
                command: Forwarded::Suspend,
                applied: true,
            },
        );
        assert_eq!(completed(&out, 6), Some(Ok(())));
    }

    // reference §4: WITNESS OFF "is applied by the principal only after the witness ... has
    // durably recorded it". One forwarded by the mirror is answered then, not when the principal
    // sends it on: answered at once, a principal that lost power before the witness recorded it
    // left the mirror's statement succeeded and automatic failover armed.
    #[test]
    fn a_forwarded_witness_off_is_answered_once_recorded() {
        let mut p = principal_with_witness();
        let out = from_peer(&mut p, 0, M, Message::Forward(Forwarded::WitnessOff));
        let sequence = sent(&out)
            .into_iter()
            .find_map(|(to, m)| match m {
                Message::WitnessOff { numbers } if to == W => Some(numbers.witness),
                _ => None,
            })
            .expect("asked of the witness");
        assert!(!sent(&out)
            .iter()
            .any(|(_, m)| matches!(m, Message::ForwardDone { .. })));
        let out = from_peer(
            &mut p,
            0,
            W,
            Message::WitnessOffRecorded {
                witness_sequence: sequence,
            },
        );
        assert!(sent(&out).contains(&(
            M,
            Message::ForwardDone {
                command: Forwarded::WitnessOff,
                applied: true
            }
        )));
        assert_eq!(p.config().witness, None);
    }

    // The instance's own forwarded command (a mirror whose disk is full suspends the session)
    // neither blocks the operator's nor is taken for its answer: answers come in order.
    #[test]
    fn an_internal_forward_is_answered_before_the_operators() {
        let mut m = synchronized_mirror(SessionConfig::new());
        m.handle_command(0, INTERNAL_COMMAND, SessionCommand::Suspend)
            .expect("sent");
        m.take_outputs();
        accepted(&mut m, 6, SessionCommand::Resume);
        let out = from_peer(
            &mut m,
            0,
            P,
            Message::ForwardDone {
                command: Forwarded::Suspend,
                applied: true,
            },
        );
        assert_eq!(
            completed(&out, 6),
            None,
            "that answer is the internal command's"
        );
        let out = from_peer(
            &mut m,
            0,
            P,
            Message::ForwardDone {
                command: Forwarded::Resume,
                applied: true,
            },
        );
        assert_eq!(completed(&out, 6), Some(Ok(())));
    }

    // A WITNESS OFF is answered once recorded, so a SUSPEND the mirror sends of its own after
    // it (a full disk) may be answered first: that answer is not the operator's.
    #[test]
    fn an_internal_suspend_answered_before_a_pending_witness_off_is_not_taken_for_it() {
        let mut m = synchronized_mirror(SessionConfig::new());
        accepted(&mut m, 6, SessionCommand::WitnessOff);
        m.handle_command(0, INTERNAL_COMMAND, SessionCommand::Suspend)
            .expect("sent");
        m.take_outputs();
        let suspended = Message::ForwardDone {
            command: Forwarded::Suspend,
            applied: true,
        };
        let out = from_peer(&mut m, 0, P, suspended);
        assert_eq!(completed(&out, 6), None);
        let recorded = Message::ForwardDone {
            command: Forwarded::WitnessOff,
            applied: true,
        };
        let out = from_peer(&mut m, 0, P, recorded);
        assert_eq!(completed(&out, 6), Some(Ok(())));
    }

    // reference §4 and §7 (1456: the command could not reach the remote instance): a command
    // forwarded into a connection that is silently gone completed at once with no effect (a
    // WITNESS OFF left automatic failover armed). It now waits for the principal's answer and
    // fails with 1456 when the connection is declared lost first; a second one meanwhile is
    // refused.
    #[test]
    fn a_forwarded_command_fails_with_1456_if_the_principal_never_answers() {
        let mut m = synchronized_mirror(SessionConfig::new());
        accepted(&mut m, 6, SessionCommand::Resume);
        assert_eq!(refused(&mut m, SessionCommand::Suspend), 1456);
        let out = lose(&mut m, P);
        match completed(&out, 6) {
            Some(Err(number)) => assert_eq!(number, 1456),
            other => panic!("1456 expected: {other:?}"),
        }
    }

    // reference §7: WITNESS OFF is "accepted on either partner". The principal's SET WITNESS
    // completes once the witness has recorded the session, a message before the mirror hears of
    // the witness: a WITNESS OFF issued on the mirror in between is forwarded all the same (it
    // completed with no effect, and automatic failover stayed armed). A mirror that knows of no
    // witness and cannot reach the principal has nothing to do.
    #[test]
    fn witness_off_on_a_mirror_that_has_not_heard_of_the_witness_is_forwarded() {
        let mut m = synchronized_mirror(SessionConfig::new());
        let out = accepted(&mut m, 6, SessionCommand::WitnessOff);
        assert_eq!(
            sent(&out),
            vec![(P, Message::Forward(Forwarded::WitnessOff))]
        );
        let out = from_peer(
            &mut m,
            0,
            P,
            Message::ForwardDone {
                command: Forwarded::WitnessOff,
                applied: true,
            },
        );
        assert_eq!(completed(&out, 6), Some(Ok(())));

        let mut m = synchronized_mirror(SessionConfig::new());
        lose(&mut m, P);
        let out = accepted(&mut m, 7, SessionCommand::WitnessOff);
        assert!(sent(&out).is_empty(), "{out:?}");
        assert_eq!(completed(&out, 7), Some(Ok(())));
    }

    // reference §4: a forwarded command that cannot reach the principal fails (1456), nothing
    // changed.
    #[test]
    fn suspend_on_a_mirror_cut_from_the_principal_is_1456() {
        let mut m = synchronized_mirror(SessionConfig::new());
        lose(&mut m, P);
        assert_eq!(refused(&mut m, SessionCommand::Suspend), 1456);
        assert_eq!(refused(&mut m, SessionCommand::Resume), 1456);
    }

    // reference §2/§4: SUSPEND bumps the suspend sequence and the session is SUSPENDED; RESUME
    // bumps it again and returns to SYNCHRONIZING.
    #[test]
    fn suspend_and_resume_on_the_principal_bump_the_suspend_sequence() {
        let mut p = synchronized_principal();
        let out = accepted(&mut p, 1, SessionCommand::Suspend);
        assert_eq!(p.state(), MirroringState::Suspended);
        assert!(out.contains(&Output::Event(StateChangeEvent::Suspended)));
        assert_eq!(p.config().numbers.suspend, 1);
        assert!(p.config().suspended);
        assert!(sent(&out).contains(&(M, Message::Config(p.config()))));
        accepted(&mut p, 2, SessionCommand::Resume);
        assert_eq!(p.state(), MirroringState::Synchronizing);
        assert_eq!(p.config().numbers.suspend, 2);
        assert!(!p.config().suspended);
    }

    // reference §6: "Send queue = log on the principal not yet sent", whatever the state: a
    // SUSPENDED or DISCONNECTED principal's send queue grows with every commit (the
    // sp_dbmmonitorresults `unsent_log`), it does not read 0.
    #[test]
    fn the_send_queue_counts_log_written_while_suspended_or_disconnected() {
        let mut p = synchronized_principal();
        accepted(&mut p, 1, SessionCommand::Suspend);
        assert_eq!(p.state(), MirroringState::Suspended);
        commit(&mut p, 1, 4096);
        flushed(&mut p, 4096);
        assert_eq!(p.send_queue_bytes(), 4096, "suspended: nothing was sent");

        // Disconnected: log put on the wire but never acknowledged as hardened counts too, as
        // it is sent again once the mirror reconnects.
        let mut p = synchronized_principal();
        commit(&mut p, 1, 1000);
        p.handle_log_sent(0, 1000);
        assert_eq!(p.send_queue_bytes(), 0, "sent");
        lose(&mut p, M);
        assert_eq!(p.state(), MirroringState::Disconnected);
        commit(&mut p, 2, 8192);
        flushed(&mut p, 8192);
        assert_eq!(p.send_queue_bytes(), 8192, "the mirror hardened nothing");
    }

    // reference §4: WITNESS OFF "if neither can be reached it fails with 1456".
    #[test]
    fn witness_off_with_neither_witness_nor_mirror_reachable_is_1456() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        lose(&mut p, M);
        assert_eq!(refused(&mut p, SessionCommand::WitnessOff), 1456);
        assert_eq!(p.config().witness, Some(W));
    }

    // reference §4: WITNESS OFF "is applied by the principal only after the witness ... has
    // durably recorded it".
    #[test]
    fn witness_off_completes_only_after_the_witness_records_it() {
        let mut p = principal_with_witness();
        let out = accepted(&mut p, 12, SessionCommand::WitnessOff);
        let off = Numbers {
            witness: 2,
            ..witness_config().numbers
        };
        assert_eq!(sent(&out), vec![(W, Message::WitnessOff { numbers: off })]);
        assert_eq!(completed(&out, 12), None);
        assert_eq!(
            p.config().witness,
            Some(W),
            "not applied before it is recorded"
        );
        let out = from_peer(
            &mut p,
            0,
            W,
            Message::WitnessOffRecorded {
                witness_sequence: 1,
            },
        );
        assert_eq!(
            completed(&out, 12),
            None,
            "a record of another witness sequence"
        );
        let out = from_peer(
            &mut p,
            0,
            W,
            Message::WitnessOffRecorded {
                witness_sequence: 2,
            },
        );
        assert_eq!(completed(&out, 12), Some(Ok(())));
        assert_eq!(p.config().witness, None);
        assert_eq!(p.config().numbers, off);
        assert!(p.links().link(W).is_none());
        assert_eq!(p.witness_state(), WitnessState::Unknown);
    }

    // reference §4: "(or, if the witness cannot be reached, the mirror)" records WITNESS OFF.
    #[test]
    fn witness_off_is_recorded_by_the_mirror_when_the_witness_is_unreachable() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        let out = accepted(&mut p, 13, SessionCommand::WitnessOff);
        let off = Numbers {
            witness: 2,
            ..witness_config().numbers
        };
        assert_eq!(sent(&out), vec![(M, Message::WitnessOff { numbers: off })]);
        let out = from_peer(
            &mut p,
            0,
            M,
            Message::WitnessOffRecorded {
                witness_sequence: 2,
            },
        );
        assert_eq!(completed(&out, 13), Some(Ok(())));
        assert_eq!(p.config().witness, None);
    }

    // reference §4: the witness, "or, if the witness cannot be reached, the mirror" records
    // WITNESS OFF. A witness that died silently is still up when the command is issued; once it
    // is declared lost, the mirror is asked (the command used to wait forever).
    #[test]
    fn witness_off_goes_to_the_mirror_when_the_witness_is_lost_before_answering() {
        let mut p = principal_with_witness();
        let out = accepted(&mut p, 14, SessionCommand::WitnessOff);
        let off = Numbers {
            witness: 2,
            ..witness_config().numbers
        };
        assert_eq!(sent(&out), vec![(W, Message::WitnessOff { numbers: off })]);
        let out = lose(&mut p, W);
        assert!(sent(&out).contains(&(M, Message::WitnessOff { numbers: off })));
        assert_eq!(
            completed(&out, 14),
            None,
            "not before the mirror records it"
        );
        let out = from_peer(
            &mut p,
            0,
            M,
            Message::WitnessOffRecorded {
                witness_sequence: 2,
            },
        );
        assert_eq!(completed(&out, 14), Some(Ok(())));
        assert_eq!(p.config().witness, None);
    }

    // reference §4: "if neither can be reached it fails with 1456", also when they are lost
    // while the command waits for its recorder.
    #[test]
    fn witness_off_fails_with_1456_when_witness_and_mirror_are_lost_before_answering() {
        let mut p = principal_with_witness();
        accepted(&mut p, 15, SessionCommand::WitnessOff);
        let out = lose(&mut p, M);
        assert_eq!(completed(&out, 15), None, "the witness may still answer");
        let out = lose(&mut p, W);
        assert_eq!(completed(&out, 15), Some(Err(1456)));
        assert!(p.config().witness.is_some(), "nothing changed");
    }

    // reference §4: "whoever recorded it takes no part in an automatic failover of this session
    // any more" -- a mirror that recorded WITNESS OFF never asks the witness.
    #[test]
    fn mirror_that_recorded_witness_off_takes_no_part_in_automatic_failover() {
        let mut m = mirror_with_witness(true);
        let off = Numbers {
            witness: 2,
            ..witness_config().numbers
        };
        let out = from_peer(&mut m, 0, P, Message::WitnessOff { numbers: off });
        assert_eq!(
            sent(&out),
            vec![(
                P,
                Message::WitnessOffRecorded {
                    witness_sequence: 2
                }
            )]
        );
        assert!(m.durable().witness_excluded);
        let out = lose(&mut m, P);
        assert!(
            !sent(&out)
                .iter()
                .any(|(_, m)| matches!(m, Message::FailoverRequest { .. })),
            "{out:?}"
        );
    }

    // reference §4 and §7: a WITNESS OFF whose answer never reached the principal failed there
    // (1456) and changed nothing; its greeting, still naming the witness, brings the mirror that
    // recorded it back into automatic failover.
    #[test]
    fn a_principal_that_still_names_the_witness_brings_the_mirror_back_into_failover() {
        let mut m = mirror_with_witness(true);
        let off = Numbers {
            witness: 2,
            ..witness_config().numbers
        };
        from_peer(&mut m, 0, P, Message::WitnessOff { numbers: off });
        assert!(m.durable().witness_excluded);
        from_peer(&mut m, 0, P, hello(Vec::new(), witness_config(), 0));
        assert!(!m.durable().witness_excluded);
    }

    // reference §7 / section 5 errors: SET WITNESS on the mirror is 1470.
    #[test]
    fn set_witness_on_the_mirror_is_1470() {
        let mut m = synchronized_mirror(SessionConfig::new());
        assert_eq!(refused(&mut m, SessionCommand::SetWitness(W)), 1470);
    }

    // reference §7: 1429 when the witness is one of the partners, checked before 1426.
    #[test]
    fn set_witness_naming_a_partner_is_1429() {
        let mut p = synchronized_principal();
        assert_eq!(refused(&mut p, SessionCommand::SetWitness(P)), 1429);
        assert_eq!(refused(&mut p, SessionCommand::SetWitness(M)), 1429);
        lose(&mut p, M);
        assert_eq!(refused(&mut p, SessionCommand::SetWitness(M)), 1429);
    }

    // reference §7: 1426 unless principal, mirror and witness are interconnected, and while
    // another witness change is under way.
    #[test]
    fn set_witness_without_the_mirror_or_with_a_witness_change_under_way_is_1426() {
        let mut p = synchronized_principal();
        lose(&mut p, M);
        assert_eq!(refused(&mut p, SessionCommand::SetWitness(W)), 1426);

        let mut p = synchronized_principal();
        accepted(&mut p, 2, SessionCommand::SetWitness(W));
        assert_eq!(
            refused(&mut p, SessionCommand::SetWitness(InstanceId(4))),
            1426
        );

        let mut p = principal_with_witness();
        lose(&mut p, M);
        assert_eq!(refused(&mut p, SessionCommand::SetWitness(D)), 1426);
    }

    /// A fourth instance, the witness that replaces W.
    const D: InstanceId = InstanceId(4);

    /// The connection `p` opens to `peer` at the ping tick `out` asked for at once.
    fn connection_opened(
        p: &mut Partner,
        out: &[Output],
        peer: InstanceId,
    ) -> crate::message::ConnId {
        assert!(out.contains(&Output::SetTimer {
            timer: Timer::Ping,
            after: 0
        }));
        p.handle_timer(SECOND, Timer::Ping);
        p.take_outputs()
            .iter()
            .find_map(|o| match o {
                Output::Send(e) if e.to == peer && e.body == Message::Connect => Some(e.conn),
                _ => None,
            })
            .expect("a Connect to the peer")
    }

    /// P (with W at witness sequence 1) after SET WITNESS = D (command 20) whose WITNESS OFF half
    /// `recorder` has recorded: W is gone, D is being connected to. Returns the outputs of the
    /// record.
    fn replacement_recorded_by(p: &mut Partner, recorder: InstanceId) -> Vec<Output> {
        let out = accepted(p, 20, SessionCommand::SetWitness(D));
        let off = Numbers {
            witness: 2,
            ..witness_config().numbers
        };
        assert_eq!(
            sent(&out),
            vec![(recorder, Message::WitnessOff { numbers: off })]
        );
        assert_eq!(completed(&out, 20), None);
        assert_eq!(p.config().witness, Some(W), "W stays until it is recorded");
        let out = from_peer(
            p,
            SECOND,
            recorder,
            Message::WitnessOffRecorded {
                witness_sequence: 2,
            },
        );
        assert_eq!(
            completed(&out, 20),
            None,
            "the new witness has not recorded"
        );
        assert_eq!(p.config().witness, None);
        assert_eq!(p.config().numbers.witness, 2);
        assert!(p.links().link(W).is_none());
        out
    }

    // reference §7: SET WITNESS's errors are 1470, 1416, 1429, 1418, 1426, and a witness already
    // set is none of them; §4: WITNESS OFF is applied only once the witness has recorded it. A
    // replacement is the WITNESS OFF procedure for the old witness, then the SET WITNESS
    // procedure for the new one, completing when the new witness has recorded the session.
    #[test]
    fn set_witness_replaces_the_witness_once_the_old_one_has_recorded_its_removal() {
        let mut p = principal_with_witness();
        let out = replacement_recorded_by(&mut p, W);
        let to_d = connection_opened(&mut p, &out, D);
        let out = deliver(&mut p, SECOND, env(D, P, to_d, 0, P, Message::Accept));
        let join = sent(&out).into_iter().find_map(|(to, m)| match m {
            Message::Join { config, .. } if to == D => Some(config),
            _ => None,
        });
        let join = join.expect("the Join goes to the new witness");
        assert_eq!(join.witness, Some(D));
        assert_eq!(join.numbers.witness, 3, "past the WITNESS OFF's sequence");
        let out = from_peer(
            &mut p,
            SECOND,
            D,
            Message::Joined {
                witness_sequence: 3,
            },
        );
        assert_eq!(completed(&out, 20), Some(Ok(())));
        assert_eq!(p.config().witness, Some(D));
        assert_eq!(p.config().numbers.witness, 3);
        assert_eq!(p.witness_state(), WitnessState::Connected);
    }

    // reference §4: WITNESS OFF is recorded by the mirror "if the witness cannot be reached": a
    // dead witness is replaced the same way.
    #[test]
    fn set_witness_replacing_an_unreachable_witness_has_the_mirror_record_its_removal() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        let out = replacement_recorded_by(&mut p, M);
        assert!(sent(&out).contains(&(M, Message::Config(p.config()))));
    }

    // reference §4: "if neither can be reached it fails with 1456": the old witness stays.
    #[test]
    fn set_witness_replacement_fails_with_1456_when_neither_witness_nor_mirror_records() {
        let mut p = principal_with_witness();
        accepted(&mut p, 20, SessionCommand::SetWitness(D));
        lose(&mut p, M);
        let out = lose(&mut p, W);
        assert_eq!(completed(&out, 20), Some(Err(1456)));
        assert_eq!(p.config().witness, Some(W), "nothing changed");
        assert!(p.links().link(D).is_none());
    }

    // A replacement whose new witness fails (here it refuses the connection: 1418) leaves the
    // session without a witness, as after WITNESS OFF, and says so.
    #[test]
    fn set_witness_replacement_whose_new_witness_fails_leaves_no_witness() {
        let mut p = principal_with_witness();
        let out = replacement_recorded_by(&mut p, W);
        let to_d = connection_opened(&mut p, &out, D);
        let out = deliver(&mut p, SECOND, env(D, P, to_d, 0, P, Message::Reset));
        let error = out.iter().find_map(|o| match o {
            Output::CommandCompleted { id: 20, result } => result.clone().err(),
            _ => None,
        });
        let error = error.expect("the statement failed");
        assert_eq!(error.number, 1418);
        assert!(
            error.message.contains("without a witness"),
            "{}",
            error.message
        );
        assert_eq!(p.config().witness, None);
        assert!(p.links().link(D).is_none());
        assert!(p.is_serving(), "no witness, no quorum needed");
    }

    // reference §7: naming the witness already set is none of SET WITNESS's errors; it changes
    // nothing (no new witness sequence). Not interconnected, it is 1426 as any SET WITNESS.
    #[test]
    fn set_witness_naming_the_witness_already_set_completes_at_once_and_changes_nothing() {
        let mut p = principal_with_witness();
        let before = p.durable().clone();
        let out = accepted(&mut p, 21, SessionCommand::SetWitness(W));
        assert_eq!(completed(&out, 21), Some(Ok(())));
        assert!(sent(&out).is_empty(), "{out:?}");
        assert_eq!(*p.durable(), before);
        lose(&mut p, W);
        assert_eq!(refused(&mut p, SessionCommand::SetWitness(W)), 1426);
    }

    // reference §4: a principal with a witness set that has declared both its mirror and its
    // witness connections lost has no quorum; §7: 1431, neither the partner nor the witness is
    // available. WITNESS OFF keeps its 1456, and a value out of range is still 1476.
    #[test]
    fn session_commands_on_a_principal_without_quorum_are_1431() {
        let mut p = principal_with_witness();
        lose(&mut p, M);
        lose(&mut p, W);
        assert!(!p.is_serving());
        for command in [
            SessionCommand::Safety(Safety::Off),
            SessionCommand::Timeout(20),
            SessionCommand::Suspend,
            SessionCommand::Resume,
        ] {
            assert_eq!(refused(&mut p, command), 1431, "{command:?}");
        }
        assert_eq!(refused(&mut p, SessionCommand::Timeout(40_000)), 1476);
        assert_eq!(refused(&mut p, SessionCommand::WitnessOff), 1456);
        // On a mirror, 1470 comes first.
        let mut m = mirror_with_witness(true);
        lose(&mut m, P);
        lose(&mut m, W);
        assert_eq!(refused(&mut m, SessionCommand::Safety(Safety::Off)), 1470);
    }

    // reference §4: quorum is two instances; without a witness it is not required. Either
    // connection left, or no witness at all, and the commands go ahead.
    #[test]
    fn session_commands_with_quorum_or_without_a_witness_are_not_1431() {
        let mut p = principal_with_witness();
        lose(&mut p, M);
        accepted(&mut p, 30, SessionCommand::Safety(Safety::Off));
        let mut p = principal_with_witness();
        lose(&mut p, W);
        accepted(&mut p, 31, SessionCommand::Suspend);
        let mut p = synchronized_principal();
        lose(&mut p, M);
        accepted(&mut p, 32, SessionCommand::Safety(Safety::Off));
        accepted(&mut p, 33, SessionCommand::Timeout(20));
        accepted(&mut p, 34, SessionCommand::Suspend);
        accepted(&mut p, 35, SessionCommand::Resume);
    }

    // reference §7: 1426 when the mirror has not hardened the log that existed when SET WITNESS
    // was issued. A SUSPENDED session ships none, so it fails at once (it waited for the
    // timeout and failed with 1418, as if the witness could not be reached).
    #[test]
    fn set_witness_while_suspended_with_log_the_mirror_lacks_is_1426() {
        let mut p = synchronized_principal();
        accepted(&mut p, 2, SessionCommand::Suspend);
        commit(&mut p, 1, 100);
        assert_eq!(refused(&mut p, SessionCommand::SetWitness(W)), 1426);
        // With nothing the mirror lacks, a suspended session takes a witness.
        let mut p = synchronized_principal();
        accepted(&mut p, 3, SessionCommand::Suspend);
        accepted(&mut p, 4, SessionCommand::SetWitness(W));
    }

    // reference §7: a SET WITNESS whose witness never answers fails with 1418 after TIMEOUT plus
    // one ping, and leaves no witness behind.
    #[test]
    fn set_witness_that_never_connects_fails_with_1418_after_the_timeout() {
        let mut p = synchronized_principal();
        accepted(&mut p, 2, SessionCommand::SetWitness(W));
        // M keeps answering; W never does. The command was issued at 1 s: it fails at the
        // first tick 11 s later (TIMEOUT plus one ping interval), as the catalogs' soft 1418
        // does.
        ticks_with_only_the_mirror_answering(&mut p, 2..=11, 2);
        p.handle_timer(12 * SECOND, Timer::Ping);
        assert_eq!(completed(&p.take_outputs(), 2), Some(Err(1418)));
        assert!(p.links().link(W).is_none());
        assert_eq!(p.config().witness, None);
        assert!(p.is_connected(M));
    }

    /// Ping ticks at each of `seconds`, the mirror answering each and command `id` still
    /// waiting after every one.
    fn ticks_with_only_the_mirror_answering(
        p: &mut Partner,
        seconds: std::ops::RangeInclusive<u64>,
        id: CommandId,
    ) {
        for second in seconds {
            p.handle_timer(second * SECOND, Timer::Ping);
            from_peer(
                p,
                second * SECOND,
                M,
                Message::Pong {
                    witness_sees_principal: None,
                },
            );
            assert_eq!(completed(&p.take_outputs(), id), None, "at {second} s");
        }
    }

    /// P with SET WITNESS (command 2) issued at 0: connected to W on (P, 1), the Join sent.
    fn principal_waiting_for_the_witness_to_record() -> Partner {
        let mut p = synchronized_principal();
        accepted(&mut p, 2, SessionCommand::SetWitness(W));
        p.handle_timer(0, Timer::Ping);
        let out = deliver(&mut p, 0, env(W, P, conn(P, 1), 0, P, Message::Accept));
        assert!(
            sent(&out)
                .iter()
                .any(|(to, m)| *to == W && matches!(m, Message::Join { .. })),
            "the Join goes out once all three are connected"
        );
        p
    }

    // reference §3 and §7: a witness whose process dies after the Join was sent resets the
    // connection (a hard error, noticed at once): SET WITNESS fails with 1418 now, and leaves
    // no witness behind (found by an audit: it waited for ever, and so did the workload).
    #[test]
    fn set_witness_whose_witness_crashes_before_recording_fails_with_1418_at_once() {
        let mut p = principal_waiting_for_the_witness_to_record();
        let out = deliver(&mut p, SECOND, env(W, P, conn(P, 1), 0, P, Message::Reset));
        assert_eq!(completed(&out, 2), Some(Err(1418)));
        assert!(p.links().link(W).is_none());
        assert_eq!(p.config().witness, None);
        assert!(p.is_connected(M));
    }

    // reference §3 and §7: a witness that goes silent after the Join was sent (power loss, a cut
    // link) is declared lost by TIMEOUT; SET WITNESS fails with 1418 then, not never.
    #[test]
    fn set_witness_whose_witness_goes_silent_before_recording_fails_with_1418_by_timeout() {
        let mut p = principal_waiting_for_the_witness_to_record();
        ticks_with_only_the_mirror_answering(&mut p, 1..=10, 2);
        p.handle_timer(11 * SECOND, Timer::Ping);
        assert_eq!(completed(&p.take_outputs(), 2), Some(Err(1418)));
        assert_eq!(p.config().witness, None);
    }

    // reference §3 and §7: a witness far away whose connection stays up (its pongs arrive) is
    // reached: SET WITNESS waits for its answer past TIMEOUT plus one ping, as SET PARTNER
    // waits for a slow mirror (it failed with 1418 at 11 s with the answer on its way).
    #[test]
    fn set_witness_whose_witness_answers_slowly_waits_for_the_answer() {
        let mut p = principal_waiting_for_the_witness_to_record();
        for second in 1..=15 {
            let now = second * SECOND;
            p.handle_timer(now, Timer::Ping);
            for peer in [M, W] {
                let pong = Message::Pong {
                    witness_sees_principal: None,
                };
                from_peer(&mut p, now, peer, pong);
            }
            assert_eq!(completed(&p.take_outputs(), 2), None, "at {second} s");
        }
        let out = from_peer(
            &mut p,
            16 * SECOND,
            W,
            Message::Joined {
                witness_sequence: 1,
            },
        );
        assert_eq!(completed(&out, 2), Some(Ok(())));
        assert_eq!(p.config().witness, Some(W));
    }

    // reference §3: a connect request answered by a reset (the witness's process is dead, its
    // host answers) is a hard error: SET WITNESS fails with 1418 at once.
    #[test]
    fn set_witness_whose_connection_is_refused_fails_with_1418_at_once() {
        let mut p = synchronized_principal();
        accepted(&mut p, 2, SessionCommand::SetWitness(W));
        p.handle_timer(0, Timer::Ping);
        let out = deliver(&mut p, 0, env(W, P, conn(P, 1), 0, P, Message::Reset));
        assert_eq!(completed(&out, 2), Some(Err(1418)));
        assert!(p.links().link(W).is_none());
    }

    // reference §7: SET PARTNER completes once the mirror has hardened the log that existed
    // when it was issued; a mirror lost before that (here by a reset: its process died) fails
    // it with 1418 at once (found by an audit: it waited for ever, and so did the workload).
    #[test]
    fn set_partner_whose_mirror_is_lost_before_hardening_fails_with_1418() {
        let mut p = connected_principal(100);
        let out = deliver(&mut p, 0, env(M, P, conn(P, 0), 0, P, Message::Reset));
        assert_eq!(completed(&out, 1), Some(Err(1418)));
        // The session stays: the principal serves on, exposed (no witness).
        assert!(p.is_serving());
        assert_eq!(p.state(), MirroringState::Disconnected);
    }

    // reference §3 and §7: a connect request to the mirror refused by a reset, or never
    // answered, fails SET PARTNER with 1418: at once, or after TIMEOUT plus one ping interval.
    #[test]
    fn set_partner_whose_connection_never_comes_up_fails_with_1418() {
        let mut p = Partner::new_principal(P, M, 100, 100, Fork(0), 1, 0);
        p.handle_timer(0, Timer::Ping);
        p.take_outputs();
        p.handle_connection_lost(0, M, ErrorKind::Hard);
        assert_eq!(completed(&p.take_outputs(), 1), Some(Err(1418)));

        let mut p = Partner::new_principal(P, M, 100, 100, Fork(0), 1, 0);
        for second in 0..=10 {
            p.handle_timer(second * SECOND, Timer::Ping);
            assert_eq!(completed(&p.take_outputs(), 1), None, "at {second} s");
        }
        p.handle_timer(11 * SECOND, Timer::Ping);
        assert_eq!(completed(&p.take_outputs(), 1), Some(Err(1418)));
    }

    // reference §7: a SET PARTNER whose mirror is connected waits for it to harden the log,
    // however long the backlog takes: no deadline while the connection is up.
    #[test]
    fn set_partner_with_the_mirror_connected_waits_past_the_timeout() {
        let mut p = connected_principal(100);
        ticks_with_only_the_mirror_answering(&mut p, 1..=30, 1);
    }

    // reference §7: SET PARTNER OFF ends the session for good: a crash and restart of either
    // partner does not bring it back.
    #[test]
    fn a_session_ended_by_partner_off_stays_ended_after_a_restart() {
        let mut p = synchronized_principal();
        accepted(&mut p, 3, SessionCommand::PartnerOff);
        p.crash();
        p.restart(5, p.lsn_hardened());
        assert!(p.is_ended() && p.is_running());
        assert!(
            p.take_outputs().is_empty(),
            "no state change, no connection attempt"
        );
        assert_eq!(refused(&mut p, SessionCommand::Resume), 1416);
    }

    // DESIGN rule: a command on an instance whose session ended is refused (1416).
    #[test]
    fn commands_after_partner_off_are_1416() {
        let mut p = synchronized_principal();
        let out = accepted(&mut p, 3, SessionCommand::PartnerOff);
        assert!(out.contains(&Output::SessionEnded));
        assert!(sent(&out).contains(&(M, Message::PartnerOff)));
        assert!(p.is_ended());
        assert_eq!(refused(&mut p, SessionCommand::Failover), 1416);
        assert_eq!(refused(&mut p, SessionCommand::Safety(Safety::Off)), 1416);
    }

    // reference §4: with a witness, losing both connections is no quorum; WITNESS OFF refused
    // then leaves the principal not serving (the refusal does not bring it back).
    #[test]
    fn refused_witness_off_leaves_a_principal_without_quorum_offline() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        let out = lose(&mut p, M);
        assert!(out.contains(&Output::StopServing {
            reason: StopReason::NoQuorum,
            role_sequence: 0
        }));
        assert_eq!(refused(&mut p, SessionCommand::WitnessOff), 1456);
        assert!(!p.is_serving() && !p.accepts_commits());
    }
}
