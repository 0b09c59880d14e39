//! Hidden commands.

pub(super) mod generate;
pub(super) mod monitor;
