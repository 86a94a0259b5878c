//! File summaries kept between runs (SEMANTICS.md §6.2), in an embedded SQLite store shared by
//! concurrent runs (WAL journal, a busy timeout, one short transaction per write).
//!
//! Where: `--cache-dir DIR`, else `$XDG_CACHE_HOME/startpoint`, else `~/.cache/startpoint`; the
//! store is `summaries-v2.sqlite3` there. A summary is keyed by its file's source and name and is
//! returned only when the whole [`FileIdentity`] matches (size, first events, end, and for a
//! local file its device, inode, modification and change times), so a file replaced under the
//! same name and size (RESET MASTER, a restore) or edited in place never matches an old summary.
//!
//! A summary skips reading a file, so whoever can write the store can move an answer. The store
//! is used only when no one else can have written it, the way ssh's StrictModes trusts a key
//! file: its directory and the store (and SQLite's `-wal` and `-shm` beside it) must be owned by
//! the user running startpoint, writable by no group and no other user, and none may be a
//! symlink (the store is opened with `O_NOFOLLOW`); every directory above it must be root's or
//! the user's, and writable by every user only if sticky (`/tmp`). Directories startpoint
//! creates are 0700, the store 0600.
//!
//! A cache is never an error and never changes an answer: one that is damaged, written by another
//! version or on another machine, not provably ours, or that cannot be written is not used at
//! all, with a note naming it and saying what to do; an entry whose file changed is read again
//! and replaced.
//!
//! Costs: one indexed lookup per file considered; a few hundred bytes per file stored.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::explain::{CacheRefusal, Note};
use super::progress::ReadProgress;
use super::summary::{FileIdentity, FileStat, FileSummary};

/// The store's format; a change makes older stores someone else's.
const FORMAT: &str = "2";
const STORE: &str = "summaries-v2.sqlite3";

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A summary proven to be of this file.
    Hit(Box<FileSummary>),
    /// A summary of a file of that name that is not this file (or no longer): not used.
    Stale,
    /// No summary under that name.
    Miss,
}

/// The summary cache of one run.
#[derive(Debug)]
pub struct SummaryCache {
    path: Option<PathBuf>,
    conn: Mutex<Option<Connection>>,
    notes: Mutex<Vec<Note>>,
}

impl SummaryCache {
    /// The default directory: `$XDG_CACHE_HOME/startpoint`, else `~/.cache/startpoint`.
    pub fn default_dir() -> Option<PathBuf> {
        let from = |var: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        from("XDG_CACHE_HOME")
            .map(|d| d.join("startpoint"))
            .or_else(|| from("HOME").map(|h| h.join(".cache").join("startpoint")))
    }

    /// No cache (`--no-cache`): nothing read, nothing written.
    pub fn disabled() -> SummaryCache {
        SummaryCache {
            path: None,
            conn: Mutex::new(None),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// The cache in `dir`, created when missing. Never fails: a store that cannot be used is not
    /// used, and [`SummaryCache::take_notes`] says why.
    pub fn open(dir: &Path) -> SummaryCache {
        let path = dir.join(STORE);
        let (conn, note) = match open_store(dir, &path) {
            Ok(conn) => {
                tracing::debug!("summary cache: using {}", path.display());
                (Some(conn), None)
            }
            Err(why) => (
                None,
                Some(Note::CacheNotUsed {
                    store: path.display().to_string(),
                    why,
                }),
            ),
        };
        SummaryCache {
            path: Some(path),
            conn: Mutex::new(conn),
            notes: Mutex::new(note.into_iter().collect()),
        }
    }

    /// Where the store is, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether summaries are read and written.
    pub fn is_active(&self) -> bool {
        self.conn.lock().is_ok_and(|c| c.is_some())
    }

    /// The summary stored for `identity`'s file, when it is this file's.
    pub fn get(&self, identity: &FileIdentity) -> Lookup {
        let found = self.lookup(identity);
        tracing::debug!(
            "summary cache: {} of {}: {}",
            identity.name,
            identity.source,
            match &found {
                Lookup::Hit(_) => "a summary of this file, used",
                Lookup::Stale => "a summary of another file of that name, not used",
                Lookup::Miss => "no summary",
            }
        );
        found
    }

    fn lookup(&self, identity: &FileIdentity) -> Lookup {
        let Ok(guard) = self.conn.lock() else {
            return Lookup::Miss;
        };
        let Some(conn) = guard.as_ref() else {
            return Lookup::Miss;
        };
        let row = conn
            .query_row(
                "SELECT size, head, tail_offset, tail, stat, summary FROM summaries \
                 WHERE source = ?1 AND name = ?2",
                params![identity.source, identity.name],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                    ))
                },
            )
            .optional();
        match row {
            Ok(None) => Lookup::Miss,
            Ok(Some((size, head, tail_offset, tail, stat, text))) => {
                let same = u64::try_from(size).ok() == Some(identity.size)
                    && head == identity.head
                    && u64::try_from(tail_offset).ok() == Some(identity.tail_offset)
                    && tail == identity.tail
                    && stat_text(identity) == stat;
                match FileSummary::from_stored(&text) {
                    Some(summary) if same => Lookup::Hit(Box::new(summary)),
                    _ => Lookup::Stale,
                }
            }
            Err(error) => {
                drop(guard);
                self.give_up("reading", error);
                Lookup::Miss
            }
        }
    }

    /// The summary of `identity`'s file when it is proven to be this file's; a note in `notes`
    /// when the one stored under its name is another file's; what it covers counted in
    /// `progress` as read.
    pub fn proven(
        &self,
        identity: &FileIdentity,
        progress: Option<&ReadProgress>,
        notes: &mut Vec<Note>,
    ) -> Option<FileSummary> {
        match self.get(identity) {
            Lookup::Hit(summary) => {
                if let Some(progress) = progress {
                    progress.read(identity.size);
                    progress.file_done();
                }
                Some(*summary)
            }
            Lookup::Stale => {
                notes.push(Note::StaleSummary {
                    file: identity.name.clone(),
                });
                None
            }
            Lookup::Miss => None,
        }
    }

    /// What is stored for file `name` of `source`, whatever file it was taken from: the
    /// identity to check and the summary (`None` when unreadable).
    pub fn stored(&self, source: &str, name: &str) -> Option<(FileIdentity, Option<FileSummary>)> {
        let guard = self.conn.lock().ok()?;
        let conn = guard.as_ref()?;
        conn.query_row(
            "SELECT size, head, tail_offset, tail, stat, summary FROM summaries \
             WHERE source = ?1 AND name = ?2",
            params![source, name],
            |row| {
                Ok((
                    FileIdentity {
                        source: source.to_owned(),
                        name: name.to_owned(),
                        size: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(u64::MAX),
                        head: row.get(1)?,
                        tail_offset: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(u64::MAX),
                        tail: row.get(3)?,
                        stat: FileStat::from_stored(&row.get::<_, String>(4)?),
                    },
                    FileSummary::from_stored(&row.get::<_, String>(5)?),
                ))
            },
        )
        .optional()
        .ok()
        .flatten()
    }

    /// Stores `summary` as `identity`'s file's (replacing an older one).
    pub fn put(&self, identity: &FileIdentity, summary: &FileSummary) {
        let Ok(guard) = self.conn.lock() else {
            return;
        };
        let Some(conn) = guard.as_ref() else {
            return;
        };
        let written = conn.execute(
            "INSERT OR REPLACE INTO summaries (source, name, size, head, tail_offset, tail, \
             stat, summary, written_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, strftime('%s','now'))",
            params![
                identity.source,
                identity.name,
                identity.size as i64,
                identity.head,
                identity.tail_offset as i64,
                identity.tail,
                stat_text(identity),
                summary.to_stored()
            ],
        );
        if let Err(error) = written {
            drop(guard);
            self.give_up("writing", error);
        }
    }

    /// Drops what is stored for file `name` of `source`.
    pub fn forget(&self, source: &str, name: &str) {
        let Ok(guard) = self.conn.lock() else {
            return;
        };
        let Some(conn) = guard.as_ref() else {
            return;
        };
        if let Err(error) = conn.execute(
            "DELETE FROM summaries WHERE source = ?1 AND name = ?2",
            params![source, name],
        ) {
            drop(guard);
            self.give_up("writing", error);
        }
    }

    /// Notes for the user about the cache, once each.
    pub fn take_notes(&self) -> Vec<Note> {
        self.notes
            .lock()
            .map(|mut notes| std::mem::take(&mut *notes))
            .unwrap_or_default()
    }

    fn note(&self, note: Note) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(note);
        }
    }

    /// Stops using the store for the rest of the run.
    fn give_up(&self, doing: &'static str, error: impl std::fmt::Display) {
        if let Ok(mut conn) = self.conn.lock() {
            *conn = None;
        }
        let path = self
            .path
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string());
        self.note(Note::CacheGivenUp {
            store: path,
            doing,
            error: error.to_string(),
        });
    }
}

/// A local file's [`FileStat`] as stored; empty for a live server's file.
fn stat_text(identity: &FileIdentity) -> String {
    identity.stat.map(FileStat::to_stored).unwrap_or_default()
}

fn io_error(
    doing: &'static str,
    path: Option<&Path>,
) -> impl FnOnce(std::io::Error) -> CacheRefusal {
    let path = path.map(|p| p.display().to_string());
    move |e| CacheRefusal::Io {
        doing,
        path,
        error: e.to_string(),
    }
}

fn sqlite_error(problem: &'static str) -> impl FnOnce(rusqlite::Error) -> CacheRefusal {
    move |e| CacheRefusal::Sqlite {
        problem,
        error: e.to_string(),
    }
}

/// Opens and checks the store; why not, in words.
fn open_store(dir: &Path, path: &Path) -> Result<Connection, CacheRefusal> {
    // The path proven, through the directory's real path: what SQLite then opens.
    let path = &prove_ours(dir, path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn =
        Connection::open_with_flags(path, flags).map_err(sqlite_error("it cannot be opened"))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(sqlite_error("no busy timeout can be set on it"))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(sqlite_error("it is not a readable SQLite database"))?;
    if check != "ok" {
        return Err(CacheRefusal::Damaged { check });
    }
    // WAL lets concurrent runs read while one writes; it fails harmlessly where unsupported.
    let _ = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get::<_, String>(0));
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS summaries (
             source TEXT NOT NULL,
             name TEXT NOT NULL,
             size INTEGER NOT NULL,
             head BLOB NOT NULL,
             tail_offset INTEGER NOT NULL,
             tail BLOB NOT NULL,
             stat TEXT NOT NULL,
             summary TEXT NOT NULL,
             written_at INTEGER NOT NULL,
             PRIMARY KEY (source, name)
         );
         INSERT OR IGNORE INTO meta (key, value) VALUES ('format', '2');
         COMMIT;",
    )
    .map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        sqlite_error("it cannot be written")(e)
    })?;
    let machine = machine_id();
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('machine', ?1)",
        params![machine],
    )
    .map_err(sqlite_error("it cannot be written"))?;
    let meta = |key: &str| -> Result<String, CacheRefusal> {
        conn.query_row(
            "SELECT value FROM meta WHERE key = ?1",
            params![key],
            |row| row.get(0),
        )
        .map_err(sqlite_error("its format cannot be read"))
    };
    let format = meta("format")?;
    if format != FORMAT {
        return Err(CacheRefusal::Format {
            found: format,
            reads: FORMAT.to_owned(),
        });
    }
    let theirs = meta("machine")?;
    if theirs != machine {
        return Err(CacheRefusal::Machine {
            theirs,
            ours: machine,
        });
    }
    Ok(conn)
}

/// Makes `dir` (0700) and the store (0600) when missing, and proves that no one but this user
/// can have written them (the module documentation says what that takes); the store's path
/// through the directory's real path, which is what is then opened.
fn prove_ours(dir: &Path, path: &Path) -> Result<PathBuf, CacheRefusal> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_error("create", Some(dir)))?;
            std::fs::symlink_metadata(dir)
        }
        other => other,
    }
    .map_err(io_error("look at", Some(dir)))?;
    if meta.file_type().is_symlink() {
        return Err(CacheRefusal::SymlinkDir {
            dir: dir.display().to_string(),
        });
    }
    if !meta.is_dir() {
        return Err(CacheRefusal::NotADirectory {
            dir: dir.display().to_string(),
        });
    }
    trusted(dir, &meta)?;
    // Whoever can rename the directory can put another in its place: every directory above it
    // must be root's or this user's, and writable by every user only if sticky (as /tmp is,
    // where only an entry's owner may rename it). A group-writable one is let be: where each
    // user has a group of their own (umask 002), that is every directory they make.
    let real = dir.canonicalize().map_err(io_error("look at", Some(dir)))?;
    let me = rustix::process::geteuid().as_raw();
    for above in real.ancestors().skip(1) {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(above).map_err(io_error("look at", Some(above)))?;
        if meta.uid() != 0 && meta.uid() != me {
            return Err(CacheRefusal::AncestorNotOwned {
                dir: above.display().to_string(),
                uid: meta.uid(),
            });
        }
        if meta.mode() & 0o002 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(CacheRefusal::AncestorWritable {
                dir: above.display().to_string(),
                mode: meta.mode() & 0o7777,
            });
        }
    }
    let path = real.join(path.file_name().unwrap_or_default());
    let path = path.as_path();
    let nofollow = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nofollow.bits() as i32)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
                CacheRefusal::SymlinkStore
            }
            _ => io_error("open", None)(e),
        })?;
    let meta = file.metadata().map_err(io_error("look at", None))?;
    if let Some(kind) = crate::input::FileKind::of(&meta) {
        return Err(CacheRefusal::NotRegular {
            kind: kind.to_string(),
        });
    }
    trusted(path, &meta)?;
    // SQLite's journal beside the store: never a link, and as much ours as the store.
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        match std::fs::symlink_metadata(&side) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("look at", Some(&side))(e)),
            Ok(meta) if !meta.file_type().is_file() => {
                return Err(CacheRefusal::SideNotRegular {
                    side: side.display().to_string(),
                });
            }
            Ok(meta) => trusted(&side, &meta)?,
        }
    }
    Ok(path.to_path_buf())
}

/// Owned by this user and writable by no one else, or why not (with the fix).
fn trusted(path: &Path, meta: &std::fs::Metadata) -> Result<(), CacheRefusal> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(CacheRefusal::NotOwned {
            path: path.display().to_string(),
            uid: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "its group and every other user",
            (true, false) => "its group",
            _ => "every other user",
        };
        return Err(CacheRefusal::Writable {
            path: path.display().to_string(),
            who,
            mode,
        });
    }
    Ok(())
}

/// This machine: `/etc/machine-id`, else its host name.
fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gtid::ExecutedGtids;
    use crate::resolve::summary::UnitSpan;

    fn identity(tail: u8) -> FileIdentity {
        FileIdentity {
            source: "dir:/x".to_owned(),
            name: "mysql-bin.000001".to_owned(),
            size: 1000,
            head: vec![1, 2, 3],
            tail_offset: 900,
            tail: vec![tail],
            stat: Some(FileStat {
                dev: 1,
                ino: 2,
                mtime_ns: 3,
                ctime_ns: 4,
            }),
        }
    }

    fn summary() -> FileSummary {
        FileSummary {
            units: UnitSpan::default(),
            declared: None,
            end: Some(ExecutedGtids::None),
        }
    }

    #[test]
    fn a_summary_is_returned_only_for_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SummaryCache::open(dir.path());
        assert!(cache.is_active(), "{:?}", cache.take_notes());
        assert_eq!(cache.get(&identity(1)), Lookup::Miss);
        cache.put(&identity(1), &summary());
        assert_eq!(cache.get(&identity(1)), Lookup::Hit(Box::new(summary())));
        assert_eq!(cache.get(&identity(2)), Lookup::Stale);
        // Another run sees it too.
        let again = SummaryCache::open(dir.path());
        assert_eq!(again.get(&identity(1)), Lookup::Hit(Box::new(summary())));
        assert!(again.take_notes().is_empty());
    }

    #[test]
    fn damaged_foreign_and_unwritable_stores_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(STORE),
            b"this is not a database at all, just text",
        )
        .unwrap();
        let cache = SummaryCache::open(dir.path());
        assert!(!cache.is_active());
        cache.put(&identity(1), &summary());
        assert_eq!(cache.get(&identity(1)), Lookup::Miss);
        let notes = cache.take_notes();
        assert!(
            matches!(&notes[..], [Note::CacheNotUsed {
                store,
                why: CacheRefusal::Sqlite { .. },
            }] if store.ends_with(STORE)),
            "{notes:?}"
        );

        let other = tempfile::tempdir().unwrap();
        SummaryCache::open(other.path()).put(&identity(1), &summary());
        let conn = Connection::open(other.path().join(STORE)).unwrap();
        conn.execute(
            "UPDATE meta SET value = 'elsewhere' WHERE key = 'machine'",
            [],
        )
        .unwrap();
        drop(conn);
        let cache = SummaryCache::open(other.path());
        assert_eq!(cache.get(&identity(1)), Lookup::Miss);
        assert!(matches!(
            &cache.take_notes()[..],
            [Note::CacheNotUsed {
                why: CacheRefusal::Machine { .. },
                ..
            }]
        ));

        let conn = Connection::open(other.path().join(STORE)).unwrap();
        conn.execute(
            "UPDATE meta SET value = CASE key WHEN 'format' THEN '0' ELSE ?1 END",
            params![machine_id()],
        )
        .unwrap();
        drop(conn);
        let cache = SummaryCache::open(other.path());
        assert!(!cache.is_active());
        assert!(matches!(
            &cache.take_notes()[..],
            [Note::CacheNotUsed {
                why: CacheRefusal::Format { .. },
                ..
            }]
        ));

        // A directory that is a file: cannot be created.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let cache = SummaryCache::open(&file.join("sub"));
        assert!(!cache.is_active());
        assert!(matches!(
            &cache.take_notes()[..],
            [Note::CacheNotUsed {
                why: CacheRefusal::Io {
                    doing: "create",
                    ..
                },
                ..
            }]
        ));
    }
}
