//! The build cache's keys: a step's key hashes the parent's key, the step as evaluated, and
//! for COPY/ADD a digest of the sources' content, modes and owners (never mtimes). The
//! records themselves are the store's (`storage::build_cache`), so that garbage collection
//! keeps their layers.

use sha2::{Digest as _, Sha256};

pub use crate::storage::build_cache::CachedLayer;
use crate::storage::{StorageError, Store, WriteLock};

/// The key of a step: a hash of its parts, in order.
pub fn key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The directory of a `RUN --mount=type=cache,id=…`.
pub fn mount_dir(store: &Store, id: &str) -> std::path::PathBuf {
    store.build_cache_mount(&key(&[id]))
}

/// The layer cached under `key`, if it is still in the store.
pub fn lookup(store: &Store, key: &str) -> Option<CachedLayer> {
    store.build_cache_lookup(key)
}

/// Remembers `layer` under `key`.
pub fn store(
    store: &Store,
    lock: &WriteLock,
    key: &str,
    layer: &CachedLayer,
) -> Result<(), StorageError> {
    store.build_cache_store(lock, key, layer)
}
