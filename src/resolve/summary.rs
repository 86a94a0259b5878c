//! What a full read of a binlog file knows about its transaction units, kept so that a later
//! resolution can skip the file without reading it (SEMANTICS.md §6.2): the largest (and smallest)
//! unit time under each basis, the unit count, the first and last unit, the GTID state declared at
//! its start and reached at its end, and how far its unit times run backwards.
//!
//! A summary is only taken from a file that is no longer written (every file but the newest of
//! its sequence) and only used for a file proven to be the same file ([`FileIdentity`]: the same
//! source, name and size, and the same bytes at its start and at its end).
//!
//! Costs: a few comparisons per unit while a file is read; a few hundred bytes per file stored.

use crate::gtid::{ExecutedGtids, GtidSet, MariaGtidPos};
use crate::unit::{TimeBasis, TransactionUnit};

/// Index of a basis in the per-basis arrays.
fn slot(basis: TimeBasis) -> usize {
    match basis {
        TimeBasis::Commit => 0,
        TimeBasis::Begin => 1,
    }
}

const BASES: [TimeBasis; 2] = [TimeBasis::Commit, TimeBasis::Begin];

/// One unit as a summary keeps it: where it starts, its times and its GTID.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitMark {
    pub pos: u64,
    /// µs under the `commit` and the `begin` basis.
    pub times: [i64; 2],
    pub gtid: Option<String>,
}

impl UnitMark {
    fn of(unit: &TransactionUnit) -> UnitMark {
        UnitMark {
            pos: unit.pos,
            times: BASES.map(|b| unit.time_us(b)),
            gtid: unit.gtid.as_ref().map(ToString::to_string),
        }
    }

    pub fn time(&self, basis: TimeBasis) -> i64 {
        self.times[slot(basis)]
    }
}

/// The units of a stretch of binlog, as far as skipping needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitSpan {
    pub count: u64,
    pub first: Option<UnitMark>,
    pub last: Option<UnitMark>,
    /// Smallest and largest unit time per basis (meaningless when `count` is 0).
    pub min: [i64; 2],
    pub max: [i64; 2],
    /// The largest amount by which a unit's time is below an earlier unit's, per basis.
    pub backwards: [i64; 2],
}

impl UnitSpan {
    /// Counts `unit`, the next unit read. The last unit is marked by [`UnitSpan::end_at`] once
    /// the reading stops (marking every unit would format every GTID).
    #[inline]
    pub fn see(&mut self, unit: &TransactionUnit) {
        let times = [unit.commit_us(), unit.begin_us()];
        if self.count == 0 {
            self.first = Some(UnitMark::of(unit));
            self.min = times;
            self.max = times;
        } else {
            for (i, time) in times.into_iter().enumerate() {
                self.backwards[i] = self.backwards[i].max(self.max[i] - time);
                self.min[i] = self.min[i].min(time);
                self.max[i] = self.max[i].max(time);
            }
        }
        self.count += 1;
    }

    /// Marks `unit`, the last unit counted, as the last.
    pub fn end_at(&mut self, unit: Option<&TransactionUnit>) {
        self.last = unit.map(UnitMark::of);
    }

    /// This stretch followed by `later`.
    pub fn then(self, later: UnitSpan) -> UnitSpan {
        if self.count == 0 {
            return later;
        }
        if later.count == 0 {
            return self;
        }
        let mut joined = UnitSpan {
            count: self.count + later.count,
            first: self.first,
            last: later.last,
            ..UnitSpan::default()
        };
        for i in 0..2 {
            joined.min[i] = self.min[i].min(later.min[i]);
            joined.max[i] = self.max[i].max(later.max[i]);
            joined.backwards[i] = self.backwards[i]
                .max(later.backwards[i])
                .max(self.max[i] - later.min[i]);
        }
        joined
    }

    /// The largest unit time under `basis`; `None` without units.
    pub fn latest(&self, basis: TimeBasis) -> Option<i64> {
        (self.count > 0).then(|| self.max[slot(basis)])
    }

    pub fn earliest(&self, basis: TimeBasis) -> Option<i64> {
        (self.count > 0).then(|| self.min[slot(basis)])
    }

    pub fn backwards(&self, basis: TimeBasis) -> i64 {
        self.backwards[slot(basis)]
    }
}

/// A whole file's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    pub units: UnitSpan,
    /// PREVIOUS_GTIDS / GTID_LIST at the file's start.
    pub declared: Option<ExecutedGtids>,
    /// The GTIDs executed after the file's last unit (the declared ones included); `None` when
    /// the read that made the summary did not track them, or the file declares none but has
    /// GTIDs (its end then depends on the files before it).
    pub end: Option<ExecutedGtids>,
}

impl FileSummary {
    /// Whether this stored summary says what `fresh`, made by reading the file again now, says:
    /// the same units, and the same declared and end GTIDs where this one knows them (a summary
    /// made by a read that did not follow GTIDs, `--gtid off`, has neither).
    pub fn agrees_with(&self, fresh: &FileSummary) -> bool {
        self.units == fresh.units
            && (self.declared.is_none() || self.declared == fresh.declared)
            && (self.end.is_none() || self.end == fresh.end)
    }

    /// Whether every unit of the file is before `t` under `basis` (a file without units too).
    pub fn all_before(&self, basis: TimeBasis, t: i64) -> bool {
        self.units.latest(basis).is_none_or(|latest| latest < t)
    }

    /// The summary as stored (JSON text).
    pub fn to_stored(&self) -> String {
        serde_json::json!({
            "units": self.units,
            "declared": self.declared.as_ref().map(gtids_text),
            "end": self.end.as_ref().map(gtids_text),
        })
        .to_string()
    }

    /// A stored summary; `None` when the text is not one this version wrote.
    pub fn from_stored(text: &str) -> Option<FileSummary> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let units: UnitSpan = serde_json::from_value(value.get("units")?.clone()).ok()?;
        let declared = match value.get("declared")? {
            serde_json::Value::Null => None,
            text => Some(parse_gtids(text.as_str()?)?),
        };
        let end = match value.get("end")? {
            serde_json::Value::Null => None,
            text => Some(parse_gtids(text.as_str()?)?),
        };
        Some(FileSummary {
            units,
            declared,
            end,
        })
    }
}

/// `flavour:text`, so that the flavour survives an empty set.
fn gtids_text(gtids: &ExecutedGtids) -> String {
    match gtids {
        ExecutedGtids::None => "none:".to_owned(),
        ExecutedGtids::MySql(set) => format!("mysql:{set}"),
        ExecutedGtids::MariaDb(pos) => format!("mariadb:{pos}"),
    }
}

fn parse_gtids(text: &str) -> Option<ExecutedGtids> {
    let (flavour, rest) = text.split_once(':')?;
    match flavour {
        "none" if rest.is_empty() => Some(ExecutedGtids::None),
        "mysql" => rest.parse::<GtidSet>().ok().map(ExecutedGtids::MySql),
        "mariadb" => rest
            .parse::<MariaGtidPos>()
            .ok()
            .map(ExecutedGtids::MariaDb),
        _ => None,
    }
}

/// What proves that a summary belongs to a file: its source (a directory, or a server by its
/// `server_uuid`, or `server_id` with the file's GTID_LIST in `head`), name, size, a digest of
/// its first events (FORMAT_DESCRIPTION and PREVIOUS_GTIDS / GTID_LIST) and a digest of its end,
/// and for a local file what the file system records of it ([`FileStat`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    pub source: String,
    pub name: String,
    pub size: u64,
    pub head: Vec<u8>,
    /// Where the bytes digested in `tail` start.
    pub tail_offset: u64,
    pub tail: Vec<u8>,
    /// A local file's device, inode and times; `None` for a live server's file.
    pub stat: Option<FileStat>,
}

/// What the file system records of a local file that proves it is the same file, unchanged
/// since it was read: any write to it changes its change time (ctime), which no user tool can
/// set back, and a file put in its place has another inode or device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    /// Modification and change times, ns since the epoch.
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> FileStat {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        FileStat {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// `dev:ino:mtime:ctime`, as the cache stores it.
    pub fn to_stored(self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.dev, self.ino, self.mtime_ns, self.ctime_ns
        )
    }

    pub fn from_stored(text: &str) -> Option<FileStat> {
        let mut parts = text.split(':');
        let stat = FileStat {
            dev: parts.next()?.parse().ok()?,
            ino: parts.next()?.parse().ok()?,
            mtime_ns: parts.next()?.parse().ok()?,
            ctime_ns: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(stat)
    }
}

/// SHA-256 of `parts`, one after the other.
pub fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        context.update(part);
    }
    context.finish().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::UnitEnd;

    fn unit(pos: u64, begin: u32, commit: u32) -> TransactionUnit {
        TransactionUnit {
            pos,
            end_pos: pos + 10,
            begin_ts: begin,
            end_ts: commit,
            recorded_commit_us: None,
            gtid: None,
            end: UnitEnd::Xid,
            transaction_length: None,
            server_id: 1,
        }
    }

    #[test]
    fn spans_join_like_one_reading() {
        let units = [
            unit(4, 10, 12),
            unit(20, 11, 20),
            unit(40, 5, 8),
            unit(60, 30, 31),
            unit(80, 2, 3),
        ];
        for split in 0..=units.len() {
            let mut whole = UnitSpan::default();
            let (mut a, mut b) = (UnitSpan::default(), UnitSpan::default());
            for (i, u) in units.iter().enumerate() {
                whole.see(u);
                if i < split { a.see(u) } else { b.see(u) }
            }
            whole.end_at(units.last());
            a.end_at(units[..split].last());
            b.end_at(units[split..].last());
            assert_eq!(a.then(b), whole, "split at {split}");
        }
        let mut whole = UnitSpan::default();
        units.iter().for_each(|u| whole.see(u));
        whole.end_at(units.last());
        assert_eq!(whole.latest(TimeBasis::Commit), Some(31_000_000));
        assert_eq!(whole.earliest(TimeBasis::Begin), Some(2_000_000));
        // 31 s then 3 s: 28 s backwards.
        assert_eq!(whole.backwards(TimeBasis::Commit), 28_000_000);
    }

    #[test]
    fn summaries_survive_storage() {
        let mut units = UnitSpan::default();
        units.see(&unit(4, 10, 12));
        let mut pos = MariaGtidPos::new();
        pos.update("0-1-7".parse().unwrap());
        for (declared, end) in [
            (None, None),
            (None, Some(ExecutedGtids::None)),
            (
                Some(ExecutedGtids::MySql(GtidSet::new())),
                Some(ExecutedGtids::MySql(
                    "3e3e3e3e-3e3e-3e3e-3e3e-3e3e3e3e3e3e:1-5".parse().unwrap(),
                )),
            ),
            (
                Some(ExecutedGtids::MariaDb(MariaGtidPos::new())),
                Some(ExecutedGtids::MariaDb(pos)),
            ),
        ] {
            let summary = FileSummary {
                units: units.clone(),
                declared,
                end,
            };
            assert_eq!(
                FileSummary::from_stored(&summary.to_stored()),
                Some(summary)
            );
        }
        assert_eq!(FileSummary::from_stored("{}"), None);
        assert_eq!(FileSummary::from_stored("not json"), None);
    }
}
