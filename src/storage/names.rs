//! Names in `index.json`: each entry is a manifest descriptor, named by the
//! `org.opencontainers.image.ref.name` annotation (the full reference) or unnamed (a dangling
//! image). Invariant: a manifest has either one unnamed entry or one or more named ones.
//!
//! Entries also carry berth's own annotations caching what `images` shows (ID, size,
//! created), so listing reads one file.

use crate::oci::Digest;
use crate::oci::image::{ANNOTATION_REF_NAME, Descriptor, Index};

/// Cached image ID (config digest) on an index entry.
pub const ANNOTATION_ID: &str = "io.berth.image.id";
/// Cached image size (bytes of layer content) on an index entry.
pub const ANNOTATION_SIZE: &str = "io.berth.image.size";
/// Creation time (standard OCI annotation), cached from the config.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// The name of an entry, as written (a full reference), if any.
pub fn entry_name(entry: &Descriptor) -> Option<&str> {
    entry
        .annotations
        .get(ANNOTATION_REF_NAME)
        .map(String::as_str)
}

/// A copy of `entry` named `name` (or unnamed).
pub fn with_name(entry: &Descriptor, name: Option<&str>) -> Descriptor {
    let mut entry = entry.clone();
    match name {
        Some(name) => entry
            .annotations
            .insert(ANNOTATION_REF_NAME.to_owned(), name.to_owned()),
        None => entry.annotations.remove(ANNOTATION_REF_NAME),
    };
    entry
}

/// Points `name` at `manifest` (a descriptor with berth's annotations), dropping the name from
/// whatever had it. Returns the digest of the manifest the name was taken from, if any.
pub fn set_name(index: &mut Index, manifest: &Descriptor, name: &str) -> Option<Digest> {
    let previous = remove_name(index, name);
    index
        .manifests
        .retain(|e| !(e.digest == manifest.digest && entry_name(e).is_none()));
    index.manifests.push(with_name(manifest, Some(name)));
    previous.map(|d| d.digest)
}

/// Removes the entry named `name`; returns it. Does not add an unnamed entry.
pub fn remove_name(index: &mut Index, name: &str) -> Option<Descriptor> {
    let position = index
        .manifests
        .iter()
        .position(|e| entry_name(e) == Some(name))?;
    Some(index.manifests.remove(position))
}

/// Adds an unnamed entry for `manifest` unless it already has an entry.
pub fn ensure_present(index: &mut Index, manifest: &Descriptor) {
    if !index.manifests.iter().any(|e| e.digest == manifest.digest) {
        index.manifests.push(with_name(manifest, None));
    }
}

/// Removes every entry of `manifest`.
pub fn remove_manifest(index: &mut Index, manifest: &Digest) {
    index.manifests.retain(|e| e.digest != *manifest);
}

/// Names `manifest` with `name`, keeping the previous holder of the name as a dangling image.
pub fn tag(index: &mut Index, manifest: &Descriptor, name: &str) {
    let previous = index
        .manifests
        .iter()
        .find(|e| entry_name(e) == Some(name))
        .cloned();
    set_name(index, manifest, name);
    if let Some(previous) = previous {
        ensure_present(index, &with_name(&previous, None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(byte: char) -> Descriptor {
        let digest = Digest::from_hex(&byte.to_string().repeat(64)).unwrap();
        Descriptor::new(crate::oci::media_type::OCI_MANIFEST, digest, 1)
    }

    #[test]
    fn tag_moves_name_and_keeps_old_image_dangling() {
        let mut index = Index::default();
        let (a, b) = (descriptor('a'), descriptor('b'));
        tag(&mut index, &a, "docker.io/library/x:latest");
        assert_eq!(index.manifests.len(), 1);
        tag(&mut index, &b, "docker.io/library/x:latest");
        assert_eq!(index.manifests.len(), 2);
        let a_entry = index
            .manifests
            .iter()
            .find(|e| e.digest == a.digest)
            .unwrap();
        assert_eq!(entry_name(a_entry), None);
        // Naming the dangling image removes its unnamed entry.
        tag(&mut index, &a, "docker.io/library/y:1");
        assert_eq!(index.manifests.len(), 2);
        assert!(index.manifests.iter().all(|e| entry_name(e).is_some()));
    }
}
