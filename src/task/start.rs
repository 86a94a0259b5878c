//! `start-task`: for each selected source of a task, prechecks, the start point, the safe-mode
//! decision, and one write of DM's checkpoint table (DM-COMPAT.md §3) — all or nothing.
//!
//! The order is the guarantee: everything that reads (prechecks, the stored checkpoints, the
//! resolutions, which run concurrently per source under `--rpc-timeout`) happens before
//! anything is written; the write is one transaction per store that re-reads the rows it was
//! decided on; a failed source means nothing is written for any source. A task lock in the
//! state directory makes a second start-task of the same task wait (or fail after the
//! deadline) instead of interleaving with the first.
//!
//! Start point, highest priority first: `--start-time` (resolved from the relay directory when
//! the source has `enable-relay: true` and relay files, else from the live upstream; a bare
//! time is read in the task's `timezone`, else by the upstream in its own zone) > the task's
//! existing checkpoint (kept as it is) > the task file's `meta` > the upstream's current
//! position (`task-mode: incremental` only; the other modes start replication where their dump
//! ended, and startpoint does not dump).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;
use tokio::time::Instant;

use crate::locate::{self, Options, Source};
use crate::remote::{self, TlsFiles};
use crate::resolve::cache::SummaryCache;
use crate::resolve::{self, Assumption, ReadProgress, Resolution, Status};
use crate::source::relay::open_relay_dir;
use crate::start_time::{ResolvedTime, StartTime, Zone, format_instant};
use crate::unit::TimeBasis;

use super::config::{TaskConfig, TaskMode};
use super::location::{CheckpointLocation, relay_file_name};
use super::precheck::{self, PrecheckReport};
use super::safe_mode::{StoredCheckpoint, plan_safe_mode};
use super::source::SourceConfig;
use super::state::StateDir;
use super::store::downstream::DownstreamStore;
use super::store::{
    CheckpointWrite, Dialect, GlobalRow, MetaStoreKind, RemoveMeta, StorePlan, TaskTables,
};

/// DM's message for a start time it cannot parse (the forms DM accepts; startpoint also takes
/// fractions of a second).
pub const START_TIME_FORMAT_ERROR: &str = "error while parse start-time, expected in the format like \
     '2006-01-02 15:04:05', '2006-01-02T15:04:05', '2006-01-02 15:04:05+08:00', \
     '2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or '2006-01-02T15:04:05+0800'";

/// DM's `source not found in task's config`.
pub const SOURCE_NOT_IN_TASK: &str = "source not found in task's config";

/// DM's error for a start time after every transaction (code 20057).
pub fn too_late_error(input: &str) -> String {
    format!(
        "[code=20057:class=config:scope=internal:level=high], Message: {}, Workaround: Please \
         check the `--start-time` is expected or try again later.",
        resolve::too_late_message(input)
    )
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StartTaskRequest {
    pub task: TaskConfig,
    pub task_file: PathBuf,
    /// The task file's text, recorded for `query-status`.
    pub task_text: String,
    /// `-s`: these sources only (empty: all of the task's).
    pub selected: Vec<String>,
    pub start_time: Option<String>,
    pub remove_meta: bool,
    pub meta_store: MetaStoreKind,
    pub dry_run: bool,
    /// `--rpc-timeout`: the deadline of each source's work, and of the wait for the task lock.
    pub rpc_timeout: Duration,
    /// `--ssl-*`, for connections whose config has no `security`.
    pub default_tls: Option<TlsFiles>,
    /// The `worker` of DM's JSON.
    pub worker: String,
    pub basis: TimeBasis,
    /// File summaries for resolving `--start-time` (SEMANTICS.md §6.2); `None`: none.
    pub cache: Option<Arc<SummaryCache>>,
    /// An assumption to skip files on when resolving `--start-time`: only when asked for.
    pub assume: Option<Assumption>,
    /// Where resolutions count what they read, for a progress bar.
    pub progress: Option<Arc<ReadProgress>>,
}

/// One source's entry of DM's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceResponse {
    pub result: bool,
    pub msg: String,
    pub source: String,
    pub worker: String,
}

/// DM's standard JSON (field order as DM prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartTaskResponse {
    pub result: bool,
    pub msg: String,
    pub sources: Vec<SourceResponse>,
    #[serde(rename = "checkResult")]
    pub check_result: String,
}

impl StartTaskResponse {
    fn failed(msg: impl Into<String>) -> StartTaskResponse {
        StartTaskResponse {
            result: false,
            msg: msg.into(),
            sources: Vec::new(),
            check_result: String::new(),
        }
    }
}

/// The response and what people should read besides it.
#[derive(Debug, Clone)]
pub struct StartTaskOutcome {
    pub response: StartTaskResponse,
    /// One line per source: the start point, how it was found, the safe-mode decision.
    pub notes: Vec<String>,
    /// `--dry-run`: the statements that would run.
    pub statements: Vec<String>,
}

impl From<StartTaskResponse> for StartTaskOutcome {
    fn from(response: StartTaskResponse) -> StartTaskOutcome {
        StartTaskOutcome {
            response,
            notes: Vec::new(),
            statements: Vec::new(),
        }
    }
}

/// One source's decided start.
#[derive(Debug, Clone)]
struct SourceStart {
    /// `None`: the existing checkpoint stays as it is.
    write: Option<CheckpointWrite>,
    warnings: Vec<String>,
    note: String,
    /// Warnings of the resolution for people (purged gaps, transactions cut off, DST folds).
    details: Vec<String>,
}

/// The store a run reads and writes.
enum Store {
    Embedded(super::store::embedded::EmbeddedStore),
    Downstream(DownstreamStore),
}

/// Runs start-task. Every outcome, failures included, is a DM response.
pub async fn start_task(state: &StateDir, request: StartTaskRequest) -> StartTaskOutcome {
    let deadline = Instant::now() + request.rpc_timeout;
    let task = &request.task;

    let start = match request.start_time.as_deref().map(StartTime::parse) {
        None => None,
        Some(Ok(start)) => Some(start),
        Some(Err(_)) => {
            let input = request.start_time.as_deref().unwrap_or_default();
            return StartTaskResponse::failed(format!("{START_TIME_FORMAT_ERROR}; got {input:?}"))
                .into();
        }
    };
    let zone = match task.timezone.as_deref().map(Zone::parse).transpose() {
        Ok(zone) => zone,
        Err(err) => {
            return StartTaskResponse::failed(format!("task {}: timezone: {err}", task.name))
                .into();
        }
    };

    let unknown: Vec<&String> = request
        .selected
        .iter()
        .filter(|id| task.instance(id).is_none())
        .collect();
    if !unknown.is_empty() {
        return StartTaskResponse {
            result: false,
            msg: String::new(),
            sources: unknown
                .into_iter()
                .map(|id| SourceResponse {
                    result: false,
                    msg: SOURCE_NOT_IN_TASK.to_owned(),
                    source: id.clone(),
                    worker: String::new(),
                })
                .collect(),
            check_result: String::new(),
        }
        .into();
    }
    let selected: Vec<String> = if request.selected.is_empty() {
        task.instances.iter().map(|i| i.source_id.clone()).collect()
    } else {
        task.instances
            .iter()
            .map(|i| i.source_id.clone())
            .filter(|id| request.selected.contains(id))
            .collect()
    };

    if !task.task_mode.replicates() {
        return StartTaskResponse::failed(format!(
            "task {} has task-mode {}, which replicates no binlog: there is no start point to \
             set; run it with DM",
            task.name,
            task.task_mode.as_str()
        ))
        .into();
    }

    let mut sources = Vec::new();
    let mut missing = Vec::new();
    for id in &selected {
        match state.source(id) {
            Ok(Some(mut source)) => {
                source.connection = source
                    .connection
                    .with_default_tls(request.default_tls.as_ref());
                sources.push(source);
            }
            Ok(None) => missing.push(id.clone()),
            Err(err) => return StartTaskResponse::failed(err.to_string()).into(),
        }
    }
    if !missing.is_empty() {
        return StartTaskResponse::failed(format!(
            "source {} not created: run `startpoint operate-source create SOURCE.yaml` for it \
             first (state directory {})",
            missing.join(", "),
            state.root().display()
        ))
        .into();
    }

    let store = match request.meta_store {
        MetaStoreKind::Embedded => Store::Embedded(state.embedded_store(&task.meta_schema)),
        MetaStoreKind::Downstream => match &task.target {
            Some(target) => Store::Downstream(DownstreamStore::new(
                target
                    .clone()
                    .with_default_tls(request.default_tls.as_ref()),
            )),
            None => {
                return StartTaskResponse::failed(format!(
                    "task {}: --meta-store downstream needs target-database in the task file",
                    task.name
                ))
                .into();
            }
        },
    };
    if let Err(err) = TaskTables::new(Dialect::MySql, &task.meta_schema, &task.name) {
        return StartTaskResponse::failed(err.to_string()).into();
    }

    // Held until the write is done; a dry run reads only and takes no lock.
    let _lock = if request.dry_run {
        None
    } else {
        let state = state.clone();
        let name = task.name.clone();
        let wait = request.rpc_timeout;
        match tokio::task::spawn_blocking(move || state.lock_task(&name, wait)).await {
            Ok(Ok(lock)) => Some(lock),
            Ok(Err(err)) => return StartTaskResponse::failed(err.to_string()).into(),
            Err(err) => return StartTaskResponse::failed(err.to_string()).into(),
        }
    };

    // Prechecks, all sources and the downstream at once.
    let mut report = PrecheckReport::default();
    let upstream = join_all(
        sources
            .iter()
            .map(|s| precheck::check_upstream(s, &s.connection, deadline)),
    );
    let downstream = async {
        match &store {
            Store::Downstream(store) => {
                precheck::check_downstream(store, &task.meta_schema, request.remove_meta, deadline)
                    .await
            }
            Store::Embedded(_) => Vec::new(),
        }
    };
    let (upstream, downstream) = tokio::join!(upstream, downstream);
    for items in upstream {
        report.extend(items);
    }
    report.extend(downstream);
    if !report.passed() {
        return StartTaskResponse {
            result: false,
            msg: String::new(),
            sources: Vec::new(),
            check_result: report.check_result(),
        }
        .into();
    }

    let rows = match &store {
        Store::Embedded(store) => {
            let store = store.clone();
            let schema = task.meta_schema.clone();
            let name = task.name.clone();
            tokio::task::spawn_blocking(move || store.read(&schema, &name))
                .await
                .unwrap_or_else(|e| {
                    Err(super::store::StoreError::Invalid(format!(
                        "reading the embedded store failed: {e}"
                    )))
                })
        }
        Store::Downstream(store) => store.read(&task.meta_schema, &task.name, deadline).await,
    };
    let rows: Vec<GlobalRow> = match rows {
        Ok(rows) => rows,
        Err(err) => {
            return StartTaskResponse {
                check_result: report.check_result(),
                ..StartTaskResponse::failed(err.to_string())
            }
            .into();
        }
    };
    let stored: BTreeMap<String, StoredCheckpoint> =
        rows.into_iter().map(|r| (r.source_id, r.stored)).collect();

    let set_at = format_instant(chrono::Utc::now().timestamp_micros());
    let decisions = join_all(sources.iter().map(|source| {
        let existing = if request.remove_meta {
            None
        } else {
            stored.get(&source.source_id)
        };
        decide(
            &request,
            source,
            start.as_ref(),
            zone.as_ref(),
            existing,
            &set_at,
            deadline,
        )
    }))
    .await;

    let mut responses = Vec::new();
    let mut notes = Vec::new();
    let mut writes = Vec::new();
    let mut failed = 0;
    for (source, decision) in sources.iter().zip(decisions) {
        match decision {
            Ok(start) => {
                notes.push(format!("{}: {}", source.source_id, start.note));
                for detail in &start.details {
                    notes.push(format!("{}: {detail}", source.source_id));
                }
                responses.push(SourceResponse {
                    result: true,
                    msg: start.warnings.join("; "),
                    source: source.source_id.clone(),
                    worker: request.worker.clone(),
                });
                writes.extend(start.write);
            }
            Err(message) => {
                failed += 1;
                responses.push(SourceResponse {
                    result: false,
                    msg: message,
                    source: source.source_id.clone(),
                    worker: request.worker.clone(),
                });
            }
        }
    }
    if failed > 0 {
        return StartTaskOutcome {
            response: StartTaskResponse {
                result: false,
                msg: format!(
                    "nothing was written: {failed} of {} sources failed (start-task writes all \
                     sources or none)",
                    responses.len()
                ),
                sources: responses,
                check_result: report.check_result(),
            },
            notes,
            statements: Vec::new(),
        };
    }

    let remove_meta = match (request.remove_meta, request.selected.is_empty()) {
        (false, _) => RemoveMeta::No,
        (true, true) => RemoveMeta::Task,
        (true, false) if selected.len() == task.instances.len() => RemoveMeta::Task,
        (true, false) => RemoveMeta::Sources(selected.clone()),
    };
    let expected: BTreeMap<String, Option<StoredCheckpoint>> = writes
        .iter()
        .map(|w| (w.source_id.clone(), stored.get(&w.source_id).cloned()))
        .collect();
    let plan = StorePlan {
        task: task.name.clone(),
        meta_schema: task.meta_schema.clone(),
        remove_meta,
        expected,
        writes,
    };
    let nothing_to_write = plan.writes.is_empty() && plan.remove_meta == RemoveMeta::No;
    let dialect = match store {
        Store::Embedded(_) => Dialect::Sqlite,
        Store::Downstream(_) => Dialect::MySql,
    };
    let statements = if nothing_to_write {
        Vec::new()
    } else {
        TaskTables::new(dialect, &task.meta_schema, &task.name)
            .map(|t| t.describe(&plan))
            .unwrap_or_default()
    };
    let success = |msg: String, statements: Vec<String>, notes: Vec<String>| StartTaskOutcome {
        response: StartTaskResponse {
            result: true,
            msg,
            sources: responses.clone(),
            check_result: report.check_result(),
        },
        notes,
        statements,
    };
    if request.dry_run {
        return success("dry run: nothing was written".to_owned(), statements, notes);
    }
    if !nothing_to_write {
        let applied = match &store {
            Store::Embedded(store) => {
                let store = store.clone();
                let plan = plan.clone();
                tokio::task::spawn_blocking(move || store.apply(&plan))
                    .await
                    .unwrap_or_else(|e| {
                        Err(super::store::StoreError::Invalid(format!(
                            "writing the embedded store failed: {e}"
                        )))
                    })
            }
            Store::Downstream(store) => store.apply(&plan, deadline).await,
        };
        if let Err(err) = applied {
            return StartTaskOutcome {
                response: StartTaskResponse {
                    result: false,
                    msg: format!("nothing was written: {err}"),
                    sources: responses
                        .iter()
                        .map(|r| SourceResponse {
                            result: false,
                            ..r.clone()
                        })
                        .collect(),
                    check_result: report.check_result(),
                },
                notes,
                statements: Vec::new(),
            };
        }
    }
    crate::crashpoint::hit("state-before-task-record");
    let mut msg = String::new();
    if let Err(err) = state.save_task(
        task,
        &request.task_file,
        &request.task_text,
        request.meta_store,
        &set_at,
    ) {
        msg = format!(
            "the checkpoint is written, but the task record query-status reads could not be \
             saved: {err}"
        );
    }
    success(msg, Vec::new(), notes)
}

/// The start of one source.
async fn decide(
    request: &StartTaskRequest,
    source: &SourceConfig,
    start: Option<&StartTime>,
    zone: Option<&Zone>,
    existing: Option<&StoredCheckpoint>,
    set_at: &str,
    deadline: Instant,
) -> Result<SourceStart, String> {
    let settings = &source.connection;
    let write = |checkpoint: CheckpointLocation,
                 exit_point: Option<CheckpointLocation>,
                 drop_table_rows: bool,
                 how: String| CheckpointWrite {
        source_id: source.source_id.clone(),
        checkpoint,
        exit_point,
        drop_table_rows,
        how,
        set_at: set_at.to_owned(),
        worker: request.worker.clone(),
    };
    if let Some(start) = start {
        let (location, how, mut warnings, details) =
            resolve_start(request, source, start, zone, deadline).await?;
        let plan = plan_safe_mode(&location, existing);
        warnings.extend(plan.warnings);
        let exit = plan.window.map(|w| w.until);
        let note = match &exit {
            Some(until) => {
                format!("starts at {location} ({how}); safe mode until replication passes {until}")
            }
            None => format!("starts at {location} ({how}); {}", plan.note),
        };
        return Ok(SourceStart {
            write: Some(write(location, exit, true, how)),
            warnings,
            note,
            details,
        });
    }
    if let Some(existing) = existing {
        let note = match &existing.exit_point {
            Some(exit) => format!(
                "resumes from its checkpoint {} (kept), safe mode until {exit}",
                existing.checkpoint
            ),
            None => format!("resumes from its checkpoint {} (kept)", existing.checkpoint),
        };
        return Ok(SourceStart {
            write: None,
            warnings: Vec::new(),
            note,
            details: Vec::new(),
        });
    }
    let meta = request
        .task
        .instance(&source.source_id)
        .and_then(|i| i.meta.clone());
    if let Some(meta) = meta {
        let location = CheckpointLocation {
            binlog_name: meta.binlog_name.clone().unwrap_or_default(),
            binlog_pos: meta
                .binlog_pos
                .unwrap_or(if meta.binlog_name.is_some() { 4 } else { 0 }),
            binlog_gtid: meta.binlog_gtid.clone().unwrap_or_default(),
        };
        let how = "the task file's meta".to_owned();
        return Ok(SourceStart {
            note: format!("starts at {location} ({how}); no previous checkpoint"),
            write: Some(write(location, None, false, how)),
            warnings: Vec::new(),
            details: Vec::new(),
        });
    }
    if request.task.task_mode != TaskMode::Incremental {
        return Err(format!(
            "task-mode {} starts replication where its dump ends, and startpoint does not \
             dump: give --start-time or mysql-instances[].meta for source {}, or run the full \
             phase with DM",
            request.task.task_mode.as_str(),
            source.source_id
        ));
    }
    let position = remote::current_position(settings, deadline)
        .await
        .map_err(|e| e.to_string())?;
    let location = CheckpointLocation {
        binlog_name: position.file,
        binlog_pos: to_u32(position.pos)?,
        binlog_gtid: position.gtid,
    };
    let how = format!("the upstream's current position at {}", settings.address());
    Ok(SourceStart {
        note: format!("starts at {location} ({how}); no previous checkpoint"),
        write: Some(write(location, None, false, how)),
        warnings: Vec::new(),
        details: Vec::new(),
    })
}

fn to_u32(pos: u64) -> Result<u32, String> {
    u32::try_from(pos).map_err(|_| {
        format!("binlog position {pos} does not fit DM's checkpoint column (INT UNSIGNED)")
    })
}

/// `--start-time` → a location, from the relay directory or the live upstream.
async fn resolve_start(
    request: &StartTaskRequest,
    source: &SourceConfig,
    start: &StartTime,
    zone: Option<&Zone>,
    deadline: Instant,
) -> Result<Located, String> {
    let settings = &source.connection;
    // The relay directory when DM keeps one and it holds files; the upstream otherwise.
    let relay = if source.enable_relay {
        open_relay_dir(&source.relay_dir)
            .ok()
            .filter(|d| !d.files.is_empty())
    } else {
        None
    };
    let mut options = Options::new(Duration::ZERO);
    options.basis = request.basis;
    options.zone = zone.cloned();
    options.deadline = deadline;
    options.cache = request.cache.clone();
    options.assume = request.assume;
    options.progress = request.progress.clone();
    let (answer, from) = match relay {
        Some(dir) => {
            // A bare start time means the upstream's wall clock, as on the live path.
            options.zone_server = Some(settings.clone());
            let from = format!("relay directory {}", dir.dir.display());
            (locate::locate_in(dir, start, &options).await, from)
        }
        None => {
            let from = format!("upstream {}", settings.address());
            let live = Source::Server(settings.clone());
            (locate::locate(&live, start, &options).await, from)
        }
    };
    let answer = answer.map_err(|e| e.to_string())?;
    let (resolution, resolved) = (answer.resolution, answer.start);
    located(request, start, resolution, &resolved, &from)
}

/// A resolved start: the location, how it was found, warnings for `msg`, details for people.
type Located = (CheckpointLocation, String, Vec<String>, Vec<String>);

fn located(
    request: &StartTaskRequest,
    start: &StartTime,
    resolution: Resolution,
    resolved: &ResolvedTime,
    from: &str,
) -> Result<Located, String> {
    let Some(location) = resolution.location.as_ref() else {
        return Err(too_late_error(&start.input));
    };
    if resolution.status == Status::AboveUpperBound {
        return Err(too_late_error(&start.input));
    }
    let binlog_name = match &location.relay_subdir {
        Some(subdir) => relay_file_name(&location.file, subdir),
        None => location.file.clone(),
    };
    let checkpoint = CheckpointLocation {
        binlog_name,
        binlog_pos: to_u32(location.pos)?,
        binlog_gtid: resolution.gtid_text(),
    };
    let basis = match request.basis {
        TimeBasis::Commit => "commit",
        TimeBasis::Begin => "begin",
    };
    let zone_part = if start.offset.is_some() {
        String::new()
    } else {
        format!(" in {}", resolved.zone)
    };
    let assumed = resolution
        .assumption
        .as_ref()
        .map_or(String::new(), |name| format!(", assuming {name}"));
    let how = format!(
        "start-time {}{zone_part} = {}, {basis} time, from the {from}{assumed}",
        start.input.trim(),
        format_instant(resolved.instant_us)
    );
    let mut warnings = Vec::new();
    if resolution.status == Status::BelowLowerBound {
        warnings.push(format!(
            "start-time {} is too early, will use the earliest binlog location {checkpoint}; \
             binlog before it may have been purged",
            start.input
        ));
    }
    let mut details: Vec<String> = resolved.note.iter().cloned().collect();
    if resolution.status == Status::InRange {
        details.extend(resolution.warnings.iter().cloned());
    }
    Ok((checkpoint, how, warnings, details))
}

/// The worker name of DM's JSON: this machine's host name.
pub fn default_worker() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if name.is_empty() {
        "localhost".to_owned()
    } else {
        name
    }
}

/// DM's JSON text: 4-space indentation.
pub fn dm_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if value.serialize(&mut serializer).is_err() {
        return "{}".to_owned();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Reads a task file for start-task: its config and text.
pub fn read_task_file(path: &Path) -> Result<(TaskConfig, String), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the task file: {e}", path.display()))?;
    let task = TaskConfig::parse(&path.display().to_string(), &text).map_err(|e| e.to_string())?;
    Ok((task, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_json_uses_four_spaces_and_dm_field_order() {
        let response = StartTaskResponse {
            result: true,
            msg: String::new(),
            sources: vec![SourceResponse {
                result: true,
                msg: String::new(),
                source: "mysql-replica-01".into(),
                worker: "worker1".into(),
            }],
            check_result: "pre-check is passed. ".into(),
        };
        assert_eq!(
            dm_json(&response),
            r#"{
    "result": true,
    "msg": "",
    "sources": [
        {
            "result": true,
            "msg": "",
            "source": "mysql-replica-01",
            "worker": "worker1"
        }
    ],
    "checkResult": "pre-check is passed. "
}"#
        );
    }

    #[test]
    fn too_late_is_dms_text() {
        assert_eq!(
            too_late_error("2031-01-01 00:00:00"),
            "[code=20057:class=config:scope=internal:level=high], Message: start-time \
             2031-01-01 00:00:00 is too late, no binlog location matches it, Workaround: Please \
             check the `--start-time` is expected or try again later."
        );
    }
}
