//! The writer's buffer pool: large chunks that blocks are cut from, reused once every block cut
//! from them has been released.
//!
//! Blocks are written in place at the front of the current chunk (the *arena*) and split off it
//! when sealed (`BytesMut::split_to`, no copy): every block of a chunk shares the chunk's one
//! allocation and reference count. When the arena has no room left for a largest block it is
//! *parked*; a parked chunk whose blocks have all been dropped (by the writer's truncation, the
//! mirror's truncation, the network...) is the only holder of its allocation, and
//! `BytesMut::try_reclaim` takes the whole chunk back without allocating. So in the steady state
//! the log path allocates nothing, and the pool never holds more than the configured cap.

use crate::block::BLOCK_BYTES_MAX;
use crate::error::LogError;
use bytes::BytesMut;
use std::collections::VecDeque;

#[derive(Debug)]
pub(crate) struct BufferPool {
    chunk_bytes: usize,
    bytes_allocated_max: u64,
    chunks_allocated: usize,
    /// The chunk blocks are being written into, from the open block (if any) on.
    arena: BytesMut,
    /// False until the first chunk is allocated: before that the arena is an empty placeholder.
    arena_is_chunk: bool,
    /// A chunk set aside for the next block, taken before sealing a full block so that sealing
    /// never has to fail.
    spare: Option<BytesMut>,
    /// Chunks too full for another block, some of whose blocks may still be alive.
    parked: VecDeque<BytesMut>,
}

impl BufferPool {
    pub(crate) fn new(chunk_bytes: usize, bytes_allocated_max: u64) -> BufferPool {
        assert!(chunk_bytes >= BLOCK_BYTES_MAX, "chunk smaller than a block");
        assert!(
            chunk_bytes as u64 <= bytes_allocated_max,
            "cap below one chunk"
        );
        BufferPool {
            chunk_bytes,
            bytes_allocated_max,
            chunks_allocated: 0,
            // No allocation until the first record: an idle writer costs nothing.
            arena: BytesMut::new(),
            arena_is_chunk: false,
            spare: None,
            parked: VecDeque::new(),
        }
    }

    pub(crate) fn arena(&mut self) -> &mut BytesMut {
        &mut self.arena
    }

    pub(crate) fn arena_len(&self) -> usize {
        self.arena.len()
    }

    /// Bytes of all chunks the pool has allocated: the writer's memory.
    pub(crate) fn bytes_allocated(&self) -> u64 {
        (self.chunks_allocated * self.chunk_bytes) as u64
    }

    pub(crate) fn bytes_allocated_max(&self) -> u64 {
        self.bytes_allocated_max
    }

    /// Makes sure that once the first `used` bytes of the arena (the open block, padded) are
    /// split off, a largest block fits after them or in a spare chunk. Fails, having changed
    /// nothing the log can observe, when that needs a new chunk and the cap forbids it.
    pub(crate) fn reserve_next_block(&mut self, used: usize) -> Result<(), LogError> {
        debug_assert!(used <= self.arena.capacity());
        if self.arena.capacity() - used >= BLOCK_BYTES_MAX || self.spare.is_some() {
            return Ok(());
        }
        self.spare = Some(self.acquire()?);
        Ok(())
    }

    /// Starts a new block at the front of the arena, switching to the spare chunk if the arena
    /// has no room; `reserve_next_block` must have been called since the last block was split.
    pub(crate) fn start_block(&mut self) {
        assert!(self.arena.is_empty(), "a block is still open in the arena");
        if self.arena.capacity() >= BLOCK_BYTES_MAX {
            return;
        }
        let spare = self
            .spare
            .take()
            .expect("reserve_next_block before start_block");
        let full = std::mem::replace(&mut self.arena, spare);
        // Even an exhausted chunk is kept: its handle is how the pool reclaims the allocation.
        if self.arena_is_chunk {
            self.parked.push_back(full);
        }
        self.arena_is_chunk = true;
    }

    /// A chunk with room for a largest block: a parked one reclaimed, else a new one.
    fn acquire(&mut self) -> Result<BytesMut, LogError> {
        // Oldest first: the log is released in LSN order, so the oldest chunk frees first.
        for _ in 0..self.parked.len() {
            let mut chunk = self.parked.pop_front().expect("counted");
            if chunk.try_reclaim(self.chunk_bytes) {
                return Ok(chunk);
            }
            self.parked.push_back(chunk);
        }
        let bytes_needed = self.chunk_bytes as u64;
        if self.bytes_allocated() + bytes_needed > self.bytes_allocated_max {
            return Err(LogError::BufferFull {
                bytes_buffered: self.bytes_allocated(),
                bytes_needed,
                bytes_buffered_max: self.bytes_allocated_max,
            });
        }
        self.chunks_allocated += 1;
        Ok(BytesMut::with_capacity(self.chunk_bytes))
    }

    pub(crate) fn invariants(&self) {
        assert!(
            self.bytes_allocated() <= self.bytes_allocated_max,
            "pool over its cap"
        );
        let held = self.parked.len()
            + usize::from(self.spare.is_some())
            + usize::from(self.arena_is_chunk);
        assert_eq!(held, self.chunks_allocated, "a chunk was lost or made up");
        if let Some(spare) = &self.spare {
            assert!(
                spare.is_empty() && spare.capacity() >= BLOCK_BYTES_MAX,
                "bad spare"
            );
        }
        for chunk in &self.parked {
            assert!(chunk.is_empty(), "a parked chunk holds an open block");
        }
    }
}
