//! The `startpoint` command: parses arguments, calls the library, prints the result.
//! Everything that decides an answer lives in the library (`src/lib.rs`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
