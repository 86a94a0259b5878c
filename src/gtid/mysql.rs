//! MySQL GTID sets: `uuid[:tag]:interval…` blocks, as `@@gtid_executed` and PREVIOUS_GTIDS hold
//! them.
//!
//! Canonical text (what [`GtidSet`]'s `Display` prints and SEMANTICS.md §5 requires): UUIDs in
//! ascending order, lower-case; for each UUID the untagged intervals first, then each tag in
//! ascending order followed by its intervals (`uuid:1-5:7:tag_a:1-3`, as MySQL 8.4 prints
//! tagged sets, see MySQL bug 116789); intervals merged and ascending; blocks joined by `,`.
//!
//! Costs: adding the next GNO of a source (the common case while walking a binlog) is
//! O(log S) for S sources plus O(1) to extend the last interval; `union` and `is_subset` are
//! linear in the number of intervals.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The largest GNO MySQL assigns (`GNO_END - 1`, i.e. `i64::MAX - 1`).
pub(crate) const MAX_GNO: u64 = (i64::MAX - 1) as u64;

/// Why a GTID or GTID set text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid GTID set {text:?}: {why} (expected e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7)"
)]
pub struct GtidParseError {
    pub text: String,
    pub why: String,
}

fn parse_error(text: &str, why: impl Into<String>) -> GtidParseError {
    GtidParseError {
        text: text.to_owned(),
        why: why.into(),
    }
}

/// A server UUID (a GTID's source id), kept as its 16 bytes; prints lower-case with dashes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses `8-4-4-4-12` hex digits with dashes, or 32 hex digits without.
    pub fn parse(text: &str) -> Option<Uuid> {
        let dashed = text.len() == 36
            && text
                .char_indices()
                .all(|(i, c)| (c == '-') == matches!(i, 8 | 13 | 18 | 23));
        let hex: String = if dashed {
            text.chars().filter(|c| *c != '-').collect()
        } else {
            text.to_owned()
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Uuid(bytes))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A GTID tag (MySQL 8.3+): 1–32 characters `[a-z_][a-z0-9_]*`, case-insensitive, kept
/// lower-case as MySQL prints it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Tag(String);

impl Tag {
    /// `text` as a tag, lower-cased; `None` when it is not a valid tag.
    pub fn parse(text: &str) -> Option<Tag> {
        let lower = text.to_ascii_lowercase();
        let mut chars = lower.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        (first_ok && rest_ok && lower.len() <= 32).then_some(Tag(lower))
    }

    /// The tag, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Transaction source id: a UUID and, for tagged GTIDs, a tag.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Tsid {
    /// The source server's UUID (`server_uuid`).
    pub uuid: Uuid,
    /// `None` sorts before every tag, which gives MySQL's print order.
    pub tag: Option<Tag>,
}

/// One MySQL GTID: `uuid[:tag]:gno`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Gtid {
    /// Who wrote the transaction.
    pub tsid: Tsid,
    /// The transaction's number for that source, from 1.
    pub gno: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.tsid.uuid)?;
        if let Some(tag) = &self.tsid.tag {
            write!(f, ":{}", tag.as_str())?;
        }
        write!(f, ":{}", self.gno)
    }
}

/// Sorted, merged, non-adjacent closed intervals of GNOs.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct IntervalSet {
    /// `(first, last)`, both inclusive; `last + 1 < next.first`.
    intervals: Vec<(u64, u64)>,
}

impl IntervalSet {
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The intervals, inclusive on both ends.
    pub fn intervals(&self) -> &[(u64, u64)] {
        &self.intervals
    }

    /// Adds `first..=last` (`first <= last`).
    pub fn insert_range(&mut self, first: u64, last: u64) {
        debug_assert!(first <= last);
        // Fast path: extending or appending at the end, as a binlog walk does.
        if let Some(tail) = self.intervals.last_mut() {
            if first > tail.1.saturating_add(1) {
                self.intervals.push((first, last));
                return;
            }
            if first >= tail.0 {
                tail.1 = tail.1.max(last);
                return;
            }
        } else {
            self.intervals.push((first, last));
            return;
        }
        // General case: find the intervals that touch [first, last] and merge them.
        let start = self
            .intervals
            .partition_point(|&(_, end)| end.saturating_add(1) < first);
        let stop = self
            .intervals
            .partition_point(|&(begin, _)| begin <= last.saturating_add(1));
        if start == stop {
            self.intervals.insert(start, (first, last));
        } else {
            let merged = (
                first.min(self.intervals[start].0),
                last.max(self.intervals[stop - 1].1),
            );
            self.intervals.splice(start..stop, [merged]);
        }
    }

    pub fn insert(&mut self, gno: u64) {
        self.insert_range(gno, gno);
    }

    pub fn contains(&self, gno: u64) -> bool {
        let i = self.intervals.partition_point(|&(_, end)| end < gno);
        self.intervals
            .get(i)
            .is_some_and(|&(begin, _)| begin <= gno)
    }

    pub fn union_with(&mut self, other: &IntervalSet) {
        for &(first, last) in &other.intervals {
            self.insert_range(first, last);
        }
    }

    pub fn is_subset(&self, other: &IntervalSet) -> bool {
        self.intervals.iter().all(|&(first, last)| {
            let i = other.intervals.partition_point(|&(_, end)| end < first);
            other
                .intervals
                .get(i)
                .is_some_and(|&(begin, end)| begin <= first && last <= end)
        })
    }
}

impl fmt::Display for IntervalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(first, last)) in self.intervals.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            if first == last {
                write!(f, "{first}")?;
            } else {
                write!(f, "{first}-{last}")?;
            }
        }
        Ok(())
    }
}

/// A set of MySQL GTIDs.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct GtidSet {
    /// Never holds an empty `IntervalSet`.
    sources: BTreeMap<Tsid, IntervalSet>,
}

impl GtidSet {
    /// An empty set.
    pub fn new() -> GtidSet {
        GtidSet::default()
    }

    /// Whether the set holds no GTID.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The sources and their GNOs, in canonical order.
    pub fn sources(&self) -> impl Iterator<Item = (&Tsid, &IntervalSet)> {
        self.sources.iter()
    }

    /// Adds one GTID.
    pub fn add(&mut self, gtid: &Gtid) {
        self.add_range(&gtid.tsid, gtid.gno, gtid.gno);
    }

    /// Adds `first..=last` of `tsid`.
    pub fn add_range(&mut self, tsid: &Tsid, first: u64, last: u64) {
        match self.sources.get_mut(tsid) {
            Some(set) => set.insert_range(first, last),
            None => {
                let mut set = IntervalSet::default();
                set.insert_range(first, last);
                self.sources.insert(tsid.clone(), set);
            }
        }
    }

    /// Whether `gtid` is in the set.
    pub fn contains(&self, gtid: &Gtid) -> bool {
        self.sources
            .get(&gtid.tsid)
            .is_some_and(|set| set.contains(gtid.gno))
    }

    /// Adds every GTID of `other`.
    pub fn union_with(&mut self, other: &GtidSet) {
        for (tsid, set) in &other.sources {
            match self.sources.get_mut(tsid) {
                Some(mine) => mine.union_with(set),
                None => {
                    self.sources.insert(tsid.clone(), set.clone());
                }
            }
        }
    }

    /// The GTIDs of both sets.
    pub fn union(&self, other: &GtidSet) -> GtidSet {
        let mut result = self.clone();
        result.union_with(other);
        result
    }

    /// True when every GTID of `self` is in `other`.
    pub fn is_subset(&self, other: &GtidSet) -> bool {
        self.sources.iter().all(|(tsid, set)| {
            other
                .sources
                .get(tsid)
                .is_some_and(|theirs| set.is_subset(theirs))
        })
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous: Option<Uuid> = None;
        for (tsid, set) in &self.sources {
            if previous == Some(tsid.uuid) {
                f.write_str(":")?;
            } else {
                if previous.is_some() {
                    f.write_str(",")?;
                }
                write!(f, "{}:", tsid.uuid)?;
                previous = Some(tsid.uuid);
            }
            if let Some(tag) = &tsid.tag {
                write!(f, "{}:", tag.as_str())?;
            }
            write!(f, "{set}")?;
        }
        Ok(())
    }
}

impl FromStr for GtidSet {
    type Err = GtidParseError;

    /// Accepts what MySQL prints and accepts: blocks separated by `,` (whitespace and newlines
    /// around them ignored), a UUID in either case with or without dashes, then `:`-separated
    /// intervals (`n` or `a-b`) and tags, each tag followed by its intervals. The same source
    /// may appear in several blocks. The empty string is the empty set.
    fn from_str(text: &str) -> Result<GtidSet, GtidParseError> {
        let mut set = GtidSet::new();
        if text.trim().is_empty() {
            return Ok(set);
        }
        for block in text.split(',') {
            let block = block.trim();
            let mut parts = block.split(':').map(str::trim);
            let uuid_text = parts.next().unwrap_or_default();
            let uuid = Uuid::parse(uuid_text)
                .ok_or_else(|| parse_error(text, format!("{uuid_text:?} is not a UUID")))?;
            let mut tsid = Tsid { uuid, tag: None };
            let mut intervals_for_tsid = 0;
            for part in parts {
                if part.starts_with(|c: char| c.is_ascii_digit()) {
                    let (first, last) = parse_interval(part)
                        .ok_or_else(|| parse_error(text, format!("{part:?} is not an interval")))?;
                    set.add_range(&tsid, first, last);
                    intervals_for_tsid += 1;
                } else {
                    if tsid.tag.is_some() && intervals_for_tsid == 0 {
                        return Err(parse_error(text, format!("no interval after tag {part:?}")));
                    }
                    let tag = Tag::parse(part)
                        .ok_or_else(|| parse_error(text, format!("{part:?} is not a tag")))?;
                    tsid = Tsid {
                        uuid,
                        tag: Some(tag),
                    };
                    intervals_for_tsid = 0;
                }
            }
            if intervals_for_tsid == 0 {
                return Err(parse_error(text, format!("{block:?} has no interval")));
            }
        }
        Ok(set)
    }
}

/// `n` or `first-last`, with `1 <= first <= last <= MAX_GNO`.
fn parse_interval(text: &str) -> Option<(u64, u64)> {
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .filter(|n| (1..=MAX_GNO).contains(n))
    };
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let n = number(text)?;
            (n, n)
        }
    };
    (first <= last).then_some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "896e7882-18fe-11ef-ab88-22222d34d411";

    fn set(text: &str) -> GtidSet {
        text.parse().unwrap()
    }

    #[test]
    fn prints_canonically() {
        let text = format!(
            "{B}:7:1-3,\n{}:5-6:Domain_1:1-3:15-21:domain_0:8, {A}:4",
            A.to_uppercase()
        );
        assert_eq!(
            set(&text).to_string(),
            format!("{A}:4-6:domain_0:8:domain_1:1-3:15-21,{B}:1-3:7")
        );
        assert_eq!(set("").to_string(), "");
        assert_eq!(
            set("3E11FA4771CA11E19E33C80AA9429562:1").to_string(),
            format!("{A}:1")
        );
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "nonsense",
            A,
            &format!("{A}:"),
            &format!("{A}:0"),
            &format!("{A}:5-3"),
            &format!("{A}:1-x"),
            &format!("{A}:tag"),
            &format!("{A}:1:9tag:1"),
            &format!("{A}:1:tag"),
            &format!("{A}:9223372036854775807"),
            &format!("{A}:1,,{B}:1"),
        ] {
            assert!(bad.parse::<GtidSet>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn subset_and_contains() {
        let big = set(&format!("{A}:1-10:20,{B}:1-5"));
        assert!(set(&format!("{A}:2-9")).is_subset(&big));
        assert!(!set(&format!("{A}:9-11")).is_subset(&big));
        assert!(!set(&format!("{A}:tag:1")).is_subset(&big));
        assert!(GtidSet::new().is_subset(&big));
        let gtid = Gtid {
            tsid: Tsid {
                uuid: Uuid::parse(A).unwrap(),
                tag: None,
            },
            gno: 20,
        };
        assert!(big.contains(&gtid));
        assert_eq!(gtid.to_string(), format!("{A}:20"));
    }

    fn arb_set() -> impl Strategy<Value = GtidSet> {
        let tsid = (
            0u8..3,
            prop::option::of(prop::sample::select(vec!["a", "b_1", "zz"])),
        )
            .prop_map(|(u, tag)| Tsid {
                uuid: Uuid([u; 16]),
                tag: tag.map(|t| Tag::parse(t).unwrap()),
            });
        prop::collection::vec((tsid, 1u64..60, 0u64..5), 0..12).prop_map(|ranges| {
            let mut set = GtidSet::new();
            for (tsid, first, len) in ranges {
                set.add_range(&tsid, first, first + len);
            }
            set
        })
    }

    proptest! {
        #[test]
        fn print_then_parse_is_identity(s in arb_set()) {
            let text = s.to_string();
            let back: GtidSet = text.parse().unwrap();
            prop_assert_eq!(&back, &s);
            prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn union_laws(a in arb_set(), b in arb_set(), c in arb_set()) {
            prop_assert_eq!(a.union(&b), b.union(&a));
            prop_assert_eq!(a.union(&b).union(&c), a.union(&b.union(&c)));
            prop_assert_eq!(a.union(&a), a.clone());
            prop_assert!(a.is_subset(&a.union(&b)));
            prop_assert!(b.is_subset(&a.union(&b)));
        }

        #[test]
        fn contains_after_add(s in arb_set(), u in 0u8..3, gno in 1u64..80) {
            let gtid = Gtid { tsid: Tsid { uuid: Uuid([u; 16]), tag: None }, gno };
            let mut s2 = s.clone();
            s2.add(&gtid);
            prop_assert!(s2.contains(&gtid));
            prop_assert!(s.is_subset(&s2));
        }

        #[test]
        fn intervals_stay_merged_and_sorted(s in arb_set()) {
            for (_, set) in s.sources() {
                for w in set.intervals().windows(2) {
                    prop_assert!(w[0].1 + 1 < w[1].0);
                }
            }
        }

        #[test]
        fn interval_insert_matches_a_plain_set(ops in prop::collection::vec((1u64..40, 0u64..4), 0..20)) {
            let mut set = IntervalSet::default();
            let mut plain = std::collections::BTreeSet::new();
            for (first, len) in ops {
                set.insert_range(first, first + len);
                plain.extend(first..=first + len);
            }
            for gno in 0..50 {
                prop_assert_eq!(set.contains(gno), plain.contains(&gno));
            }
        }
    }
}
