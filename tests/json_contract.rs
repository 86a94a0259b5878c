//! Every JSON document startpoint shapes itself is valid against its schema in `docs/schemas/`,
//! on the real binary's real output: each status of `resolve-position` (with `--explain`),
//! every line of `list-units`, `index`, and their failures; and `query-status`, whose shape is
//! dmctl's, described there too. DM's other replies (start-task, operate-source) are DM's own
//! shape and are checked byte for byte elsewhere.

use crate::support;

use serde_json::Value;
use support::startpoint;

const DIR: &str = "testdata/mariadb/binlog";

/// The schema `docs/schemas/<name>.schema.json`.
fn schema(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(format!("{name}.schema.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts that `document` is valid against schema `name`, naming each violation.
#[track_caller]
pub(crate) fn assert_valid(name: &str, document: &Value) {
    let validator = jsonschema::validator_for(&schema(name)).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{document:#}");
}

#[test]
fn resolve_position_json_matches_its_schema_for_every_status() {
    for (time, status) in [
        ("2030-03-31 01:30:00Z", "InRange"),
        ("2020-01-01 00:00:00Z", "BelowLowerBound"),
        ("2040-01-01 00:00:00Z", "AboveUpperBound"),
    ] {
        let out = startpoint(&[
            "resolve-position",
            "--binlog-dir",
            DIR,
            "--start-time",
            time,
            "--output",
            "json",
            "--explain",
        ]);
        out.assert_json("/status", status);
        out.assert_json("/schema_version", 1);
        assert_valid("resolve-position", &out.json());
    }
    let failed = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        "no/such/dir",
        "--start-time",
        "2030-03-31 01:30:00Z",
        "--output",
        "json",
    ]);
    failed.assert_code(1);
    assert_valid("resolve-position", &failed.json());
}

#[test]
fn list_units_lines_match_their_schema() {
    let out = startpoint(&["list-units", "--output", "json", DIR]);
    out.assert_success();
    let mut lines = 0;
    for line in out.stdout.lines() {
        let document: Value = serde_json::from_str(line).unwrap();
        assert_valid("list-units", &document);
        lines += 1;
    }
    assert!(lines > 300, "{lines} units");
}

#[test]
fn index_json_matches_its_schema() {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().display().to_string();
    for extra in [&["--cache-dir", cache.as_str()][..], &["--no-cache"]] {
        let out = startpoint(
            &[
                &["index", "--binlog-dir", DIR, "--output", "json"][..],
                extra,
            ]
            .concat(),
        );
        out.assert_success();
        assert_valid("index", &out.json());
    }
    let failed = startpoint(&["index", "--binlog-dir", "no/such/dir", "--output", "json"]);
    failed.assert_code(1);
    assert_valid("index", &failed.json());
}

/// A task never started gets DM-master's words (`extractSources`, dm/master/server.go), and
/// no task at all dmctl's empty summary.
#[test]
fn query_status_of_a_task_never_started_matches_its_schema() {
    let scene = support::Scene::new();
    let out = scene.run(&["query-status", "never-started"]);
    out.assert_code(1);
    out.assert_json("/msg", "task never-started has no source or not exist");
    assert_valid("query-status", &out.json());
    let none = scene.run(&["query-status"]);
    none.assert_code(0);
    assert_eq!(
        none.json(),
        serde_json::json!({"result": true, "msg": "", "tasks": []})
    );
    assert_valid("query-status", &none.json());
}
