//! `query-status [TASK]`, in dmctl's shapes (dm/ctl/master/query_status.go): with a task (or
//! `-s`, or `--more`), DM's `QueryStatusListResponse`, one entry per source, sorted by source
//! as DM-master sorts them, each with its tasks' subtask statuses; alone, dmctl's summary of
//! every task. Per subtask, the stored checkpoint is DM's `syncerBinlog`/`syncerBinlogGtid`,
//! and what DM has no field for (the meta store, the safe-mode exit point, when and how
//! startpoint set them, from the `<task>_startpoint_log` table) is in its `startpoint` object.

use std::collections::BTreeMap;

use tokio::time::Instant;

use crate::remote::TlsFiles;

use super::config::TaskConfig;
use super::dm::{
    QueryStatusResponse, SOURCE_NOT_IN_TASK, SetBy, SourceQueryStatus, SourceStatus,
    StartpointStatus, SubTaskStatus, SyncStatus, TaskInfo, TaskListResponse, task_not_found,
};
use super::state::StateDir;
use super::store::{GlobalRow, LogEntry, MetaStoreKind, StoreError};

/// The worker named in a source's status: no DM-worker runs here.
const WORKER: &str = "startpoint";

/// The stage of every subtask: startpoint stores a checkpoint and runs no replication, so the
/// task is not running until DM runs it (DM-COMPAT.md §4.3).
const STAGE: &str = "Stopped";

/// What `query-status` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusReply {
    /// `query-status` alone, when every task could be read: dmctl's summary.
    Tasks(TaskListResponse),
    /// Everything else: DM's full reply.
    Full(QueryStatusResponse),
}

impl StatusReply {
    /// Whether everything asked for was read (the exit status).
    pub fn ok(&self) -> bool {
        match self {
            StatusReply::Tasks(list) => list.result,
            StatusReply::Full(full) => full.result && full.sources.iter().all(|s| s.result),
        }
    }
}

/// What a task argument (`query-status`, `export-checkpoint`) names.
#[derive(Debug, Clone)]
pub struct TaskArg {
    /// The task's name.
    pub name: String,
    /// Why a `.yaml` argument could not be read as a task file (then it is the name itself).
    pub unread: Option<String>,
    /// The task file's `target-database`, when the argument was a task file that has one.
    pub file_target: Option<crate::remote::ConnSettings>,
}

/// The task an argument names, as dmctl reads it (`GetTaskNameFromArgOrFile`,
/// dm/ctl/common/util.go): a `.yaml`/`.yml` argument that is a task file gives its `name`;
/// anything else is the name itself. A `.yaml` argument that cannot be read as a task file is
/// taken as the name too, as dmctl takes it, with the reason (for a warning). The file is read
/// once, here.
pub fn task_arg(arg: &str) -> TaskArg {
    let named = |unread| TaskArg {
        name: arg.to_owned(),
        unread,
        file_target: None,
    };
    let path = std::path::Path::new(arg);
    if !(arg.ends_with(".yaml") || arg.ends_with(".yml")) || !path.exists() {
        return named(None);
    }
    let parsed = crate::input::read_text(path, "a task file")
        .map_err(|e| e.to_string())
        .and_then(|text| TaskConfig::parse(arg, &text).map_err(|e| e.to_string()));
    match parsed {
        Ok(task) => TaskArg {
            name: task.name,
            unread: None,
            file_target: task.target,
        },
        Err(why) => named(Some(why)),
    }
}

/// Reads the state of `task_name` (every recorded task when `None`); `selected` (`-s`)
/// restricts the sources; `more` asks for the full reply where dmctl would summarise.
pub async fn query_status(
    state: &StateDir,
    task_name: Option<&str>,
    selected: &[String],
    more: bool,
    default_tls: Option<&TlsFiles>,
    deadline: Instant,
) -> StatusReply {
    let failed = |msg: String| {
        StatusReply::Full(QueryStatusResponse {
            result: false,
            msg,
            sources: Vec::new(),
        })
    };
    let tasks: Vec<Result<(TaskConfig, MetaStoreKind), String>> = match task_name {
        Some(name) => match state.task(name) {
            Ok(Some(found)) => vec![Ok(found)],
            Ok(None) => return failed(task_not_found(name)),
            Err(err) => return failed(err.to_string()),
        },
        None => match state.tasks() {
            Ok(all) => all
                .into_iter()
                .map(|t| t.map_err(|e| e.to_string()))
                .collect(),
            Err(err) => return failed(err.to_string()),
        },
    };
    let mut sources: BTreeMap<String, SourceQueryStatus> = BTreeMap::new();
    let mut broken = Vec::new();
    let mut summary = Vec::new();
    let mut known: Vec<String> = Vec::new();
    for task in tasks {
        let (task, kind) = match task {
            Ok(found) => found,
            Err(err) => {
                broken.push(err);
                continue;
            }
        };
        known.extend(task.instances.iter().map(|i| i.source_id.clone()));
        let ids: Vec<String> = task
            .instances
            .iter()
            .map(|i| i.source_id.clone())
            .filter(|id| selected.is_empty() || selected.contains(id))
            .collect();
        summary.push(TaskInfo {
            task_name: task.name.clone(),
            task_status: STAGE.to_owned(),
            sources: ids.clone(),
        });
        match read_task(state, &task, kind, default_tls, deadline).await {
            Ok((rows, log)) => {
                for id in &ids {
                    let status = subtask(&task, kind, id, &rows, &log);
                    entry(&mut sources, id).sub_task_status.push(status);
                }
            }
            Err(err) => {
                for id in &ids {
                    let source = entry(&mut sources, id);
                    source.result = false;
                    source.msg = join(&source.msg, &format!("task {}: {err}", task.name));
                }
            }
        }
        if task_name.is_some() {
            for id in selected {
                if task.instance(id).is_none() {
                    let source = entry(&mut sources, id);
                    source.result = false;
                    source.msg = SOURCE_NOT_IN_TASK.to_owned();
                }
            }
        }
    }
    // Without a task, a source no task has is named too, not left out in silence.
    if task_name.is_none() {
        for id in selected.iter().filter(|id| !known.contains(id)) {
            let source = entry(&mut sources, id);
            source.result = false;
            source.msg = "source not found in any task startpoint has started".to_owned();
        }
    }
    let full = QueryStatusResponse {
        result: broken.is_empty(),
        msg: broken.join("; "),
        sources: sources.into_values().collect(),
    };
    // dmctl summarises only when it asked for nothing in particular and nothing failed.
    let summarise = task_name.is_none() && selected.is_empty() && !more;
    if summarise && full.result && full.sources.iter().all(|s| s.result) {
        summary.sort_by(|a, b| a.task_name.cmp(&b.task_name));
        return StatusReply::Tasks(TaskListResponse {
            result: true,
            msg: String::new(),
            tasks: summary,
        });
    }
    StatusReply::Full(full)
}

/// The task's global checkpoint rows and startpoint's log, from its meta store.
async fn read_task(
    state: &StateDir,
    task: &TaskConfig,
    kind: MetaStoreKind,
    default_tls: Option<&TlsFiles>,
    deadline: Instant,
) -> Result<(Vec<GlobalRow>, Vec<LogEntry>), StoreError> {
    let store = state
        .checkpoint_store(task, kind, default_tls)
        .map_err(|error| match error {
            StoreError::NoTarget { task } => StoreError::Invalid(format!(
                "task {task}: the recorded task file has no target-database"
            )),
            other => other,
        })?;
    let rows = store.read(&task.meta_schema, &task.name, deadline).await?;
    let log = store.log(&task.meta_schema, &task.name, deadline).await?;
    Ok((rows, log))
}

/// The source's entry, made on first use.
fn entry<'m>(
    sources: &'m mut BTreeMap<String, SourceQueryStatus>,
    id: &str,
) -> &'m mut SourceQueryStatus {
    sources
        .entry(id.to_owned())
        .or_insert_with(|| SourceQueryStatus {
            result: true,
            msg: String::new(),
            source_status: SourceStatus {
                source: id.to_owned(),
                worker: WORKER.to_owned(),
                result: None,
                relay_status: None,
            },
            sub_task_status: Vec::new(),
        })
}

fn join(earlier: &str, more: &str) -> String {
    if earlier.is_empty() {
        more.to_owned()
    } else {
        format!("{earlier}; {more}")
    }
}

/// One task on one source: its stored rows and the newest log entry.
fn subtask(
    task: &TaskConfig,
    kind: MetaStoreKind,
    id: &str,
    rows: &[GlobalRow],
    log: &[LogEntry],
) -> SubTaskStatus {
    let row = rows.iter().find(|r| r.source_id == id);
    let entry = log.iter().find(|e| e.source_id == id);
    SubTaskStatus {
        name: task.name.clone(),
        stage: STAGE.to_owned(),
        unit: "Sync".to_owned(),
        result: None,
        unresolved_ddl_lock_id: String::new(),
        sync: row.map(|r| SyncStatus::at(&r.stored.checkpoint)),
        msg: row.is_none().then(|| "no checkpoint stored".to_owned()),
        validation: None,
        startpoint: StartpointStatus {
            meta_store: kind.as_str().to_owned(),
            meta_schema: task.meta_schema.clone(),
            checkpoint: row.map(|r| (&r.stored.checkpoint).into()),
            safe_mode_exit_point: row.and_then(|r| r.stored.exit_point.as_ref().map(Into::into)),
            update_time: row.and_then(|r| r.update_time.clone()),
            set_by: entry.map(|e| SetBy {
                set_at: e.set_at.clone(),
                how: e.how.clone(),
                worker: e.worker.clone(),
                tool: e.tool.clone(),
            }),
        },
    }
}
