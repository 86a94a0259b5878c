//! `startpoint query-status [TASK | TASK.yaml] [--more]`: dmctl's reply, from the stored
//! checkpoints (`startpoint::task::status`).

use startpoint::task::state::StateDir;
use startpoint::task::status::{StatusReply, query_status, task_name_of};

use super::args::{GlobalArgs, QueryStatusArgs};
use super::{print_dm, runtime};

pub(super) fn run(args: &QueryStatusArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let state = StateDir::locate(global.state_dir.clone())?;
    let deadline = tokio::time::Instant::now() + global.rpc_timeout;
    let tls = global.tls_files();
    let default_tls = (!tls.is_empty()).then_some(&tls);
    let name = args.task.as_deref().map(|arg| {
        let (name, unread) = task_name_of(arg);
        if let Some(why) = unread {
            say!("warning: {arg}: not read as a task file ({why}); taken as the task's name");
        }
        name
    });
    let reply = runtime()?.block_on(query_status(
        &state,
        name.as_deref(),
        &global.sources,
        args.more,
        default_tls,
        deadline,
    ));
    match &reply {
        StatusReply::Tasks(list) => print_dm(list, reply.ok()),
        StatusReply::Full(full) => print_dm(full, reply.ok()),
    }
}
