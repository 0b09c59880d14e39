//! `Context`: what every command needs, built once in `main`.
//!
//! Uses: `config`, `output`.

use std::path::PathBuf;

use crate::output::Printer;

/// What commands share.
#[derive(Debug)]
pub struct Context {
    /// The storage root.
    pub root: PathBuf,
    /// Runtime state (libcontainer's state, sockets), computed before entering the user
    /// namespace, where our uid reads 0.
    pub runtime_root: PathBuf,
    /// The only way to the terminal.
    pub printer: Printer,
}

impl Context {
    /// Builds the context from the global flags.
    pub fn new(root_flag: Option<PathBuf>, runroot_flag: Option<PathBuf>) -> Self {
        Self {
            root: crate::config::paths::storage_root(root_flag),
            runtime_root: runroot_flag.unwrap_or_else(crate::config::paths::runtime_root),
            printer: Printer::default(),
        }
    }
}
