//! A checkpoint location as DM stores it (`binlog_name`, `binlog_pos`, `binlog_gtid`) and how two
//! of them compare (DM-COMPAT.md §3.3): by GTID set when both carry one, else by the binlog
//! file's sequence number and the position; some pairs cannot be ordered at all (different
//! servers, GTID sets that overlap without one containing the other), and saying so is part of
//! the answer.
//!
//! File names may carry DM's relay sub-directory suffix (`mysql-bin|000002.000007`: the file
//! `mysql-bin.000007` of relay sub-directory `<uuid>.000002`), which orders before the sequence.

use std::cmp::Ordering;
use std::fmt;

use crate::gtid::{GtidSet, MariaGtidPos};

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
    MariaDb(MariaGtidPos),
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
        if let Ok(pos) = text.parse::<MariaGtidPos>() {
            return (!pos.is_empty()).then_some(Gtids::MariaDb(pos));
        }
        text.parse::<GtidSet>()
            .ok()
            .filter(|s| !s.is_empty())
            .map(Gtids::MySql)
    }

    /// Where `self` is relative to `other`.
    pub fn compare(&self, other: &CheckpointLocation) -> LocationOrder {
        match (self.gtids(), other.gtids()) {
            (Some(Gtids::MySql(a)), Some(Gtids::MySql(b))) => {
                let order = match (a.is_subset(&b), b.is_subset(&a)) {
                    (true, true) => None,
                    (true, false) => Some(LocationOrder::Before),
                    (false, true) => Some(LocationOrder::After),
                    (false, false) => {
                        return LocationOrder::Incomparable(format!(
                            "their GTID sets {a} and {b} each have transactions the other has \
                             not"
                        ));
                    }
                };
                // Equal sets: the same transaction boundary; positions may still tell events
                // without GTIDs apart.
                order.unwrap_or_else(|| self.compare_files(other).unwrap_or(LocationOrder::Same))
            }
            (Some(Gtids::MariaDb(a)), Some(Gtids::MariaDb(b))) => {
                let mut less = false;
                let mut greater = false;
                for domain in a.iter().chain(b.iter()).map(|g| g.domain) {
                    let seq = |p: &MariaGtidPos| p.get(domain).map_or(0, |g| g.seq);
                    match seq(&a).cmp(&seq(&b)) {
                        Ordering::Less => less = true,
                        Ordering::Greater => greater = true,
                        Ordering::Equal => {}
                    }
                }
                match (less, greater) {
                    (false, false) => self.compare_files(other).unwrap_or(LocationOrder::Same),
                    (true, false) => LocationOrder::Before,
                    (false, true) => LocationOrder::After,
                    (true, true) => LocationOrder::Incomparable(format!(
                        "their GTID positions {a} and {b} are ahead of each other in different \
                         domains"
                    )),
                }
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

fn or_none(name: &str) -> &str {
    if name.is_empty() { "(none)" } else { name }
}

/// `base.seq` of a relay sub-directory's file as DM names it in checkpoints
/// (`mysql-bin|000002.000007`); a name that is not `base.digits` stays as it is.
pub fn relay_file_name(file: &str, relay_subdir: &str) -> String {
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

    #[test]
    fn mysql_gtid_sets() {
        use LocationOrder::*;
        let small = at("x.000001", 900, &format!("{U1}:1-5"));
        let big = at("x.000001", 100, &format!("{U1}:1-7"));
        // GTIDs decide over positions.
        assert_eq!(small.compare(&big), Before);
        assert_eq!(big.compare(&small), After);
        let other = at("x.000001", 100, &format!("{U1}:1-3,{U2}:1"));
        assert!(matches!(small.compare(&other), Incomparable(_)));
        // Equal sets fall back to positions.
        assert_eq!(
            small.compare(&at("x.000001", 950, &format!("{U1}:1-5"))),
            Before
        );
        // One side without GTIDs: by file.
        assert_eq!(small.compare(&at("x.000002", 4, "")), Before);
    }

    #[test]
    fn mariadb_positions() {
        use LocationOrder::*;
        let a = at("m.000003", 4, "0-1-100,1-2-5");
        assert_eq!(a.compare(&at("m.000001", 4, "0-1-101,1-2-5")), Before);
        assert_eq!(a.compare(&at("m.000001", 4, "0-2-100,1-2-4")), After);
        // A domain missing on one side counts as nothing executed there.
        assert_eq!(a.compare(&at("m.000001", 4, "0-1-100,1-2-5,2-1-1")), Before);
        assert!(matches!(
            a.compare(&at("m.000001", 4, "0-1-99,1-2-6")),
            Incomparable(_)
        ));
        assert!(matches!(
            a.compare(&at("m.000001", 4, &format!("{U1}:1-5"))),
            Incomparable(_)
        ));
    }

    #[test]
    fn relay_names() {
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
