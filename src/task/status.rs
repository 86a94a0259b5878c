//! `query-status TASK`: per source, the stored checkpoint, the safe-mode exit point, and when and
//! how startpoint set them (from the `<task>_startpoint_log` table), read from the meta store the
//! task's last start-task used.

use tokio::time::Instant;

use crate::remote::TlsFiles;

use crate::resolve::explain::SCHEMA_VERSION as QUERY_STATUS_SCHEMA_VERSION;

use super::dm::{QueryStatusResponse, SOURCE_NOT_IN_TASK, SetBy, SourceStatus};
use super::state::StateDir;
use super::store::{GlobalRow, LogEntry, StoreError};

/// Reads the task's state; `selected` (`-s`) restricts the sources.
pub async fn query_status(
    state: &StateDir,
    task_name: &str,
    selected: &[String],
    default_tls: Option<&TlsFiles>,
    deadline: Instant,
) -> QueryStatusResponse {
    let failed = |msg: String| QueryStatusResponse {
        schema_version: QUERY_STATUS_SCHEMA_VERSION,
        result: false,
        msg,
        task: task_name.to_owned(),
        meta_store: String::new(),
        meta_schema: String::new(),
        sources: Vec::new(),
    };
    let (task, kind) = match state.task(task_name) {
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
    let read = async {
        let store =
            state
                .checkpoint_store(&task, kind, default_tls)
                .map_err(|error| match error {
                    StoreError::NoTarget { task } => StoreError::Invalid(format!(
                        "task {task}: the recorded task file has no target-database"
                    )),
                    other => other,
                })?;
        let rows = store.read(&task.meta_schema, &task.name, deadline).await?;
        let log = store.log(&task.meta_schema, &task.name, deadline).await?;
        Ok::<(Vec<GlobalRow>, Vec<LogEntry>), StoreError>((rows, log))
    }
    .await;
    let (rows, log) = match read {
        Ok(read) => read,
        Err(err) => {
            return QueryStatusResponse {
                meta_store: kind.as_str().to_owned(),
                meta_schema: task.meta_schema.clone(),
                ..failed(err.to_string())
            };
        }
    };
    let sources = source_statuses(&task, selected, &rows, &log);
    QueryStatusResponse {
        schema_version: QUERY_STATUS_SCHEMA_VERSION,
        result: sources.iter().all(|s| s.result),
        msg: String::new(),
        task: task.name.clone(),
        meta_store: kind.as_str().to_owned(),
        meta_schema: task.meta_schema.clone(),
        sources,
    }
}

/// Per selected source (all when none is), its stored rows and the newest log entry; a selected
/// source the task lacks gets DM's entry for it.
fn source_statuses(
    task: &super::config::TaskConfig,
    selected: &[String],
    rows: &[GlobalRow],
    log: &[LogEntry],
) -> Vec<SourceStatus> {
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
                msg: SOURCE_NOT_IN_TASK.to_owned(),
                source: id.clone(),
                checkpoint: None,
                safe_mode_exit_point: None,
                update_time: None,
                set_by: None,
            });
        }
    }
    sources
}
