//! Regenerates the MariaDB fixture corpus from a private server:
//!
//! ```text
//! cargo run --example gen-fixtures -- testdata/mariadb
//! ```
//!
//! Needs `mariadbd`, `mariadb-install-db` and `mariadb-binlog` (Debian: mariadb-server,
//! mariadb-client). See `startpoint::testkit::fixtures` for what the corpus promises.

use std::path::PathBuf;
use std::process::ExitCode;

use startpoint::testkit::fixtures;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: {}", fixtures::REGENERATE_COMMAND);
        return ExitCode::from(2);
    };
    match fixtures::generate(&out).await {
        Ok(expected) => {
            let bytes: u64 = expected.files.iter().map(|f| f.size).sum();
            println!(
                "{}: {} binlog files ({bytes} bytes), {} units, {} expected answers",
                out.display(),
                expected.files.len(),
                expected.units.len(),
                expected.cases.len()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("gen-fixtures: {err}");
            ExitCode::FAILURE
        }
    }
}
