//! Build cache records: a build step's key names the layer it made (`build-cache/<key>.json`),
//! and `RUN --mount=type=cache` directories live in `build-cache/mounts/`. Garbage collection
//! keeps what the records need; `builder prune` drops records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

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

/// How many instances of one cache mount are tried before waiting for the last.
const MAX_CACHE_INSTANCES: usize = 64;

/// `sharing=` of a cache mount, for [`Store::lease_cache_mount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMountSharing {
    /// Concurrent users share the directory.
    Shared,
    /// A concurrent user gets another instance.
    Private,
    /// A concurrent user waits.
    Locked,
}

/// A cache mount directory in use by one RUN step; its lock is released on drop.
#[derive(Debug)]
pub struct CacheMountLease {
    path: PathBuf,
    _lock: fs_err::File,
}

impl CacheMountLease {
    /// The directory to mount.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file of a cache mount instance directory: `<dir>.lock`.
fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// Blocks until `operation` on the lock file `path` succeeds.
fn lock_file(path: &Path, operation: FlockOperation) -> Result<fs_err::File> {
    super::lock::lock_file(path, operation)
        .and_then(|file| file.ok_or_else(|| std::io::ErrorKind::WouldBlock.into()))
        .map_err(io_error("failed to lock", path))
}

/// `operation` (non-blocking) on the lock file of `dir`; `None` when another holder is in
/// the way.
fn try_lock_file(dir: &Path, operation: FlockOperation) -> Result<Option<fs_err::File>> {
    let path = lock_path(dir);
    super::lock::lock_file(&path, operation).map_err(io_error("failed to lock", &path))
}

impl Store {
    fn build_cache_dir(&self) -> PathBuf {
        self.paths.root().join("build-cache")
    }

    /// The directory of instance `instance` of a `RUN --mount=type=cache` (by its hashed
    /// id): the first is `mounts/<id>`, further ones (made for `sharing=private` or while the
    /// first is locked) `mounts/<id>.<n>`.
    fn build_cache_mount(&self, hashed_id: &str, instance: usize) -> PathBuf {
        let name = match instance {
            0 => hashed_id.to_owned(),
            n => format!("{hashed_id}.{n}"),
        };
        self.build_cache_dir().join("mounts").join(name)
    }

    /// Takes an instance of the cache mount `hashed_id` for one RUN step, as BuildKit's
    /// `sharing=` says, and holds it until the lease is dropped. Each instance has a lock file
    /// beside it (`<dir>.lock`), which other builds see too:
    /// - [`CacheMountSharing::Shared`]: a shared `flock` on the first instance not locked
    ///   exclusively, so concurrent shared users use the same directory;
    /// - [`CacheMountSharing::Locked`]: an exclusive `flock` on a free instance, else waits for
    ///   the first one;
    /// - [`CacheMountSharing::Private`]: an exclusive `flock` on a free instance, else a new
    ///   instance (BuildKit creates a new empty cache rather than waiting).
    ///
    /// A missing instance is made by `seed`, which fills a fresh directory (content, owner and
    /// mode of the cache's root); instances are created one at a time under `<id>.create`, and
    /// renamed into place once complete.
    pub fn lease_cache_mount(
        &self,
        hashed_id: &str,
        sharing: CacheMountSharing,
        seed: &dyn Fn(&Path) -> std::io::Result<()>,
    ) -> Result<CacheMountLease> {
        let mounts = self.build_cache_dir().join("mounts");
        fs_err::create_dir_all(&mounts).map_err(io_error("failed to create", &mounts))?;
        let (try_op, wait_op) = match sharing {
            CacheMountSharing::Shared => (
                FlockOperation::NonBlockingLockShared,
                FlockOperation::LockShared,
            ),
            _ => (
                FlockOperation::NonBlockingLockExclusive,
                FlockOperation::LockExclusive,
            ),
        };
        let mut instance = 0;
        let lock = loop {
            let path = self.build_cache_mount(hashed_id, instance);
            let exists = path.exists();
            // A locked mount waits for the first instance when every existing one is busy.
            if instance > 0 && !exists && sharing == CacheMountSharing::Locked {
                instance = 0;
                break lock_file(&lock_path(&self.build_cache_mount(hashed_id, 0)), wait_op)?;
            }
            match try_lock_file(&path, try_op)? {
                Some(lock) => break lock,
                None if instance < MAX_CACHE_INSTANCES => instance += 1,
                None => break lock_file(&lock_path(&path), wait_op)?,
            }
        };
        let path = self.build_cache_mount(hashed_id, instance);
        if !path.exists() {
            let create = mounts.join(format!("{hashed_id}.create"));
            let _creating = lock_file(&create, FlockOperation::LockExclusive)?;
            if !path.exists() {
                let staging = mounts.join(format!("{hashed_id}.new-{}", util::ids::random_hex(8)));
                fs_err::create_dir(&staging).map_err(io_error("failed to create", &staging))?;
                let seeded = seed(&staging)
                    .map_err(io_error("failed to prepare cache mount", &staging))
                    .and_then(|()| {
                        fs_err::rename(&staging, &path).map_err(io_error("failed to create", &path))
                    });
                if let Err(error) = seeded {
                    let _ = fs_err::remove_dir_all(&staging);
                    return Err(error);
                }
            }
        }
        Ok(CacheMountLease { path, _lock: lock })
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
