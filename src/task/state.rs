//! The state directory: what DM keeps in its master's etcd, kept in files.
//!
//! ```text
//! <state>/secret.key                 the key state files are sealed with (0600; see `secret`)
//! <state>/sources/<source-id>.yaml   source configs, as created, sealed (they hold passwords)
//! <state>/tasks/<task>.json          the task file of the last successful start-task and the
//!                                    meta store it used, in one sealed file
//! <state>/meta/<meta-schema>.sqlite3 the embedded checkpoint store (every name in a file name
//!                                    encoded by `file_stem`: none leaves its directory)
//! <state>/locks/<task>.lock          held while a start-task of the task runs
//! ```
//!
//! Located by `--state-dir`, else `$STARTPOINT_HOME`, else `$XDG_STATE_HOME/startpoint`, else
//! `~/.local/state/startpoint`. Files are replaced atomically (written beside, then renamed), so
//! a crash leaves the old or the new file, never half of one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::TaskConfig;
use super::secret::{SecretError, SecretKey, is_sealed};
use super::source::{SourceConfig, SourceConfigError};
use super::store::downstream::DownstreamStore;
use super::store::embedded::EmbeddedStore;
use super::store::{CheckpointStore, MetaStoreKind, StoreError};
use crate::remote::TlsFiles;

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "no state directory: give --state-dir or set STARTPOINT_HOME (neither XDG_STATE_HOME \
         nor HOME is set)"
    )]
    NoHome,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(Box<crate::input::InputError>),
    #[error("{0}")]
    Source(#[from] SourceConfigError),
    #[error("{0}")]
    Secret(#[from] SecretError),
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "another start-task of task {task} is running (it holds {}); waited {}; run again when \
         it has finished",
        path.display(),
        humantime::format_duration(*waited)
    )]
    Busy {
        task: String,
        path: PathBuf,
        waited: Duration,
    },
}

/// What `tasks/<task>.json` says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct TaskRecord {
    meta_store: String,
    task_file: String,
    saved_at: String,
    /// The task file's text; absent in records written before it moved in here, whose text
    /// is in `tasks/<task>.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_text: Option<String>,
}

/// The directory of startpoint's state.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A recorded task: its task file and the meta store its last start-task used.
pub type RecordedTask = (TaskConfig, MetaStoreKind);

impl StateDir {
    /// `explicit` (`--state-dir` or `$STARTPOINT_HOME`), else the XDG location.
    pub fn locate(explicit: Option<PathBuf>) -> Result<StateDir, StateError> {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = match explicit {
            Some(dir) => dir,
            None => match (env("XDG_STATE_HOME"), env("HOME")) {
                (Some(state), _) => PathBuf::from(state).join("startpoint"),
                (None, Some(home)) => PathBuf::from(home).join(".local/state/startpoint"),
                (None, None) => return Err(StateError::NoHome),
            },
        };
        Ok(StateDir { root })
    }

    pub fn at(root: PathBuf) -> StateDir {
        StateDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, name: &str) -> Result<PathBuf, StateError> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(dir)
    }

    /// The sub-directory `name` when it exists, for commands that only read: a mistyped
    /// `--state-dir` is not created by looking at it.
    fn existing_dir(&self, name: &str) -> Option<PathBuf> {
        Some(self.root.join(name)).filter(|dir| dir.is_dir())
    }

    /// Writes `bytes` to `path` atomically, readable by the owner only.
    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        let dir = path.parent().unwrap_or(&self.root);
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
        file.write_all(bytes).map_err(io(path))?;
        file.as_file().sync_all().map_err(io(path))?;
        file.persist(path).map_err(|e| StateError::Io {
            path: path.to_path_buf(),
            source: e.error,
        })?;
        Ok(())
    }

    /// The key files are sealed with, created on first use.
    fn key(&self) -> Result<SecretKey, StateError> {
        Ok(SecretKey::load_or_create(&self.root.join("secret.key"))?)
    }

    /// Writes `text` to `path` sealed.
    fn replace_sealed(&self, path: &Path, text: &str) -> Result<(), StateError> {
        let sealed = self.key()?.seal(&file_name(path), text)?;
        self.replace(path, sealed.as_bytes())
    }

    /// The text of a state file, opened if sealed, and whether it was.
    fn read_sealed(&self, path: &Path) -> Result<(String, bool), StateError> {
        // A sealed task record holds a task file (at most MAX_TEXT_BYTES) in base64.
        let contents =
            crate::input::read_text_capped(path, "a state file", 2 * crate::input::MAX_TEXT_BYTES)
                .map_err(|e| StateError::Input(Box::new(e)))?;
        if !is_sealed(&contents) {
            return Ok((contents, false));
        }
        Ok((self.key()?.open(path, &file_name(path), &contents)?, true))
    }

    /// A stored source config. One found in clear (stored by an earlier startpoint, or copied
    /// in by hand) is sealed in place once it parses.
    fn load_source(&self, path: &Path) -> Result<SourceConfig, StateError> {
        let (text, sealed) = self.read_sealed(path)?;
        let config = SourceConfig::parse(&path.display().to_string(), &text)
            .map_err(|e| StateError::Source(SourceConfigError::from(e)))?;
        if !sealed {
            // Best effort: a read-only state directory still reads.
            let _ = self.replace_sealed(path, &text);
        }
        Ok(config)
    }

    fn source_path(&self, id: &str) -> Result<PathBuf, StateError> {
        Ok(self.dir("sources")?.join(format!("{}.yaml", file_stem(id))))
    }

    /// Stores a source config (its text as given); `false` if the ID is taken.
    pub fn create_source(&self, config: &SourceConfig, text: &str) -> Result<bool, StateError> {
        let path = self.source_path(&config.source_id)?;
        if path.exists() {
            return Ok(false);
        }
        self.replace_sealed(&path, text)?;
        Ok(true)
    }

    /// The stored config of `id`.
    pub fn source(&self, id: &str) -> Result<Option<SourceConfig>, StateError> {
        let path = self.source_path(id)?;
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(self.load_source(&path)?))
    }

    /// Every stored source, by ID.
    pub fn sources(&self) -> Result<Vec<SourceConfig>, StateError> {
        let Some(dir) = self.existing_dir("sources") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                out.push(self.load_source(&path)?);
            }
        }
        out.sort_by(|a, b| a.source_id.cmp(&b.source_id));
        Ok(out)
    }

    /// Removes a stored source; `false` if there was none.
    pub fn remove_source(&self, id: &str) -> Result<bool, StateError> {
        let path = self.source_path(id)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The embedded store of `meta_schema`: `meta/<meta-schema>.sqlite3`, the name encoded
    /// (a meta schema of `../../x` or `/some/path` stays a file in `meta/`).
    pub fn embedded_store(&self, meta_schema: &str) -> EmbeddedStore {
        let meta = self.root.join("meta");
        let encoded = meta.join(format!("{}.sqlite3", file_stem(meta_schema)));
        // A store made before names were encoded, under a name that is one plain file name
        // (`dm.meta`, `méta`): kept where it is, so its checkpoints are not lost.
        // A name with a `%` is left out: `dm%2Emeta` would be the encoded name of `dm.meta`, and
        // two meta schemas would share a store; a name without one can be no encoded name.
        let plain = !meta_schema.is_empty()
            && meta_schema != "."
            && meta_schema != ".."
            && !meta_schema.contains(['/', '\0', '%']);
        let legacy = meta.join(format!("{meta_schema}.sqlite3"));
        if plain && legacy != encoded && !encoded.exists() && legacy.is_file() {
            return EmbeddedStore::at(legacy);
        }
        EmbeddedStore::at(encoded)
    }

    /// The store `kind` of `task`: the embedded one here, or the task's target database
    /// (connected with `default_tls` when its config has no `security`).
    pub(crate) fn checkpoint_store(
        &self,
        task: &TaskConfig,
        kind: MetaStoreKind,
        default_tls: Option<&TlsFiles>,
    ) -> Result<CheckpointStore, StoreError> {
        Ok(match kind {
            MetaStoreKind::Embedded => {
                CheckpointStore::Embedded(self.embedded_store(&task.meta_schema))
            }
            MetaStoreKind::Downstream => {
                let target = task.target.clone().ok_or_else(|| StoreError::NoTarget {
                    task: task.name.clone(),
                })?;
                CheckpointStore::Downstream(DownstreamStore::new(
                    target.with_default_tls(default_tls),
                ))
            }
        })
    }

    /// Records the task file and meta store of a successful start-task: one file, replaced
    /// atomically, so a crash leaves the old record or the new one.
    pub fn save_task(
        &self,
        task: &TaskConfig,
        task_file: &Path,
        text: &str,
        store: MetaStoreKind,
        saved_at: &str,
    ) -> Result<(), StateError> {
        let dir = self.dir("tasks")?;
        let record = TaskRecord {
            meta_store: store.as_str().to_owned(),
            task_file: task_file.display().to_string(),
            saved_at: saved_at.to_owned(),
            task_text: Some(text.to_owned()),
        };
        let json = serde_json::to_string_pretty(&record).unwrap_or_default();
        let stem = file_stem(&task.name);
        self.replace_sealed(&dir.join(format!("{stem}.json")), &json)?;
        // The task file of a record from before the text moved into it, in clear.
        let legacy = dir.join(format!("{stem}.yaml"));
        match std::fs::remove_file(&legacy) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&legacy)(e)),
            _ => Ok(()),
        }
    }

    /// The recorded task file of `name` and its meta store.
    pub fn task(&self, name: &str) -> Result<Option<(TaskConfig, MetaStoreKind)>, StateError> {
        let Some(dir) = self.existing_dir("tasks") else {
            return Ok(None);
        };
        let path = dir.join(format!("{}.json", file_stem(name)));
        if !path.exists() {
            return Ok(None);
        }
        let legacy = dir.join(format!("{}.yaml", file_stem(name)));
        self.task_record(&path, &legacy).map(Some)
    }

    /// Every recorded task (`query-status` alone), by name; a record that cannot be read is
    /// its error, in its place.
    pub fn tasks(&self) -> Result<Vec<Result<RecordedTask, StateError>>, StateError> {
        let Some(dir) = self.existing_dir("tasks") else {
            return Ok(Vec::new());
        };
        let listed = std::fs::read_dir(&dir).map_err(io(&dir))?;
        let mut paths: Vec<PathBuf> = listed
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        Ok(paths
            .iter()
            .map(|path| self.task_record(path, &path.with_extension("yaml")))
            .collect())
    }

    /// The record at `path`; `legacy` holds the task file of a record from before the text
    /// moved into it.
    fn task_record(
        &self,
        path: &Path,
        legacy: &Path,
    ) -> Result<(TaskConfig, MetaStoreKind), StateError> {
        let path = path.to_path_buf();
        let corrupt = |message: String| StateError::Corrupt {
            path: path.clone(),
            message,
        };
        let record: TaskRecord = serde_json::from_str(&self.read_sealed(&path)?.0)
            .map_err(|e| corrupt(e.to_string()))?;
        let text = match record.task_text {
            Some(text) => text,
            None => self.read_sealed(legacy)?.0,
        };
        let task =
            TaskConfig::parse(&record.task_file, &text).map_err(|e| corrupt(e.to_string()))?;
        let store = match record.meta_store.as_str() {
            "downstream" => MetaStoreKind::Downstream,
            _ => MetaStoreKind::Embedded,
        };
        Ok((task, store))
    }

    /// Takes the task's lock, waiting up to `wait` for another run to finish. The lock goes
    /// with the returned value (and with the process).
    pub fn lock_task(&self, task: &str, wait: Duration) -> Result<TaskLock, StateError> {
        let dir = self.dir("locks")?;
        let path = dir.join(format!("{}.lock", file_stem(task)));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        let started = std::time::Instant::now();
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(TaskLock { _file: file }),
                Err(rustix::io::Errno::WOULDBLOCK) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    return Err(StateError::Busy {
                        task: task.to_owned(),
                        path,
                        waited: started.elapsed(),
                    });
                }
                Err(e) => return Err(io(&path)(e.into())),
            }
        }
    }
}

/// A held task lock.
#[derive(Debug)]
pub struct TaskLock {
    _file: File,
}

/// The last component of a state file's path, bound to its sealed contents.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A name (task, source ID, meta schema) as one file name component: ASCII letters, digits, `-`
/// and `_` kept, every other byte `%XX`, so no name can leave its directory (`/`, `..`) or
/// collide with another name.
pub(crate) fn file_stem(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name that becomes a file name (task name, source ID, meta schema) is encoded the
    /// same way and stays one file in its directory: `meta-schema: "/some/path"` or `"../../x"`
    /// never makes the embedded store create `/some/path.sqlite3` or a file two levels above
    /// the state directory.
    #[test]
    fn no_name_leaves_its_directory_of_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path().join("state"));
        let meta = dir.path().join("state/meta");
        for name in [
            "/some/path",
            "../../x",
            "..",
            ".",
            "a/../../b",
            "x\0y",
            "",
            "dm_meta",
        ] {
            let store = state.embedded_store(name);
            assert_eq!(store.path().parent(), Some(meta.as_path()), "{name:?}");
            let stem = file_stem(name);
            assert!(
                !stem.contains(['/', '.', '\0']) && stem != "..",
                "{name:?} -> {stem:?}"
            );
            for (kind, path) in [
                ("sources", state.source_path(name).unwrap()),
                (
                    "tasks",
                    state.root().join("tasks").join(format!("{stem}.json")),
                ),
            ] {
                assert_eq!(
                    path.parent(),
                    Some(dir.path().join("state").join(kind).as_path()),
                    "{name:?}"
                );
            }
        }
        // A plain name keeps its file name; two names never share one.
        assert_eq!(file_stem("dm_meta"), "dm_meta");
        assert_ne!(file_stem("a/b"), file_stem("a%2Fb"));
        // The task lock too.
        let lock = state
            .lock_task("../../escaped", Duration::from_secs(1))
            .unwrap();
        drop(lock);
        assert!(!dir.path().join("escaped.lock").exists());
        assert!(
            dir.path()
                .join("state/locks/%2E%2E%2F%2E%2E%2Fescaped.lock")
                .exists()
        );
    }

    /// Every command that opens the downstream store (start-task, query-status) gets it here,
    /// with the global `--ssl-*` files when the task's config has no `security`, so a TLS-only
    /// target works for each of them alike.
    #[test]
    fn the_downstream_store_gets_the_default_tls_files_for_every_command() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::locate(Some(dir.path().to_path_buf())).unwrap();
        let text = "name: t\ntask-mode: incremental\ntarget-database:\n  host: 127.0.0.1\n  \
                    port: 4000\n  user: root\nmysql-instances:\n  - source-id: s1\n";
        let task = TaskConfig::parse("task.yaml", text).unwrap();
        let tls = TlsFiles {
            ca: Some(PathBuf::from("/etc/ssl/ca.pem")),
            ..TlsFiles::default()
        };
        let store = state
            .checkpoint_store(&task, MetaStoreKind::Downstream, Some(&tls))
            .unwrap();
        let downstream = store.downstream().expect("a downstream store");
        assert_eq!(downstream.settings.tls.as_ref(), Some(&tls));
        let embedded = state
            .checkpoint_store(&task, MetaStoreKind::Embedded, Some(&tls))
            .unwrap();
        assert!(embedded.downstream().is_none());
    }

    const SOURCE: &str = "source-id: s/1\nfrom: {host: h, user: u, password: pw}\n";

    #[test]
    fn sources_round_trip_privately() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path().join("state"));
        let config = SourceConfig::parse("s.yaml", SOURCE).unwrap();
        assert!(state.create_source(&config, SOURCE).unwrap());
        assert!(!state.create_source(&config, SOURCE).unwrap());
        assert_eq!(state.source("s/1").unwrap().unwrap().source_id, "s/1");
        assert_eq!(state.sources().unwrap().len(), 1);
        let path = state.source_path("s/1").unwrap();
        assert!(path.ends_with("s%2F1.yaml"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        // A source stored in clear is sealed when it is read.
        let plain = state.source_path("plain").unwrap();
        std::fs::write(&plain, SOURCE.replace("s/1", "plain")).unwrap();
        assert_eq!(state.source("plain").unwrap().unwrap().source_id, "plain");
        let stored = std::fs::read_to_string(&plain).unwrap();
        assert!(!stored.contains("pw"), "{stored}");
        assert_eq!(state.source("plain").unwrap().unwrap().source_id, "plain");
        assert!(state.remove_source("plain").unwrap());
        // Sealed: the password is not in the file, and the key is the owner's only.
        let stored = std::fs::read_to_string(&path).unwrap();
        assert!(
            !stored.contains("password") && !stored.contains("pw"),
            "{stored}"
        );
        let key = dir.path().join("state/secret.key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        assert!(state.remove_source("s/1").unwrap());
        assert!(!state.remove_source("s/1").unwrap());
        assert!(state.source("s/1").unwrap().is_none());
    }

    #[test]
    fn task_records_are_sealed_and_old_ones_still_read() {
        const TASK: &str = "name: t\ntask-mode: incremental\ntarget-database: {host: h, user: \
                            u, password: hunter2}\nmysql-instances:\n  - source-id: s\n";
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path().join("state"));
        let tasks = dir.path().join("state/tasks");
        // A record written before the text moved into it: the task file beside, in clear.
        std::fs::create_dir_all(&tasks).unwrap();
        std::fs::write(tasks.join("t.yaml"), TASK).unwrap();
        std::fs::write(
            tasks.join("t.json"),
            r#"{"meta_store": "downstream", "task_file": "t.yaml", "saved_at": "x"}"#,
        )
        .unwrap();
        let (task, store) = state.task("t").unwrap().unwrap();
        assert_eq!(
            (task.name.as_str(), store),
            ("t", MetaStoreKind::Downstream)
        );
        // Saving replaces both with one sealed record.
        state
            .save_task(
                &task,
                Path::new("t.yaml"),
                TASK,
                MetaStoreKind::Embedded,
                "y",
            )
            .unwrap();
        assert!(!tasks.join("t.yaml").exists());
        let stored = std::fs::read_to_string(tasks.join("t.json")).unwrap();
        assert!(!stored.contains("hunter2"), "{stored}");
        let (task, store) = state.task("t").unwrap().unwrap();
        assert_eq!((task.name.as_str(), store), ("t", MetaStoreKind::Embedded));
    }

    #[test]
    fn a_task_lock_excludes_a_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path().to_path_buf());
        let held = state.lock_task("t", Duration::ZERO).unwrap();
        let err = state
            .lock_task("t", Duration::from_millis(250))
            .unwrap_err();
        assert!(
            err.to_string().contains("another start-task of task t"),
            "{err}"
        );
        drop(held);
        state.lock_task("t", Duration::ZERO).unwrap();
    }
}
