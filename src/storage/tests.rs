//! Store tests against a temporary directory.

use std::io::Write;

use super::*;
use crate::oci::image::Index;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("root")).unwrap();
    (dir, store)
}

#[test]
fn blobs_are_content_addressed_and_verified() {
    let (_dir, store) = store();
    let lock = store.lock().unwrap();
    let digest = store.write_blob(&lock, b"hello").unwrap();
    assert_eq!(digest, Digest::of(b"hello"));
    assert_eq!(store.read_blob(&digest).unwrap(), b"hello");

    let mut writer = store.blob_writer(&lock).unwrap();
    writer.write_all(b"other").unwrap();
    let error = writer.commit(Some(&digest)).unwrap_err();
    assert!(
        matches!(error, StorageError::DigestMismatch { .. }),
        "{error}"
    );
    assert_eq!(store.list_blobs().unwrap(), vec![digest]);
}

#[test]
fn the_write_lock_clears_debris_of_killed_writers() {
    let (_dir, store) = store();
    fs::write(store.paths().tmp().join("blob-dead"), b"half").unwrap();
    fs::create_dir_all(store.paths().tmp().join("layer-dead/diff/x")).unwrap();
    let _lock = store.lock().unwrap();
    assert_eq!(fs::read_dir(store.paths().tmp()).unwrap().count(), 0);
}

#[test]
fn layers_unpack_once_and_gc_removes_unreferenced_ones() {
    let (_dir, store) = store();
    let lock = store.lock().unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "file", &b"abc"[..])
        .unwrap();
    let layer = builder.into_inner().unwrap();
    let blob = store.write_blob(&lock, &layer).unwrap();
    let options = unpack::UnpackOptions::default();
    let meta = store
        .unpack_layer(&lock, &blob, None, Some(&blob), &options)
        .unwrap();
    assert_eq!(meta.chain_id, blob);
    assert_eq!(meta.size, 3);
    assert_eq!(
        fs::read(store.paths().layer_diff(&meta.chain_id).join("file")).unwrap(),
        b"abc"
    );
    // A wrong diff ID is refused and leaves no layer behind.
    let wrong = Digest::of(b"wrong");
    let error = store
        .unpack_layer(&lock, &blob, Some(&wrong), Some(&wrong), &options)
        .unwrap_err();
    assert!(
        matches!(error, StorageError::DigestMismatch { .. }),
        "{error}"
    );
    assert_eq!(store.list_layers().unwrap().len(), 1);
    // Nothing references the blob or the layer: gc takes both.
    store.save_index(&lock, &Index::default()).unwrap();
    let report = store.collect_garbage(&lock, &[]).unwrap();
    assert_eq!(report.layers, vec![meta.chain_id]);
    assert_eq!(report.blobs, vec![blob]);
    assert!(store.list_layers().unwrap().is_empty());
}

/// `sharing=` of cache mounts: shared users meet in one directory, a private user gets a new
/// instance while it is in use, a locked user takes a free instance; a new instance is seeded
/// once, and the lock goes with the lease.
#[test]
fn cache_mount_leases_follow_the_sharing_mode() {
    use super::build_cache::CacheMountSharing::{Locked, Private, Shared};
    let (_dir, store) = store();
    let seeds = std::cell::Cell::new(0);
    let seed = |dir: &Path| {
        seeds.set(seeds.get() + 1);
        fs_err::write(dir.join("seed"), "s")
    };
    let first = store.lease_cache_mount("id", Shared, &seed).unwrap();
    let second = store.lease_cache_mount("id", Shared, &seed).unwrap();
    assert_eq!(first.path(), second.path());
    assert_eq!(seeds.get(), 1);
    assert!(first.path().join("seed").is_file());
    // In use (even shared): a private user gets a fresh instance.
    let private = store.lease_cache_mount("id", Private, &seed).unwrap();
    assert_ne!(private.path(), first.path());
    assert_eq!(seeds.get(), 2);
    drop((first, second));
    // The first instance is free again: a locked user takes it, and then shared users move on
    // to the free second one rather than wait.
    let locked = store.lease_cache_mount("id", Locked, &seed).unwrap();
    drop(private);
    let shared = store.lease_cache_mount("id", Shared, &seed).unwrap();
    assert_ne!(shared.path(), locked.path());
    assert_eq!(seeds.get(), 2);
    // Another id is another directory.
    let other = store.lease_cache_mount("other", Locked, &seed).unwrap();
    assert_ne!(other.path(), locked.path());
}
