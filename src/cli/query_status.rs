//! `startpoint query-status TASK`: the stored checkpoint and safe-mode exit point per source.

use startpoint::task::state::StateDir;
use startpoint::task::status::query_status;

use super::args::{GlobalArgs, QueryStatusArgs};
use super::{print_dm, runtime};

pub(super) fn run(args: &QueryStatusArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let state = StateDir::locate(global.state_dir.clone())?;
    let deadline = tokio::time::Instant::now() + global.rpc_timeout;
    let tls = global.tls_files();
    let default_tls = (!tls.is_empty()).then_some(&tls);
    let response = runtime()?.block_on(query_status(
        &state,
        &args.task,
        &global.sources,
        default_tls,
        deadline,
    ));
    print_dm(&response, response.result)
}
