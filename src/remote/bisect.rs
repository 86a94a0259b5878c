//! A search by commit time inside a file on a live server (bisection, sped up by interpolation),
//! so that a start time anywhere in a large file costs a few hundred kilobytes, not the file.
//!
//! Where it applies: the `commit` basis, no GTID set asked for (`--gtid off`), and a file whose
//! transactions carry MySQL ≥ 8.0.1's `immediate_commit_timestamp`: the case SEMANTICS.md §6
//! allows bisecting. A dump can only start at an event start, and only `SHOW BINLOG EVENTS`
//! finds one without the file crossing the network: `FROM <a known event start> LIMIT k, n` has
//! the server skip k events itself and send n short rows. So a probe is one query for a
//! transaction start near a chosen offset, then a dump from there, read for that one GTID event
//! (its commit time) and closed. The offset is where the commit clock says T is, interpolated
//! between the probes so far (workloads are usually steady, so three to five probes find T in a
//! 1 GiB file), with a plain halving after two guesses that moved the same end, so that an
//! uneven clock costs at most twice a bisection's probes. When less than [`STREAM_SPAN`] is
//! left, the file is streamed from the last transaction known to be before T, checking the
//! clock on the way.
//! Anything that contradicts the probes (a time going backwards, a transaction without a commit
//! time, the walk passing a probe at or after T) makes the resolution read the file from its
//! start after all, and `--explain` says why.
//!
//! The GTID set before the answer needs every transaction before it, so when GTIDs are asked
//! for the file is streamed from its start.
//!
//! A local file is bisected by plain halving instead (`resolve::scan`): there a probe is a
//! `pread` that costs microseconds, so a model of the clock saves nothing; the module
//! documentation there says why the two searches are kept apart.

use crate::resolve::explain::NotBisected;
use mysql_async::Conn;
use mysql_async::prelude::*;
use tokio::time::Instant;

use super::connection::{
    CONNECT_ROUND_TRIPS, DUMP_ROUND_TRIPS, POSITION_PROBE_EVENTS, Role, ServerFacts, connect,
    dump_head, within,
};
use super::error::{Recovery, RemoteError};
use super::settings::ConnSettings;
use crate::binlog::format::split_version;
use crate::binlog::{
    EventHeader, EventSource, EventStreamSource, EventType, Flavor, HEADER_LEN, events,
};
use crate::resolve::SearchStats;

/// Below this many bytes left, the rest of the file is streamed rather than probed.
pub(super) const STREAM_SPAN: u64 = 256 << 10;
/// Rows asked of `SHOW BINLOG EVENTS` at once: enough to reach the next transaction's start.
const PROBE_ROWS: u32 = 64;

/// One row of `SHOW BINLOG EVENTS`.
#[derive(Debug, Clone)]
struct Row {
    pos: u64,
    end: u64,
    /// The server names it a GTID-family event (a dump then checks).
    starts_transaction: bool,
    info: Option<String>,
}

/// A transaction start and its commit time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Probe {
    pub(super) pos: u64,
    pub(super) commit_us: i64,
}

/// Where a bisection leaves the file's read.
pub(super) enum Bracket {
    /// Stream from `from` (committed before T); `above`, when known, is a transaction at or
    /// after T that the stream must not pass without an answer.
    From {
        from: Probe,
        above: Option<Probe>,
        probes: usize,
    },
    /// Stream the file from its start; why, when the file looked bisectable but was not.
    No(Option<NotBisected>),
}

/// What the event at a position says about its transaction's commit time.
enum Commit {
    At(i64),
    /// A GTID event without `immediate_commit_timestamp` (before MySQL 8.0.1).
    NoClock,
    /// Not a MySQL GTID-family event.
    NotATransactionStart,
}

/// Where to probe next between `lo` (before T) and `hi`: where the commit clock says T is (by
/// interpolating from `lo` to `above`, the probe at or after T, or else by extending the rate
/// seen from the file's first transaction to `lo`), a quarter of a streaming span to the side of
/// the end farther from it, so that two probes usually bracket T within one span; the midpoint
/// when `halve`, or when no rate is known yet. Always strictly inside `(lo, hi)`.
fn next_target(first: Probe, lo: Probe, hi: u64, above: Option<Probe>, t: i64, halve: bool) -> u64 {
    let span = hi - lo.pos;
    let (from, to) = match above {
        Some(above) => (lo, above),
        None => (first, lo),
    };
    let (elapsed, bytes) = (
        to.commit_us - from.commit_us,
        to.pos.saturating_sub(from.pos),
    );
    if halve || elapsed <= 0 || bytes == 0 || t <= lo.commit_us {
        return lo.pos + span / 2;
    }
    let estimate = lo.pos as f64 + (t - lo.commit_us) as f64 * bytes as f64 / elapsed as f64;
    let aside = (STREAM_SPAN / 4) as f64;
    // Pull in whichever end is farther from the estimate.
    let guess = if hi as f64 - estimate > estimate - lo.pos as f64 {
        estimate + aside
    } else {
        estimate - aside
    };
    guess.clamp(
        (lo.pos + 1) as f64,
        hi.saturating_sub(1).max(lo.pos + 1) as f64,
    ) as u64
}

/// Whether `SHOW BINLOG EVENTS` names a GTID-family event: MySQL calls them `Gtid`,
/// `Anonymous_Gtid` and `Gtid_tagged`; MariaDB, serving MySQL files, lists them as ignorable
/// events "type 33 (MySQL Gtid)".
fn names_transaction_start(kind: &str, info: Option<&str>) -> bool {
    let kind = kind.to_ascii_lowercase();
    matches!(kind.as_str(), "gtid" | "anonymous_gtid" | "gtid_tagged")
        || info.is_some_and(|info| {
            [
                EventType::Gtid,
                EventType::AnonymousGtid,
                EventType::GtidTagged,
            ]
            .iter()
            .any(|code| info.contains(&format!("event type {} ", *code as u8)))
        })
}

/// Whether the FORMAT_DESCRIPTION's row ("Server ver: 8.0.36, Binlog ver: 4") may come from a
/// MySQL ≥ 8.0.1 server, whose GTID events record commit times (a probe then checks).
fn written_with_commit_times(format_info: Option<&str>) -> bool {
    let Some(version) = format_info
        .and_then(|info| info.strip_prefix("Server ver: "))
        .and_then(|rest| rest.split(',').next())
    else {
        return true;
    };
    Flavor::of_version(version) == Flavor::MySql && split_version(version) >= (8, 0, 1)
}

fn parse_row(row: &mysql_async::Row) -> Option<Row> {
    let pos = row.get_opt::<u64, _>(1)?.ok()?;
    let kind = row.get_opt::<String, _>(2)?.ok()?;
    let end = row.get_opt::<u64, _>(4)?.ok()?;
    let info = row
        .get_opt::<Option<String>, _>(5)
        .and_then(Result::ok)
        .flatten();
    Some(Row {
        pos,
        end,
        starts_transaction: names_transaction_start(&kind, info.as_deref()),
        info,
    })
}

/// One file's bisection: the server, the file, the deadline, and what it has cost so far.
pub(super) struct Bisection<'a> {
    pub(super) settings: &'a ConnSettings,
    pub(super) facts: &'a ServerFacts,
    pub(super) file: &'a str,
    pub(super) deadline: Instant,
    pub(super) stats: SearchStats,
}

impl Bisection<'_> {
    /// `SHOW BINLOG EVENTS IN file FROM from LIMIT skip, PROBE_ROWS` (`from` an event start).
    async fn rows_at(
        &mut self,
        conn: &mut Conn,
        from: u64,
        skip: u64,
    ) -> Result<Vec<Row>, RemoteError> {
        let file = self.file;
        let query =
            format!("SHOW BINLOG EVENTS IN '{file}' FROM {from} LIMIT {skip}, {PROBE_ROWS}");
        let rows: Vec<mysql_async::Row> = within(
            self.settings,
            self.deadline,
            &format!("listing the events of {file} from {from} (SHOW BINLOG EVENTS)"),
            conn.query(query),
        )
        .await?;
        self.stats.round_trips += 1;
        Ok(rows.iter().filter_map(parse_row).collect())
    }

    /// Reads the commit time of the transaction starting at `pos` from a dump started there.
    async fn commit_at(&mut self, pos: u64) -> Result<Commit, RemoteError> {
        let (settings, file) = (self.settings, self.file);
        let (events, bytes) = dump_head(
            settings,
            file,
            pos,
            self.deadline,
            POSITION_PROBE_EVENTS,
            |raw| {
                // The event at `pos` (the artificial ROTATE and the FDE come first).
                EventHeader::parse_prefix(raw).is_none_or(|header| {
                    !header.is_artificial()
                        && u64::from(header.log_pos) >= pos + u64::from(header.event_size)
                })
            },
        )
        .await?;
        self.stats.files_opened += 1;
        self.stats.round_trips += DUMP_ROUND_TRIPS;
        self.stats.bytes_read += bytes;
        self.stats.events_read += events.len() as u64;
        let what = format!("reading the transaction at {file}:{pos}");
        let binlog_error = |source| RemoteError::Binlog {
            server: settings.address(),
            what: what.clone(),
            source,
        };
        let mut source = EventStreamSource::new(
            settings.address(),
            file,
            self.facts.checksum,
            events.into_iter().map(Ok),
        );
        while source.advance().map_err(binlog_error)? {
            let Some(event) = source.current() else {
                break;
            };
            // The artificial ROTATE, and the FDE (sent with log_pos 0 when a dump starts inside
            // a file) come first.
            if event.header.is_artificial() || event.header.log_pos == 0 || event.offset < pos {
                continue;
            }
            if event.offset > pos {
                break;
            }
            let kind = event.header.event_type().unwrap_or(EventType::Unknown);
            if !kind.is_mysql_gtid() {
                break;
            }
            let body = source.body().map_err(binlog_error)?;
            let decoded = events::mysql_gtid(kind, body).map_err(|message| {
                binlog_error(crate::binlog::BinlogError::corrupt(
                    &format!("{} {file}", settings.address()),
                    pos,
                    message,
                ))
            })?;
            return Ok(
                match decoded
                    .immediate_commit_us
                    .and_then(|us| i64::try_from(us).ok())
                {
                    Some(commit_us) => Commit::At(commit_us),
                    None => Commit::NoClock,
                },
            );
        }
        Ok(Commit::NotATransactionStart)
    }

    /// The search for T in a file of `size` bytes, on the query connection `conn`.
    async fn search(&mut self, conn: &mut Conn, size: u64, t: i64) -> Result<Bracket, RemoteError> {
        let head = self.rows_at(conn, 4, 0).await?;
        if !written_with_commit_times(head.first().and_then(|r| r.info.as_deref())) {
            return Ok(Bracket::No(None));
        }
        let Some(first) = head.iter().find(|r| r.starts_transaction) else {
            return Ok(Bracket::No(None));
        };
        let first = match self.commit_at(first.pos).await? {
            Commit::At(commit_us) => Probe {
                pos: first.pos,
                commit_us,
            },
            Commit::NoClock | Commit::NotATransactionStart => return Ok(Bracket::No(None)),
        };
        if first.commit_us >= t {
            // The answer is the file's first transaction: streaming finds it at once.
            return Ok(Bracket::No(None));
        }
        let head_bytes: u64 = head.iter().map(|r| r.end.saturating_sub(r.pos)).sum();
        // Bytes per event, to turn a byte offset into a number of events to skip.
        let mut average = (head_bytes as f64 / head.len() as f64).max(HEADER_LEN as f64);
        let (mut lo, mut hi, mut above) = (first, size, None);
        let mut probes = vec![first];
        let (mut halve, mut last_moved_lo) = (false, None);
        while hi.saturating_sub(lo.pos) > STREAM_SPAN {
            let target = next_target(first, lo, hi, above, t, halve);
            let mut skip = (((target - lo.pos) as f64 / average) as u64).max(1);
            let rows = loop {
                let rows = self.rows_at(conn, lo.pos, skip).await?;
                if rows.first().is_some_and(|r| r.pos < hi) || skip == 1 {
                    break rows;
                }
                // Fewer events are left than the average size said.
                skip /= 2;
            };
            let Some(landed) = rows.first().filter(|r| r.pos > lo.pos && r.pos < hi) else {
                break; // nothing between `lo` and `hi`
            };
            average = ((landed.pos - lo.pos) as f64 / skip as f64).max(HEADER_LEN as f64);
            let candidate = rows.iter().find(|r| r.starts_transaction);
            let Some(candidate) = candidate.filter(|r| r.pos < hi) else {
                let covered = rows.last().map_or(landed.pos, |r| r.end);
                if candidate.is_some() || covered >= hi {
                    // No transaction starts in [landed, hi).
                    hi = landed.pos;
                    continue;
                }
                break; // a transaction longer than the rows: stream from `lo`
            };
            let probe = match self.commit_at(candidate.pos).await? {
                Commit::At(commit_us) => Probe {
                    pos: candidate.pos,
                    commit_us,
                },
                Commit::NoClock => {
                    return Ok(Bracket::No(Some(NotBisected::NoCommitTime {
                        at: candidate.pos,
                    })));
                }
                Commit::NotATransactionStart => break,
            };
            probes.push(probe);
            if probe.commit_us < t {
                lo = probe;
            } else {
                hi = probe.pos;
                above = Some(probe);
            }
            // Two guesses in a row that moved the same end (the clock is not as even as
            // assumed) are followed by a plain halving.
            let moved_lo = probe.commit_us < t;
            halve = !halve && last_moved_lo == Some(moved_lo);
            last_moved_lo = if halve { None } else { Some(moved_lo) };
        }
        probes.sort_by_key(|p| p.pos);
        if !probes.windows(2).all(|w| w[0].commit_us <= w[1].commit_us) {
            return Ok(Bracket::No(Some(NotBisected::ProbesBackwards)));
        }
        Ok(Bracket::From {
            from: lo,
            above,
            probes: probes.len(),
        })
    }

    /// Bisects the file (of `size` bytes) for T, on a query connection of its own.
    pub(super) async fn run(&mut self, size: u64, t: i64) -> Result<Bracket, RemoteError> {
        let (mut conn, throttle) = connect(self.settings, Role::Control, self.deadline).await?;
        self.stats.round_trips += CONNECT_ROUND_TRIPS;
        let searched = self.search(&mut conn, size, t).await;
        let _ = tokio::time::timeout_at(self.deadline, conn.disconnect()).await;
        self.stats.bytes_read += throttle.received();
        match searched {
            // The server will not do it (SHOW BINLOG EVENTS refused, an event it cannot
            // parse): streaming does not need it.
            Err(error @ (RemoteError::Server { .. } | RemoteError::Privilege { .. }))
                if error.recovery() == Recovery::Definite =>
            {
                Ok(Bracket::No(Some(NotBisected::ServerRefused {
                    error: error.to_string(),
                })))
            }
            // Fewer connections than a search needs at once: streaming needs one.
            Err(error @ RemoteError::ConnectionLimit { .. }) => {
                Ok(Bracket::No(Some(NotBisected::ServerRefused {
                    error: error.to_string(),
                })))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::names_transaction_start;

    #[test]
    fn only_mysql_8_0_1_and_later_files_are_bisected() {
        use super::written_with_commit_times as bisectable;
        assert!(bisectable(Some("Server ver: 8.0.45, Binlog ver: 4")));
        assert!(bisectable(Some(
            "Server ver: 8.4.3-commercial, Binlog ver: 4"
        )));
        assert!(bisectable(Some("Server ver: 10.0.1, Binlog ver: 4")));
        assert!(!bisectable(Some("Server ver: 8.0.0-dmr, Binlog ver: 4")));
        assert!(!bisectable(Some("Server ver: 5.7.44-log, Binlog ver: 4")));
        assert!(!bisectable(Some(
            "Server ver: 10.11.19-MariaDB-0+deb12u1-log, Binlog ver: 4"
        )));
        // Unknown wording: the probes decide.
        assert!(bisectable(Some("Version 9")));
        assert!(bisectable(None));
    }

    #[test]
    fn probes_aim_where_the_clock_says() {
        use super::{Probe, STREAM_SPAN, next_target};
        let first = Probe {
            pos: 100,
            commit_us: 0,
        };
        let lo = Probe {
            pos: 1_000_100,
            commit_us: 1_000_000,
        };
        // One byte per µs so far: T at 3 s is 2 MB past `lo`, aimed a quarter span further.
        let target = next_target(first, lo, 1 << 30, None, 3_000_000, false);
        assert_eq!(target, 3_000_100 + STREAM_SPAN / 4);
        // Between `lo` and a probe above T.
        let above = Probe {
            pos: 2_000_100,
            commit_us: 2_000_000,
        };
        // Between `lo` and a probe above T: a quarter span short of it.
        let target = next_target(first, lo, above.pos, Some(above), 1_500_000, false);
        assert_eq!(target, 1_500_100 - STREAM_SPAN / 4);
        // Halving, no rate yet, and guesses outside the span.
        let mid = lo.pos + (above.pos - lo.pos) / 2;
        assert_eq!(
            next_target(first, lo, above.pos, Some(above), 1_500_000, true),
            mid
        );
        assert_eq!(
            next_target(lo, lo, 1 << 30, None, 3_000_000, false),
            lo.pos + ((1 << 30) - lo.pos) / 2
        );
        let near_end = next_target(first, lo, above.pos, Some(above), 1_999_999, false);
        assert!(near_end < above.pos && near_end > lo.pos);
        let far = next_target(first, lo, 1 << 30, None, i64::MAX / 2, false);
        assert!(far < 1 << 30);
        // `lo` already just below the estimate: pull in the far end instead.
        let close = Probe {
            pos: 1_400_100,
            commit_us: 1_400_000,
        };
        let target = next_target(first, close, above.pos, Some(above), 1_450_000, false);
        assert_eq!(target, 1_450_100 + STREAM_SPAN / 4);
    }

    #[test]
    fn gtid_rows_are_recognised_by_either_server() {
        assert!(names_transaction_start(
            "Gtid",
            Some("SET @@SESSION.GTID_NEXT= 'x:1'")
        ));
        assert!(names_transaction_start("Anonymous_Gtid", None));
        assert!(names_transaction_start("Gtid_tagged", None));
        assert!(names_transaction_start(
            "Ignorable log event",
            Some("# Ignorable event type 33 (MySQL Gtid)")
        ));
        assert!(!names_transaction_start(
            "Ignorable log event",
            Some("# Ignorable event type 35 (MySQL Previous_gtids)")
        ));
        assert!(!names_transaction_start("Previous_gtids", None));
        assert!(!names_transaction_start("Gtid_list", None));
        assert!(!names_transaction_start("Query", Some("BEGIN")));
    }
}
