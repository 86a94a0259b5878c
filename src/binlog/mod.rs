//! Bytes → events: framing, checksums and the few decoders transaction units need, for both
//! flavours, from files or from a replication stream.
//!
//! Guarantees: nothing here panics or allocates in proportion to a length read from the input
//! before that length is checked; every error names the file and the offset of the event.

pub mod checksum;
pub(crate) mod error;
pub(crate) mod event_type;
pub mod events;
pub(crate) mod format;
pub mod header;
pub(crate) mod reader;
pub(crate) mod stream;

pub use error::{BinlogError, BinlogWarning, Trouble};
pub use event_type::{EventType, UnitRole};
pub use format::{ChecksumAlg, Flavor, FormatDescription};
pub use header::{EventHeader, HEADER_LEN};
pub use reader::{
    BinlogReader, EventRef, EventSource, FileEventSource, ReadAt, ReadOptions, ReadStats,
};
pub use stream::EventStreamSource;
