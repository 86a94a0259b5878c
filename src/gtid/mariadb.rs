//! MariaDB GTID positions: per replication domain, the last GTID `domain-server-seq`, as
//! `@@gtid_binlog_pos`, `BINLOG_GTID_POS()` and `@@gtid_slave_pos` hold them.
//!
//! Canonical text: `domain-server-seq` entries in ascending domain order, joined by `,`
//! (the server prints domains in its own order; SEMANTICS.md §5 fixes ascending).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why a MariaDB GTID position text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MariaDB GTID position {text:?}: {why} (expected e.g. 0-1-100,1-2-5)")]
pub struct MariaGtidParseError {
    pub text: String,
    pub why: String,
}

/// One MariaDB GTID.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct MariaGtid {
    /// The replication domain.
    pub domain: u32,
    /// The server_id of the server that wrote the transaction.
    pub server: u32,
    /// The sequence number within the domain.
    pub seq: u64,
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl FromStr for MariaGtid {
    type Err = MariaGtidParseError;

    fn from_str(text: &str) -> Result<MariaGtid, MariaGtidParseError> {
        let error = |why: &str| MariaGtidParseError {
            text: text.to_owned(),
            why: why.to_owned(),
        };
        let mut parts = text.trim().split('-');
        let mut next = |what: &str| {
            parts
                .next()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| error(&format!("missing or non-numeric {what}")))
        };
        let domain = next("domain")?;
        let server = next("server_id")?;
        let seq = next("sequence number")?;
        if parts.next().is_some() {
            return Err(error("more than three parts"));
        }
        Ok(MariaGtid {
            domain: domain.parse().map_err(|_| error("domain out of range"))?,
            server: server
                .parse()
                .map_err(|_| error("server_id out of range"))?,
            seq: seq
                .parse()
                .map_err(|_| error("sequence number out of range"))?,
        })
    }
}

/// The GTIDs of a `,`-separated text, in order (whitespace around them allowed; the empty text
/// has none); an error names the entry.
fn parse_entries(text: &str) -> Result<Vec<MariaGtid>, MariaGtidParseError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|entry| {
            entry
                .parse()
                .map_err(|e: MariaGtidParseError| MariaGtidParseError {
                    text: text.to_owned(),
                    why: format!("{:?}: {}", entry.trim(), e.why),
                })
        })
        .collect()
}

/// `gtids` joined by `,`.
fn write_joined(f: &mut fmt::Formatter<'_>, gtids: impl Iterator<Item = MariaGtid>) -> fmt::Result {
    for (i, gtid) in gtids.enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{gtid}")?;
    }
    Ok(())
}

/// The last GTID of each replication domain.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct MariaGtidPos {
    domains: BTreeMap<u32, MariaGtid>,
}

impl MariaGtidPos {
    /// An empty position.
    pub fn new() -> MariaGtidPos {
        MariaGtidPos::default()
    }

    /// Whether no domain has a GTID.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Records `gtid` as its domain's last GTID.
    pub fn update(&mut self, gtid: MariaGtid) {
        self.domains.insert(gtid.domain, gtid);
    }

    /// `domain`'s last GTID, if the position has one.
    pub fn get(&self, domain: u32) -> Option<MariaGtid> {
        self.domains.get(&domain).copied()
    }

    /// The entries in ascending domain order.
    pub fn iter(&self) -> impl Iterator<Item = MariaGtid> + '_ {
        self.domains.values().copied()
    }
}

impl fmt::Display for MariaGtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, self.iter())
    }
}

impl FromStr for MariaGtidPos {
    type Err = MariaGtidParseError;

    /// Accepts entries separated by `,` with optional whitespace; the empty string is the empty
    /// position. A domain given twice is rejected, as the server does.
    fn from_str(text: &str) -> Result<MariaGtidPos, MariaGtidParseError> {
        let mut pos = MariaGtidPos::new();
        for gtid in parse_entries(text)? {
            if pos.domains.insert(gtid.domain, gtid).is_some() {
                return Err(MariaGtidParseError {
                    text: text.to_owned(),
                    why: format!("domain {} appears twice", gtid.domain),
                });
            }
        }
        Ok(pos)
    }
}

/// A MariaDB GTID set as DM keeps it (go-mysql v1.13 `MariadbGTIDSet`, `mysql/mariadb_gtid.go`):
/// the last sequence number per (domain, server_id), so after a failover one domain lists
/// several servers (`0-1-100,0-2-150,1-2-5`), as MariaDB's binlog state does. A checkpoint DM
/// wrote holds this text; a server's GTID position (one entry per domain) is a special case.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct MariaGtidSet {
    entries: BTreeMap<(u32, u32), u64>,
}

impl MariaGtidSet {
    /// Whether the set holds no GTID.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether every (domain, server_id) of `other` is here with a sequence number at least as
    /// high: go-mysql's `MariadbGTIDSet.Contain`, whose `MariadbGTID.Contain` compares the
    /// domain and the sequence number of entries found under the same server_id. So `0-1-100`
    /// does not contain `0-2-5`.
    pub fn contains(&self, other: &MariaGtidSet) -> bool {
        other
            .entries
            .iter()
            .all(|(key, seq)| self.entries.get(key).is_some_and(|mine| mine >= seq))
    }

    /// The GTIDs, one per (domain, server_id), in that order.
    pub fn iter(&self) -> impl Iterator<Item = MariaGtid> + '_ {
        self.entries
            .iter()
            .map(|(&(domain, server), &seq)| MariaGtid {
                domain,
                server,
                seq,
            })
    }
}

impl From<&MariaGtidPos> for MariaGtidSet {
    fn from(pos: &MariaGtidPos) -> MariaGtidSet {
        MariaGtidSet {
            entries: pos.iter().map(|g| ((g.domain, g.server), g.seq)).collect(),
        }
    }
}

impl fmt::Display for MariaGtidSet {
    /// Ascending (domain, server_id), joined by `,` without spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, self.iter())
    }
}

impl FromStr for MariaGtidSet {
    type Err = MariaGtidParseError;

    /// Entries separated by `,`, whitespace around them allowed (it is normalised away: go-mysql
    /// v1.13 does not trim, so DM cannot read `0-1-1, 0-2-2`); the empty string is the empty
    /// set. One (domain, server_id) given twice keeps the later entry, as go-mysql's
    /// `MariadbGTID.forward` does; an empty entry is an error.
    fn from_str(text: &str) -> Result<MariaGtidSet, MariaGtidParseError> {
        let mut set = MariaGtidSet::default();
        for gtid in parse_entries(text)? {
            set.entries.insert((gtid.domain, gtid.server), gtid.seq);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_domains_ascending() {
        let pos: MariaGtidPos = "10-1-5, 2-1-9,0-3-1".parse().unwrap();
        assert_eq!(pos.to_string(), "0-3-1,2-1-9,10-1-5");
        assert_eq!("".parse::<MariaGtidPos>().unwrap().to_string(), "");
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "0-1",
            "0-1-2-3",
            "a-1-2",
            "0-1-2,0-2-3",
            "0--2",
            "4294967296-1-1",
            "0-1-2,",
        ] {
            assert!(bad.parse::<MariaGtidPos>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn update_replaces_the_domain() {
        let mut pos: MariaGtidPos = "0-1-5,1-2-3".parse().unwrap();
        pos.update(MariaGtid {
            domain: 0,
            server: 3,
            seq: 6,
        });
        assert_eq!(pos.to_string(), "0-3-6,1-2-3");
    }

    /// DM's MariaDB GTID text lists one GTID per (domain, server_id) after a failover (go-mysql
    /// v1.13 `MariadbGTIDSet`); it is read, and contained, as DM does, not refused because a
    /// domain appears twice.
    #[test]
    fn dms_mariadb_gtid_text_is_read_and_contained_as_dm_does() {
        let dm: MariaGtidSet = "0-1-100,0-2-150,1-2-5".parse().unwrap();
        assert_eq!(dm.to_string(), "0-1-100,0-2-150,1-2-5");
        let spaced: MariaGtidSet = " 1-2-5 , 0-2-150,0-1-100".parse().unwrap();
        assert_eq!(spaced, dm);
        let s: MariaGtidSet = "0-2-120".parse().unwrap();
        assert!(dm.contains(&s) && !s.contains(&dm));
        // Another server's entry is not contained, whatever its sequence number.
        let other: MariaGtidSet = "0-3-1".parse().unwrap();
        assert!(!dm.contains(&other) && !other.contains(&dm));
        // The later of two entries for one (domain, server_id) stays, as go-mysql's forward().
        assert_eq!(
            "0-1-9,0-1-7".parse::<MariaGtidSet>().unwrap().to_string(),
            "0-1-7"
        );
        assert!("0-1-2,".parse::<MariaGtidSet>().is_err());
        assert!("".parse::<MariaGtidSet>().unwrap().is_empty());
        let pos: MariaGtidPos = "0-2-150,1-2-5".parse().unwrap();
        assert!(dm.contains(&MariaGtidSet::from(&pos)));
    }

    proptest! {
        #[test]
        fn print_then_parse_is_identity(entries in prop::collection::vec((0u32..50, any::<u32>(), any::<u64>()), 0..8)) {
            let mut pos = MariaGtidPos::new();
            for (domain, server, seq) in entries {
                pos.update(MariaGtid { domain, server, seq });
            }
            let text = pos.to_string();
            let back: MariaGtidPos = text.parse().unwrap();
            prop_assert_eq!(&back, &pos);
            prop_assert_eq!(back.to_string(), text);
        }
    }
}
