//! A tiny harness for tests that run the real `startpoint` binary.

use std::process::Command;

/// What one run of the binary printed and returned.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn assert_success(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `startpoint ARGS` from the project root, without inheriting `STARTPOINT_HOME`.
pub fn startpoint(args: &[&str]) -> Output {
    startpoint_env(args, &[])
}

/// Runs `startpoint ARGS` with extra environment variables.
pub fn startpoint_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    // Each run starts with an empty summary cache of its own (a test that wants a warm one
    // passes --cache-dir), so that no run depends on what another left in ~/.cache.
    let cache = tempfile::tempdir().expect("a temporary cache directory");
    let out = command()
        .args(args)
        .env("XDG_CACHE_HOME", cache.path())
        .envs(env.iter().copied())
        .output()
        .expect("run the startpoint binary");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary state directory and the files a command reads, for the task commands.
pub struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    pub fn new() -> Scene {
        Scene {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// A path inside the scene.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// The state directory commands get as `--state-dir`.
    pub fn state(&self) -> String {
        self.path("state").display().to_string()
    }

    /// Writes a file into the scene and returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a scene file");
        path.display().to_string()
    }

    /// Runs `startpoint --state-dir STATE ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Runs `startpoint --state-dir STATE ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let state = self.state();
        let mut all = vec!["--state-dir", state.as_str()];
        all.extend_from_slice(args);
        startpoint_env(&all, env)
    }

    /// `operate-source create` of a source file with `text`, which must succeed.
    pub fn create_source(&self, name: &str, text: &str) {
        let file = self.file(name, text);
        self.run(&["operate-source", "create", &file])
            .assert_success();
    }
}

/// The binary as a `Command` not yet run, from the project root, with a summary cache of its
/// own and without `STARTPOINT_HOME`: for a test that spawns, kills or times a run. Such a
/// run may outlive any guard, so its cache lives under cargo's `target/tmp` (which `cargo
/// clean` takes) rather than in a directory removed on drop.
pub fn command() -> Command {
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "startpoint-test-cache-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let mut command = Command::new(env!("CARGO_BIN_EXE_startpoint"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("STARTPOINT_HOME")
        .env("XDG_CACHE_HOME", cache);
    command
}
