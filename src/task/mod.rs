//! DM's files and task state: source and task configs (YAML), checkpoint locations and how they
//! compare, the safe-mode decision, prechecks, checkpoint stores, and `start-task` itself.

pub mod config;
pub mod location;
pub mod precheck;
pub mod safe_mode;
pub mod secret;
pub mod source;
pub mod start;
pub mod state;
pub mod status;
pub mod store;
pub mod yaml;
