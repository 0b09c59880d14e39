//! From what the user typed (a name, a short or full ID, a digest) to an image, and the listing
//! that `images` shows.

use chrono::{DateTime, Utc};

use super::{ImageError, Result};
use crate::oci::image::{Descriptor, Index};
use crate::oci::{Digest, Reference};
use crate::storage::Store;
use crate::storage::names::{self, ANNOTATION_CREATED, ANNOTATION_ID, ANNOTATION_SIZE};
use crate::util;

/// One image as `images` sees it: an OCI manifest and all names pointing at it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    /// The image ID (config digest).
    pub id: Digest,
    /// The manifest, as in the index (without a name annotation).
    pub manifest: Descriptor,
    /// The names, parsed; unparseable names written by other tools are skipped.
    pub names: Vec<Reference>,
    /// Creation time.
    pub created: Option<DateTime<Utc>>,
    /// Bytes of layer content.
    pub size: u64,
}

/// How a user's text matched an image.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The image.
    pub image: ImageSummary,
    /// The name that matched, when the text was a name rather than an ID.
    pub by_name: Option<Reference>,
}

/// Every image in the index, grouped by manifest, in index order.
pub fn list(store: &Store) -> Result<Vec<ImageSummary>> {
    let index = store.load_index()?;
    Ok(summaries(store, &index))
}

/// Groups the entries of `index` into images.
pub fn summaries(store: &Store, index: &Index) -> Vec<ImageSummary> {
    let mut images: Vec<ImageSummary> = Vec::new();
    for entry in &index.manifests {
        let name = names::entry_name(entry).and_then(|n| Reference::parse(n).ok());
        if let Some(existing) = images
            .iter_mut()
            .find(|i| i.manifest.digest == entry.digest)
        {
            existing.names.extend(name);
            continue;
        }
        let Some(mut summary) = summarize(store, entry) else {
            tracing::debug!(manifest = %entry.digest, "skipping unreadable image");
            continue;
        };
        summary.names.extend(name);
        images.push(summary);
    }
    images
}

/// Builds a summary from an index entry: berth's cached annotations when present, the
/// documents otherwise (an index written by another tool).
fn summarize(store: &Store, entry: &Descriptor) -> Option<ImageSummary> {
    let cached_id = entry
        .annotations
        .get(ANNOTATION_ID)
        .and_then(|t| Digest::parse(t).ok());
    let cached_size = entry
        .annotations
        .get(ANNOTATION_SIZE)
        .and_then(|t| t.parse().ok());
    let manifest = names::with_name(entry, None);
    if let (Some(id), Some(size)) = (cached_id, cached_size) {
        let created = entry
            .annotations
            .get(ANNOTATION_CREATED)
            .and_then(|t| parse_time(t));
        return Some(ImageSummary {
            id,
            manifest,
            names: Vec::new(),
            created,
            size,
        });
    }
    let document: crate::oci::image::Manifest = store.read_json(&entry.digest).ok()?;
    let config: crate::oci::image::ImageConfig = store.read_json(&document.config.digest).ok()?;
    let size = super::ops::content_size(store, &config);
    Some(ImageSummary {
        id: document.config.digest,
        manifest,
        names: Vec::new(),
        created: config.created.as_deref().and_then(parse_time),
        size,
    })
}

/// Parses an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Finds the image that `text` names: a reference (`alpine`, `a/b:tag`, `a@sha256:…`), a
/// full ID (`sha256:…` or 64 hex), or a unique ID prefix.
pub fn resolve(store: &Store, text: &str) -> Result<Resolved> {
    let index = store.load_index()?;
    resolve_in(store, &index, text)
}

/// [`resolve`], else the first of `others` that is stored: the names a short name may have
/// been pulled under (its alias, its search registries'), computed only when Docker's rule
/// finds nothing. The index is read once for all of them. Only `others` failing is an outer
/// error.
pub fn resolve_or<E>(
    store: &Store,
    text: &str,
    others: impl FnOnce() -> std::result::Result<Vec<Reference>, E>,
) -> std::result::Result<Result<Resolved>, E> {
    let index = match store.load_index() {
        Ok(index) => index,
        Err(error) => return Ok(Err(error.into())),
    };
    let found = resolve_in(store, &index, text);
    if !matches!(found, Err(ImageError::NotFound(_))) {
        return Ok(found);
    }
    for name in others()? {
        if let Ok(resolved) = resolve_in(store, &index, &name.to_string()) {
            return Ok(Ok(resolved));
        }
    }
    Ok(found)
}

/// [`resolve`] against an index already loaded.
pub fn resolve_in(store: &Store, index: &Index, text: &str) -> Result<Resolved> {
    let images = summaries(store, index);
    if let Some(hex) = text.strip_prefix("sha256:") {
        return by_id_prefix(&images, hex, text);
    }
    match Reference::parse(text) {
        Ok(reference) => {
            if let Some(image) = find_by_name(&images, &reference) {
                return Ok(Resolved {
                    image,
                    by_name: Some(reference),
                });
            }
            if util::ids::is_hex_prefix(text) {
                if let Ok(found) = by_id_prefix(&images, text, text) {
                    return Ok(found);
                }
            }
            Err(ImageError::NotFound(text.to_owned()))
        }
        Err(error) if util::ids::is_hex_prefix(text) && text.len() == 64 => {
            by_id_prefix(&images, text, text).map_err(|_| ImageError::Reference(error))
        }
        Err(error) => Err(ImageError::Reference(error)),
    }
}

fn find_by_name(images: &[ImageSummary], reference: &Reference) -> Option<ImageSummary> {
    if let Some(digest) = reference.digest() {
        // name@digest: the manifest digest, under that repository.
        return images
            .iter()
            .find(|i| {
                i.manifest.digest == *digest
                    && (i.names.is_empty() || i.names.iter().any(|n| n.name() == reference.name()))
            })
            .cloned();
    }
    images
        .iter()
        .find(|i| i.names.iter().any(|n| n == reference))
        .cloned()
}

fn by_id_prefix(images: &[ImageSummary], hex: &str, text: &str) -> Result<Resolved> {
    if !util::ids::is_hex_prefix(hex) {
        return Err(ImageError::NotFound(text.to_owned()));
    }
    let mut matches = images.iter().filter(|i| i.id.hex().starts_with(hex));
    let first = matches
        .next()
        .ok_or_else(|| ImageError::NotFound(text.to_owned()))?;
    if matches.any(|other| other.id != first.id) {
        return Err(ImageError::Ambiguous(text.to_owned()));
    }
    Ok(Resolved {
        image: first.clone(),
        by_name: None,
    })
}
