//! Where binlog files come from: a local directory ([`local`]); DM relay directories and live
//! servers join here.

pub mod local;
pub mod relay;
