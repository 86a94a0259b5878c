//! A directory of binlog files, in the order a server wrote them (SEMANTICS.md §2).
//!
//! - With an index (`<base>.index`, one file name per line, as servers and DM write them): the
//!   files it lists, in its order. Entries name a file by path; only the file name counts, and
//!   the file must be in the directory. A listed file that is missing was purged; one that is
//!   not a regular file (a FIFO, a device, a directory, a dangling symlink) is a gap too, named
//!   for what it is. A listed file that is not a binlog is left out with a note.
//! - Without an index: every file that starts with the binlog magic, ordered by base name and
//!   numeric suffix (`mysql-bin.000009` before `mysql-bin.000010`, and `.999999` before
//!   `.1000000`). Files of two different base names are two sequences: an error.
//! - Anything else in the directory (other files, sub-directories) is left out with a note.
//!
//! Costs: one directory listing and a 4-byte read per candidate file.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::input::{FileKind, not_regular, open_regular, read_text};

use crate::binlog::reader::BINLOG_MAGIC;

/// Why a directory could not be used as a binlog source.
#[derive(Debug, thiserror::Error)]
pub enum LocalSourceError {
    /// Listing the directory failed.
    #[error("{}: cannot read the directory: {source}", dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The directory's binlog index cannot be read.
    #[error("{}: cannot use its index: {source}", dir.display())]
    Index {
        /// The directory.
        dir: PathBuf,
        /// Why the index cannot be read.
        source: crate::input::InputError,
    },
    /// The directory holds more than one `.index` file, so which sequence is meant is unknown.
    #[error(
        "{}: it holds several binlog indexes ({}); point at a directory with one binlog \
         sequence",
        dir.display(),
        names.join(", ")
    )]
    SeveralIndexes {
        /// The directory.
        dir: PathBuf,
        /// The index files' names.
        names: Vec<String>,
    },
    /// Without an index, the files have more than one base name (`mysql-bin`, `mariadb-bin`…).
    #[error(
        "{}: it holds binlog files of several sequences ({}) and no index to order them; \
         point at a directory with one sequence",
        dir.display(),
        bases.join(", ")
    )]
    SeveralSequences {
        /// The directory.
        dir: PathBuf,
        /// The base names found.
        bases: Vec<String>,
    },
    /// The directory holds no binlog file.
    #[error("{}: no binlog files in it{}", dir.display(), hint)]
    Empty {
        /// The directory.
        dir: PathBuf,
        /// What else was in the directory, in parentheses (empty when nothing was).
        hint: String,
    },
    /// Every file the index lists is missing from the directory.
    #[error(
        "{}: none of the binlog files its index lists is there ({}): purged or moved; point at \
         the directory that holds them",
        dir.display(),
        names.join(", ")
    )]
    AllPurged {
        /// The directory.
        dir: PathBuf,
        /// The files the index lists.
        names: Vec<String>,
    },
    /// A relay directory was asked for, and the directory has no `server-uuid.index`.
    #[error(
        "{} is not a DM relay directory: it has no server-uuid.index (for a directory of binlog \
         files use --binlog-dir)",
        dir.display()
    )]
    NotRelayDir {
        /// The directory.
        dir: PathBuf,
    },
}

/// One binlog file of the sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogFileEntry {
    /// The file name, as `SHOW BINARY LOGS` and checkpoints name it.
    pub name: String,
    /// Where the file is.
    pub path: PathBuf,
    /// The DM relay sub-directory (`<server-uuid>.<seq>`) the file is in, if any.
    pub relay_subdir: Option<String>,
}

/// A note about something in the directory that was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The file or directory's name.
    pub name: String,
    /// Why it was left out.
    pub why: String,
    /// Not the binlog's business: a directory, or a file that is not a binlog, beside an index
    /// that names the binlog files (a server's datadir). Worth a note only on request.
    pub quiet: bool,
}

/// The binlog files of a source, in order: a directory of binlogs, or a DM relay directory
/// (see `source::relay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogDir {
    /// The directory.
    pub dir: PathBuf,
    /// The index used, if any.
    pub index: Option<PathBuf>,
    /// Present binlog files, oldest first.
    pub files: Vec<BinlogFileEntry>,
    /// Files the index lists that are not in the directory (purged), with the position in
    /// `files` they would have had.
    pub purged: Vec<(usize, String)>,
    /// What was found in the directory and left out, and why.
    pub left_out: Vec<LeftOut>,
}

impl BinlogDir {
    /// The purged files listed between the first present file and file `index`: a gap whose
    /// transactions the answer cannot account for.
    pub fn gap_before(&self, index: usize) -> Vec<&str> {
        self.purged
            .iter()
            .filter(|(at, _)| *at > 0 && *at <= index)
            .map(|(_, name)| name.as_str())
            .collect()
    }
}

impl BinlogDir {
    /// Lists `dir` as described in the module documentation.
    pub fn open(dir: &Path) -> Result<BinlogDir, LocalSourceError> {
        let (names, left_out) = list_entries(dir)?;
        let index = choose_index(dir, &names)?;
        let mut listing = BinlogDir {
            dir: dir.to_path_buf(),
            index: index.as_ref().map(|i| dir.join(i)),
            files: Vec::new(),
            purged: Vec::new(),
            left_out,
        };
        match index {
            Some(index) => listing.fill_from_index(&index, &names)?,
            None => listing.fill_by_name(&names)?,
        }
        if listing.files.is_empty() && !listing.purged.is_empty() {
            return Err(LocalSourceError::AllPurged {
                dir: dir.to_path_buf(),
                names: listing.purged.iter().map(|(_, n)| n.clone()).collect(),
            });
        }
        if listing.files.is_empty() {
            let hint = if listing.left_out.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} other entries left out: {})",
                    listing.left_out.len(),
                    listing
                        .left_out
                        .iter()
                        .map(|l| l.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(LocalSourceError::Empty {
                dir: dir.to_path_buf(),
                hint,
            });
        }
        Ok(listing)
    }

    fn fill_from_index(&mut self, index: &str, names: &[String]) -> Result<(), LocalSourceError> {
        let index_path = self.dir.join(index);
        let text =
            read_text(&index_path, "a binlog index").map_err(|source| LocalSourceError::Index {
                dir: self.dir.clone(),
                source,
            })?;
        let mut listed = HashSet::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let name = Path::new(line)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| line.to_owned());
            if name.chars().any(char::is_control) {
                self.left_out.push(LeftOut {
                    name: crate::input::escape_controls(&name).into_owned(),
                    why: format!("listed in {index}, but its name holds control characters"),
                    quiet: false,
                });
                continue;
            }
            let path = self.dir.join(&name);
            listed.insert(name.clone());
            // One look at the entry: missing, not a regular file, or a file to open.
            let (kind, exists) = match fs::metadata(&path) {
                Ok(meta) => (FileKind::of(&meta), true),
                Err(_) => (not_regular(&path), false),
            };
            if let Some(kind) = kind {
                // Listed, so a binlog belongs there and its transactions are not to be had: a
                // gap, as a purged file is, with a note saying what it is (the listing's own note
                // about the entry gives way to this one).
                self.left_out.retain(|left| left.name != name);
                self.left_out.push(LeftOut {
                    name: name.clone(),
                    why: format!("listed in {index} but {kind}: read as a gap, as a purged file"),
                    quiet: false,
                });
                self.purged.push((self.files.len(), name));
            } else if !exists {
                self.purged.push((self.files.len(), name));
            } else if !has_magic_listed(&path) {
                self.left_out.push(LeftOut {
                    name,
                    why: format!("listed in {index} but not a binlog file"),
                    quiet: false,
                });
            } else {
                self.files.push(BinlogFileEntry {
                    name,
                    path,
                    relay_subdir: None,
                });
            }
        }
        for name in names {
            if name != index && !listed.contains(name.as_str()) {
                // A binlog the index does not list means a stale index: always worth a note.
                let binlog = has_magic_listed(&self.dir.join(name));
                self.left_out.push(LeftOut {
                    name: name.clone(),
                    why: format!("not listed in {index}"),
                    quiet: !binlog,
                });
            }
        }
        for left in &mut self.left_out {
            left.quiet |= left.why == "a directory";
        }
        Ok(())
    }

    fn fill_by_name(&mut self, names: &[String]) -> Result<(), LocalSourceError> {
        let mut binlogs = Vec::new();
        for name in names {
            let path = self.dir.join(name);
            if has_magic_listed(&path) {
                binlogs.push(name.clone());
            } else {
                self.left_out.push(LeftOut {
                    name: name.clone(),
                    why: "not a binlog file".to_owned(),
                    quiet: false,
                });
            }
        }
        binlogs.sort_by_key(|name| sequence_key(name));
        let mut bases: Vec<String> = binlogs.iter().map(|n| sequence_key(n).0).collect();
        bases.dedup();
        if bases.len() > 1 {
            return Err(LocalSourceError::SeveralSequences {
                dir: self.dir.clone(),
                bases,
            });
        }
        self.files = binlogs
            .into_iter()
            .map(|name| BinlogFileEntry {
                path: self.dir.join(&name),
                name,
                relay_subdir: None,
            })
            .collect();
        Ok(())
    }
}

/// (base name, numeric suffix, name): `mysql-bin.000010` → ("mysql-bin", 10, …).
pub fn sequence_key(name: &str) -> (String, u64, String) {
    match name.rsplit_once('.') {
        Some((base, suffix))
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (
                base.to_owned(),
                suffix.parse().unwrap_or(u64::MAX),
                name.to_owned(),
            )
        }
        _ => (name.to_owned(), 0, name.to_owned()),
    }
}

/// [`has_magic`] of a file the directory listing found regular (no second `stat`).
fn has_magic_listed(path: &Path) -> bool {
    starts_with_magic(crate::input::open_listed(path).ok())
}

/// True when the file starts with the binlog magic.
pub fn has_magic(path: &Path) -> bool {
    starts_with_magic(open_regular(path).ok())
}

fn starts_with_magic(file: Option<fs::File>) -> bool {
    let mut magic = [0u8; 4];
    file.and_then(|mut f| f.read_exact(&mut magic).ok())
        .is_some_and(|()| magic == BINLOG_MAGIC)
}

/// The entries of `dir`: the names that may be binlogs or an index (sorted), and what is left
/// out with why (a directory, a FIFO, a socket or device, a name with control characters).
fn list_entries(dir: &Path) -> Result<(Vec<String>, Vec<LeftOut>), LocalSourceError> {
    let io = |source| LocalSourceError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    let mut names: Vec<String> = Vec::new();
    let mut left_out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.chars().any(char::is_control) {
            // Such a name would reach outputs, checkpoints and consumers' statements as it
            // is (a newline in it could forge a line of the answer). Binlogs never have one.
            left_out.push(LeftOut {
                name: crate::input::escape_controls(&name).into_owned(),
                why: "its name holds control characters; rename it".to_owned(),
                quiet: false,
            });
        } else if entry.file_type().map_err(io)?.is_dir() {
            left_out.push(LeftOut {
                name,
                why: "a directory".to_owned(),
                quiet: false,
            });
        } else if let Some(kind) = (!entry.file_type().map_err(io)?.is_file())
            .then(|| not_regular(&entry.path()))
            .flatten()
            && !name.ends_with(".index")
        {
            // A FIFO would block the read of its magic; a device never ends. The listing's
            // own type says "regular" at no cost; anything else (a symlink) is looked at.
            // (An index
            // that is one is refused when it is read.)
            left_out.push(LeftOut {
                name,
                why: kind.to_string(),
                quiet: false,
            });
        } else {
            names.push(name);
        }
    }
    names.sort();
    Ok((names, left_out))
}

/// The index among `names`: the only `.index` file, or of several the only one not a relay's.
fn choose_index(dir: &Path, names: &[String]) -> Result<Option<String>, LocalSourceError> {
    let indexes: Vec<String> = names
        .iter()
        .filter(|n| n.ends_with(".index"))
        .cloned()
        .collect();
    Ok(match indexes.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        several => {
            let not_relay: Vec<&String> = several.iter().filter(|n| !n.contains("relay")).collect();
            match not_relay.as_slice() {
                [one] => Some((*one).clone()),
                _ => {
                    return Err(LocalSourceError::SeveralIndexes {
                        dir: dir.to_path_buf(),
                        names: several.to_vec(),
                    });
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        fs::write(dir.join(name), bytes).unwrap();
    }

    fn names(listing: &BinlogDir) -> Vec<&str> {
        listing.files.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn orders_by_numeric_suffix_without_an_index() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.000010", "b.000009", "b.1000000", "b.999999"] {
            write(dir.path(), name, &BINLOG_MAGIC);
        }
        write(dir.path(), "notes.txt", b"hello");
        fs::create_dir(dir.path().join("sub")).unwrap();
        let listing = BinlogDir::open(dir.path()).unwrap();
        assert_eq!(
            names(&listing),
            ["b.000009", "b.000010", "b.999999", "b.1000000"]
        );
        let left: Vec<&str> = listing.left_out.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(left, ["sub", "notes.txt"]);
    }

    #[test]
    fn follows_the_index_and_reports_purged_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["m.000003", "m.000002", "m.000005"] {
            write(dir.path(), name, &BINLOG_MAGIC);
        }
        write(dir.path(), "m.000004", b"junk");
        write(
            dir.path(),
            "m.index",
            b"./m.000001\n/var/lib/mysql/m.000002\nm.000003\nm.000004\n./m.000005\n\n",
        );
        let listing = BinlogDir::open(dir.path()).unwrap();
        assert_eq!(names(&listing), ["m.000002", "m.000003", "m.000005"]);
        assert_eq!(listing.purged, [(0, "m.000001".to_owned())]);
        assert!(listing.left_out.iter().any(|l| l.name == "m.000004"));
    }

    #[test]
    fn refuses_ambiguous_directories() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.000001", &BINLOG_MAGIC);
        write(dir.path(), "b.000001", &BINLOG_MAGIC);
        assert!(matches!(
            BinlogDir::open(dir.path()),
            Err(LocalSourceError::SeveralSequences { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        write(empty.path(), "x", b"no");
        let err = BinlogDir::open(empty.path()).unwrap_err().to_string();
        assert!(
            err.contains("no binlog files") && err.contains("x"),
            "{err}"
        );
    }
}
