//! The build cache: a step's key (the parent's key, the step as evaluated, and for COPY/ADD
//! a digest of the sources' content, modes and owners, never mtimes) names the layer it made.
//! Entries live in `build-cache/<key>.json`; `RUN --mount=type=cache` directories live in
//! `build-cache/mounts/`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::oci::Digest;
use crate::storage::{StorageError, Store, WriteLock};
use crate::util;

/// A layer a step made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedLayer {
    /// Where it is unpacked.
    pub chain_id: Digest,
    /// Its uncompressed digest.
    pub diff_id: Digest,
    /// Its (compressed) blob.
    pub blob: Digest,
    /// The blob's size.
    pub size: u64,
    /// The blob's media type (empty: gzip, as berth writes them).
    #[serde(default)]
    pub media_type: String,
}

/// The key of a step: a hash of its parts, in order.
pub fn key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn dir(store: &Store) -> PathBuf {
    store.paths().root().join("build-cache")
}

/// The directory of a `RUN --mount=type=cache,id=…`.
pub fn mount_dir(store: &Store, id: &str) -> PathBuf {
    dir(store).join("mounts").join(key(&[id]))
}

/// The layer cached under `key`, if it and its blob are still in the store.
pub fn lookup(store: &Store, key: &str) -> Option<CachedLayer> {
    let text = fs_err::read(dir(store).join(format!("{key}.json"))).ok()?;
    let layer: CachedLayer = serde_json::from_slice(&text).ok()?;
    (store.layer_exists(&layer.chain_id) && store.blob_exists(&layer.blob)).then_some(layer)
}

/// Remembers `layer` under `key`.
pub fn store(
    store: &Store,
    _lock: &WriteLock,
    key: &str,
    layer: &CachedLayer,
) -> Result<(), StorageError> {
    let dir = dir(store);
    fs_err::create_dir_all(&dir).map_err(|source| StorageError::Io {
        action: "failed to create",
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(format!("{key}.json"));
    let text = serde_json::to_vec(layer).unwrap_or_default();
    util::fs::atomic_write(&path, &text).map_err(|source| StorageError::Io {
        action: "failed to write",
        path,
        source,
    })
}
