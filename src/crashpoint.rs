//! Crash points for tests of what a killed run leaves behind.
//!
//! `STARTPOINT_CRASH_AT=<name>` makes the process abort, with no clean-up of any kind, when it
//! reaches the point called `name` (the names are listed in [`POINTS`]). The tests use it to
//! check that start-task killed at any point leaves the old checkpoint or the new one, never a
//! mix. Only a build with the `testkit` feature (the tests' build) has them: elsewhere a point
//! compiles to nothing, so the release binary carries no abort hook. With the feature and the
//! variable unset, a point costs one environment lookup.

/// Every crash point, in the order a start-task reaches them.
#[cfg(feature = "testkit")]
pub const POINTS: &[&str] = &[
    // Checkpoint tables created (downstream: committed; embedded: inside the transaction).
    "store-after-tables",
    // The first row of the new checkpoint written, the transaction open.
    "store-mid-write",
    // Every row written, the transaction not committed.
    "store-before-commit",
    // Committed; DM's other meta tables not dropped yet (downstream, --remove-meta).
    "store-after-commit",
    // The checkpoint stored; the task record (`tasks/<task>.json`) not saved.
    "state-before-task-record",
];

/// The environment variable naming the point to crash at.
#[cfg(feature = "testkit")]
pub const VARIABLE: &str = "STARTPOINT_CRASH_AT";

/// Aborts the process if `STARTPOINT_CRASH_AT` names `name`.
#[cfg(feature = "testkit")]
pub fn hit(name: &str) {
    debug_assert!(POINTS.contains(&name), "unknown crash point {name}");
    if std::env::var_os(VARIABLE).is_some_and(|v| v == name) {
        eprintln!("startpoint: {VARIABLE}={name}: aborting here");
        std::process::abort();
    }
}

/// Without the `testkit` feature a crash point is nothing.
#[cfg(not(feature = "testkit"))]
#[inline(always)]
pub(crate) fn hit(_name: &str) {}
