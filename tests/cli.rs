//! The command line on the real binary: dmctl's flags, help, and honest refusals.

use crate::support;

use startpoint::start_time::format_instant;

use startpoint::testkit::fixtures;
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
        "export-checkpoint",
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

/// `-V` says what dmctl's says of itself: the release, the commit, the build time, and here
/// the DM whose behaviour is followed.
#[test]
fn version_flag_prints_the_version_commit_build_time_and_dm() {
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    for flag in ["-V", "--version"] {
        let out = startpoint(&[flag]);
        out.assert_success();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines[0],
            format!("startpoint {}", env!("CARGO_PKG_VERSION"))
        );
        let commit = lines[1]
            .strip_prefix("Git Commit Hash: ")
            .expect("a commit line");
        match &head {
            Some(head) => assert_eq!(commit, head),
            None => assert!(commit == "unknown" || commit.len() == 40, "{commit}"),
        }
        let built = lines[2]
            .strip_prefix("UTC Build Time: ")
            .expect("a build time line");
        assert!(
            chrono::NaiveDateTime::parse_from_str(built, "%Y-%m-%d %H:%M:%S").is_ok(),
            "{built}"
        );
        assert_eq!(
            lines[3],
            "DM Behaviour: tiflow v9.0.0-beta.1-162-gc7b2588ef6"
        );
    }
}

/// The mysql client's flags name a live server: with local files they are a usage error
/// (exit 2), and a source is still required.
#[test]
fn client_flags_are_refused_with_local_files() {
    for args in [
        &["--binlog-dir", "testdata", "-u", "repl"][..],
        &["--relay-dir", "testdata", "-p"],
        &["--binlog-dir", "testdata", "--host", "127.0.0.1"],
        &["--url", "mysql://repl@127.0.0.1:1", "--user", "x"],
        &["-u", "repl"],
    ] {
        let out = startpoint(
            &[
                &["resolve-position", "--start-time", "2021-10-21 00:01:00"],
                args,
            ]
            .concat(),
        );
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
    }
}

/// Every line on stderr has one form, cargo's: `error: `, `warning: ` or `note: `, or an
/// indented continuation; for successes, failures, a too-late time and `--emit`.
#[test]
fn stderr_lines_follow_one_style() {
    let dir = "testdata/mariadb/binlog";
    let runs: [&[&str]; 6] = [
        &[
            "resolve-position",
            "--binlog-dir",
            dir,
            "--start-time",
            "2000-01-01T00:00:00Z",
        ],
        &[
            "resolve-position",
            "--binlog-dir",
            dir,
            "--start-time",
            "2100-01-01T00:00:00Z",
        ],
        &[
            "resolve-position",
            "--binlog-dir",
            "no/such/dir",
            "--start-time",
            "2000-01-01 00:00:00",
        ],
        &[
            "resolve-position",
            "--binlog-dir",
            dir,
            "--start-time",
            "2000-01-01T00:00:00Z",
            "--emit",
            "dm",
        ],
        &["list-units", "no/such/file"],
        &["--master-addr", "127.0.0.1:8261", "start-task", "task.yaml"],
    ];
    for args in runs {
        let out = startpoint(args);
        assert!(!out.stderr.is_empty() || out.code == Some(0), "{args:?}");
        for line in out.stderr.lines().filter(|l| !l.is_empty()) {
            assert!(
                ["error: ", "warning: ", "note: ", "  "]
                    .iter()
                    .any(|p| line.starts_with(p)),
                "{args:?}: {line:?}"
            );
        }
    }
}

/// Flags shared by several subcommands are in the help of those that use them only; given
/// to another, or twice, they are usage errors (exit 2), never ignored.
#[test]
fn shared_flags_belong_to_the_subcommands_that_use_them() {
    let help = |sub: &str| startpoint(&[sub, "--help"]).stdout;
    let resolve = help("resolve-position");
    assert!(resolve.contains("--rpc-timeout") && resolve.contains("--ssl-ca"));
    assert!(!resolve.contains("--state-dir") && !resolve.contains("--source <ID>"));
    let units = help("list-units");
    for flag in [
        "--rpc-timeout",
        "--ssl-ca",
        "--state-dir",
        "--source",
        "--secret-key-path",
    ] {
        assert!(!units.contains(flag), "list-units --help shows {flag}");
    }
    let start = help("start-task");
    for flag in [
        "--rpc-timeout",
        "--ssl-ca",
        "--state-dir",
        "--source",
        "--secret-key-path",
    ] {
        assert!(start.contains(flag), "start-task --help lacks {flag}");
    }
    let time = ["--start-time", "2021-10-21 00:01:00"];
    let out = startpoint(
        &[
            &["-s", "foo", "resolve-position", "--binlog-dir", "testdata"][..],
            &time,
        ]
        .concat(),
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("-s/--source means nothing to resolve-position"),
        "{}",
        out.stderr
    );
    let out = startpoint(&[
        "--state-dir",
        "/tmp",
        "list-units",
        "testdata/mariadb/binlog",
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let out = startpoint(&["--rpc-timeout", "5s", "query-status", "--rpc-timeout", "6s"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("given both before and after"),
        "{}",
        out.stderr
    );
    // Either side works where the flag belongs.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    for args in [
        &["--state-dir", state, "query-status"][..],
        &["query-status", "--state-dir", state],
    ] {
        let out = startpoint(args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
    }
    // Commands that only read do not create a mistyped state directory.
    let typo = dir.path().join("no-such-state");
    let typo = typo.to_str().unwrap();
    startpoint(&["query-status", "--state-dir", typo]);
    startpoint(&["query-status", "t", "--state-dir", typo]);
    startpoint(&["operate-source", "show", "--state-dir", typo]);
    startpoint(&["export-checkpoint", "t", "--sql", "--state-dir", typo]);
    assert!(!std::path::Path::new(typo).exists());
}

/// A socket that is not there is named as such, never as a host name that does not resolve.
#[test]
fn a_missing_socket_says_nothing_listens_there() {
    let out = startpoint(&[
        "resolve-position",
        "--start-time",
        "2021-10-21 00:01:00",
        "-S",
        "/nonexistent/mysqld.sock",
        "-u",
        "repl",
        "--no-defaults",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: localhost:/nonexistent/mysqld.sock: connecting: nothing listens"),
        "{}",
        out.stderr
    );
}

/// A password typed on the command line is refused (exit 2) and never repeated: clap's own
/// error would echo it, and `-pSECRET` would read as `-p -S ECRET`.
#[test]
fn a_password_on_the_command_line_is_refused_and_never_repeated() {
    let time = [
        "resolve-position",
        "--start-time",
        "2021-10-21 00:01:00",
        "--host",
        "127.0.0.1",
    ];
    for given in [
        &["-pHunter2secret"][..],
        &["--password=Hunter2secret"],
        &["-p", "Hunter2secret"],
        &["--ask-pass", "Hunter2secret"],
    ] {
        let out = startpoint(&[&time[..], given].concat());
        assert_eq!(out.code, Some(2), "{given:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("never taken on the command line"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("Hunter2") && !out.stdout.contains("Hunter2"));
    }
}

/// The licence `Cargo.toml` declares is the one `LICENSE` holds, and a changelog is kept.
#[test]
fn the_license_file_is_the_licence_cargo_toml_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.lines().any(|l| l == "license = \"Apache-2.0\""));
    let license = std::fs::read_to_string(root.join("LICENSE")).unwrap();
    let head: Vec<&str> = license.lines().take(3).map(str::trim).collect();
    assert_eq!(head[1..], ["Apache License", "Version 2.0, January 2004"]);
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    assert!(changelog.starts_with("# Changelog") && changelog.contains("## Unreleased"));
}

/// Completions and the man page come from the command line's own definition: every
/// subcommand is in them, and the page renders with `man`.
#[test]
fn completions_and_the_man_page_name_every_subcommand() {
    let subcommands = [
        "resolve-position",
        "list-units",
        "start-task",
        "operate-source",
        "query-status",
        "export-checkpoint",
        "index",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let out = startpoint(&["completions", shell]);
        out.assert_success();
        for name in subcommands {
            assert!(out.stdout.contains(name), "{shell}: no {name}");
        }
    }
    let page = startpoint(&["man"]);
    page.assert_success();
    assert!(
        page.stdout.starts_with(".ie"),
        "{}",
        &page.stdout[..80.min(page.stdout.len())]
    );
    assert!(page.stdout.contains(".TH startpoint 1"), "no .TH");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("startpoint.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let rendered = std::process::Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man (the man-db package) renders the page");
    assert!(rendered.status.success());
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        text.contains("NAME") && text.contains("startpoint"),
        "{text}"
    );
    for name in subcommands {
        assert!(text.contains(name), "the page lacks {name}");
    }
}

#[test]
fn config_file_is_refused_with_an_explanation() {
    let out = startpoint(&["--config", "dmctl.toml", "query-status", "test"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("--config dmctl.toml"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
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

#[test]
fn list_units_json_matches_the_fixture_ground_truth() {
    let expected = fixtures::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/mariadb"
    )))
    .unwrap();
    let out = startpoint(&["list-units", "--output", "json", "testdata/mariadb/binlog"]);
    out.assert_success();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let keys = [
        "schema_version",
        "binlog_name",
        "pos",
        "end_pos",
        "begin_time",
        "commit_time",
        "gtid",
        "binlog_gtid",
        "kind",
    ];
    for text in out.stdout.lines() {
        let at: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "key order in {text}");
    }
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), expected.units.len());
    for (line, want) in lines.iter().zip(&expected.units) {
        assert_eq!(line.as_object().unwrap().len(), keys.len());
        assert_eq!(line["schema_version"], 1);
        assert_eq!(line["binlog_name"], want.unit.file.as_str());
        assert_eq!(line["pos"], want.unit.pos);
        assert_eq!(line["end_pos"], want.unit.end_pos);
        assert_eq!(
            line["begin_time"],
            format_instant(want.unit.begin_ts * 1_000_000)
        );
        assert_eq!(
            line["commit_time"],
            format_instant(want.unit.commit_ts * 1_000_000)
        );
        assert_eq!(line["gtid"].as_str(), want.unit.gtid.as_deref());
        assert_eq!(line["binlog_gtid"], want.gtid_before.as_str());
        assert_eq!(line["kind"], want.unit.end.as_str());
    }
}

#[test]
fn list_units_text_is_a_table() {
    let out = startpoint(&["list-units", "testdata/mariadb/binlog/mysql-bin.000002"]);
    out.assert_success();
    let mut lines = out.stdout.lines();
    assert!(lines.next().unwrap().starts_with("FILE"));
    let first: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&first[..3], ["mysql-bin.000002", "371", "500"]);
    assert_eq!(first[first.len() - 3..], ["statement", "0-1-1", "-"]);
}

#[test]
fn list_units_reports_bad_input_by_name() {
    let out = startpoint(&["list-units", "testdata/public/apecloud/non-binlog"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("non-binlog is not a binlog file"),
        "{}",
        out.stderr
    );

    let out = startpoint(&["list-units", "no/such/file.000001"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no/such/file.000001"), "{}", out.stderr);

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        "testdata/mariadb/binlog/mysql-bin.000004",
        dir.path().join("mysql-bin.000004"),
    )
    .unwrap();
    std::fs::write(dir.path().join("README"), "not a binlog").unwrap();
    let out = startpoint(&["list-units", dir.path().to_str().unwrap()]);
    out.assert_success();
    assert!(
        out.stderr.contains("README left out (not a binlog file)"),
        "{}",
        out.stderr
    );

    let cut = dir.path().join("cut.000001");
    let bytes = std::fs::read("testdata/mariadb/binlog/mysql-bin.000002").unwrap();
    std::fs::write(&cut, &bytes[..1000]).unwrap();
    let out = startpoint(&["list-units", cut.to_str().unwrap()]);
    out.assert_success();
    assert!(
        out.stderr.contains("ends inside an event at offset"),
        "{}",
        out.stderr
    );
}
