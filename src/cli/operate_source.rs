//! `startpoint operate-source create|show|stop`: DM source configs kept in the state directory.
//! Output is DM's JSON; passwords never appear.

use startpoint::task::dm::default_worker;
use startpoint::task::operate;
use startpoint::task::state::StateDir;

use super::args::{GlobalArgs, OperateSourceCommand};
use super::print_dm;

pub(super) fn run(command: &OperateSourceCommand, global: &GlobalArgs) -> anyhow::Result<u8> {
    let state = StateDir::locate(global.state_dir.clone())?;
    let worker = default_worker();
    let response = match command {
        OperateSourceCommand::Create { source_files } => {
            let (response, warnings) = operate::create(&state, source_files, &worker);
            for warning in &warnings {
                say!("warning: {warning}");
            }
            response
        }
        OperateSourceCommand::Show => operate::show(&state, &global.sources, &worker),
        OperateSourceCommand::Stop { source_id } => operate::stop(&state, source_id, &worker),
    };
    print_dm(&response, response.result)
}
