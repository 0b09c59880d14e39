//! Tag, untag, remove, prune, inspect and history: Docker's semantics on top of the store.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::resolve::{self, ImageSummary, parse_time, resolve_in};
use super::{ImageError, Result};
use crate::oci::image::{Descriptor, ImageConfig, Manifest};
use crate::oci::{Digest, Reference};
use crate::storage::names::{self, ANNOTATION_CREATED, ANNOTATION_ID, ANNOTATION_SIZE};
use crate::storage::{Store, WriteLock};

/// Bytes of layer content of an image, from the unpacked layers' metadata.
pub fn content_size(store: &Store, config: &ImageConfig) -> u64 {
    let mut parent: Option<Digest> = None;
    let mut size = 0;
    for diff_id in &config.rootfs.diff_ids {
        let chain = Digest::chain(parent.as_ref(), diff_id);
        size += store.load_layer_meta(&chain).map_or(0, |meta| meta.size);
        parent = Some(chain);
    }
    size
}

/// The index entry for a stored manifest, with berth's cached annotations.
pub fn index_entry(store: &Store, manifest: &Descriptor) -> Result<Descriptor> {
    let document: Manifest = store.read_json(&manifest.digest)?;
    let config: ImageConfig = store.read_json(&document.config.digest)?;
    let mut entry = Descriptor::new(&manifest.media_type, manifest.digest.clone(), manifest.size);
    entry
        .annotations
        .insert(ANNOTATION_ID.to_owned(), document.config.digest.to_string());
    entry.annotations.insert(
        ANNOTATION_SIZE.to_owned(),
        content_size(store, &config).to_string(),
    );
    if let Some(created) = &config.created {
        entry
            .annotations
            .insert(ANNOTATION_CREATED.to_owned(), created.clone());
    }
    Ok(entry)
}

/// Records a stored image in the index under `names` (or unnamed when empty). A name that
/// pointed at another image moves; that image stays, dangling if it has no other name.
pub fn register(
    store: &Store,
    lock: &WriteLock,
    manifest: &Descriptor,
    names_to_set: &[Reference],
) -> Result<Descriptor> {
    let entry = index_entry(store, manifest)?;
    let mut index = store.load_index()?;
    if names_to_set.is_empty() {
        names::ensure_present(&mut index, &entry);
    }
    for name in names_to_set {
        names::tag(&mut index, &entry, &name.to_string());
    }
    store.save_index(lock, &index)?;
    Ok(entry)
}

/// `image tag SOURCE TARGET`.
pub fn tag(store: &Store, lock: &WriteLock, source: &str, target: &str) -> Result<()> {
    let target = Reference::parse(target)?;
    if target.digest().is_some() {
        return Err(ImageError::Reference(
            crate::oci::reference::ReferenceError::InvalidFormat,
        ));
    }
    let mut index = store.load_index()?;
    let resolved = resolve_in(store, &index, source)?;
    let entry = entry_of(&index, &resolved.image)?;
    names::tag(&mut index, &entry, &target.to_string());
    store.save_index(lock, &index)?;
    Ok(())
}

fn entry_of(index: &crate::oci::image::Index, image: &ImageSummary) -> Result<Descriptor> {
    index
        .manifests
        .iter()
        .find(|e| e.digest == image.manifest.digest)
        .map(|e| names::with_name(e, None))
        .ok_or_else(|| ImageError::NotFound(image.id.to_string()))
}

/// One line of `rmi` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A name was removed (familiar form).
    Untagged(String),
    /// An image or layer was deleted.
    Deleted(Digest),
}

/// Options of `image rm`.
#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    /// `-f`: remove every name, even across repositories, and images containers use.
    pub force: bool,
}

/// A container that stands on an image, for [`remove`]'s refusal.
pub struct ContainerUse {
    /// Its short ID.
    pub container: String,
    /// Whether it runs.
    pub running: bool,
}

/// `image rm TEXT`, with Docker's rules: by name untags (deleting with the last name); by ID
/// removes all names, refusing names in several repositories unless forced.
pub fn remove(
    store: &Store,
    lock: &WriteLock,
    text: &str,
    options: &RemoveOptions,
    used_by: &dyn Fn(&Digest) -> Option<ContainerUse>,
) -> Result<Vec<RemoveEvent>> {
    let mut index = store.load_index()?;
    let resolved = resolve_in(store, &index, text).map_err(|error| match error {
        ImageError::NotFound(_) => ImageError::NotFound(
            Reference::parse(text).map_or_else(|_| text.to_owned(), |r| r.familiar()),
        ),
        other => other,
    })?;
    let image = resolved.image;
    let mut events = Vec::new();
    let untag_all = match &resolved.by_name {
        Some(name) if image.names.len() > 1 => {
            names::remove_name(&mut index, &name.to_string());
            store.save_index(lock, &index)?;
            return Ok(vec![RemoveEvent::Untagged(name.familiar())]);
        }
        Some(_) => true,
        None => {
            let repositories: BTreeSet<String> = image.names.iter().map(Reference::name).collect();
            if repositories.len() > 1 && !options.force {
                return Err(ImageError::MultipleRepositories(
                    image.id.short().to_owned(),
                ));
            }
            true
        }
    };
    if !options.force {
        if let Some(user) = used_by(&image.id) {
            let image = image.id.short().to_owned();
            return Err(match &resolved.by_name {
                Some(_) => ImageError::ReferenceInUse {
                    name: text.to_owned(),
                    container: user.container,
                    image,
                },
                None => ImageError::InUse {
                    image,
                    state: if user.running { "running" } else { "stopped" },
                    container: user.container,
                },
            });
        }
    }
    if untag_all {
        for name in &image.names {
            events.push(RemoveEvent::Untagged(name.familiar()));
        }
    }
    names::remove_manifest(&mut index, &image.manifest.digest);
    store.save_index(lock, &index)?;
    events.extend(delete_unreferenced(store, lock, &image)?);
    Ok(events)
}

/// Collects garbage after an image left the index, reporting the image and its layers.
fn delete_unreferenced(
    store: &Store,
    lock: &WriteLock,
    image: &ImageSummary,
) -> Result<Vec<RemoveEvent>> {
    let still_there = resolve::list(store)?
        .iter()
        .any(|other| other.id == image.id);
    let report = store.collect_garbage(lock, &[])?;
    let mut events = Vec::new();
    if !still_there {
        events.push(RemoveEvent::Deleted(image.id.clone()));
    }
    events.extend(report.layers.into_iter().map(RemoveEvent::Deleted));
    Ok(events)
}

/// What `image prune` removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    /// `untagged: …` and `deleted: …` lines, in order.
    pub events: Vec<RemoveEvent>,
    /// Bytes freed.
    pub reclaimed: u64,
}

/// `image prune`: dangling images (no name, and no image stacked on them), or with `all`
/// every image no container uses.
pub fn prune(
    store: &Store,
    lock: &WriteLock,
    all: bool,
    in_use: &BTreeSet<Digest>,
    selected: &dyn Fn(&ImageSummary) -> bool,
) -> Result<PruneReport> {
    let images = resolve::list(store)?;
    let layer_sets: Vec<(Digest, Vec<Digest>)> = images
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                diff_ids(store, &i.manifest.digest).unwrap_or_default(),
            )
        })
        .collect();
    let has_child = |image: &ImageSummary| {
        let Some((_, mine)) = layer_sets.iter().find(|(id, _)| *id == image.id) else {
            return false;
        };
        layer_sets.iter().any(|(id, other)| {
            *id != image.id && other.len() > mine.len() && other.starts_with(mine)
        })
    };
    let victims: Vec<&ImageSummary> = images
        .iter()
        .filter(|i| !in_use.contains(&i.id))
        .filter(|i| all || (i.names.is_empty() && !has_child(i)))
        .filter(|i| selected(i))
        .collect();
    let mut report = PruneReport::default();
    if victims.is_empty() {
        return Ok(report);
    }
    let mut index = store.load_index()?;
    for image in &victims {
        for name in &image.names {
            report.events.push(RemoveEvent::Untagged(name.familiar()));
        }
        names::remove_manifest(&mut index, &image.manifest.digest);
    }
    store.save_index(lock, &index)?;
    let remaining: BTreeSet<Digest> = resolve::list(store)?.into_iter().map(|i| i.id).collect();
    for image in &victims {
        if !remaining.contains(&image.id) {
            report.events.push(RemoveEvent::Deleted(image.id.clone()));
        }
    }
    let gc = store.collect_garbage(lock, &[])?;
    report.reclaimed = gc.reclaimed;
    report
        .events
        .extend(gc.layers.into_iter().map(RemoveEvent::Deleted));
    Ok(report)
}

/// The diff IDs of a stored manifest's image.
pub fn diff_ids(store: &Store, manifest: &Digest) -> Result<Vec<Digest>> {
    let document: Manifest = store.read_json(manifest)?;
    let config: ImageConfig = store.read_json(&document.config.digest)?;
    Ok(config.rootfs.diff_ids)
}

/// The documents of one image.
#[derive(Debug, Clone)]
pub struct ImageDetails {
    /// The summary (ID, names, size).
    pub summary: ImageSummary,
    /// The manifest.
    pub manifest: Manifest,
    /// The config.
    pub config: ImageConfig,
}

/// Loads the manifest and config of a resolved image.
pub fn details(store: &Store, summary: ImageSummary) -> Result<ImageDetails> {
    let manifest: Manifest = store.read_json(&summary.manifest.digest)?;
    let config: ImageConfig = store.read_json(&manifest.config.digest)?;
    Ok(ImageDetails {
        summary,
        manifest,
        config,
    })
}

/// `image inspect`: Docker's JSON shape for one image.
pub fn inspect(store: &Store, details: &ImageDetails) -> Value {
    let config = &details.config;
    let runtime = config.config.clone().unwrap_or_default();
    let layers: Vec<String> = config
        .rootfs
        .diff_ids
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut chain: Option<Digest> = None;
    let mut lower = Vec::new();
    for diff_id in &config.rootfs.diff_ids {
        let next = Digest::chain(chain.as_ref(), diff_id);
        lower.push(store.paths().layer_diff(&next).display().to_string());
        chain = Some(next);
    }
    lower.reverse();
    let repo_tags: Vec<String> = details
        .summary
        .names
        .iter()
        .filter(|n| n.digest().is_none())
        .map(Reference::familiar)
        .collect();
    let repo_digests: Vec<String> = details
        .summary
        .names
        .iter()
        .filter_map(|n| n.digest().map(|d| format!("{}@{d}", n.familiar_name())))
        .collect();
    json!({
        "Id": details.summary.id.to_string(),
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": config.extra.get("comment").cloned().unwrap_or(Value::String(String::new())),
        "Created": config.created.clone().unwrap_or_default(),
        "DockerVersion": config.extra.get("docker_version").cloned().unwrap_or(Value::String(String::new())),
        "Author": config.author.clone().unwrap_or_default(),
        "Config": {
            "Hostname": "",
            "Domainname": "",
            "User": runtime.user.clone().unwrap_or_default(),
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "ExposedPorts": runtime.exposed_ports,
            "Tty": false,
            "OpenStdin": false,
            "StdinOnce": false,
            "Env": runtime.env,
            "Cmd": runtime.cmd,
            "Healthcheck": runtime.healthcheck,
            "Image": "",
            "Volumes": runtime.volumes,
            "WorkingDir": runtime.working_dir.clone().unwrap_or_default(),
            "Entrypoint": runtime.entrypoint,
            "OnBuild": runtime.on_build,
            "Labels": runtime.labels,
            "StopSignal": runtime.stop_signal,
            "Shell": runtime.shell,
        },
        "Architecture": config.architecture,
        "Variant": config.variant,
        "Os": config.os,
        "Size": details.summary.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": { "LowerDir": lower.join(":") },
        },
        "RootFS": { "Type": "layers", "Layers": layers },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
        "Descriptor": {
            "mediaType": details.summary.manifest.media_type,
            "digest": details.summary.manifest.digest.to_string(),
            "size": details.summary.manifest.size,
        },
    })
}

/// One row of `image history`, newest first.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    /// The image ID for the top row, `None` (`<missing>`) below it.
    pub id: Option<Digest>,
    /// When.
    pub created: Option<DateTime<Utc>>,
    /// The instruction.
    pub created_by: String,
    /// Bytes the step added.
    pub size: u64,
    /// Comment.
    pub comment: String,
}

/// `image history`: history entries matched to layers bottom-up, listed top-down.
pub fn history(store: &Store, details: &ImageDetails) -> Vec<HistoryRow> {
    let config = &details.config;
    let mut layer_sizes = Vec::new();
    let mut chain: Option<Digest> = None;
    for diff_id in &config.rootfs.diff_ids {
        let next = Digest::chain(chain.as_ref(), diff_id);
        layer_sizes.push(store.load_layer_meta(&next).map_or(0, |m| m.size));
        chain = Some(next);
    }
    let mut sizes = layer_sizes.into_iter();
    let mut rows: Vec<HistoryRow> = if config.history.is_empty() {
        // No history (some imported images): one row per layer, as Docker shows.
        sizes
            .map(|size| HistoryRow {
                id: None,
                created: config.created.as_deref().and_then(parse_time),
                created_by: String::new(),
                size,
                comment: String::new(),
            })
            .collect()
    } else {
        config
            .history
            .iter()
            .map(|entry| HistoryRow {
                id: None,
                created: entry.created.as_deref().and_then(parse_time),
                created_by: entry.created_by.clone().unwrap_or_default(),
                size: if entry.empty_layer {
                    0
                } else {
                    sizes.next().unwrap_or(0)
                },
                comment: entry.comment.clone().unwrap_or_default(),
            })
            .collect()
    };
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top.id = Some(details.summary.id.clone());
    }
    rows
}
