//! The thin command layer: parse with clap, call the library, print, choose the exit status.

mod args;
mod list_units;
mod resolve_position;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit status of a command that failed; stderr says why and what to do.
const EXIT_FAILED: u8 = 1;
/// Exit status of `resolve-position` when the start time is after every transaction.
const EXIT_TOO_LATE: u8 = 2;

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        // A reader that went away (`… | head`) is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
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
        Command::ListUnits(args) => return list_units::run(&args),
        Command::ResolvePosition(args) => return resolve_position::run(&args, &cli.global),
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

/// A time in µs since the epoch as `2030-03-31 00:59:59.000000` (UTC), for text output.
fn format_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_else(|| format!("{us} µs"))
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
