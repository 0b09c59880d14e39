//! Build cache records: a build step's key names the layer it made (`build-cache/<key>.json`),
//! and `RUN --mount=type=cache` directories live in `build-cache/mounts/`. Garbage collection
//! keeps what the records need; `builder prune` drops records.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Result, Store, WriteLock, io_error};
use crate::oci::Digest;
use crate::util;

/// A layer a build step made.
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

impl Store {
    fn build_cache_dir(&self) -> PathBuf {
        self.paths.root().join("build-cache")
    }

    /// The directory of a `RUN --mount=type=cache` (by its hashed id).
    pub fn build_cache_mount(&self, hashed_id: &str) -> PathBuf {
        self.build_cache_dir().join("mounts").join(hashed_id)
    }

    /// The layer cached under `key`, if it, its parents and its blob are still here.
    pub fn build_cache_lookup(&self, key: &str) -> Option<CachedLayer> {
        let text = fs_err::read(self.build_cache_dir().join(format!("{key}.json"))).ok()?;
        let layer: CachedLayer = serde_json::from_slice(&text).ok()?;
        (self.layer_exists(&layer.chain_id) && self.blob_exists(&layer.blob)).then_some(layer)
    }

    /// Remembers `layer` under `key`.
    pub fn build_cache_store(
        &self,
        _lock: &WriteLock,
        key: &str,
        layer: &CachedLayer,
    ) -> Result<()> {
        let dir = self.build_cache_dir();
        fs_err::create_dir_all(&dir).map_err(io_error("failed to create", &dir))?;
        let path = dir.join(format!("{key}.json"));
        let text = serde_json::to_vec(layer).unwrap_or_default();
        util::fs::atomic_write(&path, &text).map_err(io_error("failed to write", &path))
    }

    /// Every cache record, with its key.
    pub fn build_cache_records(&self) -> Vec<(String, CachedLayer)> {
        let Ok(entries) = fs_err::read_dir(self.build_cache_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = name.strip_suffix(".json")?.to_owned();
                let layer = serde_json::from_slice(&fs_err::read(entry.path()).ok()?).ok()?;
                Some((key, layer))
            })
            .collect()
    }

    /// The layers (with every parent) and blobs that cache records need.
    pub fn build_cache_needs(&self) -> (BTreeSet<Digest>, BTreeSet<Digest>) {
        let mut layers = BTreeSet::new();
        let mut blobs = BTreeSet::new();
        for (_, layer) in self.build_cache_records() {
            blobs.insert(layer.blob.clone());
            let mut chain = Some(layer.chain_id);
            while let Some(id) = chain.take() {
                if !layers.insert(id.clone()) {
                    break;
                }
                chain = self.load_layer_meta(&id).ok().and_then(|meta| meta.parent);
            }
        }
        (layers, blobs)
    }

    /// Drops the records `keep` refuses (and with `mounts`, the cache mounts); the layers go
    /// at the next garbage collection. Returns the records dropped.
    pub fn build_cache_remove(
        &self,
        lock: &WriteLock,
        mounts: bool,
        keep: impl Fn(&CachedLayer) -> bool,
    ) -> Result<usize> {
        let mut dropped = 0;
        for (key, layer) in self.build_cache_records() {
            if keep(&layer) {
                continue;
            }
            let path = self.build_cache_dir().join(format!("{key}.json"));
            fs_err::remove_file(&path).map_err(io_error("failed to remove", &path))?;
            dropped += 1;
        }
        if mounts {
            let dir = self.build_cache_dir().join("mounts");
            if dir.exists() {
                self.remove_tree(lock, &dir)?;
            }
        }
        Ok(dropped)
    }
}
