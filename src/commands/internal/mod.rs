//! Hidden commands.

pub(super) mod generate;
