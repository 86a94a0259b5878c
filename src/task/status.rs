//! `query-status TASK`: per source, the stored checkpoint, the safe-mode exit point, and when and
//! how startpoint set them (from the `<task>_startpoint_log` table), read from the meta store the
//! task's last start-task used.

use serde::Serialize;
use tokio::time::Instant;

use super::location::CheckpointLocation;
use super::state::StateDir;
use super::store::downstream::DownstreamStore;
use super::store::{GlobalRow, LogEntry, MetaStoreKind, StoreError};

/// A location in DM's column names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationJson {
    pub binlog_name: String,
    pub binlog_pos: u32,
    pub binlog_gtid: String,
}

impl From<&CheckpointLocation> for LocationJson {
    fn from(l: &CheckpointLocation) -> LocationJson {
        LocationJson {
            binlog_name: l.binlog_name.clone(),
            binlog_pos: l.binlog_pos,
            binlog_gtid: l.binlog_gtid.clone(),
        }
    }
}

/// When and how a checkpoint was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetBy {
    #[serde(rename = "setAt")]
    pub set_at: String,
    pub how: String,
    pub worker: String,
    pub tool: String,
}

/// One source of the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    pub result: bool,
    pub msg: String,
    pub source: String,
    pub checkpoint: Option<LocationJson>,
    #[serde(rename = "safeModeExitPoint")]
    pub safe_mode_exit_point: Option<LocationJson>,
    #[serde(rename = "updateTime")]
    pub update_time: Option<String>,
    /// The latest entry of the log for this source, if startpoint set it.
    #[serde(rename = "setBy")]
    pub set_by: Option<SetBy>,
}

/// The answer of `query-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryStatusResponse {
    pub result: bool,
    pub msg: String,
    pub task: String,
    #[serde(rename = "metaStore")]
    pub meta_store: String,
    #[serde(rename = "metaSchema")]
    pub meta_schema: String,
    pub sources: Vec<SourceStatus>,
}

/// Reads the task's state; `selected` (`-s`) restricts the sources.
pub async fn query_status(
    state: &StateDir,
    task_name: &str,
    selected: &[String],
    deadline: Instant,
) -> QueryStatusResponse {
    let failed = |msg: String| QueryStatusResponse {
        result: false,
        msg,
        task: task_name.to_owned(),
        meta_store: String::new(),
        meta_schema: String::new(),
        sources: Vec::new(),
    };
    let (task, store) = match state.task(task_name) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return failed(format!(
                "task {task_name} has not been started with startpoint start-task (no record in \
                 {})",
                state.root().join("tasks").display()
            ));
        }
        Err(err) => return failed(err.to_string()),
    };
    let read: Result<(Vec<GlobalRow>, Vec<LogEntry>), StoreError> = match store {
        MetaStoreKind::Embedded => {
            let store = state.embedded_store(&task.meta_schema);
            store
                .read(&task.meta_schema, &task.name)
                .and_then(|rows| Ok((rows, store.log(&task.meta_schema, &task.name)?)))
        }
        MetaStoreKind::Downstream => match &task.target {
            Some(target) => {
                let store = DownstreamStore::new(target.clone());
                match store.read(&task.meta_schema, &task.name, deadline).await {
                    Ok(rows) => store
                        .log(&task.meta_schema, &task.name, deadline)
                        .await
                        .map(|log| (rows, log)),
                    Err(err) => Err(err),
                }
            }
            None => Err(StoreError::Invalid(format!(
                "task {task_name}: the recorded task file has no target-database"
            ))),
        },
    };
    let (rows, log) = match read {
        Ok(read) => read,
        Err(err) => {
            return QueryStatusResponse {
                meta_store: store.as_str().to_owned(),
                meta_schema: task.meta_schema.clone(),
                ..failed(err.to_string())
            };
        }
    };
    let mut sources = Vec::new();
    for instance in &task.instances {
        if !selected.is_empty() && !selected.contains(&instance.source_id) {
            continue;
        }
        let row = rows.iter().find(|r| r.source_id == instance.source_id);
        let entry = log.iter().find(|e| e.source_id == instance.source_id);
        sources.push(SourceStatus {
            result: true,
            msg: if row.is_none() {
                "no checkpoint stored".to_owned()
            } else {
                String::new()
            },
            source: instance.source_id.clone(),
            checkpoint: row.map(|r| (&r.stored.checkpoint).into()),
            safe_mode_exit_point: row.and_then(|r| r.stored.exit_point.as_ref().map(Into::into)),
            update_time: row.and_then(|r| r.update_time.clone()),
            set_by: entry.map(|e| SetBy {
                set_at: e.set_at.clone(),
                how: e.how.clone(),
                worker: e.worker.clone(),
                tool: e.tool.clone(),
            }),
        });
    }
    for id in selected {
        if task.instance(id).is_none() {
            sources.push(SourceStatus {
                result: false,
                msg: super::start::SOURCE_NOT_IN_TASK.to_owned(),
                source: id.clone(),
                checkpoint: None,
                safe_mode_exit_point: None,
                update_time: None,
                set_by: None,
            });
        }
    }
    QueryStatusResponse {
        result: sources.iter().all(|s| s.result),
        msg: String::new(),
        task: task.name.clone(),
        meta_store: store.as_str().to_owned(),
        meta_schema: task.meta_schema.clone(),
        sources,
    }
}
