//! DM's files and task state: source and task configs (YAML), and later checkpoint stores and
//! the safe-mode plan.

pub mod source;
pub mod yaml;
