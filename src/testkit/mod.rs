//! Test support shared by the integration tests, the benchmarks and the fixture generator.
//! Not used by the command-line tool and not a stable API.
//!
//! - [`binlog_writer`]: MySQL 5.6/5.7/8.0 and MariaDB binlogs from a description, with the
//!   units a reader must find;
//! - [`mariadb`]: a private `mariadbd` per test (temp datadir, free port, stopped on drop);
//! - [`workload`]: the scripted, fake-clocked history behind the fixture corpus;
//! - [`oracle`]: ground truth from the server's own tools (`mariadb-binlog`, `BINLOG_GTID_POS`);
//! - [`proxy`]: a byte-counting TCP proxy with fault hooks, for the live-server tests;
//! - [`fuzzing`]: what the fuzz targets run, also replayed on saved crashes by `cargo test`;
//! - [`fixtures`]: generates and loads `testdata/mariadb/`.

pub mod binlog_writer;
pub mod fixtures;
pub mod fuzzing;
pub mod mariadb;
pub mod oracle;
pub mod proxy;
pub mod workload;
