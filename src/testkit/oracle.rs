//! Ground truth taken from the server's own tools, independent of startpoint's reader.
//!
//! - Event positions, header times and kinds come from `mariadb-binlog --verify-binlog-checksum`
//!   (run with `TZ=UTC`), parsed from its text output by [`read_events`].
//! - [`group_units`] groups those events into transaction units by the rules of SEMANTICS.md §3,
//!   and [`answer`] applies §5 linearly: the plainest possible reading of the contract.
//! - GTID positions come from the server: `SELECT BINLOG_GTID_POS(file, pos)`
//!   ([`binlog_gtid_pos`]), put in ascending domain order.
//!
//! Costs: one `mariadb-binlog` process per file; everything is held in memory, so this is for
//! fixtures and tests, not for large files.

use std::path::Path;
use std::process::Command;

use mysql_async::prelude::*;
use serde::{Deserialize, Serialize};

use super::mariadb::{HarnessError, find_program};

/// What `mariadb-binlog` says an event is, reduced to what unit grouping needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    FormatDescription,
    GtidList,
    BinlogCheckpoint,
    /// A GTID-family event. MariaDB's carry their GTID and `standalone` (no transaction follows:
    /// mariadb-binlog then prints neither `START TRANSACTION` nor `XA START`); MySQL's, which
    /// mariadb-binlog shows only as "Ignorable event type 33/34/42", carry no value and never
    /// imply BEGIN.
    Gtid {
        gtid: Option<String>,
        standalone: bool,
    },
    Query {
        statement: String,
    },
    Xid,
    XaPrepare,
    Rows {
        stmt_end: bool,
    },
    /// ANNOTATE_ROWS, TABLE_MAP, INTVAR, RAND, USER_VAR: parts of a statement.
    StatementContext,
    Rotate,
    Stop,
    Other(String),
}

/// One event as `mariadb-binlog` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleEvent {
    pub pos: u64,
    pub end_pos: u64,
    /// Header time, seconds since the epoch.
    pub timestamp: i64,
    pub server_id: u32,
    pub kind: EventKind,
}

/// A transaction unit (SEMANTICS.md §3) as the oracle sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleUnit {
    pub file: String,
    pub pos: u64,
    pub end_pos: u64,
    /// Header seconds of the unit's first event (the `begin` basis).
    pub begin_ts: i64,
    /// Header seconds of the unit's last event (the `commit` basis on MariaDB).
    pub commit_ts: i64,
    /// MariaDB `domain-server-seq`; `None` without a GTID event and for MySQL GTIDs, whose
    /// value mariadb-binlog does not print.
    pub gtid: Option<String>,
    /// What ends the unit: `xid`, `xa-prepare`, `commit`, `rollback`, `xa-commit`,
    /// `xa-rollback`, `statement`, `rows`.
    pub end: String,
}

/// Why the oracle could not read a file.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error("mariadb-binlog failed on {file}: {stderr}")]
    Tool { file: String, stderr: String },
    #[error("{file}: cannot read mariadb-binlog's line {line_no} {line:?}: {why}")]
    Parse {
        file: String,
        line_no: usize,
        line: String,
        why: &'static str,
    },
    #[error("{file}: a unit is still open at offset {pos} where the file ends")]
    UnfinishedUnit { file: String, pos: u64 },
}

/// Reads one binlog file's events through `mariadb-binlog`.
pub fn read_events(path: &Path) -> Result<Vec<OracleEvent>, OracleError> {
    let file = path.display().to_string();
    let output = Command::new(find_program("mariadb-binlog")?)
        .args([
            "--no-defaults",
            "--verify-binlog-checksum",
            "--base64-output=decode-rows",
        ])
        .arg(path)
        .env("TZ", "UTC")
        .output()
        .map_err(|e| OracleError::Tool {
            file: file.clone(),
            stderr: e.to_string(),
        })?;
    // mariadb-binlog exits 0 after "ERROR: … incompatible MySQL 8.0 … event" and stops there.
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() || stderr.contains("ERROR:") {
        return Err(OracleError::Tool {
            file,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let len = std::fs::metadata(path)
        .map_err(|e| OracleError::Tool {
            file: file.clone(),
            stderr: e.to_string(),
        })?
        .len();
    parse_events(&file, &String::from_utf8_lossy(&output.stdout), len)
}

/// Parses `mariadb-binlog` text. An event is a `# at <offset>` line and a header line
/// `#yymmdd hh:mm:ss server id N  end_log_pos P [CRC32 0x…] \t<description>` followed by body
/// lines. Offsets come from the `# at` lines (in relay logs `end_log_pos` is the source server's),
/// paired in order with the header lines (mariadb-binlog prints ANNOTATE_ROWS's and the next
/// event's `# at` lines together); an event ends where the next starts, the last one at
/// `file_len`.
pub fn parse_events(
    file: &str,
    text: &str,
    file_len: u64,
) -> Result<Vec<OracleEvent>, OracleError> {
    let parse_error = |line_no: usize, line: &str, why| OracleError::Parse {
        file: file.to_owned(),
        line_no: line_no + 1,
        line: line.to_owned(),
        why,
    };
    let mut events: Vec<OracleEvent> = Vec::new();
    let mut offsets: Vec<u64> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        if let Some(at) = line.strip_prefix("# at ") {
            offsets.push(
                at.trim()
                    .parse()
                    .map_err(|_| parse_error(line_no, line, "bad offset"))?,
            );
            continue;
        }
        let Some(header) = parse_header(line) else {
            body.push(line);
            continue;
        };
        let (timestamp, server_id, _end_log_pos, description) =
            header.map_err(|why| parse_error(line_no, line, why))?;
        if let Some(previous) = events.last_mut() {
            refine_kind(&mut previous.kind, &body);
        }
        body.clear();
        let kind = classify(description).map_err(|why| parse_error(line_no, line, why))?;
        let pos = *offsets
            .get(events.len())
            .ok_or_else(|| parse_error(line_no, line, "an event without a `# at` line"))?;
        if let Some(previous) = events.last_mut() {
            if pos <= previous.pos {
                return Err(parse_error(line_no, line, "offsets do not move forward"));
            }
            previous.end_pos = pos;
        }
        events.push(OracleEvent {
            pos,
            end_pos: file_len,
            timestamp,
            server_id,
            kind,
        });
    }
    if let Some(previous) = events.last_mut() {
        refine_kind(&mut previous.kind, &body);
    }
    Ok(events)
}

type Header<'a> = Result<(i64, u32, u64, &'a str), &'static str>;

/// `Some` when `line` is an event header line.
fn parse_header(line: &str) -> Option<Header<'_>> {
    let rest = line.strip_prefix('#')?;
    let date = rest.get(..6)?;
    if !date.bytes().all(|b| b.is_ascii_digit()) || !rest.contains(" server id ") {
        return None;
    }
    Some((|| {
        let (when, rest) = rest.split_once(" server id ").ok_or("no server id")?;
        let time_text = when[6..].trim();
        let num = |s: &str| s.parse::<u32>().map_err(|_| "bad number");
        let year = 2000 + num(&date[0..2])? as i32;
        let month = num(&date[2..4])?;
        let day = num(&date[4..6])?;
        let mut hms = time_text.split(':');
        let mut next = || num(hms.next().unwrap_or("x").trim());
        let (hour, minute, second) = (next()?, next()?, next()?);
        let timestamp = chrono::NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_opt(hour, minute, second))
            .ok_or("bad date")?
            .and_utc()
            .timestamp();
        let (server_id, rest) = rest.trim_start().split_once(' ').ok_or("no server id")?;
        let server_id = num(server_id)?;
        let rest = rest
            .trim_start()
            .strip_prefix("end_log_pos ")
            .ok_or("no end_log_pos")?;
        let (end_pos, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let end_pos = end_pos.parse::<u64>().map_err(|_| "bad end_log_pos")?;
        let rest = rest.trim_start();
        let description = match rest.strip_prefix("CRC32 0x") {
            Some(after) => after.get(8..).ok_or("short CRC32")?,
            None => rest,
        };
        Ok((timestamp, server_id, end_pos, description.trim()))
    })())
}

fn classify(description: &str) -> Result<EventKind, &'static str> {
    let kind = if description.starts_with("Start: binlog v 4") {
        EventKind::FormatDescription
    } else if description.starts_with("Gtid list") {
        EventKind::GtidList
    } else if description.starts_with("Binlog checkpoint") {
        EventKind::BinlogCheckpoint
    } else if let Some(rest) = description.strip_prefix("GTID ") {
        let gtid = rest.split_whitespace().next().ok_or("GTID without value")?;
        EventKind::Gtid {
            gtid: Some(gtid.to_owned()),
            // Refined from the body: a transaction prints START TRANSACTION / XA START.
            standalone: true,
        }
    } else if description.starts_with("Query") || description.starts_with("Execute_load_query") {
        EventKind::Query {
            statement: String::new(),
        }
    } else if description.starts_with("Xid = ") {
        EventKind::Xid
    } else if description.starts_with("XID = ") {
        EventKind::XaPrepare
    } else if ["Write_rows", "Update_rows", "Delete_rows"]
        .iter()
        .any(|p| description.starts_with(p))
    {
        EventKind::Rows {
            stmt_end: description.contains("STMT_END_F"),
        }
    } else if ["Annotate_rows", "Table_map", "Intvar", "Rand", "User_var"]
        .iter()
        .any(|p| description.starts_with(p))
    {
        EventKind::StatementContext
    } else if description.starts_with("Rotate to ") {
        EventKind::Rotate
    } else if description.starts_with("Stop") {
        EventKind::Stop
    } else {
        EventKind::Other(description.to_owned())
    };
    Ok(kind)
}

/// Fills in what only the body shows: a Query's statement, a GTID's transaction flag.
fn refine_kind(kind: &mut EventKind, body: &[&str]) {
    match kind {
        EventKind::Query { statement } => {
            // Body: `SET …/*!*/;` lines, then the statement, then a `/*!*/;` line.
            let text = body.join("\n");
            let mut chunks: Vec<&str> = text.split("/*!*/;").collect();
            chunks.pop();
            *statement = chunks.pop().unwrap_or("").trim().to_owned();
        }
        // LOAD DATA's file blocks print their name in the body: "#Begin_load_query: file_id: 2".
        EventKind::Other(description)
            if description.is_empty()
                && body.first().is_some_and(|line| {
                    [
                        "#Begin_load_query:",
                        "#Append_block:",
                        "#Create_file:",
                        "#Delete_file:",
                    ]
                    .iter()
                    .any(|p| line.starts_with(p))
                }) =>
        {
            *kind = EventKind::StatementContext;
        }
        EventKind::Other(description) if description.starts_with("Ignorable") => {
            // "# Ignorable event type 34 (MySQL Anonymous_Gtid)"
            let code = body.iter().find_map(|line| {
                line.strip_prefix("# Ignorable event type ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|n| n.parse::<u8>().ok())
            });
            match code {
                Some(33 | 34 | 42) => {
                    *kind = EventKind::Gtid {
                        gtid: None,
                        standalone: true,
                    }
                }
                Some(29) => *kind = EventKind::StatementContext,
                _ => {}
            }
        }
        EventKind::Gtid { standalone, .. } => {
            *standalone = !body.iter().any(|line| {
                let line = line.trim_start();
                line.starts_with("START TRANSACTION")
                    || line.starts_with("BEGIN")
                    || line.starts_with("XA START")
            });
        }
        _ => {}
    }
}

/// Groups one file's events into units (SEMANTICS.md §3). `newest` is true for the newest file
/// of a source, where a unit still open at the end is a transaction being written and is dropped;
/// elsewhere it is an error.
pub fn group_units(
    file: &str,
    events: &[OracleEvent],
    newest: bool,
) -> Result<Vec<OracleUnit>, OracleError> {
    let mut units = Vec::new();
    let mut open: Option<OracleUnit> = None;
    let mut in_transaction = false;
    for event in events {
        let start_unit = |open: &mut Option<OracleUnit>, gtid: Option<String>| {
            open.get_or_insert_with(|| OracleUnit {
                file: file.to_owned(),
                pos: event.pos,
                end_pos: event.end_pos,
                begin_ts: event.timestamp,
                commit_ts: event.timestamp,
                gtid,
                end: String::new(),
            });
        };
        let end: Option<&str> = match &event.kind {
            EventKind::Gtid { gtid, standalone } => {
                open = None;
                start_unit(&mut open, gtid.clone());
                in_transaction = !standalone;
                None
            }
            EventKind::Query { statement } => {
                start_unit(&mut open, None);
                let upper = statement.to_ascii_uppercase();
                let word = |w: &str| {
                    upper == w
                        || upper.starts_with(&format!("{w} "))
                        || upper.starts_with(&format!("{w}\n"))
                };
                if word("BEGIN") || word("XA START") {
                    in_transaction = true;
                    None
                } else if word("COMMIT") {
                    Some("commit")
                } else if word("ROLLBACK") && !upper.starts_with("ROLLBACK TO") {
                    Some("rollback")
                } else if word("XA COMMIT") {
                    Some("xa-commit")
                } else if word("XA ROLLBACK") {
                    Some("xa-rollback")
                } else if !in_transaction {
                    Some("statement")
                } else {
                    None
                }
            }
            EventKind::Xid => Some("xid"),
            EventKind::XaPrepare => Some("xa-prepare"),
            EventKind::Rows { stmt_end } => {
                start_unit(&mut open, None);
                (*stmt_end && !in_transaction).then_some("rows")
            }
            EventKind::StatementContext => {
                start_unit(&mut open, None);
                None
            }
            _ => None,
        };
        if let Some(unit) = open.as_mut() {
            unit.end_pos = event.end_pos;
        }
        if let Some(end) = end {
            if let Some(mut unit) = open.take() {
                unit.commit_ts = event.timestamp;
                unit.end = end.to_owned();
                units.push(unit);
            }
            in_transaction = false;
        }
    }
    match open {
        Some(unit) if !newest => Err(OracleError::UnfinishedUnit {
            file: file.to_owned(),
            pos: unit.pos,
        }),
        _ => Ok(units),
    }
}

/// The time basis of SEMANTICS.md §4, as the oracle applies it to MariaDB units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    Commit,
    Begin,
}

impl Basis {
    /// The unit's time in µs under this basis (MariaDB records whole seconds).
    pub fn time_us(self, unit: &OracleUnit) -> i64 {
        let seconds = match self {
            Basis::Commit => unit.commit_ts,
            Basis::Begin => unit.begin_ts,
        };
        seconds * 1_000_000
    }
}

/// SEMANTICS.md §5 without the GTID part: the status and location for `start_us`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleAnswer {
    pub status: String,
    pub binlog_name: Option<String>,
    pub binlog_pos: Option<u64>,
}

/// The linear answer for `start_us`: `first_file` and its FORMAT_DESCRIPTION second decide
/// BelowLowerBound; otherwise the first unit, in binlog order, whose time is at or after T.
pub fn answer(
    first_file: &str,
    first_fde_ts: i64,
    units: &[OracleUnit],
    basis: Basis,
    start_us: i64,
) -> OracleAnswer {
    if start_us < (first_fde_ts + 1) * 1_000_000 {
        return OracleAnswer {
            status: "BelowLowerBound".to_owned(),
            binlog_name: Some(first_file.to_owned()),
            binlog_pos: Some(4),
        };
    }
    match units.iter().find(|u| basis.time_us(u) >= start_us) {
        Some(unit) => OracleAnswer {
            status: "InRange".to_owned(),
            binlog_name: Some(unit.file.clone()),
            binlog_pos: Some(unit.pos),
        },
        None => OracleAnswer {
            status: "AboveUpperBound".to_owned(),
            binlog_name: None,
            binlog_pos: None,
        },
    }
}

/// `BINLOG_GTID_POS(file, pos)` from the server, domains in ascending order (the server prints
/// them in its own order). `None` when the server answers NULL (not an event start).
pub async fn binlog_gtid_pos(
    conn: &mut mysql_async::Conn,
    file: &str,
    pos: u64,
) -> mysql_async::Result<Option<String>> {
    let raw: Option<Option<String>> = conn
        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file, pos))
        .await?;
    Ok(raw.flatten().map(|text| sort_domains(&text)))
}

/// Puts a MariaDB GTID position's `domain-server-seq` entries in ascending domain order.
pub fn sort_domains(position: &str) -> String {
    let mut entries: Vec<(u64, &str)> = position
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let domain = e.split('-').next().and_then(|d| d.parse().ok());
            (domain.unwrap_or(u64::MAX), e)
        })
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|(_, e)| e)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# at 4
#300330 23:00:00 server id 1  end_log_pos 256 CRC32 0xc740eae6 \tStart: binlog v 4, server v 10.11.19-MariaDB-log created 300330 23:00:00
# at 256
#300330 23:00:00 server id 1  end_log_pos 285 CRC32 0xea99f860 \tGtid list []
# at 285
#300330 23:01:00 server id 1  end_log_pos 327 CRC32 0x7a7cb395 \tGTID 0-1-1 ddl
/*M!100001 SET @@session.gtid_seq_no=1*//*!*/;
# at 327
#300330 23:01:00 server id 1  end_log_pos 408 CRC32 0x305dc56c \tQuery\tthread_id=5\texec_time=0\terror_code=0\txid=0
SET TIMESTAMP=1901142060/*!*/;
create database w
/*!*/;
# at 408
#300330 23:02:05 server id 1  end_log_pos 450 CRC32 0xb647575c \tGTID 0-1-2 trans
/*M!100001 SET @@session.gtid_seq_no=2*//*!*/;
START TRANSACTION
/*!*/;
# at 450
# at 503
#300330 23:02:00 server id 1  end_log_pos 503 CRC32 0x21ff98c6 \tAnnotate_rows:
#Q> insert into w.t(v) values('a')
#300330 23:02:00 server id 1  end_log_pos 547 CRC32 0xed422452 \tTable_map: `w`.`t` mapped to number 22
# at 547
#300330 23:02:00 server id 1  end_log_pos 587 CRC32 0x62a6c3b4 \tWrite_rows: table id 22 flags: STMT_END_F
# at 587
#300330 23:02:05 server id 1  end_log_pos 618 CRC32 0x86703dd9 \tXid = 9
COMMIT/*!*/;
# at 618
#300330  9:02:05 server id 1  end_log_pos 660 CRC32 0x7cdcdebc \tRotate to mysql-bin.000003  pos: 4
";

    #[test]
    fn parses_headers_positions_and_bodies() {
        let events = parse_events("f", SAMPLE, 660).unwrap();
        let positions: Vec<(u64, u64)> = events.iter().map(|e| (e.pos, e.end_pos)).collect();
        assert_eq!(
            positions,
            [
                (4, 256),
                (256, 285),
                (285, 327),
                (327, 408),
                (408, 450),
                (450, 503),
                (503, 547),
                (547, 587),
                (587, 618),
                (618, 660)
            ]
        );
        assert_eq!(events[2].timestamp, 1_901_142_060);
        assert_eq!(events[9].timestamp, 1_901_142_000 - 14 * 3600 + 125);
        assert_eq!(
            events[3].kind,
            EventKind::Query {
                statement: "create database w".into()
            }
        );
        assert_eq!(
            events[4].kind,
            EventKind::Gtid {
                gtid: Some("0-1-2".into()),
                standalone: false
            }
        );
        assert_eq!(events[7].kind, EventKind::Rows { stmt_end: true });
    }

    #[test]
    fn groups_ddl_and_transactions_into_units() {
        let events = parse_events("f", SAMPLE, 660).unwrap();
        let units = group_units("f", &events, false).unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!((units[0].pos, units[0].end_pos), (285, 408));
        assert_eq!(units[0].end, "statement");
        assert_eq!((units[1].pos, units[1].end_pos), (408, 618));
        assert_eq!(units[1].gtid.as_deref(), Some("0-1-2"));
        assert_eq!(units[1].end, "xid");
        assert_eq!(units[1].commit_ts - units[1].begin_ts, 0);
    }

    #[test]
    fn an_open_unit_at_the_end_is_dropped_only_in_the_newest_file() {
        let events = parse_events("f", SAMPLE, 660).unwrap();
        let cut = &events[..6];
        assert_eq!(group_units("f", cut, true).unwrap().len(), 1);
        assert!(matches!(
            group_units("f", cut, false),
            Err(OracleError::UnfinishedUnit { pos: 408, .. })
        ));
    }

    #[test]
    fn rollback_to_savepoint_stays_inside_the_transaction() {
        let query = |pos, statement: &str| OracleEvent {
            pos,
            end_pos: pos + 1,
            timestamp: 7,
            server_id: 1,
            kind: EventKind::Query {
                statement: statement.to_owned(),
            },
        };
        let events = [
            query(4, "BEGIN"),
            query(5, "INSERT INTO t VALUES (1)"),
            query(6, "ROLLBACK TO `sp1`"),
            query(7, "ROLLBACK"),
        ];
        let units = group_units("f", &events, false).unwrap();
        assert_eq!(units.len(), 1);
        assert_eq!((units[0].pos, units[0].end_pos), (4, 8));
        assert_eq!(units[0].end, "rollback");
    }

    #[test]
    fn answers_follow_the_contract() {
        let events = parse_events("f", SAMPLE, 660).unwrap();
        let units = group_units("f", &events, false).unwrap();
        let fde = 1_901_142_000;
        let at = |s: i64| answer("f", fde, &units, Basis::Commit, s * 1_000_000);
        assert_eq!(at(fde).status, "BelowLowerBound");
        assert_eq!(at(fde + 1).binlog_pos, Some(285));
        assert_eq!(at(fde + 61).binlog_pos, Some(408));
        assert_eq!(at(fde + 125).binlog_pos, Some(408));
        assert_eq!(at(fde + 126).status, "AboveUpperBound");
    }

    #[test]
    fn domains_are_sorted_numerically() {
        assert_eq!(sort_domains("10-1-5,2-1-9,0-1-1"), "0-1-1,2-1-9,10-1-5");
        assert_eq!(sort_domains(""), "");
    }
}
