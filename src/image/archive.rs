//! `save` and `load`: docker-archive (what `docker save` and `podman save` write) and
//! oci-archive, streamed: every file of the archive goes straight into the blob store while
//! it is hashed, and nothing larger than a JSON document is held in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, Read, Write};

use serde::{Deserialize, Serialize};

use super::ops::register;
use super::resolve::{ImageSummary, resolve};
use super::{ImageError, Result};
use crate::oci::image::{Descriptor, ImageConfig, Index, Manifest};
use crate::oci::media_type::{self, Compression};
use crate::oci::{Digest, Reference};
use crate::storage::unpack::UnpackOptions;
use crate::storage::{self, Store, WriteLock};

/// One entry of a docker-archive's `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// What `load` did, one event per line of Docker's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadEvent {
    /// `Loaded image: REF`.
    Named(String),
    /// `Loaded image ID: sha256:…`.
    Unnamed(Digest),
    /// A name moved away from an older image.
    Renamed {
        /// The name (familiar).
        name: String,
        /// The older image's ID.
        old: Digest,
    },
}

/// Files of the archive: JSON documents in memory, everything else as blobs.
#[derive(Default)]
struct Staged {
    documents: BTreeMap<String, Vec<u8>>,
    blobs: BTreeMap<String, (Digest, u64)>,
    /// Symlink members: Docker before 25 links a repeated layer to its first copy.
    links: BTreeMap<String, String>,
}

impl Staged {
    /// The blob stored for an archive path, following symlink members within the archive
    /// (lexically: an absolute target or one that climbs out of the archive is not followed).
    fn blob(&self, path: &str) -> Option<(Digest, u64)> {
        let mut path = path.trim_start_matches("./").to_owned();
        for _ in 0..16 {
            if let Some(found) = self.blobs.get(&path) {
                return Some(found.clone());
            }
            let target = self.links.get(&path)?;
            if target.starts_with('/') {
                return None;
            }
            let mut parts: Vec<&str> = path.split('/').collect();
            parts.pop();
            for part in target.split('/') {
                match part {
                    "" | "." => {}
                    ".." => {
                        parts.pop()?;
                    }
                    other => parts.push(other),
                }
            }
            path = parts.join("/");
        }
        None
    }
}

const DOCUMENT_LIMIT: u64 = 8 << 20;

/// `image load`: reads a docker-archive or oci-archive (optionally gzip/zstd compressed).
pub fn load(
    store: &Store,
    lock: &WriteLock,
    input: impl Read,
    source_name: &str,
    options: &UnpackOptions,
) -> Result<Vec<LoadEvent>> {
    let result = load_inner(store, lock, input, source_name, options);
    if result.is_err() {
        // Blobs and layers of a refused archive are unreferenced: leave the store as it was.
        let _ = store.collect_garbage(lock, &[]);
    }
    result.map_err(|error| match error {
        ImageError::Storage(error) => ImageError::Archive {
            source_name: source_name.to_owned(),
            reason: error_chain(&error),
        },
        other => other,
    })
}

/// An error and its causes on one line, as `a: b: c`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn load_inner(
    store: &Store,
    lock: &WriteLock,
    input: impl Read,
    source_name: &str,
    options: &UnpackOptions,
) -> Result<Vec<LoadEvent>> {
    let invalid = |reason: String| ImageError::Archive {
        source_name: source_name.to_owned(),
        reason,
    };
    let reader = storage::decompress(BufReader::with_capacity(256 * 1024, input))
        .map_err(|e| invalid(e.to_string()))?;
    let staged = stage(store, lock, reader).map_err(|error| match error {
        ImageError::Storage(storage::StorageError::DigestMismatch { expected, actual }) => {
            invalid(format!("blob `{expected}` has digest `{actual}`"))
        }
        ImageError::Read { source, .. } => invalid(format!("cannot read the tar stream: {source}")),
        other => other,
    })?;
    if let Some(text) = staged.documents.get("manifest.json") {
        let entries: Vec<ArchiveManifest> =
            serde_json::from_slice(text).map_err(|e| invalid(format!("manifest.json: {e}")))?;
        let mut events = Vec::new();
        for entry in entries {
            events.extend(load_docker_image(
                store, lock, &staged, &entry, options, &invalid,
            )?);
        }
        Ok(events)
    } else if let Some(text) = staged.documents.get("index.json") {
        let index: Index =
            serde_json::from_slice(text).map_err(|e| invalid(format!("index.json: {e}")))?;
        let mut events = Vec::new();
        for descriptor in &index.manifests {
            events.extend(load_oci_image(store, lock, descriptor, options, &invalid)?);
        }
        Ok(events)
    } else {
        Err(invalid(
            "it has neither manifest.json (docker-archive) nor index.json (oci-archive)".to_owned(),
        ))
    }
}

/// Streams every regular file of the tar into the store.
fn stage(store: &Store, lock: &WriteLock, reader: impl Read) -> Result<Staged> {
    let read_error = |source: io::Error| ImageError::Read {
        path: "-".into(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    let mut staged = Staged::default();
    let mut saw_entry = false;
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        saw_entry = true;
        if entry.header().entry_type().is_symlink() {
            let path = entry
                .path()
                .map_err(read_error)?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned();
            if let Some(target) = entry.link_name().map_err(read_error)? {
                staged
                    .links
                    .insert(path, target.to_string_lossy().into_owned());
            }
            continue;
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(read_error)?
            .to_string_lossy()
            .into_owned();
        let path = path.trim_start_matches("./").to_owned();
        let size = entry.header().size().map_err(read_error)?;
        let is_document = matches!(
            path.as_str(),
            "manifest.json" | "index.json" | "oci-layout" | "repositories"
        ) || path.ends_with("/json")
            || path.ends_with("/VERSION");
        if is_document && size <= DOCUMENT_LIMIT {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(read_error)?;
            staged.documents.insert(path, bytes);
            continue;
        }
        // An OCI layout names blobs by digest: verify it while streaming.
        let expected = path
            .strip_prefix("blobs/sha256/")
            .and_then(|hex| Digest::from_hex(hex).ok());
        let mut writer = store.blob_writer(lock)?;
        io::copy(&mut entry, &mut writer).map_err(read_error)?;
        let (digest, written) = writer.commit(expected.as_ref())?;
        if written != size {
            return Err(read_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated entry",
            )));
        }
        staged.blobs.insert(path, (digest, written));
    }
    if !saw_entry {
        return Err(read_error(io::Error::new(
            io::ErrorKind::InvalidData,
            "empty or not a tar archive",
        )));
    }
    Ok(staged)
}

fn load_docker_image(
    store: &Store,
    lock: &WriteLock,
    staged: &Staged,
    entry: &ArchiveManifest,
    options: &UnpackOptions,
    invalid: &dyn Fn(String) -> ImageError,
) -> Result<Vec<LoadEvent>> {
    let find = |path: &str| {
        staged
            .blob(path)
            .ok_or_else(|| invalid(format!("`{path}` is named in manifest.json but missing")))
    };
    // Configs may have been kept as documents if they were named like one.
    let (config_digest, config_size) = match staged.documents.get(&entry.config) {
        Some(bytes) => (store.write_blob(lock, bytes)?, bytes.len() as u64),
        None => find(&entry.config)?,
    };
    let config: ImageConfig = store
        .read_json(&config_digest)
        .map_err(|_| invalid(format!("`{}` is not an image config", entry.config)))?;
    if config.rootfs.diff_ids.len() != entry.layers.len() {
        return Err(invalid(format!(
            "config has {} layers, manifest.json lists {}",
            config.rootfs.diff_ids.len(),
            entry.layers.len()
        )));
    }
    let mut layers = Vec::new();
    let mut parent: Option<Digest> = None;
    for (path, diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
        let (blob, size) = find(path)?;
        let meta = store.unpack_layer(lock, &blob, parent.as_ref(), Some(diff_id), options)?;
        let compression = sniff_blob(store, &blob)?;
        let media = match compression {
            Compression::None => media_type::OCI_LAYER,
            Compression::Gzip => media_type::OCI_LAYER_GZIP,
            Compression::Zstd => media_type::OCI_LAYER_ZSTD,
        };
        layers.push(Descriptor::new(media, blob, size));
        parent = Some(meta.chain_id);
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_owned()),
        config: Descriptor::new(media_type::OCI_CONFIG, config_digest.clone(), config_size),
        layers,
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let digest = store.write_blob(lock, &bytes)?;
    let descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest, bytes.len() as u64);
    let names: Vec<Reference> = entry
        .repo_tags
        .iter()
        .flatten()
        .map(|tag| Reference::parse(tag))
        .collect::<std::result::Result<_, _>>()?;
    finish(store, lock, &descriptor, &config_digest, &names)
}

fn load_oci_image(
    store: &Store,
    lock: &WriteLock,
    descriptor: &Descriptor,
    options: &UnpackOptions,
    invalid: &dyn Fn(String) -> ImageError,
) -> Result<Vec<LoadEvent>> {
    let missing = |digest: &Digest| invalid(format!("blob `{digest}` is missing"));
    if media_type::is_index(&descriptor.media_type) {
        // A nested index (multi-platform): take the entries for this machine.
        let nested: Index = store
            .read_json(&descriptor.digest)
            .map_err(|_| missing(&descriptor.digest))?;
        let mut events = Vec::new();
        for child in nested.manifests.iter().filter(|d| platform_matches(d)) {
            let mut child = child.clone();
            child.annotations.extend(descriptor.annotations.clone());
            events.extend(load_oci_image(store, lock, &child, options, invalid)?);
        }
        return Ok(events);
    }
    let manifest: Manifest = store
        .read_json(&descriptor.digest)
        .map_err(|_| missing(&descriptor.digest))?;
    let config: ImageConfig = store
        .read_json(&manifest.config.digest)
        .map_err(|_| missing(&manifest.config.digest))?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(invalid(format!(
            "manifest `{}` and its config disagree on the layers",
            descriptor.digest
        )));
    }
    let mut parent: Option<Digest> = None;
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        if !store.blob_exists(&layer.digest) {
            return Err(missing(&layer.digest));
        }
        let meta =
            store.unpack_layer(lock, &layer.digest, parent.as_ref(), Some(diff_id), options)?;
        parent = Some(meta.chain_id);
    }
    let names: Vec<Reference> = [
        crate::oci::image::ANNOTATION_REF_NAME,
        crate::oci::image::ANNOTATION_CONTAINERD_NAME,
    ]
    .iter()
    .filter_map(|key| descriptor.annotations.get(*key))
    .filter_map(|name| {
        Reference::parse(name)
            .ok()
            .filter(|_| name.contains(['/', ':']))
    })
    .take(1)
    .collect();
    let plain = Descriptor::new(
        &descriptor.media_type,
        descriptor.digest.clone(),
        descriptor.size,
    );
    finish(store, lock, &plain, &manifest.config.digest, &names)
}

fn platform_matches(descriptor: &Descriptor) -> bool {
    descriptor
        .platform
        .as_ref()
        .is_none_or(|p| p.os == "linux" && p.architecture == host_architecture())
}

/// The OCI name of this machine's architecture.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn finish(
    store: &Store,
    lock: &WriteLock,
    manifest: &Descriptor,
    id: &Digest,
    names: &[Reference],
) -> Result<Vec<LoadEvent>> {
    let mut events = Vec::new();
    let before = super::resolve::list(store)?;
    for name in names {
        if let Some(old) = before
            .iter()
            .find(|i| i.names.contains(name) && i.id != *id)
        {
            events.push(LoadEvent::Renamed {
                name: name.familiar(),
                old: old.id.clone(),
            });
        }
    }
    register(store, lock, manifest, names)?;
    if names.is_empty() {
        events.push(LoadEvent::Unnamed(id.clone()));
    }
    events.extend(names.iter().map(|n| LoadEvent::Named(n.familiar())));
    Ok(events)
}

fn sniff_blob(store: &Store, digest: &Digest) -> Result<Compression> {
    let mut head = [0u8; 4];
    let mut file = store.open_blob(digest)?;
    let read = file.read(&mut head).map_err(|source| ImageError::Read {
        path: store.paths().blob(digest),
        source,
    })?;
    Ok(Compression::sniff(&head[..read]))
}

/// Archive formats `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `docker save`'s format.
    Docker,
    /// An OCI image layout in a tar.
    Oci,
}

/// `image save`: writes the images named by `texts` to `output`.
pub fn save(
    store: &Store,
    texts: &[String],
    format: ArchiveFormat,
    output: impl Write,
) -> Result<()> {
    let mut images: Vec<(ImageSummary, Option<Reference>)> = Vec::new();
    for text in texts {
        let resolved = resolve(store, text)?;
        images.push((resolved.image, resolved.by_name));
    }
    let mut builder = tar::Builder::new(output);
    builder.mode(tar::HeaderMode::Deterministic);
    let write_error = |source: io::Error| ImageError::Write {
        path: "-".into(),
        source,
    };
    let mut written: BTreeSet<String> = BTreeSet::new();
    match format {
        ArchiveFormat::Docker => {
            let mut entries = Vec::new();
            for (image, by_name) in &images {
                let manifest: Manifest = store.read_json(&image.manifest.digest)?;
                let config: ImageConfig = store.read_json(&manifest.config.digest)?;
                let config_path = format!("{}.json", manifest.config.digest.hex());
                add_blob(
                    store,
                    &mut builder,
                    &mut written,
                    &config_path,
                    &manifest.config.digest,
                )?;
                let mut layer_paths = Vec::new();
                let mut parent: Option<Digest> = None;
                for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
                    let path = format!("{}/layer.tar", diff_id.hex());
                    let chain = Digest::chain(parent.as_ref(), diff_id);
                    if written.insert(path.clone()) {
                        add_layer_tar(store, &mut builder, &path, layer, &chain)?;
                    }
                    layer_paths.push(path);
                    parent = Some(chain);
                }
                let tags: Vec<String> = match by_name {
                    Some(name) => vec![name.familiar()],
                    None => image
                        .names
                        .iter()
                        .filter(|n| n.digest().is_none())
                        .map(Reference::familiar)
                        .collect(),
                };
                entries.push(ArchiveManifest {
                    config: config_path,
                    repo_tags: (!tags.is_empty()).then_some(tags),
                    layers: layer_paths,
                });
            }
            let text = serde_json::to_vec(&entries).unwrap_or_default();
            add_bytes(&mut builder, "manifest.json", &text).map_err(write_error)?;
        }
        ArchiveFormat::Oci => {
            let mut index = Index::default();
            for (image, by_name) in &images {
                let manifest: Manifest = store.read_json(&image.manifest.digest)?;
                for digest in std::iter::once(&image.manifest.digest)
                    .chain(std::iter::once(&manifest.config.digest))
                    .chain(manifest.layers.iter().map(|l| &l.digest))
                {
                    let path = format!("blobs/sha256/{}", digest.hex());
                    add_blob(store, &mut builder, &mut written, &path, digest)?;
                }
                let mut descriptor = image.manifest.clone();
                descriptor.annotations.clear();
                let names: Vec<&Reference> = match by_name {
                    Some(name) => vec![name],
                    None => image.names.iter().collect(),
                };
                if names.is_empty() {
                    index.manifests.push(descriptor.clone());
                }
                for name in names {
                    let mut named = descriptor.clone();
                    named.annotations.insert(
                        crate::oci::image::ANNOTATION_REF_NAME.to_owned(),
                        name.to_string(),
                    );
                    index.manifests.push(named);
                }
            }
            add_bytes(
                &mut builder,
                "oci-layout",
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            )
            .map_err(write_error)?;
            let text = serde_json::to_vec(&index).unwrap_or_default();
            add_bytes(&mut builder, "index.json", &text).map_err(write_error)?;
        }
    }
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(write_error)?;
    Ok(())
}

fn header(path: &str, size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    let _ = header.set_path(path);
    header.set_cksum();
    header
}

fn add_bytes<W: Write>(builder: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> io::Result<()> {
    let mut header = header(path, bytes.len() as u64);
    builder.append_data(&mut header, path, bytes)
}

fn add_blob<W: Write>(
    store: &Store,
    builder: &mut tar::Builder<W>,
    written: &mut BTreeSet<String>,
    path: &str,
    digest: &Digest,
) -> Result<()> {
    if !written.insert(path.to_owned()) {
        return Ok(());
    }
    let size = store.blob_size(digest)?;
    let file = store.open_blob(digest)?;
    let mut header = header(path, size);
    builder
        .append_data(&mut header, path, file)
        .map_err(|source| ImageError::Write {
            path: "-".into(),
            source,
        })
}

/// docker-archive layers are plain tars: copy uncompressed blobs, decompress the others
/// (their uncompressed size is in the layer's metadata).
fn add_layer_tar<W: Write>(
    store: &Store,
    builder: &mut tar::Builder<W>,
    path: &str,
    layer: &Descriptor,
    chain: &Digest,
) -> Result<()> {
    let write_error = |source: io::Error| ImageError::Write {
        path: "-".into(),
        source,
    };
    let file = store.open_blob(&layer.digest)?;
    let reader = storage::decompress(BufReader::new(file)).map_err(write_error)?;
    let size = match Compression::of_layer(&layer.media_type) {
        Some(Compression::None) => store.blob_size(&layer.digest)?,
        _ => store.load_layer_meta(chain)?.tar_size,
    };
    let mut header = header(path, size);
    builder
        .append_data(&mut header, path, reader)
        .map_err(write_error)
}
