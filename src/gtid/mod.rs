//! GTIDs of both flavours and the executed-GTID state a binlog location carries.
//!
//! - `mysql`: MySQL GTID sets (`uuid[:tag]:intervals`), with set algebra;
//! - `mariadb`: MariaDB GTID positions (last `domain-server-seq` per domain).
//!
//! No maintained crate covers either (mysql_common's `Sid` holds one block and has no set
//! operations), so both are small, self-contained and property-tested.

pub(crate) mod mariadb;
pub(crate) mod mysql;

use std::fmt;

pub use mariadb::{MariaGtid, MariaGtidPos, MariaGtidSet};
pub use mysql::{Gtid, GtidSet, Tag, Tsid, Uuid};

/// The GTID of one transaction unit, in its flavour.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum UnitGtid {
    /// A MySQL GTID, `uuid[:tag]:gno`.
    MySql(Gtid),
    /// A MariaDB GTID, `domain-server-seq`.
    MariaDb(MariaGtid),
}

impl fmt::Display for UnitGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitGtid::MySql(gtid) => gtid.fmt(f),
            UnitGtid::MariaDb(gtid) => gtid.fmt(f),
        }
    }
}

/// The transactions executed before a binlog location (SEMANTICS.md §5): a MySQL GTID set, a
/// MariaDB GTID position, or nothing for binlogs without GTIDs (printed as `""`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum ExecutedGtids {
    /// No GTIDs: the binlog has none, or they were not asked for (`--gtid off`).
    #[default]
    None,
    /// A MySQL GTID set, as `gtid_executed` prints it.
    MySql(GtidSet),
    /// A MariaDB GTID position (one GTID per domain), as `gtid_slave_pos` takes it.
    MariaDb(MariaGtidPos),
}

impl ExecutedGtids {
    /// Adds a unit's GTID: to the set (MySQL) or as its domain's last (MariaDB).
    pub fn apply(&mut self, gtid: &UnitGtid) {
        match (self, gtid) {
            (ExecutedGtids::MySql(set), UnitGtid::MySql(gtid)) => set.add(gtid),
            (ExecutedGtids::MariaDb(pos), UnitGtid::MariaDb(gtid)) => pos.update(*gtid),
            (state @ ExecutedGtids::None, UnitGtid::MySql(gtid)) => {
                let mut set = GtidSet::new();
                set.add(gtid);
                *state = ExecutedGtids::MySql(set);
            }
            (state @ ExecutedGtids::None, UnitGtid::MariaDb(gtid)) => {
                let mut pos = MariaGtidPos::new();
                pos.update(*gtid);
                *state = ExecutedGtids::MariaDb(pos);
            }
            // A flavour change inside one source cannot happen in a valid binlog; the reader
            // reports such files before this point.
            _ => {}
        }
    }
}

impl ExecutedGtids {
    /// Adds what was executed after `self`: `later` holds the GTIDs of the units that followed
    /// (a union for MySQL; for MariaDB each of its domains' last GTID replaces this one's).
    pub fn extend(&mut self, later: &ExecutedGtids) {
        match (&mut *self, later) {
            (_, ExecutedGtids::None) => {}
            (ExecutedGtids::MySql(set), ExecutedGtids::MySql(more)) => set.union_with(more),
            (ExecutedGtids::MariaDb(pos), ExecutedGtids::MariaDb(more)) => {
                for gtid in more.iter() {
                    pos.update(gtid);
                }
            }
            (state @ ExecutedGtids::None, more) => *state = more.clone(),
            // Flavours do not mix inside one source.
            _ => {}
        }
    }
}

impl fmt::Display for ExecutedGtids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecutedGtids::None => Ok(()),
            ExecutedGtids::MySql(set) => set.fmt(f),
            ExecutedGtids::MariaDb(pos) => pos.fmt(f),
        }
    }
}
