//! The database's log on one instance: real bytes through `mirror-log` (a [`LogWriter`] while the
//! copy is written, a [`MirrorLog`] while it is a mirror), plus what the simulator keeps to stay
//! within bounded memory and to judge the run:
//!
//! - a transaction index (LSN, transaction, size) of the log not yet truncated, so that log whose
//!   bytes were dropped (the backlog of an absent mirror) can be re-created byte for byte when it
//!   is sent (spec/scenario.md: "memory is bounded by the log actually in flight");
//! - the log's **generations**: every time an instance starts writing (the database at t = 0, a
//!   take-over, a restart as principal) a new generation number begins at its end of log. Two
//!   copies hold the same content at an LSN exactly when the same generation covers it there,
//!   which is how the checkers judge `acknowledged_durable` and `log_prefix` by content, not by
//!   an instance's opinion.

use std::collections::VecDeque;

use bytes::Bytes;
use mirror_log::{
    Block, Fork, LogConfig, LogError, LogWriter, Lsn, LsnRange, MirrorLog, PayloadFiller, Record,
    TxId, MODIFY_HEADER_BYTES, MODIFY_PAYLOAD_BYTES_MAX,
};

use super::rng::TxSizes;

/// Bytes of log the writer or the mirror may hold before the simulator drops what it can
/// re-create (keeps memory flat however long the run).
pub const RETAINED_BYTES_SOFT_MAX: u64 = 64 * 1024;

/// The memory a copy's log may buffer (sealed blocks not yet flushed, or received and not yet
/// hardened): the cap that keeps a run's memory bounded.
pub const LOG_BUFFER_BYTES: u64 = 256 * 1024 * 1024;

/// The memory a writer's buffer pool may hold: its own [`LOG_BUFFER_BYTES`], plus the blocks a
/// mirror (and the network) still reference after the writer has let them go. Blocks travel
/// to the mirror without being copied, so a mirror with a slow disk, holding up to its own
/// buffer of received log, kept the principal's chunks alive: the principal's commits failed
/// with 9002 while its log file was nearly empty. The writer's own budget is still
/// [`LOG_BUFFER_BYTES`] (see [`DbLog::has_room_for_tx`]).
const WRITER_POOL_BYTES: u64 = 2 * LOG_BUFFER_BYTES + 128 * 1024 * 1024;

/// The most log one transaction may generate (`workload.log_bytes`): half the log buffer, so
/// that one always fits once the flushes have freed the rest.
pub const TRANSACTION_LOG_BYTES_MAX: u64 = LOG_BUFFER_BYTES / 2;

/// Log kept in the transaction index below the truncation point (or a mirror's redo point):
/// an old principal that rejoins with a log a little shorter than the failover LSN is caught up
/// from here.
pub const INDEX_MARGIN_BYTES: u64 = 64 * 1024 * 1024;

/// Most transactions in one run of the index: bounds the walk from a run's start to any entry.
const RUN_TX_MAX: u32 = 1024;

/// Transactions `tx..tx + count`, written one after the other from `lsn` to `end`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Run {
    lsn: u64,
    end: u64,
    tx: u64,
    count: u32,
}

/// The transaction index: which transactions the log holds, in LSN order. A transaction's size
/// is a function of its id ([`TxSizes`]) and its records take [`tx_log_len`] bytes, so
/// consecutive transactions written back to back are one [`Run`]: the index costs a few bytes
/// per thousand transactions, and a mirror away for hours does not grow it (spec/scenario.md,
/// "Log space": memory is bounded by the log actually in flight).
pub struct TxIndex {
    runs: VecDeque<Run>,
    sizes: TxSizes,
}

impl TxIndex {
    /// An empty index for transactions sized by `sizes`.
    pub fn new(sizes: TxSizes) -> Self {
        Self {
            runs: VecDeque::new(),
            sizes,
        }
    }

    fn entry(&self, lsn: u64, tx: u64) -> TxEntry {
        TxEntry {
            lsn,
            tx,
            size: self.sizes.of(tx),
        }
    }

    /// The entries of run `r`, in order.
    fn run_entries(&self, r: Run) -> impl Iterator<Item = TxEntry> + '_ {
        let mut lsn = r.lsn;
        (r.tx..r.tx + u64::from(r.count)).map(move |tx| {
            let e = self.entry(lsn, tx);
            lsn += tx_log_len(e.size);
            e
        })
    }

    /// Appends a transaction written at the end of the log.
    pub fn push(&mut self, e: TxEntry) {
        assert_eq!(
            e.size,
            self.sizes.of(e.tx),
            "transaction {} has the size its id gives",
            e.tx
        );
        let len = tx_log_len(e.size);
        if let Some(r) = self.runs.back_mut() {
            assert!(
                r.end <= e.lsn,
                "index entries are in LSN order: {} after a run ending at {}",
                e.lsn,
                r.end
            );
            if r.end == e.lsn && r.tx + u64::from(r.count) == e.tx && r.count < RUN_TX_MAX {
                r.count += 1;
                r.end += len;
                return;
            }
        }
        self.runs.push_back(Run {
            lsn: e.lsn,
            end: e.lsn + len,
            tx: e.tx,
            count: 1,
        });
    }

    /// Forgets the transactions that are not wholly below `lsn` (the log was cut there).
    pub fn cut(&mut self, lsn: u64) {
        while self.runs.back().is_some_and(|r| r.lsn >= lsn) {
            self.runs.pop_back();
        }
        let Some(&r) = self.runs.back() else { return };
        if r.end <= lsn {
            return;
        }
        let (mut count, mut end) = (0, r.lsn);
        for e in self.run_entries(r) {
            let e_end = e.lsn + tx_log_len(e.size);
            if e_end > lsn {
                break;
            }
            count += 1;
            end = e_end;
        }
        if count == 0 {
            self.runs.pop_back();
        } else if let Some(back) = self.runs.back_mut() {
            back.count = count;
            back.end = end;
        }
    }

    /// Drops the runs that end at or below `lsn` (the run covering `lsn` stays, so re-creation
    /// can start anywhere at or above it).
    pub fn prune_below(&mut self, lsn: u64) {
        while self.runs.front().is_some_and(|r| r.end <= lsn) {
            self.runs.pop_front();
        }
    }

    /// The position of the first run that ends past `lsn`.
    fn run_past(&self, lsn: u64) -> usize {
        // Shipping walks the newest run: answer that without a search.
        let last = self.runs.len().saturating_sub(1);
        if self
            .runs
            .back()
            .is_some_and(|r| r.lsn <= lsn && lsn < r.end)
        {
            return last;
        }
        self.runs.partition_point(|r| r.end <= lsn)
    }

    /// The transaction that starts exactly at `lsn`, if the index holds one.
    pub fn entry_at(&self, lsn: u64) -> Option<TxEntry> {
        let r = *self.runs.get(self.run_past(lsn))?;
        self.run_entries(r)
            .take_while(|e| e.lsn <= lsn)
            .find(|e| e.lsn == lsn)
    }

    /// The transaction whose log holds `lsn`: it starts at or before it and ends past it (a
    /// block can end inside a transaction larger than a block).
    pub fn entry_holding(&self, lsn: u64) -> Option<TxEntry> {
        let r = *self.runs.get(self.run_past(lsn))?;
        self.run_entries(r)
            .take_while(|e| e.lsn <= lsn)
            .find(|e| lsn < e.lsn + tx_log_len(e.size))
    }

    /// The first transaction that starts at or after `lsn`.
    pub fn first_from(&self, lsn: u64) -> Option<TxEntry> {
        let i = self.run_past(lsn);
        let r = *self.runs.get(i)?;
        self.run_entries(r)
            .find(|e| e.lsn >= lsn)
            .or_else(|| self.runs.get(i + 1).map(|n| self.entry(n.lsn, n.tx)))
    }

    /// The transaction after `e` in the log (the first one held past it, if `e` is gone).
    pub fn next_after(&self, e: TxEntry) -> Option<TxEntry> {
        let i = self.run_past(e.lsn);
        let r = *self.runs.get(i)?;
        if r.lsn > e.lsn {
            return Some(self.entry(r.lsn, r.tx));
        }
        let end = e.lsn + tx_log_len(e.size);
        if end < r.end {
            return Some(self.entry(end, e.tx + 1));
        }
        self.runs.get(i + 1).map(|n| self.entry(n.lsn, n.tx))
    }

    /// The number of transactions held.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.runs.iter().map(|r| u64::from(r.count)).sum()
    }

    /// Checks the runs: each holds 1 to [`RUN_TX_MAX`] transactions and ends after it starts,
    /// and they follow one another in LSN order. Runs change only at the ends (`push` and `cut`
    /// at the back, `prune_below` at the front), so beyond [`INVARIANT_WALK_RUNS_MAX`] runs only
    /// the ends are walked: a long outage must not make every release walk its whole index.
    pub fn invariants(&self) {
        let n = self.runs.len();
        if n <= INVARIANT_WALK_RUNS_MAX {
            Self::check_runs(self.runs.iter());
        } else {
            let half = INVARIANT_WALK_RUNS_MAX / 2;
            Self::check_runs(self.runs.range(..half));
            Self::check_runs(self.runs.range(n - half..));
        }
    }

    fn check_runs<'a>(runs: impl Iterator<Item = &'a Run>) {
        let mut previous_end = 0;
        for r in runs {
            assert!(
                (1..=RUN_TX_MAX).contains(&r.count) && r.end > r.lsn && r.lsn >= previous_end,
                "a transaction index run out of shape: {r:?} after {previous_end}"
            );
            previous_end = r.end;
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.runs.clear();
    }
}

/// How many runs [`TxIndex::invariants`] walks in full; past it, the ends only.
const INVARIANT_WALK_RUNS_MAX: usize = 16;

/// The bytes of log [`write_tx`] appends for a transaction of `size` payload bytes: a begin
/// record, the payload in modify records of at most half the largest payload, a commit record.
pub fn tx_log_len(size: u32) -> u64 {
    let part = MODIFY_PAYLOAD_BYTES_MAX as u64 / 2;
    let size = u64::from(size);
    let short = Record::Begin { tx: TxId::new(0) }.encoded_len() as u64;
    2 * short + size + size.div_ceil(part) * MODIFY_HEADER_BYTES as u64
}

/// The payload of a transaction whose log should take `log_len` bytes: the most whose
/// [`tx_log_len`] is at most `log_len`, so `workload.log_bytes` is the log generated per
/// transaction (spec/scenario.md), records included. It falls short by at most one modify
/// record's header where another record would be needed; below the 18 bytes of the begin and
/// commit records, or 32 with one byte of payload, the transaction writes those records alone.
pub fn payload_within(log_len: u32) -> u32 {
    let short = Record::Begin { tx: TxId::new(0) }.encoded_len() as u32;
    let header = MODIFY_HEADER_BYTES as u32;
    let part = MODIFY_PAYLOAD_BYTES_MAX as u32 / 2;
    let available = log_len.saturating_sub(2 * short);
    let records = available.div_ceil(part + header);
    available.saturating_sub(records * header)
}

/// One committed transaction in the log.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TxEntry {
    /// Where its first record starts.
    pub lsn: u64,
    /// The transaction.
    pub tx: u64,
    /// Its payload bytes.
    pub size: u32,
}

/// The transactions that start in one block, in order: almost always one or two (a commit seals
/// its block), so they are kept inline and only more of them allocate.
#[derive(Clone, Debug, Default)]
pub struct BlockTxs {
    inline: [Option<TxEntry>; 2],
    more: Vec<TxEntry>,
}

impl BlockTxs {
    /// Appends a transaction.
    pub fn push(&mut self, e: TxEntry) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) if self.more.is_empty() => *slot = Some(e),
            _ => self.more.push(e),
        }
    }

    /// The transactions, in order.
    pub fn iter(&self) -> impl Iterator<Item = &TxEntry> + '_ {
        self.inline.iter().flatten().chain(&self.more)
    }
}

/// A block on its way to a mirror, with what the receiver needs to index it.
#[derive(Clone, Debug)]
pub struct ShippedBlock {
    /// The block's bytes (shared, never copied).
    pub bytes: Bytes,
    /// Its LSN range.
    pub range: (u64, u64),
    /// The transactions that start in it.
    pub entries: BlockTxs,
    /// The generation that wrote it.
    pub generation: u64,
    /// Re-created from log no longer in memory: on a real server, read back from the log file.
    pub from_disk: bool,
}

/// Appends one transaction's records: begin, its payload in modify records, commit. The same
/// calls on the same log give the same bytes, which is what re-creation relies on.
pub fn write_tx(
    writer: &mut LogWriter,
    filler: &PayloadFiller,
    tx: u64,
    size: u32,
) -> Result<LsnRange, LogError> {
    let id = TxId::new(tx);
    let begin = writer.append(Record::Begin { tx: id })?;
    let mut left = size as usize;
    while left > 0 {
        let part = left.min(MODIFY_PAYLOAD_BYTES_MAX / 2);
        writer.append(Record::Modify {
            tx: id,
            payload: filler.payload(id, part),
        })?;
        left -= part;
    }
    let commit = writer.append(Record::Commit { tx: id })?;
    Ok(LsnRange::new(begin.start, commit.end))
}

/// What this copy's log is.
pub enum Body {
    /// No copy of the database here.
    None,
    /// ONLINE: written by this instance.
    Writer(LogWriter),
    /// RESTORING: a mirror (or a copy waiting to become one).
    Mirror(MirrorLog),
}

/// Re-creating dropped log for a mirror, block by block.
struct Recreate {
    writer: LogWriter,
    /// The next transaction to write (`None`: look it up at the writer's end).
    next: Option<TxEntry>,
}

/// The database's log on one instance.
pub struct DbLog {
    config: LogConfig,
    filler: PayloadFiller,
    /// The log itself.
    pub body: Body,
    /// Transactions of the log not yet truncated, in LSN order.
    index: TxIndex,
    /// (first LSN, generation), in LSN order: which generation wrote each stretch of the log.
    segments: Vec<(u64, u64)>,
    /// Where the next block to ship starts, and the re-creation under way if it is dropped log.
    ship_next: u64,
    /// The last transaction shipped, so that the next block's transactions are found without a
    /// search (`None` after anything that moves or cuts the log).
    ship_last: Option<TxEntry>,
    recreate: Option<Recreate>,
    /// The end of the log this copy's mirror may receive (the protocol's latest `Log { to }`).
    pub ship_limit: u64,
    /// Redo accounted at the redo rate (the redo queue figure); the bytes may be parsed ahead.
    pub lsn_redone: u64,
    /// A shipping start this log cannot cut a block at (inside a record): the mirror rolled
    /// back to a failover LSN that is not a record boundary of this log. Nothing is shipped
    /// from there; asked again only when shipping restarts.
    pub cannot_ship_from: Option<u64>,
}

impl DbLog {
    /// A copy restored from backups, RESTORING at `lsn` in `fork`: the backups carry the
    /// content of `segments` (the log of the instance they were taken from) up to it, so the
    /// commits acknowledged before it are in this copy.
    pub fn restored(
        seed: u64,
        sizes: TxSizes,
        lsn: u64,
        fork: u32,
        segments: &[(u64, u64)],
    ) -> Self {
        let mut log = Self::none(seed, sizes);
        log.start_mirroring(Some(lsn), fork);
        log.restored_from(segments, lsn);
        log
    }

    /// No copy here. Transactions are sized by `sizes`.
    pub fn none(seed: u64, sizes: TxSizes) -> Self {
        Self {
            config: log_config(),
            filler: PayloadFiller::new(seed),
            body: Body::None,
            index: TxIndex::new(sizes),
            segments: Vec::new(),
            ship_next: 0,
            ship_last: None,
            recreate: None,
            ship_limit: 0,
            lsn_redone: 0,
            cannot_ship_from: None,
        }
    }

    /// The end of this copy's log: written (writer) or received (mirror).
    pub fn lsn_end(&self) -> u64 {
        match &self.body {
            Body::None => 0,
            Body::Writer(w) => w.lsn_end().get(),
            Body::Mirror(m) => m.lsn_received().get(),
        }
    }

    /// The hardened end.
    pub fn lsn_hardened(&self) -> u64 {
        match &self.body {
            Body::None => 0,
            Body::Writer(w) => w.lsn_hardened().get(),
            Body::Mirror(m) => m.lsn_hardened().get(),
        }
    }

    /// The recovery fork.
    pub fn fork(&self) -> u32 {
        match &self.body {
            Body::None => 0,
            Body::Writer(w) => w.fork().get(),
            Body::Mirror(m) => m.fork().get(),
        }
    }

    /// The redo queue in bytes (hardened, not yet redone at the redo rate).
    pub fn redo_queue_bytes(&self) -> u64 {
        match &self.body {
            Body::Mirror(m) => m.lsn_hardened().get().saturating_sub(self.lsn_redone),
            _ => 0,
        }
    }

    /// The generations of this log: (first LSN, generation).
    pub fn segments(&self) -> &[(u64, u64)] {
        &self.segments
    }

    /// The generation that wrote `lsn` here (`lsn` is the end of a record), if the log reaches
    /// it.
    pub fn generation_at(&self, lsn: u64) -> Option<u64> {
        generation_at(&self.segments, lsn)
    }

    /// This copy becomes ONLINE and writable at its hardened end, in `fork`, as generation
    /// `generation` (the database at t = 0, a take-over, a restart as principal).
    pub fn start_writing(&mut self, fork: u32, generation: u64) {
        let fork = Fork::new(fork);
        let lsn = self.lsn_hardened();
        let writer = match std::mem::replace(&mut self.body, Body::None) {
            Body::Mirror(m) => m.into_writer(self.config, fork),
            _ => LogWriter::new(writer_config(self.config), Lsn::new(lsn), fork),
        }
        .expect("a writer at a hardened LSN with the default configuration");
        self.body = Body::Writer(writer);
        self.cut_writers_bookkeeping(lsn);
        self.segments.push((lsn, generation));
        self.ship_next = lsn;
        self.recreate = None;
    }

    /// A fresh ONLINE database at `lsn` (t = 0): nothing before it is needed by anyone.
    pub fn create(&mut self, lsn: u64, fork: u32, generation: u64) {
        let writer = LogWriter::new(writer_config(self.config), Lsn::new(lsn), Fork::new(fork))
            .expect("valid configuration");
        self.body = Body::Writer(writer);
        self.index.clear();
        self.segments = vec![(lsn, generation)];
        self.ship_next = lsn;
        self.ship_last = None;
    }

    /// A restored copy holds the principal's content up to `restored` (the backups it was
    /// restored from): which generation wrote each stretch of it, for the loss accounting.
    /// Call it on a fresh mirror copy, before any log arrives.
    pub fn restored_from(&mut self, principal_segments: &[(u64, u64)], restored: u64) {
        assert!(
            self.segments.is_empty(),
            "a restored copy is described before its log arrives"
        );
        self.segments = principal_segments
            .iter()
            .copied()
            .filter(|&(from, _)| from < restored)
            .collect();
    }

    /// This copy becomes a mirror (RESTORING) at its hardened end (the writer's unhardened log is
    /// lost, as in a crash), or a fresh restored copy at `lsn` when it had none.
    pub fn start_mirroring(&mut self, restored_lsn: Option<u64>, fork: u32) {
        let mirror = match std::mem::replace(&mut self.body, Body::None) {
            Body::Writer(w) => w.into_mirror_log(self.config),
            Body::Mirror(m) => Ok(m),
            Body::None => MirrorLog::new(
                self.config,
                Lsn::new(restored_lsn.unwrap_or(0)),
                Fork::new(fork),
            ),
        }
        .expect("a mirror log with the default configuration");
        let end = mirror.lsn_received().get();
        self.lsn_redone = self.lsn_redone.min(end).max(mirror.lsn_redone().get());
        if self.segments.is_empty() {
            self.lsn_redone = end;
        }
        self.body = Body::Mirror(mirror);
        self.cut_bookkeeping(end);
        self.recreate = None;
        self.ship_limit = 0;
    }

    /// A crash: the copy keeps its hardened log only.
    pub fn crash(&mut self) {
        match std::mem::replace(&mut self.body, Body::None) {
            Body::Writer(w) => {
                let hardened = w.lsn_hardened().get();
                let fork = w.fork();
                self.body = Body::Writer(
                    LogWriter::new(writer_config(self.config), Lsn::new(hardened), fork)
                        .expect("valid configuration"),
                );
                self.cut_writers_bookkeeping(hardened);
                self.ship_next = hardened;
            }
            Body::Mirror(m) => {
                let hardened = m.lsn_hardened().get();
                let mut m = m;
                m.roll_back_to(Lsn::new(hardened), m.fork())
                    .expect("rolling back to the hardened LSN");
                self.body = Body::Mirror(m);
                self.cut_bookkeeping(hardened);
            }
            Body::None => {}
        }
        self.recreate = None;
        self.ship_limit = 0;
    }

    /// Throws away the log past `lsn` (a mirror rejoining; reference section 4) and from then on
    /// accepts `fork`.
    pub fn discard_past(&mut self, lsn: u64, fork: u32) {
        match &mut self.body {
            Body::Mirror(m) => {
                let lsn = lsn.min(m.lsn_received().get());
                m.roll_back_to(Lsn::new(lsn), Fork::new(fork))
                    .expect("a discard at a record boundary");
                self.lsn_redone = self.lsn_redone.min(lsn);
                self.cut_bookkeeping(lsn);
            }
            Body::Writer(w) => {
                // A writer only loses unhardened log (the protocol discards past its hardened end).
                debug_assert!(
                    lsn >= w.lsn_hardened().get(),
                    "a writer never loses hardened log"
                );
            }
            Body::None => {}
        }
    }

    /// Aligns a mirror's fork with its principal's after the handshake.
    pub fn adopt_fork(&mut self, fork: u32) {
        if let Body::Mirror(m) = &mut self.body {
            if m.fork().get() != fork {
                let end = m.lsn_received();
                m.roll_back_to(end, Fork::new(fork))
                    .expect("rolling back to the end is always possible");
            }
        }
    }

    fn cut_bookkeeping(&mut self, lsn: u64) {
        self.index.cut(lsn);
        self.ship_last = None;
        self.segments.retain(|&(from, _)| from < lsn);
    }

    /// As [`DbLog::cut_bookkeeping`], for a copy that stays writable (a crash, a restart): a
    /// generation that began exactly at `lsn` and has written nothing yet stays listed. The
    /// copy's history still holds it: a copy recovered after SET PARTNER OFF that restarted or
    /// lost power before writing anything was no longer recognised as its own line, and the
    /// commits the other copy acknowledged past the recovery point were judged a broken
    /// `acknowledged_durable`. A generation that begins at the same LSN later (a restart)
    /// follows it, so `generation_at` reads the same as before.
    fn cut_writers_bookkeeping(&mut self, lsn: u64) {
        let begun_here: Vec<(u64, u64)> = self
            .segments
            .iter()
            .copied()
            .filter(|&(from, _)| from == lsn)
            .collect();
        self.cut_bookkeeping(lsn);
        self.segments.extend(begun_here);
    }

    /// Writes one transaction and seals its block (group commit: the commit needs it hardened).
    /// Returns the commit's end LSN.
    pub fn append_tx(&mut self, tx: u64, size: u32) -> Result<u64, LogError> {
        let Body::Writer(w) = &mut self.body else {
            return Err(LogError::InvalidConfig {
                reason: "this copy of the database is not writable",
            });
        };
        let start = w.lsn_end().get();
        let range = write_tx(w, &self.filler, tx, size)?;
        w.seal();
        debug_assert_eq!(range.end.get() - start, tx_log_len(size));
        self.index.push(TxEntry {
            lsn: start,
            tx,
            size,
        });
        Ok(range.end.get())
    }

    /// Whether a mirror copy's receive buffer can take `bytes` more log (TCP's receive window:
    /// what it received and has not hardened, plus what is on its way). Any other copy takes
    /// whatever comes.
    pub fn can_receive(&self, bytes: u64) -> bool {
        match &self.body {
            Body::Mirror(m) => m.bytes_buffered() + bytes <= LOG_BUFFER_BYTES,
            _ => true,
        }
    }

    /// Whether the writer's buffer has room now for a transaction of `size` bytes of log. A
    /// commit that finds none waits for the flushes to free some: the check comes first so that
    /// a transaction is not left half written. Conservative: blocks are padded, and a chunk is
    /// parked once it cannot take a largest block (a quarter of it may go unused), so the
    /// buffer holds a third more than the log it retains.
    pub fn has_room_for_tx(&self, size: u32) -> bool {
        let Body::Writer(w) = &self.body else {
            return true;
        };
        let needed = tx_log_len(size);
        let held = (w.bytes_retained() + needed + needed / 16) * 4 / 3;
        held + 4 * log_config().chunk_bytes as u64 <= LOG_BUFFER_BYTES
    }

    /// The end of log ready to be flushed (sealed, or received).
    pub fn lsn_flushable(&self) -> u64 {
        match &self.body {
            Body::Writer(w) => w.lsn_sealed().get(),
            Body::Mirror(m) => m.lsn_received().get(),
            Body::None => 0,
        }
    }

    /// Hands the sealed blocks up to `lsn` to the disk; returns the end actually covered.
    pub fn begin_flush(&mut self, lsn: u64) -> u64 {
        match &mut self.body {
            Body::Writer(w) => {
                while w.lsn_flush_requested().get() < lsn {
                    if w.next_to_flush().is_none() {
                        break;
                    }
                }
                w.lsn_flush_requested().get()
            }
            Body::Mirror(m) => lsn.min(m.lsn_received().get()),
            Body::None => 0,
        }
    }

    /// The disk flushed the log up to `lsn`.
    pub fn harden_to(&mut self, lsn: u64) {
        match &mut self.body {
            Body::Writer(w) => w
                .harden_to(Lsn::new(lsn))
                .expect("a flush ends on a block boundary it was handed"),
            Body::Mirror(m) => {
                let lsn = lsn.min(m.lsn_received().get());
                m.harden_to(Lsn::new(lsn))
                    .expect("a mirror hardens what it received");
            }
            Body::None => {}
        }
    }

    /// A mirror receives a block the protocol accepted. The log engine verifies it; a refusal
    /// here would mean the protocol and the log disagree, which is a bug.
    pub fn receive(&mut self, block: &ShippedBlock) -> Result<(), LogError> {
        let Body::Mirror(m) = &mut self.body else {
            return Err(LogError::InvalidConfig {
                reason: "this copy is not a mirror",
            });
        };
        m.receive(block.bytes.clone())?;
        if self
            .segments
            .last()
            .is_none_or(|&(_, g)| g != block.generation)
        {
            self.segments.push((block.range.0, block.generation));
        }
        for entry in block.entries.iter() {
            self.index.push(*entry);
        }
        Ok(())
    }

    /// Starts shipping at `from` up to `to` (the protocol's first `Log` message on a connection).
    pub fn ship(&mut self, from: u64, to: u64) {
        self.cannot_ship_from = None;
        self.ship_next = from;
        self.ship_last = None;
        self.recreate = None;
        self.ship_limit = to;
    }

    /// More log may be shipped, up to `to` (the protocol's next `Log` message).
    pub fn extend_shipping(&mut self, to: u64) {
        self.ship_limit = self.ship_limit.max(to);
    }

    /// The next block for the mirror, if any is due: from the writer's retained log, or
    /// re-created from the index when its bytes were dropped.
    pub fn next_block(&mut self) -> Option<ShippedBlock> {
        if self.ship_next >= self.ship_limit || self.cannot_ship_from == Some(self.ship_next) {
            return None;
        }
        let Body::Writer(w) = &mut self.body else {
            return None;
        };
        let from_disk = self.ship_next < w.lsn_retained_from().get();
        let resent = if from_disk || w.lsn_sent().get() == self.ship_next {
            Ok(())
        } else {
            w.resend_from(Lsn::new(self.ship_next))
        };
        let block = match resent {
            Ok(()) if !from_disk => w.next_to_send()?,
            Ok(()) => self.recreate_block()?,
            // A mirror may have rolled back into the middle of a block: an old principal that
            // learnt late of a role change whose failover LSN was fixed on log the new
            // principal has since replaced (its grant lost with a crash, the session went on
            // at the old role sequence). Its rest is re-created from the index and cut there.
            Err(LogError::NotABlockBoundary { .. }) => self.recreate_block()?,
            Err(_) => return None,
        };
        let range = (block.lsn_first().get(), block.lsn_end().get());
        self.ship_next = range.1;
        let entries = self.entries_in(range);
        // A block never spans two generations: a generation starts a new writer.
        let generation = generation_at(&self.segments, range.0 + 1).unwrap_or(0);
        Some(ShippedBlock {
            bytes: block.into_bytes(),
            range,
            entries,
            generation,
            from_disk,
        })
    }

    /// Re-creates the block of dropped log that starts at `ship_next`, a transaction at a time:
    /// every transaction starts a block (its commit sealed the one before), so writing it again
    /// from its start gives the same blocks. A block can end inside a transaction larger than a
    /// block; its next block then comes from the same transaction.
    fn recreate_block(&mut self) -> Option<Block> {
        let Body::Writer(w) = &self.body else {
            return None;
        };
        let fork = w.fork();
        let ship_next = self.ship_next;
        let goes_on = self
            .recreate
            .as_ref()
            .is_some_and(|r| r.writer.lsn_sent().get() == ship_next);
        if !goes_on {
            // `None`: the log there is gone, the mirror cannot be caught up from here.
            let first = self.index.entry_holding(ship_next)?;
            let writer =
                LogWriter::new(writer_config(self.config), Lsn::new(first.lsn), fork).ok()?;
            self.recreate = Some(Recreate {
                writer,
                next: Some(first),
            });
        }
        let r = self.recreate.as_mut().expect("set above");
        loop {
            // What was sent is released: at most one transaction's blocks are held.
            let sent = r.writer.lsn_sent();
            let _ = r.writer.truncate_below(sent);
            if let Some(block) = r.writer.next_to_send() {
                if block.lsn_end().get() <= ship_next {
                    continue; // the start of a transaction the mirror has
                }
                if block.lsn_first().get() < ship_next {
                    // The mirror rolled back into this block (see `next_block`): the rest of it,
                    // or nothing if the cut is not between two of its records.
                    let suffix = block.suffix_from(Lsn::new(ship_next));
                    if suffix.is_none() {
                        self.cannot_ship_from = Some(ship_next);
                    }
                    return suffix;
                }
                return Some(block);
            }
            let entry = match r.next {
                Some(e) => e,
                None => self.index.entry_at(r.writer.lsn_end().get())?,
            };
            write_tx(&mut r.writer, &self.filler, entry.tx, entry.size).ok()?;
            r.writer.seal();
            r.next = self.index.next_after(entry);
            while r.writer.next_to_flush().is_some() {}
            let hardened = r.writer.lsn_flush_requested();
            r.writer.harden_to(hardened).ok()?;
        }
    }

    /// The transactions that start in `from..to`, walking on from the last one shipped.
    fn entries_in(&mut self, (from, to): (u64, u64)) -> BlockTxs {
        let mut next = match self.ship_last {
            Some(last) if last.lsn < from => self.index.next_after(last),
            _ => self.index.first_from(from),
        };
        while let Some(e) = next.filter(|e| e.lsn < from) {
            next = self.index.next_after(e);
        }
        let mut entries = BlockTxs::default();
        while let Some(e) = next.filter(|e| e.lsn < to) {
            entries.push(e);
            self.ship_last = Some(e);
            next = self.index.next_after(e);
        }
        entries
    }

    /// Releases what is no longer needed: the writer's blocks below `keep_from` (hardened log
    /// already sent, or backlog that can be re-created), the index below `index_from` (the log's
    /// truncation point) less a margin that covers an old principal whose log is a little
    /// shorter than the failover LSN.
    pub fn release(&mut self, keep_from: u64, index_from: u64) {
        if let Body::Writer(w) = &mut self.body {
            let mut cut = keep_from.min(w.lsn_hardened().get());
            if w.bytes_retained() > RETAINED_BYTES_SOFT_MAX {
                cut = w.lsn_hardened().get();
            }
            let _ = w.truncate_below(Lsn::new(cut));
        }
        self.prune_index(index_from.saturating_sub(INDEX_MARGIN_BYTES));
        self.index.invariants();
    }

    fn prune_index(&mut self, from: u64) {
        // `ship_last` may point below the pruned runs: `next_after` then starts at the first run.
        self.index.prune_below(from);
    }

    /// Redo at the redo rate: accounts redo up to `lsn` (never past the hardened end) and parses
    /// the records of the blocks it covers, releasing them. Returns the records redone.
    pub fn redo_to(&mut self, lsn: u64) -> u64 {
        let Body::Mirror(m) = &mut self.body else {
            return 0;
        };
        let target = lsn.min(m.lsn_hardened().get());
        self.lsn_redone = self.lsn_redone.max(target);
        let mut records = 0;
        let mut end = m.lsn_redone();
        for view in m.redo_iter() {
            if view.lsn_end().get() > target {
                break;
            }
            records += 1;
            end = view.lsn_end();
        }
        m.redo_to(end)
            .expect("redo stops at a record end within the hardened log");
        let _ = m.truncate_below(end);
        records
    }

    /// Parses ahead of the accounted redo when the mirror holds too many bytes, so memory stays
    /// bounded whatever the redo queue (the figure keeps counting at the redo rate).
    pub fn bound_memory(&mut self) {
        let Body::Mirror(m) = &self.body else { return };
        if m.bytes_buffered() <= RETAINED_BYTES_SOFT_MAX {
            return;
        }
        let accounted = self.lsn_redone;
        self.redo_to(u64::MAX);
        self.lsn_redone = accounted;
    }

    /// Where the next block to ship starts.
    pub fn ship_next(&self) -> u64 {
        self.ship_next
    }

    /// Drops index entries a mirror no longer needs (below its redo point, less the margin).
    pub fn release_mirror_index(&mut self) {
        self.prune_index(self.lsn_redone.saturating_sub(INDEX_MARGIN_BYTES));
    }
}

/// The generation covering `lsn` in a segment list.
pub fn generation_at(segments: &[(u64, u64)], lsn: u64) -> Option<u64> {
    let i = segments.partition_point(|&(from, _)| from < lsn);
    if i == 0 {
        segments
            .first()
            .filter(|&&(from, _)| from == 0 && lsn == 0)
            .map(|&(_, g)| g)
    } else {
        Some(segments[i - 1].1)
    }
}

/// Where two logs' histories part: the first LSN past which their generations differ, or None
/// when their segment lists are the same. A log whose list is a prefix of the other's goes on in
/// its last generation, so they part where the other starts its next one (the caller bounds
/// the answer by both logs' ends).
pub fn histories_part_at(a: &[(u64, u64)], b: &[(u64, u64)]) -> Option<u64> {
    if let Some((&(from_a, _), &(from_b, _))) = a.iter().zip(b).find(|(x, y)| x != y) {
        return Some(from_a.min(from_b));
    }
    let (shorter, longer) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    longer.get(shorter.len()).map(|&(from, _)| from)
}

/// The slack a mirror's buffer has past [`LOG_BUFFER_BYTES`], which the principal's shipping
/// respects (see [`DbLog::can_receive`]): a safety margin, never meant to be used.
const MIRROR_BUFFER_SLACK_BYTES: u64 = 32 * 1024 * 1024;

fn log_config() -> LogConfig {
    LogConfig {
        bytes_buffered_max: LOG_BUFFER_BYTES + MIRROR_BUFFER_SLACK_BYTES,
        ..LogConfig::default()
    }
}

/// The configuration of a writer: its pool may hold what others still reference.
fn writer_config(config: LogConfig) -> LogConfig {
    LogConfig {
        bytes_buffered_max: WRITER_POOL_BYTES,
        ..config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two logs' histories part where their generations first differ: an old principal's log
    // past a forced service's fork LSN is not the new principal's.
    #[test]
    fn histories_part_where_the_generations_differ() {
        let old = [(0, 1), (5_000, 2)];
        let new = [(0, 1), (3_000, 3)];
        assert_eq!(histories_part_at(&old, &new), Some(3_000));
        assert_eq!(histories_part_at(&old, &old[..1]), Some(5_000));
        assert_eq!(histories_part_at(&old, &old), None);
        assert_eq!(histories_part_at(&[(0, 1)], &[(0, 4)]), Some(0));
    }

    fn sizes() -> TxSizes {
        TxSizes::new(7, 300, 800)
    }

    // spec/scenario.md: `log_bytes` is the log generated per transaction. The records around
    // the payload are inside it (a 200-byte transaction wrote 231 bytes, a 1-byte one 32).
    #[test]
    fn a_transaction_generates_the_log_bytes_it_was_given() {
        let header = MODIFY_HEADER_BYTES as u64;
        let part = MODIFY_PAYLOAD_BYTES_MAX as u32 / 2;
        for log_len in (32..40_000).chain([part * 3 + 57, 1 << 20, u32::MAX]) {
            let written = tx_log_len(payload_within(log_len));
            assert!(written <= u64::from(log_len), "{log_len}: wrote {written}");
            assert!(
                written + header >= u64::from(log_len),
                "{log_len}: wrote only {written}"
            );
        }
        assert_eq!(tx_log_len(payload_within(200)), 200);
        assert_eq!(tx_log_len(payload_within(2_000)), 2_000);
        // Below the records' own size, the records alone.
        for log_len in 0..32 {
            assert_eq!(payload_within(log_len), 0, "{log_len}");
        }
    }

    fn write(p: &mut DbLog, txs: impl IntoIterator<Item = u64>) {
        for tx in txs {
            let end = p.append_tx(tx, sizes().of(tx)).unwrap();
            p.begin_flush(end);
            p.harden_to(end);
        }
    }

    #[test]
    fn shipped_blocks_rebuild_the_same_log_on_the_mirror() {
        let mut p = DbLog::none(7, sizes());
        p.create(0, 1, 1);
        let mut m = DbLog::none(7, sizes());
        m.start_mirroring(Some(0), 1);
        write(&mut p, 1..=50);
        p.ship(0, p.lsn_end());
        let mut shipped = Vec::new();
        while let Some(block) = p.next_block() {
            m.receive(&block).unwrap();
            shipped.extend(block.entries.iter().map(|e| e.tx));
        }
        assert_eq!(
            shipped,
            (1..=50).collect::<Vec<_>>(),
            "every transaction once"
        );
        assert_eq!(m.lsn_end(), p.lsn_end());
        assert_eq!(m.index.len(), 50);
        assert_eq!(m.generation_at(m.lsn_end()), Some(1));
    }

    #[test]
    fn dropped_backlog_is_recreated_byte_for_byte() {
        let mut p = DbLog::none(3, sizes());
        p.create(0, 1, 1);
        let mut m = DbLog::none(3, sizes());
        m.start_mirroring(Some(0), 1);
        // Transactions 101 to 110 failed: the index has two runs.
        write(&mut p, (1..=100).chain(111..=210));
        // The mirror is away: everything hardened is dropped from memory.
        p.release(u64::MAX, 0);
        p.ship(0, p.lsn_end());
        let mut n = 0;
        while let Some(block) = p.next_block() {
            m.receive(&block)
                .expect("re-created blocks verify on the mirror");
            n += 1;
        }
        assert_eq!(n, 200);
        assert_eq!(m.lsn_end(), p.lsn_end());
    }

    #[test]
    fn recreation_starts_at_any_transaction_boundary() {
        let mut p = DbLog::none(3, sizes());
        p.create(0, 1, 1);
        write(&mut p, 1..=3000);
        p.release(u64::MAX, 0);
        let start = p.index.entry_at(0).unwrap();
        let mut e = start;
        for _ in 0..1500 {
            e = p.index.next_after(e).unwrap();
        }
        assert_eq!(e.tx, 1501);
        let mut m = DbLog::none(3, sizes());
        m.start_mirroring(Some(e.lsn), 1);
        p.ship(e.lsn, p.lsn_end());
        while let Some(block) = p.next_block() {
            m.receive(&block).expect("verifies");
        }
        assert_eq!(m.lsn_end(), p.lsn_end());
        assert_eq!(m.index.len(), 1500);
        assert!(p.index.entry_at(e.lsn + 1).is_none(), "not a boundary");
    }

    // Reference section 6: blocks hold at most 60 KiB, so a larger transaction spans blocks;
    // dropped log is re-created from the transaction that holds the mirror's end, which may be
    // a block boundary inside one (re-creation asked for a transaction there and gave up).
    #[test]
    fn recreation_starts_inside_a_transaction_larger_than_a_block() {
        let large = TxSizes::new(5, 150_000, 150_000);
        let mut p = DbLog::none(5, large);
        p.create(0, 1, 1);
        for tx in 1..=4 {
            let end = p.append_tx(tx, large.of(tx)).unwrap();
            p.begin_flush(end);
            p.harden_to(end);
        }
        // The mirror has the first two blocks: its end is inside transaction 1.
        p.ship(0, p.lsn_end());
        let mut m = DbLog::none(5, large);
        m.start_mirroring(Some(0), 1);
        for _ in 0..2 {
            m.receive(&p.next_block().unwrap()).unwrap();
        }
        let end = m.lsn_end();
        assert!(
            p.index.entry_at(end).is_none(),
            "not a transaction boundary"
        );
        // Everything is dropped from memory, then shipped on from the mirror's end.
        p.release(u64::MAX, 0);
        p.ship(end, p.lsn_end());
        while let Some(block) = p.next_block() {
            m.receive(&block)
                .expect("re-created blocks continue the mirror's log");
        }
        assert_eq!(m.lsn_end(), p.lsn_end());
    }

    #[test]
    fn the_index_keeps_runs_and_cuts_whole_transactions() {
        let sizes = sizes();
        let mut index = TxIndex::new(sizes);
        let mut lsn = 0;
        let mut ends = Vec::new();
        for tx in (1..=3000).chain(4001..=4010) {
            let size = sizes.of(tx);
            index.push(TxEntry { lsn, tx, size });
            lsn += tx_log_len(size);
            ends.push(lsn);
        }
        assert_eq!(index.len(), 3010);
        assert_eq!(index.runs.len(), 4, "1024 + 1024 + 952, then 4001..");
        let first_of_second_run = index.first_from(1).unwrap();
        assert_eq!(first_of_second_run.tx, 2);
        assert_eq!(index.first_from(ends[2999]).map(|e| e.tx), Some(4001));
        // Cut in the middle of transaction 2000: it and everything after go.
        index.cut(ends[1998] + 5);
        assert_eq!(index.len(), 1999);
        assert_eq!(index.runs.back().map(|r| r.end), Some(ends[1998]));
        index.prune_below(ends[1500]);
        assert_eq!(index.len(), 1999 - 1024, "whole runs only");
        assert_eq!(index.entry_at(0), None);
        let gone = TxEntry {
            lsn: 0,
            tx: 1,
            size: sizes.of(1),
        };
        assert_eq!(index.next_after(gone).map(|e| e.tx), Some(1025));
        index.invariants();
        index.clear();
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn block_transactions_keep_their_order_inline_and_beyond() {
        let mut txs = BlockTxs::default();
        for tx in 1..=5 {
            txs.push(TxEntry {
                lsn: tx * 10,
                tx,
                size: 1,
            });
            assert_eq!(
                txs.iter().map(|e| e.tx).collect::<Vec<_>>(),
                (1..=tx).collect::<Vec<_>>()
            );
        }
        assert_eq!(txs.more.len(), 3, "two inline, the rest spill");
    }

    #[test]
    #[should_panic(expected = "LSN order")]
    fn the_index_refuses_entries_out_of_order() {
        let sizes = sizes();
        let mut index = TxIndex::new(sizes);
        index.push(TxEntry {
            lsn: 100,
            tx: 1,
            size: sizes.of(1),
        });
        index.push(TxEntry {
            lsn: 0,
            tx: 2,
            size: sizes.of(2),
        });
    }

    #[test]
    fn generations_tell_contents_apart() {
        let segments = vec![(0, 1), (5000, 2)];
        assert_eq!(generation_at(&segments, 100), Some(1));
        assert_eq!(
            generation_at(&segments, 5000),
            Some(1),
            "an LSN is the end of a record"
        );
        assert_eq!(generation_at(&segments, 5001), Some(2));
    }
}
