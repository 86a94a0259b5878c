//! A checkpoint location as DM stores it (`binlog_name`, `binlog_pos`, `binlog_gtid`) and how two
//! of them compare (DM-COMPAT.md §3.3): by GTID set when both carry one (equal sets are the same
//! location, whatever the positions), else by the binlog file's sequence number and the
//! position; some pairs cannot be ordered at all (different servers, GTID sets that overlap
//! without one containing the other), and saying so is part of the answer.
//!
//! The GTID text is read as DM writes it: a MySQL set, or for MariaDB go-mysql's set of one GTID
//! per (domain, server_id) (`0-1-100,0-2-150` after a failover), compared as
//! `MariadbGTIDSet.Contain` does.
//!
//! File names may carry DM's relay sub-directory suffix (`mysql-bin|000002.000007`: the file
//! `mysql-bin.000007` of relay sub-directory `<uuid>.000002`), which orders before the sequence.

use std::cmp::Ordering;
use std::fmt;

use crate::gtid::{GtidSet, MariaGtidSet};

/// A binlog location with the GTIDs executed before it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckpointLocation {
    pub binlog_name: String,
    pub binlog_pos: u32,
    /// MySQL GTID set or MariaDB GTID position; empty when none.
    pub binlog_gtid: String,
}

impl fmt::Display for CheckpointLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.binlog_name.is_empty() {
            write!(f, "GTID {}", self.gtid_display())
        } else if self.binlog_gtid.is_empty() {
            write!(f, "{}:{}", self.binlog_name, self.binlog_pos)
        } else {
            write!(
                f,
                "{}:{} ({})",
                self.binlog_name, self.binlog_pos, self.binlog_gtid
            )
        }
    }
}

/// How one location relates to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationOrder {
    Before,
    Same,
    After,
    /// They cannot be ordered; the text says why.
    Incomparable(String),
}

/// A binlog file name split into DM's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileName<'a> {
    base: &'a str,
    relay_suffix: Option<u32>,
    seq: u64,
}

fn split_name(name: &str) -> Option<FileName<'_>> {
    let (stem, seq) = name.rsplit_once('.')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq = seq.parse().ok()?;
    Some(match stem.rsplit_once('|') {
        Some((base, suffix)) => FileName {
            base,
            relay_suffix: Some(suffix.parse().ok()?),
            seq,
        },
        None => FileName {
            base: stem,
            relay_suffix: None,
            seq,
        },
    })
}

/// The GTIDs of a location, parsed.
enum Gtids {
    MySql(GtidSet),
    MariaDb(MariaGtidSet),
}

impl CheckpointLocation {
    fn gtid_display(&self) -> &str {
        if self.binlog_gtid.is_empty() {
            "(none)"
        } else {
            &self.binlog_gtid
        }
    }

    fn gtids(&self) -> Option<Gtids> {
        let text = self.binlog_gtid.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(set) = text.parse::<MariaGtidSet>() {
            return (!set.is_empty()).then_some(Gtids::MariaDb(set));
        }
        text.parse::<GtidSet>()
            .ok()
            .filter(|s| !s.is_empty())
            .map(Gtids::MySql)
    }

    /// Whether this is no checkpoint at all: DM's fresh row `('', 4, '')` (or `0`), which its
    /// loader takes for "not started" (tiflow `dm/syncer/checkpoint.go`, `Load` with
    /// `binlog.IsFreshPosition`).
    pub fn is_fresh(&self) -> bool {
        self.binlog_name.is_empty() && self.binlog_pos <= 4 && self.gtids().is_none()
    }

    /// Whether the location carries a GTID set (non-empty).
    pub fn has_gtids(&self) -> bool {
        self.gtids().is_some()
    }

    /// Where `self` is relative to `other`. With GTID sets on both sides, containment decides
    /// as in DM's `CompareGTID` (tiflow `dm/pkg/binlog/position.go`): both ways is the same
    /// location (DM then looks no further than an injected suffix), one way is before or after.
    /// Where DM falls back to positions for sets that cross, the answer here is that they
    /// cannot be ordered: a failover or errant transactions make positions meaningless.
    pub fn compare(&self, other: &CheckpointLocation) -> LocationOrder {
        let by_containment = |a_in_b: bool, b_in_a: bool| match (a_in_b, b_in_a) {
            (true, true) => Some(LocationOrder::Same),
            (true, false) => Some(LocationOrder::Before),
            (false, true) => Some(LocationOrder::After),
            (false, false) => None,
        };
        match (self.gtids(), other.gtids()) {
            (Some(Gtids::MySql(a)), Some(Gtids::MySql(b))) => {
                by_containment(a.is_subset(&b), b.is_subset(&a)).unwrap_or_else(|| {
                    LocationOrder::Incomparable(format!(
                        "their GTID sets {a} and {b} each have transactions the other has not"
                    ))
                })
            }
            (Some(Gtids::MariaDb(a)), Some(Gtids::MariaDb(b))) => {
                by_containment(b.contains(&a), a.contains(&b)).unwrap_or_else(|| {
                    LocationOrder::Incomparable(format!(
                        "their GTID sets {a} and {b} each have a GTID the other has not (DM \
                         compares MariaDB GTIDs per domain and server_id)"
                    ))
                })
            }
            (Some(_), Some(_)) => LocationOrder::Incomparable(format!(
                "one GTID is MySQL's and the other MariaDB's ({} and {})",
                self.binlog_gtid, other.binlog_gtid
            )),
            _ => self.compare_files(other).unwrap_or_else(|| {
                LocationOrder::Incomparable(format!(
                    "their binlog files {} and {} are not of one sequence",
                    or_none(&self.binlog_name),
                    or_none(&other.binlog_name)
                ))
            }),
        }
    }

    /// How DM itself orders `self` and `other` (tiflow `dm/pkg/binlog/position.go`,
    /// `CompareLocation` with `cmpGTID` = the source's `enable-gtid`): by GTID set when it may
    /// (both empty: the same; one empty: that one first; containment), else, and for sets
    /// neither contains, by position (`ComparePosition`: the relay suffix removed unless both
    /// names carry one, then go-mysql's `Position.Compare`: base names as plain strings, the
    /// sequence as a number, then the position). What DM will do with a checkpoint row.
    pub fn dm_order(&self, other: &CheckpointLocation, cmp_gtid: bool) -> Ordering {
        if cmp_gtid {
            let contained = |a_in_b: bool, b_in_a: bool| match (a_in_b, b_in_a) {
                (true, true) => Some(Ordering::Equal),
                (true, false) => Some(Ordering::Less),
                (false, true) => Some(Ordering::Greater),
                (false, false) => None,
            };
            let by_gtid = match (self.gtids(), other.gtids()) {
                (None, None) => Some(Ordering::Equal),
                (None, Some(_)) => Some(Ordering::Less),
                (Some(_), None) => Some(Ordering::Greater),
                (Some(Gtids::MySql(a)), Some(Gtids::MySql(b))) => {
                    contained(a.is_subset(&b), b.is_subset(&a))
                }
                (Some(Gtids::MariaDb(a)), Some(Gtids::MariaDb(b))) => {
                    contained(b.contains(&a), a.contains(&b))
                }
                _ => None,
            };
            if let Some(order) = by_gtid {
                return order;
            }
        }
        let strip = |name: &str| match split_name(name) {
            Some(FileName {
                relay_suffix: Some(_),
                ..
            }) => upstream_file_name(name),
            _ => name.to_owned(),
        };
        let (a, b) = match (strip(&self.binlog_name), strip(&other.binlog_name)) {
            (a, b) if a != self.binlog_name && b != other.binlog_name => {
                (self.binlog_name.clone(), other.binlog_name.clone())
            }
            pair => pair,
        };
        dm_file_order(&a, &b).then(self.binlog_pos.cmp(&other.binlog_pos))
    }

    /// By (relay suffix, file sequence, position) when both names are of one sequence.
    fn compare_files(&self, other: &CheckpointLocation) -> Option<LocationOrder> {
        let a = split_name(&self.binlog_name)?;
        let b = split_name(&other.binlog_name)?;
        if a.base != b.base {
            return None;
        }
        let suffixes = match (a.relay_suffix, b.relay_suffix) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => Ordering::Equal,
        };
        Some(
            match suffixes
                .then(a.seq.cmp(&b.seq))
                .then(self.binlog_pos.cmp(&other.binlog_pos))
            {
                Ordering::Less => LocationOrder::Before,
                Ordering::Equal => LocationOrder::Same,
                Ordering::Greater => LocationOrder::After,
            },
        )
    }
}

/// go-mysql's `CompareBinlogFileName`: an empty name first; the base name (before the last
/// `.`) as a plain string, then the extension as a number (Go panics on one that is not; it
/// is compared as text here).
fn dm_file_order(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    let split = |n: &str| match n.rsplit_once('.') {
        Some((base, seq)) => (
            base.to_owned(),
            seq.parse::<u64>().map_err(|_| seq.to_owned()),
        ),
        None => (n.to_owned(), Ok(0)),
    };
    let (a_base, a_seq) = split(a);
    let (b_base, b_seq) = split(b);
    a_base.cmp(&b_base).then_with(|| match (a_seq, b_seq) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (x, y) => format!("{x:?}").cmp(&format!("{y:?}")),
    })
}

fn or_none(name: &str) -> &str {
    if name.is_empty() { "(none)" } else { name }
}

/// A GTID text as DM can read it back (go-mysql v1.13): canonical, without spaces. A MariaDB
/// set keeps one GTID per (domain, server_id) (`mysql/mariadb_gtid.go` does not trim spaces, so
/// `0-1-42736, 1-2-2858` fails there); a MySQL set prints as MySQL does. The error says why the
/// text is neither.
pub(crate) fn dm_gtid_text(text: &str) -> Result<String, NotAGtidSet> {
    if let Ok(set) = text.parse::<MariaGtidSet>() {
        return Ok(set.to_string());
    }
    text.parse::<GtidSet>()
        .map(|set| set.to_string())
        .map_err(|mysql| NotAGtidSet { mysql })
}

/// A GTID text that is neither a MySQL nor a MariaDB GTID set: why MySQL's parser refused it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{mysql}; nor is it a MariaDB GTID set (domain-server-sequence, comma-separated)")]
pub(crate) struct NotAGtidSet {
    mysql: crate::gtid::mysql::GtidParseError,
}

/// Whether a MySQL GTID text has tagged GTIDs (MySQL 8.4, `uuid:tag:1-3`), which DM's parser
/// (go-mysql v1.13 `ParseUUIDSet`) rejects: it reads the tag as an interval.
pub(crate) fn has_tagged_gtids(text: &str) -> bool {
    text.parse::<GtidSet>()
        .is_ok_and(|set| set.sources().any(|(tsid, _)| tsid.tag.is_some()))
}

/// DM's `msg` for a location whose GTIDs DM cannot read back.
pub(crate) fn tagged_gtid_warning(location: &CheckpointLocation) -> Option<String> {
    has_tagged_gtids(&location.binlog_gtid).then(|| {
        format!(
            "the GTID set at {location} has tagged GTIDs (MySQL 8.4), which DM's GTID parser \
             (go-mysql v1.13) rejects: DM will fail to load this checkpoint; use a DM built with \
             go-mysql 1.15 or later, or start with --gtid off"
        )
    })
}

/// The upstream's own name of a checkpoint's file: DM's relay suffix taken off
/// (`mysql-bin|000002.000007` is `mysql-bin.000007`, as DM's `RemoveRelaySubDirSuffix`).
pub(crate) fn upstream_file_name(name: &str) -> String {
    match split_name(name) {
        Some(FileName {
            base,
            relay_suffix: Some(_),
            ..
        }) => format!("{base}.{}", &name[name.rfind('.').map_or(0, |i| i + 1)..]),
        _ => name.to_owned(),
    }
}

/// `base.seq` of a relay sub-directory's file as DM names it in checkpoints
/// (`mysql-bin|000002.000007`); a name that is not `base.digits` stays as it is.
pub(crate) fn relay_file_name(file: &str, relay_subdir: &str) -> String {
    let suffix = relay_subdir.rsplit_once('.').map(|(_, s)| s);
    match (file.rsplit_once('.'), suffix) {
        (Some((base, seq)), Some(suffix))
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{base}|{suffix}.{seq}")
        }
        _ => file.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str, pos: u32, gtid: &str) -> CheckpointLocation {
        CheckpointLocation {
            binlog_name: name.into(),
            binlog_pos: pos,
            binlog_gtid: gtid.into(),
        }
    }

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U2: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn files_and_positions() {
        use LocationOrder::*;
        let a = at("mysql-bin.000009", 500, "");
        assert_eq!(a.compare(&at("mysql-bin.000010", 4, "")), Before);
        assert_eq!(a.compare(&at("mysql-bin.000009", 500, "")), Same);
        assert_eq!(a.compare(&at("mysql-bin.000009", 499, "")), After);
        assert!(matches!(
            a.compare(&at("other-bin.000009", 4, "")),
            Incomparable(_)
        ));
        assert_eq!(
            at("mysql-bin|000002.000001", 4, "").compare(&at("mysql-bin|000001.000009", 4, "")),
            After
        );
        assert_eq!(
            at("mysql-bin|000002.000001", 4, "").compare(&at("mysql-bin.000002", 4, "")),
            Before
        );
    }

    /// DM's location order (DM-COMPAT.md §3.3), row by row with the code each follows:
    /// - tiflow c7b2588 `dm/pkg/binlog/position.go`: `CompareLocation` (GTIDs first when both
    ///   have them), `CompareGTID` (containment both ways), `ComparePosition` with
    ///   `RemoveRelaySubDirSuffix`;
    /// - go-mysql v1.13.0 `mysql/mysql_gtid.go` (`MysqlGTIDSet.Contain`),
    ///   `mysql/mariadb_gtid.go` (`MariadbGTIDSet.Contain`, per domain *and* server_id),
    ///   `mysql/position.go` (`Position.Compare`, `CompareBinlogFileName`).
    ///
    /// Where DM falls back to positions for GTID sets that cross, the row says `Incomparable`
    /// (the safe-mode decision then keeps the window and says so).
    #[test]
    fn dm_compare_location_table() {
        use LocationOrder::*;
        let mysql = |n: &str, p: u32, g: String| at(n, p, &g);
        let rows: Vec<(
            CheckpointLocation,
            CheckpointLocation,
            Option<LocationOrder>,
            &str,
        )> = vec![
            // Position.Compare: names (base, then sequence as a number), then positions.
            (
                at("mysql-bin.000009", 500, ""),
                at("mysql-bin.000010", 4, ""),
                Some(Before),
                "CompareBinlogFileName: sequence",
            ),
            (
                at("mysql-bin.000009", 500, ""),
                at("mysql-bin.000009", 500, ""),
                Some(Same),
                "Position.Compare: equal",
            ),
            (
                at("mysql-bin.000009", 500, ""),
                at("mysql-bin.000009", 499, ""),
                Some(After),
                "Position.Compare: pos",
            ),
            (
                at("mysql-bin.999999", 4, ""),
                at("mysql-bin.1000000", 4, ""),
                Some(Before),
                "CompareBinlogFileName: Atoi, not text",
            ),
            // Different base names: DM compares them as plain strings; they are not one sequence.
            (
                at("mysql-bin.000009", 4, ""),
                at("other-bin.000001", 4, ""),
                None,
                "CompareBinlogFileName: base names",
            ),
            // Relay sub-directory suffixes (RemoveRelaySubDirSuffix).
            (
                at("mysql-bin|000002.000001", 4, ""),
                at("mysql-bin|000001.000009", 4, ""),
                Some(After),
                "ComparePosition: both suffixed",
            ),
            (
                at("mysql-bin|000002.000001", 4, ""),
                at("mysql-bin.000002", 4, ""),
                Some(Before),
                "ComparePosition: suffix removed",
            ),
            // MySQL sets: containment decides over positions (CompareGTID).
            (
                mysql("x.000001", 900, format!("{U1}:1-5")),
                mysql("x.000001", 100, format!("{U1}:1-7")),
                Some(Before),
                "CompareGTID: subset",
            ),
            (
                mysql("x.000001", 100, format!("{U1}:1-7")),
                mysql("x.000001", 900, format!("{U1}:1-5")),
                Some(After),
                "CompareGTID: superset",
            ),
            // Equal sets are the same location, whatever the positions (a rotation).
            (
                mysql("x.000012", 900, format!("{U1}:1-5")),
                mysql("x.000013", 4, format!("{U1}:1-5")),
                Some(Same),
                "CompareGTID: contain both ways",
            ),
            (
                mysql("x.000001", 100, format!("{U1}:1-5")),
                mysql("x.000001", 100, format!("{U1}:1-3,{U2}:1")),
                None,
                "CompareGTID: neither contains",
            ),
            // One side without GTIDs: by file and position (DM-COMPAT; DM would call it before).
            (
                mysql("x.000001", 900, format!("{U1}:1-5")),
                at("x.000002", 4, ""),
                Some(Before),
                "CompareLocation: positions",
            ),
            // MariaDB, as DM writes it after a failover: one GTID per (domain, server_id).
            (
                at("m.000015", 4, "0-2-120"),
                at("m.000012", 4, "0-1-100,0-2-150"),
                Some(Before),
                "MariadbGTIDSet.Contain: (0,2) 150 >= 120",
            ),
            (
                at("m.000012", 4, "0-1-100,0-2-150"),
                at("m.000015", 4, "0-1-100,0-2-150,1-2-5"),
                Some(Before),
                "MariadbGTIDSet.Contain: a domain more",
            ),
            (
                at("m.000003", 4, "0-1-100,1-2-5"),
                at("m.000001", 4, "0-1-101,1-2-5"),
                Some(Before),
                "MariadbGTID.Contain: sequence",
            ),
            (
                at("m.000003", 4, "0-1-100,1-2-5"),
                at("m.000001", 4, "0-2-100,1-2-4"),
                None,
                "MariadbGTIDSet.Contain: another server_id",
            ),
            (
                at("m.000003", 4, "0-1-100,1-2-5"),
                at("m.000001", 4, "0-1-99,1-2-6"),
                None,
                "ahead in different domains",
            ),
            (
                at("m.000003", 4, "0-1-100"),
                at("m.000009", 4, " 0-1-100"),
                Some(Same),
                "equal sets, spaces aside",
            ),
            (
                at("m.000003", 4, "0-1-100"),
                mysql("m.000001", 4, format!("{U1}:1-5")),
                None,
                "flavours differ",
            ),
        ];
        for (a, b, want, why) in rows {
            let got = a.compare(&b);
            match want {
                Some(want) => assert_eq!(got, want, "{a} vs {b}: {why}"),
                None => assert!(matches!(got, Incomparable(_)), "{a} vs {b}: {why}: {got:?}"),
            }
        }
    }

    /// GTID text is written canonical and without spaces: go-mysql's parser fails on the space
    /// in `meta.binlog-gtid: "0-1-42736, 1-2-2858"`, and DM would not load the row.
    #[test]
    fn gtid_text_is_written_the_way_dm_reads_it() {
        assert_eq!(
            dm_gtid_text("0-1-42736, 1-2-2858").unwrap(),
            "0-1-42736,1-2-2858"
        );
        assert_eq!(dm_gtid_text("0-2-150, 0-1-100").unwrap(), "0-1-100,0-2-150");
        let upper = format!("{}:1-3, {U1}:4-5", U1.to_uppercase());
        assert_eq!(dm_gtid_text(&upper).unwrap(), format!("{U1}:1-5"));
        assert!(dm_gtid_text("0-1-x").is_err());
        assert!(dm_gtid_text("nonsense").is_err());
        assert!(has_tagged_gtids(&format!("{U1}:1-3:blue:1-2")));
        assert!(!has_tagged_gtids(&format!("{U1}:1-3")));
        assert!(!has_tagged_gtids("0-1-2"));
    }

    /// How DM itself orders two checkpoint locations (`CompareLocation`), with and without
    /// enable-gtid: what it will do with the exit point written.
    #[test]
    fn dm_order_follows_compare_location() {
        use Ordering::*;
        let g = |n: &str, p: u32, gtid: &str| at(n, p, gtid);
        // enable-gtid: GTID sets decide; both empty are the same; empty is first.
        assert_eq!(
            g("b.000009", 4, "0-1-5").dm_order(&g("b.000001", 4, "0-1-9"), true),
            Less
        );
        assert_eq!(
            g("b.000009", 4, "").dm_order(&g("b.000001", 4, ""), true),
            Equal
        );
        assert_eq!(
            g("b.000009", 4, "").dm_order(&g("b.000001", 4, "0-1-1"), true),
            Less
        );
        // Crossing sets: positions decide.
        assert_eq!(
            g("b.000009", 4, "0-1-5,0-2-1").dm_order(&g("b.000001", 4, "0-1-9"), true),
            Greater
        );
        // Without enable-gtid: positions only, base names as strings.
        assert_eq!(
            g("b.000009", 4, "0-1-5").dm_order(&g("b.000010", 4, "0-1-1"), false),
            Less
        );
        assert_eq!(
            g("z.000001", 4, "").dm_order(&g("a.000009", 4, ""), false),
            Greater
        );
        assert_eq!(
            g("b.999999", 4, "").dm_order(&g("b.1000000", 4, ""), false),
            Less
        );
        assert_eq!(
            g("b|000002.000001", 4, "").dm_order(&g("b.000002", 4, ""), false),
            Less
        );
    }

    #[test]
    fn dms_fresh_row_is_no_checkpoint() {
        assert!(at("", 4, "").is_fresh());
        assert!(at("", 0, "").is_fresh());
        assert!(!at("mysql-bin.000001", 4, "").is_fresh());
        assert!(!at("", 4, "0-1-5").is_fresh());
    }

    #[test]
    fn relay_names() {
        assert_eq!(
            upstream_file_name("mysql-bin|000002.000007"),
            "mysql-bin.000007"
        );
        assert_eq!(upstream_file_name("mysql-bin.000007"), "mysql-bin.000007");
        assert_eq!(
            relay_file_name(
                "mysql-bin.000007",
                "0b8d2c3a-1111-11ee-8c99-0242ac120002.000002"
            ),
            "mysql-bin|000002.000007"
        );
        assert_eq!(
            relay_file_name("mysql-bin.000007", "plain"),
            "mysql-bin.000007"
        );
    }
}
