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
//! time is read by the upstream in its own zone, as DM reads it, whatever the task's
//! `timezone`) > the task's existing checkpoint (kept as it is) > the task file's `meta` > the
//! upstream's current position. Only `task-mode: incremental` gets a checkpoint: `all` and
//! `load&sync` start replication where their own dump ended, and startpoint does not dump.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::locate::{self, LocateError, Options, Source};
use crate::remote::{self, ConnSettings, RemoteError, TlsFiles};
use crate::resolve::cache::SummaryCache;
use crate::resolve::{Assumption, ReadProgress, Resolution, Status};
use crate::source::relay::open_relay_dir;
use crate::start_time::{ResolvedTime, StartTime, format_instant};
use crate::unit::TimeBasis;

use super::config::{TaskConfig, TaskMode};
use super::dm::{
    SOURCE_NOT_IN_TASK, SourceResponse, StartTaskResponse, start_time_format_error, too_late_error,
};
use super::go_duration::is_zero_go_duration;
use super::location::{
    CheckpointLocation, relay_file_name, tagged_gtid_warning, upstream_file_name,
};
use super::precheck::{self, PrecheckReport};
use super::safe_mode::{StoredCheckpoint, dm_window_warning, plan_safe_mode};
use super::source::SourceConfig;
use super::state::{StateDir, StateError, TaskLock};
use super::store::{
    CheckpointStore, CheckpointWrite, Dialect, GlobalRow, LogEntry, MetaStoreKind, RemoveMeta,
    StoreError, StorePlan, TaskTables,
};
use super::yaml::ConfigError;

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
    /// `--task-stopped`: the user says DM runs no such task (`dmctl stop-task`), so rows DM
    /// wrote after startpoint's last write may be overwritten.
    pub task_stopped: bool,
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

/// The response and what people should read besides it.
#[derive(Debug, Clone)]
pub struct StartTaskOutcome {
    pub response: StartTaskResponse,
    /// One line per source: the start point, how it was found, the safe-mode decision.
    pub notes: Vec<String>,
    /// `--dry-run`: the statements that would run.
    pub statements: Vec<String>,
}

/// Why start-task wrote nothing (each source's own reasons are [`SourceError`]s).
#[derive(Debug, thiserror::Error)]
pub enum StartTaskError {
    #[error("{}", start_time_format_error(input))]
    StartTimeFormat { input: String },
    /// `-s` named sources the task does not have (DM answers per source, with an empty msg).
    #[error("{SOURCE_NOT_IN_TASK}: {}", ids.join(", "))]
    NotInTask { ids: Vec<String> },
    #[error(
        "task {task} has task-mode {mode}, which replicates no binlog: there is no start point \
         to set; run it with DM"
    )]
    ReplicatesNoBinlog { task: String, mode: &'static str },
    #[error(
        "task {task} has task-mode {mode}: DM {first} first and only then syncs (from \
         --start-time, when given), and startpoint neither dumps nor loads. A sync checkpoint \
         written now would make DM skip the units before sync, so the downstream would never \
         get the full data; run this task with dmctl start-task, or use task-mode incremental \
         with --start-time or meta"
    )]
    DumpsFirst {
        task: String,
        mode: &'static str,
        first: &'static str,
    },
    /// Someone else (DM's syncer) wrote these sources' global rows after startpoint last
    /// wrote them: DM has run the task since, and may still run it or hold it paused.
    #[error(
        "the checkpoint of task {task} in {table} was written by someone other than startpoint \
         ({}): DM has run this task since. A DM task that still runs or is paused keeps its \
         checkpoint in memory and writes it back at its next flush (a paused task does not \
         read the table again when it resumes), so what start-task writes would be lost. Stop \
         the task first with `dmctl stop-task {task}` (`dmctl query-status {task}` shows \
         whether DM still has it), then run start-task again with --task-stopped; nothing was \
         written",
        rows.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    WrittenByOthers {
        task: String,
        table: String,
        rows: Vec<ForeignRow>,
    },
    #[error(transparent)]
    State(#[from] StateError),
    /// A `meta` DM cannot read, for a start from the meta.
    #[error(transparent)]
    Meta(ConfigError),
    #[error(
        "source {} not created: run `startpoint operate-source create SOURCE.yaml` for it \
         first (state directory {})",
        ids.join(", "),
        root.display()
    )]
    NotCreated { ids: Vec<String>, root: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {what} stopped ({message}); please report it")]
    Thread { what: &'static str, message: String },
    /// A precheck failed: the check result says which (DM answers with an empty msg).
    #[error("a precheck failed")]
    Precheck,
    #[error(
        "nothing was written: {failed} of {of} sources failed (start-task writes all sources or \
         none)"
    )]
    SourcesFailed { failed: usize, of: usize },
    #[error("nothing was written: {0}")]
    Write(StoreError),
}

/// A global row startpoint did not write last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRow {
    pub source_id: String,
    /// The row's `update_time`, as the store gives it.
    pub update_time: Option<String>,
    /// When startpoint last set the source's checkpoint (its log), if ever.
    pub startpoint_set_at: Option<String>,
}

impl std::fmt::Display for ForeignRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "source {}: row updated at ", self.source_id)?;
        match &self.update_time {
            Some(at) => write!(f, "{at} (the target's time zone)")?,
            None => write!(f, "an unknown time")?,
        }
        match &self.startpoint_set_at {
            Some(at) => write!(
                f,
                ", holding another checkpoint than startpoint set at {at} (UTC)"
            ),
            None => write!(f, ", never set by startpoint"),
        }
    }
}

/// Why one source has no start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// DM's code 20057.
    #[error("{}", too_late_error(input))]
    TooLate { input: String },
    #[error("binlog position {pos} does not fit DM's checkpoint column (INT UNSIGNED)")]
    PositionTooLarge { pos: u64 },
    #[error("internal error while deciding this source ({0}); please report it")]
    Panicked(String),
    /// DM's code 36071: a window DM would refuse to resume with `safe-mode-duration: 0s`.
    #[error("{}", super::dm::SAFE_MODE_DURATION_ZERO)]
    SafeModeDurationZero,
    #[error(
        "the safe-mode exit point {exit} has no GTID set, and DM ignores such an exit point on an \
         enable-gtid source (its checkpoint loader reads only a non-empty \
         exit_safe_binlog_gtid), so it would replay without safe mode; {why}. Give the task's \
         checkpoint or meta its binlog-gtid, or start at or after {exit}"
    )]
    ExitPointWithoutGtid { exit: String, why: String },
    #[error(
        "the safe-mode exit point {exit} names no binlog file, and DM ignores such an exit \
         point on a source without enable-gtid (its checkpoint loader reads \
         exit_safe_binlog_name), so it would replay without safe mode. Give the task's \
         checkpoint or meta its binlog-name and binlog-pos, or set enable-gtid: true"
    )]
    ExitPointWithoutName { exit: String },
    #[error(
        "mysql-instances[].meta of source {source_id} names neither binlog-name nor \
         binlog-gtid: give one, remove meta, or give --start-time"
    )]
    EmptyMeta { source_id: String },
}

impl SourceError {
    fn panicked(panic: &(dyn std::any::Any + Send)) -> SourceError {
        SourceError::Panicked(crate::panics::panic_text(panic).to_owned())
    }
}

/// A start-task that stopped: the error, and what DM's reply carries besides it.
struct Refusal {
    error: StartTaskError,
    check_result: String,
    sources: Vec<SourceResponse>,
    notes: Vec<String>,
}

impl From<StartTaskError> for Refusal {
    fn from(error: StartTaskError) -> Refusal {
        Refusal {
            error,
            check_result: String::new(),
            sources: Vec::new(),
            notes: Vec::new(),
        }
    }
}

impl From<StateError> for Refusal {
    fn from(error: StateError) -> Refusal {
        StartTaskError::State(error).into()
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        StartTaskError::Store(error).into()
    }
}

impl Refusal {
    fn with_check(mut self, report: &PrecheckReport) -> Refusal {
        self.check_result = report.check_result();
        self
    }

    fn into_outcome(self) -> StartTaskOutcome {
        let sources = match &self.error {
            StartTaskError::NotInTask { ids } => ids
                .iter()
                .map(|id| SourceResponse {
                    result: false,
                    msg: SOURCE_NOT_IN_TASK.to_owned(),
                    source: id.clone(),
                    worker: String::new(),
                })
                .collect(),
            _ => self.sources,
        };
        // DM says nothing in `msg` where the sources or the check result say it all.
        let msg = match &self.error {
            StartTaskError::NotInTask { .. } | StartTaskError::Precheck => String::new(),
            error => error.to_string(),
        };
        StartTaskOutcome {
            response: StartTaskResponse {
                result: false,
                msg,
                sources,
                check_result: self.check_result,
            },
            notes: self.notes,
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

/// What every source's decision came to.
struct Decided {
    responses: Vec<SourceResponse>,
    notes: Vec<String>,
    writes: Vec<CheckpointWrite>,
}

/// Runs start-task. Every outcome, failures included, is a DM response.
pub async fn start_task(state: &StateDir, request: StartTaskRequest) -> StartTaskOutcome {
    match run(state, &request).await {
        Ok(outcome) => outcome,
        Err(refusal) => refusal.into_outcome(),
    }
}

/// The phases, in the order the module documentation guarantees: read everything, decide,
/// then write once.
async fn run(state: &StateDir, request: &StartTaskRequest) -> Result<StartTaskOutcome, Refusal> {
    let deadline = Instant::now() + request.rpc_timeout;
    let task = &request.task;
    let start = read_start_time(request)?;
    // Without a start time the meta is what DM reads: one it cannot read is the task file's
    // error, as DM's `MySQLInstance.VerifyAndAdjust` makes it.
    if start.is_none()
        && let Some(error) = task.meta_error()
    {
        return Err(StartTaskError::Meta(error.clone()).into());
    }
    check_task_mode(task)?;
    // Every source of the task is prechecked, also when -s selects some, as DM checks the
    // whole task first; only the selected ones are decided and written.
    let all_sources = created_sources(state, request)?;
    let store = state.checkpoint_store(task, request.meta_store, request.default_tls.as_ref())?;
    TaskTables::new(Dialect::MySql, &task.meta_schema, &task.name)?;
    // Held until the write is done; a dry run reads only and takes no lock.
    let _lock = match request.dry_run {
        true => None,
        false => Some(lock(state, request).await?),
    };
    let report = prechecks(request, &all_sources, &store, deadline).await;
    if !report.passed() {
        return Err(Refusal::from(StartTaskError::Precheck).with_check(&report));
    }
    // DM checks `-s` against the task after its precheck passed (tiflow `dm/master/server.go`,
    // `StartTask`), so an unknown source is answered with the check result.
    let selected = selected_sources(request).map_err(|e| Refusal::from(e).with_check(&report))?;
    let sources: Vec<SourceConfig> = all_sources
        .iter()
        .filter(|s| selected.contains(&s.source_id))
        .cloned()
        .collect();
    let stored = stored_checkpoints(request, &store, start.is_some(), &selected, deadline)
        .await
        .map_err(|e| Refusal::from(e).with_check(&report))?;
    let set_at = format_instant(chrono::Utc::now().timestamp_micros());
    let times = start.as_ref();
    let mut decided = decide_all(request, &sources, times, &stored, &set_at, deadline)
        .await
        .map_err(|refusal| refusal.with_check(&report))?;
    let plan = plan(request, &stored, std::mem::take(&mut decided.writes));
    decided
        .notes
        .push(format!("checkpoints: {}", store_note(&store, task)));
    let remove_meta_notes = remove_meta_notes(request, &selected, &store, deadline).await;
    let success = |msg: String, statements: Vec<String>| StartTaskOutcome {
        response: StartTaskResponse {
            result: true,
            msg: task
                .remove_meta
                .then(|| super::dm::REMOVE_META_DEPRECATED.to_owned())
                .into_iter()
                .chain(remove_meta_notes.iter().cloned())
                .chain((!msg.is_empty()).then_some(msg))
                .collect::<Vec<_>>()
                .join("; "),
            sources: decided.responses.clone(),
            check_result: report.check_result(),
        },
        notes: decided.notes.clone(),
        statements,
    };
    if request.dry_run {
        let (msg, statements) = dry_run(&store, task, &plan);
        return Ok(success(msg, statements));
    }
    let (msg, after_commit) = write(state, request, &store, &plan, &set_at, deadline)
        .await
        .map_err(|error| Refusal {
            error,
            check_result: report.check_result(),
            sources: decided
                .responses
                .iter()
                .map(|r| SourceResponse {
                    result: false,
                    ..r.clone()
                })
                .collect(),
            notes: decided.notes.clone(),
        })?;
    let mut outcome = success(msg, Vec::new());
    if let Some(error) = after_commit {
        outcome.response.result = false;
        outcome.response.msg = match outcome.response.msg.is_empty() {
            true => error,
            false => format!("{error}; {}", outcome.response.msg),
        };
    }
    Ok(outcome)
}

/// The task's stored global rows, by source. Rows DM wrote after startpoint's last write mean
/// the task ran since and may still run: refused here, before anything is resolved.
async fn stored_checkpoints(
    request: &StartTaskRequest,
    store: &CheckpointStore,
    has_start: bool,
    selected: &[String],
    deadline: Instant,
) -> Result<BTreeMap<String, StoredCheckpoint>, StartTaskError> {
    let task = &request.task;
    let rows = store.read(&task.meta_schema, &task.name, deadline).await?;
    if let Some(error) =
        written_by_others(request, store, &rows, has_start, selected, deadline).await?
    {
        return Err(error);
    }
    Ok(rows.into_iter().map(|r| (r.source_id, r.stored)).collect())
}

/// What a dry run says: where the write would go, and the statements it would run.
fn dry_run(store: &CheckpointStore, task: &TaskConfig, plan: &StorePlan) -> (String, Vec<String>) {
    if plan.writes.is_empty() && plan.remove_meta == RemoveMeta::No {
        return ("dry run: nothing was written".to_owned(), Vec::new());
    }
    let statements = TaskTables::new(store.dialect(), &task.meta_schema, &task.name)
        .map(|t| t.describe(plan))
        .unwrap_or_default();
    (
        format!(
            "dry run: nothing was written; the write would go to {}",
            store.describe()
        ),
        statements,
    )
}

/// The one write of the run, then the task record query-status reads: `msg` for DM's reply,
/// and what is left when a statement after the commit failed (the checkpoint is written; the
/// reply says so with result false). Nothing is written when the plan is empty.
async fn write(
    state: &StateDir,
    request: &StartTaskRequest,
    store: &CheckpointStore,
    plan: &StorePlan,
    set_at: &str,
    deadline: Instant,
) -> Result<(String, Option<String>), StartTaskError> {
    let task = &request.task;
    let nothing_to_write = plan.writes.is_empty() && plan.remove_meta == RemoveMeta::No;
    let applied = match nothing_to_write {
        true => Ok(()),
        false => store.apply(plan, deadline).await,
    };
    let after_commit = match applied {
        Ok(()) => None,
        Err(err @ StoreError::AfterCommit { .. }) => Some(err.to_string()),
        Err(err) => return Err(StartTaskError::Write(err)),
    };
    crate::crashpoint::hit("state-before-task-record");
    let recorded = state.save_task(
        task,
        &request.task_file,
        &request.task_text,
        request.meta_store,
        set_at,
    );
    let written = (!nothing_to_write).then(|| written_msg(store, task));
    let msg = match recorded {
        Ok(()) => written.unwrap_or_default(),
        Err(err) => format!(
            "the checkpoint is written, but the task record query-status reads could not be \
             saved: {err}"
        ),
    };
    Ok((msg, after_commit))
}

/// The refusal of a write over global rows startpoint did not write last, unless
/// `--task-stopped`. The rows overwritten are every row of the task with `--remove-meta`, else
/// the selected sources' rows with a start time, and their fresh rows (`('', 4, '')`, which
/// the decision replaces) without one. A row is startpoint's when its newest log entry (by
/// `set_at`) holds the same checkpoint and exit point. DM's syncer flushes with `INSERT … ON
/// DUPLICATE KEY UPDATE` (tiflow `dm/syncer/checkpoint.go`, `genUpdateSQL`), and
/// `update_time` (`ON UPDATE CURRENT_TIMESTAMP`) moves only when a value changes, so the
/// values say all the time would; the log's `set_at` is taken before the resolution, not at
/// the write, so it cannot be compared with `update_time`. DM never writes the embedded
/// store: only the downstream one is checked.
async fn written_by_others(
    request: &StartTaskRequest,
    store: &CheckpointStore,
    rows: &[GlobalRow],
    has_start: bool,
    selected: &[String],
    deadline: Instant,
) -> Result<Option<StartTaskError>, StoreError> {
    let task = &request.task;
    if request.task_stopped || store.downstream().is_none() {
        return Ok(None);
    }
    let overwritten: Vec<&GlobalRow> = rows
        .iter()
        .filter(|row| {
            request.remove_meta
                || (selected.contains(&row.source_id)
                    && (has_start || row.stored.checkpoint.is_fresh()))
        })
        .collect();
    if overwritten.is_empty() {
        return Ok(None);
    }
    let log = store.log(&task.meta_schema, &task.name, deadline).await?;
    let foreign = foreign_rows(&overwritten, &log);
    if foreign.is_empty() {
        return Ok(None);
    }
    let table = TaskTables::new(Dialect::MySql, &task.meta_schema, &task.name)
        .map(|t| t.checkpoint_table())
        .unwrap_or_default();
    Ok(Some(StartTaskError::WrittenByOthers {
        task: task.name.clone(),
        table: format!("{table} in {}", store.describe()),
        rows: foreign,
    }))
}

/// The rows of `rows` startpoint did not write last: a row is startpoint's when its newest
/// entry in `log` (newest first) holds the same checkpoint and exit point.
pub(crate) fn foreign_rows(rows: &[&GlobalRow], log: &[LogEntry]) -> Vec<ForeignRow> {
    let mut foreign = Vec::new();
    for row in rows {
        let last = log.iter().find(|e| e.source_id == row.source_id);
        let ours = last.is_some_and(|entry| entry.stored() == row.stored);
        if !ours {
            foreign.push(ForeignRow {
                source_id: row.source_id.clone(),
                update_time: row.update_time.clone(),
                startpoint_set_at: last.map(|e| e.set_at.clone()),
            });
        }
    }
    foreign
}

/// Where the checkpoints are, and whether DM reads them there (stderr, and `msg` after a
/// write).
fn store_note(store: &CheckpointStore, task: &TaskConfig) -> String {
    let dm_table = TaskTables::new(Dialect::MySql, &task.meta_schema, &task.name)
        .map(|t| t.checkpoint_table())
        .unwrap_or_default();
    match (store, &task.target) {
        (CheckpointStore::Embedded(_), Some(target)) => format!(
            "{} (table {}_syncer_checkpoint), which DM does not read: DM reads only {dm_table} \
             in the target database at {}:{}; write it there with --meta-store downstream",
            store.describe(),
            task.name,
            target.host,
            target.port
        ),
        (CheckpointStore::Embedded(_), None) => format!(
            "{} (table {}_syncer_checkpoint), which DM does not read",
            store.describe(),
            task.name
        ),
        (CheckpointStore::Downstream(_), _) => format!(
            "{dm_table} in {}, where DM reads it when the task starts",
            store.describe()
        ),
    }
}

/// DM's `msg` after a write: where it went, and what keeps it.
fn written_msg(store: &CheckpointStore, task: &TaskConfig) -> String {
    let mut msg = format!("checkpoint written to {}", store_note(store, task));
    if let CheckpointStore::Downstream(_) = store {
        msg.push_str(&format!(
            "; a DM task {name} still running or paused would overwrite it at its next flush: \
             stop it (dmctl stop-task {name}) and start it again",
            name = task.name
        ));
    }
    msg
}

/// What `--remove-meta` tells the user besides its work: that it covers the whole task, as
/// DM's does, even when `-s` named some sources; and that a task which ran sharded under a DM
/// cluster has state in DM's etcd that startpoint cannot reach.
async fn remove_meta_notes(
    request: &StartTaskRequest,
    selected: &[String],
    store: &CheckpointStore,
    deadline: Instant,
) -> Vec<String> {
    let mut notes = Vec::new();
    if !request.remove_meta {
        return notes;
    }
    let task = &request.task;
    if !request.selected.is_empty() && selected.len() < task.instances.len() {
        notes.push(format!(
            "--remove-meta covers the meta data of the whole task {} (all {} sources), as DM's \
             does, not only of the sources named with -s",
            task.name,
            task.instances.len()
        ));
    }
    if let Some(downstream) = store.downstream() {
        match downstream
            .sharding_meta_rows(&task.meta_schema, &task.name, deadline)
            .await
        {
            Ok(0) => {}
            Ok(rows) => notes.push(format!(
                "the task's sharding meta table held {rows} rows: it ran sharded under a DM \
                 cluster, whose etcd state for it (shard-DDL locks, load status) startpoint \
                 cannot remove; clear it with dmctl (start-task --remove-meta, or \
                 shard-ddl-lock unlock) before the task resumes"
            )),
            Err(err) => notes.push(format!(
                "could not tell whether the task ran sharded under a DM cluster ({err}); if it \
                 did, clear its shard-DDL locks and load status in DM with dmctl"
            )),
        }
    }
    notes
}

/// `--start-time`, parsed. A bare time is read in the upstream's zone at that instant, as DM
/// reads it (tiflow #5471): the task's `timezone` is DM's setting for the downstream session and
/// does not move the start point.
fn read_start_time(request: &StartTaskRequest) -> Result<Option<StartTime>, StartTaskError> {
    request
        .start_time
        .as_deref()
        .map(|input| {
            let error = || StartTaskError::StartTimeFormat {
                input: input.to_owned(),
            };
            // DM's pattern is anchored (`^…$`, tiflow `dm/pkg/utils/time.go`): surrounding
            // blanks are refused, as DM refuses them, not trimmed.
            if input.trim() != input {
                return Err(error());
            }
            StartTime::parse(input).map_err(|_| error())
        })
        .transpose()
}

/// The task's sources `-s` selects (all when none is named), in the task's order.
fn selected_sources(request: &StartTaskRequest) -> Result<Vec<String>, StartTaskError> {
    let task = &request.task;
    let unknown: Vec<String> = request
        .selected
        .iter()
        .filter(|id| task.instance(id).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(StartTaskError::NotInTask { ids: unknown });
    }
    Ok(task
        .instances
        .iter()
        .map(|i| i.source_id.clone())
        .filter(|id| request.selected.is_empty() || request.selected.contains(id))
        .collect())
}

/// Refuses the task modes startpoint cannot start: those that replicate no binlog, and those
/// that dump or load first. DM runs `all` and `load&sync` as dump (or load) first, then sync
/// (from `--start-time` when given, tiflow `dm/syncer/syncer.go`, `Run`); a sync checkpoint
/// written before that makes a DM worker skip the units before sync altogether (a unit that is
/// not fresh is resumed and those before it dropped, `dm/worker/subtask.go`), so the
/// downstream would never get the full data.
fn check_task_mode(task: &TaskConfig) -> Result<(), StartTaskError> {
    if !task.task_mode.replicates() {
        return Err(StartTaskError::ReplicatesNoBinlog {
            task: task.name.clone(),
            mode: task.task_mode.as_str(),
        });
    }
    if matches!(task.task_mode, TaskMode::All | TaskMode::LoadSync) {
        return Err(StartTaskError::DumpsFirst {
            task: task.name.clone(),
            mode: task.task_mode.as_str(),
            first: match task.task_mode {
                TaskMode::All => "dumps and loads the full data",
                _ => "loads the dumped data",
            },
        });
    }
    Ok(())
}

/// The configs of every source of the task from the state directory, with the default TLS
/// files.
fn created_sources(
    state: &StateDir,
    request: &StartTaskRequest,
) -> Result<Vec<SourceConfig>, StartTaskError> {
    let mut sources = Vec::new();
    let mut missing = Vec::new();
    for id in request.task.instances.iter().map(|i| &i.source_id) {
        match state.source(id)? {
            Some(mut source) => {
                source.connection = source
                    .connection
                    .with_default_tls(request.default_tls.as_ref());
                sources.push(source);
            }
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(StartTaskError::NotCreated {
            ids: missing,
            root: state.root().to_path_buf(),
        });
    }
    Ok(sources)
}

/// The task lock, waited for up to `--rpc-timeout`.
async fn lock(state: &StateDir, request: &StartTaskRequest) -> Result<TaskLock, StartTaskError> {
    let state = state.clone();
    let name = request.task.name.clone();
    let wait = request.rpc_timeout;
    tokio::task::spawn_blocking(move || state.lock_task(&name, wait))
        .await
        .map_err(|e| StartTaskError::Thread {
            what: "waiting for the task lock",
            message: e.to_string(),
        })?
        .map_err(StartTaskError::State)
}

/// Prechecks of every selected source and of the downstream store, all at once.
async fn prechecks(
    request: &StartTaskRequest,
    sources: &[SourceConfig],
    store: &CheckpointStore,
    deadline: Instant,
) -> PrecheckReport {
    let upstream = join_all(sources.iter().map(|s| {
        // DM checks the meta position only where the meta is used: no --start-time,
        // and no relay log in between.
        let meta = request
            .task
            .instance(&s.source_id)
            .and_then(|i| i.meta.as_ref())
            .filter(|_| request.start_time.is_none() && !s.enable_relay);
        precheck::check_upstream(s, &s.connection, meta, deadline)
    }));
    let downstream = async {
        match store.downstream() {
            Some(store) => {
                precheck::check_downstream(
                    store,
                    &request.task.meta_schema,
                    &request.task.name,
                    request.remove_meta,
                    deadline,
                )
                .await
            }
            None => Vec::new(),
        }
    };
    let ignored = &request.task.ignore_checking_items;
    // DM runs no check at all then, and its checkResult is empty (`CheckSyncConfig`).
    if ignored.iter().any(|i| i == "all") {
        return PrecheckReport::ignored();
    }
    let (upstream, downstream) = tokio::join!(upstream, downstream);
    let mut report = PrecheckReport::default();
    let kept = |items: Vec<precheck::CheckItem>| {
        items
            .into_iter()
            .filter(|i| !precheck::dm_item(&i.name).is_some_and(|n| ignored.iter().any(|g| g == n)))
            .collect::<Vec<_>>()
    };
    for items in upstream {
        report.extend(kept(items));
    }
    report.extend(kept(downstream));
    report
}

/// Every source's start, concurrently; one failed source fails them all.
async fn decide_all(
    request: &StartTaskRequest,
    sources: &[SourceConfig],
    start: Option<&StartTime>,
    stored: &BTreeMap<String, StoredCheckpoint>,
    set_at: &str,
    deadline: Instant,
) -> Result<Decided, Refusal> {
    let decisions = join_all(sources.iter().map(|source| {
        let existing = match request.remove_meta {
            true => None,
            false => stored.get(&source.source_id),
        };
        // One source's panic (a driver's, say) is that source's failure, not the run's.
        AssertUnwindSafe(decide(request, source, start, existing, set_at, deadline))
            .catch_unwind()
            .map(|decided| decided.unwrap_or_else(|panic| Err(SourceError::panicked(&*panic))))
    }))
    .await;
    let mut decided = Decided {
        responses: Vec::new(),
        notes: Vec::new(),
        writes: Vec::new(),
    };
    let mut failed = 0;
    for (source, decision) in sources.iter().zip(decisions) {
        let (result, msg) = match decision {
            Ok(start) => {
                decided
                    .notes
                    .push(format!("{}: {}", source.source_id, start.note));
                for detail in &start.details {
                    decided
                        .notes
                        .push(format!("{}: {detail}", source.source_id));
                }
                decided.writes.extend(start.write);
                (true, start.warnings.join("; "))
            }
            Err(error) => {
                failed += 1;
                (false, error.to_string())
            }
        };
        decided.responses.push(SourceResponse {
            result,
            msg,
            source: source.source_id.clone(),
            worker: request.worker.clone(),
        });
    }
    if failed > 0 {
        return Err(Refusal {
            error: StartTaskError::SourcesFailed {
                failed,
                of: decided.responses.len(),
            },
            check_result: String::new(),
            sources: decided.responses,
            notes: decided.notes,
        });
    }
    Ok(decided)
}

/// The one write of the run: the new rows, what they were decided against, and what
/// `--remove-meta` removes.
fn plan(
    request: &StartTaskRequest,
    stored: &BTreeMap<String, StoredCheckpoint>,
    writes: Vec<CheckpointWrite>,
) -> StorePlan {
    let task = &request.task;
    // The whole task, even when -s names some sources: DM's removeMetaData is per task.
    let remove_meta = match request.remove_meta {
        false => RemoveMeta::No,
        true => RemoveMeta::Task,
    };
    let mut expected: BTreeMap<String, Option<StoredCheckpoint>> = writes
        .iter()
        .map(|w| (w.source_id.clone(), stored.get(&w.source_id).cloned()))
        .collect();
    // --remove-meta deletes every source's rows: none of them may have changed meanwhile (a
    // DM worker still running, another start-task).
    if remove_meta == RemoveMeta::Task {
        for (source_id, row) in stored {
            expected
                .entry(source_id.clone())
                .or_insert_with(|| Some(row.clone()));
        }
    }
    StorePlan {
        task: task.name.clone(),
        meta_schema: task.meta_schema.clone(),
        remove_meta,
        expected,
        writes,
    }
}

/// The start of one source.
async fn decide(
    request: &StartTaskRequest,
    source: &SourceConfig,
    start: Option<&StartTime>,
    existing: Option<&StoredCheckpoint>,
    set_at: &str,
    deadline: Instant,
) -> Result<SourceStart, SourceError> {
    let settings = &source.connection;
    // DM's fresh row ('', 4, '') is no checkpoint (its loader takes it for a new task).
    let existing = existing.filter(|e| !e.checkpoint.is_fresh());
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
        let resolved = resolve_start(request, source, start, deadline).await?;
        let location = resolved.location;
        let how = resolved.how;
        let mut warnings = resolved.warnings;
        let plan = plan_safe_mode(&location, existing);
        warnings.extend(plan.warnings);
        let exit = match plan.window.map(|w| w.until) {
            Some(until) => {
                let until = exit_point(request, source, until, deadline).await?;
                warnings.extend(dm_window_warning(&location, &until, source.enable_gtid));
                Some(until)
            }
            None => None,
        };
        warnings.extend(tagged_gtid_warning(&location));
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
            details: resolved.details,
        });
    }
    // DM ignores meta under --start-time; without it, DM refuses a meta naming neither a file
    // nor GTIDs (`MySQLInstance.VerifyAndAdjust`), checkpoint or not.
    if request
        .task
        .instance(&source.source_id)
        .and_then(|i| i.meta.as_ref())
        .is_some_and(|m| m.binlog_name.is_none() && m.binlog_gtid.is_none())
    {
        return Err(SourceError::EmptyMeta {
            source_id: source.source_id.clone(),
        });
    }
    if let Some(existing) = existing {
        return Ok(kept(existing));
    }
    if let Some(location) = meta_location(request, source) {
        let how = "the task file's meta".to_owned();
        return Ok(SourceStart {
            note: format!("starts at {location} ({how}); no previous checkpoint"),
            warnings: tagged_gtid_warning(&location).into_iter().collect(),
            write: Some(write(location, None, false, how)),
            details: Vec::new(),
        });
    }
    let position = remote::current_position(settings, deadline).await?;
    let location = CheckpointLocation {
        binlog_name: position.file,
        binlog_pos: to_u32(position.pos)?,
        binlog_gtid: position.gtid,
    };
    let how = format!("the upstream's current position at {}", settings.address());
    Ok(SourceStart {
        note: format!("starts at {location} ({how}); no previous checkpoint"),
        warnings: tagged_gtid_warning(&location).into_iter().collect(),
        write: Some(write(location, None, false, how)),
        details: Vec::new(),
    })
}

/// An existing checkpoint, kept as it is (no start time).
fn kept(existing: &StoredCheckpoint) -> SourceStart {
    let note = match &existing.exit_point {
        Some(exit) => format!(
            "resumes from its checkpoint {} (kept), safe mode until {exit}",
            existing.checkpoint
        ),
        None => format!("resumes from its checkpoint {} (kept)", existing.checkpoint),
    };
    SourceStart {
        write: None,
        warnings: Vec::new(),
        note,
        details: Vec::new(),
    }
}

/// The location the task file's `meta` names for `source`: a file alone starts at 4.
fn meta_location(request: &StartTaskRequest, source: &SourceConfig) -> Option<CheckpointLocation> {
    let meta = request.task.instance(&source.source_id)?.meta.as_ref()?;
    Some(CheckpointLocation {
        binlog_name: meta.binlog_name.clone().unwrap_or_default(),
        binlog_pos: meta
            .binlog_pos
            .unwrap_or(if meta.binlog_name.is_some() { 4 } else { 0 }),
        binlog_gtid: meta.binlog_gtid.clone().unwrap_or_default(),
    })
}

/// The safe-mode exit point `until` as DM will honour it: refused when the source's
/// `safe-mode-duration` is 0s (DM fails such a task), given its GTID set on an enable-gtid
/// source, and refused without a binlog file on a source without enable-gtid, where DM reads an
/// exit point only when it names one (tiflow `dm/syncer/checkpoint.go`, `Load`).
async fn exit_point(
    request: &StartTaskRequest,
    source: &SourceConfig,
    mut until: CheckpointLocation,
    deadline: Instant,
) -> Result<CheckpointLocation, SourceError> {
    let duration = request
        .task
        .instance(&source.source_id)
        .and_then(|i| i.safe_mode_duration.as_deref());
    if duration.is_some_and(is_zero_go_duration) {
        return Err(SourceError::SafeModeDurationZero);
    }
    if source.enable_gtid && !until.has_gtids() {
        until.binlog_gtid = exit_point_gtids(&source.connection, &until, deadline).await?;
    }
    if !source.enable_gtid && until.binlog_name.is_empty() {
        return Err(SourceError::ExitPointWithoutName {
            exit: until.to_string(),
        });
    }
    Ok(until)
}

/// The GTID set at an exit point that has none, for an enable-gtid source: DM ignores an exit
/// point without one there (tiflow `dm/syncer/checkpoint.go`, `Load`: "TODO: we forget to
/// handle else"). DM itself fills a checkpoint's GTIDs by reading the file up to the position
/// (`Syncer.adjustGlobalPointGTID`); MariaDB answers the same with `BINLOG_GTID_POS`. On MySQL
/// the source fails with what to do.
async fn exit_point_gtids(
    settings: &ConnSettings,
    exit: &CheckpointLocation,
    deadline: Instant,
) -> Result<String, SourceError> {
    let failed = |why: String| SourceError::ExitPointWithoutGtid {
        exit: exit.to_string(),
        why,
    };
    if exit.binlog_name.is_empty() {
        return Err(failed("it names no binlog file either".to_owned()));
    }
    let file = upstream_file_name(&exit.binlog_name);
    match remote::gtid_pos_at(settings, &file, u64::from(exit.binlog_pos), deadline).await {
        Ok(Some(gtid)) if !gtid.trim().is_empty() => {
            super::location::dm_gtid_text(&gtid).map_err(|e| failed(e.to_string()))
        }
        Ok(Some(_)) => Err(failed(format!(
            "the upstream has no GTID position for {file}:{}",
            exit.binlog_pos
        ))),
        Ok(None) => Err(failed(
            "a MySQL upstream cannot compute the GTID set at a position".to_owned(),
        )),
        Err(err) => Err(failed(format!("asking the upstream failed: {err}"))),
    }
}

fn to_u32(pos: u64) -> Result<u32, SourceError> {
    u32::try_from(pos).map_err(|_| SourceError::PositionTooLarge { pos })
}

/// A start time resolved for one source.
struct ResolvedStart {
    location: CheckpointLocation,
    /// How it was found, for the log and the notes.
    how: String,
    /// For DM's `msg`.
    warnings: Vec<String>,
    /// For people (stderr).
    details: Vec<String>,
}

/// `--start-time` → a location, from the relay directory or the live upstream.
async fn resolve_start(
    request: &StartTaskRequest,
    source: &SourceConfig,
    start: &StartTime,
    deadline: Instant,
) -> Result<ResolvedStart, SourceError> {
    let settings = &source.connection;
    // The relay directory when DM keeps one and it holds files; the upstream otherwise, said
    // in the reply and the notes: DM would read its relay log there.
    let (relay, relay_problem) = if source.enable_relay {
        match open_relay_dir(&source.relay_dir) {
            Ok(dir) if !dir.files.is_empty() => (Some(dir), None),
            Ok(_) => (None, Some("it holds no relay log file".to_owned())),
            Err(error) => (None, Some(error.to_string())),
        }
    } else {
        (None, None)
    };
    let mut options = Options::new(Duration::ZERO);
    options.basis = request.basis;
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
    let answer = answer?;
    let mut resolved = resolved_start(request, start, &answer.resolution, &answer.start, &from)?;
    if let Some(problem) = relay_problem {
        let warning = format!(
            "enable-relay is true, but relay-dir {} cannot be used ({problem}): the start point \
             was read from the upstream {}; check that the relay directory is the DM worker's \
             and readable here",
            source.relay_dir.display(),
            settings.address()
        );
        resolved.details.push(warning.clone());
        resolved.warnings.push(warning);
    }
    Ok(resolved)
}

fn resolved_start(
    request: &StartTaskRequest,
    start: &StartTime,
    resolution: &Resolution,
    resolved: &ResolvedTime,
    from: &str,
) -> Result<ResolvedStart, SourceError> {
    let too_late = || SourceError::TooLate {
        input: start.input.clone(),
    };
    let location = resolution.location.as_ref().ok_or_else(too_late)?;
    if resolution.status == Status::AboveUpperBound {
        return Err(too_late());
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
        "start-time {}{zone_part} = {}, {} time, from the {from}{assumed}",
        start.input.trim(),
        format_instant(resolved.instant_us),
        request.basis,
    );
    let mut warnings = Vec::new();
    if resolution.status == Status::BelowLowerBound {
        warnings.push(format!(
            "start-time {} is too early, will use the earliest binlog location {checkpoint}; \
             binlog before it may have been purged",
            start.input
        ));
    }
    let mut details: Vec<String> = resolved.note.iter().map(ToString::to_string).collect();
    if resolution.status == Status::InRange {
        details.extend(resolution.warnings.iter().map(ToString::to_string));
    }
    Ok(ResolvedStart {
        location: checkpoint,
        how,
        warnings,
        details,
    })
}

/// Why a task file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TaskFileError {
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// dmctl's own check of `is-sharding` against `shard-mode`.
    #[error("{}", super::dm::SHARDING_CONFLICT)]
    ShardingConflict,
}

/// Reads a task file for start-task: its config and text.
///
/// As dmctl's `start-task` does before sending the task (tiflow `dm/ctl/master/start_task.go`,
/// `startTaskFunc`), a line that begins with `is-sharding` or `shard-mode` counts as the key
/// set, and `is-sharding: false` with a shard mode, or `is-sharding: true` with an empty one,
/// is refused with dmctl's text.
pub fn read_task_file(path: &Path) -> Result<(TaskConfig, String), TaskFileError> {
    let text = crate::input::read_text(path, "a task file")?;
    let task = TaskConfig::parse(&path.display().to_string(), &text)?;
    let set = |key: &str| text.split('\n').any(|line| line.starts_with(key));
    let sharding_set = set("is-sharding");
    let shard_mode_set = set("shard-mode");
    if (sharding_set && !task.is_sharding && !task.shard_mode.is_empty())
        || (shard_mode_set && task.shard_mode.is_empty() && task.is_sharding)
    {
        return Err(TaskFileError::ShardingConflict);
    }
    Ok((task, text))
}
