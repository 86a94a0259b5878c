//! `startpoint index`: every file's summary, as a table or JSON.

use std::io::Write;
use std::sync::Arc;

use serde_json::{Value, json};

use startpoint::remote::index_remote;
use startpoint::resolve::ReadProgress;
use startpoint::resolve::explain::coded;
use startpoint::resolve::index::{Audit, Coverage, FileCoverage, NotSummarised, cover_local};
use startpoint::resolve::summary::UnitMark;
use startpoint::start_time::format_instant;
use startpoint::unit::TimeBasis;

use super::EXIT_FAILED;
use super::args::{GlobalArgs, IndexArgs, OutputFormat};

pub(super) fn run(args: &IndexArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let cache = super::summary_cache(&args.cache);
    let progress = Arc::new(ReadProgress::default());
    let outcome = {
        let _bar = super::progress::follow(&progress);
        collect(args, global, cache.clone(), progress)
    };
    let (rows, notes, origin) = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            let message = error.to_string();
            if args.output == OutputFormat::Json {
                let value = json!({
                    "schema_version": super::SCHEMA_VERSION,
                    "status": "Error",
                    "error": message,
                });
                super::json_line(&value)?;
            }
            say!("error: {message}");
            return Ok(EXIT_FAILED);
        }
    };
    let stdout = std::io::stdout();
    let mut out = super::Screen::new(stdout.lock(), args.output == OutputFormat::Json);
    match args.output {
        OutputFormat::Json => {
            let value = json!({
                "schema_version": super::SCHEMA_VERSION,
                "source": origin,
                "cache": cache.path().map(|p| p.display().to_string()),
                "files": rows.iter().map(row_json).collect::<Vec<Value>>(),
                "notes": notes.iter().map(startpoint::resolve::explain::coded).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        OutputFormat::Text => write_table(&mut out, &origin, &rows)?,
    }
    out.flush()?;
    for note in &notes {
        say!("note: {note}");
    }
    let wrong: Vec<&FileCoverage> = rows
        .iter()
        .filter(|row| matches!(row.coverage, Coverage::Mismatch(_)))
        .collect();
    let unreadable = rows
        .iter()
        .filter(|row| {
            matches!(
                &row.coverage,
                Coverage::Unsummarised(NotSummarised::ReadFailed { .. })
            )
        })
        .count();
    if args.verify {
        if let Some(path) = cache.path().filter(|_| cache.is_active()) {
            let count = |coverage: Coverage| rows.iter().filter(|r| r.coverage == coverage).count();
            say!(
                "note: verify: {} cached summaries match their files, {} do not (the cache was wrong; \
                 replaced by what the files say now){}; {} were stale (another file's, never \
                 used; replaced); cache {}",
                count(Coverage::Verified),
                wrong.len(),
                if wrong.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}",
                        wrong
                            .iter()
                            .map(|row| row.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                count(Coverage::Stale),
                path.display()
            );
        } else {
            say!("note: the summary cache is not in use, so there is nothing to verify");
            return Ok(EXIT_FAILED);
        }
    }
    if unreadable > 0 {
        say!("warning: {unreadable} files could not be read (their rows say why)");
    }
    Ok(if wrong.is_empty() && unreadable == 0 {
        0
    } else {
        EXIT_FAILED
    })
}

type Collected = (
    Vec<FileCoverage>,
    Vec<startpoint::resolve::explain::Note>,
    String,
);

fn audit(args: &IndexArgs) -> Audit {
    if args.verify {
        Audit::Verify
    } else {
        Audit::Trust
    }
}

fn collect(
    args: &IndexArgs,
    global: &GlobalArgs,
    cache: Arc<startpoint::resolve::cache::SummaryCache>,
    progress: Arc<ReadProgress>,
) -> anyhow::Result<Collected> {
    if let Some(dir) = super::local_sequence(&args.source, false)? {
        let (rows, notes) = cover_local(&dir, cache, progress, audit(args))?;
        return Ok((rows, notes, dir.dir.display().to_string()));
    }
    let settings = super::live_settings(
        &args.source,
        &args.client,
        global,
        args.compress,
        args.server_id,
    )?
    .ok_or_else(|| anyhow::anyhow!(super::NO_SOURCE))?;
    let runtime = super::runtime()?;
    let deadline = tokio::time::Instant::now() + global.rpc_timeout;
    let (rows, notes, version) = runtime.block_on(index_remote(
        &settings,
        deadline,
        progress,
        cache,
        audit(args),
    ))?;
    Ok((rows, notes, format!("{} ({version})", settings.display())))
}

fn mark_json(mark: &UnitMark) -> Value {
    json!({
        "pos": mark.pos,
        "commit_time": format_instant(mark.time(TimeBasis::Commit)),
        "begin_time": format_instant(mark.time(TimeBasis::Begin)),
        "gtid": mark.gtid,
    })
}

fn row_json(row: &FileCoverage) -> Value {
    let summary = row.summary.as_ref();
    let basis = |basis: TimeBasis| {
        summary.map(|s| {
            json!({
                "earliest": s.units.earliest(basis).map(format_instant),
                "latest": s.units.latest(basis).map(format_instant),
                "backwards_us": s.units.backwards(basis),
            })
        })
    };
    json!({
        "binlog_name": row.name,
        "relay_subdir": row.relay_subdir,
        "size": row.size,
        "summary": row.coverage.as_str(),
        "why": match &row.coverage {
            Coverage::Unsummarised(why) => Some(coded(why)),
            Coverage::Mismatch(why) => Some(coded(why)),
            _ => None,
        },
        "units": summary.map(|s| s.units.count),
        "first": summary.and_then(|s| s.units.first.as_ref()).map(mark_json),
        "last": summary.and_then(|s| s.units.last.as_ref()).map(mark_json),
        "commit": basis(TimeBasis::Commit),
        "begin": basis(TimeBasis::Begin),
        "gtid_declared": summary.and_then(|s| s.declared.as_ref()).map(ToString::to_string),
        "gtid_end": summary.and_then(|s| s.end.as_ref()).map(ToString::to_string),
        "gtid_gap": row.gtid_gap,
    })
}

/// `1h2m3s`-style, for how far a clock runs backwards.
fn span(us: i64) -> String {
    if us <= 0 {
        return "0s".to_owned();
    }
    if us < 1_000_000 {
        return format!("{}ms", (us + 999) / 1000);
    }
    humantime::format_duration(std::time::Duration::from_secs((us / 1_000_000) as u64)).to_string()
}

fn write_table(out: &mut impl Write, origin: &str, rows: &[FileCoverage]) -> std::io::Result<()> {
    writeln!(out, "{origin}")?;
    let header = [
        "FILE",
        "SIZE",
        "FIRST (commit)",
        "LAST (commit)",
        "BACKWARDS",
        "UNITS",
        "GTIDS",
        "SUMMARY",
    ];
    let mut table: Vec<[String; 8]> = vec![header.map(str::to_owned)];
    for row in rows {
        let name = match &row.relay_subdir {
            Some(sub) => format!("{sub}/{}", row.name),
            None => row.name.clone(),
        };
        let summary = row.summary.as_ref();
        let time = |mark: Option<&UnitMark>| {
            mark.map_or("-".to_owned(), |m| {
                format_instant(m.time(TimeBasis::Commit))
            })
        };
        let gtids = summary
            .map(|s| {
                let first = s.units.first.as_ref().and_then(|m| m.gtid.clone());
                let last = s.units.last.as_ref().and_then(|m| m.gtid.clone());
                match (first, last) {
                    (Some(a), Some(b)) if a == b => a,
                    (Some(a), Some(b)) => format!("{a} .. {b}"),
                    _ => "-".to_owned(),
                }
            })
            .unwrap_or_else(|| "-".to_owned());
        let mut state = row.coverage.as_str().to_owned();
        match &row.coverage {
            Coverage::Unsummarised(why) => state = format!("{state}: {why}"),
            Coverage::Mismatch(why) => state = format!("{state}: {why}"),
            _ => {}
        }
        if row.gtid_gap {
            state.push_str("; GTIDs before it differ from the previous file's end");
        }
        table.push([
            name,
            row.size.map_or("-".to_owned(), |s| s.to_string()),
            time(summary.and_then(|s| s.units.first.as_ref())),
            time(summary.and_then(|s| s.units.last.as_ref())),
            summary.map_or("-".to_owned(), |s| {
                span(s.units.backwards(TimeBasis::Commit))
            }),
            summary.map_or("-".to_owned(), |s| s.units.count.to_string()),
            gtids,
            state,
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 7 {
                line.push_str(cell);
            } else if c == 1 || c == 5 {
                line.push_str(&format!("{cell:>w$}  ", w = widths[c]));
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
