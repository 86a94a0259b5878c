//! Bytes → events: framing, checksums and the few decoders transaction units need, for both
//! flavours, from files or from a replication stream.
//!
//! Guarantees: nothing here panics or allocates in proportion to a length read from the input
//! before that length is checked; every error names the file and the offset of the event.

#[doc(hidden)]
pub mod checksum;
pub(crate) mod error;
#[doc(hidden)]
pub(crate) mod event_type;
#[doc(hidden)]
pub mod events;
#[doc(hidden)]
pub(crate) mod format;
#[doc(hidden)]
pub mod header;
#[doc(hidden)]
pub(crate) mod reader;
#[doc(hidden)]
pub(crate) mod stream;

pub use error::{BinlogError, BinlogWarning, Trouble};
#[doc(hidden)]
pub use event_type::{EventType, UnitRole};
#[doc(hidden)]
pub use format::{ChecksumAlg, Flavor, FormatDescription};
#[doc(hidden)]
pub use header::{EventHeader, HEADER_LEN};
#[doc(hidden)]
pub use reader::{
    BinlogReader, EventRef, EventSource, FileEventSource, ReadAt, ReadOptions, ReadStats,
};
#[doc(hidden)]
pub use stream::EventStreamSource;
