//! Deterministic GUIDs: the views show `mirroring_guid` and `family_guid`, and a run must print
//! the same ones every time, so they are derived from names instead of drawn at random.

/// A GUID (`XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`, upper case) derived from `parts`: the same
/// parts always give the same GUID, different parts (almost surely) different ones.
pub fn derived_guid(parts: &[&str]) -> String {
    let high = mix(fnv1a(parts, 0xcbf2_9ce4_8422_2325));
    let low = mix(fnv1a(parts, 0x8422_2325_cbf2_9ce4));
    let hex = format!("{high:016X}{low:016X}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Spreads every bit of `hash` over all 64 (MurmurHash3's finalizer): FNV-1a alone changes
/// mostly the low bits for a different last byte, so the GUIDs of sessions 1 and 2 shared most
/// of their digits.
fn mix(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// FNV-1a over the parts, each followed by a separator byte that never occurs in UTF-8, so that
/// `["ab", "c"]` and `["a", "bc"]` differ.
fn fnv1a(parts: &[&str], offset_basis: u64) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut hash = offset_basis;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xFF)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::derived_guid;

    #[test]
    fn same_names_same_guid_and_the_shape_of_a_guid() {
        let guid = derived_guid(&["mirroring", "Sales", "alpha", "beta"]);
        assert_eq!(guid, derived_guid(&["mirroring", "Sales", "alpha", "beta"]));
        assert_ne!(guid, derived_guid(&["mirroring", "Sales", "beta", "alpha"]));
        assert_ne!(derived_guid(&["ab", "c"]), derived_guid(&["a", "bc"]));
        assert_eq!(guid.len(), 36);
        assert_eq!(guid.matches('-').count(), 4);
        // Names that differ in their last character differ in most digits, not a few.
        let first = derived_guid(&["mirroring", "Sales", "alpha", "beta", "1"]);
        let second = derived_guid(&["mirroring", "Sales", "alpha", "beta", "2"]);
        let same = first
            .chars()
            .zip(second.chars())
            .filter(|(a, b)| a == b)
            .count();
        assert!(same < 16, "{first} and {second} share {same} characters");
    }
}
