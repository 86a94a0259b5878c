//! FORMAT_DESCRIPTION_EVENT: what kind of server wrote a binlog and how to read its events.
//!
//! Body layout (MySQL `Format_description_event`, WL#2540 for the checksum part):
//! binlog_version u16, server_version [50] NUL-padded, create_timestamp u32, header_length u8,
//! then one post-header length per event type (type 1 first). Servers that know checksums
//! (MySQL ≥ 5.6.1, MariaDB ≥ 5.3) end the body with the checksum algorithm byte and 4 checksum
//! bytes, whatever the algorithm.

use std::fmt;

use super::checksum::CHECKSUM_LEN;
use super::header::{EventHeader, HEADER_LEN};

/// Fixed part of the FDE body before the post-header lengths.
const FIXED_BODY_LEN: usize = 2 + 50 + 4 + 1;

/// Which server family wrote the binlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    MySql,
    MariaDb,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::MySql => "MySQL",
            Flavor::MariaDb => "MariaDB",
        })
    }
}

/// `binlog_checksum` of the events that follow the FDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlg {
    Off,
    Crc32,
}

/// A decoded FORMAT_DESCRIPTION_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    pub binlog_version: u16,
    /// As the server wrote it, e.g. `10.11.19-MariaDB-0+deb12u1-log`.
    pub server_version: String,
    /// The leading `major.minor.patch` of `server_version`.
    pub version: (u16, u16, u16),
    pub flavor: Flavor,
    /// The FDE's own header time: the file's creation second (SEMANTICS.md §2).
    pub created: u32,
    pub checksum: ChecksumAlg,
    /// `post_header_lens[t - 1]` is the post-header length of event type `t`.
    post_header_lens: Vec<u8>,
}

/// Why a FORMAT_DESCRIPTION_EVENT cannot be decoded (the caller adds the file and offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("FORMAT_DESCRIPTION_EVENT of {len} bytes is too short")]
    TooShort { len: usize },
    #[error(
        "FORMAT_DESCRIPTION_EVENT declares a {0}-byte event header; binlog v4 uses {HEADER_LEN}"
    )]
    HeaderLength(u8),
    #[error("unknown binlog checksum algorithm {0}")]
    Checksum(u8),
}

impl FormatDescription {
    /// Decodes a whole FDE (header included).
    pub fn parse(event: &[u8]) -> Result<FormatDescription, FormatError> {
        let too_short = || FormatError::TooShort { len: event.len() };
        let body = event.get(HEADER_LEN..).ok_or_else(too_short)?;
        if body.len() < FIXED_BODY_LEN {
            return Err(too_short());
        }
        let binlog_version = u16::from_le_bytes([body[0], body[1]]);
        let raw_version = &body[2..52];
        let end = raw_version.iter().position(|&b| b == 0).unwrap_or(50);
        let server_version = String::from_utf8_lossy(&raw_version[..end]).into_owned();
        let created = EventHeader::parse_prefix(event)
            .ok_or_else(too_short)?
            .timestamp;
        let header_length = body[56];
        if usize::from(header_length) != HEADER_LEN {
            return Err(FormatError::HeaderLength(header_length));
        }
        let version = split_version(&server_version);
        let flavor = Flavor::of_version(&server_version);
        let knows_checksums = match flavor {
            Flavor::MySql => version >= (5, 6, 1),
            Flavor::MariaDb => version >= (5, 3, 0),
        };
        let rest = &body[FIXED_BODY_LEN..];
        let (post_header_lens, checksum) = if knows_checksums {
            let split = rest
                .len()
                .checked_sub(1 + CHECKSUM_LEN)
                .ok_or_else(too_short)?;
            let checksum = match rest[split] {
                0 | 0xff => ChecksumAlg::Off,
                1 => ChecksumAlg::Crc32,
                other => return Err(FormatError::Checksum(other)),
            };
            (&rest[..split], checksum)
        } else {
            (rest, ChecksumAlg::Off)
        };
        Ok(FormatDescription {
            binlog_version,
            server_version,
            version,
            flavor,
            created,
            checksum,
            post_header_lens: post_header_lens.to_vec(),
        })
    }

    /// The post-header length the file declares for `type_code`, if it lists that type.
    pub fn post_header_len(&self, type_code: u8) -> Option<usize> {
        usize::from(type_code)
            .checked_sub(1)
            .and_then(|i| self.post_header_lens.get(i))
            .map(|&len| usize::from(len))
    }

    /// Bytes of checksum at the end of every event after this FDE.
    pub fn checksum_len(&self) -> usize {
        match self.checksum {
            ChecksumAlg::Off => 0,
            ChecksumAlg::Crc32 => CHECKSUM_LEN,
        }
    }

    /// Whether the FDE event itself ends in an algorithm byte and checksum.
    pub fn has_checksum_trailer(&self) -> bool {
        match self.flavor {
            Flavor::MySql => self.version >= (5, 6, 1),
            Flavor::MariaDb => self.version >= (5, 3, 0),
        }
    }

    /// Builds an FDE body for writers: version text, creation time, post-header lengths and
    /// checksum algorithm (the caller adds header and checksum).
    pub fn encode_body(
        server_version: &str,
        created: u32,
        post_header_lens: &[u8],
        checksum: Option<ChecksumAlg>,
    ) -> Vec<u8> {
        let mut body = Vec::with_capacity(FIXED_BODY_LEN + post_header_lens.len() + 1);
        body.extend_from_slice(&4u16.to_le_bytes());
        let mut version = [0u8; 50];
        let n = server_version.len().min(49);
        version[..n].copy_from_slice(&server_version.as_bytes()[..n]);
        body.extend_from_slice(&version);
        body.extend_from_slice(&created.to_le_bytes());
        body.push(HEADER_LEN as u8);
        body.extend_from_slice(post_header_lens);
        if let Some(alg) = checksum {
            body.push(match alg {
                ChecksumAlg::Off => 0,
                ChecksumAlg::Crc32 => 1,
            });
        }
        body
    }
}

impl Flavor {
    /// The server that reports `version` (`VERSION()`, or an FDE's server version): MariaDB
    /// says so in it (`10.11.6-MariaDB-log`, `5.5.5-10.6.12-MariaDB`); anything else is MySQL.
    pub fn of_version(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// `mysql` or `mariadb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::MySql => "mysql",
            Flavor::MariaDb => "mariadb",
        }
    }
}

/// `major.minor.patch` from the start of a version string; missing parts are 0.
pub(crate) fn split_version(text: &str) -> (u16, u16, u16) {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next(), next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::checksum;
    use crate::binlog::header::EventHeader;

    fn fde(version: &str, alg: Option<ChecksumAlg>) -> Vec<u8> {
        let body = FormatDescription::encode_body(version, 1_000, &[0, 13, 0, 8], alg);
        let size = HEADER_LEN + body.len() + alg.map_or(0, |_| CHECKSUM_LEN);
        let header = EventHeader {
            timestamp: 1_000,
            type_code: 15,
            server_id: 1,
            event_size: size as u32,
            log_pos: 4 + size as u32,
            flags: 0,
        };
        let mut event = header.serialize().to_vec();
        event.extend_from_slice(&body);
        if alg.is_some() {
            checksum::append(&mut event);
        }
        event
    }

    #[test]
    fn reads_flavour_version_and_checksum() {
        let maria =
            FormatDescription::parse(&fde("10.11.19-MariaDB-log", Some(ChecksumAlg::Crc32)))
                .unwrap();
        assert_eq!(maria.flavor, Flavor::MariaDb);
        assert_eq!(maria.version, (10, 11, 19));
        assert_eq!(maria.checksum, ChecksumAlg::Crc32);
        assert_eq!(maria.post_header_len(2), Some(13));
        assert_eq!(maria.post_header_len(4), Some(8));
        assert_eq!(maria.post_header_len(5), None);
        assert_eq!(maria.created, 1_000);

        let old = FormatDescription::parse(&fde("5.5.27-log", None)).unwrap();
        assert_eq!(old.flavor, Flavor::MySql);
        assert_eq!(old.checksum, ChecksumAlg::Off);
        assert_eq!(old.checksum_len(), 0);
        assert_eq!(old.post_header_len(4), Some(8));

        let off = FormatDescription::parse(&fde("5.7.20-log", Some(ChecksumAlg::Off))).unwrap();
        assert_eq!(off.checksum, ChecksumAlg::Off);
        assert_eq!(off.post_header_len(4), Some(8));
    }

    #[test]
    fn rejects_short_or_odd_events() {
        assert_eq!(
            FormatDescription::parse(&[0; 40]).unwrap_err(),
            FormatError::TooShort { len: 40 }
        );
        let mut event = fde("8.0.40", Some(ChecksumAlg::Crc32));
        event[HEADER_LEN + 56] = 13;
        assert_eq!(
            FormatDescription::parse(&event).unwrap_err(),
            FormatError::HeaderLength(13)
        );
        let mut event = fde("8.0.40", Some(ChecksumAlg::Crc32));
        let alg_at = event.len() - 5;
        event[alg_at] = 7;
        assert_eq!(
            FormatDescription::parse(&event).unwrap_err(),
            FormatError::Checksum(7)
        );
    }

    #[test]
    fn splits_versions() {
        assert_eq!(split_version("5.7.25-debug-log"), (5, 7, 25));
        assert_eq!(split_version("8.0"), (8, 0, 0));
        assert_eq!(split_version("garbage"), (0, 0, 0));
    }
}
