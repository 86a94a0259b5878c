//! Event checksums: CRC32 (IEEE, as zlib computes it) over the event without its last 4 bytes,
//! which hold the checksum little-endian.
//!
//! The FORMAT_DESCRIPTION event is special: a server sets `LOG_EVENT_BINLOG_IN_USE_F` in the
//! header of the file it is writing and clears it on close without recomputing the checksum,
//! so that flag is cleared before computing (MySQL `Format_description_event`, MDEV-4475).

use super::header::{FLAG_BINLOG_IN_USE, FLAGS_OFFSET, HEADER_LEN};

/// Length of the checksum at the end of an event.
pub const CHECKSUM_LEN: usize = 4;

/// The checksum stored at the end of `event` and the one computed over it, or `None` when the
/// event is too short to hold a header and a checksum.
pub fn stored_and_computed(event: &[u8], is_format_description: bool) -> Option<(u32, u32)> {
    if event.len() < HEADER_LEN + CHECKSUM_LEN {
        return None;
    }
    let (covered, stored) = event.split_at(event.len() - CHECKSUM_LEN);
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let mut hasher = crc32fast::Hasher::new();
    if is_format_description {
        // The server sets LOG_EVENT_BINLOG_IN_USE_F after computing the FDE's checksum.
        let flags_low = covered[FLAGS_OFFSET] & !(FLAG_BINLOG_IN_USE as u8);
        hasher.update(&covered[..FLAGS_OFFSET]);
        hasher.update(&[flags_low]);
        hasher.update(&covered[FLAGS_OFFSET + 1..]);
    } else {
        hasher.update(covered);
    }
    Some((stored, hasher.finalize()))
}

/// Appends the checksum of `event` (header and body so far) to it.
pub fn append(event: &mut Vec<u8>) {
    let crc = crc32fast::hash(event);
    event.extend_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_checksum_verifies_and_detects_a_flip() {
        let mut event = vec![7u8; 30];
        append(&mut event);
        let (stored, computed) = stored_and_computed(&event, false).unwrap();
        assert_eq!(stored, computed);
        event[20] ^= 1;
        let (stored, computed) = stored_and_computed(&event, false).unwrap();
        assert_ne!(stored, computed);
        assert_eq!(stored_and_computed(&[0; 22], false), None);
    }

    #[test]
    fn the_in_use_flag_does_not_count_for_a_format_description() {
        let mut event = vec![0u8; 40];
        append(&mut event);
        event[17] |= FLAG_BINLOG_IN_USE as u8;
        let (stored, computed) = stored_and_computed(&event, true).unwrap();
        assert_eq!(stored, computed);
        let (stored, computed) = stored_and_computed(&event, false).unwrap();
        assert_ne!(stored, computed);
    }
}
