//! `image import`: a root filesystem tarball becomes a one-layer image.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};

use super::archive::host_architecture;
use super::ops::register;
use super::{ImageError, Result, changes};
use crate::oci::image::{ContainerConfig, Descriptor, History, ImageConfig, Manifest, RootFs};
use crate::oci::media_type;
use crate::oci::{Digest, Reference};
use crate::storage::unpack::UnpackOptions;
use crate::storage::{self, Store, WriteLock};

/// Options of `image import`.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Where the tarball came from, for the history comment (`-` for stdin).
    pub source_name: String,
    /// The name to give the image.
    pub reference: Option<Reference>,
    /// `--change` instructions.
    pub changes: Vec<String>,
    /// `--message`.
    pub message: Option<String>,
    /// How layers are unpacked here.
    pub unpack: UnpackOptions,
}

/// Imports `input` (a tar, optionally gzip/zstd compressed); returns the image ID.
pub fn import(
    store: &Store,
    lock: &WriteLock,
    input: impl Read,
    options: &ImportOptions,
) -> Result<Digest> {
    let mut config = ContainerConfig::default();
    for change in &options.changes {
        changes::apply(&mut config, change)?;
    }
    let result = import_inner(store, lock, input, options, config);
    if result.is_err() {
        let _ = store.collect_garbage(lock, &[]);
    }
    result
}

fn import_inner(
    store: &Store,
    lock: &WriteLock,
    input: impl Read,
    options: &ImportOptions,
    config: ContainerConfig,
) -> Result<Digest> {
    let read_error = |source: io::Error| ImageError::Read {
        path: options.source_name.clone().into(),
        source,
    };
    // The layer is stored uncompressed, so its blob digest is its diff ID.
    let mut reader =
        storage::decompress(BufReader::with_capacity(256 * 1024, input)).map_err(read_error)?;
    let mut writer = store.blob_writer(lock)?;
    io::copy(&mut reader, &mut writer).map_err(read_error)?;
    let (diff_id, size) = writer.commit(None)?;
    store
        .unpack_layer(lock, &diff_id, None, Some(&diff_id), &options.unpack)
        .map_err(|error| match error {
            storage::StorageError::Unpack { source, .. } => ImageError::Archive {
                source_name: options.source_name.clone(),
                reason: source.to_string(),
            },
            other => other.into(),
        })?;
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let message = options
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {}", options.source_name));
    let mut extra = serde_json::Map::new();
    extra.insert("comment".to_owned(), message.clone().into());
    let image_config = ImageConfig {
        created: Some(created.clone()),
        author: None,
        architecture: host_architecture().to_owned(),
        os: "linux".to_owned(),
        variant: None,
        config: Some(config),
        rootfs: RootFs {
            kind: "layers".to_owned(),
            diff_ids: vec![diff_id.clone()],
        },
        history: vec![History {
            created: Some(created),
            comment: Some(message),
            ..History::default()
        }],
        extra,
    };
    let config_bytes = serde_json::to_vec(&image_config).unwrap_or_default();
    let config_digest = store.write_blob(lock, &config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_owned()),
        config: Descriptor::new(
            media_type::OCI_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: vec![Descriptor::new(media_type::OCI_LAYER, diff_id, size)],
        annotations: BTreeMap::new(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let manifest_digest = store.write_blob(lock, &manifest_bytes)?;
    let descriptor = Descriptor::new(
        media_type::OCI_MANIFEST,
        manifest_digest,
        manifest_bytes.len() as u64,
    );
    let names: Vec<Reference> = options.reference.iter().cloned().collect();
    register(store, lock, &descriptor, &names)?;
    Ok(config_digest)
}
