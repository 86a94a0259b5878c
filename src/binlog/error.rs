//! Errors of the binlog layer. Every one names the file (or stream) and, past the magic, the byte
//! offset of the event concerned, and says what a user can do.

use std::io;

/// Why a binlog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BinlogError {
    /// Opening or reading the file failed.
    #[error("{file}: cannot read it: {source}")]
    Io {
        /// The file.
        file: String,
        /// The system's error.
        source: io::Error,
    },

    /// A FIFO, a device, a directory: never opened as a binlog.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),

    /// What carries a stream's events failed (a live server's connection). This layer sits
    /// below the network and carries only that the stream stopped, and the failure's text for
    /// a caller that reports it and goes on; the failure itself stays, typed, with the layer
    /// that made the stream, which gives it to its caller in place of this one.
    #[error("{reason}")]
    Transport {
        /// The stream's origin, e.g. `127.0.0.1:3307`.
        origin: String,
        /// What the failure says (it names the origin).
        reason: String,
    },

    /// The file does not start with the binlog magic.
    #[error(
        "{file} is not a binlog file (it does not start with the binlog magic fe 62 69 6e); \
         remove it from the binlog directory or its index"
    )]
    NotABinlog {
        /// The file.
        file: String,
    },

    /// The file is a binlog of a format before v4 (MySQL 3.23, 4.x).
    #[error(
        "{file}: unsupported binlog version ({what}); only binlog format v4 (MySQL 5.0 and \
         later, MariaDB) can be read"
    )]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// What its first event says, e.g. `binlog_version 3`.
        what: String,
    },

    /// An event's bytes contradict themselves or the format (a length past the file, a header
    /// out of range).
    #[error("{file} at offset {offset}: {what}")]
    Corrupt {
        /// The file, or the stream's origin.
        file: String,
        /// Byte offset of the event in the file.
        offset: u64,
        /// What is wrong.
        what: String,
    },

    /// An event's CRC32 checksum does not match its bytes.
    #[error(
        "{file} at offset {offset}: CRC32 mismatch in {event} (stored {stored:#010x}, computed \
         {computed:#010x}); the file is damaged there"
    )]
    Checksum {
        /// The file, or the stream's origin.
        file: String,
        /// Byte offset of the event in the file.
        offset: u64,
        /// The event's type name.
        event: String,
        /// The checksum the event carries.
        stored: u32,
        /// The checksum of its bytes.
        computed: u32,
    },

    /// A file other than the newest ends inside an event.
    #[error(
        "{file} ends inside an event at offset {offset} ({available} of {size} bytes present); \
         only the newest binlog file of a source may end mid-event, so this file was cut short \
         or damaged"
    )]
    Truncated {
        /// The file.
        file: String,
        /// Byte offset of the event cut short.
        offset: u64,
        /// The event's size as its header gives it.
        size: u64,
        /// The bytes of it the file holds.
        available: u64,
    },

    /// The file is encrypted (MariaDB's `encrypt_binlog`): only the server can read it.
    #[error(
        "{file} at offset {offset}: the binlog is encrypted (START_ENCRYPTION_EVENT) and cannot \
         be read without the server's key; resolve against the live server instead"
    )]
    Encrypted {
        /// The file.
        file: String,
        /// Byte offset of the START_ENCRYPTION_EVENT.
        offset: u64,
    },
}

impl BinlogError {
    pub(crate) fn corrupt(file: &str, offset: u64, what: impl std::fmt::Display) -> BinlogError {
        BinlogError::Corrupt {
            file: file.to_owned(),
            offset,
            what: what.to_string(),
        }
    }
}

/// A problem that does not stop reading but that a user should hear about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BinlogWarning {
    /// The file, or the stream's origin.
    pub file: String,
    /// Byte offset in the file.
    pub offset: u64,
    /// What is wrong there.
    pub trouble: Trouble,
}

/// What is wrong at a [`BinlogWarning`]'s offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Trouble {
    /// A transaction starts here but the file ends before it commits: it is skipped.
    EndsBeforeCommit,
    /// A transaction starts here but a new one starts at `next` before it commits: skipped.
    Interrupted {
        /// Byte offset where the next transaction starts.
        next: u64,
    },
    /// An event of unknown type `type_code`, not marked ignorable, was skipped.
    UnknownEvent {
        /// The event's type code.
        type_code: u8,
    },
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::EndsBeforeCommit => f.write_str(
                "a transaction starts here but the file ends before it commits; it is skipped \
                 (the server stopped while writing it)",
            ),
            Trouble::Interrupted { next } => write!(
                f,
                "a transaction starts here but a new one starts at {next} before it commits; it \
                 is skipped"
            ),
            Trouble::UnknownEvent { type_code } => write!(
                f,
                "unknown event type {type_code} (not marked ignorable) skipped; if it belongs to a \
                 transaction the answer may be off: please report this binlog"
            ),
        }
    }
}

impl std::fmt::Display for BinlogWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.file, self.offset, self.trouble
        )
    }
}
