//! `system check`: every blob hashes to its name, every name reaches whole documents, every
//! layer a manifest needs is unpacked. `--repair` removes what is broken, never what is valid.

use std::io;

use fs_err as fs;

use super::{Result, Store, WriteLock, names};
use crate::oci::Digest;
use crate::oci::digest::Hasher;
use crate::oci::image::{ImageConfig, Manifest};
use crate::util;

/// What a check found, and what a repair did.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Problems found, one sentence each.
    pub problems: Vec<String>,
    /// What `--repair` removed.
    pub repaired: Vec<String>,
    /// Objects checked.
    pub blobs: usize,
    /// Layers checked.
    pub layers: usize,
    /// Index entries checked.
    pub images: usize,
}

impl Store {
    /// Verifies the store; with `repair`, removes broken blobs, layers and index entries, then
    /// collects what they leave unreferenced.
    pub fn check(&self, lock: &WriteLock, repair: bool) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let mut bad_blobs = Vec::new();
        for digest in self.list_blobs()? {
            report.blobs += 1;
            match self.verify_blob(&digest) {
                Ok(actual) if actual == digest => {}
                Ok(actual) => {
                    report.problems.push(format!(
                        "blob `{digest}` is corrupt: its content hashes to `{actual}`"
                    ));
                    bad_blobs.push(digest);
                }
                Err(error) => {
                    report
                        .problems
                        .push(format!("blob `{digest}` cannot be read: {error}"));
                    bad_blobs.push(digest);
                }
            }
        }
        let mut bad_layers = Vec::new();
        for chain in self.list_layers()? {
            report.layers += 1;
            let complete = self
                .load_layer_meta(&chain)
                .is_ok_and(|m| m.chain_id == chain)
                && self.paths.layer_diff(&chain).is_dir();
            if !complete {
                report
                    .problems
                    .push(format!("layer `{chain}` is incomplete"));
                bad_layers.push(chain);
            }
        }
        let mut index = self.load_index()?;
        let mut broken_entries = Vec::new();
        for entry in &index.manifests {
            report.images += 1;
            let name = names::entry_name(entry).unwrap_or("<none>").to_owned();
            if let Err(why) = self.check_image(&entry.digest, &bad_blobs, &bad_layers) {
                report.problems.push(format!(
                    "image `{name}` ({}) is broken: {why}",
                    entry.digest
                ));
                broken_entries.push(entry.digest.clone());
            }
        }
        if let Ok(entries) = fs::read_dir(self.paths.tmp()) {
            let debris = entries.count();
            if debris > 0 {
                report
                    .problems
                    .push(format!("{debris} leftover temporary entries in tmp/"));
            }
        }
        if repair {
            for digest in &bad_blobs {
                self.remove_blob(lock, digest)?;
                report
                    .repaired
                    .push(format!("removed corrupt blob `{digest}`"));
            }
            for chain in &bad_layers {
                self.remove_layer(lock, chain)?;
                report
                    .repaired
                    .push(format!("removed incomplete layer `{chain}`"));
            }
            if !broken_entries.is_empty() {
                index
                    .manifests
                    .retain(|e| !broken_entries.contains(&e.digest));
                self.save_index(lock, &index)?;
                for digest in &broken_entries {
                    report
                        .repaired
                        .push(format!("removed broken image `{digest}` from the index"));
                }
            }
            let gc = self.collect_garbage(lock, &[])?;
            for digest in gc.blobs.iter().chain(&gc.layers) {
                report
                    .repaired
                    .push(format!("removed unreferenced `{digest}`"));
            }
            for entry in fs::read_dir(self.paths.tmp())
                .into_iter()
                .flatten()
                .flatten()
            {
                let _ = util::fs::remove_all(&entry.path());
            }
        }
        Ok(report)
    }

    fn verify_blob(&self, digest: &Digest) -> io::Result<Digest> {
        let mut hasher = Hasher::new(io::sink());
        let mut file = fs::File::open(self.paths.blob(digest))?;
        io::copy(&mut file, &mut hasher)?;
        Ok(hasher.finish().0)
    }

    fn check_image(
        &self,
        manifest: &Digest,
        bad_blobs: &[Digest],
        bad_layers: &[Digest],
    ) -> std::result::Result<(), String> {
        let usable = |digest: &Digest| {
            if bad_blobs.contains(digest) {
                Err(format!("blob `{digest}` is corrupt"))
            } else if !self.blob_exists(digest) {
                Err(format!("blob `{digest}` is missing"))
            } else {
                Ok(())
            }
        };
        usable(manifest)?;
        let document: Manifest = self.read_json(manifest).map_err(|e| e.to_string())?;
        usable(&document.config.digest)?;
        for layer in &document.layers {
            usable(&layer.digest)?;
        }
        let config: ImageConfig = self
            .read_json(&document.config.digest)
            .map_err(|e| e.to_string())?;
        if config.rootfs.diff_ids.len() != document.layers.len() {
            return Err("the manifest and the config disagree on the number of layers".to_owned());
        }
        let mut parent: Option<Digest> = None;
        for diff_id in &config.rootfs.diff_ids {
            let chain = Digest::chain(parent.as_ref(), diff_id);
            if bad_layers.contains(&chain) || !self.layer_exists(&chain) {
                return Err(format!("layer `{chain}` is not unpacked"));
            }
            parent = Some(chain);
        }
        Ok(())
    }
}
