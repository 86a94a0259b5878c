//! Events → transaction units (SEMANTICS.md §3) with their times (§4) and the executed GTIDs
//! before each (§5).
//!
//! A unit starts at a GTID-family event or, when none is open, at the first event of a statement
//! (QUERY, INTVAR/RAND/USER_VAR, TABLE_MAP, ROWS_QUERY, ANNOTATE_ROWS, a rows event). It ends at
//! XID, XA_PREPARE, TRANSACTION_PAYLOAD, a QUERY `COMMIT`/`ROLLBACK`/`XA COMMIT`/`XA ROLLBACK`, a
//! statement outside a transaction, or a rows event with STMT_END_F outside a transaction. A
//! transaction is opened by `BEGIN`, `XA START` and a MariaDB GTID without the standalone flag.
//!
//! Only the bodies that decide boundaries are decoded: GTID events, QUERY events, rows events
//! outside a transaction, and PREVIOUS_GTIDS / GTID_LIST when GTIDs are tracked.
//!
//! Tolerance, each with a warning: an unknown event type is skipped (silently when marked
//! ignorable); a transaction that never ends (a new GTID arrives, or a file other than the newest
//! ends) is dropped, since it never committed. A transaction open at the end of the newest file
//! is being written and is dropped without a warning.

use std::fmt;

use crate::binlog::events::{self, QueryKind, ROWS_STMT_END};
use crate::binlog::{
    BinlogError, BinlogWarning, EventRef, EventSource, EventType, Trouble, UnitRole,
};
use crate::gtid::{ExecutedGtids, UnitGtid};

/// Which clock dates a unit (SEMANTICS.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeBasis {
    /// The commit time: MySQL 8's `immediate_commit_timestamp` (µs), else the header time of the
    /// unit's last event.
    Commit,
    /// The header time of the unit's first event, as TiDB DM uses.
    Begin,
}

impl TimeBasis {
    /// `commit` or `begin`, as the command line and every output name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeBasis::Commit => "commit",
            TimeBasis::Begin => "begin",
        }
    }
}

impl fmt::Display for TimeBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What ended a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitEnd {
    /// An XID event: the commit of a transactional engine's transaction.
    Xid,
    /// `XA PREPARE`: the first phase of an XA transaction, which the binlog records as a unit.
    XaPrepare,
    /// A `COMMIT` query event (a non-transactional engine, or MariaDB's statement form).
    Commit,
    /// A `ROLLBACK` query event.
    Rollback,
    /// `XA COMMIT` of a prepared XA transaction.
    XaCommit,
    /// `XA ROLLBACK` of a prepared XA transaction.
    XaRollback,
    /// A statement outside a transaction (DDL, statement-based DML, LOAD DATA).
    Statement,
    /// A rows event with STMT_END_F outside a transaction.
    Rows,
    /// TRANSACTION_PAYLOAD (a compressed transaction).
    Payload,
}

impl UnitEnd {
    /// The name JSON output uses (`xid`, `xa-prepare`, `commit`…).
    pub fn as_str(self) -> &'static str {
        match self {
            UnitEnd::Xid => "xid",
            UnitEnd::XaPrepare => "xa-prepare",
            UnitEnd::Commit => "commit",
            UnitEnd::Rollback => "rollback",
            UnitEnd::XaCommit => "xa-commit",
            UnitEnd::XaRollback => "xa-rollback",
            UnitEnd::Statement => "statement",
            UnitEnd::Rows => "rows",
            UnitEnd::Payload => "payload",
        }
    }
}

impl fmt::Display for UnitEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One transaction unit of a binlog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionUnit {
    /// Offset of the unit's first event: where a replica starts to replay it.
    pub pos: u64,
    /// Offset just past the unit's last event.
    pub end_pos: u64,
    /// Header seconds of the first event.
    pub begin_ts: u32,
    /// Header seconds of the last event.
    pub end_ts: u32,
    /// `immediate_commit_timestamp` in µs, where the binlog records it (MySQL ≥ 8.0.1).
    pub recorded_commit_us: Option<u64>,
    /// The unit's GTID; `None` for anonymous transactions and binlogs without GTIDs.
    pub gtid: Option<UnitGtid>,
    /// What ended the unit.
    pub end: UnitEnd,
    /// `transaction_length` from a MySQL 8 GTID event.
    pub transaction_length: Option<u64>,
    /// `server_id` in the header of the unit's first event: the server that originated it.
    pub server_id: u32,
}

impl TransactionUnit {
    /// The `commit` basis time in µs.
    pub fn commit_us(&self) -> i64 {
        self.recorded_commit_us
            .and_then(|us| i64::try_from(us).ok())
            .unwrap_or(i64::from(self.end_ts) * 1_000_000)
    }

    /// The `begin` basis time in µs.
    pub fn begin_us(&self) -> i64 {
        i64::from(self.begin_ts) * 1_000_000
    }

    /// The unit's time in µs on `basis`.
    pub fn time_us(&self, basis: TimeBasis) -> i64 {
        match basis {
            TimeBasis::Commit => self.commit_us(),
            TimeBasis::Begin => self.begin_us(),
        }
    }
}

/// Reads transaction units from an [`EventSource`].
pub struct UnitReader<S> {
    source: S,
    track_gtids: bool,
    /// Executed GTIDs before the unit last returned (its own GTID is `pending`).
    executed: ExecutedGtids,
    /// The GTID of the unit last returned, added to `executed` when reading resumes, so that
    /// asking for the GTIDs before a unit costs nothing.
    pending: Option<UnitGtid>,
    /// What the source declared at its start (PREVIOUS_GTIDS / GTID_LIST).
    initial: Option<ExecutedGtids>,
    open: Option<TransactionUnit>,
    in_transaction: bool,
    warnings: Vec<BinlogWarning>,
    warned_types: [bool; 256],
    ended_open: bool,
}

impl<S: EventSource> UnitReader<S> {
    /// `track_gtids` keeps the executed GTID set up to date (costs a set update per unit).
    pub fn new(source: S, track_gtids: bool) -> UnitReader<S> {
        UnitReader {
            source,
            track_gtids,
            executed: ExecutedGtids::None,
            pending: None,
            initial: None,
            open: None,
            in_transaction: false,
            warnings: Vec::new(),
            warned_types: [false; 256],
            ended_open: false,
        }
    }

    /// Like [`UnitReader::new`] for a source that starts in the middle of a binlog, at a unit
    /// start, where `executed` were the GTIDs executed (use `ExecutedGtids::None` to collect
    /// only those of the units read from here).
    pub fn resume(source: S, track_gtids: bool, executed: ExecutedGtids) -> UnitReader<S> {
        UnitReader {
            executed,
            ..UnitReader::new(source, track_gtids)
        }
    }

    /// Whether the source ended inside a unit (the unit was dropped).
    pub fn ended_open(&self) -> bool {
        self.ended_open
    }

    /// The event source being read.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The event source being read, to move it.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// The event source, where the reader stopped.
    pub fn into_source(self) -> S {
        self.source
    }

    /// After [`UnitReader::next_unit`] returned a unit: the GTIDs executed before it
    /// (SEMANTICS.md §5). After it returned `None`: everything the source holds.
    /// Always empty when GTIDs are not tracked.
    pub fn executed(&self) -> &ExecutedGtids {
        &self.executed
    }

    /// The PREVIOUS_GTIDS / GTID_LIST the source started with, once read (`None` for binlogs
    /// without such an event, or when GTIDs are not tracked).
    pub fn initial_gtids(&self) -> Option<&ExecutedGtids> {
        self.initial.as_ref()
    }

    /// What was read past without failing (damaged or unknown events).
    pub fn warnings(&self) -> &[BinlogWarning] {
        &self.warnings
    }

    /// The warnings so far, leaving none.
    pub fn take_warnings(&mut self) -> Vec<BinlogWarning> {
        std::mem::take(&mut self.warnings)
    }

    fn warn(&mut self, offset: u64, trouble: Trouble) {
        self.warnings.push(BinlogWarning {
            file: self.source.name().to_owned(),
            offset,
            trouble,
        });
    }

    fn corrupt(&self, offset: u64, what: impl std::fmt::Display) -> BinlogError {
        BinlogError::Corrupt {
            file: self.source.name().to_owned(),
            offset,
            what: what.to_string(),
        }
    }

    /// Starts a unit at `event` unless one is open, and extends the open one to include it.
    fn extend(&mut self, event: EventRef) {
        let unit = self.open.get_or_insert_with(|| TransactionUnit {
            pos: event.offset,
            end_pos: event.end(),
            begin_ts: event.header.timestamp,
            end_ts: event.header.timestamp,
            recorded_commit_us: None,
            gtid: None,
            end: UnitEnd::Statement,
            transaction_length: None,
            server_id: event.header.server_id,
        });
        unit.end_pos = event.end();
        unit.end_ts = event.header.timestamp;
    }

    /// Ends the open unit (if any) at the current event; `next_unit` hands it out.
    fn finish(&mut self, end: UnitEnd) -> Option<UnitEnd> {
        self.in_transaction = false;
        self.open.as_ref().map(|_| end)
    }

    /// The next complete unit, or `None` when the source ends.
    pub fn next_unit(&mut self) -> Result<Option<TransactionUnit>, BinlogError> {
        if let Some(gtid) = self.pending.take() {
            self.executed.apply(&gtid);
        }
        loop {
            let Some(event) = self.source.next_event()? else {
                self.end_of_source();
                return Ok(None);
            };
            let event_type = match event.header.event_type() {
                Ok(event_type) => event_type,
                Err(_) => {
                    self.unknown_type(event);
                    continue;
                }
            };
            if let Some(end) = self.on_event(event, event_type)?
                && let Some(mut unit) = self.open.take()
            {
                unit.end = end;
                if self.track_gtids {
                    self.pending = unit.gtid.clone();
                }
                return Ok(Some(unit));
            }
        }
    }

    /// A transaction still open where the source ends never committed (or is being written).
    fn end_of_source(&mut self) {
        self.in_transaction = false;
        self.ended_open |= self.open.is_some();
        if let Some(open) = self.open.take()
            && !self.source.may_grow()
        {
            self.warn(open.pos, Trouble::EndsBeforeCommit);
        }
    }

    fn unknown_type(&mut self, event: EventRef) {
        let code = usize::from(event.header.type_code);
        if !event.header.is_ignorable() && !self.warned_types[code] {
            self.warned_types[code] = true;
            self.warn(
                event.offset,
                Trouble::UnknownEvent {
                    type_code: event.header.type_code,
                },
            );
        }
    }

    /// Handles one event; returns how the open unit ended, if this event ended it.
    #[inline]
    fn on_event(
        &mut self,
        event: EventRef,
        event_type: EventType,
    ) -> Result<Option<UnitEnd>, BinlogError> {
        let offset = event.offset;
        match event_type.role() {
            UnitRole::Outside => {
                self.on_outside_event(event, event_type)?;
                Ok(None)
            }
            UnitRole::Gtid => {
                self.on_gtid(event, event_type)?;
                Ok(None)
            }
            UnitRole::Query => {
                let post_header_len = self.post_header_len(event_type, 13);
                let body = self.source.body()?;
                let kind = if event_type == EventType::MariaQueryCompressed {
                    events::compressed_query_kind(body, post_header_len)
                } else {
                    events::query_kind(body, post_header_len)
                }
                .map_err(|what| self.corrupt(offset, what))?;
                self.extend(event);
                Ok(match kind {
                    QueryKind::Begin | QueryKind::XaStart => {
                        self.in_transaction = true;
                        None
                    }
                    QueryKind::Commit => self.finish(UnitEnd::Commit),
                    QueryKind::Rollback => self.finish(UnitEnd::Rollback),
                    QueryKind::XaCommit => self.finish(UnitEnd::XaCommit),
                    QueryKind::XaRollback => self.finish(UnitEnd::XaRollback),
                    QueryKind::Statement if !self.in_transaction => self.finish(UnitEnd::Statement),
                    QueryKind::Statement => None,
                })
            }
            UnitRole::Statement => {
                self.extend(event);
                Ok(if self.in_transaction {
                    None
                } else {
                    self.finish(UnitEnd::Statement)
                })
            }
            UnitRole::StatementPart => {
                self.extend(event);
                Ok(None)
            }
            UnitRole::Rows => {
                self.extend(event);
                if self.in_transaction {
                    return Ok(None);
                }
                let default_len = match event_type {
                    EventType::WriteRows
                    | EventType::UpdateRows
                    | EventType::DeleteRows
                    | EventType::PartialUpdateRows => 10,
                    _ => 8,
                };
                let post_header_len = self.post_header_len(event_type, default_len);
                let body = self.source.body()?;
                let flags = events::rows_flags(body, post_header_len)
                    .map_err(|what| self.corrupt(offset, what))?;
                Ok(if flags & ROWS_STMT_END != 0 {
                    self.finish(UnitEnd::Rows)
                } else {
                    None
                })
            }
            UnitRole::Xid => {
                self.extend(event);
                Ok(self.finish(UnitEnd::Xid))
            }
            UnitRole::XaPrepare => {
                self.extend(event);
                Ok(self.finish(UnitEnd::XaPrepare))
            }
            UnitRole::TransactionPayload => {
                self.extend(event);
                Ok(self.finish(UnitEnd::Payload))
            }
        }
    }

    fn post_header_len(&self, event_type: EventType, default: usize) -> usize {
        self.source
            .format()
            .and_then(|f| f.post_header_len(event_type as u8))
            .unwrap_or(default)
    }

    fn on_outside_event(
        &mut self,
        event: EventRef,
        event_type: EventType,
    ) -> Result<(), BinlogError> {
        let new_file = event_type == EventType::FormatDescription
            || (event_type == EventType::Rotate && event.header.is_artificial());
        if (new_file || event_type == EventType::Rotate)
            && let Some(open) = self.open.take()
        {
            // The end of a file or the start of the next (in a chain of files or a stream):
            // a transaction never spans files, so what was open never committed.
            self.in_transaction = false;
            let file = if new_file {
                format!("the file before {}", self.source.name())
            } else {
                self.source.name().to_owned()
            };
            self.warnings.push(BinlogWarning {
                file,
                offset: open.pos,
                trouble: Trouble::EndsBeforeCommit,
            });
        }
        if !self.track_gtids {
            return Ok(());
        }
        let Some(state) = decode_declared(&mut self.source, event, event_type)? else {
            return Ok(());
        };
        if self.initial.is_none() {
            self.initial = Some(state.clone());
        }
        self.executed = state;
        Ok(())
    }

    fn on_gtid(&mut self, event: EventRef, event_type: EventType) -> Result<(), BinlogError> {
        let server_id = event.header.server_id;
        let body = self.source.body()?;
        let (gtid, implies_begin, recorded_commit_us, transaction_length) =
            if event_type == EventType::MariaGtid {
                let decoded = events::maria_gtid(body, server_id)
                    .map_err(|what| self.corrupt(event.offset, what))?;
                (
                    Some(UnitGtid::MariaDb(decoded.gtid)),
                    decoded.implies_begin(),
                    None,
                    None,
                )
            } else {
                let decoded = events::mysql_gtid(event_type, body)
                    .map_err(|what| self.corrupt(event.offset, what))?;
                (
                    decoded.gtid.map(UnitGtid::MySql),
                    false,
                    decoded.immediate_commit_us,
                    decoded.transaction_length,
                )
            };
        if let Some(open) = self.open.take() {
            self.warn(open.pos, Trouble::Interrupted { next: event.offset });
        }
        self.in_transaction = implies_begin;
        self.extend(event);
        if let Some(unit) = self.open.as_mut() {
            unit.gtid = gtid;
            unit.recorded_commit_us = recorded_commit_us;
            unit.transaction_length = transaction_length;
        }
        Ok(())
    }
}

/// Decodes PREVIOUS_GTIDS or GTID_LIST into the GTIDs executed before the file; `None` for any
/// other event.
fn decode_declared<S: EventSource>(
    source: &mut S,
    event: EventRef,
    event_type: EventType,
) -> Result<Option<ExecutedGtids>, BinlogError> {
    let decoded = match event_type {
        EventType::PreviousGtids => {
            events::previous_gtids(source.body()?).map(ExecutedGtids::MySql)
        }
        EventType::MariaGtidList => {
            events::maria_gtid_list(source.body()?).map(ExecutedGtids::MariaDb)
        }
        _ => return Ok(None),
    };
    decoded.map(Some).map_err(|what| BinlogError::Corrupt {
        file: source.name().to_owned(),
        offset: event.offset,
        what: what.to_string(),
    })
}

/// The GTIDs a file declares executed before its first event (PREVIOUS_GTIDS, GTID_LIST),
/// reading only the events before its first transaction; `None` when it declares none.
pub fn declared_gtids<S: EventSource>(
    source: &mut S,
) -> Result<Option<ExecutedGtids>, BinlogError> {
    while source.advance()? {
        let Some(event) = source.current() else {
            break;
        };
        let Ok(event_type) = event.header.event_type() else {
            continue;
        };
        if event_type.role() != UnitRole::Outside {
            break;
        }
        if let Some(declared) = decode_declared(source, event, event_type)? {
            return Ok(Some(declared));
        }
    }
    Ok(None)
}

/// What the start of a file says about its first transaction's commit clock (SEMANTICS.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstCommit {
    /// The first transaction starts at `pos` with a GTID event recording its
    /// `immediate_commit_timestamp` (MySQL ≥ 8.0.1): `us`.
    At {
        /// Byte offset of the transaction's first event.
        pos: u64,
        /// Its `immediate_commit_timestamp`, µs since the Unix epoch.
        us: i64,
    },
    /// The file ends (ROTATE, STOP, or its last byte) before any transaction.
    NoUnits,
    /// The first transaction records no commit time (MariaDB, MySQL ≤ 5.7, a file without
    /// GTID events), or it was not found within the events a probe reads.
    NoClock,
}

/// After [`declared_gtids`]: reads on to the first transaction, at most `max_events` events, and
/// says when it committed. Costs a few hundred bytes on a file that starts with a transaction.
pub fn first_commit<S: EventSource>(
    source: &mut S,
    max_events: usize,
) -> Result<FirstCommit, BinlogError> {
    let mut seen = 0;
    loop {
        if let Some(event) = source.current()
            && let Ok(event_type) = event.header.event_type()
        {
            match event_type {
                EventType::Gtid | EventType::AnonymousGtid | EventType::GtidTagged => {
                    let decoded =
                        events::mysql_gtid(event_type, source.body()?).map_err(|what| {
                            BinlogError::Corrupt {
                                file: source.name().to_owned(),
                                offset: event.offset,
                                what: what.to_string(),
                            }
                        })?;
                    return Ok(
                        match decoded
                            .immediate_commit_us
                            .and_then(|us| i64::try_from(us).ok())
                        {
                            Some(us) => FirstCommit::At {
                                pos: event.offset,
                                us,
                            },
                            None => FirstCommit::NoClock,
                        },
                    );
                }
                _ if event.header.closes_file() => return Ok(FirstCommit::NoUnits),
                other if other.role() != UnitRole::Outside => return Ok(FirstCommit::NoClock),
                _ => {}
            }
        }
        seen += 1;
        if seen > max_events {
            return Ok(FirstCommit::NoClock);
        }
        if !source.advance()? {
            return Ok(FirstCommit::NoUnits);
        }
    }
}
