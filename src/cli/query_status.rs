//! `startpoint query-status [TASK | TASK.yaml] [--more]`: dmctl's reply, from the stored
//! checkpoints (`startpoint::task::status`).

use startpoint::task::state::StateDir;
use startpoint::task::status::{StatusReply, query_status};

use super::args::{GlobalArgs, QueryStatusArgs};
use super::{print_dm, runtime};

pub(super) fn run(args: &QueryStatusArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let state = StateDir::locate(global.state_dir.clone())?;
    let deadline = tokio::time::Instant::now() + global.rpc_timeout;
    let default_tls = global.default_tls();
    let name = args.task.as_deref().map(|arg| super::task_arg(arg).name);
    let reply = runtime()?.block_on(query_status(
        &state,
        name.as_deref(),
        &global.sources,
        args.more,
        default_tls.as_ref(),
        deadline,
    ));
    match &reply {
        StatusReply::Tasks(list) => print_dm(list, reply.ok()),
        StatusReply::Full(full) => print_dm(full, reply.ok()),
    }
}
