//! DM's side: a location becomes a task decision.
//!
//! - `config`, `source`, `yaml`, `secret`: DM's task and source files, as DM reads them;
//! - `location`, `safe_mode`: checkpoint locations, their order, and the safe-mode window;
//! - `precheck`: DM's prechecks of the upstream and the downstream;
//! - [`store`]: DM's checkpoint table, embedded or downstream, behind one `CheckpointStore`;
//! - [`state`]: the state directory (sources, task records, locks);
//! - [`start`], [`status`], [`operate`]: the three DM commands;
//! - [`dm`]: DM's texts and the JSON replies of all three.

pub(crate) mod config;
pub mod dm;
pub mod export;
pub mod go_duration;
pub(crate) mod location;
pub mod operate;
pub(crate) mod precheck;
pub(crate) mod safe_mode;
pub mod secret;
pub(crate) mod sections;
pub mod source;
pub mod start;
pub mod state;
pub mod status;
pub mod store;
pub(crate) mod yaml;
