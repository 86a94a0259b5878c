//! SEMANTICS.md §5 read literally: collect every unit of every file in order, then take the
//! first whose time is at or after T. The reference every faster path is tested against;
//! O(total size) time and memory.

use crate::binlog::{EventSource, FileEventSource, ReadOptions};
use crate::source::local::BinlogDir;
use crate::unit::UnitReader;

use super::{GtidMode, Request, Resolution, ResolveError, SearchStats, SequenceFile};

/// The answer for `request` over every unit of `sequence`.
pub fn resolve_linear(sequence: &BinlogDir, request: &Request) -> Result<Resolution, ResolveError> {
    let track = request.gtid != GtidMode::Off;
    let count = sequence.files.len();
    let mut all = Vec::new();
    let mut first_created = None;
    let mut first_declared = None;
    for (index, entry) in sequence.files.iter().enumerate() {
        let options = ReadOptions {
            newest: index + 1 == count,
            ..ReadOptions::default()
        };
        let mut units = UnitReader::new(FileEventSource::open(&entry.path, options)?, track);
        if index == 0 {
            units.source_mut().advance()?;
            first_created = units.source().format().map(|f| f.created);
        }
        while let Some(unit) = units.next_unit()? {
            all.push((entry, unit, units.executed().clone()));
        }
        if index == 0 {
            first_declared = units.initial_gtids().cloned();
        }
    }
    let file = |entry: &crate::source::local::BinlogFileEntry| SequenceFile {
        name: entry.name.clone(),
        relay_subdir: entry.relay_subdir.clone(),
    };

    let lower_bound = first_created.map_or(i64::MAX, |c| (i64::from(c) + 1) * 1_000_000);
    if request.start_us < lower_bound {
        let gtid = track.then(|| first_declared.unwrap_or_default());
        return Ok(Resolution::below_lower_bound(
            file(&sequence.files[0]),
            gtid,
            Vec::new(),
        ));
    }
    match all
        .into_iter()
        .find(|(_, unit, _)| unit.time_us(request.basis) >= request.start_us)
    {
        Some((entry, unit, before)) => Ok(Resolution::in_range(
            file(entry),
            unit,
            track.then_some(before),
            Vec::new(),
            SearchStats::default(),
        )),
        None => Ok(Resolution::too_late(Vec::new(), SearchStats::default())),
    }
}
