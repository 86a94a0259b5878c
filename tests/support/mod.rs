//! A tiny harness for tests that run the real `startpoint` binary.

// Limits and measures the binary's process with libc (setrlimit, wait4).
#![allow(unsafe_code)]

use std::process::Command;

/// What one run of the binary printed and returned.
#[derive(Debug)]
pub(crate) struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub(crate) fn assert_success(&self) {
        self.assert_code(0);
    }

    /// The run ended by itself with exit status `code`.
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// stdout as one JSON document.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The field at JSON pointer `pointer` (`/files/0/why/code`) of stdout is `expected`.
    #[track_caller]
    pub(crate) fn assert_json(&self, pointer: &str, expected: impl Into<serde_json::Value>) {
        let document = self.json();
        let expected = expected.into();
        assert_eq!(
            document.pointer(pointer),
            Some(&expected),
            "{pointer} in:\n{document:#}"
        );
    }

    /// stderr says `text`.
    #[track_caller]
    pub(crate) fn assert_stderr_has(&self, text: &str) {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
    }
}

/// Runs `startpoint ARGS` from the project root, without inheriting `STARTPOINT_HOME`.
pub(crate) fn startpoint(args: &[&str]) -> Output {
    startpoint_env(args, &[])
}

/// Runs `startpoint ARGS` with extra environment variables.
pub(crate) fn startpoint_env(args: &[&str], env: &[(&str, &str)]) -> Output {
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
pub(crate) struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    pub(crate) fn new() -> Scene {
        Scene {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// A path inside the scene.
    pub(crate) fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// The state directory commands get as `--state-dir`.
    pub(crate) fn state(&self) -> String {
        self.path("state").display().to_string()
    }

    /// Writes a file into the scene and returns its path.
    pub(crate) fn file(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a scene file");
        path.display().to_string()
    }

    /// Runs `startpoint --state-dir STATE ARGS`.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Runs `startpoint --state-dir STATE ARGS` with extra environment variables.
    pub(crate) fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let state = self.state();
        let mut all = vec!["--state-dir", state.as_str()];
        all.extend_from_slice(args);
        startpoint_env(&all, env)
    }

    /// `operate-source create` of a source file with `text`, which must succeed.
    pub(crate) fn create_source(&self, name: &str, text: &str) {
        let file = self.file(name, text);
        self.run(&["operate-source", "create", &file])
            .assert_success();
    }
}

/// The binary as a `Command` not yet run, from the project root, with a summary cache of its
/// own and without `STARTPOINT_HOME`: for a test that spawns, kills or times a run. Such a
/// run may outlive any guard, so its cache lives under cargo's `target/tmp` (which `cargo
/// clean` takes) rather than in a directory removed on drop.
pub(crate) fn command() -> Command {
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

/// What a run under [`bounded`] came to: its output, and what it cost.
#[derive(Debug)]
pub(crate) struct Bounded {
    pub output: Output,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Its peak resident set size (the kernel's `ru_maxrss` for this one child).
    pub peak_rss_kib: u64,
    pub elapsed: std::time::Duration,
    /// It was still running at the wall clock limit and was killed.
    pub timed_out: bool,
}

/// The address space a bounded run may map: far above what startpoint needs (a runtime's
/// threads and allocator arenas reserve a few hundred MiB), far below an unbounded read.
pub(crate) const BOUNDED_ADDRESS_SPACE: u64 = 4 << 30;
/// The resident memory every bad-input run must stay under.
pub(crate) const BOUNDED_RSS_KIB: u64 = 256 * 1024;

/// Runs `startpoint ARGS` under an address-space limit and a wall clock limit (`wall`; killed
/// past it), and reports its peak RSS: a bad input must end in a clear error, not a hang, a
/// crash or a machine's worth of memory.
pub(crate) fn bounded(args: &[&str], wall: std::time::Duration) -> Bounded {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let mut command = command();
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: BOUNDED_ADDRESS_SPACE,
                rlim_max: BOUNDED_ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = std::time::Instant::now();
    // Reaped below by wait4, which also gives its rusage (Child::wait would not).
    #[allow(clippy::zombie_processes)]
    let mut child = command.spawn().expect("run the startpoint binary");
    let pid = child.id() as libc::pid_t;
    let pipe = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = from.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = pipe(Box::new(child.stdout.take().expect("stdout")));
    let stderr = pipe(Box::new(child.stderr.take().expect("stderr")));
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: plain system call on our own child, with valid pointers.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            break;
        }
        assert!(done == 0, "wait4: {}", std::io::Error::last_os_error());
        if started.elapsed() > wall {
            timed_out = true;
            // SAFETY: our own child, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::wait4(pid, &mut status, 0, &mut usage);
            }
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (
            None,
            libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        )
    };
    Bounded {
        output: Output {
            code,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        },
        signal,
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        elapsed,
        timed_out,
    }
}

impl Bounded {
    /// Ended by itself within the limit, without a panic (101), an abort (134) or a signal,
    /// with a peak RSS under [`BOUNDED_RSS_KIB`].
    #[track_caller]
    pub(crate) fn assert_contained(&self) {
        let show = || {
            format!(
                "code {:?}, signal {:?}, {:?}, peak RSS {} KiB\nstdout:\n{}\nstderr:\n{}",
                self.output.code,
                self.signal,
                self.elapsed,
                self.peak_rss_kib,
                self.output.stdout,
                self.output.stderr
            )
        };
        assert!(!self.timed_out, "still running at the limit: {}", show());
        assert!(self.signal.is_none(), "ended by a signal: {}", show());
        assert!(
            !matches!(self.output.code, Some(101 | 134)),
            "panicked or aborted: {}",
            show()
        );
        assert!(
            self.peak_rss_kib < BOUNDED_RSS_KIB,
            "peak RSS over the bound: {}",
            show()
        );
    }

    /// [`Bounded::assert_contained`], and failed with a message on stderr (or in the JSON reply
    /// on stdout) that contains every one of `words`.
    #[track_caller]
    pub(crate) fn assert_refused_with(&self, words: &[&str]) {
        self.assert_contained();
        assert_ne!(self.output.code, Some(0), "{:?}", self.output);
        let said = format!("{}{}", self.output.stdout, self.output.stderr);
        for word in words {
            assert!(said.contains(word), "no {word:?} in: {said}");
        }
    }
}
