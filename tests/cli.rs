//! The command line on the real binary: dmctl's flags, help, and honest refusals.

mod support;

use support::startpoint;

#[test]
fn help_lists_every_command_and_dmctl_flag() {
    let out = startpoint(&["--help"]);
    out.assert_success();
    for word in [
        "resolve-position",
        "list-units",
        "start-task",
        "operate-source",
        "query-status",
        "--config",
        "--master-addr",
        "--rpc-timeout",
        "--source",
        "--ssl-ca",
        "--ssl-cert",
        "--ssl-key",
        "--state-dir",
        "--version",
        "[default: 10m]",
    ] {
        assert!(
            out.stdout.contains(word),
            "help lacks {word}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn every_subcommand_has_help() {
    for command in [
        "resolve-position",
        "list-units",
        "start-task",
        "operate-source",
        "query-status",
    ] {
        let out = startpoint(&[command, "--help"]);
        out.assert_success();
        assert!(out.stdout.contains("Usage: startpoint"), "{command}");
        assert!(out.stdout.contains("Global options"), "{command}");
    }
    let start_task = startpoint(&["start-task", "--help"]).stdout;
    for flag in ["--remove-meta", "--start-time", "--meta-store", "--dry-run"] {
        assert!(start_task.contains(flag), "start-task help lacks {flag}");
    }
}

#[test]
fn version_flag_prints_the_version() {
    for flag in ["-V", "--version"] {
        let out = startpoint(&[flag]);
        out.assert_success();
        assert_eq!(
            out.stdout.trim(),
            format!("startpoint {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn commands_not_built_yet_say_so_and_fail() {
    let cases: [&[&str]; 5] = [
        &[
            "resolve-position",
            "--binlog-dir",
            "testdata/mariadb/binlog",
            "--start-time",
            "2030-03-31 00:00:00",
        ],
        &["list-units", "testdata/mariadb/binlog"],
        &["start-task", "task.yaml"],
        &["operate-source", "show"],
        &["query-status", "test"],
    ];
    for args in cases {
        let out = startpoint(args);
        assert_eq!(out.code, Some(1), "{args:?}");
        assert!(
            out.stderr.contains("is not available in this build yet"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn master_addr_is_refused_with_an_explanation() {
    let out = startpoint(&["--master-addr", "127.0.0.1:8261", "query-status", "test"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no DM-master"), "{}", out.stderr);
    assert!(
        out.stderr.contains("without --master-addr"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_name_the_flag() {
    let out = startpoint(&["--rpc-timeout", "soon", "query-status", "t"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--rpc-timeout"), "{}", out.stderr);

    let out = startpoint(&["resolve-position", "--start-time", "2030-03-31 00:00:00"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--binlog-dir"), "{}", out.stderr);
}
