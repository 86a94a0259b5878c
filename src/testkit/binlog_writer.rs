//! A binlog writer for tests: MySQL 5.6, 5.7 and 8.0 files and MariaDB files built from a
//! description of transactions, each with the transaction units a correct reader must find.
//!
//! The writer lays events out the way each server does (see SEMANTICS.md §3 for why the shapes
//! matter): MySQL writes GTID (or ANONYMOUS_GTID) then `BEGIN` … XID, a DDL as GTID + QUERY, and
//! in 8.0 a compressed transaction as GTID + TRANSACTION_PAYLOAD; the GTID event's header time is
//! the transaction's start and 8.0 records `immediate_commit_timestamp` and
//! `transaction_length`. MariaDB writes a GTID event (stamped with the commit time) that implies
//! BEGIN unless flagged standalone, GTID_LIST and BINLOG_CHECKPOINT at the top of each file, and
//! ANNOTATE_ROWS before rows. Files chain `log_pos`, carry CRC32 checksums, PREVIOUS_GTIDS or
//! GTID_LIST with the GTIDs of the files before, and end with ROTATE except the newest.
//!
//! MySQL GTID events are serialized by mysql_common's `GtidEvent` (the 5.7 layout is its 8.0
//! layout cut after `sequence_number`), so tagged GTIDs come out exactly as MySQL 8.4 writes
//! them.

use mysql_common::binlog::events::GtidEvent;
use mysql_common::packets::Tag as WireTag;
use mysql_common::proto::MySerialize;

use crate::binlog::checksum;
use crate::binlog::events::maria_gtid_flags;
use crate::binlog::format::{ChecksumAlg, FormatDescription};
use crate::binlog::header::{EventHeader, FLAG_BINLOG_IN_USE, FLAG_IGNORABLE};
use crate::gtid::{
    ExecutedGtids, Gtid, GtidSet, MariaGtid, MariaGtidPos, Tag, Tsid, UnitGtid, Uuid,
};

/// Which server's binlog to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterFlavor {
    /// MySQL 5.6 with `gtid_mode=OFF`: no GTID events at all.
    MySql56NoGtid,
    /// MySQL 5.6 with GTIDs (25-byte GTID events, no logical clock).
    MySql56Gtid,
    /// MySQL 5.7 with `gtid_mode=OFF`: ANONYMOUS_GTID events.
    MySql57Anonymous,
    /// MySQL 5.7 with GTIDs.
    MySql57Gtid,
    /// MySQL 8.0 with GTIDs: commit timestamps, transaction_length; tags where asked.
    MySql80Gtid,
    /// MySQL 8.0 with `gtid_mode=OFF`: ANONYMOUS_GTID events with commit timestamps.
    MySql80Anonymous,
    MariaDb,
}

impl WriterFlavor {
    pub const ALL: [WriterFlavor; 7] = [
        WriterFlavor::MySql56NoGtid,
        WriterFlavor::MySql56Gtid,
        WriterFlavor::MySql57Anonymous,
        WriterFlavor::MySql57Gtid,
        WriterFlavor::MySql80Gtid,
        WriterFlavor::MySql80Anonymous,
        WriterFlavor::MariaDb,
    ];

    fn server_version(self) -> &'static str {
        match self {
            WriterFlavor::MySql56NoGtid | WriterFlavor::MySql56Gtid => "5.6.51-log",
            WriterFlavor::MySql57Anonymous | WriterFlavor::MySql57Gtid => "5.7.44-log",
            WriterFlavor::MySql80Gtid | WriterFlavor::MySql80Anonymous => "8.0.36",
            WriterFlavor::MariaDb => "10.11.19-MariaDB-log",
        }
    }

    fn is_mariadb(self) -> bool {
        self == WriterFlavor::MariaDb
    }

    fn is_mysql80(self) -> bool {
        matches!(
            self,
            WriterFlavor::MySql80Gtid | WriterFlavor::MySql80Anonymous
        )
    }

    /// Whether units carry GTIDs (and files PREVIOUS_GTIDS / GTID_LIST).
    pub fn has_gtids(self) -> bool {
        matches!(
            self,
            WriterFlavor::MySql56Gtid
                | WriterFlavor::MySql57Gtid
                | WriterFlavor::MySql80Gtid
                | WriterFlavor::MariaDb
        )
    }

    fn has_previous_gtids(self) -> bool {
        !matches!(self, WriterFlavor::MySql56NoGtid | WriterFlavor::MariaDb)
    }

    /// Post-header lengths of types 1… as the server's FDE lists them.
    fn post_header_lens(self) -> Vec<u8> {
        let count = match self {
            WriterFlavor::MySql56NoGtid | WriterFlavor::MySql56Gtid => 35,
            WriterFlavor::MySql57Anonymous | WriterFlavor::MySql57Gtid => 38,
            WriterFlavor::MySql80Gtid | WriterFlavor::MySql80Anonymous => 41,
            WriterFlavor::MariaDb => 171,
        };
        (1..=count)
            .map(|t: u8| match t {
                1 => 56,
                2 | 165 => 13,
                4 => 8,
                6 | 12 => 18,
                8..=11 | 17 | 161 | 163 => 4,
                18 => 26,
                19 => 8,
                23..=25 | 166..=171 => 8,
                26 => 2,
                30..=32 | 39 => 10,
                33 | 34 => 42,
                36 => 18,
                37 => 52,
                162 => 19,
                _ => 0,
            })
            .collect()
    }
}

/// The shape of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrxShape {
    /// BEGIN, `statements` × (TABLE_MAP + rows with STMT_END_F), XID.
    RowDml { statements: u8 },
    /// BEGIN, INTVAR + a statement-based INSERT, XID.
    StatementDml,
    /// A DDL statement (MariaDB: standalone GTID).
    Ddl,
    /// BEGIN, a statement on a MyISAM table, ROLLBACK (logged because it cannot be undone).
    RolledBack,
    /// XA START, rows, XA END, XA_PREPARE.
    XaPrepare,
    /// XA COMMIT of an earlier prepared transaction.
    XaCommit,
    /// XA ROLLBACK of an earlier prepared transaction.
    XaRollback,
    /// A MyISAM write without BEGIN (MySQL without GTIDs only): TABLE_MAP + rows.
    NonTransactionalRows,
    /// MySQL 8.0 binlog_transaction_compression: GTID + TRANSACTION_PAYLOAD.
    Compressed,
}

impl TrxShape {
    pub fn end(self) -> &'static str {
        match self {
            TrxShape::RowDml { .. } | TrxShape::StatementDml => "xid",
            TrxShape::Ddl => "statement",
            TrxShape::RolledBack => "rollback",
            TrxShape::XaPrepare => "xa-prepare",
            TrxShape::XaCommit => "xa-commit",
            TrxShape::XaRollback => "xa-rollback",
            TrxShape::NonTransactionalRows => "rows",
            TrxShape::Compressed => "payload",
        }
    }

    /// Whether `flavor` can write this shape.
    pub fn fits(self, flavor: WriterFlavor) -> bool {
        match self {
            TrxShape::NonTransactionalRows => flavor == WriterFlavor::MySql56NoGtid,
            TrxShape::Compressed => flavor.is_mysql80(),
            // XA_PREPARE_LOG_EVENT arrived in MySQL 5.7.7; 5.6 did not log XA PREPARE.
            TrxShape::XaPrepare | TrxShape::XaCommit | TrxShape::XaRollback => !matches!(
                flavor,
                WriterFlavor::MySql56NoGtid | WriterFlavor::MySql56Gtid
            ),
            _ => true,
        }
    }
}

/// One transaction to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrxSpec {
    pub shape: TrxShape,
    /// Header time of the statements (and of MySQL's GTID event).
    pub begin_ts: u32,
    /// Header time of the commit (and of MariaDB's GTID event).
    pub commit_ts: u32,
    /// Microseconds added to `commit_ts` in MySQL 8.0's `immediate_commit_timestamp`.
    pub commit_micros: u32,
    /// MariaDB: the replication domain (its own sequence numbers); MySQL: which of two server
    /// UUIDs.
    pub domain: u32,
    /// MariaDB: the server_id; MySQL 8.0: a tag when non-zero.
    pub origin: u32,
    /// GTID sequence numbers to skip before this one (a gap, as after a filtered transaction).
    pub gtid_gap: u64,
}

impl TrxSpec {
    /// One row-based DML statement begun at `begin_ts` and committed at `commit_ts` (whole
    /// seconds), in domain 0 of origin 0, with no gap before its GTID: the usual transaction,
    /// which the `with_*` methods change one field at a time.
    pub fn at(begin_ts: u32, commit_ts: u32) -> TrxSpec {
        TrxSpec {
            shape: TrxShape::RowDml { statements: 1 },
            begin_ts,
            commit_ts,
            commit_micros: 0,
            domain: 0,
            origin: 0,
            gtid_gap: 0,
        }
    }

    /// Begun and committed in the same second.
    pub fn in_second(ts: u32) -> TrxSpec {
        TrxSpec::at(ts, ts)
    }

    pub fn with_shape(self, shape: TrxShape) -> TrxSpec {
        TrxSpec { shape, ..self }
    }

    /// Microseconds added to the commit second in `immediate_commit_timestamp`.
    pub fn with_micros(self, commit_micros: u32) -> TrxSpec {
        TrxSpec {
            commit_micros,
            ..self
        }
    }

    pub fn with_domain(self, domain: u32) -> TrxSpec {
        TrxSpec { domain, ..self }
    }

    pub fn with_origin(self, origin: u32) -> TrxSpec {
        TrxSpec { origin, ..self }
    }

    /// `gtid_gap` sequence numbers skipped before this transaction's GTID.
    pub fn with_gtid_gap(self, gtid_gap: u64) -> TrxSpec {
        TrxSpec { gtid_gap, ..self }
    }
}

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileSpec {
    /// Creation second (the FDE's header time).
    pub created: u32,
    pub trxs: Vec<TrxSpec>,
    /// What follows the last transaction in the newest file.
    pub trailing: Trailing,
}

/// The state a newest file may be caught in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trailing {
    #[default]
    Nothing,
    /// A transaction being written: all its events but the XID.
    OpenTransaction,
    /// An event being written: its first `n` bytes (1..=event size - 1).
    PartialEvent(u16),
}

/// A unit as a correct reader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedUnit {
    pub file: String,
    pub pos: u64,
    pub end_pos: u64,
    pub begin_ts: u32,
    pub end_ts: u32,
    /// The `commit` basis time in µs.
    pub commit_us: i64,
    pub gtid: Option<String>,
    pub gtid_before: String,
    pub end: &'static str,
}

/// A written file and what it holds.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub units: Vec<ExpectedUnit>,
    pub created: u32,
}

/// The UUIDs MySQL transactions come from.
pub const MYSQL_UUIDS: [Uuid; 2] = [Uuid([0x3e; 16]), Uuid([0xa1; 16])];

/// The tags MySQL 8.0 transactions may carry (`origin` 1 and 2).
const TAGS: [&str; 2] = ["blue", "ops_1"];

/// Writes a sequence of files (`<base>.000001`, …), each after the one before.
pub struct SequenceWriter {
    flavor: WriterFlavor,
    base: String,
    /// Bytes of row image in each rows event.
    row_image: usize,
    executed: ExecutedGtids,
    next_gno: [u64; 2],
    next_seq: std::collections::BTreeMap<u32, u64>,
    files: usize,
    last_commit_us: i64,
}

impl SequenceWriter {
    pub fn new(flavor: WriterFlavor, base: &str) -> SequenceWriter {
        SequenceWriter {
            flavor,
            base: base.to_owned(),
            executed: match flavor {
                WriterFlavor::MariaDb => ExecutedGtids::MariaDb(MariaGtidPos::new()),
                f if f.has_gtids() => ExecutedGtids::MySql(GtidSet::new()),
                _ => ExecutedGtids::None,
            },
            next_gno: [1, 1],
            next_seq: Default::default(),
            files: 0,
            row_image: 7,
            last_commit_us: 0,
        }
    }

    /// Lets the next MySQL 8.0 commit timestamp be lower than the last one, as after the server's
    /// clock stepped back (the writer otherwise keeps them rising, as the server does).
    pub fn step_clock_back(&mut self) {
        self.last_commit_us = 0;
    }

    /// Makes each rows event carry `bytes` of row image (default 7), for realistic sizes.
    pub fn with_row_image(mut self, bytes: usize) -> SequenceWriter {
        self.row_image = bytes.max(1);
        self
    }

    pub fn file_name(&self, index: usize) -> String {
        format!("{}.{:06}", self.base, index + 1)
    }

    /// Writes a long file of `count` transactions made by `spec`, then a short newest file of
    /// `newest` transactions shaped like the first ones and committed two seconds after the
    /// long file's last transaction, and an index naming both, into `dir` (for benchmarks).
    /// Returns the commit second of the long file's last transaction.
    pub fn write_long_and_newest(
        &mut self,
        dir: &std::path::Path,
        created: u32,
        count: u32,
        newest: u32,
        spec: impl Fn(u32) -> TrxSpec,
    ) -> std::io::Result<u32> {
        let last = count.checked_sub(1).map_or(created, |i| spec(i).commit_ts);
        let long = self.write_file(
            &FileSpec {
                created,
                trxs: (0..count).map(&spec).collect(),
                trailing: Trailing::Nothing,
            },
            false,
        );
        std::fs::write(dir.join(&long.name), &long.bytes)?;
        let long_name = long.name.clone();
        drop(long);
        let short = self.write_file(
            &FileSpec {
                created: last + 1,
                trxs: (0..newest)
                    .map(|i| TrxSpec {
                        begin_ts: last + 2,
                        commit_ts: last + 2,
                        ..spec(i)
                    })
                    .collect(),
                trailing: Trailing::Nothing,
            },
            true,
        );
        std::fs::write(dir.join(&short.name), &short.bytes)?;
        std::fs::write(
            dir.join(format!("{}.index", self.base)),
            format!("./{long_name}\n./{}\n", short.name),
        )?;
        Ok(last)
    }

    /// Writes the next file. `newest` leaves it without ROTATE and with the in-use flag set.
    /// The ROTATE carries the time of the file's last transaction.
    pub fn write_file(&mut self, spec: &FileSpec, newest: bool) -> WrittenFile {
        self.write_file_rotated(spec, newest, None)
    }

    /// [`SequenceWriter::write_file`] with the ROTATE dated `rotated_at` when given. A server
    /// dates the ROTATE (and the next file's FDE) with the start time of the statement whose
    /// commit rotated the log (MySQL's `Log_event::get_time` takes the session's statement start
    /// time; MariaDB does the same): a long statement dates them before transactions other
    /// sessions committed into this file (SEMANTICS.md §6).
    pub fn write_file_rotated(
        &mut self,
        spec: &FileSpec,
        newest: bool,
        rotated_at: Option<u32>,
    ) -> WrittenFile {
        let name = self.file_name(self.files);
        self.files += 1;
        let mut out = EventWriter::new(self.flavor);
        out.row_image = self.row_image;
        out.last_commit_us = self.last_commit_us;
        out.format_description(spec.created, newest);
        match (&self.executed, self.flavor) {
            (ExecutedGtids::MariaDb(pos), _) => {
                out.gtid_list(spec.created, pos);
                out.binlog_checkpoint(spec.created, &name);
            }
            (ExecutedGtids::MySql(set), _) => out.previous_gtids(spec.created, set),
            (ExecutedGtids::None, flavor) if flavor.has_previous_gtids() => {
                out.previous_gtids(spec.created, &GtidSet::new());
            }
            _ => {}
        }
        let mut units = Vec::new();
        for trx in &spec.trxs {
            let gtid = self.next_gtid(trx);
            let gtid_before = self.executed.to_string();
            let (pos, begin_ts, end_ts, commit_us) = out.transaction(trx, gtid.as_ref());
            units.push(ExpectedUnit {
                file: name.clone(),
                pos,
                end_pos: out.position(),
                begin_ts,
                end_ts,
                commit_us,
                gtid: gtid.as_ref().map(ToString::to_string),
                gtid_before,
                end: trx.shape.end(),
            });
            if let Some(gtid) = &gtid {
                self.executed.apply(gtid);
            }
        }
        self.last_commit_us = out.last_commit_us;
        let last = spec
            .trxs
            .last()
            .map_or(spec.created, |t| t.commit_ts.max(t.begin_ts));
        if !newest {
            out.rotate(rotated_at.unwrap_or(last), &self.file_name(self.files));
        } else {
            match spec.trailing {
                Trailing::Nothing => {}
                Trailing::OpenTransaction => {
                    let trx = TrxSpec {
                        shape: TrxShape::RowDml { statements: 1 },
                        begin_ts: last,
                        commit_ts: last,
                        commit_micros: 0,
                        domain: 0,
                        origin: 0,
                        gtid_gap: 0,
                    };
                    // Its GTID is not consumed: the transaction has not committed.
                    let gtid = self.peek_gtid(&trx);
                    out.transaction(&trx, gtid.as_ref());
                    out.drop_last_event();
                }
                Trailing::PartialEvent(n) => {
                    let start = out.bytes.len();
                    out.query(last, "INSERT INTO t VALUES (1), (2), (3)");
                    let keep = (usize::from(n)).clamp(1, out.bytes.len() - start - 1);
                    out.bytes.truncate(start + keep);
                }
            }
        }
        WrittenFile {
            name,
            bytes: out.finish(),
            units,
            created: spec.created,
        }
    }

    fn peek_gtid(&self, trx: &TrxSpec) -> Option<UnitGtid> {
        let mut copy = SequenceWriter {
            flavor: self.flavor,
            base: String::new(),
            executed: ExecutedGtids::None,
            next_gno: self.next_gno,
            next_seq: self.next_seq.clone(),
            files: 0,
            row_image: self.row_image,
            last_commit_us: self.last_commit_us,
        };
        copy.next_gtid(trx)
    }

    fn next_gtid(&mut self, trx: &TrxSpec) -> Option<UnitGtid> {
        if !self.flavor.has_gtids() {
            return None;
        }
        if self.flavor.is_mariadb() {
            let seq = self.next_seq.entry(trx.domain).or_insert(1);
            *seq += trx.gtid_gap;
            let gtid = MariaGtid {
                domain: trx.domain,
                server: trx.origin.max(1),
                seq: *seq,
            };
            *seq += 1;
            return Some(UnitGtid::MariaDb(gtid));
        }
        let source = (trx.domain % 2) as usize;
        let tag = (self.flavor == WriterFlavor::MySql80Gtid && trx.origin > 0)
            .then(|| Tag::parse(TAGS[(trx.origin as usize - 1) % TAGS.len()]))
            .flatten();
        // Tagged GTIDs number on their own.
        let counter = if tag.is_some() { 1 } else { source };
        let uuid = MYSQL_UUIDS[if tag.is_some() { 0 } else { source }];
        self.next_gno[counter] += trx.gtid_gap;
        let gno = self.next_gno[counter];
        self.next_gno[counter] += 1;
        Some(UnitGtid::MySql(Gtid {
            tsid: Tsid { uuid, tag },
            gno,
        }))
    }
}

/// Appends events with chained `log_pos` and checksums.
struct EventWriter {
    flavor: WriterFlavor,
    bytes: Vec<u8>,
    last_event: usize,
    xid: u64,
    row_image: usize,
    /// The logical clock: MySQL numbers the transactions of each file from 1
    /// (`sequence_number`), each depending on the one before (`last_committed`).
    sequence: u64,
    /// MySQL 8.0's `immediate_commit_timestamp` of the transaction before: the server takes it
    /// at commit, in binlog order, so it never goes backwards (a transaction whose spec commits
    /// earlier gets this time instead). Header times may go backwards freely.
    last_commit_us: i64,
}

const TABLE_ID: [u8; 6] = [0x42, 0, 0, 0, 0, 0];

impl EventWriter {
    fn new(flavor: WriterFlavor) -> EventWriter {
        EventWriter {
            flavor,
            bytes: crate::binlog::reader::BINLOG_MAGIC.to_vec(),
            last_event: 4,
            xid: 100,
            row_image: 7,
            sequence: 0,
            last_commit_us: 0,
        }
    }

    fn position(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }

    fn drop_last_event(&mut self) {
        self.bytes.truncate(self.last_event);
    }

    fn event(&mut self, timestamp: u32, type_code: u8, flags: u16, body: &[u8]) {
        let size = 19 + body.len() + checksum::CHECKSUM_LEN;
        let offset = self.bytes.len();
        self.last_event = offset;
        let header = EventHeader {
            timestamp,
            type_code,
            server_id: 1,
            event_size: size as u32,
            log_pos: (offset + size) as u32,
            flags,
        };
        let mut event = header.serialize().to_vec();
        event.extend_from_slice(body);
        checksum::append(&mut event);
        self.bytes.extend_from_slice(&event);
    }

    fn event_from(&mut self, timestamp: u32, type_code: u8, server_id: u32, body: &[u8]) {
        let start = self.bytes.len();
        self.event(timestamp, type_code, 0, body);
        // Rewrite the server id and the checksum.
        self.bytes[start + 5..start + 9].copy_from_slice(&server_id.to_le_bytes());
        self.bytes
            .truncate(self.bytes.len() - checksum::CHECKSUM_LEN);
        let mut event = self.bytes.split_off(start);
        checksum::append(&mut event);
        self.bytes.extend_from_slice(&event);
        self.last_event = start;
    }

    fn format_description(&mut self, created: u32, newest: bool) {
        let body = FormatDescription::encode_body(
            self.flavor.server_version(),
            created,
            &self.flavor.post_header_lens(),
            Some(ChecksumAlg::Crc32),
        );
        self.event(created, 15, 0, &body);
        if newest {
            // A server sets the in-use flag without updating the checksum.
            self.bytes[4 + 17] |= FLAG_BINLOG_IN_USE as u8;
        }
    }

    fn previous_gtids(&mut self, timestamp: u32, set: &GtidSet) {
        let tagged = set.sources().any(|(tsid, _)| tsid.tag.is_some());
        let count = set.sources().count() as u64;
        let mut body = if tagged {
            ((1u64 << 56) | (count << 8)).to_le_bytes().to_vec()
        } else {
            count.to_le_bytes().to_vec()
        };
        for (tsid, intervals) in set.sources() {
            body.extend_from_slice(&tsid.uuid.0);
            if tagged {
                let tag = tsid.tag.as_ref().map_or("", Tag::as_str);
                body.push((tag.len() as u8) << 1);
                body.extend_from_slice(tag.as_bytes());
            }
            body.extend_from_slice(&(intervals.intervals().len() as u64).to_le_bytes());
            for &(first, last) in intervals.intervals() {
                body.extend_from_slice(&first.to_le_bytes());
                body.extend_from_slice(&(last + 1).to_le_bytes());
            }
        }
        self.event(timestamp, 35, FLAG_IGNORABLE, &body);
    }

    fn gtid_list(&mut self, timestamp: u32, pos: &MariaGtidPos) {
        let entries: Vec<MariaGtid> = pos.iter().collect();
        let mut body = (entries.len() as u32).to_le_bytes().to_vec();
        for gtid in entries {
            body.extend_from_slice(&gtid.domain.to_le_bytes());
            body.extend_from_slice(&gtid.server.to_le_bytes());
            body.extend_from_slice(&gtid.seq.to_le_bytes());
        }
        self.event(timestamp, 163, 0, &body);
    }

    fn binlog_checkpoint(&mut self, timestamp: u32, name: &str) {
        let mut body = (name.len() as u32).to_le_bytes().to_vec();
        body.extend_from_slice(name.as_bytes());
        self.event(timestamp, 161, 0, &body);
    }

    fn rotate(&mut self, timestamp: u32, next: &str) {
        let mut body = 4u64.to_le_bytes().to_vec();
        body.extend_from_slice(next.as_bytes());
        self.event(timestamp, 4, 0, &body);
    }

    fn query(&mut self, timestamp: u32, statement: &str) {
        let mut body = Vec::with_capacity(40 + statement.len());
        body.extend_from_slice(&7u32.to_le_bytes()); // thread id
        body.extend_from_slice(&0u32.to_le_bytes()); // exec time
        body.push(4); // db name length
        body.extend_from_slice(&0u16.to_le_bytes()); // error code
        let status = [0u8, 0, 0, 0, 0]; // Q_FLAGS2_CODE and its value
        body.extend_from_slice(&(status.len() as u16).to_le_bytes());
        body.extend_from_slice(&status);
        body.extend_from_slice(b"shop\0");
        body.extend_from_slice(statement.as_bytes());
        self.event(timestamp, 2, 0, &body);
    }

    fn xid(&mut self, timestamp: u32) {
        self.xid += 1;
        let xid = self.xid;
        self.event(timestamp, 16, 0, &xid.to_le_bytes());
    }

    fn table_map(&mut self, timestamp: u32) {
        let mut body = TABLE_ID.to_vec();
        body.extend_from_slice(&[1, 0, 4]);
        body.extend_from_slice(b"shop\0\x01t\0\x01\x03\x00\x00");
        self.event(timestamp, 19, 0, &body);
    }

    fn rows(&mut self, timestamp: u32, stmt_end: bool) {
        let (type_code, v2) = match self.flavor {
            WriterFlavor::MariaDb => (23, false),
            _ => (30, true),
        };
        let mut body = TABLE_ID.to_vec();
        body.extend_from_slice(&u16::from(stmt_end).to_le_bytes());
        if v2 {
            body.extend_from_slice(&2u16.to_le_bytes());
        }
        body.extend_from_slice(&[1, 0xff]);
        body.extend((0..self.row_image.saturating_sub(2)).map(|i| i as u8));
        self.event(timestamp, type_code, 0, &body);
    }

    fn annotate(&mut self, timestamp: u32) {
        if self.flavor.is_mariadb() {
            self.event(timestamp, 160, 0, b"INSERT INTO shop.t VALUES (42)");
        }
    }

    fn row_statement(&mut self, timestamp: u32) {
        self.annotate(timestamp);
        self.table_map(timestamp);
        self.rows(timestamp, true);
    }

    fn xa_prepare(&mut self, timestamp: u32) {
        let mut body = vec![0u8];
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&2u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(b"x1");
        self.event(timestamp, 38, 0, &body);
    }

    /// Writes one transaction; returns (position, first event's time, last event's time, the
    /// `commit` basis time in µs).
    fn transaction(&mut self, trx: &TrxSpec, gtid: Option<&UnitGtid>) -> (u64, u32, u32, i64) {
        let pos = self.position();
        let commit = trx.commit_ts;
        let mut recorded_us = i64::from(commit) * 1_000_000 + i64::from(trx.commit_micros);
        if self.flavor.is_mysql80() {
            recorded_us = recorded_us.max(self.last_commit_us);
            self.last_commit_us = recorded_us;
        }
        if self.flavor.is_mariadb() {
            let flags = match trx.shape {
                TrxShape::Ddl | TrxShape::XaCommit | TrxShape::XaRollback => {
                    maria_gtid_flags::STANDALONE
                }
                TrxShape::XaPrepare => {
                    maria_gtid_flags::TRANSACTIONAL | maria_gtid_flags::PREPARED_XA
                }
                _ => maria_gtid_flags::TRANSACTIONAL,
            };
            if let Some(UnitGtid::MariaDb(gtid)) = gtid {
                let mut body = gtid.seq.to_le_bytes().to_vec();
                body.extend_from_slice(&gtid.domain.to_le_bytes());
                body.push(flags);
                body.extend_from_slice(&[0; 6]);
                self.event_from(commit, 162, gtid.server, &body);
            }
            self.body_of(trx, false);
        } else {
            if self.flavor != WriterFlavor::MySql56NoGtid {
                self.mysql_gtid(trx, gtid, recorded_us as u64);
            }
            self.body_of(trx, true);
        }
        let at = pos as usize;
        let first_ts = u32::from_le_bytes([
            self.bytes[at],
            self.bytes[at + 1],
            self.bytes[at + 2],
            self.bytes[at + 3],
        ]);
        let commit_us = if self.flavor.is_mysql80() {
            recorded_us
        } else {
            i64::from(commit) * 1_000_000
        };
        (pos, first_ts, commit, commit_us)
    }

    /// The events after the GTID event; the last one is stamped with the commit time.
    fn body_of(&mut self, trx: &TrxSpec, explicit_begin: bool) {
        let (begin, commit) = (trx.begin_ts, trx.commit_ts);
        match trx.shape {
            TrxShape::RowDml { statements } => {
                if explicit_begin {
                    self.query(begin, "BEGIN");
                }
                for _ in 0..statements.max(1) {
                    self.row_statement(begin);
                }
                self.xid(commit);
            }
            TrxShape::StatementDml => {
                if explicit_begin {
                    self.query(begin, "BEGIN");
                }
                self.event(begin, 5, 0, &[2, 7, 0, 0, 0, 0, 0, 0, 0]);
                self.query(begin, "INSERT INTO t (v) VALUES (42)");
                self.xid(commit);
            }
            TrxShape::Ddl => self.query(commit, "CREATE TABLE t2 (id INT PRIMARY KEY)"),
            TrxShape::RolledBack => {
                if explicit_begin {
                    self.query(begin, "BEGIN");
                }
                self.query(begin, "INSERT INTO myisam_t VALUES (1)");
                self.query(commit, "ROLLBACK");
            }
            TrxShape::XaPrepare => {
                if explicit_begin {
                    self.query(begin, "XA START X'7831',X'',1");
                }
                self.row_statement(begin);
                self.query(commit, "XA END X'7831',X'',1");
                self.xa_prepare(commit);
            }
            TrxShape::XaCommit => self.query(commit, "XA COMMIT X'7831',X'',1"),
            TrxShape::XaRollback => self.query(commit, "XA ROLLBACK X'7831',X'',1"),
            TrxShape::NonTransactionalRows => {
                self.table_map(commit);
                self.rows(commit, true);
            }
            TrxShape::Compressed => {
                self.event(
                    commit,
                    40,
                    0,
                    &[1, 8, 2, 1, 3, 1, 0, 0xde, 0xad, 0xbe, 0xef],
                );
            }
        }
    }

    /// A MySQL GTID / ANONYMOUS_GTID / GTID_TAGGED event whose `transaction_length` covers the
    /// whole transaction (found by writing the rest first, then settling the length).
    fn mysql_gtid(&mut self, trx: &TrxSpec, gtid: Option<&UnitGtid>, commit_us: u64) {
        let (sid, gno, tag) = match gtid {
            Some(UnitGtid::MySql(g)) => (g.tsid.uuid.0, g.gno, g.tsid.tag.clone()),
            _ => ([0; 16], 0, None),
        };
        let type_code = match (gtid, &tag) {
            (None, _) => 34,
            (Some(_), Some(_)) => 42,
            (Some(_), None) => 33,
        };
        // Measure the rest of the transaction by writing it into a scratch writer.
        let mut scratch = EventWriter::new(self.flavor);
        scratch.row_image = self.row_image;
        scratch.bytes.clear();
        let rest_len = {
            scratch.body_of(trx, true);
            scratch.bytes.len() as u64
        };
        self.sequence += 1;
        let sequence = self.sequence;
        let body_for = |tx_len: u64| -> Vec<u8> {
            let mut event = match &tag {
                Some(tag) => GtidEvent::new_tagged(
                    sid,
                    WireTag::new(tag.as_str().to_owned()).expect("valid tag"),
                    gno,
                ),
                None => GtidEvent::new(sid, gno),
            };
            if self.flavor != WriterFlavor::MySql56Gtid {
                event = event
                    .with_lc_typecode()
                    .with_last_committed(sequence - 1)
                    .with_sequence_number(sequence)
                    .with_immediate_commit_timestamp(commit_us)
                    .with_original_commit_timestamp(commit_us)
                    .with_tx_length(tx_len)
                    .with_immediate_server_version(80036)
                    .with_original_server_version(80036);
            }
            let mut body = Vec::new();
            event.serialize(&mut body);
            if matches!(
                self.flavor,
                WriterFlavor::MySql57Gtid | WriterFlavor::MySql57Anonymous
            ) {
                body.truncate(42);
            }
            body
        };
        let mut tx_len = rest_len + 19 + 4 + body_for(0).len() as u64;
        for _ in 0..4 {
            let next = rest_len + 19 + 4 + body_for(tx_len).len() as u64;
            if next == tx_len {
                break;
            }
            tx_len = next;
        }
        let body = body_for(if self.flavor.is_mysql80() { tx_len } else { 0 });
        self.event(trx.begin_ts, type_code, 0, &body);
    }
}

/// Rewrites the `immediate_commit_timestamp` of the MySQL 8.0 GTID event at `pos` of a written
/// file to `commit_us`, and its checksum: a clock going backwards, which the writer never makes.
pub fn forge_commit_us(bytes: &mut [u8], pos: u64, commit_us: u64) {
    let start = pos as usize;
    let size = u32::from_le_bytes(bytes[start + 9..start + 13].try_into().unwrap()) as usize;
    let event = &mut bytes[start..start + size];
    // After the header (19) and the post-header (42): 7 bytes, the top bit flagging an
    // original_commit_timestamp after it.
    let field = &mut event[19 + 42..19 + 42 + 7];
    let flag = field[6] & 0x80;
    field.copy_from_slice(&commit_us.to_le_bytes()[..7]);
    field[6] = (field[6] & 0x7f) | flag;
    let body_end = size - checksum::CHECKSUM_LEN;
    let crc = crc32fast::hash(&event[..body_end]);
    event[body_end..].copy_from_slice(&crc.to_le_bytes());
}
