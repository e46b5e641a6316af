//! CRC-32 (IEEE 802.3), the block checksum.
//!
//! One function, so that the choice of implementation stays in one place. It was picked on
//! measured evidence on this project's machines (AMD EPYC with AVX2 and VPCLMULQDQ, no AVX-512),
//! for the blocks the simulator seals (3 KiB, one transaction each, at 5,000 tx/s) and full
//! 60 KiB blocks, in the default build (no `target-cpu`):
//!
//! | crate | 3 KiB | 8 KiB | 60 KiB |
//! |---|---|---|---|
//! | `crc32fast` 1.5 (CRC-32, 128-bit carry-less multiplication) | 13.4 GB/s | 14.5 GB/s | 19.7 GB/s |
//! | `crc32c` 0.6 (CRC-32C, SSE 4.2 `crc32`, three streams) | 12.4 GB/s | 13.6 GB/s | 17.6 GB/s |
//!
//! `crc-fast` 1.10 was slower still (8.6-8.8 GiB/s at 60 KiB: its fast kernels need AVX-512).
//! Both CRCs detect every burst error of up to 32 bits, which is what a block checksum is for.
//! Measure again with the `pipeline` bench, which prints the checksum's own throughput
//! (`checksum/60KiB`), before changing this.

/// The CRC-32 of `bytes`: the checksum every block header carries. Public so that benches and
/// tools compare against the very function the log uses.
#[inline]
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_standard_check_value() {
        // The catalogue check value of CRC-32/ISO-HDLC (the IEEE CRC-32) for "123456789".
        assert_eq!(super::checksum(b"123456789"), 0xcbf4_3926);
    }
}
