//! Hidden commands.

pub(super) mod generate;
pub(super) mod monitor;
pub(super) mod ssh_proxy;
