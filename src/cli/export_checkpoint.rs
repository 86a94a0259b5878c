//! `startpoint export-checkpoint TASK [--to URL | --sql]`: the embedded store's checkpoint into
//! DM's downstream tables (`startpoint::task::export`).

use startpoint::remote::ConnSettings;
use startpoint::task::dm::default_worker;
use startpoint::task::export::{ExportRequest, ExportTarget, export_checkpoint};
use startpoint::task::state::StateDir;

use super::args::{ExportCheckpointArgs, GlobalArgs};
use super::{print_dm, runtime};

pub(super) fn run(args: &ExportCheckpointArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let state = StateDir::locate(global.state_dir.clone())?;
    let task = super::task_arg(&args.task);
    let target = match (&args.to, args.sql) {
        (Some(url), _) => ExportTarget::Server(ConnSettings::from_url(
            url,
            std::env::var("MYSQL_PWD").ok(),
        )?),
        (None, true) => ExportTarget::Sql,
        (None, false) => ExportTarget::TaskTarget,
    };
    let request = ExportRequest {
        file_target: task
            .file_target
            .map(|target| (std::path::PathBuf::from(&args.task), target)),
        task: task.name,
        target,
        sources: global.sources.clone(),
        task_stopped: args.task_stopped,
        rpc_timeout: global.rpc_timeout,
        default_tls: global.default_tls(),
        worker: default_worker(),
    };
    let outcome = runtime()?.block_on(export_checkpoint(&state, &request));
    for warning in &outcome.warnings {
        say!("warning: {warning}");
    }
    if args.sql && !outcome.response.result {
        // stdout is for the script alone (it is often redirected to a file).
        say!("error: {}", outcome.response.msg);
        return Ok(1);
    }
    if args.sql {
        use std::io::Write;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for statement in &outcome.statements {
            writeln!(out, "{statement}")?;
        }
        out.flush()?;
        return Ok(0);
    }
    print_dm(&outcome.response, outcome.response.result)
}
