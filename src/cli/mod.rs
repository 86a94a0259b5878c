//! The thin command layer: parse with clap, call the library, print, choose the exit status.

mod args;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit status of a command that failed; stderr says why and what to do.
const EXIT_FAILED: u8 = 1;

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("startpoint: {err:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    if let Some(addr) = &cli.global.master_addr {
        anyhow::bail!(
            "--master-addr {addr}: startpoint has no DM-master to talk to; the work a master and \
             its workers would do runs in this process. Run the same command without --master-addr."
        );
    }
    let (name, issue) = match cli.command {
        Command::ResolvePosition(_) => ("resolve-position", 4),
        Command::ListUnits(_) => ("list-units", 3),
        Command::StartTask(_) => ("start-task", 6),
        Command::OperateSource(_) => ("operate-source", 6),
        Command::QueryStatus(_) => ("query-status", 6),
    };
    eprintln!(
        "startpoint: `{name}` is not available in this build yet (it lands with issue {issue}); \
         nothing was read or written."
    );
    Ok(EXIT_FAILED)
}
