//! The system commands.

pub(super) mod check;
pub(super) mod df;
pub(super) mod info;
pub(super) mod reset;
pub(super) mod unshare;
