//! `startpoint` answers one question for people who replicate MySQL or MariaDB: from which binlog
//! location must a replica start so that it receives everything committed since time T?
//!
//! The answer is defined in `docs/SEMANTICS.md`; every path (local files, DM relay directories,
//! a live server) returns exactly that answer. Data flows one way, one module per step:
//!
//! | step | module |
//! |---|---|
//! | bytes → events (framing, checksums, the few decoders needed) | [`binlog`] |
//! | GTID sets and MariaDB GTID positions | [`gtid`] |
//! | events → transaction units | [`unit`](mod@unit) |
//! | where the files are: a directory, a DM relay directory | [`source`] |
//! | a live server over the replication protocol | [`remote`] |
//! | the search over files, then inside one: a [`Resolution`] | [`resolve`] |
//! | a source, a start time and options → the answer (the one entry point) | [`locate`](mod@locate) |
//! | the answer → a DM task decision (checkpoint, safe mode, DM's replies) | `task` |
//! | the answer → what each consumer takes (Debezium, Flink CDC, Canal, a replica) | `emit` |
//!
//! # Example
//!
//! Resolve a start time from a directory of binlog files and print the location and GTID set:
//!
//! ```
//! use startpoint::{Options, Source, StartTime, Status, locate};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let source = Source::BinlogDir("testdata/mariadb/binlog".into());
//! let start = StartTime::parse("2024-01-01 00:00:00Z")?;
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let options = Options::new(std::time::Duration::from_secs(30));
//! let answer = runtime.block_on(locate(&source, &start, &options))?;
//! match (&answer.resolution.status, &answer.resolution.location) {
//!     (Status::AboveUpperBound, _) | (_, None) => println!("after every transaction"),
//!     (_, Some(location)) => println!(
//!         "start at {}:{} with GTID set {}",
//!         location.file,
//!         location.pos,
//!         answer.resolution.gtid.as_ref().map(|g| g.to_string()).unwrap_or_default(),
//!     ),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # The library surface
//!
//! What these docs show is the surface kept for library users: [`locate()`] and its [`Source`],
//! [`Options`] and [`Located`] answer; the [`Resolution`] with its typed explanations
//! ([`resolve::explain`]); the GTID types; and the errors, each variant with its fields. Every
//! public item of it is documented (the `missing_docs` lint holds it so). The command-line
//! tool and the tests also reach further in (`task`, `emit`, the binlog reader, the roles a
//! source plays for the search, which only the crate's own sources implement); those items
//! are public for them only, hidden from these docs, and may change without notice.
//!
//! With the `testkit` feature (the tests' build only), `testkit` holds the test support (a
//! private MariaDB server, the binlog writer, the fixture workload and the oracles derived from
//! the server's own tools) and crash points abort where a test asks; the library and the
//! command-line tool are built without it.

pub mod binlog;
pub mod build_info;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod crashpoint;
#[cfg(not(feature = "testkit"))]
mod crashpoint;
#[doc(hidden)]
pub mod emit;
pub mod gtid;
pub mod input;
pub mod locate;
mod panics;
pub mod remote;
pub mod resolve;
pub mod source;
pub mod start_time;
#[doc(hidden)]
pub mod task;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod testkit;
pub mod unit;

/// The GTIDs executed before a location: a MySQL [`GtidSet`] or a MariaDB GTID position.
pub use gtid::ExecutedGtids;
/// A set of MySQL GTIDs (`uuid[:tag]:interval[:interval]…`), with `union`, `is_subset`,
/// `contains` and the canonical text of `gtid_executed`.
pub use gtid::GtidSet;
/// The one entry point, its source, options, answer and error.
pub use locate::{LocateError, Located, Options, Source, locate};
/// The answer of a search (SEMANTICS.md §5), where it lies, and whether T is inside the binlog.
pub use resolve::{BinlogLocation, Resolution, Status};
/// A start time as the user wrote it (`--start-time`), and the zone it is read in.
pub use start_time::{StartTime, Zone};
/// One transaction as the binlog records it: where it starts and ends, its GTID and its times.
pub use unit::TransactionUnit;
