//! Decoders for the few event bodies transaction units need. Each takes the event *body* (after
//! the 19-byte header, without the checksum) of an event whose framing and checksum the reader
//! has already validated, checks every length against the body before using it, and returns a
//! message (the reader adds file and offset) instead of panicking on inconsistent input.
//!
//! MySQL's GTID events (three layouts plus MySQL 8.4's tagged serialization) are decoded by
//! mysql_common's `GtidEvent`; everything else is small enough to decode here, and MariaDB's
//! events (160–172) are not in mysql_common at all. mysql_common's PREVIOUS_GTIDS decoder is not
//! used because it reserves memory for counts read from the event before checking them.

use mysql_common::binlog::BinlogCtx;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{FormatDescriptionEvent, GtidEvent};
use mysql_common::io::ParseBuf;
use mysql_common::proto::MyDeserialize;

use crate::gtid::mysql::MAX_GNO;
use crate::gtid::{Gtid, GtidSet, MariaGtid, MariaGtidPos, Tag, Tsid, Uuid};

use super::event_type::EventType;

/// Why an event body cannot be decoded: what is wrong with it, with the sizes and values that
/// show it (the reader adds the file and offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{event} body of {len} bytes is too short")]
    TooShort { event: &'static str, len: usize },
    #[error(
        "QUERY_EVENT body of {len} bytes is shorter than its {post_header_len}-byte post-header"
    )]
    QueryPostHeader { len: usize, post_header_len: usize },
    #[error(
        "QUERY_EVENT is inconsistent: {status_len} bytes of status variables and a \
         {db_len}-byte database name do not fit its {len}-byte body"
    )]
    QueryInconsistent {
        status_len: usize,
        db_len: usize,
        len: usize,
    },
    #[error("QUERY_COMPRESSED_EVENT has an empty statement")]
    CompressedEmpty,
    #[error("QUERY_COMPRESSED_EVENT has an invalid compression header {head:#04x}")]
    CompressedHeader { head: u8 },
    #[error("QUERY_COMPRESSED_EVENT's statement does not inflate")]
    CompressedInflate,
    #[error("rows event body of {len} bytes has no flags field")]
    RowsFlags { len: usize },
    #[error("{event_type} carries GNO {gno}, outside 1..={MAX_GNO}")]
    Gno { event_type: EventType, gno: u64 },
    /// mysql_common's decoder refused the body (its `io::Error` text).
    #[error("{event_type} cannot be decoded: {reason}")]
    Gtid {
        event_type: EventType,
        reason: String,
    },
    #[error("invalid GTID tag {0:?}")]
    Tag(String),
    #[error("PREVIOUS_GTIDS tag is not UTF-8")]
    TagNotUtf8,
    #[error("GTID_LIST_EVENT lists {count} GTIDs but its body holds {len} bytes")]
    GtidListCount { count: usize, len: usize },
    #[error("PREVIOUS_GTIDS event has unknown format {0}")]
    PreviousGtidsFormat(u64),
    #[error("PREVIOUS_GTIDS event lists {count} sources but its body holds {len} bytes")]
    PreviousGtidsCount { count: u64, len: usize },
    #[error("PREVIOUS_GTIDS event body of {len} bytes ends early")]
    PreviousGtidsShort { len: usize },
    #[error("PREVIOUS_GTIDS event holds the invalid interval [{start}, {end})")]
    PreviousGtidsInterval { start: u64, end: u64 },
}

type Decoded<T> = Result<T, DecodeError>;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

/// What a QUERY event does to transaction boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Begin,
    Commit,
    Rollback,
    XaStart,
    XaCommit,
    XaRollback,
    /// Anything else: DDL, a statement-based DML, `SAVEPOINT`, `ROLLBACK TO`, `XA END`, ….
    Statement,
}

/// Post-header of QUERY_EVENT (MySQL `Query_event`): thread_id u32, exec_time u32, db_len u8,
/// error_code u16, status_vars_len u16 (binlog v4); then the status variables, the database name
/// and a NUL, then the statement.
const QUERY_DB_LEN_AT: usize = 8;
const QUERY_STATUS_LEN_AT: usize = 11;

/// The statement text of a QUERY or QUERY_COMPRESSED event (still compressed for the latter).
fn query_text(body: &[u8], post_header_len: usize) -> Decoded<&[u8]> {
    if post_header_len < QUERY_STATUS_LEN_AT || body.len() < post_header_len {
        return Err(DecodeError::QueryPostHeader {
            len: body.len(),
            post_header_len,
        });
    }
    let db_len = usize::from(body[QUERY_DB_LEN_AT]);
    let status_len = if post_header_len >= QUERY_STATUS_LEN_AT + 2 {
        usize::from(u16_at(body, QUERY_STATUS_LEN_AT).unwrap_or(0))
    } else {
        0
    };
    let query_at = post_header_len + status_len + db_len + 1;
    if query_at > body.len() || body.get(query_at - 1) != Some(&0) {
        return Err(DecodeError::QueryInconsistent {
            status_len,
            db_len,
            len: body.len(),
        });
    }
    Ok(&body[query_at..])
}

/// Classifies a QUERY_EVENT body.
pub fn query_kind(body: &[u8], post_header_len: usize) -> Decoded<QueryKind> {
    Ok(classify_statement(query_text(body, post_header_len)?))
}

/// Classifies a MariaDB QUERY_COMPRESSED_EVENT body: the statement is zlib-compressed behind a
/// header byte `0x80 | n` and `n` bytes of uncompressed length (MariaDB `binlog_buf_compress`);
/// only its first bytes are inflated.
pub fn compressed_query_kind(body: &[u8], post_header_len: usize) -> Decoded<QueryKind> {
    let text = query_text(body, post_header_len)?;
    let (&head, rest) = text.split_first().ok_or(DecodeError::CompressedEmpty)?;
    let len_bytes = usize::from(head & 0x07);
    if head & 0x80 == 0 || len_bytes == 0 || len_bytes > 4 || rest.len() < len_bytes {
        return Err(DecodeError::CompressedHeader { head });
    }
    let mut prefix = [0u8; 64];
    let mut inflater = flate2::Decompress::new(true);
    // Filling the 64-byte prefix stops inflation early; a corrupt stream stops it with an error.
    let _ = inflater.decompress(
        &rest[len_bytes..],
        &mut prefix,
        flate2::FlushDecompress::None,
    );
    let written = usize::try_from(inflater.total_out())
        .unwrap_or(0)
        .min(prefix.len());
    if written == 0 {
        return Err(DecodeError::CompressedInflate);
    }
    Ok(classify_statement(&prefix[..written]))
}

fn classify_statement(text: &[u8]) -> QueryKind {
    let mut words = text
        .split(|b| b.is_ascii_whitespace() || *b == b';')
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    let is = |word: &[u8], expected: &str| word.eq_ignore_ascii_case(expected.as_bytes());
    if is(first, "BEGIN") {
        QueryKind::Begin
    } else if is(first, "COMMIT") {
        QueryKind::Commit
    } else if is(first, "ROLLBACK") && !is(second, "TO") {
        QueryKind::Rollback
    } else if is(first, "XA") && (is(second, "START") || is(second, "BEGIN")) {
        QueryKind::XaStart
    } else if is(first, "XA") && is(second, "COMMIT") {
        QueryKind::XaCommit
    } else if is(first, "XA") && is(second, "ROLLBACK") {
        QueryKind::XaRollback
    } else {
        QueryKind::Statement
    }
}

/// `STMT_END_F` in a rows event's flags: the last rows event of a statement.
pub const ROWS_STMT_END: u16 = 0x0001;

/// The flags of a rows event. Its post-header is table_id (6 bytes, or 4 where the FDE declares a
/// 6-byte post-header, as MySQL 5.1.0–5.1.15 did) then flags u16.
pub fn rows_flags(body: &[u8], post_header_len: usize) -> Decoded<u16> {
    let flags_at = if post_header_len == 6 { 4 } else { 6 };
    u16_at(body, flags_at).ok_or(DecodeError::RowsFlags { len: body.len() })
}

/// A MySQL GTID, ANONYMOUS_GTID or GTID_TAGGED event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MySqlGtidEvent {
    /// `None` for ANONYMOUS_GTID.
    pub gtid: Option<Gtid>,
    /// `immediate_commit_timestamp` in µs (MySQL ≥ 8.0.1), `None` when not recorded.
    pub immediate_commit_us: Option<u64>,
    /// `original_commit_timestamp` in µs, `None` when not recorded.
    pub original_commit_us: Option<u64>,
    /// `transaction_length` in bytes (MySQL ≥ 8.0.2), `None` when not recorded.
    pub transaction_length: Option<u64>,
}

/// Decodes a MySQL GTID or ANONYMOUS_GTID event (5.6, 5.7 and 8.0 layouts) and GTID_TAGGED.
///
/// The untagged layouts (MySQL `Gtid_log_event`) are read here directly, since a walk decodes
/// one per transaction: flags u8, SID 16 bytes, GNO u64; from 5.7 the logical clock (type code
/// 2, last_committed i64, sequence_number i64); from 8.0.1 `immediate_commit_timestamp` (7
/// bytes, whose top bit says `original_commit_timestamp` follows in 7 more), then
/// `transaction_length` as a packed integer (8.0.2). Anything else, tagged GTIDs included,
/// goes to mysql_common's decoder.
pub fn mysql_gtid(event_type: EventType, body: &[u8]) -> Decoded<MySqlGtidEvent> {
    match lean_gtid(event_type, body) {
        Some(decoded) => decoded,
        None => mysql_gtid_full(event_type, body),
    }
}

/// The untagged layouts; `None` for what it does not handle.
#[inline]
fn lean_gtid(event_type: EventType, body: &[u8]) -> Option<Decoded<MySqlGtidEvent>> {
    if event_type == EventType::GtidTagged {
        return None;
    }
    let sid: [u8; 16] = body.get(1..17)?.try_into().ok()?;
    let gno = u64::from_le_bytes(body.get(17..25)?.try_into().ok()?);
    let gtid = if event_type == EventType::AnonymousGtid {
        None
    } else if gno == 0 || gno > MAX_GNO {
        return Some(Err(DecodeError::Gno { event_type, gno }));
    } else {
        Some(Gtid {
            tsid: Tsid {
                uuid: Uuid(sid),
                tag: None,
            },
            gno,
        })
    };
    let mut decoded = MySqlGtidEvent {
        gtid,
        immediate_commit_us: None,
        original_commit_us: None,
        transaction_length: None,
    };
    match body.len() {
        25 => return Some(Ok(decoded)),
        // 5.7: the logical clock, nothing after it.
        42 if body[25] == 2 => return Some(Ok(decoded)),
        n if n > 42 && body[25] == 2 => {}
        _ => return None,
    }
    let seven = |at: usize| -> Option<u64> {
        let bytes = body.get(at..at + 7)?;
        let mut word = [0u8; 8];
        word[..7].copy_from_slice(bytes);
        Some(u64::from_le_bytes(word))
    };
    let immediate = seven(42)?;
    let mut at = 49;
    const ORIGINAL_FOLLOWS: u64 = 1 << 55;
    let original = if immediate & ORIGINAL_FOLLOWS != 0 {
        let original = seven(at)?;
        at += 7;
        original
    } else {
        immediate
    };
    let immediate = immediate & !ORIGINAL_FOLLOWS;
    let nonzero = |v: u64| (v != 0).then_some(v);
    decoded.immediate_commit_us = nonzero(immediate);
    decoded.original_commit_us = nonzero(original);
    if at < body.len() {
        let (length, _) = packed_integer(&body[at..])?;
        decoded.transaction_length = nonzero(length);
    }
    Some(Ok(decoded))
}

/// MySQL's packed integer (`net_field_length_ll`): the value and the bytes it took.
fn packed_integer(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let wide = |n: usize| -> Option<u64> {
        let mut word = [0u8; 8];
        word[..n].copy_from_slice(bytes.get(1..1 + n)?);
        Some(u64::from_le_bytes(word))
    };
    match first {
        0..=250 => Some((u64::from(first), 1)),
        252 => Some((wide(2)?, 3)),
        253 => Some((wide(3)?, 4)),
        254 => Some((wide(8)?, 9)),
        _ => None,
    }
}

/// Decodes a MySQL GTID-family event with mysql_common (5.6, 5.7, 8.0 and tagged layouts).
pub fn mysql_gtid_full(event_type: EventType, body: &[u8]) -> Decoded<MySqlGtidEvent> {
    let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let ctx = BinlogCtx::new(body.len(), &fde, event_type as u8);
    let event =
        GtidEvent::deserialize(ctx, &mut ParseBuf(body)).map_err(|e| DecodeError::Gtid {
            event_type,
            reason: e.to_string(),
        })?;
    let gtid = if event_type == EventType::AnonymousGtid {
        None
    } else {
        let tag = match event.tag() {
            Some(tag) => Some(
                Tag::parse(tag.as_str())
                    .ok_or_else(|| DecodeError::Tag(tag.as_str().to_owned()))?,
            ),
            None => None,
        };
        let gno = event.gno();
        if gno == 0 || gno > MAX_GNO {
            return Err(DecodeError::Gno { event_type, gno });
        }
        Some(Gtid {
            tsid: Tsid {
                uuid: Uuid(event.sid()),
                tag,
            },
            gno,
        })
    };
    let nonzero = |v: u64| (v != 0).then_some(v);
    Ok(MySqlGtidEvent {
        gtid,
        immediate_commit_us: nonzero(event.immediate_commit_timestamp()),
        original_commit_us: nonzero(event.original_commit_timestamp()),
        transaction_length: nonzero(event.tx_length()),
    })
}

/// MariaDB GTID_EVENT flags (MariaDB `Gtid_log_event`).
pub mod maria_gtid_flags {
    /// No BEGIN follows: the event group is a single statement (DDL, XA COMMIT/ROLLBACK).
    pub const STANDALONE: u8 = 0x01;
    pub const GROUP_COMMIT_ID: u8 = 0x02;
    pub const TRANSACTIONAL: u8 = 0x04;
    pub const DDL: u8 = 0x20;
    /// The group is the prepare part of an XA transaction.
    pub const PREPARED_XA: u8 = 0x40;
    /// The group is an XA COMMIT or XA ROLLBACK.
    pub const COMPLETED_XA: u8 = 0x80;
}

/// A MariaDB GTID_EVENT: seq_no u64, domain_id u32, flags u8, then optional parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtidEvent {
    pub gtid: MariaGtid,
    pub flags: u8,
}

impl MariaGtidEvent {
    /// Without the standalone flag the event implies BEGIN (SEMANTICS.md §3).
    pub fn implies_begin(&self) -> bool {
        self.flags & maria_gtid_flags::STANDALONE == 0
    }
}

pub fn maria_gtid(body: &[u8], server_id: u32) -> Decoded<MariaGtidEvent> {
    let (Some(seq), Some(domain), Some(&flags)) = (u64_at(body, 0), u32_at(body, 8), body.get(12))
    else {
        return Err(DecodeError::TooShort {
            event: "MariaDB GTID_EVENT",
            len: body.len(),
        });
    };
    Ok(MariaGtidEvent {
        gtid: MariaGtid {
            domain,
            server: server_id,
            seq,
        },
        flags,
    })
}

/// A MariaDB GTID_LIST_EVENT as a position: count u32 (low 28 bits; the high 4 are flags), then
/// `count` × (domain u32, server_id u32, seq_no u64). When a domain is listed more than once
/// (several server_ids), the server writes the domain's most recent GTID last.
pub fn maria_gtid_list(body: &[u8]) -> Decoded<MariaGtidPos> {
    let count = u32_at(body, 0).ok_or(DecodeError::TooShort {
        event: "GTID_LIST_EVENT",
        len: body.len(),
    })? & 0x0fff_ffff;
    let count = count as usize;
    if body.len() < 4 + count * 16 {
        return Err(DecodeError::GtidListCount {
            count,
            len: body.len(),
        });
    }
    let mut pos = MariaGtidPos::new();
    for entry in body[4..4 + count * 16].chunks_exact(16) {
        pos.update(MariaGtid {
            domain: u32_at(entry, 0).unwrap_or_default(),
            server: u32_at(entry, 4).unwrap_or_default(),
            seq: u64_at(entry, 8).unwrap_or_default(),
        });
    }
    Ok(pos)
}

/// A MySQL PREVIOUS_GTIDS_LOG_EVENT (MySQL `Previous_gtids_event`, tagged format WL#15294).
///
/// Untagged: n_sids u64, then per source: uuid `[16]`, n_intervals u64, intervals (start u64,
/// end u64 exclusive). Tagged: the top byte of the first u64 is the format (1), bits 8–55 the
/// count, and each UUID is followed by the tag as a serialization-library varlen length and bytes.
pub fn previous_gtids(body: &[u8]) -> Decoded<GtidSet> {
    let header = u64_at(body, 0).ok_or(DecodeError::TooShort {
        event: "PREVIOUS_GTIDS event",
        len: body.len(),
    })?;
    let tagged = match header >> 56 {
        0 => false,
        1 => true,
        format => return Err(DecodeError::PreviousGtidsFormat(format)),
    };
    let n_sids = if tagged {
        (header >> 8) & ((1 << 48) - 1)
    } else {
        header
    };
    // Every source takes at least 24 bytes: checking the count first bounds all work below.
    if n_sids > (body.len() as u64 - 8) / 24 {
        return Err(DecodeError::PreviousGtidsCount {
            count: n_sids,
            len: body.len(),
        });
    }
    let mut set = GtidSet::new();
    let mut at = 8;
    let short = || DecodeError::PreviousGtidsShort { len: body.len() };
    for _ in 0..n_sids {
        let uuid: [u8; 16] = body
            .get(at..at + 16)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(short)?;
        at += 16;
        let tag = if tagged {
            let (len, used) = read_varlen_uint(&body[at..]).ok_or_else(short)?;
            at += used;
            let len = usize::try_from(len).map_err(|_| short())?;
            let text = body.get(at..at.saturating_add(len)).ok_or_else(short)?;
            at += len;
            if len == 0 {
                None
            } else {
                let text = std::str::from_utf8(text).map_err(|_| DecodeError::TagNotUtf8)?;
                Some(Tag::parse(text).ok_or_else(|| DecodeError::Tag(text.to_owned()))?)
            }
        } else {
            None
        };
        let n_intervals = u64_at(body, at).ok_or_else(short)?;
        at += 8;
        if n_intervals > (body.len() - at) as u64 / 16 {
            return Err(short());
        }
        let tsid = Tsid {
            uuid: Uuid(uuid),
            tag,
        };
        for _ in 0..n_intervals {
            let (start, end) = (
                u64_at(body, at).ok_or_else(short)?,
                u64_at(body, at + 8).ok_or_else(short)?,
            );
            at += 16;
            if start == 0 || end <= start || end - 1 > MAX_GNO {
                return Err(DecodeError::PreviousGtidsInterval { start, end });
            }
            set.add_range(&tsid, start, end - 1);
        }
    }
    Ok(set)
}

/// MySQL serialization-library variable-length unsigned integer: the number of trailing one
/// bits of the first byte is the number of extra bytes (all 8 ones: 8 raw bytes follow); the
/// value is the little-endian bytes shifted right by the byte count. Returns (value, bytes used).
fn read_varlen_uint(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let extra = first.trailing_ones() as usize;
    if extra == 8 {
        return Some((u64_at(bytes, 1)?, 9));
    }
    let used = extra + 1;
    let mut raw = [0u8; 8];
    raw[..used].copy_from_slice(bytes.get(..used)?);
    Some((u64::from_le_bytes(raw) >> used, used))
}

/// The body of a ROTATE_EVENT: position u64, then the next file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate {
    pub position: u64,
    pub next_file: String,
}

pub fn rotate(body: &[u8]) -> Decoded<Rotate> {
    let position = u64_at(body, 0).ok_or(DecodeError::TooShort {
        event: "ROTATE_EVENT",
        len: body.len(),
    })?;
    Ok(Rotate {
        position,
        next_file: String::from_utf8_lossy(&body[8..]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_body(statement: &str) -> Vec<u8> {
        let mut body = vec![0u8; 13];
        body[QUERY_DB_LEN_AT] = 4;
        body[QUERY_STATUS_LEN_AT..13].copy_from_slice(&3u16.to_le_bytes());
        body.extend_from_slice(&[1, 2, 3]);
        body.extend_from_slice(b"shop\0");
        body.extend_from_slice(statement.as_bytes());
        body
    }

    #[test]
    fn classifies_transaction_boundaries() {
        let cases = [
            ("BEGIN", QueryKind::Begin),
            ("COMMIT", QueryKind::Commit),
            ("commit ", QueryKind::Commit),
            ("ROLLBACK", QueryKind::Rollback),
            ("ROLLBACK TO `sp1`", QueryKind::Statement),
            ("ROLLBACK\nTO SAVEPOINT sp", QueryKind::Statement),
            ("XA START X'7831',X'',1", QueryKind::XaStart),
            ("XA END X'7831',X'',1", QueryKind::Statement),
            ("XA COMMIT X'7831',X'',1", QueryKind::XaCommit),
            ("XA ROLLBACK X'7831',X'',1", QueryKind::XaRollback),
            ("CREATE TABLE t (a INT)", QueryKind::Statement),
            ("BEGINNING", QueryKind::Statement),
            ("", QueryKind::Statement),
        ];
        for (statement, kind) in cases {
            assert_eq!(
                query_kind(&query_body(statement), 13),
                Ok(kind),
                "{statement:?}"
            );
        }
    }

    #[test]
    fn rejects_inconsistent_query_bodies() {
        let mut body = query_body("BEGIN");
        body[QUERY_STATUS_LEN_AT] = 200;
        assert!(query_kind(&body, 13).is_err());
        assert!(query_kind(&body[..10], 13).is_err());
        let mut body = query_body("BEGIN");
        body[QUERY_DB_LEN_AT] = 3; // the byte before the statement is then not NUL
        assert!(query_kind(&body, 13).is_err());
    }

    #[test]
    fn inflates_compressed_statements() {
        let statement = b"XA COMMIT X'7831',X'',1 -- long enough to be compressed by the server";
        let mut compressed = vec![0x81, statement.len() as u8];
        use std::io::Write;
        let mut deflater =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        deflater.write_all(statement).unwrap();
        compressed.extend(deflater.finish().unwrap());
        let mut body = query_body("");
        body.extend_from_slice(&compressed);
        assert_eq!(compressed_query_kind(&body, 13), Ok(QueryKind::XaCommit));
        let mut garbage = query_body("");
        garbage.extend_from_slice(&[0x81, 3, 1, 2, 3]);
        assert!(compressed_query_kind(&garbage, 13).is_err());
    }

    #[test]
    fn reads_rows_flags_in_both_layouts() {
        let v2 = [1, 0, 0, 0, 0, 0, 1, 0, 2, 0];
        assert_eq!(rows_flags(&v2, 10), Ok(ROWS_STMT_END));
        let pre_ga = [1, 0, 0, 0, 0, 0];
        assert_eq!(rows_flags(&pre_ga, 6), Ok(0));
        assert!(rows_flags(&[1, 2, 3], 8).is_err());
    }

    #[test]
    fn reads_maria_gtid_and_gtid_list() {
        let mut body = 42u64.to_le_bytes().to_vec();
        body.extend_from_slice(&3u32.to_le_bytes());
        body.push(maria_gtid_flags::STANDALONE | maria_gtid_flags::DDL);
        let event = maria_gtid(&body, 7).unwrap();
        assert_eq!(event.gtid.to_string(), "3-7-42");
        assert!(!event.implies_begin());
        assert!(maria_gtid(&body[..12], 7).is_err());

        let mut list = 3u32.to_le_bytes().to_vec();
        for (domain, server, seq) in [(1u32, 2u32, 5u64), (0, 1, 9), (0, 3, 11)] {
            list.extend_from_slice(&domain.to_le_bytes());
            list.extend_from_slice(&server.to_le_bytes());
            list.extend_from_slice(&seq.to_le_bytes());
        }
        assert_eq!(maria_gtid_list(&list).unwrap().to_string(), "0-3-11,1-2-5");
        assert!(maria_gtid_list(&list[..40]).is_err());
        let mut huge = list.clone();
        huge[..4].copy_from_slice(&0x0fff_ffffu32.to_le_bytes());
        assert!(maria_gtid_list(&huge).is_err());
    }

    /// The encoder matching `read_varlen_uint`, for tests: `extra` one bits, a zero bit, then
    /// the value, in `extra + 1` little-endian bytes (9 bytes from 0xff for the largest values).
    fn varlen(value: u64) -> Vec<u8> {
        for extra in 0..8usize {
            let payload_bits = 7 * (extra + 1);
            if value < (1u64 << payload_bits) {
                let raw = (value << (extra + 1)) | ((1u64 << extra) - 1);
                return raw.to_le_bytes()[..=extra].to_vec();
            }
        }
        let mut out = vec![0xff];
        out.extend_from_slice(&value.to_le_bytes());
        out
    }

    #[test]
    fn varlen_round_trips() {
        for value in [0, 1, 63, 127, 128, 300, 1 << 20, u64::MAX >> 8, u64::MAX] {
            assert_eq!(
                read_varlen_uint(&varlen(value)),
                Some((value, varlen(value).len())),
                "{value}"
            );
        }
        assert_eq!(read_varlen_uint(&[]), None);
        assert_eq!(read_varlen_uint(&[0x01]), None);
    }

    #[test]
    fn reads_previous_gtids_plain_and_tagged() {
        let uuid = [0x3e; 16];
        let mut plain = 1u64.to_le_bytes().to_vec();
        plain.extend_from_slice(&uuid);
        plain.extend_from_slice(&2u64.to_le_bytes());
        for (s, e) in [(1u64, 6u64), (7, 8)] {
            plain.extend_from_slice(&s.to_le_bytes());
            plain.extend_from_slice(&e.to_le_bytes());
        }
        let set = previous_gtids(&plain).unwrap();
        assert_eq!(
            set.to_string(),
            "3e3e3e3e-3e3e-3e3e-3e3e-3e3e3e3e3e3e:1-5:7"
        );

        let mut tagged = ((1u64 << 56) | (2 << 8)).to_le_bytes().to_vec();
        for tag in ["", "abc"] {
            tagged.extend_from_slice(&uuid);
            tagged.extend(varlen(tag.len() as u64));
            tagged.extend_from_slice(tag.as_bytes());
            tagged.extend_from_slice(&1u64.to_le_bytes());
            tagged.extend_from_slice(&1u64.to_le_bytes());
            tagged.extend_from_slice(&4u64.to_le_bytes());
        }
        let set = previous_gtids(&tagged).unwrap();
        assert_eq!(
            set.to_string(),
            "3e3e3e3e-3e3e-3e3e-3e3e-3e3e3e3e3e3e:1-3:abc:1-3"
        );

        let mut bomb = plain.clone();
        bomb[..8].copy_from_slice(&u64::MAX.wrapping_shr(8).to_le_bytes());
        assert!(previous_gtids(&bomb).is_err());
        let mut bad_interval = plain.clone();
        let at = 8 + 16 + 8;
        bad_interval[at..at + 8].copy_from_slice(&9u64.to_le_bytes());
        assert!(previous_gtids(&bad_interval).is_err());
        assert!(previous_gtids(&plain[..30]).is_err());
    }

    #[test]
    fn reads_rotate() {
        let mut body = 4u64.to_le_bytes().to_vec();
        body.extend_from_slice(b"mysql-bin.000003");
        assert_eq!(
            rotate(&body).unwrap(),
            Rotate {
                position: 4,
                next_file: "mysql-bin.000003".into()
            }
        );
    }
}
