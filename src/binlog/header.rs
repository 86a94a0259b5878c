//! The 19-byte event header every binlog v4 event starts with.
//!
//! Layout (MySQL `log_event.h`, "Binary log event header"): timestamp u32, type u8,
//! server_id u32, event_size u32, log_pos u32 (the offset just past the event in the source's
//! file), flags u16; all little-endian.

use super::event_type::{EventType, UnknownEventType};

/// Length of a v4 event header.
pub const HEADER_LEN: usize = 19;

/// `LOG_EVENT_BINLOG_IN_USE_F`: set in the FDE of a file being written; cleared on close without
/// recomputing the FDE's checksum.
pub const FLAG_BINLOG_IN_USE: u16 = 0x0001;
/// Where the header's `flags` (u16, little-endian) start.
pub const FLAGS_OFFSET: usize = 17;
/// `LOG_EVENT_ARTIFICIAL_F`: made up by a server or relay writer, not by a transaction.
pub const FLAG_ARTIFICIAL: u16 = 0x0020;
/// `LOG_EVENT_IGNORABLE_F`: a reader that does not know the type may skip the event.
pub const FLAG_IGNORABLE: u16 = 0x0080;

/// A decoded event header. `type_code` stays raw so unknown types round-trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    /// Seconds since the epoch when the statement started.
    pub timestamp: u32,
    pub type_code: u8,
    pub server_id: u32,
    pub event_size: u32,
    pub log_pos: u32,
    pub flags: u16,
}

impl EventHeader {
    #[inline]
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> EventHeader {
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or([0; 4]));
        EventHeader {
            timestamp: u32_at(0),
            type_code: bytes[4],
            server_id: u32_at(5),
            event_size: u32_at(9),
            log_pos: u32_at(13),
            flags: u16::from_le_bytes([bytes[17], bytes[18]]),
        }
    }

    /// Parses the first [`HEADER_LEN`] bytes of `bytes`, if there are that many.
    #[inline]
    pub fn parse_prefix(bytes: &[u8]) -> Option<EventHeader> {
        let bytes: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(EventHeader::parse(bytes))
    }

    pub fn event_type(&self) -> Result<EventType, UnknownEventType> {
        EventType::try_from(self.type_code)
    }

    pub fn is_artificial(&self) -> bool {
        self.flags & FLAG_ARTIFICIAL != 0
    }

    /// A ROTATE or STOP written in the file (not one a server makes up for a dump): the event
    /// that closes a binlog file.
    pub fn closes_file(&self) -> bool {
        matches!(self.event_type(), Ok(EventType::Rotate | EventType::Stop))
            && !self.is_artificial()
            && self.log_pos != 0
    }

    pub fn is_ignorable(&self) -> bool {
        self.flags & FLAG_IGNORABLE != 0
    }

    pub fn serialize(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.timestamp.to_le_bytes());
        out[4] = self.type_code;
        out[5..9].copy_from_slice(&self.server_id.to_le_bytes());
        out[9..13].copy_from_slice(&self.event_size.to_le_bytes());
        out[13..17].copy_from_slice(&self.log_pos.to_le_bytes());
        out[17..19].copy_from_slice(&self.flags.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_serialize_round_trip() {
        let header = EventHeader {
            timestamp: 1_901_142_000,
            type_code: 162,
            server_id: 7,
            event_size: 42,
            log_pos: 413,
            flags: FLAG_ARTIFICIAL | FLAG_IGNORABLE,
        };
        assert_eq!(EventHeader::parse(&header.serialize()), header);
        assert!(header.is_artificial() && header.is_ignorable());
        assert_eq!(EventHeader::parse_prefix(&[0; 18]), None);
    }
}
