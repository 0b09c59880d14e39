//! The bottom of berth: the on-disk store (DESIGN.md §3). It knows digests, blobs, layers and
//! paths; not image names' meaning, processes or registries.
//!
//! ```text
//! <root>/images/          OCI image layout: oci-layout, index.json, blobs/sha256/<hex>
//! <root>/layers/<chain>/  diff/ (an overlay lowerdir) + meta.json
//! <root>/tmp/             work in progress; debris once the write lock is free
//! <root>/lock             flock, exclusive for writers
//! ```
//!
//! Uses: `oci`, `util`.

mod blobs;
pub mod build_cache;
mod check;
pub mod containers;
pub mod diff;
pub mod driver;
pub mod gc;
mod layers;
mod layout;
mod lock;
pub mod names;
pub mod pods;
pub mod unpack;
pub mod volumes;

use std::path::{Path, PathBuf};

use fs_err as fs;

pub use blobs::BlobWriter;
pub use check::CheckReport;
pub use gc::GcReport;
pub use layers::{LayerMeta, decompress};
pub use layout::StorePaths;
pub use lock::WriteLock;

use crate::oci::Digest;
use crate::oci::image::Index;
use crate::util;

/// Errors of the store. Each names the path, blob or layer involved.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O error on a path.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What was being done ("failed to read").
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A blob that an index or manifest refers to is not in the store.
    #[error("blob `{0}` is missing from the store")]
    BlobMissing(Digest),
    /// Content did not match the digest it was announced with.
    #[error("digest mismatch: expected `{expected}`, got `{actual}`")]
    DigestMismatch {
        /// What was announced.
        expected: Digest,
        /// What the content hashes to.
        actual: Digest,
    },
    /// A JSON document in the store could not be read.
    #[error("`{}` is corrupt", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A layer could not be unpacked.
    #[error("failed to unpack layer `{digest}`")]
    Unpack {
        /// The layer blob.
        digest: Digest,
        /// The cause.
        #[source]
        source: unpack::UnpackError,
    },
    /// A layer could not be decompressed or read.
    #[error("failed to read layer `{digest}`")]
    LayerRead {
        /// The layer blob.
        digest: Digest,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for this module's results.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

pub(crate) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |source| StorageError::Io {
        action,
        path,
        source,
    }
}

/// One store, opened at a root directory.
#[derive(Debug, Clone)]
pub struct Store {
    paths: StorePaths,
}

impl Store {
    /// Opens the store at `root`, creating its skeleton if needed.
    pub fn open(root: &Path) -> Result<Self> {
        let paths = StorePaths::new(root);
        let store = Self { paths };
        if !store.paths.index().exists() {
            // Two first commands may race here: create under the lock, and only what is missing.
            fs::create_dir_all(root).map_err(io_error("failed to create", root))?;
            let lock_path = store.paths.lock();
            let _lock =
                WriteLock::acquire(&lock_path).map_err(io_error("failed to lock", &lock_path))?;
            store.create_skeleton()?;
        }
        Ok(store)
    }

    /// Opens the store only if it exists (read-only commands on a fresh machine).
    pub fn open_existing(root: &Path) -> Option<Self> {
        let paths = StorePaths::new(root);
        paths.index().exists().then_some(Self { paths })
    }

    fn create_skeleton(&self) -> Result<()> {
        for dir in [self.paths.blobs(), self.paths.layers(), self.paths.tmp()] {
            fs::create_dir_all(&dir).map_err(io_error("failed to create", &dir))?;
        }
        for dir in [self.paths.containers(), self.paths.volumes()] {
            fs::create_dir_all(&dir).map_err(io_error("failed to create", &dir))?;
        }
        let layout = self.paths.oci_layout();
        if !layout.exists() {
            util::fs::atomic_write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)
                .map_err(io_error("failed to write", &layout))?;
        }
        let index = self.paths.index();
        if !index.exists() {
            let text = serde_json::to_vec(&Index::default()).unwrap_or_default();
            util::fs::atomic_write(&index, &text).map_err(io_error("failed to write", &index))?;
        }
        Ok(())
    }

    /// The store's paths.
    pub fn paths(&self) -> &StorePaths {
        &self.paths
    }

    /// Takes the exclusive write lock, then clears debris that a killed writer left in `tmp/`
    /// (nobody else can be writing there while we hold the lock).
    pub fn lock(&self) -> Result<WriteLock> {
        let path = self.paths.lock();
        let lock = WriteLock::acquire(&path).map_err(io_error("failed to lock", &path))?;
        let tmp = self.paths.tmp();
        if let Ok(entries) = fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                if let Err(error) = util::fs::remove_all(&entry.path()) {
                    tracing::warn!(path = %entry.path().display(), %error, "cannot remove debris");
                }
            }
        }
        fs::create_dir_all(&tmp).map_err(io_error("failed to create", &tmp))?;
        Ok(lock)
    }

    /// Removes everything in the store (under the write lock), leaving an empty skeleton.
    pub fn reset(&self) -> Result<()> {
        let lock = self.lock()?;
        let root = self.paths.root();
        let entries = fs::read_dir(root).map_err(io_error("failed to read", root))?;
        for entry in entries.flatten() {
            if entry.path() != self.paths.lock() {
                util::fs::remove_all(&entry.path())
                    .map_err(io_error("failed to remove", &entry.path()))?;
            }
        }
        self.create_skeleton()?;
        drop(lock);
        Ok(())
    }

    /// Reads `index.json`.
    pub fn load_index(&self) -> Result<Index> {
        let path = self.paths.index();
        let text = fs::read(&path).map_err(io_error("failed to read", &path))?;
        serde_json::from_slice(&text).map_err(|source| StorageError::Corrupt { path, source })
    }

    /// Replaces `index.json` atomically.
    pub fn save_index(&self, _lock: &WriteLock, index: &Index) -> Result<()> {
        let path = self.paths.index();
        let text = serde_json::to_vec(index).unwrap_or_default();
        util::fs::atomic_write(&path, &text).map_err(io_error("failed to write", &path))
    }

    /// A fresh directory under `tmp/` for work in progress (removed as debris if we die).
    pub fn temp_dir(&self, _lock: &WriteLock, prefix: &str) -> Result<PathBuf> {
        let path = self
            .paths
            .tmp()
            .join(format!("{prefix}-{}", util::ids::random_hex(8)));
        fs::create_dir_all(&path).map_err(io_error("failed to create", &path))?;
        Ok(path)
    }

    /// Removes a directory tree of the store: first renamed into `tmp/` (one atomic step, so a
    /// kill in the middle leaves debris for the next writer to clear, never half a layer,
    /// container or volume in place), then deleted. A missing path is not an error.
    pub fn remove_tree(&self, _lock: &WriteLock, path: &Path) -> Result<()> {
        let trash = self
            .paths
            .tmp()
            .join(format!("trash-{}", util::ids::random_hex(8)));
        match fs::rename(path, &trash) {
            Ok(()) => util::fs::remove_all(&trash).map_err(io_error("failed to remove", &trash)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StorageError::Io {
                action: "failed to remove",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Reads and parses a JSON blob.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, digest: &Digest) -> Result<T> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(|source| StorageError::Corrupt {
            path: self.paths.blob(digest),
            source,
        })
    }
}

#[cfg(test)]
mod tests;
