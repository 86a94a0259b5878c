//! The README's walkthroughs run as written: each `sh` block of a walkthrough section, in
//! order, as one bash script (`set -euo pipefail`) from the repository's root, with the binary
//! under test first on the `PATH`. Each walkthrough starts and stops its own private MariaDB
//! servers with `scripts/try-mariadb.sh`; what a user would see is checked here.

use std::path::Path;
use std::process::Command;

/// The `sh` blocks of the README section whose heading starts with `### {number}.`.
fn walkthrough(number: u32) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let heading = format!("### {number}. ");
    let start = readme.find(&heading).expect("the walkthrough's heading");
    let rest = &readme[start + heading.len()..];
    let end = rest
        .find("\n## ")
        .min(rest.find("\n### "))
        .unwrap_or(rest.len());
    let section = &rest[..end];
    // Servers a failed walkthrough leaves behind are stopped on the way out.
    let mut script = String::from(
        "set -euo pipefail\n\
         trap 'for d in \"$TMPDIR\"/startpoint-try-*; do [ -e \"$d/.startpoint-try\" ] && \
         scripts/try-mariadb.sh stop \"$d\"; done; true' EXIT\n",
    );
    let mut inside = false;
    for line in section.lines() {
        match (inside, line) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, line) => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(
        script.lines().count() > 3,
        "walkthrough {number} has no sh block"
    );
    script
}

/// Runs walkthrough `number`; its stdout and stderr.
fn run(number: u32) -> (String, String) {
    let binary = Path::new(env!("CARGO_BIN_EXE_startpoint"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(walkthrough(number))
        .env("TMPDIR", tmp.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PATH", path)
        .env_remove("MYSQL_PWD")
        .env_remove("STARTPOINT_HOME")
        .env_remove("RUST_LOG")
        .env(
            "XDG_CACHE_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("walkthrough-cache"),
        )
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "walkthrough {number} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

#[test]
fn walkthrough_1_finds_the_start_point_from_a_server_and_from_files() {
    let (stdout, _) = run(1);
    let answers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("mysql-bin."))
        .collect();
    assert!(answers.len() >= 2, "{stdout}");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert!(stdout.contains("\"status\": \"InRange\""), "{stdout}");
}

#[test]
fn walkthrough_2_starts_moves_and_exports_a_dm_task() {
    let (stdout, stderr) = run(2);
    assert!(
        stdout.contains("\"syncerBinlog\": \"(mysql-bin."),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"taskName\": \"try\"") && stdout.contains("\"taskStatus\": \"Stopped\""),
        "{stdout}"
    );
    assert!(stderr.contains("safe mode until"), "{stderr}");
    assert!(stdout.trim_end().ends_with('1'), "one upsert: {stdout}");
}

#[test]
fn walkthrough_3_hands_the_start_point_to_a_replica_pitr_and_debezium() {
    let (stdout, _) = run(3);
    let rows = "1\tchanged after T2\n2\tbefore T1\n3\tafter T1\n";
    assert_eq!(
        stdout.matches(rows).count(),
        2,
        "replica and PITR:\n{stdout}"
    );
    assert!(stdout.contains("\"offsets\""), "{stdout}");
}
