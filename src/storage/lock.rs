//! The store's write lock: one `flock` on `<root>/lock`.
//!
//! Writers hold it exclusively for the whole mutation. Readers take no lock: every file they
//! read is replaced by rename, so they see a consistent old or new state, and a blob that
//! vanishes under them (a concurrent `rmi`) is reported as a missing image.

use std::os::fd::AsFd;
use std::path::Path;

use fs_err as fs;
use rustix::fs::{FlockOperation, flock};

/// Proof that the caller holds the exclusive store lock. Mutating store calls take `&WriteLock`.
#[derive(Debug)]
pub struct WriteLock {
    _file: fs::File,
}

impl WriteLock {
    /// Blocks until the exclusive lock on `path` is held.
    pub(super) fn acquire(path: &Path) -> std::io::Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        flock(file.as_fd(), FlockOperation::LockExclusive)?;
        Ok(Self { _file: file })
    }
}
