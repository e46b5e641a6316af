//! Limits of a log writer or a mirror log.

use crate::block::{BLOCK_ALIGN_BYTES, BLOCK_BYTES_MAX};
use crate::error::LogError;

/// The largest chunk the writer's pool accepts: chunks are cut into blocks, and a chunk far
/// larger than the log in flight only wastes memory.
pub const CHUNK_BYTES_MAX: usize = 64 * 1024 * 1024;

/// After each mutation, debug builds check every invariant but walk the retained blocks only
/// while there are at most this many (past that, the ends of the log); so a debug build with a
/// long retained log stays usable. `invariants()` always walks them all.
pub const DEBUG_WALK_BLOCKS_MAX: usize = 1024;

/// Limits of a log writer (principal) or a mirror log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Cap on buffered bytes. For a [`LogWriter`](crate::LogWriter): the memory of its buffer
    /// pool, which holds every block it sealed until the last holder (its own log, the send
    /// queue, the network, the mirror's log) releases it. For a
    /// [`MirrorLog`](crate::MirrorLog): the bytes of the received blocks it holds. Reaching it
    /// is [`LogError::BufferFull`]; the simulator reports it (a principal whose log cannot take
    /// more records stalls, as with error 9002).
    pub bytes_buffered_max: u64,
    /// Size of one pool chunk (writer only): blocks are cut from chunks, and a chunk is reused
    /// once all its blocks are released. At least one largest block, a multiple of 512.
    pub chunk_bytes: usize,
}

impl Default for LogConfig {
    /// 64 MiB of buffers in chunks of four largest blocks (240 KiB: small enough for the
    /// blocks in flight to stay in the CPU cache).
    fn default() -> LogConfig {
        LogConfig {
            bytes_buffered_max: 64 * 1024 * 1024,
            chunk_bytes: 4 * BLOCK_BYTES_MAX,
        }
    }
}

impl LogConfig {
    /// Checks the values, which may come from a scenario file.
    pub fn validate(&self) -> Result<(), LogError> {
        if self.chunk_bytes < BLOCK_BYTES_MAX || self.chunk_bytes > CHUNK_BYTES_MAX {
            return Err(LogError::InvalidConfig {
                reason: "chunk_bytes must be from 60 KiB (one block) to 64 MiB",
            });
        }
        if !self.chunk_bytes.is_multiple_of(BLOCK_ALIGN_BYTES) {
            return Err(LogError::InvalidConfig {
                reason: "chunk_bytes must be a multiple of 512",
            });
        }
        if self.bytes_buffered_max < self.chunk_bytes as u64 {
            return Err(LogError::InvalidConfig {
                reason: "bytes_buffered_max must hold at least one chunk",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(LogConfig::default().validate(), Ok(()));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let small_chunk = LogConfig {
            chunk_bytes: BLOCK_BYTES_MAX - 512,
            ..LogConfig::default()
        };
        let odd_chunk = LogConfig {
            chunk_bytes: BLOCK_BYTES_MAX + 1,
            ..LogConfig::default()
        };
        let small_cap = LogConfig {
            bytes_buffered_max: 1000,
            ..LogConfig::default()
        };
        for config in [small_chunk, odd_chunk, small_cap] {
            assert!(
                matches!(config.validate(), Err(LogError::InvalidConfig { .. })),
                "{config:?}"
            );
        }
    }
}
