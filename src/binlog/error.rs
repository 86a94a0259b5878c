//! Errors of the binlog layer. Every one names the file (or stream) and, past the magic, the byte
//! offset of the event concerned, and says what a user can do.

use std::io;

/// Why a binlog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BinlogError {
    #[error("{file}: cannot read it: {source}")]
    Io { file: String, source: io::Error },

    /// A FIFO, a device, a directory: never opened as a binlog.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),

    /// What carries a stream's events failed (a live server's connection). This layer sits
    /// below the network and knows only that the stream stopped; the failure itself stays,
    /// typed, with the layer that made the stream, which gives it to its caller in place of
    /// this one.
    #[error("{origin}: the connection carrying the binlog stream failed")]
    Transport {
        /// The stream's origin, e.g. `127.0.0.1:3307`.
        origin: String,
    },

    #[error(
        "{file} is not a binlog file (it does not start with the binlog magic fe 62 69 6e); \
         remove it from the binlog directory or its index"
    )]
    NotABinlog { file: String },

    #[error(
        "{file}: unsupported binlog version ({what}); only binlog format v4 (MySQL 5.0 and \
         later, MariaDB) can be read"
    )]
    UnsupportedVersion { file: String, what: String },

    #[error("{file} at offset {offset}: {what}")]
    Corrupt {
        file: String,
        offset: u64,
        what: String,
    },

    #[error(
        "{file} at offset {offset}: CRC32 mismatch in {event} (stored {stored:#010x}, computed \
         {computed:#010x}); the file is damaged there"
    )]
    Checksum {
        file: String,
        offset: u64,
        event: String,
        stored: u32,
        computed: u32,
    },

    #[error(
        "{file} ends inside an event at offset {offset} ({available} of {size} bytes present); \
         only the newest binlog file of a source may end mid-event, so this file was cut short \
         or damaged"
    )]
    Truncated {
        file: String,
        offset: u64,
        size: u64,
        available: u64,
    },

    #[error(
        "{file} at offset {offset}: the binlog is encrypted (START_ENCRYPTION_EVENT) and cannot \
         be read without the server's key; resolve against the live server instead"
    )]
    Encrypted { file: String, offset: u64 },
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
    pub file: String,
    pub offset: u64,
    pub trouble: Trouble,
}

/// What is wrong at a [`BinlogWarning`]'s offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Trouble {
    /// A transaction starts here but the file ends before it commits: it is skipped.
    EndsBeforeCommit,
    /// A transaction starts here but a new one starts at `next` before it commits: skipped.
    Interrupted { next: u64 },
    /// An event of unknown type `type_code`, not marked ignorable, was skipped.
    UnknownEvent { type_code: u8 },
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
