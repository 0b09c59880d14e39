//! The build cache's keys: a step's key hashes the parent's key, the step as evaluated, and
//! for COPY/ADD a digest of the sources' content, modes and owners (never mtimes). The
//! records themselves are the store's (`storage::build_cache`), so that garbage collection
//! keeps their layers.

use sha2::{Digest as _, Sha256};

use std::path::Path;

use super::eval::Sharing;
use crate::storage::build_cache::CacheMountSharing;
pub use crate::storage::build_cache::{CacheMountLease, CachedLayer};
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

/// Takes the directory of a `RUN --mount=type=cache,id=…` for one step, as `sharing` says
/// (see [`Store::lease_cache_mount`]). As in BuildKit, a cache is named by its id *and* its
/// base: `base` describes what a new instance starts from (`from`, `source`, `uid`, `gid`,
/// `mode`; empty for an empty directory), and `seed` makes that content.
///
/// # Errors
///
/// The lock or the directory cannot be made, or `seed` fails.
pub fn lease_mount(
    store: &Store,
    id: &str,
    base: &str,
    sharing: Sharing,
    seed: &dyn Fn(&Path) -> std::io::Result<()>,
) -> Result<CacheMountLease, StorageError> {
    let hashed = if base.is_empty() {
        key(&[id])
    } else {
        key(&[id, base])
    };
    let sharing = match sharing {
        Sharing::Shared => CacheMountSharing::Shared,
        Sharing::Private => CacheMountSharing::Private,
        Sharing::Locked => CacheMountSharing::Locked,
    };
    store.lease_cache_mount(&hashed, sharing, seed)
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
