//! Every integration test, in one binary (the shape ripgrep and jiff use): one link instead of
//! one per file, which is most of a test build's cost on two cores.
//!
//! `support` is the harness: a command runner on the real binary and a temporary scene for the
//! task commands. The other modules are named after what they check; the live ones start their
//! own private MariaDB servers.

mod support;

mod boundary_live;
mod cli;
mod cli_resolve;
mod cli_task;
mod damaged_input;
mod damaged_resolution;
mod dm_carries_on;
mod docs_examples;
mod emit_live;
mod emit_public;
mod fixture_corpus;
mod fuzz_regressions;
mod hostile_input;
mod json_contract;
mod live_mariadb;
mod reader_corpus;
mod remote_live;
mod repository;
mod resolve_local;
mod start_task_live;
mod stream_source;
mod units_property;
mod walkthroughs;
