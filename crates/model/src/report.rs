//! Counterexamples for people: each step as a sentence, and after it the instances whose state
//! changed, in the reference's words.

use mirror_protocol::{InstanceId, LinkState, Message, Role, SessionCommand, SyncState};

use crate::model::Action;
use crate::state::{channel, index, name, show_log, SessionState, GAMMA, INSTANCES};

/// One step of a counterexample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The step's number, from 1.
    pub number: usize,
    /// What happened.
    pub action: String,
    /// The instances whose state changed, one line each.
    pub changes: Vec<String>,
}

/// The action alone, without the state it applies to (for the explorer).
pub fn action_name(action: &Action) -> String {
    match action {
        Action::Deliver { from, to, position } => {
            if *position == 0 {
                format!("deliver {} -> {}", name(*from), name(*to))
            } else {
                format!(
                    "deliver {} -> {} (message {position})",
                    name(*from),
                    name(*to)
                )
            }
        }
        Action::Tick(id) => format!("ping tick on {}", name(*id)),
        Action::Flushed(id) => format!("log flush completes on {}", name(*id)),
        Action::RedoDrained(id) => format!("redo queue drained on {}", name(*id)),
        Action::TakeOver(id) => format!("take-over timer fires on {}", name(*id)),
        Action::Commit(id) => format!("a client commits on {}", name(*id)),
        Action::DeclareLost {
            on,
            peer,
            suspicion,
        } => format!(
            "{} declares its connection to {} lost{}",
            name(*on),
            name(*peer),
            if *suspicion {
                " while it still holds it (a partition, or a false suspicion)"
            } else {
                ""
            }
        ),
        Action::Crash(id) => format!("{} crashes", name(*id)),
        Action::Restart(id) => format!("{} restarts", name(*id)),
        Action::Partition(a, b) => format!("partition {} | {}", name(*a), name(*b)),
        Action::Heal(a, b) => format!("heal {} | {}", name(*a), name(*b)),
        Action::Command { on, command } => {
            format!(
                "ALTER DATABASE SET {} on {}",
                command_sql(*command),
                name(*on)
            )
        }
    }
}

fn command_sql(command: SessionCommand) -> String {
    match command {
        SessionCommand::Failover => "PARTNER FAILOVER".into(),
        SessionCommand::ForceService => "PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS".into(),
        SessionCommand::Suspend => "PARTNER SUSPEND".into(),
        SessionCommand::Resume => "PARTNER RESUME".into(),
        SessionCommand::Safety(s) => format!("PARTNER SAFETY {}", format!("{s:?}").to_uppercase()),
        other => format!("{other:?}"),
    }
}

/// The action with what it carries in `state` (the message delivered, the transaction).
pub fn describe(state: &SessionState, action: &Action) -> String {
    match action {
        Action::Deliver { from, to, position } => {
            let packet = &state.network[channel(*from, *to)][*position];
            let mut text = format!(
                "deliver {} -> {}: {} (conn {}.{}, role sequence {})",
                name(*from),
                name(*to),
                message(&packet.env.body),
                packet.env.conn.initiator.0,
                packet.env.conn.number,
                packet.env.role.role_sequence
            );
            if !packet.records.is_empty() {
                text.push_str(&format!(" carrying {}", show_log(&packet.records)));
            }
            text
        }
        Action::Commit(id) => format!(
            "a client commits tx {} on {} (lsn {})",
            state.budgets.next_tx,
            name(*id),
            state.partner(*id).lsn_end() + 1
        ),
        Action::Flushed(id) => {
            let (lsn, _) = state.flushes[index(*id)][0];
            format!("log flush up to lsn {lsn} completes on {}", name(*id))
        }
        other => action_name(other),
    }
}

/// A message in a few words, in the reference's terms (sequence numbers as "role 1 safety 0
/// suspend 0 witness 1").
pub fn message(body: &Message) -> String {
    match body {
        Message::Connect => "connect request".into(),
        Message::Accept => "connection accepted".into(),
        Message::Confirm => "acceptance confirmed".into(),
        Message::Reset => "connection reset".into(),
        Message::Ping => "ping".into(),
        Message::Pong { .. } => "ping reply".into(),
        Message::Hello(h) => format!(
            "handshake from the principal (log end {}, {} role change{}{})",
            h.lsn_end,
            h.role_history.len(),
            if h.role_history.len() == 1 { "" } else { "s" },
            if h.config.is_some() {
                ", with the session's configuration"
            } else {
                ""
            }
        ),
        Message::Ready {
            lsn_end,
            lsn_hardened,
        } => format!("mirror ready (log end {lsn_end}, hardened {lsn_hardened})"),
        Message::Log { lsn_from, lsn_to } => format!("log ({lsn_from}..{lsn_to}]"),
        Message::Hardened { lsn } => format!("hardened up to lsn {lsn}"),
        Message::Synchronized { numbers } => {
            format!("you are SYNCHRONIZED (at {})", numbers_text(*numbers))
        }
        Message::Config(c) => format!(
            "session configuration (SAFETY {}, {}, at {})",
            safety_text(c.safety),
            if c.suspended {
                "SUSPENDED"
            } else {
                "not suspended"
            },
            numbers_text(c.numbers)
        ),
        Message::Status {
            report,
            sync,
            numbers,
        } => format!(
            "status report #{report}: {} at {}",
            sync_text(*sync),
            numbers_text(*numbers)
        ),
        Message::StatusRecorded { report } => format!("status report #{report} recorded"),
        Message::WitnessHello {
            last_change,
            numbers,
            sees_principal,
            ..
        } => format!(
            "witness handshake (record at {}{}, {})",
            numbers_text(*numbers),
            last_change.map_or(String::new(), |c| format!(
                ", last role change to role sequence {}",
                c.role_sequence
            )),
            if *sees_principal {
                "sees the principal"
            } else {
                "does not see the principal"
            }
        ),
        Message::WitnessView { sees_principal } => format!(
            "the witness {} the principal",
            if *sees_principal {
                "sees"
            } else {
                "does not see"
            }
        ),
        Message::FailoverRequest {
            numbers,
            told_synchronized,
            lsn_hardened,
            ..
        } => format!(
            "automatic failover request (at {}, told SYNCHRONIZED at {}, hardened {lsn_hardened})",
            numbers_text(*numbers),
            numbers_text(*told_synchronized)
        ),
        Message::FailoverGranted { change, .. } => format!(
            "failover granted (role sequence {}, failover lsn {})",
            change.role_sequence, change.failover_lsn
        ),
        Message::FailoverDenied { reason } => {
            format!("failover denied ({})", denial_text(*reason))
        }
        Message::ForceServiceRequest {
            numbers,
            lsn_hardened,
            ..
        } => format!(
            "forced service request (at {}, hardened {lsn_hardened})",
            numbers_text(*numbers)
        ),
        Message::ForceServiceDenied { reason } => {
            format!("forced service denied ({})", denial_text(*reason))
        }
        Message::Forward(command) => format!(
            "forwarded SET PARTNER {}",
            match command {
                mirror_protocol::Forwarded::Suspend => "SUSPEND",
                mirror_protocol::Forwarded::Resume => "RESUME",
                mirror_protocol::Forwarded::WitnessOff => "WITNESS OFF",
            }
        ),
        Message::ForwardDone { applied: true, .. } => "forwarded command applied".into(),
        Message::ForwardDone { applied: false, .. } => "forwarded command not applied".into(),
        Message::WitnessOff { numbers } => {
            format!("SET WITNESS OFF (at {})", numbers_text(*numbers))
        }
        Message::WitnessOffRecorded { witness_sequence } => {
            format!("WITNESS OFF recorded (witness sequence {witness_sequence})")
        }
        Message::Join { partners, .. } => format!(
            "join the session of {} and {}",
            name(partners[0]),
            name(partners[1])
        ),
        Message::Joined { witness_sequence } => {
            format!("joined (witness sequence {witness_sequence})")
        }
        Message::PartnerOff => "SET PARTNER OFF".into(),
        Message::FailoverPrepare { failover_lsn } => {
            format!("manual failover: harden up to {failover_lsn}")
        }
        Message::FailoverPrepared { failover_lsn } => {
            format!("manual failover: hardened up to {failover_lsn}")
        }
    }
}

/// Sequence numbers as "role/safety/suspend/witness" with their names once.
fn numbers_text(n: mirror_protocol::Numbers) -> String {
    format!(
        "role {} safety {} suspend {} witness {}",
        n.role, n.safety, n.suspend, n.witness
    )
}

fn safety_text(safety: mirror_protocol::Safety) -> &'static str {
    match safety {
        mirror_protocol::Safety::Full => "FULL",
        mirror_protocol::Safety::Off => "OFF",
    }
}

fn sync_text(sync: SyncState) -> &'static str {
    match sync {
        SyncState::Synchronized => "SYNCHRONIZED",
        SyncState::Unsynchronized => "UNSYNCHRONIZED (exposed)",
        SyncState::Unknown => "state unknown",
    }
}

fn denial_text(reason: mirror_protocol::FailoverDenial) -> &'static str {
    use mirror_protocol::FailoverDenial::*;
    match reason {
        NoSession => "the witness has no record of the session",
        PrincipalConnected => "the witness still sees the principal",
        NumbersDiffer => "the sequence numbers differ from the witness's record",
        NotSynchronized => "the witness's record is not SYNCHRONIZED",
        NotTheMirror => "the requester is not the mirror",
        WitnessRemoved => "the witness recorded SET WITNESS OFF",
    }
}

/// One line describing an instance in `state`.
pub fn summarize(state: &SessionState, i: usize) -> String {
    let id = INSTANCES[i];
    if id == GAMMA {
        let Some(w) = state.witness.as_ref() else {
            return String::new();
        };
        if !w.is_running() {
            return "gamma: down".into();
        }
        let record = match w.record() {
            Some(r) => format!(
                "principal {} at role sequence {}, {}{}",
                name(r.principal),
                r.numbers.role,
                match r.sync {
                    SyncState::Synchronized => "SYNCHRONIZED",
                    SyncState::Unsynchronized => "UNSYNCHRONIZED",
                    SyncState::Unknown => "UNKNOWN",
                },
                if r.removed { ", removed" } else { "" }
            ),
            None => "no record".into(),
        };
        return format!("gamma: witness, {record}; {}", links(state, id));
    }
    let p = &state.partners[i];
    if !p.is_running() {
        return format!(
            "{}: down, log {} hardened {}",
            name(id),
            show_log(&state.logs[i]),
            p.lsn_hardened()
        );
    }
    format!(
        "{}: {} at role sequence {}, {}{}{}, log {} hardened {}; {}",
        name(id),
        match p.role() {
            Role::Principal => "principal",
            Role::Mirror => "mirror",
        },
        p.role_sequence(),
        p.state().name(),
        if p.config().safety == mirror_protocol::Safety::Off {
            " SAFETY OFF"
        } else {
            ""
        },
        if p.is_serving() { ", serving" } else { "" },
        show_log(&state.logs[i]),
        p.lsn_hardened(),
        links(state, id)
    )
}

fn links(state: &SessionState, id: InstanceId) -> String {
    let links = match index(id) {
        i @ 0..=1 => state.partners[i].links().links.clone(),
        _ => state
            .witness
            .as_ref()
            .map(|w| w.links().links.clone())
            .unwrap_or_default(),
    };
    let parts: Vec<String> = links
        .iter()
        .map(|l| {
            let s = match l.state {
                LinkState::Up(_) => "up",
                LinkState::Connecting(_) => "connecting",
                LinkState::Accepted(_) => "accepted",
                LinkState::Down => "down",
            };
            format!("{} {s}", name(l.peer))
        })
        .collect();
    format!("links: {}", parts.join(", "))
}

/// What a step made happen, from the ghost history: acknowledgements to clients, instances
/// that began serving, forced services and completed role changes (the facts the properties
/// are judged on, so that a counterexample shows them where they happen).
pub fn happenings(before: &SessionState, after: &SessionState) -> Vec<String> {
    let (b, a) = (&before.ghost, &after.ghost);
    let mut lines = Vec::new();
    for acked in a.acked.iter().skip(b.acked.len()) {
        lines.push(format!(
            "{} acknowledges tx {} (commit lsn {}) to its client at role sequence {}",
            name(acked.by),
            acked.tx,
            acked.lsn,
            acked.role_sequence
        ));
    }
    for served in a.served.iter().skip(b.served.len()) {
        lines.push(format!(
            "{} begins serving at role sequence {} (via {}) with log {}",
            name(served.by),
            served.role_sequence,
            served.via.name(),
            show_log(&served.log)
        ));
    }
    for forced in a.forced.iter().skip(b.forced.len()) {
        lines.push(format!(
            "{} forces service: role sequence {}, new fork after lsn {}",
            name(forced.by),
            forced.role_sequence,
            forced.fork_lsn
        ));
    }
    for switch in a.switches.iter().skip(b.switches.len()) {
        lines.push(format!(
            "{} completes: {} is principal at role sequence {}",
            match switch.kind {
                mirror_protocol::FailoverKind::Automatic => "automatic failover",
                mirror_protocol::FailoverKind::Manual => "manual failover",
                mirror_protocol::FailoverKind::Forced => "forced service",
            },
            name(switch.to),
            switch.role_sequence
        ));
    }
    lines
}

/// The steps of a path, each with the instances it changed and what it made happen.
pub fn steps(path: &[(SessionState, Option<Action>)]) -> Vec<Step> {
    let mut steps = Vec::new();
    for (k, pair) in path.windows(2).enumerate() {
        let (before, Some(action)) = (&pair[0].0, &pair[0].1) else {
            continue;
        };
        let after = &pair[1].0;
        let mut changes = Vec::new();
        for i in 0..3 {
            let (a, b) = (summarize(before, i), summarize(after, i));
            if a != b && !b.is_empty() {
                changes.push(b);
            }
        }
        changes.extend(happenings(before, after));
        steps.push(Step {
            number: k + 1,
            action: describe(before, action),
            changes,
        });
    }
    steps
}

/// A counterexample as text: the numbered steps, each with the instances it changed, then why
/// the last state violates `property`.
pub fn render(trace: &[(SessionState, Option<Action>)], property: &str) -> String {
    let mut text = String::new();
    for step in steps(trace) {
        text.push_str(&format!("{:>3}. {}\n", step.number, step.action));
        for change in step.changes {
            text.push_str(&format!("       {change}\n"));
        }
    }
    if let Some((last, _)) = trace.last() {
        for line in crate::properties::explain(last, property) {
            text.push_str(&format!("  => {line}\n"));
        }
    }
    text
}
