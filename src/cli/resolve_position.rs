//! `startpoint resolve-position`: a start time → binlog file, position and GTID set.

use std::io::Write;
use std::sync::Arc;

use serde::Serialize;
use startpoint::resolve::explain::{Warning, coded};

use startpoint::locate::{self, LocateError, Options, Source};
use startpoint::resolve::{self, ReadProgress, Resolution, Status};
use startpoint::source::local::LocalSourceError;
use startpoint::start_time::{ResolvedTime, StartTime, TimeError, Zone, format_instant};
use startpoint::unit::TimeBasis;

use super::args::{GlobalArgs, GtidMode, OutputFormat, ResolvePositionArgs};
use super::{EXIT_FAILED, EXIT_TOO_LATE};

/// Everything that can stop a resolution, for one place that prints it.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error(transparent)]
    Source(#[from] LocalSourceError),
    #[error(transparent)]
    Live(#[from] super::LiveSourceError),
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error("{0}")]
    Runtime(String),
}

/// An answer and where it came from.
struct Answered {
    start: (StartTime, ResolvedTime),
    resolution: Resolution,
    /// `user@host:port` and the server's version, for a live source.
    server: Option<(String, String)>,
    /// Where the binlog came from, for `--emit`.
    origin: EmitOrigin,
}

/// The source as `--emit` names it: local files (name and path, oldest first) or a server.
enum EmitOrigin {
    /// (relay sub-directory, name, path), oldest first.
    Files(Vec<(Option<String>, String, std::path::PathBuf)>),
    Server(startpoint::remote::ConnSettings),
}

/// The JSON object of SEMANTICS.md §7, then the extra fields.
#[derive(Serialize)]
struct JsonAnswer<'a> {
    schema_version: u32,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    binlog_name: Option<&'a str>,
    binlog_pos: Option<u64>,
    binlog_gtid: Option<String>,
    start_time: String,
    time_basis: &'static str,
    /// The assumption the answer rests on, when the user turned one on and it was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    assumption: Option<&'a str>,
    input: &'a str,
    timezone: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_version: Option<&'a str>,
    relay_subdir: Option<&'a str>,
    matched: Option<JsonUnit<'a>>,
    /// Each a stable `code`, its fields and the `message`.
    warnings: Vec<serde_json::Value>,
    files_opened: u64,
    bytes_read: u64,
    events_read: u64,
    round_trips: u64,
    elapsed_ms: f64,
    /// What became of each file, and why (SEMANTICS.md §6).
    files: Vec<JsonFile<'a>>,
    notes: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    binlog_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    relay_subdir: Option<&'a str>,
    decision: &'static str,
    why: serde_json::Value,
}

#[derive(Serialize)]
struct JsonUnit<'a> {
    binlog_name: &'a str,
    pos: u64,
    end_pos: u64,
    gtid: Option<String>,
    begin_time: String,
    commit_time: String,
    kind: &'static str,
}

pub(super) fn run(args: &ResolvePositionArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    match resolve(args, global) {
        Ok(answered) => report(args, &answered),
        Err(failure) => {
            // With --emit, stdout holds the consumer's form or nothing.
            if args.output == OutputFormat::Json && args.emit.is_empty() {
                let text = serde_json::json!({
                    "schema_version": super::SCHEMA_VERSION,
                    "status": "Error",
                    "error": failure.to_string(),
                });
                super::json_line(&text)?;
            }
            say!("error: {failure}");
            Ok(EXIT_FAILED)
        }
    }
}

/// A source as the command line chose it: local files already listed, or a live server.
enum Chosen {
    Listed(startpoint::source::local::BinlogDir),
    Live(Source),
}

fn resolve(args: &ResolvePositionArgs, global: &GlobalArgs) -> Result<Answered, Failure> {
    let start = StartTime::parse(&args.start_time)?;
    let mut options = Options::new(global.rpc_timeout);
    options.basis = args.time_basis.into();
    options.gtid = args.gtid.into();
    options.zone = args.timezone.as_deref().map(Zone::parse).transpose()?;
    options.assume = super::assumption(&args.assume);
    options.progress = Some(Arc::new(ReadProgress::default()));
    // The source first: the local files listed (and what was left out noted), or the live
    // server's settings; then the cache, so that a wrong source leaves nothing behind.
    let (source, server, origin) = match super::local_sequence(&args.source, args.explain)? {
        Some(listed) => {
            let files = listed
                .files
                .iter()
                .map(|f| (f.relay_subdir.clone(), f.name.clone(), f.path.clone()))
                .collect();
            (Chosen::Listed(listed), None, EmitOrigin::Files(files))
        }
        None => {
            let settings = super::live_settings(
                &args.source,
                &args.client,
                global,
                args.compress,
                args.server_id,
            )?
            .ok_or_else(|| Failure::Runtime(super::NO_SOURCE.to_owned()))?;
            if args.assume.assume_mtime_bounds {
                return Err(Failure::Runtime(
                    "--assume-mtime-bounds needs local files (a live server's files have no \
                     modification time to read); use --assume-max-statement DURATION instead"
                        .to_owned(),
                ));
            }
            let display = settings.display();
            let origin = EmitOrigin::Server(settings.clone());
            (
                Chosen::Live(Source::Server(settings)),
                Some(display),
                origin,
            )
        }
    };
    options.cache = Some(super::summary_cache(&args.cache));
    let runtime = super::runtime().map_err(|e| Failure::Runtime(e.to_string()))?;
    let bar = options.progress.as_ref().and_then(super::progress::follow);
    let located = runtime.block_on(async {
        match source {
            Chosen::Live(server) => locate::locate(&server, &start, &options).await,
            Chosen::Listed(listed) => locate::locate_in(listed, &start, &options).await,
        }
    });
    drop(bar);
    let located = located?;
    Ok(Answered {
        start: (start, located.start),
        resolution: located.resolution,
        server: server.map(|s| (s, located.server_version.unwrap_or_default())),
        origin,
    })
}

/// `--emit`: each format's block on stdout (marked when there are several), warnings on stderr.
fn emit(args: &ResolvePositionArgs, answered: &Answered) -> anyhow::Result<u8> {
    use startpoint::binlog::Flavor;
    use startpoint::emit::{Origin, StartPoint};
    let resolution = &answered.resolution;
    // stdout holds only the formats; what the answer is and why goes to stderr.
    say!("note: status {}", resolution.status);
    if let Some(note) = &answered.start.1.note {
        say!("note: {note}");
    }
    if let Some(assumption) = &resolution.assumption {
        say!("note: assuming {assumption}");
    }
    for warning in &resolution.warnings {
        say!("warning: {warning}");
    }
    let answer = resolution
        .location
        .as_ref()
        .filter(|_| resolution.status != Status::AboveUpperBound);
    let Some(location) = answer else {
        say!(
            "error: {}",
            resolve::too_late_message(&answered.start.0.input)
        );
        return Ok(EXIT_TOO_LATE);
    };
    let version = answered.server.as_ref().map(|(_, v)| v.as_str());
    let gtids = resolution.gtid.clone().unwrap_or_default();
    // The binlog's flavour: its GTIDs say it (also with --gtid off, from the transaction at
    // the answer), else the server's version.
    let matched_maria = resolution
        .matched
        .as_ref()
        .is_some_and(|m| matches!(m.unit.gtid, Some(startpoint::gtid::UnitGtid::MariaDb(_))));
    let flavor = match (&gtids, version) {
        (startpoint::ExecutedGtids::MariaDb(_), _) => Flavor::MariaDb,
        _ if matched_maria => Flavor::MariaDb,
        (_, Some(v)) => Flavor::of_version(v),
        _ => Flavor::MySql,
    };
    let origin = match &answered.origin {
        EmitOrigin::Files(files) => {
            let paths: Vec<String> = files
                .iter()
                .skip_while(|(subdir, name, _)| {
                    *name != location.file || *subdir != location.relay_subdir
                })
                .map(|(_, _, path)| path.display().to_string())
                .collect();
            if paths.is_empty() {
                say!("error: {} is not among the files read", location.file);
                return Ok(EXIT_FAILED);
            }
            Origin::Files { paths }
        }
        EmitOrigin::Server(settings) => Origin::Server {
            host: settings.host.clone(),
            port: settings.port,
            user: settings.user.clone(),
            has_password: !settings.password.is_empty(),
            tls: settings.tls.is_some(),
            version: version.unwrap_or_default().to_owned(),
        },
    };
    let point = StartPoint {
        file: location.file.clone(),
        pos: location.pos,
        gtids,
        commit_us: resolution.matched.as_ref().map(|m| m.unit.commit_us()),
        begin_us: resolution.matched.as_ref().map(|m| m.unit.begin_us()),
        server_id: resolution.matched.as_ref().map(|m| m.unit.server_id),
        // MariaDB (10.0 on) logs a GTID for every transaction; a MySQL source's transaction
        // at the point says whether it does (an anonymous GTID or none: it does not).
        writes_gtids: match flavor {
            Flavor::MariaDb => Some(true),
            Flavor::MySql => resolution.matched.as_ref().map(|m| m.unit.gtid.is_some()),
        },
        flavor,
        origin,
        replica_version: args.replica_version.clone(),
        debezium: (
            args.debezium_connector.clone(),
            args.debezium_topic_prefix.clone(),
        ),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for format in &args.emit {
        let format = startpoint::emit::Format::from(*format);
        if args.emit.len() > 1 {
            writeln!(out, "==> {} <==", format.as_str())?;
        }
        write!(out, "{}", point.emit(format))?;
        for note in point.notes(format) {
            say!("note: {note}");
        }
    }
    Ok(0)
}

fn report(args: &ResolvePositionArgs, answered: &Answered) -> anyhow::Result<u8> {
    if !args.emit.is_empty() {
        return emit(args, answered);
    }
    let (start, resolved) = &answered.start;
    let resolution = &answered.resolution;
    let basis = TimeBasis::from(args.time_basis).as_str();
    let mut warnings = resolution.warnings.clone();
    if let Some(note) = &resolved.note {
        warnings.insert(0, Warning::AmbiguousTime(note.clone()));
    }
    let too_late = (resolution.status == Status::AboveUpperBound)
        .then(|| resolve::too_late_message(&start.input));
    let stdout = std::io::stdout();
    let mut out = super::Screen::new(stdout.lock(), args.output == OutputFormat::Json);
    match args.output {
        OutputFormat::Json => write_json(&mut out, args, answered, &warnings, too_late.as_deref())?,
        OutputFormat::Text => write_text(&mut out, args, answered, basis)?,
    }
    out.flush()?;
    for note in &resolution.notes {
        say!("note: {note}");
    }
    for warning in &warnings {
        say!("warning: {warning}");
    }
    if let Some(message) = too_late {
        if args.output == OutputFormat::Text {
            say!("error: {message}");
        }
        return Ok(EXIT_TOO_LATE);
    }
    Ok(0)
}

/// The answer as SEMANTICS.md §7's JSON object (`docs/schemas/resolve-position.schema.json`).
fn write_json(
    out: &mut impl Write,
    args: &ResolvePositionArgs,
    answered: &Answered,
    warnings: &[Warning],
    too_late: Option<&str>,
) -> anyhow::Result<()> {
    let (start, resolved) = &answered.start;
    let resolution = &answered.resolution;
    let basis = TimeBasis::from(args.time_basis).as_str();
    let location = resolution.location.as_ref();
    let answer = JsonAnswer {
        schema_version: super::SCHEMA_VERSION,
        status: resolution.status.as_str(),
        error: too_late.map(str::to_owned),
        binlog_name: location.map(|l| l.file.as_str()),
        binlog_pos: location.map(|l| l.pos),
        binlog_gtid: location.map(|_| resolution.gtid_text()),
        start_time: format_instant(resolved.instant_us),
        time_basis: basis,
        assumption: resolution.assumption.as_deref(),
        input: &start.input,
        timezone: &resolved.zone,
        server: answered.server.as_ref().map(|(s, _)| s.as_str()),
        server_version: answered.server.as_ref().map(|(_, v)| v.as_str()),
        relay_subdir: location.and_then(|l| l.relay_subdir.as_deref()),
        matched: resolution.matched.as_ref().map(|m| JsonUnit {
            binlog_name: &m.file,
            pos: m.unit.pos,
            end_pos: m.unit.end_pos,
            gtid: m.unit.gtid.as_ref().map(ToString::to_string),
            begin_time: format_instant(m.unit.begin_us()),
            commit_time: format_instant(m.unit.commit_us()),
            kind: m.unit.end.as_str(),
        }),
        warnings: warnings.iter().map(coded).collect(),
        files_opened: resolution.stats.files_opened,
        bytes_read: resolution.stats.bytes_read,
        events_read: resolution.stats.events_read,
        round_trips: resolution.stats.round_trips,
        elapsed_ms: resolution.stats.elapsed_us as f64 / 1000.0,
        files: resolution
            .files
            .iter()
            .map(|f| JsonFile {
                binlog_name: &f.name,
                relay_subdir: f.relay_subdir.as_deref(),
                decision: f.decision.as_str(),
                why: coded(&f.why),
            })
            .collect(),
        notes: resolution.notes.iter().map(coded).collect(),
        explain: args
            .explain
            .then(|| resolution.steps.iter().map(coded).collect()),
    };
    writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
    Ok(())
}

/// The answer for people: the location, the start time as read, the transaction at the
/// location, and with `--explain` each file's decision and the steps taken.
fn write_text(
    out: &mut impl Write,
    args: &ResolvePositionArgs,
    answered: &Answered,
    basis: &str,
) -> anyhow::Result<()> {
    let (start, resolved) = &answered.start;
    let resolution = &answered.resolution;
    if let Some(location) = &resolution.location {
        let place = match &location.relay_subdir {
            Some(subdir) => format!("{subdir}/{}", location.file),
            None => location.file.clone(),
        };
        writeln!(out, "{place}:{}", location.pos)?;
        writeln!(out, "  binlog_name  {}", location.file)?;
        writeln!(out, "  binlog_pos   {}", location.pos)?;
        let gtid = match args.gtid {
            GtidMode::Off => "(not computed: --gtid off)".to_owned(),
            _ if resolution.gtid_text().is_empty() => {
                "(none: the binlog carries no GTIDs before this point)".to_owned()
            }
            _ => resolution.gtid_text(),
        };
        writeln!(out, "  binlog_gtid  {gtid}")?;
        writeln!(out, "  status       {}", resolution.status)?;
        if let Some(name) = &resolution.assumption {
            writeln!(out, "  assuming     {name} (not proven by the binlog)")?;
        }
    }
    let zone = match start.offset {
        Some(_) => String::new(),
        None => format!(" in {}", resolved.zone),
    };
    writeln!(
        out,
        "  start time   {}{zone} = {}",
        start.input.trim(),
        format_instant(resolved.instant_us),
    )?;
    if let Some(matched) = &resolution.matched {
        writeln!(
            out,
            "  first transaction at or after it ({basis} time): {} at {}:{}, committed {}",
            matched
                .unit
                .gtid
                .as_ref()
                .map_or("(no GTID)".to_owned(), ToString::to_string),
            matched.file,
            matched.unit.pos,
            format_instant(matched.unit.commit_us())
        )?;
    }
    if args.explain {
        writeln!(out, "files:")?;
        for file in &resolution.files {
            let place = match &file.relay_subdir {
                Some(subdir) => format!("{subdir}/{}", file.name),
                None => file.name.clone(),
            };
            writeln!(out, "  {place}: {} ({})", file.decision.as_str(), file.why)?;
        }
        writeln!(out, "how:")?;
        for step in &resolution.steps {
            writeln!(out, "  - {step}")?;
        }
        let stats = &resolution.stats;
        match &answered.server {
            Some((server, version)) => writeln!(
                out,
                "  - {server} ({version}): {} binlog dumps, {} bytes received, {} round \
                 trips, {} events, {:.1} ms",
                stats.files_opened,
                stats.bytes_read,
                stats.round_trips,
                stats.events_read,
                stats.elapsed_us as f64 / 1000.0
            )?,
            None => writeln!(
                out,
                "  - {} file opens, {} bytes read, {} events, {:.1} ms",
                stats.files_opened,
                stats.bytes_read,
                stats.events_read,
                stats.elapsed_us as f64 / 1000.0
            )?,
        }
    }
    Ok(())
}
