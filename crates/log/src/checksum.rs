//! CRC-32C (Castagnoli), the block checksum.
//!
//! One function, so that the choice of implementation stays in one place. It was picked on
//! measured evidence, 60 KiB blocks on this project's machines (AMD EPYC with AVX2 and
//! VPCLMULQDQ, no AVX-512): the `crc32c` crate (SSE 4.2 `crc32` instruction, three interleaved
//! streams) ran at 11-14 GiB/s, `crc-fast` 1.10 at 8.6-8.8 GiB/s, because crc-fast's fastest
//! kernels need AVX-512 and it falls back to 128-bit carry-less multiplication without it. On an
//! AVX-512 machine the order may flip: measure again with the `pipeline` bench, which prints
//! the checksum's own throughput (`crc32c/60KiB`), before changing this.

/// The CRC-32C of `bytes`: the checksum every block header carries. Public so that benches and
/// tools compare against the very function the log uses.
#[inline]
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_standard_check_value() {
        // The catalogue check value of CRC-32/ISCSI (CRC-32C) for "123456789".
        assert_eq!(super::crc32c(b"123456789"), 0xe306_9283);
    }
}
