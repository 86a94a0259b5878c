//! The repository stands on its own: no tracked file refers to a path outside it, so a fresh
//! clone with nothing beside it builds, tests and runs its examples (issue 28).

use std::path::Path;
use std::process::Command;

/// What a tracked file may not say: the old sibling corpus, or an absolute path into someone's
/// home or workspace.
const OUTSIDE: &[&str] = &["../shared", "/work/", "/home/", "/root/", "/Users/"];

/// Every `../…` that starts a path (not `a/../b`) and climbs above the repository's root when
/// read from the file's own directory: how many `../` it has, against the file's depth.
fn climbs_out(line: &str, depth: usize) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(found) = line[i..].find("../") {
        let at = i + found;
        let starts_path = at == 0 || {
            let before = bytes[at - 1];
            !(before.is_ascii_alphanumeric() || matches!(before, b'_' | b'.' | b'/' | b'-'))
        };
        let mut end = at;
        let mut climbs = 0;
        while line[end..].starts_with("../") {
            climbs += 1;
            end += 3;
        }
        if starts_path && climbs > depth {
            return true;
        }
        i = end;
    }
    false
}

#[test]
fn tracked_files_refer_only_inside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files: {listed:?}");
    let files: Vec<&str> = std::str::from_utf8(&listed.stdout)
        .expect("UTF-8 names")
        .split('\0')
        .filter(|name| !name.is_empty())
        .collect();
    assert!(files.len() > 100, "only {} tracked files", files.len());
    let mut found = Vec::new();
    for name in &files {
        let Ok(bytes) = std::fs::read(root.join(name)) else {
            continue; // deleted in the work tree, not yet committed
        };
        if bytes.iter().take(8192).any(|&b| b == 0) || *name == "tests/repository.rs" {
            continue; // a binlog or another binary file, or this file's own examples
        }
        let text = String::from_utf8_lossy(&bytes);
        let depth = name.matches('/').count();
        for (number, line) in text.lines().enumerate() {
            if OUTSIDE.iter().any(|outside| line.contains(outside)) || climbs_out(line, depth) {
                found.push(format!("{name}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "tracked files refer outside the repository:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_climb_is_counted_from_the_files_own_directory() {
    assert!(climbs_out("see ../shared/x", 0));
    assert!(climbs_out("\"../../x\"", 1));
    assert!(!climbs_out("\"../../x\"", 2));
    assert!(!climbs_out("a/../../b", 0), "not the start of a path");
    assert!(!climbs_out("[SEMANTICS](../docs/SEMANTICS.md)", 1));
    assert!(climbs_out("(../../docs/x.md)", 1));
}
