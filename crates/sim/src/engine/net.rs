//! The simulated network (issue 5): per directed link a one-way latency, exponential jitter,
//! bandwidth as a FIFO (a message takes size / bandwidth to go out, so a thin link builds a send
//! queue), loss with TCP-like retransmission, partitions (both ways or one way) and slow links.
//! Messages of one direction arrive in the order they were sent, as over TCP.

use mirror_protocol::{Nanos, MILLISECOND, SECOND};

use super::rng::Stream;
use crate::scenario::{LinkParameters, Network as NetworkSpec};

/// Bytes a control message occupies on the wire (headers and a small body).
pub const CONTROL_MESSAGE_BYTES: u64 = 96;

/// The first retransmission delay of a lost packet; it doubles for each further loss.
pub const RETRANSMIT_FIRST: Nanos = 200 * MILLISECOND;

/// One direction of one link.
#[derive(Clone, Debug)]
pub struct Direction {
    /// Latency, jitter and bandwidth.
    pub params: LinkParameters,
    /// The link drops everything (a partition).
    pub partitioned: bool,
    /// Fraction of packets lost (each retransmitted after 200 ms, doubling).
    pub loss: f64,
    /// Extra one-way latency (a slow link, a gray failure).
    pub extra_latency: Nanos,
    /// When the sender's interface is free again (the bandwidth FIFO).
    pub busy_until: Nanos,
    /// When the last message sent this way arrives (arrivals stay in order).
    pub last_arrival: Nanos,
}

/// When a message goes out and arrives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Transit {
    /// When its last byte left the sender.
    pub departs: Nanos,
    /// When it arrives.
    pub arrives: Nanos,
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
                    loss: 0.0,
                    extra_latency: 0,
                    busy_until: 0,
                    last_arrival: 0,
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

    /// Sends `bytes` from `from` to `to` at `now`: `None` if the link drops it (partition).
    pub fn send(
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
        let mut arrives =
            departs + d.params.one_way_ns + d.extra_latency + rng.exponential(d.params.jitter_ns);
        let mut retransmit = RETRANSMIT_FIRST;
        // Each loss costs a retransmission timeout, doubling; after six TCP gives up on the
        // segment's connection in practice, so a 100% loss still ends.
        for _ in 0..6 {
            if !rng.chance(d.loss) {
                break;
            }
            arrives += retransmit;
            retransmit *= 2;
        }
        let arrives = arrives.max(d.last_arrival);
        d.last_arrival = arrives;
        Some(Transit { departs, arrives })
    }

    /// How long `bytes` take to go out on the link from `from` to `to` (its bandwidth).
    pub fn transmit_time(&self, from: usize, to: usize, bytes: u64) -> Nanos {
        bytes.saturating_mul(8).saturating_mul(SECOND)
            / self
                .direction(from, to)
                .params
                .bandwidth_bits_per_second
                .max(1)
    }

    /// Bytes queued but not yet out on the link from `from` to `to`, at `now`, in nanoseconds of
    /// transmission (0 when idle).
    pub fn backlog(&self, now: Nanos, from: usize, to: usize) -> Nanos {
        self.direction(from, to).busy_until.saturating_sub(now)
    }

    /// Forgets the ordering of messages on every link from or to `node` (its connections are
    /// gone: it stopped, or it restarts; later messages travel on new connections).
    pub fn forget_connections(&mut self, node: usize) {
        for other in 0..self.n {
            self.direction_mut(node, other).last_arrival = 0;
            self.direction_mut(other, node).last_arrival = 0;
        }
    }

    /// Ends every link fault (partition, loss, slow link) between `a` and `b`, or everywhere.
    pub fn heal(&mut self, between: Option<(usize, usize)>) {
        for from in 0..self.n {
            for to in 0..self.n {
                let hit = between.is_none_or(|(a, b)| (from, to) == (a, b) || (from, to) == (b, a));
                if hit {
                    let d = self.direction_mut(from, to);
                    d.partitioned = false;
                    d.loss = 0.0;
                    d.extra_latency = 0;
                    // Connections re-established after a heal are new: nothing waits behind a
                    // packet of the old ones still being retransmitted.
                    d.last_arrival = 0;
                }
            }
        }
    }
}

/// How long `bytes` take to go out on a link of these parameters (its bandwidth).
fn transmit_time(params: &LinkParameters, bytes: u64) -> Nanos {
    bytes.saturating_mul(8).saturating_mul(SECOND) / params.bandwidth_bits_per_second.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Network as Spec;

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
        let a = net.send(0, 0, 1, 1_000_000, &mut rng).unwrap();
        let b = net.send(0, 0, 1, 96, &mut rng).unwrap();
        assert_eq!(a.departs, SECOND, "1 MB takes a second to go out");
        assert!(b.arrives > a.arrives, "FIFO");
        assert!(net.backlog(0, 0, 1) > 0);
    }

    #[test]
    fn partition_drops_and_heal_restores() {
        let mut net = Network::new(&spec(1_000_000_000), 2);
        let mut rng = Stream::new(0, "network");
        net.direction_mut(0, 1).partitioned = true;
        assert!(net.send(0, 0, 1, 96, &mut rng).is_none());
        assert!(net.send(0, 1, 0, 96, &mut rng).is_some(), "one way only");
        net.heal(None);
        assert!(net.send(0, 0, 1, 96, &mut rng).is_some());
    }

    #[test]
    fn loss_delays_but_delivers() {
        let mut net = Network::new(&spec(1_000_000_000), 2);
        let mut rng = Stream::new(3, "network");
        net.direction_mut(0, 1).loss = 0.5;
        let delays: Vec<_> = (0..100)
            .map(|i| net.send(i * SECOND, 0, 1, 96, &mut rng).unwrap().arrives - i * SECOND)
            .collect();
        assert!(
            delays.iter().any(|d| *d >= RETRANSMIT_FIRST),
            "some packets were retransmitted"
        );
        assert!(delays.iter().any(|d| *d < MILLISECOND), "some were not");
    }
}
