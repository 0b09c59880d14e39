//! Dockerfile builds: parse (`dockerfile`), plan and evaluate the stages (`plan`, `eval`,
//! pure), run the filesystem steps (`executor`: RUN through the runtime, COPY from the
//! `context` with `copy`), remember each step's layer (`cache`), forward SSH agents (`ssh`),
//! and store the image.
//!
//! Uses: `dockerfile`, `runtime`, `image`, `storage`, `oci`, `util`.

pub mod add;
pub mod cache;
pub mod context;
pub mod copy;
pub mod eval;
pub mod executor;
pub mod plan;
pub mod progress;
pub mod ssh;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::dockerfile;
use crate::image::archive::host_architecture;
use crate::image::ops::register;
use crate::oci::image::{Descriptor, ImageConfig, Manifest};
use crate::oci::{Digest, Reference, media_type};
use crate::registry::pull::PullPolicy;
use crate::runtime::Runtime;
use crate::storage::unpack::UnpackOptions;

pub use plan::BuildError;

/// What to build.
pub struct BuildRequest {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile's path (for its name in errors, and its `.dockerignore`).
    pub dockerfile: PathBuf,
    /// Its text.
    pub dockerfile_text: String,
    /// `-t` (normalised, `latest` by default).
    pub tags: Vec<Reference>,
    /// `--build-arg`, `--target`, `--label`, the platform.
    pub options: plan::BuildOptions,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--network` for RUN.
    pub network: Option<String>,
    /// How layers are unpacked here.
    pub unpack: UnpackOptions,
    /// `--secret`: id → content.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--timestamp` / `SOURCE_DATE_EPOCH`: the image's creation time, and the clamp of file
    /// times in its new layers, so that the same inputs give the same image ID.
    pub timestamp: Option<u64>,
    /// Docker's schema 2 media types instead of OCI's (`--format docker`).
    pub docker_format: bool,
    /// `--pull`: whether the images FROM (and `--from`) names are pulled.
    pub pull: PullPolicy,
    /// `--ssh`: the agents RUN --mount=type=ssh may use.
    pub ssh: Vec<ssh::SshSource>,
}

/// What was built.
#[derive(Debug)]
pub struct BuildReport {
    /// The image ID (config digest).
    pub image_id: Digest,
    /// Warnings (unused build args, undefined variables).
    pub warnings: Vec<String>,
}

/// Builds the image and names it, telling `reporter` how it goes.
pub fn build(
    runtime: &Runtime,
    request: &BuildRequest,
    reporter: &mut dyn progress::BuildReporter,
) -> Result<BuildReport, BuildError> {
    let name = request.dockerfile.file_name().map_or_else(
        || "Dockerfile".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let file = dockerfile::parse(&request.dockerfile_text, &name)?;
    if let Ok(plan) = plan::plan(&file, &request.options) {
        reporter.plan(&outline(&file, &plan));
    }
    let context = context::BuildContext::open(&request.context, &request.dockerfile)
        .map_err(|e| BuildError::executor(e.to_string()))?;
    // Agents started for `--ssh ID=KEY` live until the build returns.
    let agents = ssh::SshAgents::start(&request.ssh)?;
    let mut executor = executor::Executor::new(
        runtime,
        &context,
        executor::ExecutorOptions {
            no_cache: request.no_cache,
            network: request.network.clone(),
            unpack: request.unpack.clone(),
            secrets: request.secrets.clone(),
            timestamp: request.timestamp,
            pull: request.pull,
            ssh: agents.sockets().clone(),
        },
        reporter,
    );
    let outcome = eval::evaluate(&file, &request.options, &mut executor)?;
    let target = outcome
        .stages_built
        .last()
        .copied()
        .and_then(|index| executor.stages.get(index).cloned().flatten())
        .unwrap_or_default();
    let image_id = store_image(runtime, outcome.config, &target, request)?;
    Ok(BuildReport {
        image_id,
        warnings: outcome.warnings,
    })
}

/// The stages as progress views number their steps (see [`progress::StageOutline`]).
fn outline(file: &dockerfile::Dockerfile, plan: &plan::BuildPlan) -> Vec<progress::StageOutline> {
    use dockerfile::InstructionKind as Kind;
    file.stages()
        .iter()
        .zip(&plan.stages)
        .map(|(stage, planned)| progress::StageOutline {
            name: planned.name.clone(),
            steps: usize::from(matches!(planned.base, plan::Base::Image(_)))
                + stage
                    .instructions
                    .iter()
                    .filter(|i| {
                        matches!(i.kind, Kind::Run | Kind::Copy | Kind::Add | Kind::Workdir)
                    })
                    .count(),
        })
        .collect()
}

/// Writes the config and manifest of the target stage and tags them.
fn store_image(
    runtime: &Runtime,
    mut config: ImageConfig,
    target: &executor::StageFs,
    request: &BuildRequest,
) -> Result<Digest, BuildError> {
    let (tags, timestamp) = (&request.tags, request.timestamp);
    let docker = request.docker_format;
    let fail = |e: crate::storage::StorageError| BuildError::executor(e.to_string());
    let store = &runtime.store;
    config.rootfs.diff_ids = target.layers.iter().map(|l| l.diff_id.clone()).collect();
    if config.architecture.is_empty() {
        config.architecture = host_architecture().to_owned();
    }
    if config.os.is_empty() {
        config.os = "linux".to_owned();
    }
    let now = timestamp
        .and_then(|t| chrono::DateTime::from_timestamp(i64::try_from(t).ok()?, 0))
        .unwrap_or_else(chrono::Utc::now)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    for entry in &mut config.history {
        if entry.created.is_none() {
            entry.created = Some(now.clone());
        }
    }
    config.created = Some(now);
    let lock = store.lock().map_err(fail)?;
    let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
    let config_digest = store.write_blob(&lock, &config_bytes).map_err(fail)?;
    let (manifest_type, config_type) = if docker {
        (media_type::DOCKER_MANIFEST, media_type::DOCKER_CONFIG)
    } else {
        (media_type::OCI_MANIFEST, media_type::OCI_CONFIG)
    };
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(manifest_type.to_owned()),
        config: Descriptor::new(
            config_type,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: target
            .layers
            .iter()
            .map(|l| {
                let kind = match (l.media_type.as_str(), docker) {
                    ("" | media_type::OCI_LAYER_GZIP, true) => media_type::DOCKER_LAYER_GZIP,
                    (media_type::OCI_LAYER, true) => media_type::DOCKER_LAYER,
                    ("", false) => media_type::OCI_LAYER_GZIP,
                    (other, _) => other,
                };
                Descriptor::new(kind, l.blob.clone(), l.size)
            })
            .collect(),
        annotations: BTreeMap::new(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let manifest_digest = store.write_blob(&lock, &manifest_bytes).map_err(fail)?;
    let descriptor = Descriptor::new(manifest_type, manifest_digest, manifest_bytes.len() as u64);
    register(store, &lock, &descriptor, tags).map_err(|e| BuildError::executor(e.to_string()))?;
    Ok(config_digest)
}
