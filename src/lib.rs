//! `startpoint` answers one question for people who replicate MySQL/MariaDB: from which binlog
//! location must a replica start so that it receives everything committed since time T?
//!
//! The answer is defined in `../shared/docs/SEMANTICS.md`; every path (local files, DM relay
//! directories, a live server) returns exactly that answer. Data flows one way:
//! bytes → events → transaction units → a search → a location → a decision about a DM task.
//!
//! [`testkit`] holds the test support (a private MariaDB server, the fixture workload and the
//! oracles derived from the server's own tools); the command-line tool never uses it.

pub mod binlog;
pub mod crashpoint;
pub mod gtid;
pub mod remote;
pub mod resolve;
pub mod source;
pub mod start_time;
pub mod task;
pub mod testkit;
pub mod unit;
