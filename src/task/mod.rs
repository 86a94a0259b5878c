//! DM's files and task state: source and task configs (YAML), checkpoint locations and how they
//! compare, the safe-mode decision, prechecks, checkpoint stores, and `start-task` itself.

pub(crate) mod config;
pub(crate) mod location;
pub(crate) mod precheck;
pub(crate) mod safe_mode;
pub(crate) mod secret;
pub mod source;
pub mod start;
pub mod state;
pub mod status;
pub mod store;
pub(crate) mod yaml;
