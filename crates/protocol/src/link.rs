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
}

/// What a received envelope means for the owner of the links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// Nothing for the owner (a ping, a stale or foreign message).
    Nothing,
    /// The connection to `peer` is now up. If it replaced one that was up, `replaced` is true:
    /// the owner first handles the old one as lost.
    Established {
        /// The peer.
        peer: InstanceId,
        /// Whether an older connection was replaced.
        replaced: bool,
    },
    /// The connection to `peer` broke (a reset came back).
    Lost {
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
            LinkState::Connecting(c) | LinkState::Up(c) => Some(c),
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

    /// Whether the connection to `peer` is up.
    pub fn is_up(&self, peer: InstanceId) -> bool {
        self.link(peer).is_some_and(Link::is_up)
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
                LinkState::Down if link.initiator => {
                    let conn = ConnId {
                        initiator: self.me,
                        number: self.counter,
                    };
                    self.counter += 1;
                    self.links[i].state = LinkState::Connecting(conn);
                    self.send_on(out, role, link.peer, conn, Message::Connect);
                }
                LinkState::Down => {}
            }
        }
        lost
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
            Message::Accept => self.on_accept(now, link, env.conn),
            Message::Reset => self.on_reset(link, env.conn),
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
        let acceptor = !link.initiator && conn.initiator == link.peer;
        if !acceptor || link.lost == Some(conn) {
            self.send_on(out, role, link.peer, conn, Message::Reset);
            return Received::Nothing;
        }
        self.send_on(out, role, link.peer, conn, Message::Accept);
        if link.state == LinkState::Up(conn) {
            return Received::Nothing; // a repeated request for the connection we have
        }
        let replaced = link.is_up();
        let l = self.link_mut(link.peer).expect("link exists");
        if replaced {
            l.declare_lost();
        }
        l.state = LinkState::Up(conn);
        l.last_reply = now;
        Received::Established {
            peer: link.peer,
            replaced,
        }
    }

    fn on_accept(&mut self, now: Nanos, link: Link, conn: ConnId) -> Received {
        if link.state != LinkState::Connecting(conn) {
            return Received::Nothing;
        }
        let l = self.link_mut(link.peer).expect("link exists");
        l.state = LinkState::Up(conn);
        l.last_reply = now;
        Received::Established {
            peer: link.peer,
            replaced: false,
        }
    }

    fn on_reset(&mut self, link: Link, conn: ConnId) -> Received {
        if link.conn() != Some(conn) {
            return Received::Nothing;
        }
        let was_up = self.declare_lost(link.peer);
        if was_up {
            Received::Lost { peer: link.peer }
        } else {
            Received::Nothing
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
                self.link_mut(link.peer).expect("link exists").last_reply = now;
                Received::Deliver(body)
            }
            body => Received::Deliver(body),
        }
    }

    /// Handles a hard or soft error reported by the driver; returns whether the link had been up.
    pub fn connection_lost(&mut self, peer: InstanceId, _kind: ErrorKind) -> bool {
        self.declare_lost(peer)
    }
}
