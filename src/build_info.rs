//! What a binary is: its version, the commit it was built from, when, and the DM whose
//! behaviour it follows (`--version`, and the tool recorded with each task decision).

use std::sync::OnceLock;

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from (40 hex digits), or `unknown` outside a checkout.
pub const GIT_COMMIT: &str = env!("STARTPOINT_GIT_COMMIT");
/// When the build script ran, in UTC (`SOURCE_DATE_EPOCH` when set).
pub const BUILD_TIME: &str = env!("STARTPOINT_BUILD_TIME");
/// The DM whose behaviour startpoint follows: tiflow's `dm/` at this commit, named as
/// `git describe` names it against tiflow's tags (DM-COMPAT.md cites the same commit).
pub const DM_FOLLOWED: &str = "tiflow v9.0.0-beta.1-162-gc7b2588ef6";

/// `--version`'s text after the program's name, in the shape dmctl prints its own.
pub fn version_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{VERSION}\nGit Commit Hash: {GIT_COMMIT}\nUTC Build Time: {BUILD_TIME}\n\
             DM Behaviour: {DM_FOLLOWED}"
        )
    })
}

/// `startpoint 0.1.0 (3f2a9c81d0e4)`: the version and the commit's first 12 digits.
pub fn tool_version() -> String {
    let commit = GIT_COMMIT.get(..12).unwrap_or(GIT_COMMIT);
    format!("startpoint {VERSION} ({commit})")
}
