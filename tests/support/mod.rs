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
        assert_eq!(self.code, Some(0), "stderr:\n{}", self.stderr);
    }
}

/// Runs `startpoint ARGS` from the project root, without inheriting `STARTPOINT_HOME`.
pub fn startpoint(args: &[&str]) -> Output {
    startpoint_env(args, &[])
}

/// Runs `startpoint ARGS` with extra environment variables.
#[allow(dead_code)]
pub fn startpoint_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_startpoint"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("STARTPOINT_HOME")
        .envs(env.iter().copied())
        .output()
        .expect("run the startpoint binary");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
