//! `startpoint start-task`: DM's command, run locally; prints DM's standard JSON.

use startpoint::task::dm::{StartTaskResponse, default_worker};
use startpoint::task::start::{StartTaskRequest, read_task_file, start_task};
use startpoint::task::state::StateDir;

use super::args::{GlobalArgs, StartTaskArgs};
use super::{print_dm, runtime};

pub(super) fn run(args: &StartTaskArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let state = StateDir::locate(global.state_dir.clone())?;
    let (task, text) = match read_task_file(&args.task_file) {
        Ok(read) => read,
        Err(error) => {
            return print(&StartTaskResponse::failed(error.to_string()));
        }
    };
    for warning in &task.warnings {
        say!("warning: {warning}");
    }
    let progress = std::sync::Arc::new(startpoint::resolve::ReadProgress::default());
    let request = StartTaskRequest {
        task,
        task_file: args.task_file.clone(),
        task_text: text,
        selected: global.sources.clone(),
        // DM takes an empty start time for none (tiflow `dm/master/server.go`, `StartTask`:
        // `req.StartTime == ""` keeps no start time for the task): a script's
        // `--start-time "$T"` with an empty `$T` starts from the checkpoint or meta.
        start_time: args.start_time.clone().filter(|t| !t.is_empty()),
        remove_meta: args.remove_meta,
        meta_store: args.meta_store.into(),
        task_stopped: args.task_stopped,
        dry_run: args.dry_run,
        rpc_timeout: global.rpc_timeout,
        default_tls: global.default_tls(),
        worker: default_worker(),
        basis: args.time_basis.into(),
        cache: Some(super::summary_cache(&args.cache)),
        assume: super::assumption(&args.assume),
        progress: Some(progress.clone()),
    };
    let bar = super::progress::follow(&progress);
    let outcome = runtime()?.block_on(start_task(&state, request));
    drop(bar);
    for note in &outcome.notes {
        say!("note: {note}");
    }
    if !outcome.statements.is_empty() {
        say!("note: would run:");
        for statement in &outcome.statements {
            say!("  {};", statement.replace('\n', "\n  "));
        }
    }
    print(&outcome.response)
}

fn print(response: &StartTaskResponse) -> anyhow::Result<u8> {
    print_dm(response, response.result)
}
