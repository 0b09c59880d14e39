//! `pull`: manifest (list) → this platform's manifest → config → layer blobs, downloaded in
//! parallel and verified while they stream into the store → layers unpacked in order, after the
//! network runtime is gone. The caller names the image (`image::ops::register`); until then
//! nothing refers to what was stored, so a failed pull leaves no image behind.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;

use futures_util::StreamExt as _;
use reqwest::Method;

use super::RegistryError;
use super::client::{Client, ClientOptions, SCHEMA1_TYPES, read_limited};
use super::endpoint::{self, Endpoint, PullSources};
use super::reporter::{PullEvent, PullReporter};
use super::short_name::{Candidates, Origin};
use crate::oci::image::{Descriptor, ImageConfig, Index, Manifest, Platform};
use crate::oci::{Digest, Reference, media_type};
use crate::storage::unpack::UnpackOptions;
use crate::storage::{StorageError, Store, WriteLock};

/// How many blobs download at once (Docker's default `max-concurrent-downloads`).
pub const DEFAULT_JOBS: usize = 3;
/// Progress is reported at most once per this many bytes of a layer.
const PROGRESS_STEP: u64 = 512 * 1024;

/// When a command that needs an image pulls it (`run`, `create` and `build`'s `--pull`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Ask the registry every time, so that a moved tag is followed.
    Always,
    /// Pull only what the store lacks (Docker's default).
    #[default]
    Missing,
    /// Work offline: a missing image is an error.
    Never,
}

/// Options of a pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to take from a manifest list.
    pub platform: Platform,
    /// Credentials.
    pub client: ClientOptions,
    /// How layers are unpacked.
    pub unpack: UnpackOptions,
    /// Parallel downloads.
    pub jobs: usize,
}

/// What a pull stored.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The name the image was found under (one of the candidates).
    pub reference: Reference,
    /// The digest the reference resolved to (of the manifest list when there was one), as
    /// Docker prints it after `Digest:`.
    pub digest: Digest,
    /// The image manifest now in the store, to register under a name.
    pub manifest: Descriptor,
    /// The image ID (config digest).
    pub image_id: Digest,
    /// How many blobs were downloaded (0: everything was there).
    pub downloaded: usize,
}

/// This machine's platform, as OCI names it (`linux/amd64`, `linux/arm64/v8`).
pub fn host_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        other => (other, None),
    };
    Platform {
        architecture: architecture.to_owned(),
        os: "linux".to_owned(),
        variant: variant.map(str::to_owned),
    }
}

/// Parses `--platform`: `os/arch[/variant]`, or `arch` alone (Linux).
pub fn parse_platform(text: &str) -> Result<Platform, String> {
    let parts: Vec<&str> = text.trim().split('/').collect();
    let (os, architecture, variant) = match parts.as_slice() {
        [arch] => ("linux", *arch, None),
        [os, arch] => (*os, *arch, None),
        [os, arch, variant] => (*os, *arch, Some(*variant)),
        _ => {
            return Err(format!(
                "invalid platform `{text}`: expected os/arch[/variant]"
            ));
        }
    };
    if os.is_empty() || architecture.is_empty() || variant.is_some_and(str::is_empty) {
        return Err(format!(
            "invalid platform `{text}`: expected os/arch[/variant]"
        ));
    }
    let (architecture, variant) = normalise(
        &architecture.to_ascii_lowercase(),
        variant.map(str::to_ascii_lowercase).as_deref(),
    );
    Ok(Platform {
        architecture,
        os: os.to_ascii_lowercase(),
        variant,
    })
}

/// containerd's normalisation: `x86_64` → `amd64`, `aarch64` → `arm64` (variant `v8`),
/// `armhf` → `arm/v7`, `armel` → `arm/v6`.
fn normalise(architecture: &str, variant: Option<&str>) -> (String, Option<String>) {
    let (architecture, variant) = match (architecture, variant) {
        ("x86_64" | "x86-64" | "amd64", variant) => ("amd64", variant.filter(|v| *v != "v1")),
        ("aarch64" | "arm64", None | Some("8" | "v8")) => ("arm64", Some("v8")),
        ("aarch64" | "arm64", variant) => ("arm64", variant),
        ("armhf", _) => ("arm", Some("v7")),
        ("armel", _) => ("arm", Some("v6")),
        ("arm", None) => ("arm", Some("v7")),
        ("i386" | "i686", variant) => ("386", variant),
        (architecture, variant) => (architecture, variant),
    };
    (architecture.to_owned(), variant.map(str::to_owned))
}

/// Platform as `os/arch[/variant]`.
pub fn platform_text(platform: &Platform) -> String {
    match &platform.variant {
        Some(variant) => format!("{}/{}/{variant}", platform.os, platform.architecture),
        None => format!("{}/{}", platform.os, platform.architecture),
    }
}

/// The entry of a manifest list for `wanted`: same OS and architecture, and the same variant,
/// or for 32-bit ARM the highest lower variant (a v7 machine runs v6 and v5 code).
pub fn select_platform<'a>(index: &'a Index, wanted: &Platform) -> Option<&'a Descriptor> {
    let (wanted_arch, wanted_variant) = normalise(&wanted.architecture, wanted.variant.as_deref());
    let variant_number = |v: &Option<String>| {
        v.as_deref()
            .and_then(|v| v.strip_prefix('v'))
            .and_then(|n| n.parse::<u32>().ok())
    };
    let mut best: Option<(&Descriptor, u32)> = None;
    for entry in &index.manifests {
        let Some(platform) = &entry.platform else {
            continue;
        };
        if !media_type::is_manifest(&entry.media_type) && !entry.media_type.is_empty() {
            continue;
        }
        let (arch, variant) = normalise(&platform.architecture, platform.variant.as_deref());
        if platform.os != wanted.os || arch != wanted_arch {
            continue;
        }
        let rank = if variant == wanted_variant {
            u32::MAX
        } else if arch == "arm" {
            match (variant_number(&variant), variant_number(&wanted_variant)) {
                (Some(have), Some(want)) if have < want => have,
                _ => continue,
            }
        } else {
            continue;
        };
        if best.is_none_or(|(_, r)| rank > r) {
            best = Some((entry, rank));
        }
    }
    best.map(|(entry, _)| entry)
}

/// What a manifest document is.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Index,
    Manifest(String),
}

/// Classifies a manifest by its Content-Type, else its `mediaType`, else its shape.
fn classify(bytes: &[u8], content_type: &str, shown: &str) -> Result<Kind, RegistryError> {
    let bad = |reason: String| RegistryError::BadManifest {
        reference: shown.to_owned(),
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| bad(format!("not JSON: {error}")))?;
    let declared = json.get("mediaType").and_then(serde_json::Value::as_str);
    let known = |t: &str| {
        media_type::is_index(t) || media_type::is_manifest(t) || SCHEMA1_TYPES.contains(&t)
    };
    let media = if known(content_type) {
        Some(content_type)
    } else {
        declared
    };
    let schema_version = json
        .get("schemaVersion")
        .and_then(serde_json::Value::as_u64);
    if schema_version == Some(1) || media.is_some_and(|m| SCHEMA1_TYPES.contains(&m)) {
        return Err(RegistryError::Schema1 {
            reference: shown.to_owned(),
        });
    }
    match media {
        Some(m) if media_type::is_index(m) => Ok(Kind::Index),
        Some(m) if media_type::is_manifest(m) => Ok(Kind::Manifest(m.to_owned())),
        Some(m) => Err(bad(format!("unsupported media type `{m}`"))),
        None if json.get("manifests").is_some() => Ok(Kind::Index),
        None if json.get("config").is_some() => {
            Ok(Kind::Manifest(media_type::OCI_MANIFEST.to_owned()))
        }
        None => Err(bad("neither an image manifest nor an index".to_owned())),
    }
}

/// The documents of the image being pulled, once its blobs are in the store.
struct Fetched {
    reference: Reference,
    digest: Digest,
    manifest_bytes: Vec<u8>,
    media_type: String,
    manifest: Manifest,
    config: ImageConfig,
    new_blobs: HashSet<Digest>,
}

/// Pulls the first of `candidates` that a registry has into the store (under `lock`). Names
/// nothing: the caller registers [`PullReport::manifest`] under [`PullReport::reference`].
pub fn pull(
    store: &Store,
    lock: &WriteLock,
    candidates: &Candidates,
    options: &PullOptions,
    reporter: &mut dyn PullReporter,
) -> Result<PullReport, RegistryError> {
    // Network only while this runtime lives; layers are unpacked after it is gone.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RegistryError::Runtime)?;
    let fetched = runtime.block_on(fetch(store, lock, candidates, options, reporter))?;
    drop(runtime);

    let mut parent: Option<Digest> = None;
    for (layer, diff_id) in fetched
        .manifest
        .layers
        .iter()
        .zip(&fetched.config.rootfs.diff_ids)
    {
        let chain = Digest::chain(parent.as_ref(), diff_id);
        // A blob fetched now is checked against its diff ID by unpacking it (or by the
        // existing layer's check); one that was there was checked when it came.
        if !store.layer_exists(&chain) || fetched.new_blobs.contains(&layer.digest) {
            reporter.layer(&layer.digest, PullEvent::Extracting);
            store
                .unpack_layer(
                    lock,
                    &layer.digest,
                    parent.as_ref(),
                    Some(diff_id),
                    &options.unpack,
                )
                .map_err(|error| match error {
                    StorageError::DigestMismatch { actual, .. } => RegistryError::Verification {
                        kind: "layer",
                        digest: layer.digest.clone(),
                        reason: format!(
                            "it unpacks to `{actual}`, but the image config says `{diff_id}`"
                        ),
                    },
                    other => other.into(),
                })?;
            reporter.layer(&layer.digest, PullEvent::PullComplete);
        }
        parent = Some(chain);
    }
    let digest = store.write_blob(lock, &fetched.manifest_bytes)?;
    Ok(PullReport {
        reference: fetched.reference,
        digest: fetched.digest,
        manifest: Descriptor::new(
            &fetched.media_type,
            digest,
            fetched.manifest_bytes.len() as u64,
        ),
        image_id: fetched.manifest.config.digest.clone(),
        downloaded: fetched.new_blobs.len(),
    })
}

async fn fetch(
    store: &Store,
    lock: &WriteLock,
    candidates: &Candidates,
    options: &PullOptions,
    reporter: &mut dyn PullReporter,
) -> Result<Fetched, RegistryError> {
    let (reference, client, bytes, content_type) = open_first(candidates, options).await?;
    let reference = &reference;
    let shown = reference.to_string();
    reporter.start(reference);
    let top = Digest::of(&bytes);
    if let Some(expected) = reference.digest() {
        if *expected != top {
            return Err(RegistryError::Verification {
                kind: "manifest",
                digest: expected.clone(),
                reason: format!("the registry sent a document hashing to `{top}`"),
            });
        }
    }
    let (manifest_bytes, media_type) = match classify(&bytes, &content_type, &shown)? {
        Kind::Manifest(media) => (bytes, media),
        Kind::Index => {
            let index: Index =
                serde_json::from_slice(&bytes).map_err(|error| RegistryError::BadManifest {
                    reference: shown.clone(),
                    reason: error.to_string(),
                })?;
            let chosen = select_platform(&index, &options.platform).ok_or_else(|| {
                RegistryError::NoPlatform {
                    reference: shown.clone(),
                    platform: platform_text(&options.platform),
                    available: index
                        .manifests
                        .iter()
                        .filter_map(|m| m.platform.as_ref().map(platform_text))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })?;
            let (child, child_type) = client.manifest(&chosen.digest.to_string(), &shown).await?;
            let actual = Digest::of(&child);
            if actual != chosen.digest {
                return Err(RegistryError::Verification {
                    kind: "manifest",
                    digest: chosen.digest.clone(),
                    reason: format!("the registry sent a document hashing to `{actual}`"),
                });
            }
            match classify(&child, &child_type, &shown)? {
                Kind::Manifest(media) => (child, media),
                Kind::Index => {
                    return Err(RegistryError::BadManifest {
                        reference: shown,
                        reason: "a manifest list inside a manifest list".to_owned(),
                    });
                }
            }
        }
    };
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|error| RegistryError::BadManifest {
            reference: shown.clone(),
            reason: error.to_string(),
        })?;
    let config = fetch_config(&client, store, lock, &manifest.config, &shown).await?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(RegistryError::BadManifest {
            reference: shown,
            reason: format!(
                "the manifest lists {} layers, its config {}",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        });
    }

    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    for layer in &manifest.layers {
        if !seen.insert(layer.digest.clone()) {
            continue;
        }
        if store.blob_exists(&layer.digest) {
            reporter.layer(&layer.digest, PullEvent::AlreadyExists);
        } else {
            reporter.layer(&layer.digest, PullEvent::Pulling);
            missing.push(layer);
        }
    }
    let reporter = RefCell::new(reporter);
    let mut downloads = futures_util::stream::iter(
        missing
            .iter()
            .map(|layer| download(&client, store, lock, layer, &reporter)),
    )
    .buffer_unordered(options.jobs.max(1));
    while let Some(result) = downloads.next().await {
        // Returning drops the other downloads: their unfinished blobs are discarded.
        result?;
    }
    drop(downloads);
    let new_blobs = missing.iter().map(|layer| layer.digest.clone()).collect();
    Ok(Fetched {
        reference: reference.clone(),
        digest: top,
        manifest_bytes,
        media_type,
        manifest,
        config,
        new_blobs,
    })
}

/// The manifest of the first candidate a registry has, the client connected there, and that
/// candidate. A search tries every registry whatever the error (as podman does); a failure
/// names each of them.
async fn open_first(
    candidates: &Candidates,
    options: &PullOptions,
) -> Result<(Reference, Client, Vec<u8>, String), RegistryError> {
    let mut tried = Vec::new();
    for reference in &candidates.names {
        let shown = reference.to_string();
        let target = reference.pull_target();
        let opened = match endpoint::pull_sources(&options.client.registries, reference) {
            Ok(sources) => open_manifest(&sources, &target, &shown, &options.client).await,
            Err(error) => Err(error),
        };
        match opened {
            Ok((client, bytes, content_type)) => {
                return Ok((reference.clone(), client, bytes, content_type));
            }
            Err(error) if candidates.origin == Origin::Search => {
                tracing::info!(candidate = %shown, error = %error, "short name not found there");
                tried.push(format!("`{shown}` ({})", short_reason(&error)));
            }
            Err(error) => return Err(error),
        }
    }
    Err(RegistryError::ShortName {
        name: candidates.text.clone(),
        tried: tried.join(", "),
        file: options
            .client
            .registries
            .search_source
            .clone()
            .unwrap_or_default(),
    })
}

/// Why a search registry failed, on one line and without repeating the name.
fn short_reason(error: &RegistryError) -> String {
    match error {
        RegistryError::ManifestUnknown { .. } => "manifest unknown".to_owned(),
        RegistryError::Unauthorized { .. } => "unauthorized".to_owned(),
        other => chain(other),
    }
}

/// The manifest of `target` from the first source that has it (mirrors first); the client
/// stays connected there for the blobs.
async fn open_manifest(
    sources: &PullSources,
    target: &str,
    shown: &str,
    options: &ClientOptions,
) -> Result<(Client, Vec<u8>, String), RegistryError> {
    let attempt = |endpoint: &Endpoint| {
        let endpoint = endpoint.clone();
        async move {
            let client = Client::connect_with(&endpoint, "pull", options).await?;
            let (bytes, content_type) = client.manifest(target, shown).await?;
            Ok::<_, RegistryError>((client, bytes, content_type))
        }
    };
    let mut failed = Vec::new();
    for mirror in &sources.mirrors {
        match attempt(mirror).await {
            Ok(found) => {
                tracing::debug!(mirror = %mirror.name(), "pulling from a mirror");
                return Ok(found);
            }
            Err(error) => {
                tracing::info!(mirror = %mirror.name(), error = %error, "mirror failed");
                failed.push(format!("`{}`: {}", mirror.name(), chain(&error)));
            }
        }
    }
    match attempt(&sources.registry).await {
        Err(error) if !failed.is_empty() => Err(RegistryError::Mirrors {
            reference: shown.to_owned(),
            mirrors: failed.join("; "),
            registry: sources.registry.name(),
            source: Box::new(error),
        }),
        result => result,
    }
}

/// An error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

/// The config blob: from the store, or fetched, verified and stored.
async fn fetch_config(
    client: &Client,
    store: &Store,
    lock: &WriteLock,
    descriptor: &Descriptor,
    shown: &str,
) -> Result<ImageConfig, RegistryError> {
    let bytes = if store.blob_exists(&descriptor.digest) {
        store.read_blob(&descriptor.digest)?
    } else {
        let response = client
            .send(
                Method::GET,
                &format!("blobs/{}", descriptor.digest),
                |request| request,
            )
            .await?;
        if !response.status().is_success() {
            return Err(client.fail(response).await);
        }
        let url = response.url().to_string();
        let bytes = read_limited(response, &url).await?;
        let actual = Digest::of(&bytes);
        if actual != descriptor.digest {
            return Err(RegistryError::Verification {
                kind: "config",
                digest: descriptor.digest.clone(),
                reason: format!("its content hashes to `{actual}`"),
            });
        }
        store.write_blob(lock, &bytes)?;
        bytes
    };
    serde_json::from_slice(&bytes).map_err(|error| RegistryError::BadManifest {
        reference: shown.to_owned(),
        reason: format!("its config `{}` is invalid: {error}", descriptor.digest),
    })
}

/// Streams one layer blob into the store, checking its size and digest on the way.
async fn download(
    client: &Client,
    store: &Store,
    lock: &WriteLock,
    layer: &Descriptor,
    reporter: &RefCell<&mut dyn PullReporter>,
) -> Result<(), RegistryError> {
    let failed = |reason: String| RegistryError::Verification {
        kind: "layer",
        digest: layer.digest.clone(),
        reason,
    };
    let mut response = client
        .send(Method::GET, &format!("blobs/{}", layer.digest), |request| {
            request
        })
        .await?;
    if !response.status().is_success() {
        return Err(client.fail(response).await);
    }
    let url = response.url().to_string();
    let mut writer = store.blob_writer(lock)?;
    let mut reported = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| RegistryError::Request {
            url: url.clone(),
            source,
        })?
    {
        if writer.bytes() + chunk.len() as u64 > layer.size {
            return Err(failed(format!(
                "the registry sent more than the {} bytes the manifest announces",
                layer.size
            )));
        }
        writer
            .write_all(&chunk)
            .map_err(|source| RegistryError::Write {
                url: url.clone(),
                source,
            })?;
        if writer.bytes() - reported >= PROGRESS_STEP {
            reported = writer.bytes();
            reporter.borrow_mut().layer(
                &layer.digest,
                PullEvent::Downloading {
                    current: reported,
                    total: layer.size,
                },
            );
        }
    }
    if writer.bytes() != layer.size {
        return Err(failed(format!(
            "the registry sent {} bytes, the manifest announces {}",
            writer.bytes(),
            layer.size
        )));
    }
    writer
        .commit(Some(&layer.digest))
        .map_err(|error| match error {
            StorageError::DigestMismatch { actual, .. } => {
                failed(format!("its content hashes to `{actual}`"))
            }
            other => other.into(),
        })?;
    reporter
        .borrow_mut()
        .layer(&layer.digest, PullEvent::DownloadComplete);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(byte: char, os: &str, arch: &str, variant: Option<&str>) -> Descriptor {
        let mut descriptor = Descriptor::new(
            media_type::OCI_MANIFEST,
            Digest::from_hex(&byte.to_string().repeat(64)).unwrap(),
            1,
        );
        descriptor.platform = Some(Platform {
            architecture: arch.to_owned(),
            os: os.to_owned(),
            variant: variant.map(str::to_owned),
        });
        descriptor
    }

    fn index(entries: Vec<Descriptor>) -> Index {
        Index {
            manifests: entries,
            ..Index::default()
        }
    }

    fn pick(index: &Index, platform: &str) -> Option<char> {
        select_platform(index, &parse_platform(platform).unwrap())
            .map(|d| d.digest.hex().chars().next().unwrap())
    }

    #[test]
    fn selects_os_architecture_and_variant() {
        let list = index(vec![
            entry('a', "unknown", "unknown", None),
            entry('b', "linux", "arm", Some("v6")),
            entry('c', "linux", "arm", Some("v7")),
            entry('d', "linux", "arm64", Some("v8")),
            entry('e', "linux", "amd64", None),
            entry('f', "windows", "amd64", None),
        ]);
        assert_eq!(pick(&list, "linux/amd64"), Some('e'));
        assert_eq!(pick(&list, "amd64"), Some('e'));
        assert_eq!(pick(&list, "linux/x86_64"), Some('e'));
        assert_eq!(pick(&list, "linux/arm64"), Some('d'));
        assert_eq!(pick(&list, "linux/aarch64/v8"), Some('d'));
        assert_eq!(pick(&list, "linux/arm/v7"), Some('c'));
        assert_eq!(pick(&list, "linux/arm/v6"), Some('b'));
        assert_eq!(pick(&list, "linux/arm/v5"), None);
        assert_eq!(pick(&list, "windows/amd64"), Some('f'));
        assert_eq!(pick(&list, "linux/s390x"), None);
    }

    #[test]
    fn lower_arm_variants_run_on_higher_ones() {
        let list = index(vec![
            entry('b', "linux", "arm", Some("v5")),
            entry('c', "linux", "arm", Some("v6")),
        ]);
        assert_eq!(pick(&list, "linux/arm/v7"), Some('c'));
        // arm64 entries without a variant are v8.
        let list = index(vec![entry('d', "linux", "arm64", None)]);
        assert_eq!(pick(&list, "linux/arm64/v8"), Some('d'));
    }

    #[test]
    fn host_platform_is_linux() {
        let host = host_platform();
        assert_eq!(host.os, "linux");
        assert!(!host.architecture.is_empty());
        assert!(parse_platform("linux/amd64/v2/x").is_err());
        assert!(parse_platform("linux/").is_err());
    }

    #[test]
    fn classifies_documents() {
        let shown = "x";
        let manifest = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        assert_eq!(
            classify(manifest, "application/json", shown).unwrap(),
            Kind::Manifest(media_type::OCI_MANIFEST.to_owned())
        );
        assert_eq!(
            classify(manifest, media_type::DOCKER_MANIFEST, shown).unwrap(),
            Kind::Manifest(media_type::DOCKER_MANIFEST.to_owned())
        );
        let list = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert_eq!(classify(list, "", shown).unwrap(), Kind::Index);
        let schema1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        assert!(matches!(
            classify(schema1, SCHEMA1_TYPES[0], shown),
            Err(RegistryError::Schema1 { .. })
        ));
        assert!(matches!(
            classify(b"{not json", "", shown),
            Err(RegistryError::BadManifest { .. })
        ));
    }
}
