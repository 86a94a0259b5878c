//! `startpoint list-units FILE|DIR…`: every transaction unit, one line each.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use startpoint::binlog::{FileEventSource, ReadOptions};
use startpoint::source::local::{BinlogDir, BinlogFileEntry};
use startpoint::unit::{TransactionUnit, UnitReader};

use super::args::{ListUnitsArgs, OutputFormat};
use startpoint::start_time::{format_instant, format_utc_column};

/// One line of `--output json`.
#[derive(Serialize)]
struct UnitLine<'a> {
    schema_version: u32,
    binlog_name: &'a str,
    pos: u64,
    end_pos: u64,
    begin_time: String,
    commit_time: String,
    gtid: Option<String>,
    /// The GTIDs executed before the unit: what an answer at it reports as `binlog_gtid`.
    binlog_gtid: String,
    kind: &'static str,
}

/// The files to read, in order: a directory's binlogs in sequence order, a file as given.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<BinlogFileEntry>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let listing = BinlogDir::open(path)?;
            for left in &listing.left_out {
                say!(
                    "note: {}: {} left out ({})",
                    path.display(),
                    left.name,
                    left.why
                );
            }
            // An entry left out with its reason (a FIFO the index lists) is not noted twice.
            let noted = |name: &str| listing.left_out.iter().any(|l| l.name == name);
            for (_, name) in listing.purged.iter().filter(|(_, n)| !noted(n)) {
                say!(
                    "note: {}: {name} is listed in the index but missing (purged)",
                    path.display()
                );
            }
            files.extend(listing.files);
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            files.push(BinlogFileEntry {
                name,
                path: path.clone(),
                relay_subdir: None,
            });
        }
    }
    Ok(files)
}

pub(super) fn run(args: &ListUnitsArgs) -> anyhow::Result<u8> {
    let files = expand(&args.paths)?;
    let stdout = std::io::stdout();
    let mut out = super::Screen::new(
        std::io::BufWriter::new(stdout.lock()),
        args.output == OutputFormat::Json,
    );
    if args.output == OutputFormat::Text {
        writeln!(
            out,
            "{:<18} {:>10} {:>10}  {:<19}  {:<26}  {:<11}  {:<24}  GTIDS BEFORE",
            "FILE", "POS", "END_POS", "BEGIN (UTC)", "COMMIT (UTC)", "KIND", "GTID"
        )?;
    }
    for (i, entry) in files.iter().enumerate() {
        let options = ReadOptions {
            newest: i + 1 == files.len(),
            ..ReadOptions::default()
        };
        let source = FileEventSource::open(&entry.path, options)?;
        let mut units = UnitReader::new(source, true);
        let result: anyhow::Result<()> = (|| {
            while let Some(unit) = units.next_unit()? {
                let before = units.executed().to_string();
                print_unit(&mut out, args.output, &entry.name, &unit, before)?;
            }
            Ok(())
        })();
        out.flush()?;
        for warning in units.warnings() {
            say!("warning: {warning}");
        }
        if let Some(offset) = units.source().cut_at() {
            say!(
                "note: {} ends inside an event at offset {offset}: it is still being written (or \
                 was cut short); what follows is not there yet",
                entry.path.display()
            );
        }
        result.with_context(|| format!("reading {}", entry.path.display()))?;
    }
    Ok(0)
}

fn print_unit(
    out: &mut impl Write,
    output: OutputFormat,
    file: &str,
    unit: &TransactionUnit,
    gtid_before: String,
) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => {
            let line = UnitLine {
                schema_version: super::SCHEMA_VERSION,
                binlog_name: file,
                pos: unit.pos,
                end_pos: unit.end_pos,
                begin_time: format_instant(unit.begin_us()),
                commit_time: format_instant(unit.commit_us()),
                gtid: unit.gtid.as_ref().map(ToString::to_string),
                binlog_gtid: gtid_before,
                kind: unit.end.as_str(),
            };
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            let begin = format_utc_column(unit.begin_us());
            writeln!(
                out,
                "{:<18} {:>10} {:>10}  {:<19}  {:<26}  {:<11}  {:<24}  {}",
                file,
                unit.pos,
                unit.end_pos,
                &begin[..19.min(begin.len())],
                format_utc_column(unit.commit_us()),
                unit.end.as_str(),
                unit.gtid
                    .as_ref()
                    .map_or("-".to_owned(), ToString::to_string),
                if gtid_before.is_empty() {
                    "-"
                } else {
                    &gtid_before
                },
            )?;
        }
    }
    Ok(())
}
