//! The simulated network (issue 5): per directed link a one-way latency, exponential jitter,
//! bandwidth as a FIFO (a message takes size / bandwidth to go out, so a thin link builds a send
//! queue), loss with TCP-like retransmission, partitions (both ways or one way) and slow links.
//! Messages of one connection arrive in the order they were sent, as over TCP; a partition holds
//! them, those it caught on the wire first (the world keeps them until the link heals, see
//! `World::catch_on_the_wire` and `World::release_held`), and a lost
//! message stalls its connection until a retransmission gets through (`super::retransmit`).

use mirror_protocol::{ConnId, Nanos, MILLISECOND, SECOND};

use super::rng::Stream;
use crate::scenario::{LinkParameters, Network as NetworkSpec};

/// Bytes a control message occupies on the wire (headers and a small body).
pub const CONTROL_MESSAGE_BYTES: u64 = 96;

/// The first retransmission delay of a lost packet; it doubles for each further loss.
pub const RETRANSMIT_FIRST: Nanos = 200 * MILLISECOND;

/// The longest wait between two retransmissions of a packet (TCP's maximum retransmission
/// timeout, 120 s on Linux): a long total loss does not push the next attempt out for ever.
pub const RETRANSMIT_MAX: Nanos = 120 * SECOND;

/// Connections per direction whose last arrival is remembered. A direction carries one
/// connection at a time, and for a moment its successor too (an old connection's last messages
/// and a new one's first): the oldest entry beyond these is a connection long gone.
const CONNECTIONS_REMEMBERED: usize = 4;

/// One direction of one link.
#[derive(Clone, Debug)]
pub struct Direction {
    /// Latency, jitter and bandwidth.
    pub params: LinkParameters,
    /// Nothing gets through (a partition): the connections stay up, as TCP keeps them, and
    /// what is sent waits for the heal (or dies with its connection).
    pub partitioned: bool,
    /// Fraction of packets lost (each attempt; a lost one is retransmitted after 200 ms,
    /// doubling).
    pub loss: f64,
    /// Extra one-way latency (a slow link, a gray failure).
    pub extra_latency: Nanos,
    /// A loss or slow-link fault is in place, until a heal, whatever its figure: a loss of
    /// rate 0 left unhealed is still a fault the scenario has not healed (spec/scenario.md,
    /// `recovers`), as a slow link of 1 ms is.
    pub faulted: bool,
    /// When a loss of every packet this way last ended (0: never): a stall it caused is an
    /// outage to its end, retransmission tail included ([`World::follow_mirror_stall`]).
    pub blackout_ended: Nanos,
    /// When the sender's interface is free again (the bandwidth FIFO).
    pub busy_until: Nanos,
    /// When the last message of each recent connection sent this way arrives, newest last:
    /// arrivals stay in order per connection, as over TCP, and a new connection does not wait
    /// behind an old one's retransmissions.
    pub last_arrivals: Vec<(ConnId, Nanos)>,
    /// When the last message or reset put on the wire this way is due: none is on the wire
    /// after it (a cut takes what is on the wire out of the event queue only when it is later
    /// than the cut, `World::catch_on_the_wire`).
    pub on_the_wire_until: Nanos,
}

/// When a message goes out and arrives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Transit {
    /// When its last byte left the sender.
    pub departs: Nanos,
    /// When it arrives (when not lost).
    pub arrives: Nanos,
    /// The packet was lost: the sender retransmits it (`World::retransmit`), and the
    /// connection's later messages wait behind it.
    pub lost: bool,
}

/// Every directed link between the instances.
pub struct Network {
    n: usize,
    directions: Vec<Direction>,
    compression: f64,
}

impl Network {
    /// The network of a scenario with `n` instances.
    pub fn new(spec: &NetworkSpec, n: usize) -> Self {
        let mut directions = Vec::with_capacity(n * n);
        for from in 0..n {
            for to in 0..n {
                let params = spec.link_between(
                    crate::scenario::InstanceId(from),
                    crate::scenario::InstanceId(to),
                );
                directions.push(Direction {
                    params,
                    partitioned: false,
                    faulted: false,
                    loss: 0.0,
                    extra_latency: 0,
                    blackout_ended: 0,
                    busy_until: 0,
                    last_arrivals: Vec::with_capacity(CONNECTIONS_REMEMBERED),
                    on_the_wire_until: 0,
                });
            }
        }
        Self {
            n,
            directions,
            compression: spec.compression,
        }
    }

    /// The direction from `from` to `to`.
    pub fn direction(&self, from: usize, to: usize) -> &Direction {
        &self.directions[from * self.n + to]
    }

    /// The direction from `from` to `to`, to change its faults.
    pub fn direction_mut(&mut self, from: usize, to: usize) -> &mut Direction {
        &mut self.directions[from * self.n + to]
    }

    /// Bytes on the wire for `log_bytes` of log (the `compression` factor, reference section 6).
    pub fn wire_bytes_of_log(&self, log_bytes: u64) -> u64 {
        ((log_bytes as f64) * self.compression).ceil().max(1.0) as u64
    }

    /// Sends `bytes` of connection `conn` from `from` to `to` at `now`: `None` while the link
    /// is partitioned (the caller holds the message until the heal). One attempt
    /// ([`Network::attempt`]); a message that gets through keeps its connection's order. (The
    /// world sends through `World::transmit_parcel`, which holds up a lost message's
    /// connection; this is the network alone, for its tests.)
    #[cfg(test)]
    pub fn send(
        &mut self,
        now: Nanos,
        from: usize,
        to: usize,
        conn: ConnId,
        bytes: u64,
        rng: &mut Stream,
    ) -> Option<Transit> {
        let transit = self.attempt(now, from, to, bytes, rng)?;
        if transit.lost {
            return Some(transit);
        }
        let arrives = self.in_order(from, to, conn, transit.arrives);
        Some(Transit { arrives, ..transit })
    }

    /// One attempt to put `bytes` on the link from `from` to `to` at `now`: `None` while the
    /// link is partitioned. Whether it is lost is drawn at the link's loss rate now: a lost
    /// packet's retransmission is another attempt, later, drawing the loss of that moment (so
    /// a heal lets the next attempt through). Its arrival does not take a place in its
    /// connection's order yet ([`Network::in_order`]).
    pub fn attempt(
        &mut self,
        now: Nanos,
        from: usize,
        to: usize,
        bytes: u64,
        rng: &mut Stream,
    ) -> Option<Transit> {
        let d = self.direction_mut(from, to);
        if d.partitioned {
            return None;
        }
        let transmit = transmit_time(&d.params, bytes);
        let departs = now.max(d.busy_until) + transmit;
        d.busy_until = departs;
        let arrives =
            departs + d.params.one_way_ns + d.extra_latency + rng.exponential(d.params.jitter_ns);
        let lost = rng.chance(d.loss);
        Some(Transit {
            departs,
            arrives,
            lost,
        })
    }

    /// When a message of `conn` that reaches `to` at `arrives` is handed over: not before the
    /// connection's previous one, as over TCP. Remembers it as that connection's last arrival.
    pub fn in_order(&mut self, from: usize, to: usize, conn: ConnId, arrives: Nanos) -> Nanos {
        self.direction_mut(from, to).in_order(conn, arrives)
    }

    /// When a message of connection `conn` that could arrive at `arrives` arrives behind what
    /// was sent on it before, from `from` to `to`, without holding up what follows it (a reset).
    pub fn behind(&self, from: usize, to: usize, conn: ConnId, arrives: Nanos) -> Nanos {
        self.direction(from, to)
            .last_arrivals
            .iter()
            .find(|&&(c, _)| c == conn)
            .map_or(arrives, |&(_, last)| arrives.max(last))
    }

    /// How long `bytes` take to go out on the link from `from` to `to` (its bandwidth).
    pub fn transmit_time(&self, from: usize, to: usize, bytes: u64) -> Nanos {
        super::duration_of(
            bytes.saturating_mul(8),
            self.direction(from, to).params.bandwidth_bits_per_second,
        )
        .max(1)
    }

    /// Bytes queued but not yet out on the link from `from` to `to`, at `now`, in nanoseconds of
    /// transmission (0 when idle).
    pub fn backlog(&self, now: Nanos, from: usize, to: usize) -> Nanos {
        self.direction(from, to).busy_until.saturating_sub(now)
    }

    /// Ends every link fault (partition, loss, slow link) between `a` and `b`, or everywhere.
    pub fn heal(&mut self, now: Nanos, between: Option<(usize, usize)>) {
        for from in 0..self.n {
            for to in 0..self.n {
                let hit = between.is_none_or(|(a, b)| (from, to) == (a, b) || (from, to) == (b, a));
                if hit {
                    let d = self.direction_mut(from, to);
                    d.partitioned = false;
                    d.set_loss(now, 0.0);
                    d.extra_latency = 0;
                    d.faulted = false;
                    // The order of arrivals is kept: the connections that survived the fault
                    // still deliver in order (a packet being retransmitted still comes first).
                }
            }
        }
    }
}

impl Direction {
    /// A message or reset is on the wire this way until `arrives`.
    pub fn note_on_the_wire(&mut self, arrives: Nanos) {
        self.on_the_wire_until = self.on_the_wire_until.max(arrives);
    }

    /// Whether something put on the wire this way may still be on its way at `now`.
    pub fn may_be_on_the_wire(&self, now: Nanos) -> bool {
        self.on_the_wire_until >= now
    }

    /// Forgets the arrivals due after `now`: a cut took every message still on the wire this
    /// way, so what is sent again waits behind nothing still coming (the resent log waited for
    /// the arrival times of the messages it replaced, and a heal that also ended a 4 s slow link
    /// sped nothing up: found by an audit).
    pub fn forget_arrivals_after(&mut self, now: Nanos) {
        for (_, at) in &mut self.last_arrivals {
            *at = (*at).min(now);
        }
    }

    /// When the last message sent this way arrives (0 when none is remembered).
    pub fn last_arrival(&self) -> Nanos {
        self.last_arrivals
            .iter()
            .map(|&(_, at)| at)
            .max()
            .unwrap_or(0)
    }

    /// Sets the fraction of packets lost from `now`, noting when a loss of every packet ends
    /// (`blackout_ended`).
    pub fn set_loss(&mut self, now: Nanos, rate: f64) {
        if self.loses_everything() && rate < 1.0 {
            self.blackout_ended = now;
        }
        self.loss = rate;
    }

    /// Every packet sent this way is lost.
    pub fn loses_everything(&self) -> bool {
        self.loss >= 1.0
    }

    /// Nothing gets through this way: a partition, or a loss of every packet, which is a
    /// partition while it lasts (no answer, and no crashed process's reset, crosses it).
    pub fn passes_nothing(&self) -> bool {
        self.partitioned || self.loses_everything()
    }

    /// The arrival of a message of `conn` due at `arrives`: not before the last one of the same
    /// connection. Remembers it as that connection's last arrival.
    fn in_order(&mut self, conn: ConnId, arrives: Nanos) -> Nanos {
        let arrivals = &mut self.last_arrivals;
        let arrives = match arrivals.iter().position(|&(c, _)| c == conn) {
            Some(i) => arrives.max(arrivals.remove(i).1),
            None => {
                if arrivals.len() == CONNECTIONS_REMEMBERED {
                    arrivals.remove(0);
                }
                arrives
            }
        };
        arrivals.push((conn, arrives));
        arrives
    }
}

/// How long `bytes` take to go out on a link of these parameters (its bandwidth).
fn transmit_time(params: &LinkParameters, bytes: u64) -> Nanos {
    super::duration_of(bytes.saturating_mul(8), params.bandwidth_bits_per_second).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Network as Spec;
    use mirror_protocol::InstanceId;

    const C1: ConnId = ConnId {
        initiator: InstanceId(1),
        number: 1,
    };
    const C2: ConnId = ConnId {
        initiator: InstanceId(1),
        number: 2,
    };

    fn spec(bandwidth: u64) -> Spec {
        Spec {
            default_link: LinkParameters {
                one_way_ns: 250_000,
                jitter_ns: 0,
                bandwidth_bits_per_second: bandwidth,
            },
            compression: 1.0,
            links: Vec::new(),
        }
    }

    #[test]
    fn a_thin_link_queues_messages_in_order() {
        let mut net = Network::new(&spec(8_000_000), 2); // 8 Mbit/s: 1 MB/s
        let mut rng = Stream::new(0, "network");
        let a = net.send(0, 0, 1, C1, 1_000_000, &mut rng).unwrap();
        let b = net.send(0, 0, 1, C1, 96, &mut rng).unwrap();
        assert_eq!(a.departs, SECOND, "1 MB takes a second to go out");
        assert!(b.arrives > a.arrives, "FIFO");
        assert!(net.backlog(0, 0, 1) > 0);
    }

    #[test]
    fn a_partition_stops_everything_until_the_heal() {
        let mut net = Network::new(&spec(1_000_000_000), 2);
        let mut rng = Stream::new(0, "network");
        net.direction_mut(0, 1).partitioned = true;
        assert!(net.send(0, 0, 1, C1, 96, &mut rng).is_none());
        assert!(
            net.send(0, 1, 0, C1, 96, &mut rng).is_some(),
            "one way only"
        );
        net.heal(0, None);
        assert!(net.send(0, 0, 1, C1, 96, &mut rng).is_some());
    }

    #[test]
    fn loss_delays_but_delivers() {
        let mut net = Network::new(&spec(1_000_000_000), 2);
        let mut rng = Stream::new(3, "network");
        net.direction_mut(0, 1).loss = 0.5;
        let lost: Vec<bool> = (0..100)
            .map(|i| net.send(i * SECOND, 0, 1, C1, 96, &mut rng).unwrap().lost)
            .collect();
        assert!(lost.iter().any(|l| *l), "some packets were lost");
        assert!(lost.iter().any(|l| !*l), "some were not");
    }

    // reference section 3 ("a lost packet is retransmitted, which shows up as delay") and
    // spec/scenario.md (`heal` ends a `loss`): each attempt draws the loss of its moment, so
    // after a heal the next attempt gets through; a lost packet takes no place in the order.
    #[test]
    fn an_attempt_after_the_heal_gets_through() {
        let mut net = Network::new(&spec(1_000_000_000), 2);
        let mut rng = Stream::new(5, "network");
        net.direction_mut(0, 1).loss = 1.0;
        let lost = net.send(0, 0, 1, C1, 96, &mut rng).unwrap();
        assert!(lost.lost, "total loss");
        net.heal(0, None);
        let again = net.send(RETRANSMIT_FIRST, 0, 1, C1, 96, &mut rng).unwrap();
        assert!(
            !again.lost,
            "the retransmission after the heal gets through"
        );
        assert!(again.arrives < RETRANSMIT_FIRST + MILLISECOND);
        let next = net.send(RETRANSMIT_FIRST, 0, 1, C1, 96, &mut rng).unwrap();
        assert!(next.arrives >= again.arrives, "in order on one connection");
    }

    // Reference section 3: messages of one connection arrive in order; another connection does
    // not wait behind it (a new connection after a slow link healed).
    #[test]
    fn arrivals_keep_order_per_connection_only() {
        let mut net = Network::new(&spec(1_000_000_000), 2);
        let mut rng = Stream::new(5, "network");
        net.direction_mut(0, 1).extra_latency = SECOND;
        let slow = net.send(0, 0, 1, C1, 96, &mut rng).unwrap();
        net.heal(0, None);
        let after = net.send(MILLISECOND, 0, 1, C1, 96, &mut rng).unwrap();
        assert!(
            after.arrives >= slow.arrives,
            "no overtaking on one connection"
        );
        let other = net.send(MILLISECOND, 0, 1, C2, 96, &mut rng).unwrap();
        assert!(
            other.arrives < slow.arrives,
            "another connection is independent"
        );
    }
}
