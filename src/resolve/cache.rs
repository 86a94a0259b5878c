//! File summaries kept between runs (SEMANTICS.md §6.2), in an embedded SQLite store shared by
//! concurrent runs (WAL journal, a busy timeout, one short transaction per write).
//!
//! Where: `--cache-dir DIR`, else `$XDG_CACHE_HOME/startpoint`, else `~/.cache/startpoint`; the
//! store is `summaries-v1.sqlite3` there. A summary is keyed by its file's source and name and is
//! returned only when the whole [`FileIdentity`] matches (size, first events, end), so a file
//! replaced under the same name and size (RESET MASTER, a restore) never matches an old summary.
//!
//! A cache is never an error and never changes an answer: one that is damaged, written by another
//! version or on another machine, or that cannot be written is not used at all, with a note
//! saying why and what to do; an entry whose file changed is read again and replaced.
//!
//! Costs: one indexed lookup per file considered; a few hundred bytes per file stored.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::progress::ReadProgress;
use super::summary::{FileIdentity, FileSummary};

/// The store's format; a change makes older stores someone else's.
const FORMAT: &str = "1";
const STORE: &str = "summaries-v1.sqlite3";

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Hit(Box<FileSummary>),
    /// A summary of a file of that name that is not this file (or no longer): not used.
    Stale,
    Miss,
}

/// The summary cache of one run.
#[derive(Debug)]
pub struct SummaryCache {
    path: Option<PathBuf>,
    conn: Mutex<Option<Connection>>,
    notes: Mutex<Vec<String>>,
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
            Ok(conn) => (Some(conn), None),
            Err(why) => (
                None,
                Some(format!(
                    "the summary cache {} is not used: {why}; answers are unchanged, only \
                     slower (remove it, or give --cache-dir another directory, or --no-cache)",
                    path.display()
                )),
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
        let Ok(guard) = self.conn.lock() else {
            return Lookup::Miss;
        };
        let Some(conn) = guard.as_ref() else {
            return Lookup::Miss;
        };
        let row = conn
            .query_row(
                "SELECT size, head, tail_offset, tail, summary FROM summaries \
                 WHERE source = ?1 AND name = ?2",
                params![identity.source, identity.name],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, String>(4)?,
                    ))
                },
            )
            .optional();
        match row {
            Ok(None) => Lookup::Miss,
            Ok(Some((size, head, tail_offset, tail, text))) => {
                let same = u64::try_from(size).ok() == Some(identity.size)
                    && head == identity.head
                    && u64::try_from(tail_offset).ok() == Some(identity.tail_offset)
                    && tail == identity.tail;
                match FileSummary::from_stored(&text) {
                    Some(summary) if same => Lookup::Hit(Box::new(summary)),
                    _ => Lookup::Stale,
                }
            }
            Err(error) => {
                drop(guard);
                self.give_up(&format!("reading it failed ({error})"));
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
        notes: &mut Vec<String>,
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
                notes.push(stale_note(&identity.name));
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
            "SELECT size, head, tail_offset, tail, summary FROM summaries \
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
                    },
                    FileSummary::from_stored(&row.get::<_, String>(4)?),
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
             summary, written_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%s','now'))",
            params![
                identity.source,
                identity.name,
                identity.size as i64,
                identity.head,
                identity.tail_offset as i64,
                identity.tail,
                summary.to_stored()
            ],
        );
        if let Err(error) = written {
            drop(guard);
            self.give_up(&format!("writing it failed ({error})"));
        }
    }

    /// Notes for the user about the cache, once each.
    pub fn take_notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|mut notes| std::mem::take(&mut *notes))
            .unwrap_or_default()
    }

    fn note(&self, note: String) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(note);
        }
    }

    /// Stops using the store for the rest of the run.
    fn give_up(&self, why: &str) {
        if let Ok(mut conn) = self.conn.lock() {
            *conn = None;
        }
        let path = self
            .path
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string());
        self.note(format!(
            "the summary cache {path} is not used any more in this run: {why}; answers are \
             unchanged"
        ));
    }
}

/// The note for a stored summary that is another file's.
pub fn stale_note(name: &str) -> String {
    format!(
        "the cached summary of {name} does not match the file any more (replaced or changed): \
         it is read again"
    )
}

/// Opens and checks the store; why not, in words.
fn open_store(dir: &Path, path: &Path) -> Result<Connection, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let conn = Connection::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| format!("cannot set a busy timeout: {e}"))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| format!("it is not a readable SQLite database ({e})"))?;
    if check != "ok" {
        return Err(format!("it is damaged ({check})"));
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
             summary TEXT NOT NULL,
             written_at INTEGER NOT NULL,
             PRIMARY KEY (source, name)
         );
         INSERT OR IGNORE INTO meta (key, value) VALUES ('format', '1');
         COMMIT;",
    )
    .map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        format!("it cannot be written ({e})")
    })?;
    let machine = machine_id();
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('machine', ?1)",
        params![machine],
    )
    .map_err(|e| format!("it cannot be written ({e})"))?;
    let meta = |key: &str| -> Result<String, String> {
        conn.query_row(
            "SELECT value FROM meta WHERE key = ?1",
            params![key],
            |row| row.get(0),
        )
        .map_err(|e| format!("its format cannot be read ({e})"))
    };
    let format = meta("format")?;
    if format != FORMAT {
        return Err(format!(
            "it was written by another version of startpoint (format {format}, this one reads {FORMAT})"
        ));
    }
    let theirs = meta("machine")?;
    if theirs != machine {
        return Err(format!(
            "it was written on another machine ({theirs}; this is {machine})"
        ));
    }
    Ok(conn)
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
        let notes = cache.take_notes().join("\n");
        assert!(
            notes.contains("not used") && notes.contains(STORE),
            "{notes}"
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
        assert!(cache.take_notes().join("").contains("another machine"));

        let conn = Connection::open(other.path().join(STORE)).unwrap();
        conn.execute(
            "UPDATE meta SET value = CASE key WHEN 'format' THEN '0' ELSE ?1 END",
            params![machine_id()],
        )
        .unwrap();
        drop(conn);
        let cache = SummaryCache::open(other.path());
        assert!(!cache.is_active());
        assert!(cache.take_notes().join("").contains("another version"));

        // A directory that is a file: cannot be created.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let cache = SummaryCache::open(&file.join("sub"));
        assert!(!cache.is_active());
        assert!(cache.take_notes().join("").contains("cannot create"));
    }
}
