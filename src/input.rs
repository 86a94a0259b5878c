//! Files opened because a user named them or a directory listed them: only regular files, and
//! text files read whole only up to a cap.
//!
//! A FIFO blocks `open(2)` until a writer comes, which may be never; a character device such as
//! `/dev/zero` never ends; a socket cannot be opened at all. So a file's type is checked with
//! `stat` before it is opened, and again with `fstat` on a descriptor opened with `O_NONBLOCK`
//! (a FIFO swapped in between still opens at once), before any byte is read. A symlink to a
//! regular file is followed: binlog directories and configs are often links.
//!
//! Configuration files (task, source, key, binlog index, DM's relay index) are read whole, up to
//! [`MAX_TEXT_BYTES`]: DM's own files are a few KiB, an index of 100 000 binlog files a few MiB.
//!
//! Costs: one `stat`, one `open` and one `fstat` per file: one `stat` more than a plain open.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The most a configuration file (task, source, key, index) may hold.
pub const MAX_TEXT_BYTES: u64 = 16 << 20;

/// What a path is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe, which would block a reader until a writer comes.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// A symlink that could not be followed (dangling, or a loop).
    Symlink,
    /// Anything else that is not a regular file.
    Other,
}

impl FileKind {
    /// What `meta` describes, `None` for a regular file.
    pub fn of(meta: &Metadata) -> Option<FileKind> {
        let kind = meta.file_type();
        Some(if kind.is_file() {
            return None;
        } else if kind.is_dir() {
            FileKind::Directory
        } else if kind.is_fifo() {
            FileKind::Fifo
        } else if kind.is_socket() {
            FileKind::Socket
        } else if kind.is_char_device() {
            FileKind::CharDevice
        } else if kind.is_block_device() {
            FileKind::BlockDevice
        } else if kind.is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::Other
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Symlink => "a symlink that leads nowhere",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why a file could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading the file failed.
    #[error("{}: cannot read it: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The path is not a regular file, so it is never opened.
    #[error("{}: it is {kind}, not a regular file; give the path of a file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },
    /// The file is larger than what it is read as may be, so it is not read.
    #[error(
        "{}: it holds more than {}, the most {what} may hold; give the right file",
        path.display(),
        size_text(*limit)
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The most it may hold, in bytes.
        limit: u64,
        /// What the file was read as (`a task file`, `an index`…).
        what: &'static str,
    },
    /// The file holds bytes that are not UTF-8.
    #[error("{}: it is not UTF-8 text; {what} must be text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// What the file was read as.
        what: &'static str,
    },
}

/// `16 MiB`, or `100 bytes` below a MiB.
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

impl InputError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::NotRegular { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::NotText { path, .. } => path,
        }
    }
}

/// What `path` is when it is not a regular file (following symlinks); `None` for a regular
/// file or one that cannot be looked at (opening it then says why).
pub fn not_regular(path: &Path) -> Option<FileKind> {
    match std::fs::metadata(path) {
        Ok(meta) => FileKind::of(&meta),
        Err(_) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            Some(FileKind::Symlink)
        }
        Err(_) => None,
    }
}

/// Opens `path` for reading when it is a regular file; never blocks on a FIFO or a device.
pub fn open_regular(path: &Path) -> Result<File, InputError> {
    if let Some(kind) = not_regular(path) {
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            kind,
        });
    }
    open_listed(path)
}

/// [`open_regular`] for a file a directory listing already found regular: opened without
/// blocking and checked with `fstat`, without the `stat` before (a file swapped for a FIFO
/// since still opens at once, and is refused). One `fstat` more than a plain open.
pub fn open_listed(path: &Path) -> Result<File, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(io)?;
    if let Some(kind) = FileKind::of(&file.metadata().map_err(io)?) {
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            kind,
        });
    }
    // O_NONBLOCK stays: reads of a regular file ignore it (one system call less per open).
    Ok(file)
}

/// The text of the regular file at `path`, at most [`MAX_TEXT_BYTES`]; `what` names the kind
/// of file in errors ("a task file").
pub fn read_text(path: &Path, what: &'static str) -> Result<String, InputError> {
    read_text_capped(path, what, MAX_TEXT_BYTES)
}

/// [`read_text`] with another cap.
pub fn read_text_capped(path: &Path, what: &'static str, limit: u64) -> Result<String, InputError> {
    let bytes = read_capped(path, what, limit)?;
    String::from_utf8(bytes).map_err(|_| InputError::NotText {
        path: path.to_path_buf(),
        what,
    })
}

/// The bytes of the regular file at `path`, at most `limit` of them.
pub fn read_capped(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, InputError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            limit,
            what,
        });
    }
    Ok(bytes)
}

/// `text` from outside (a server's error message, a file name it lists) made safe to show on a
/// terminal or in JSON: every control character (C0, DEL, C1) written as an escape (`\x1b`,
/// `\n`, `\r`, `\t`, `\0`, `\u{9b}`), so no escape sequence, bell, carriage return or NUL
/// reaches the user's terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    escape_controls_but(text, &[])
}

/// [`escape_controls`], leaving the characters in `keep` (our own multi-line messages keep
/// their `\n`).
pub fn escape_controls_but<'t>(text: &'t str, keep: &[char]) -> std::borrow::Cow<'t, str> {
    use std::fmt::Write;
    if !text.chars().any(|c| c.is_control() && !keep.contains(&c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !c.is_control() || keep.contains(&c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_devices_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for (path, kind) in [
            (fifo.as_path(), FileKind::Fifo),
            (Path::new("/dev/zero"), FileKind::CharDevice),
            (dir.path(), FileKind::Directory),
        ] {
            match read_text(path, "a task file") {
                Err(InputError::NotRegular { kind: k, .. }) => assert_eq!(k, kind, "{path:?}"),
                other => panic!("{path:?}: {other:?}"),
            }
        }
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = open_regular(&dangling).unwrap_err();
        assert!(
            matches!(
                err,
                InputError::NotRegular {
                    kind: FileKind::Symlink,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn control_characters_are_shown_as_escapes() {
        assert_eq!(escape_controls("plain text: é"), "plain text: é");
        assert_eq!(
            escape_controls("a\x1b[2Jb\x07c\rd\ne\0f\u{9b}g\x7f"),
            "a\\x1b[2Jb\\x07c\\rd\\ne\\0f\\u{9b}g\\x7f"
        );
        assert_eq!(escape_controls_but("a\nb\x1b", &['\n']), "a\nb\\x1b");
    }

    #[test]
    fn text_is_read_up_to_the_cap_and_no_further() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "a: 1\n").unwrap();
        assert_eq!(read_text(&path, "a task file").unwrap(), "a: 1\n");
        std::fs::write(&path, vec![b'x'; 101]).unwrap();
        let err = read_text_capped(&path, "a task file", 100).unwrap_err();
        assert!(
            matches!(err, InputError::TooLarge { limit: 100, .. }),
            "{err:?}"
        );
        let text = read_text_capped(&path, "a task file", 101).unwrap();
        assert_eq!(text.len(), 101);
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            read_text(&path, "a task file"),
            Err(InputError::NotText { .. })
        ));
    }
}
