//! The image commands.

pub(super) mod build;
pub(super) mod history;
pub(super) mod images;
pub(super) mod import;
pub(super) mod inspect;
pub(super) mod load;
pub(super) mod prune;
pub(super) mod pull;
pub(super) mod push;
pub(super) mod rmi;
pub(super) mod save;
pub(super) mod tag;
