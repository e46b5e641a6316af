//! Connections and failure detection (reference section 3): one [`Link`] per peer, request/reply
//! pings every second, a connection declared lost at the first ping tick at which the last reply
//! is older than TIMEOUT, hard errors as an input, and the connect/accept handshake.

use crate::message::{ConnId, Envelope, Message};
use crate::output::Output;
use crate::types::{ErrorKind, InstanceId, Nanos, RoleView};

/// The state of one connection as this side sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkState {
    /// No connection (never made, or declared lost).
    Down,
    /// A connect request is out (initiator only).
    Connecting(ConnId),
    /// A connect request was accepted (acceptor only): up once the initiator is heard from on
    /// it (its [`Message::Confirm`] first). An acceptance that never arrives, the link cut in
    /// that direction, leaves this side down: it counted the connection as up for a TIMEOUT,
    /// and as connected for forced service and the witness's view of the principal.
    Accepted(ConnId),
    /// Up: replies to our pings keep arriving.
    Up(ConnId),
}

/// This side's connection to one peer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Link {
    /// The peer.
    pub peer: InstanceId,
    /// The connection state.
    pub state: LinkState,
    /// When the last reply (or the connection itself) arrived.
    pub last_reply: Nanos,
    /// The connection this side last declared lost: a late connect request for it is refused.
    pub lost: Option<ConnId>,
    /// Whether this side opens the connection (partners open connections to the witness; between
    /// partners, the one with the lower id opens it).
    pub initiator: bool,
    /// The peer asked for a connection (it restarted) while this side held one up, and was
    /// pinged on it: the reset a restarted peer answers with is followed by a new connection at
    /// once, not at the next tick. Cleared by the peer's reply on that connection.
    pub asked: bool,
}

/// What a received envelope means for the owner of the links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// Nothing for the owner (a ping, a stale or foreign message).
    Nothing,
    /// The connection to `peer` is now up. If it replaced one that was up, `replaced` is true:
    /// the owner first handles the old one as lost. `then` is a message that came with it (the
    /// first on an accepted connection other than the confirmation), for the owner after it.
    Established {
        /// The peer.
        peer: InstanceId,
        /// Whether an older connection was replaced.
        replaced: bool,
        /// A message for the owner that arrived with the confirmation.
        then: Option<Message>,
    },
    /// The connection to `peer` broke (a reset came back).
    Lost {
        /// The peer.
        peer: InstanceId,
    },
    /// The connection this side was opening to `peer` was refused (a reset came back for the
    /// connect request: the port is closed, the process behind it died). It never was up; the
    /// link is down and is asked for again at the next tick.
    Refused {
        /// The peer.
        peer: InstanceId,
    },
    /// A message for the owner, on the current connection.
    Deliver(Message),
}

impl Link {
    /// A link that is down.
    pub fn new(peer: InstanceId, initiator: bool) -> Self {
        Self {
            peer,
            state: LinkState::Down,
            last_reply: 0,
            lost: None,
            initiator,
            asked: false,
        }
    }

    /// Whether the connection is up.
    pub fn is_up(&self) -> bool {
        matches!(self.state, LinkState::Up(_))
    }

    /// The current connection, up or being made.
    pub fn conn(&self) -> Option<ConnId> {
        match self.state {
            LinkState::Down => None,
            LinkState::Connecting(c) | LinkState::Accepted(c) | LinkState::Up(c) => Some(c),
        }
    }

    /// Declares the connection lost (soft: a timeout or a local decision; hard: a reset).
    /// Returns whether it had been up.
    pub fn declare_lost(&mut self) -> bool {
        let was_up = self.is_up();
        if let Some(conn) = self.conn() {
            self.lost = Some(conn);
        }
        self.state = LinkState::Down;
        self.asked = false;
        was_up
    }
}

/// The links of one instance: its id, a durable connection counter, and one link per peer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Links {
    /// This instance.
    pub me: InstanceId,
    /// The next connection number (kept across restarts so that numbers are never reused).
    pub counter: u32,
    /// One link per peer, in a fixed order.
    pub links: Vec<Link>,
    /// Whether a connect request from an instance that is not yet a peer is accepted (a witness
    /// accepts the principal that is about to name it).
    pub accept_any: bool,
}

impl Links {
    /// Links from `me` to no one yet.
    pub fn new(me: InstanceId) -> Self {
        Self {
            me,
            counter: 0,
            links: Vec::new(),
            accept_any: false,
        }
    }

    /// Adds a peer (idempotent); `initiator` says whether this side opens the connection.
    pub fn add_peer(&mut self, peer: InstanceId, initiator: bool) {
        assert_ne!(peer, self.me, "an instance never connects to itself");
        if self.link(peer).is_none() {
            self.links.push(Link::new(peer, initiator));
        }
    }

    /// Removes a peer; returns whether its link was up.
    pub fn remove_peer(&mut self, peer: InstanceId) -> bool {
        let was_up = self.is_up(peer);
        self.links.retain(|l| l.peer != peer);
        was_up
    }

    /// The link to `peer`, when it is a peer.
    pub fn link(&self, peer: InstanceId) -> Option<&Link> {
        self.links.iter().find(|l| l.peer == peer)
    }

    fn link_mut(&mut self, peer: InstanceId) -> Option<&mut Link> {
        self.links.iter_mut().find(|l| l.peer == peer)
    }

    fn index_of(&self, peer: InstanceId) -> usize {
        self.links
            .iter()
            .position(|l| l.peer == peer)
            .expect("link exists")
    }

    /// Whether the connection to `peer` is up.
    pub fn is_up(&self, peer: InstanceId) -> bool {
        self.link(peer).is_some_and(Link::is_up)
    }

    /// The current connection to `peer`, up or being made.
    pub fn conn(&self, peer: InstanceId) -> Option<ConnId> {
        self.link(peer).and_then(Link::conn)
    }

    /// The link to `peer`, not up, counts its silence from `now` (a restart, a peer just
    /// learnt of): a peer never reached since is silent for TIMEOUT from then, not from its
    /// last reply before.
    pub fn count_silence_from(&mut self, peer: InstanceId, now: Nanos) {
        if let Some(link) = self.link_mut(peer).filter(|l| !l.is_up()) {
            link.last_reply = now;
        }
    }

    /// Marks every link down without remembering anything (a restart: the process is new).
    pub fn reset_all(&mut self) {
        for link in &mut self.links {
            *link = Link::new(link.peer, link.initiator);
        }
    }

    /// Declares the link to `peer` lost; returns whether it had been up.
    pub fn declare_lost(&mut self, peer: InstanceId) -> bool {
        self.link_mut(peer).is_some_and(Link::declare_lost)
    }

    /// Sends `body` to `peer` on the current connection, if it is up.
    pub fn send(&self, out: &mut Vec<Output>, role: RoleView, peer: InstanceId, body: Message) {
        if let Some(LinkState::Up(conn)) = self.link(peer).map(|l| l.state) {
            out.push(Output::Send(Envelope {
                from: self.me,
                to: peer,
                conn,
                role,
                body,
            }));
        }
    }

    fn send_on(
        &self,
        out: &mut Vec<Output>,
        role: RoleView,
        to: InstanceId,
        conn: ConnId,
        body: Message,
    ) {
        out.push(Output::Send(Envelope {
            from: self.me,
            to,
            conn,
            role,
            body,
        }));
    }

    /// The ping tick: declares lost every link whose last reply is older than `timeout`, pings
    /// the others, and (as initiator) asks for a connection on every link that is down. Returns
    /// the peers declared lost.
    pub fn tick(
        &mut self,
        now: Nanos,
        timeout: Nanos,
        role: RoleView,
        out: &mut Vec<Output>,
    ) -> Vec<InstanceId> {
        let mut lost = Vec::new();
        for i in 0..self.links.len() {
            let link = self.links[i];
            match link.state {
                LinkState::Up(conn) => {
                    if now.saturating_sub(link.last_reply) > timeout {
                        self.links[i].declare_lost();
                        lost.push(link.peer);
                    } else {
                        self.send_on(out, role, link.peer, conn, Message::Ping);
                    }
                }
                LinkState::Connecting(conn) => {
                    self.send_on(out, role, link.peer, conn, Message::Connect)
                }
                // Never up: given up silently after a TIMEOUT without word from the initiator.
                LinkState::Accepted(_) => {
                    if now.saturating_sub(link.last_reply) > timeout {
                        self.links[i].declare_lost();
                    }
                }
                LinkState::Down if link.initiator => self.open(i, role, out),
                LinkState::Down => {}
            }
        }
        lost
    }

    /// Opens a new connection on the link at `index` (this side initiates): a fresh number
    /// from the durable counter, and a connect request.
    fn open(&mut self, index: usize, role: RoleView, out: &mut Vec<Output>) {
        let conn = ConnId {
            initiator: self.me,
            number: self.counter,
        };
        self.counter += 1;
        self.links[index].state = LinkState::Connecting(conn);
        self.links[index].asked = false;
        self.send_on(out, role, self.links[index].peer, conn, Message::Connect);
    }

    /// A restarted instance asks each peer that opens their connection to open it now
    /// (reference section 3: a broken connection is re-established when the peer can be
    /// reached again). The request names this side as its initiator, so the peer answers it
    /// with its own connect request (`on_asked_to_connect`), never by accepting it. Without it
    /// a restarted acceptor waited up to a ping interval for the initiator's next tick: between
    /// partners the one with the lower id initiates, so whether a restarted partner reconnected
    /// at once, and how long its database was unavailable, depended on the order of the
    /// scenario's instance tables (audit AU). The request takes no number from the counter:
    /// no one ever holds that connection.
    pub fn ask_initiators_to_connect(&self, role: RoleView, out: &mut Vec<Output>) {
        let conn = ConnId {
            initiator: self.me,
            number: self.counter,
        };
        for link in self.links.iter().filter(|l| !l.initiator) {
            self.send_on(out, role, link.peer, conn, Message::Connect);
        }
    }

    /// Handles the connection layer of a received envelope. `pong` is what this instance puts in
    /// its ping replies.
    pub fn receive(
        &mut self,
        now: Nanos,
        env: Envelope,
        role: RoleView,
        pong: Message,
        out: &mut Vec<Output>,
    ) -> Received {
        debug_assert_eq!(env.to, self.me, "misrouted envelope");
        if self.link(env.from).is_none() && self.accept_any && env.body == Message::Connect {
            self.add_peer(env.from, false);
        }
        let Some(link) = self.link(env.from).copied() else {
            return Received::Nothing;
        };
        match env.body {
            Message::Connect => self.on_connect(now, link, env.conn, role, out),
            Message::Accept => self.on_accept(now, link, env.conn, role, out),
            Message::Reset => self.on_reset(link, env.conn, role, out),
            body if link.state == LinkState::Accepted(env.conn) => {
                self.on_confirmed(now, link, env.conn, body, role, pong, out)
            }
            body if link.state == LinkState::Up(env.conn) => {
                self.on_current(now, link, body, role, pong, out)
            }
            _ => {
                // The connection is gone on this side: tell the sender, as TCP would with a reset.
                self.send_on(out, role, env.from, env.conn, Message::Reset);
                Received::Nothing
            }
        }
    }

    fn on_connect(
        &mut self,
        now: Nanos,
        link: Link,
        conn: ConnId,
        role: RoleView,
        out: &mut Vec<Output>,
    ) -> Received {
        if link.initiator && conn.initiator == link.peer {
            return self.on_asked_to_connect(link, role, out);
        }
        let acceptor = !link.initiator && conn.initiator == link.peer;
        // An initiator numbers its connections from a durable counter, so a request numbered
        // at or below the last connection declared lost, or below the one up, is stale: sent
        // before the initiator gave that connection up (or before it restarted) and delayed.
        // Accepted, it would replace the live connection with a dead one.
        let older = |c: ConnId| c.initiator == conn.initiator && conn.number < c.number;
        let stale = link.lost.is_some_and(|l| l == conn || older(l))
            || matches!(link.state, LinkState::Up(c) | LinkState::Accepted(c) if older(c));
        if !acceptor || stale {
            self.send_on(out, role, link.peer, conn, Message::Reset);
            return Received::Nothing;
        }
        self.send_on(out, role, link.peer, conn, Message::Accept);
        if link.conn() == Some(conn) {
            return Received::Nothing; // a repeated request for the connection we have
        }
        // The new connection replaces the one up (or accepted) at once: its initiator has
        // given that one up. It counts as up only once the initiator confirms it.
        let replaced = link.is_up();
        let l = self.link_mut(link.peer).expect("link exists");
        l.declare_lost();
        l.state = LinkState::Accepted(conn);
        l.last_reply = now;
        if replaced {
            Received::Lost { peer: link.peer }
        } else {
            Received::Nothing
        }
    }

    /// The peer, which this side connects to, has restarted and asks for a connection
    /// (`ask_initiators_to_connect`): a link that is down is opened now, not at the next tick; a
    /// connect request still out is sent again; a connection this side holds as up is pinged
    /// now, so that a peer that lost it answers with a reset at once, and a new connection
    /// follows the reset (`Link::asked`). Each of these a tick does too, so a request that
    /// arrives late, after the connection was re-established, changes nothing but a ping's
    /// moment (the peer's reply clears `asked`).
    fn on_asked_to_connect(
        &mut self,
        link: Link,
        role: RoleView,
        out: &mut Vec<Output>,
    ) -> Received {
        match link.state {
            LinkState::Down => {
                let index = self.index_of(link.peer);
                self.open(index, role, out);
            }
            LinkState::Connecting(conn) => {
                self.send_on(out, role, link.peer, conn, Message::Connect)
            }
            LinkState::Up(conn) => {
                self.link_mut(link.peer).expect("link exists").asked = true;
                self.send_on(out, role, link.peer, conn, Message::Ping);
            }
            LinkState::Accepted(_) => {} // only an acceptor accepts
        }
        Received::Nothing
    }

    fn on_accept(
        &mut self,
        now: Nanos,
        link: Link,
        conn: ConnId,
        role: RoleView,
        out: &mut Vec<Output>,
    ) -> Received {
        if link.state != LinkState::Connecting(conn) {
            return Received::Nothing;
        }
        let l = self.link_mut(link.peer).expect("link exists");
        l.state = LinkState::Up(conn);
        l.last_reply = now;
        self.send_on(out, role, link.peer, conn, Message::Confirm);
        Received::Established {
            peer: link.peer,
            replaced: false,
            then: None,
        }
    }

    /// The initiator is heard from on the connection this side accepted: it is up, and what
    /// came is handled as on any connection that is up.
    #[allow(clippy::too_many_arguments)] // `on_current`'s, and the connection it confirms
    fn on_confirmed(
        &mut self,
        now: Nanos,
        link: Link,
        conn: ConnId,
        body: Message,
        role: RoleView,
        pong: Message,
        out: &mut Vec<Output>,
    ) -> Received {
        let l = self.link_mut(link.peer).expect("link exists");
        l.state = LinkState::Up(conn);
        l.last_reply = now;
        let link = *l;
        let then = match self.on_current(now, link, body, role, pong, out) {
            Received::Deliver(body) => Some(body),
            _ => None,
        };
        Received::Established {
            peer: link.peer,
            replaced: false,
            then,
        }
    }

    fn on_reset(
        &mut self,
        link: Link,
        conn: ConnId,
        role: RoleView,
        out: &mut Vec<Output>,
    ) -> Received {
        if link.state == LinkState::Down && !link.initiator && conn.initiator == self.me {
            // The answer to this restarted side's request that the peer connect
            // (`ask_initiators_to_connect`): the peer's port is closed, its process down, as a
            // refused connection says to an initiator.
            return Received::Refused { peer: link.peer };
        }
        if link.conn() != Some(conn) {
            return Received::Nothing;
        }
        let was_up = self.declare_lost(link.peer);
        if was_up && link.asked {
            // The peer restarted within TIMEOUT and asked for a connection: the one this side
            // held is gone, and a new one is opened now.
            let index = self.index_of(link.peer);
            self.open(index, role, out);
        }
        if was_up {
            Received::Lost { peer: link.peer }
        } else {
            Received::Refused { peer: link.peer }
        }
    }

    fn on_current(
        &mut self,
        now: Nanos,
        link: Link,
        body: Message,
        role: RoleView,
        pong: Message,
        out: &mut Vec<Output>,
    ) -> Received {
        match body {
            Message::Ping => {
                self.send(out, role, link.peer, pong);
                Received::Nothing
            }
            Message::Pong { .. } => {
                let l = self.link_mut(link.peer).expect("link exists");
                l.last_reply = now;
                l.asked = false; // the peer holds this connection: the request was older
                Received::Deliver(body)
            }
            // The third leg of a handshake this side has done already (a repeat): nothing.
            Message::Confirm => Received::Nothing,
            body => Received::Deliver(body),
        }
    }

    /// Handles a hard or soft error reported by the driver; returns whether the link had been up.
    pub fn connection_lost(&mut self, peer: InstanceId, _kind: ErrorKind) -> bool {
        self.declare_lost(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SECOND;

    const A: InstanceId = InstanceId(1);
    const B: InstanceId = InstanceId(2);
    const C: InstanceId = InstanceId(3);
    const TIMEOUT: Nanos = 10 * SECOND;

    fn conn(initiator: InstanceId, number: u32) -> ConnId {
        ConnId { initiator, number }
    }

    fn env(from: InstanceId, to: InstanceId, conn: ConnId, body: Message) -> Envelope {
        Envelope {
            from,
            to,
            conn,
            role: RoleView::default(),
            body,
        }
    }

    fn pong() -> Message {
        Message::Pong {
            witness_sees_principal: None,
        }
    }

    fn receive(links: &mut Links, now: Nanos, env: Envelope) -> (Received, Vec<Output>) {
        let mut out = Vec::new();
        let received = links.receive(now, env, RoleView::default(), pong(), &mut out);
        (received, out)
    }

    fn tick(links: &mut Links, now: Nanos) -> (Vec<InstanceId>, Vec<Output>) {
        let mut out = Vec::new();
        let lost = links.tick(now, TIMEOUT, RoleView::default(), &mut out);
        (lost, out)
    }

    /// (to, connection, body) of every message sent.
    fn sent(out: &[Output]) -> Vec<(InstanceId, ConnId, Message)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(e) => Some((e.to, e.conn, e.body.clone())),
                _ => None,
            })
            .collect()
    }

    /// A's link to B, opened by A at `at` (connection (A, 0)).
    fn initiator_up(at: Nanos) -> Links {
        let mut links = Links::new(A);
        links.add_peer(B, true);
        tick(&mut links, at);
        let (received, out) = receive(&mut links, at, env(B, A, conn(A, 0), Message::Accept));
        assert_eq!(
            received,
            Received::Established {
                peer: B,
                replaced: false,
                then: None,
            }
        );
        assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Confirm)]);
        links
    }

    /// B's link to A, accepted at `at` (connection (A, 0)) and confirmed.
    fn acceptor_up(at: Nanos) -> Links {
        let mut links = Links::new(B);
        links.add_peer(A, false);
        let (received, out) = receive(&mut links, at, env(A, B, conn(A, 0), Message::Connect));
        assert_eq!(received, Received::Nothing, "up once confirmed");
        assert_eq!(sent(&out), vec![(A, conn(A, 0), Message::Accept)]);
        assert!(!links.is_up(A));
        let (received, _) = receive(&mut links, at, env(A, B, conn(A, 0), Message::Confirm));
        assert_eq!(
            received,
            Received::Established {
                peer: A,
                replaced: false,
                then: None,
            }
        );
        links
    }

    // reference §3: "A connection counts as up while replies to one's own pings keep arriving
    // ... This also makes a one-way cut visible to both sides." An acceptance lost on a link cut
    // towards the initiator never brings the connection up on the acceptor (it counted as up
    // for a TIMEOUT, and as connected for forced service), and it is given up silently.
    #[test]
    fn an_acceptance_that_never_arrives_leaves_the_acceptor_down() {
        let mut links = Links::new(B);
        links.add_peer(A, false);
        receive(&mut links, 0, env(A, B, conn(A, 0), Message::Connect));
        assert!(!links.is_up(A));
        // The initiator asks again, unanswered: still not up, still the same connection.
        let (received, out) = receive(&mut links, SECOND, env(A, B, conn(A, 0), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(A, conn(A, 0), Message::Accept)]);
        assert!(tick(&mut links, TIMEOUT).0.is_empty());
        let (lost, _) = tick(&mut links, TIMEOUT + 1);
        assert!(lost.is_empty(), "never up, so nothing to report lost");
        assert_eq!(links.link(A).unwrap().state, LinkState::Down);
        // The first message on an accepted connection confirms it and is handed over.
        let mut links = Links::new(B);
        links.add_peer(A, false);
        receive(&mut links, 0, env(A, B, conn(A, 0), Message::Connect));
        let (received, _) = receive(
            &mut links,
            1,
            env(
                A,
                B,
                conn(A, 0),
                Message::Log {
                    lsn_from: 0,
                    lsn_to: 10,
                },
            ),
        );
        assert_eq!(
            received,
            Received::Established {
                peer: A,
                replaced: false,
                then: Some(Message::Log {
                    lsn_from: 0,
                    lsn_to: 10
                }),
            }
        );
        assert!(links.is_up(A));
    }

    // reference §3: "declared lost at the first ping tick at which the last reply is older than
    // TIMEOUT" -- a reply exactly TIMEOUT old still counts; the tick after declares it lost.
    #[test]
    fn link_is_declared_lost_at_first_tick_where_last_reply_is_older_than_timeout() {
        let mut links = initiator_up(0);
        for second in 1..=10 {
            let (lost, out) = tick(&mut links, second * SECOND);
            assert!(lost.is_empty(), "lost at {second} s");
            assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Ping)]);
        }
        assert!(links.is_up(B));
        let (lost, out) = tick(&mut links, 11 * SECOND);
        assert_eq!(lost, vec![B]);
        assert!(!links.is_up(B));
        assert!(sent(&out).iter().all(|(_, _, m)| *m != Message::Ping));
        assert_eq!(links.link(B).unwrap().lost, Some(conn(A, 0)));
    }

    // reference §3: one nanosecond past TIMEOUT is enough (the rule is "older than").
    #[test]
    fn link_is_lost_one_nanosecond_past_timeout_not_at_it() {
        let mut links = initiator_up(3 * SECOND);
        assert!(tick(&mut links, 3 * SECOND + TIMEOUT).0.is_empty());
        assert_eq!(tick(&mut links, 3 * SECOND + TIMEOUT + 1).0, vec![B]);
    }

    // reference §3: "a connection counts as up while replies to one's own pings keep arriving":
    // a pong refreshes the last reply, a ping from the peer does not (so a one-way cut shows).
    #[test]
    fn pongs_refresh_last_reply_but_pings_do_not() {
        let mut links = initiator_up(0);
        let (received, out) = receive(&mut links, 5 * SECOND, env(B, A, conn(A, 0), Message::Ping));
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(B, conn(A, 0), pong())]);
        assert_eq!(links.link(B).unwrap().last_reply, 0, "a ping is no reply");

        let (received, _) = receive(&mut links, 6 * SECOND, env(B, A, conn(A, 0), pong()));
        assert_eq!(received, Received::Deliver(pong()));
        assert_eq!(links.link(B).unwrap().last_reply, 6 * SECOND);
        assert!(tick(&mut links, 16 * SECOND).0.is_empty());
        assert_eq!(tick(&mut links, 17 * SECOND).0, vec![B]);
    }

    // reference §3: only replies on the current connection count; a pong on an old one is reset.
    #[test]
    fn pong_on_a_connection_declared_lost_does_not_revive_it() {
        let mut links = initiator_up(0);
        assert!(links.declare_lost(B));
        let (received, out) = receive(&mut links, SECOND, env(B, A, conn(A, 0), pong()));
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Reset)]);
        assert!(!links.is_up(B));
        assert_eq!(links.link(B).unwrap().last_reply, 0);
    }

    // reference §3 / message.rs: the initiator opens connections with fresh numbers from its
    // durable counter; the acceptor never asks.
    #[test]
    fn initiator_connects_on_tick_and_acceptor_waits() {
        let mut a = Links::new(A);
        a.add_peer(B, true);
        let (_, out) = tick(&mut a, 0);
        assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Connect)]);
        assert_eq!(a.link(B).unwrap().state, LinkState::Connecting(conn(A, 0)));
        assert_eq!(a.counter, 1);
        // While connecting, the same request is repeated, with no new number.
        let (_, out) = tick(&mut a, SECOND);
        assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Connect)]);
        assert_eq!(a.counter, 1);

        let mut b = Links::new(B);
        b.add_peer(A, false);
        let (lost, out) = tick(&mut b, 0);
        assert!(lost.is_empty() && out.is_empty(), "{out:?}");
        assert_eq!(b.link(A).unwrap().state, LinkState::Down);
    }

    // reference §3: "a broken connection is re-established by a handshake when the peer can be
    // reached again". A restarted acceptor asks its initiator to connect, and the initiator
    // answers with its own connect request at once, whatever its link's state: a link down is
    // opened with a fresh number, a request still out is repeated, a connection up is pinged.
    // The request is never accepted as a connection.
    #[test]
    fn a_restarted_acceptor_asks_its_initiator_to_connect_now() {
        let mut b = acceptor_up(0);
        b.reset_all();
        let mut out = Vec::new();
        b.ask_initiators_to_connect(RoleView::default(), &mut out);
        assert_eq!(sent(&out), vec![(A, conn(B, 0), Message::Connect)]);
        let ask = env(B, A, conn(B, 0), Message::Connect);

        let mut a = Links::new(A);
        a.add_peer(B, true);
        let (received, out) = receive(&mut a, 3 * SECOND, ask.clone());
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Connect)]);
        assert_eq!(a.link(B).unwrap().state, LinkState::Connecting(conn(A, 0)));
        assert_eq!(a.counter, 1, "the connection took a fresh number");

        let (received, out) = receive(&mut a, 3 * SECOND, ask.clone());
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Connect)]);
        assert_eq!(a.counter, 1, "the request out is repeated, not replaced");

        // A connection held as up is pinged: a live one answers, and nothing else changes.
        let mut a = initiator_up(0);
        let (received, out) = receive(&mut a, SECOND, ask.clone());
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(B, conn(A, 0), Message::Ping)]);
        receive(&mut a, SECOND, env(B, A, conn(A, 0), pong()));
        assert!(
            a.is_up(B),
            "a late request changes nothing but a ping's moment"
        );
        assert!(!a.link(B).unwrap().asked, "the reply clears the request");
        let (received, out) = receive(&mut a, SECOND, env(B, A, conn(A, 0), Message::Reset));
        assert_eq!(received, Received::Lost { peer: B });
        assert!(
            sent(&out).is_empty(),
            "an ordinary reset waits for the tick"
        );

        // The restarted peer answers the ping with a reset: a new connection follows at once.
        let mut a = initiator_up(0);
        receive(&mut a, SECOND, ask);
        let (received, out) = receive(&mut a, SECOND, env(B, A, conn(A, 0), Message::Reset));
        assert_eq!(received, Received::Lost { peer: B });
        assert_eq!(sent(&out), vec![(B, conn(A, 1), Message::Connect)]);
        assert_eq!(a.link(B).unwrap().state, LinkState::Connecting(conn(A, 1)));

        // A reset answers the request when the peer's process is down: refused, as a
        // connection an initiator opens is.
        let (received, out) = receive(&mut b, SECOND, env(A, B, conn(B, 0), Message::Reset));
        assert_eq!(received, Received::Refused { peer: A });
        assert!(out.is_empty(), "no reset answers a reset");

        // An initiator asks no one: it connects at its own tick.
        let mut out = Vec::new();
        a.ask_initiators_to_connect(RoleView::default(), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    // reference §3: a connect request naming an initiator that is neither end of the link is
    // refused with a reset.
    #[test]
    fn connect_naming_another_initiator_is_reset() {
        let mut b = Links::new(B);
        b.add_peer(A, false);
        let (received, out) = receive(&mut b, 0, env(A, B, conn(C, 0), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(A, conn(C, 0), Message::Reset)]);
        assert!(!b.is_up(A));
    }

    // reference §4: "Messages that arrive on a connection that has been declared lost ... are
    // dropped": a late connect for the connection this side declared lost is answered with Reset.
    #[test]
    fn connect_for_a_connection_declared_lost_is_answered_with_reset() {
        let mut b = acceptor_up(0);
        assert!(b.declare_lost(A));
        let (received, out) = receive(&mut b, SECOND, env(A, B, conn(A, 0), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(A, conn(A, 0), Message::Reset)]);
        assert!(!b.is_up(A));
        // A new connection is accepted (up once confirmed).
        let (received, out) = receive(&mut b, 2 * SECOND, env(A, B, conn(A, 1), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(A, conn(A, 1), Message::Accept)]);
        assert_eq!(b.link(A).unwrap().state, LinkState::Accepted(conn(A, 1)));
        assert_eq!(b.link(A).unwrap().last_reply, 2 * SECOND);
    }

    // reference §4: a connection replaced by a newer one is lost for its owner at once, and a
    // message still arriving on it gets a Reset; the new one is up once confirmed, the first
    // message on it handed over with it.
    #[test]
    fn replaced_connection_is_lost_and_stale_messages_get_reset() {
        let mut b = acceptor_up(0);
        let (received, _) = receive(&mut b, SECOND, env(A, B, conn(A, 1), Message::Connect));
        assert_eq!(received, Received::Lost { peer: A });
        assert_eq!(b.link(A).unwrap().state, LinkState::Accepted(conn(A, 1)));
        assert_eq!(b.link(A).unwrap().lost, Some(conn(A, 0)));

        let hardened = Message::Hardened { lsn: 7 };
        let (received, out) = receive(&mut b, SECOND, env(A, B, conn(A, 0), hardened.clone()));
        assert_eq!(received, Received::Nothing, "stale message dropped");
        assert_eq!(sent(&out), vec![(A, conn(A, 0), Message::Reset)]);
        let (received, out) = receive(&mut b, SECOND, env(A, B, conn(A, 1), hardened.clone()));
        assert_eq!(
            received,
            Received::Established {
                peer: A,
                replaced: false,
                then: Some(hardened.clone()),
            }
        );
        assert!(out.is_empty());
        let (received, _) = receive(&mut b, SECOND, env(A, B, conn(A, 1), hardened.clone()));
        assert_eq!(received, Received::Deliver(hardened));
    }

    // reference §3: connection numbers are never reused and only grow, so a delayed request for
    // an older connection (sent before its initiator gave it up or restarted) is reset, and the
    // live connection stays (the simulator delivered such a request after a restart, and it
    // replaced the live connection).
    #[test]
    fn a_delayed_request_for_an_older_connection_is_reset() {
        let mut b = acceptor_up(0);
        receive(&mut b, SECOND, env(A, B, conn(A, 2), Message::Connect));
        assert_eq!(b.link(A).unwrap().state, LinkState::Accepted(conn(A, 2)));
        for stale in [0, 1] {
            let (received, out) =
                receive(&mut b, SECOND, env(A, B, conn(A, stale), Message::Connect));
            assert_eq!(received, Received::Nothing, "connection {stale}");
            assert_eq!(sent(&out), vec![(A, conn(A, stale), Message::Reset)]);
            assert_eq!(b.link(A).unwrap().state, LinkState::Accepted(conn(A, 2)));
        }
        // Below the last one declared lost too, once nothing is up.
        b.declare_lost(A);
        let (received, _) = receive(&mut b, SECOND, env(A, B, conn(A, 1), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(b.link(A).unwrap().state, LinkState::Down);
        let (received, _) = receive(&mut b, SECOND, env(A, B, conn(A, 3), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(b.link(A).unwrap().state, LinkState::Accepted(conn(A, 3)));
    }

    // reference §3: a repeated request for the connection that is up is accepted again without
    // re-establishing it (no second Established for the owner).
    #[test]
    fn repeated_connect_for_the_current_connection_is_reaccepted_only() {
        let mut b = acceptor_up(0);
        let (received, out) = receive(&mut b, SECOND, env(A, B, conn(A, 0), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(sent(&out), vec![(A, conn(A, 0), Message::Accept)]);
        assert!(b.is_up(A));
    }

    // reference §3: a reset on the current connection is a hard error (Lost); a reset for a
    // connection that is not the current one is ignored.
    #[test]
    fn reset_breaks_only_the_current_connection() {
        let mut a = initiator_up(0);
        let (received, out) = receive(&mut a, SECOND, env(B, A, conn(A, 9), Message::Reset));
        assert_eq!(received, Received::Nothing);
        assert!(out.is_empty(), "no reset answers a reset");
        assert!(a.is_up(B));
        let (received, _) = receive(&mut a, SECOND, env(B, A, conn(A, 0), Message::Reset));
        assert_eq!(received, Received::Lost { peer: B });
        assert!(!a.is_up(B));
        // A second reset on the connection now down is not a second loss.
        let (received, _) = receive(&mut a, SECOND, env(B, A, conn(A, 0), Message::Reset));
        assert_eq!(received, Received::Nothing);
    }

    // reference §3: a reset for the connect request being made is a hard error too (the port is
    // closed, the process died): the attempt is refused, and the next tick asks again.
    #[test]
    fn reset_of_a_connect_request_refuses_the_connection() {
        let mut a = Links::new(A);
        a.add_peer(B, true);
        tick(&mut a, 0);
        let (received, _) = receive(&mut a, 0, env(B, A, conn(A, 0), Message::Reset));
        assert_eq!(received, Received::Refused { peer: B });
        assert_eq!(a.link(B).unwrap().state, LinkState::Down);
        let (_, out) = tick(&mut a, SECOND);
        assert_eq!(sent(&out), vec![(B, conn(A, 1), Message::Connect)]);
    }

    // reference §3: an Accept counts only for the connection being made.
    #[test]
    fn accept_counts_only_for_the_connection_being_made() {
        let mut a = Links::new(A);
        a.add_peer(B, true);
        tick(&mut a, 0);
        let (received, _) = receive(&mut a, 0, env(B, A, conn(A, 5), Message::Accept));
        assert_eq!(received, Received::Nothing);
        assert_eq!(a.link(B).unwrap().state, LinkState::Connecting(conn(A, 0)));
    }

    // reference §3 / message.rs: connection numbers come from a durable counter and are never
    // reused, not even after a restart (`reset_all`) or a loss.
    #[test]
    fn connection_numbers_are_never_reused() {
        let mut a = initiator_up(0);
        a.declare_lost(B);
        let (_, out) = tick(&mut a, SECOND);
        assert_eq!(sent(&out), vec![(B, conn(A, 1), Message::Connect)]);
        a.reset_all();
        assert_eq!(a.link(B).unwrap().state, LinkState::Down);
        assert_eq!(
            a.link(B).unwrap().lost,
            None,
            "a new process remembers nothing"
        );
        let (_, out) = tick(&mut a, 2 * SECOND);
        assert_eq!(sent(&out), vec![(B, conn(A, 2), Message::Connect)]);
    }

    // reference §7 (a witness accepts the principal about to name it): with `accept_any` only a
    // connect request adds a peer; anything else from a stranger is dropped without a reply.
    #[test]
    fn accept_any_adds_a_peer_only_on_connect() {
        let mut w = Links::new(C);
        w.accept_any = true;
        let (received, out) = receive(&mut w, 0, env(A, C, conn(A, 0), Message::Ping));
        assert_eq!(received, Received::Nothing);
        assert!(out.is_empty());
        assert!(w.link(A).is_none());
        let (received, _) = receive(&mut w, 0, env(A, C, conn(A, 0), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert_eq!(w.link(A).unwrap().state, LinkState::Accepted(conn(A, 0)));
        assert!(!w.link(A).unwrap().initiator);

        let mut strict = Links::new(C);
        let (received, out) = receive(&mut strict, 0, env(A, C, conn(A, 0), Message::Connect));
        assert_eq!(received, Received::Nothing);
        assert!(out.is_empty() && strict.link(A).is_none());
    }

    // reference §3: nothing is sent on a connection that is not up.
    #[test]
    fn send_on_a_link_that_is_not_up_sends_nothing() {
        let mut a = Links::new(A);
        a.add_peer(B, true);
        let mut out = Vec::new();
        a.send(&mut out, RoleView::default(), B, Message::Ping);
        tick(&mut a, 0); // connecting
        a.send(&mut out, RoleView::default(), B, Message::Ping);
        a.send(&mut out, RoleView::default(), C, Message::Ping); // not a peer
        assert!(out.is_empty(), "{out:?}");
    }

    // reference §3: a hard error reported by the driver is a loss only for a link that was up.
    #[test]
    fn connection_lost_reports_whether_the_link_was_up() {
        let mut a = initiator_up(0);
        assert!(a.connection_lost(B, ErrorKind::Hard));
        assert!(!a.connection_lost(B, ErrorKind::Soft));
        assert!(!a.connection_lost(C, ErrorKind::Hard), "not a peer");
    }
}
