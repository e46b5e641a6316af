//! TCP's retransmission of lost packets (spec/scenario.md, `loss`: "this fraction of packets is
//! lost and retransmitted after 200 ms (doubling): the connection stays up but slows";
//! reference section 3: "a lost packet is retransmitted, which shows up as delay").
//!
//! A lost message holds up its connection in that direction: the sender sends it again after
//! 200 ms, then 400 ms, and so on, each attempt drawing the link's loss *at that moment*, so a
//! heal lets the next attempt through (its doubled backoff is all a burst of loss costs). The
//! connection's later messages still go out, each with its own retransmissions if lost, but
//! are handed over only after it, as TCP delivers in order; other connections are not held up.
//! When the first one gets through, the next lost one behind it is retransmitted at once (the
//! acknowledgement shows the sender that hole), so a healed link empties the queue quickly.
//! The queue ends when every message in it got through, or with its connection (declared lost,
//! reset, or its sender stopped).
//!
//! A stall on the connection a SYNCHRONIZED FULL principal waits on is judged when it ends
//! ([`World::follow_mirror_stall`]): whether the mirror answered within TIMEOUT is known only
//! then, since it depends on when the loss heals.

use std::collections::VecDeque;

use mirror_protocol::{ConnId, LinkState, Message, Nanos};

use super::net::{Transit, RETRANSMIT_FIRST, RETRANSMIT_MAX};
use super::world::{Ev, HeldMessage, Parcel, World};

/// The first number of a lost message ([`World::next_packet`] counts up from it, and
/// [`World::next_caught_packet`] down).
pub const FIRST_PACKET: u64 = 1 << 62;

/// A message of a held-up connection.
pub struct InFlight {
    /// Its number, for its retransmissions ([`Ev::Retransmit`]).
    pub packet: u64,
    /// The message and the log block it carries.
    pub parcel: Box<Parcel>,
    /// Its size on the wire.
    pub bytes: u64,
    /// When it first went out.
    pub sent: Nanos,
    /// The wait before its next retransmission (doubles with each loss).
    pub backoff: Nanos,
    /// When an attempt of it reaches the receiver (`None` while every attempt was lost).
    pub arrives: Option<Nanos>,
}

/// A connection held up in one direction behind a lost message.
pub struct Retransmission {
    /// The sender.
    pub from: usize,
    /// The receiver.
    pub to: usize,
    /// The connection held up.
    pub conn: ConnId,
    /// The messages not handed over yet, in the order sent (so in packet number order); the
    /// first one is lost.
    pub queue: VecDeque<InFlight>,
}

/// A stall of the connection between a principal that waits for its mirror and that mirror
/// (either direction: the log going out or the acknowledgements coming back).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MirrorStall {
    /// The principal waiting.
    pub principal: usize,
    /// Its mirror.
    pub mirror: usize,
    /// Its connection to the mirror.
    pub conn: ConnId,
    /// When the oldest lost message holding it up first went out.
    pub since: Nanos,
    /// The session's TIMEOUT.
    pub timeout: Nanos,
}

impl World<'_> {
    /// The held-up direction `from` to `to` of connection `conn`, if any.
    fn retransmission_of(&self, from: usize, to: usize, conn: ConnId) -> Option<usize> {
        self.retransmissions
            .iter()
            .position(|r| (r.from, r.to, r.conn) == (from, to, conn))
    }

    /// The held-up connection and the position in it of lost message `packet`.
    fn find_packet(&self, packet: u64) -> Option<(usize, usize)> {
        self.retransmissions.iter().enumerate().find_map(|(i, r)| {
            r.queue
                .binary_search_by_key(&packet, |m| m.packet)
                .ok()
                .map(|j| (i, j))
        })
    }

    /// Whether connection `conn` from `from` to `to` waits behind a message whose
    /// retransmission was lost too: TCP's congestion window has collapsed to that one packet,
    /// so the principal puts no more log on it.
    pub fn stalled(&self, from: usize, to: usize, conn: ConnId) -> bool {
        self.retransmission_of(from, to, conn).is_some_and(|i| {
            self.retransmissions[i]
                .queue
                .front()
                .is_some_and(|m| m.backoff > RETRANSMIT_FIRST)
        })
    }

    /// Schedules the delivery of `parcel` from `from` to `to` at `arrives`. The direction notes
    /// when the last message on it is due, so that a cut looks for messages on the wire only
    /// when some may be there (searching the whole event queue at every cut took 2,000 cuts of
    /// an idle link from 7 s to 44 s of run time under heavy load: found by an audit).
    fn put_on_the_wire(&mut self, from: usize, to: usize, arrives: Nanos, parcel: Box<Parcel>) {
        self.net.direction_mut(from, to).note_on_the_wire(arrives);
        self.queue.push(arrives, Ev::Deliver { to, parcel });
    }

    /// Hands over or holds up one attempt `transit` of a message of `from` to `to`: behind its
    /// connection's lost message if there is one; held up itself when lost; else delivered in
    /// order.
    pub fn after_attempt(
        &mut self,
        from: usize,
        to: usize,
        parcel: Box<Parcel>,
        bytes: u64,
        transit: Transit,
    ) {
        let conn = parcel.env.conn;
        if matches!(parcel.env.body, Message::Connect | Message::Accept) {
            // Opening a connection (TCP's SYN and its answer): an attempt travels alone, with
            // no order to keep and nothing retransmitted in a queue, since the initiator sends
            // its request again at every ping tick and a repeated request is answered again.
            // Queued behind a lost first attempt whose backoff doubles up to 120 s, the
            // attempts after a heal waited for it, and the session stayed down for minutes
            // (found by an audit: a loss of every packet, healed, unlike a healed partition).
            if !transit.lost {
                self.put_on_the_wire(from, to, transit.arrives, parcel);
            }
            return;
        }
        if parcel.env.body == Message::Reset {
            // A reset ends its connection: it comes after what was sent on it (a closed port's
            // reset overtook the log on a slow path), but nothing waits behind it, and a lost
            // one is not retransmitted (the next message to the connection gets another).
            // Resets kept in order behind one another waited behind those answering requests
            // sent over a 45 s slow path before it healed: the initiator never heard that its
            // request was refused, asked again on the same connection, and the session stayed
            // down to the end of the run (found by an audit).
            if !transit.lost {
                let arrives = self.net.behind(from, to, conn, transit.arrives);
                self.put_on_the_wire(from, to, arrives, parcel);
            }
            return;
        }
        let held_up = self.retransmission_of(from, to, conn);
        if held_up.is_none() && !transit.lost {
            let arrives = self.net.in_order(from, to, conn, transit.arrives);
            self.put_on_the_wire(from, to, arrives, parcel);
            return;
        }
        let packet = self.next_packet;
        self.next_packet += 1;
        if transit.lost {
            self.queue.push(
                transit.departs + RETRANSMIT_FIRST,
                Ev::Retransmit { packet },
            );
        }
        let message = InFlight {
            packet,
            parcel,
            bytes,
            sent: transit.departs,
            backoff: RETRANSMIT_FIRST,
            arrives: (!transit.lost).then_some(transit.arrives),
        };
        match held_up {
            Some(i) => self.retransmissions[i].queue.push_back(message),
            None => self.retransmissions.push(Retransmission {
                from,
                to,
                conn,
                queue: VecDeque::from([message]),
            }),
        }
    }

    /// Puts the messages a cut caught on the wire from `from` to `to` (in the order sent)
    /// back in front of their connection's queue when it is held up behind a lost packet that
    /// way: they were sent before everything in it, and are retransmitted as lost packets are
    /// (the cut fails the attempts, the heal lets the next through). They keep the stall's
    /// start, which is the oldest lost message's: the stall goes on. Returns the others, of
    /// connections not held up. (Taken out of the queue and held, the stall ended as if the
    /// mirror had answered, and a principal that acknowledged nothing for 10.4 s read 5.4 s
    /// unavailable: found by an audit.)
    pub(super) fn requeue_caught(
        &mut self,
        from: usize,
        to: usize,
        caught: VecDeque<HeldMessage>,
    ) -> VecDeque<HeldMessage> {
        let mut others = VecDeque::new();
        let mut per_queue: Vec<(usize, Vec<HeldMessage>)> = Vec::new();
        for (parcel, bytes) in caught {
            let Some(i) = self.retransmission_of(from, to, parcel.env.conn) else {
                others.push_back((parcel, bytes));
                continue;
            };
            match per_queue.iter_mut().find(|(q, _)| *q == i) {
                Some((_, messages)) => messages.push((parcel, bytes)),
                None => per_queue.push((i, vec![(parcel, bytes)])),
            }
        }
        for (i, messages) in per_queue {
            let sent = self.retransmissions[i]
                .queue
                .front()
                .map_or(self.now, |m| m.sent);
            // Numbered below everything queued, in the order sent.
            self.next_caught_packet -= messages.len() as u64;
            let first = self.next_caught_packet;
            for (j, (parcel, bytes)) in messages.into_iter().enumerate().rev() {
                let packet = first + j as u64;
                self.retransmissions[i].queue.push_front(InFlight {
                    packet,
                    parcel,
                    bytes,
                    sent,
                    backoff: RETRANSMIT_FIRST,
                    arrives: None,
                });
                let at = self.now.saturating_add(RETRANSMIT_FIRST);
                self.queue.push(at, Ev::Retransmit { packet });
            }
        }
        others
    }

    /// The sender's kernel retransmits lost message `packet` (it does so even while the
    /// instance is paused). Lost again, or the link cut: the next attempt after twice the
    /// wait. Through, and first of its connection's queue: it and the messages behind it are
    /// handed over.
    pub fn retransmit(&mut self, packet: u64) {
        let Some((i, j)) = self.find_packet(packet) else {
            return; // handed over already, or its connection is gone
        };
        let r = &self.retransmissions[i];
        if !self.nodes[r.from].running() || !self.holds_connection(r.from, &r.queue[j].parcel.env) {
            // The connection is gone, and its unsent data with it.
            self.retransmissions.remove(i);
            self.track_unavailability();
            return;
        }
        if r.queue[j].arrives.is_some() {
            return; // an earlier attempt got through
        }
        if !self.attempt(i, j) {
            let m = &mut self.retransmissions[i].queue[j];
            m.backoff = m.backoff.saturating_mul(2).min(RETRANSMIT_MAX);
            let at = self.now.saturating_add(m.backoff);
            self.queue.push(at, Ev::Retransmit { packet });
            return;
        }
        if j == 0 {
            self.hand_over(i);
        }
    }

    /// Sends message `j` of held-up connection `i` again; whether it got through.
    fn attempt(&mut self, i: usize, j: usize) -> bool {
        let r = &self.retransmissions[i];
        let (from, to, bytes) = (r.from, r.to, r.queue[j].bytes);
        match self
            .net
            .attempt(self.now, from, to, bytes, &mut self.rng_net)
        {
            Some(transit) if !transit.lost => {
                self.retransmissions[i].queue[j].arrives = Some(transit.arrives);
                true
            }
            _ => false,
        }
    }

    /// Hands over, in order, the messages of held-up connection `i` that got through, up to
    /// the next lost one, which is retransmitted at once (the acknowledgement just received
    /// shows the sender that hole; lost again, it keeps its own retransmissions). The
    /// connection is free again when none is left.
    fn hand_over(&mut self, i: usize) {
        let (from, to, conn) = {
            let r = &self.retransmissions[i];
            (r.from, r.to, r.conn)
        };
        loop {
            let Some(front) = self.retransmissions[i].queue.front() else {
                self.retransmissions.remove(i);
                break;
            };
            if let Some(arrives) = front.arrives {
                let message = self.retransmissions[i].queue.pop_front().expect("front");
                let arrives = self.net.in_order(from, to, conn, arrives);
                let parcel = message.parcel;
                if self.holds_connection(from, &parcel.env) {
                    self.put_on_the_wire(from, to, arrives, parcel);
                }
                continue;
            }
            if !self.attempt(i, 0) {
                break;
            }
        }
        self.pump(from);
        self.track_unavailability();
    }

    /// Drops the stalls from or to instance `n` (it stopped: its connections died).
    pub fn drop_retransmissions(&mut self, n: usize) {
        self.retransmissions.retain(|r| r.from != n && r.to != n);
    }

    /// The connection a principal `n` that acknowledges only what its mirror hardened waits on
    /// (up), with the mirror's index and the session's TIMEOUT.
    fn mirror_connection(&self, n: usize) -> Option<(usize, ConnId, Nanos)> {
        let node = &self.nodes[n];
        if !node.serving || !node.running() {
            return None;
        }
        let p = node.session()?;
        if !p.acknowledges_only_mirror_hardened() {
            return None;
        }
        match p.links().link(p.partner())?.state {
            LinkState::Up(conn) => Some((self.index_of(p.partner()), conn, p.config().timeout())),
            _ => None,
        }
    }

    /// The stall of the connection some principal waits on for its mirror, now.
    fn current_mirror_stall(&self) -> Option<MirrorStall> {
        (0..self.nodes.len()).find_map(|n| {
            let (m, conn, timeout) = self.mirror_connection(n)?;
            let since = self
                .retransmissions
                .iter()
                .filter(|r| {
                    r.conn == conn && ((r.from, r.to) == (n, m) || (r.from, r.to) == (m, n))
                })
                .filter_map(|r| r.queue.front().map(|f| f.sent))
                .min()?;
            Some(MirrorStall {
                principal: n,
                mirror: m,
                conn,
                since,
                timeout,
            })
        })
    }

    /// Follows the stall of the connection a principal waits on for its mirror, and judges
    /// one that ended (reference section 4: a principal that would have to wait for the mirror
    /// is not serving; README: it serves only while its mirror can answer within TIMEOUT).
    /// A stall that ended with the mirror's answer getting through was delay (it shows in
    /// `commit_latency`), except for the moments from which that answer took TIMEOUT or more;
    /// a stall that ended without an answer (the mirror declared lost, the principal stopped)
    /// means the principal could not acknowledge from the stall's start. Returns the start of
    /// such an unanswered stall, to count from (not before `start`, the workload's start).
    pub fn follow_mirror_stall(&mut self, start: Nanos) -> Option<Nanos> {
        let current = self.current_mirror_stall();
        let ended = std::mem::replace(&mut self.mirror_stall, current).filter(|p| {
            current.is_none_or(|c| (c.principal, c.conn, c.since) != (p.principal, p.conn, p.since))
        })?;
        let answered = self
            .mirror_connection(ended.principal)
            .is_some_and(|(_, conn, _)| conn == ended.conn);
        if answered {
            let from = ended.since.max(start);
            if self.blacked_out_since(ended.principal, ended.mirror, ended.since) {
                // A loss of every packet is an outage while it lasts (as a partition), and
                // the stall it caused to its end: the principal waited for its mirror until a
                // retransmission got through after the heal (a 2 s blackout stopped commits
                // for 3.2 s, and read 2 s).
                self.note_unserved(from, self.now);
                return None;
            }
            // The moments from which the answer took TIMEOUT or more were not served.
            let late = self.now.saturating_sub(ended.timeout);
            self.note_unserved(from, late);
            return None;
        }
        Some(ended.since.max(start))
    }

    /// Whether the link between `a` and `b` lost every packet, either way, at some moment
    /// since `since` (it ended since, or still does).
    fn blacked_out_since(&self, a: usize, b: usize, since: Nanos) -> bool {
        [self.net.direction(a, b), self.net.direction(b, a)]
            .iter()
            .any(|d| d.loses_everything() || d.blackout_ended > since)
    }

    /// At the end of the run: a stall still under way for TIMEOUT or more already means the
    /// mirror could not answer within TIMEOUT; a shorter one is left undecided (not counted).
    pub fn finish_mirror_stall(&mut self, start: Nanos) -> Option<Nanos> {
        let stall = self.mirror_stall.take()?;
        let from = stall.since.max(start);
        (self.now.saturating_sub(from) >= stall.timeout).then_some(from)
    }
}
