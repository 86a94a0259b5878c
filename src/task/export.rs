//! `export-checkpoint TASK`: a checkpoint start-task kept in the embedded store (reviewed with
//! query-status), handed to DM's downstream tables, where DM reads it; or the statements that
//! would write it, printed for a DBA to review and run.
//!
//! The write is the downstream store's own, with its guards (DM-COMPAT.md §3.4–3.6): DM's
//! downstream prechecks first (the target reachable, the privileges to create and write the
//! meta schema); then, in one transaction, the rows read again under lock and checked
//! unchanged, DM's upsert of each source's global row (`INSERT … ON DUPLICATE KEY UPDATE`,
//! `create_time` left alone), the source's table checkpoints (`is_global = 0`) deleted, and a
//! row of startpoint's log. A global row someone other than startpoint wrote last (DM's
//! syncer: the task ran since) is not written over unless `task_stopped`.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::remote::{ConnSettings, TlsFiles};
use crate::start_time::format_instant;

use super::dm::{SOURCE_NOT_IN_TASK, SourceResponse, StartTaskResponse};
use super::precheck::{self, PrecheckReport};
use super::start::ForeignRow;
use super::state::{StateDir, StateError};
use super::store::downstream::DownstreamStore;
use super::store::{
    CheckpointStore, CheckpointWrite, Dialect, GlobalRow, LogEntry, MetaStoreKind, RemoveMeta,
    StoreError, StorePlan, TaskTables,
};

/// Where the checkpoint goes.
#[derive(Debug, Clone)]
pub enum ExportTarget {
    /// The task file's `target-database`, where DM reads it.
    TaskTarget,
    /// Another server (`--to mysql://…`).
    Server(ConnSettings),
    /// Nowhere: the statements are printed (`--sql`).
    Sql,
}

/// What `export-checkpoint` was asked.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The task's name.
    pub task: String,
    /// Where to.
    pub target: ExportTarget,
    /// `-s`: these sources only (all when empty).
    pub sources: Vec<String>,
    /// `--task-stopped`: write over rows DM wrote since startpoint last did.
    pub task_stopped: bool,
    /// The time the whole export may take.
    pub rpc_timeout: Duration,
    /// TLS for a target whose config has no `security`.
    pub default_tls: Option<TlsFiles>,
    /// The worker named in the log and the reply.
    pub worker: String,
    /// The target of the task file the task was named by, if it was (`export-checkpoint
    /// task.yaml`), and the file: compared with the target the task was started with.
    pub file_target: Option<(std::path::PathBuf, ConnSettings)>,
}

/// DM's standard reply, and with `--sql` the statements.
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    /// What was done (DM's shape, as start-task replies).
    pub response: StartTaskResponse,
    /// `--sql`: the statements, each whole and ending in `;`, runnable as they are.
    pub statements: Vec<String>,
    /// What the user should know (for stderr, as warnings).
    pub warnings: Vec<String>,
}

/// Why nothing was exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "task {0} has not been started with startpoint start-task (no record in the state \
         directory); nothing to export"
    )]
    NotStarted(String),
    #[error(
        "task {0}'s checkpoint is already in its target database (its last start-task used \
         --meta-store downstream); give --to mysql://… to copy it elsewhere, or --sql"
    )]
    AlreadyDownstream(String),
    #[error("task {task}: the task file has no target-database; give --to mysql://… or --sql")]
    NoTarget { task: String },
    #[error("source {0}: {SOURCE_NOT_IN_TASK}")]
    NotInTask(String),
    #[error(
        "task {task}: no checkpoint is stored for source {source_id}; run start-task for it \
         first"
    )]
    NoCheckpoint { task: String, source_id: String },
    #[error(
        "the checkpoint of task {task} in {table} was written by someone other than startpoint \
         ({}): DM has run this task since, and a task that runs or is paused writes its own \
         checkpoint back at its next flush. Stop it first (`dmctl stop-task {task}`), then \
         run export-checkpoint again with --task-stopped; nothing was written",
        rows.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    WrittenByOthers {
        task: String,
        table: String,
        rows: Vec<ForeignRow>,
    },
    #[error("a precheck of the target database failed")]
    Precheck,
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Exports the task's stored checkpoints (see the module documentation).
pub async fn export_checkpoint(state: &StateDir, request: &ExportRequest) -> ExportOutcome {
    let mut check_result = String::new();
    match run(state, request, &mut check_result).await {
        Ok(outcome) => outcome,
        Err(error) => ExportOutcome {
            response: StartTaskResponse {
                check_result,
                ..StartTaskResponse::failed(match error {
                    // DM answers a failed precheck with an empty msg and the check result.
                    ExportError::Precheck => String::new(),
                    other => other.to_string(),
                })
            },
            statements: Vec::new(),
            warnings: Vec::new(),
        },
    }
}

async fn run(
    state: &StateDir,
    request: &ExportRequest,
    check_result: &mut String,
) -> Result<ExportOutcome, ExportError> {
    let deadline = Instant::now() + request.rpc_timeout;
    let (task, kind) = state
        .task(&request.task)?
        .ok_or_else(|| ExportError::NotStarted(request.task.clone()))?;
    for id in &request.sources {
        if task.instance(id).is_none() {
            return Err(ExportError::NotInTask(id.clone()));
        }
    }
    if matches!(request.target, ExportTarget::TaskTarget) && kind == MetaStoreKind::Downstream {
        return Err(ExportError::AlreadyDownstream(task.name.clone()));
    }
    let warnings = target_moved(request, &task);
    // Held until the write is done: a start-task of the same task waits for it.
    let _lock = match request.target {
        ExportTarget::Sql => None,
        _ => Some(state.lock_task(&task.name, request.rpc_timeout)?),
    };
    let from = state.checkpoint_store(&task, kind, request.default_tls.as_ref())?;
    let rows = from.read(&task.meta_schema, &task.name, deadline).await?;
    let log = from.log(&task.meta_schema, &task.name, deadline).await?;
    let selected: Vec<&str> = task
        .instances
        .iter()
        .map(|i| i.source_id.as_str())
        .filter(|id| request.sources.is_empty() || request.sources.iter().any(|s| s == id))
        .collect();
    let set_at = format_instant(chrono::Utc::now().timestamp_micros());
    let mut writes = Vec::new();
    for id in &selected {
        let row =
            rows.iter()
                .find(|r| r.source_id == *id)
                .ok_or_else(|| ExportError::NoCheckpoint {
                    task: task.name.clone(),
                    source_id: (*id).to_owned(),
                })?;
        writes.push(write_of(row, &log, kind, &set_at, &request.worker));
    }
    let tables = TaskTables::new(Dialect::MySql, &task.meta_schema, &task.name)?;
    let to = match &request.target {
        ExportTarget::Sql => {
            let plan = StorePlan {
                task: task.name.clone(),
                meta_schema: task.meta_schema.clone(),
                remove_meta: RemoveMeta::No,
                expected: BTreeMap::new(),
                writes,
            };
            return Ok(ExportOutcome {
                response: replied(&selected, &request.worker, String::new()),
                statements: tables.script(&plan),
                warnings,
            });
        }
        ExportTarget::TaskTarget => task
            .target
            .clone()
            .ok_or_else(|| ExportError::NoTarget {
                task: task.name.clone(),
            })?
            .with_default_tls(request.default_tls.as_ref()),
        ExportTarget::Server(settings) => settings
            .clone()
            .with_default_tls(request.default_tls.as_ref()),
    };
    let downstream = DownstreamStore::new(to);
    let mut report = PrecheckReport::default();
    report.extend(
        precheck::check_downstream(&downstream, &task.meta_schema, &task.name, false, deadline)
            .await,
    );
    *check_result = report.check_result();
    if !report.passed() {
        return Err(ExportError::Precheck);
    }
    let store = CheckpointStore::Downstream(downstream);
    let present = store.read(&task.meta_schema, &task.name, deadline).await?;
    if !request.task_stopped {
        let overwritten: Vec<&GlobalRow> = present
            .iter()
            .filter(|r| selected.contains(&r.source_id.as_str()))
            .collect();
        if !overwritten.is_empty() {
            let their_log = store.log(&task.meta_schema, &task.name, deadline).await?;
            let foreign = super::start::foreign_rows(&overwritten, &their_log);
            if !foreign.is_empty() {
                return Err(ExportError::WrittenByOthers {
                    task: task.name.clone(),
                    table: format!("{} in {}", tables.checkpoint_table(), store.describe()),
                    rows: foreign,
                });
            }
        }
    }
    let plan = StorePlan {
        task: task.name.clone(),
        meta_schema: task.meta_schema.clone(),
        remove_meta: RemoveMeta::No,
        expected: selected
            .iter()
            .map(|id| {
                let stored = present
                    .iter()
                    .find(|r| r.source_id == *id)
                    .map(|r| r.stored.clone());
                ((*id).to_owned(), stored)
            })
            .collect(),
        writes,
    };
    store.apply(&plan, deadline).await?;
    Ok(ExportOutcome {
        response: StartTaskResponse {
            check_result: check_result.clone(),
            ..replied(
                &selected,
                &request.worker,
                format!(
                    "exported to {} (table {}), where DM reads it; query-status still reads the \
                     {} store",
                    store.describe(),
                    tables.checkpoint_table(),
                    kind.as_str()
                ),
            )
        },
        statements: Vec::new(),
        warnings,
    })
}

/// A warning when the task file named on the command line now points at another target than
/// the task was started with: the export goes where start-task's record says.
fn target_moved(request: &ExportRequest, recorded: &super::config::TaskConfig) -> Vec<String> {
    let (Some((path, now)), Some(then)) = (&request.file_target, &recorded.target) else {
        return Vec::new();
    };
    if (&now.host, now.port, &now.user) == (&then.host, then.port, &then.user) {
        return Vec::new();
    }
    vec![format!(
        "{}: its target-database is now {}@{}:{}, but task {} was started with {}@{}:{}; the \
         checkpoint is read from and exported to what the task was started with: run \
         start-task again with this file to move the task, or give --to",
        path.display(),
        now.user,
        now.host,
        now.port,
        recorded.name,
        then.user,
        then.host,
        then.port
    )]
}

/// The write of one source's stored row, its log entry saying where it came from.
fn write_of(
    row: &GlobalRow,
    log: &[LogEntry],
    kind: MetaStoreKind,
    set_at: &str,
    worker: &str,
) -> CheckpointWrite {
    let how = match log.iter().find(|e| e.source_id == row.source_id) {
        Some(entry) => format!(
            "exported from the {} store, where it was set at {} ({})",
            kind.as_str(),
            entry.set_at,
            entry.how
        ),
        None => format!("exported from the {} store", kind.as_str()),
    };
    CheckpointWrite {
        source_id: row.source_id.clone(),
        checkpoint: row.stored.checkpoint.clone(),
        exit_point: row.stored.exit_point.clone(),
        // The global row is the start now: table checkpoints from an earlier run would make
        // DM skip or replay tables against it, as after a start from a start time.
        drop_table_rows: true,
        how,
        set_at: set_at.to_owned(),
        worker: worker.to_owned(),
    }
}

fn replied(selected: &[&str], worker: &str, msg: String) -> StartTaskResponse {
    StartTaskResponse {
        result: true,
        msg,
        sources: selected
            .iter()
            .map(|id| SourceResponse {
                result: true,
                msg: String::new(),
                source: (*id).to_owned(),
                worker: worker.to_owned(),
            })
            .collect(),
        check_result: String::new(),
    }
}
