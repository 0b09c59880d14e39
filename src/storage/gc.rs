//! Reachability: what `index.json` (and the callers' extra roots) still needs, and the removal
//! of everything else.

use std::collections::BTreeSet;

use super::{Result, Store, WriteLock};
use crate::oci::Digest;
use crate::oci::image::{ImageConfig, Manifest};

/// What a collection removed.
#[derive(Debug, Default)]
pub struct GcReport {
    /// Layer chain IDs removed, in the order removed.
    pub layers: Vec<Digest>,
    /// Blobs removed.
    pub blobs: Vec<Digest>,
    /// Bytes freed (blob sizes plus layer content).
    pub reclaimed: u64,
}

/// The blobs and layers an image needs.
#[derive(Debug, Default)]
pub struct Reachable {
    /// Blob digests.
    pub blobs: BTreeSet<Digest>,
    /// Layer chain IDs.
    pub layers: BTreeSet<Digest>,
}

impl Store {
    /// Adds what `manifest` needs to `reachable`. Missing or corrupt blobs are skipped: they
    /// are `system check`'s business, and GC must never delete more because of them.
    pub fn mark_manifest(&self, manifest: &Digest, reachable: &mut Reachable) {
        reachable.blobs.insert(manifest.clone());
        let Ok(document) = self.read_json::<Manifest>(manifest) else {
            return;
        };
        reachable.blobs.insert(document.config.digest.clone());
        reachable
            .blobs
            .extend(document.layers.iter().map(|l| l.digest.clone()));
        if let Ok(config) = self.read_json::<ImageConfig>(&document.config.digest) {
            let mut parent: Option<Digest> = None;
            for diff_id in &config.rootfs.diff_ids {
                let chain = Digest::chain(parent.as_ref(), diff_id);
                reachable.layers.insert(chain.clone());
                parent = Some(chain);
            }
        }
    }

    /// Removes every blob and layer that neither `index.json` nor `extra_layers` (layers that
    /// containers stand on) reaches. Call with the write lock held, after changing the index.
    pub fn collect_garbage(&self, lock: &WriteLock, extra_layers: &[Digest]) -> Result<GcReport> {
        let index = self.load_index()?;
        let mut reachable = Reachable::default();
        for entry in &index.manifests {
            self.mark_manifest(&entry.digest, &mut reachable);
        }
        reachable.layers.extend(extra_layers.iter().cloned());
        // Containers stand on their image's layers even after the image lost its names.
        reachable.layers.extend(self.container_layers()?);
        // The build cache keeps its layers until `builder prune`.
        let (cache_layers, cache_blobs) = self.build_cache_needs();
        reachable.layers.extend(cache_layers);
        reachable.blobs.extend(cache_blobs);
        let mut report = GcReport::default();
        // Top layers first, as Docker lists deletions.
        let mut layers = self.list_layers()?;
        layers.retain(|chain| !reachable.layers.contains(chain));
        layers.sort_by_key(|chain| std::cmp::Reverse(self.layer_depth(chain)));
        for chain in layers {
            report.reclaimed += self.load_layer_meta(&chain).map_or(0, |m| m.size);
            self.remove_layer(lock, &chain)?;
            report.layers.push(chain);
        }
        for blob in self.list_blobs()? {
            if !reachable.blobs.contains(&blob) {
                report.reclaimed += self.blob_size(&blob).unwrap_or(0);
                self.remove_blob(lock, &blob)?;
                report.blobs.push(blob);
            }
        }
        Ok(report)
    }

    fn layer_depth(&self, chain: &Digest) -> usize {
        let mut depth = 0;
        let mut current = self.load_layer_meta(chain).ok();
        while let Some(meta) = current {
            depth += 1;
            current = meta.parent.and_then(|p| self.load_layer_meta(&p).ok());
            if depth > 1000 {
                break;
            }
        }
        depth
    }
}
