//! LEAF: helpers without domain knowledge. Uses nothing else of the crate.

pub mod forward;
pub mod fs;
pub mod human;
pub mod ids;
pub mod names;
pub mod process;
pub mod sdnotify;
