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
        let file = lock_file(path, FlockOperation::LockExclusive)?;
        Ok(Self {
            _file: file.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::WouldBlock))?,
        })
    }
}

/// Opens (creating) the lock file `path` and applies `operation` to it; the lock lasts as
/// long as the file is open. `None` when a non-blocking operation finds another holder.
pub(super) fn lock_file(
    path: &Path,
    operation: FlockOperation,
) -> std::io::Result<Option<fs::File>> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match flock(file.as_fd(), operation) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
