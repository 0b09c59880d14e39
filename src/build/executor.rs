//! The real [`StepExecutor`]: every filesystem step works on a temporary container record
//! stacked on the stage's layers. RUN starts it through the same runtime as `berth run`;
//! COPY and WORKDIR mount its root filesystem in our namespace and write into it. The
//! container's upper directory then becomes the step's layer, and the build cache remembers
//! it under the step's key, so that a hit costs a lookup and no container.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;

use super::add;
use super::cache::{self, CachedLayer};
use super::context::{BuildContext, Source};
use super::copy::{self, CopyOptions};
use super::eval::{CopyStep, MountType, RunStep, StepExecutor};
use super::plan::{Base, BuildError, CopySource};
use super::progress::{BuildReporter, OutputMode};
use super::ssh::SSH_AUTH_SOCK;
use crate::image;
use crate::oci::Digest;
use crate::oci::image::ImageConfig;
use crate::registry::pull::PullPolicy;
use crate::runtime::monitor::{self, StepOutput};
use crate::runtime::{Runtime, rootfs, user};
use crate::storage::containers::{
    BUILD_LABEL, ContainerConfig, ContainerRecord, HostConfig, MountSpec, Resources, RestartPolicy,
    State,
};
use crate::storage::diff::{self, DiffOptions};
use crate::storage::unpack::UnpackOptions;
use crate::util;

mod mounts;

use mounts::StepHolds;

type Result<T> = std::result::Result<T, BuildError>;

/// Where a single-ID build's RUN finds berth's apt configuration (in /dev: never a layer).
const APT_CONFIG: &str = "/dev/berth-apt.conf";

fn fail(error: impl std::fmt::Display) -> BuildError {
    BuildError::executor(error.to_string())
}

/// One stage's filesystem: its layers, and the cache key of the last step.
#[derive(Debug, Clone, Default)]
pub struct StageFs {
    /// Bottom first.
    pub layers: Vec<CachedLayer>,
    /// Identifies the stage's content so far (the base, then every step).
    pub key: String,
    /// The base image's ID, for the working containers' records.
    pub image_id: Option<Digest>,
}

/// Options of the executor.
pub struct ExecutorOptions {
    /// `--no-cache`.
    pub no_cache: bool,
    /// `build --network` (RUN's default network).
    pub network: Option<String>,
    /// How layers are unpacked here.
    pub unpack: UnpackOptions,
    /// `--secret`: id → content.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--timestamp`: file times in new layers are clamped to it.
    pub timestamp: Option<u64>,
    /// `--pull`: when the images FROM and `--from` name are pulled.
    pub pull: PullPolicy,
    /// `--ssh`: id → agent socket.
    pub ssh: BTreeMap<String, PathBuf>,
}

/// Runs the steps of a build.
pub struct Executor<'a> {
    runtime: &'a Runtime,
    context: &'a BuildContext,
    options: ExecutorOptions,
    /// Per stage, once its FROM ran.
    pub stages: Vec<Option<StageFs>>,
    step: usize,
    /// The images pulled by this build: with `--pull always` each is pulled once, not at
    /// every FROM or `--from` that names it.
    pulled: RefCell<HashSet<String>>,
    reporter: &'a mut dyn BuildReporter,
}

impl<'a> Executor<'a> {
    /// An executor over `context`.
    pub fn new(
        runtime: &'a Runtime,
        context: &'a BuildContext,
        options: ExecutorOptions,
        reporter: &'a mut dyn BuildReporter,
    ) -> Self {
        Self {
            runtime,
            context,
            options,
            stages: Vec::new(),
            step: 0,
            pulled: RefCell::new(HashSet::new()),
            reporter,
        }
    }

    /// The filesystem and config of the image `name`, pulled first as `--pull` says.
    fn image_fs(&mut self, name: &str) -> Result<(StageFs, ImageConfig)> {
        let store = &self.runtime.store;
        let policy = self.options.pull;
        let stale = policy == PullPolicy::Always && !self.pulled.borrow().contains(name);
        let found = if stale {
            None
        } else {
            match resolve_local(store, name)? {
                Ok(resolved) => Some(resolved),
                Err(image::ImageError::NotFound(_)) if policy != PullPolicy::Never => None,
                Err(error) => return Err(fail(error)),
            }
        };
        let resolved = match found {
            Some(resolved) => resolved,
            None => {
                let mut silent = crate::registry::reporter::Silent;
                let reporter = match self.reporter.pull_reporter() {
                    Some(reporter) => reporter,
                    None => &mut silent,
                };
                let id = pull_base(store, name, reporter)?;
                self.pulled.borrow_mut().insert(name.to_owned());
                image::resolve(store, &id.to_string()).map_err(fail)?
            }
        };
        image_fs(store, resolved)
    }

    fn stage(&mut self, index: usize) -> Result<&mut StageFs> {
        self.stages
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or_else(|| fail(format!("stage {index} has no base")))
    }

    /// Looks a step up in the cache; on a hit the stage moves on to the cached layer.
    fn cached(&mut self, stage: usize, key: &str, label: &str) -> Result<bool> {
        self.step += 1;
        self.reporter.step(self.step, stage, label);
        if self.options.no_cache {
            return Ok(false);
        }
        let Some(layer) = cache::lookup(&self.runtime.store, key) else {
            return Ok(false);
        };
        self.reporter.cached(self.step);
        let fs = self.stage(stage)?;
        fs.layers.push(layer);
        fs.key = key.to_owned();
        Ok(true)
    }

    /// A working container on the stage's layers (not started).
    fn working_container(
        &mut self,
        stage: usize,
        config: ContainerConfig,
        host: HostConfig,
    ) -> Result<ContainerRecord> {
        let fs = self.stage(stage)?.clone();
        let id = util::ids::random_hex(32);
        let record = ContainerRecord {
            name: format!("berth-build-{}", &id[..12]),
            image: "build".to_owned(),
            image_id: fs.image_id.clone().unwrap_or_else(|| Digest::of(b"")),
            layers: fs.layers.iter().map(|l| l.chain_id.clone()).collect(),
            created: Utc::now(),
            config,
            host_config: host,
            state: State::default(),
            create_command: Vec::new(),
            id,
        };
        let store = &self.runtime.store;
        let lock = store.lock().map_err(fail)?;
        store.create_container(&lock, &record).map_err(fail)?;
        Ok(record)
    }

    /// Turns the working container's upper dir into the stage's next layer, remembered under
    /// `key`; removes the container.
    fn commit(&mut self, stage: usize, record: &ContainerRecord, key: &str) -> Result<()> {
        let store = &self.runtime.store;
        let upper = store.container_dir(&record.id).join("upper");
        let parent = self.stage(stage)?.layers.last().map(|l| l.chain_id.clone());
        // Stored uncompressed, as `import` stores layers (compression is for pushing): the
        // blob is the diff, and the upper dir itself becomes the unpacked layer.
        let committed = (|| -> Result<CachedLayer> {
            let lock = store.lock().map_err(fail)?;
            let mut writer = store.blob_writer(&lock).map_err(fail)?;
            let options = DiffOptions {
                timestamp: self.options.timestamp,
            };
            let summary = diff::write_diff(&upper, &mut writer, &options).map_err(fail)?;
            let diff_id = Digest::parse(&summary.diff_id).map_err(fail)?;
            let (blob, size) = writer.commit(Some(&diff_id)).map_err(fail)?;
            let meta = store
                .adopt_layer(
                    &lock,
                    &upper,
                    parent.as_ref(),
                    &diff_id,
                    summary.uncompressed_size,
                )
                .map_err(fail)?;
            let cached = CachedLayer {
                chain_id: meta.chain_id,
                diff_id,
                blob,
                size,
                media_type: crate::oci::media_type::OCI_LAYER.to_owned(),
            };
            cache::store(store, &lock, key, &cached).map_err(fail)?;
            Ok(cached)
        })();
        self.remove(record);
        let cached = committed?;
        let fs = self.stage(stage)?;
        fs.layers.push(cached);
        fs.key = key.to_owned();
        Ok(())
    }

    fn remove(&self, record: &ContainerRecord) {
        let store = &self.runtime.store;
        if let Ok(lock) = store.lock() {
            let _ = store.remove_container_dir(&lock, &record.id);
        }
    }

    /// Mounts the working container's root filesystem here, runs `work` on it, unmounts.
    fn with_rootfs<T>(
        &self,
        record: &ContainerRecord,
        work: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<T> {
        let paths = rootfs::paths(&self.runtime.store, record);
        rootfs::mount_rootfs(&paths, false).map_err(fail)?;
        let outcome = work(&paths.merged);
        rootfs::unmount_rootfs(&paths);
        outcome
    }

    fn done(&mut self, started: Instant) {
        self.reporter.done(self.step, started.elapsed());
    }

    /// The sources of a COPY: the context's, or a mounted stage's or image's filesystem.
    fn copy_sources(&mut self, step: &CopyStep) -> Result<(Vec<Source>, String, Option<StageFs>)> {
        match &step.from {
            CopySource::Context => {
                let mut sources = Vec::new();
                for source in &step.sources {
                    sources.extend(resolve_source(self.context, source, step.parents)?);
                }
                let digest = self.context.digest(&sources).map_err(fail)?;
                Ok((sources, digest, None))
            }
            CopySource::Stage(index) => {
                let fs = self
                    .stages
                    .get(*index)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| fail(format!("stage {index} was not built")))?;
                let key = fs.key.clone();
                Ok((Vec::new(), key, Some(fs)))
            }
            CopySource::Image(name) => {
                let fs = self.image_fs(name)?.0;
                let key = fs.key.clone();
                Ok((Vec::new(), key, Some(fs)))
            }
        }
    }
}

/// The stored image `name` (FROM, COPY --from): by Docker's rule, else, for a short name, by
/// its alias or search registries' names (as a pull names it). Only a bad registries
/// configuration is an outer error.
fn resolve_local(
    store: &crate::storage::Store,
    name: &str,
) -> Result<std::result::Result<image::Resolved, image::ImageError>> {
    use crate::registry::{client::ClientOptions, short_name};
    image::resolve_or(store, name, || {
        let client = ClientOptions::load().map_err(fail)?;
        short_name::local_names(&client.registries, name).map_err(fail)
    })
}

/// Pulls a missing base image (FROM, COPY --from) and names it; returns its image ID.
fn pull_base(
    store: &crate::storage::Store,
    name: &str,
    reporter: &mut dyn crate::registry::reporter::PullReporter,
) -> Result<Digest> {
    use crate::registry::{client::ClientOptions, pull, short_name};
    let failed = |error: &dyn std::error::Error| {
        fail(format!(
            "failed to resolve source metadata for {name}: {}",
            image::archive::error_chain(error)
        ))
    };
    let client = ClientOptions::load().map_err(|error| failed(&error))?;
    let candidates =
        short_name::resolve_pull(&client.registries, name).map_err(|error| failed(&error))?;
    let lock = store.lock().map_err(fail)?;
    let options = pull::PullOptions {
        platform: pull::host_platform(),
        client,
        unpack: UnpackOptions::default(),
        jobs: pull::DEFAULT_JOBS,
    };
    let report = pull::pull(store, &lock, &candidates, &options, reporter)
        .map_err(|error| failed(&error))?;
    let reference = &report.reference;
    let names: Vec<crate::oci::Reference> = reference
        .digest()
        .is_none()
        .then(|| reference.clone())
        .into_iter()
        .collect();
    image::ops::register(store, &lock, &report.manifest, &names).map_err(|error| failed(&error))?;
    Ok(report.image_id)
}

/// The filesystem and config of a stored image.
fn image_fs(
    store: &crate::storage::Store,
    resolved: image::Resolved,
) -> Result<(StageFs, ImageConfig)> {
    let details = image::ops::details(store, resolved.image).map_err(fail)?;
    let mut layers = Vec::new();
    let mut parent: Option<Digest> = None;
    for (descriptor, diff_id) in details
        .manifest
        .layers
        .iter()
        .zip(&details.config.rootfs.diff_ids)
    {
        let chain_id = Digest::chain(parent.as_ref(), diff_id);
        layers.push(CachedLayer {
            chain_id: chain_id.clone(),
            diff_id: diff_id.clone(),
            blob: descriptor.digest.clone(),
            size: descriptor.size,
            media_type: descriptor.media_type.clone(),
        });
        parent = Some(chain_id);
    }
    let fs = StageFs {
        layers,
        key: format!("image {}", details.summary.id),
        image_id: Some(details.summary.id.clone()),
    };
    Ok((fs, details.config))
}

impl StepExecutor for Executor<'_> {
    fn from(&mut self, stage: usize, base: &Base) -> Result<Option<ImageConfig>> {
        if self.stages.len() <= stage {
            self.stages.resize(stage + 1, None);
        }
        let (fs, config) = match base {
            Base::Scratch => (
                StageFs {
                    key: "scratch".to_owned(),
                    ..StageFs::default()
                },
                None,
            ),
            Base::Image(name) => {
                self.reporter.base(stage, name);
                let (fs, config) = self.image_fs(name)?;
                (fs, Some(config))
            }
            Base::Stage(index) => (
                self.stages
                    .get(*index)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| fail(format!("stage {index} was not built")))?,
                None,
            ),
        };
        self.stages[stage] = Some(fs);
        Ok(config)
    }

    fn run(&mut self, stage: usize, step: &RunStep) -> Result<()> {
        let parent = self.stage(stage)?.key.clone();
        let key = cache::key(&[&parent, &step.cache_text]);
        if self.cached(stage, &key, &step.created_by)? {
            return Ok(());
        }
        let started = Instant::now();
        let network = match step.network.as_deref().or(self.options.network.as_deref()) {
            None | Some("default") => "pasta".to_owned(),
            Some(other) => other.to_owned(),
        };
        let mut env = step.env.clone();
        for mount in &step.mounts {
            if let (MountType::Secret, Some(variable)) = (mount.kind, &mount.env) {
                let id = mount
                    .id
                    .clone()
                    .or_else(|| mount.source.clone())
                    .unwrap_or_default();
                match self.options.secrets.get(&id) {
                    Some(value) => {
                        env.push(format!("{variable}={}", String::from_utf8_lossy(value)))
                    }
                    None if mount.required => {
                        return Err(fail(format!(
                            "secret {id} not found: pass it with `--secret id={id},src=FILE`"
                        )));
                    }
                    None => {}
                }
            }
        }
        // BuildKit points SSH_AUTH_SOCK at the first ssh mount, unless the step sets it.
        let first_ssh = step.mounts.iter().find(|m| m.kind == MountType::Ssh);
        if let Some(target) = first_ssh.and_then(|m| m.target.as_ref()) {
            let prefix = format!("{SSH_AUTH_SOCK}=");
            if !env.iter().any(|e| e.starts_with(&prefix)) {
                env.push(format!("{prefix}{target}"));
            }
        }
        let config = ContainerConfig {
            args: step.argv.clone(),
            env,
            working_dir: step.workdir.clone(),
            user: step.user.clone(),
            hostname: "buildkitsandbox".to_owned(),
            labels: BTreeMap::from([(BUILD_LABEL.to_owned(), "1".to_owned())]),
            stop_signal: "SIGKILL".to_owned(),
            ..ContainerConfig::default()
        };
        let host = HostConfig {
            network_mode: network,
            restart: RestartPolicy {
                name: "no".to_owned(),
                maximum_retry_count: 0,
            },
            resources: Resources::default(),
            ..HostConfig::default()
        };
        let mut record = self.working_container(stage, config, host)?;
        // Under a single-ID map apt cannot switch to its sandbox user (`_apt` does not
        // exist in the namespace): tell it to stay root, through a config file of our own.
        if self.runtime.single_id
            && !record
                .config
                .env
                .iter()
                .any(|e| e.starts_with("APT_CONFIG="))
        {
            let path = self
                .runtime
                .store
                .container_dir(&record.id)
                .join("apt.conf");
            fs_err::write(&path, "APT::Sandbox::User \"root\";\n").map_err(fail)?;
            record.config.env.push(format!("APT_CONFIG={APT_CONFIG}"));
            record.host_config.mounts.push(MountSpec {
                kind: "bind".to_owned(),
                source: path.display().to_string(),
                destination: APT_CONFIG.to_owned(),
                read_only: true,
                options: Vec::new(),
                anonymous: false,
            });
        }
        // Heredoc scripts (`RUN <<EOF`) and secrets are files in the working container's
        // directory (outside its root filesystem), bind-mounted where the command reads them.
        let dir = self.runtime.store.container_dir(&record.id);

        let sources = match self.mount_sources(&step.mounts, &mut record) {
            Ok(sources) => sources,
            Err(error) => {
                self.remove(&record);
                return Err(error);
            }
        };
        // Cache mount locks and SSH proxies are held until the command ends.
        let mut holds = StepHolds::default();
        for mount in &step.mounts {
            if mount.kind == MountType::Secret && mount.env.is_some() && mount.target.is_none() {
                continue;
            }
            match self.run_mount(mount, &record, &mut holds) {
                Ok(spec) => record.host_config.mounts.extend(spec),
                Err(error) => {
                    self.remove(&record);
                    return Err(error);
                }
            }
        }
        for (index, file) in step.files.iter().enumerate() {
            let path = dir.join(format!("heredoc-{index}"));
            fs_err::write(&path, &file.content).map_err(fail)?;
            set_mode(&path, file.mode)?;
            record.host_config.mounts.push(MountSpec {
                kind: "bind".to_owned(),
                source: path.display().to_string(),
                destination: file.path.clone(),
                read_only: true,
                options: Vec::new(),
                anonymous: false,
            });
        }
        self.runtime.store.save_container(&record).map_err(fail)?;
        let outcome = match self.reporter.output_mode() {
            OutputMode::Inherit => {
                monitor::supervise_in_child(self.runtime, &record.id, StepOutput::Inherit)
            }
            OutputMode::Discard => {
                monitor::supervise_in_child(self.runtime, &record.id, StepOutput::Discard)
            }
            OutputMode::Capture => {
                let reporter = &mut *self.reporter;
                let mut sink = |bytes: &[u8]| reporter.output(bytes);
                monitor::supervise_in_child(
                    self.runtime,
                    &record.id,
                    StepOutput::Capture(&mut sink),
                )
            }
        };
        drop(holds);
        for source in &sources {
            rootfs::unmount_rootfs(&rootfs::paths(&self.runtime.store, source));
            self.remove(source);
        }
        match outcome {
            Ok(0) => {}
            Ok(code) => {
                self.remove(&record);
                return Err(fail(format!(
                    "process \"{}\" did not complete successfully: exit code: {code}",
                    step.argv.join(" ")
                )));
            }
            Err(error) => {
                self.remove(&record);
                return Err(fail(error));
            }
        }
        self.prune_mountpoints(&record);
        self.commit(stage, &record, &key)?;
        self.done(started);
        Ok(())
    }

    fn copy(&mut self, stage: usize, step: &CopyStep) -> Result<()> {
        // ADD from the context: URLs, git repositories and archives (`add`), resolved now
        // for the cache key, fetched on a miss.
        let mut add_sources = None;
        let (sources, digest, from) = if step.is_add && step.from == CopySource::Context {
            let staging = self.runtime.store.paths().root().join(add::STAGING_DIR);
            let resolved = add::AddSources::resolve(self.context, step, &staging)
                .map_err(|e| fail(add::describe(&e)))?;
            let digest = resolved.digest.clone();
            add_sources = Some(resolved);
            (Vec::new(), digest, None)
        } else {
            if !step.is_add && step.sources.iter().any(|s| is_url(s)) {
                return Err(fail("source can't be a URL for COPY"));
            }
            self.copy_sources(step)?
        };
        let parent = self.stage(stage)?.key.clone();
        let key = cache::key(&[&parent, &step.cache_text, &digest]);
        if self.cached(stage, &key, &step.created_by)? {
            return Ok(());
        }
        let started = Instant::now();
        if let Some(add_sources) = &mut add_sources {
            add_sources.fetch().map_err(|e| fail(add::describe(&e)))?;
        }
        let record =
            self.working_container(stage, ContainerConfig::default(), HostConfig::default())?;
        let source_record = match &from {
            Some(fs) => {
                let mut source = record.clone();
                source.id = util::ids::random_hex(32);
                source.layers = fs.layers.iter().map(|l| l.chain_id.clone()).collect();
                Some(source)
            }
            None => None,
        };
        let workdir = String::new();
        let outcome = self.with_rootfs(&record, |root| {
            let chown = match &step.chown {
                Some(spec) => {
                    let user = user::resolve(root, spec).map_err(|e| {
                        fail(format!(
                            "unable to convert uid/gid chown string to host mapping: {e}"
                        ))
                    })?;
                    Some((user.uid, user.gid))
                }
                None => None,
            };
            let options = CopyOptions {
                chown,
                chmod: step.chmod,
                parents: step.parents,
                excludes: step.excludes.clone(),
                keep_owners: false,
            };
            for file in &step.heredocs {
                copy::write_file_into(
                    root,
                    &step.dest,
                    &workdir,
                    &file.path,
                    file.content.as_bytes(),
                    step.chmod.unwrap_or(file.mode),
                    chown.unwrap_or((0, 0)),
                )
                .map_err(fail)?;
            }
            if let Some(add_sources) = &mut add_sources {
                add_sources
                    .copy_into(root, &step.dest, &workdir, &options)
                    .map_err(|e| fail(add::describe(&e)))?;
            }
            match &source_record {
                None if !sources.is_empty() || (step.parents && add_sources.is_none()) => {
                    copy::copy_into(root, &sources, &step.dest, &workdir, &options)
                        .map_err(fail)?;
                }
                None => {}
                Some(source) => self.copy_from_fs(source, root, step, &options)?,
            }
            Ok(())
        });
        if let Err(error) = outcome {
            self.remove(&record);
            return Err(error);
        }
        self.commit(stage, &record, &key)?;
        self.done(started);
        Ok(())
    }

    fn workdir(&mut self, stage: usize, path: &str, user_spec: &str) -> Result<bool> {
        let parent = self.stage(stage)?.key.clone();
        let key = cache::key(&[&parent, "WORKDIR", path, user_spec]);
        if self.cached(stage, &key, &format!("WORKDIR {path}"))? {
            return Ok(true);
        }
        let record =
            self.working_container(stage, ContainerConfig::default(), HostConfig::default())?;
        let created = self.with_rootfs(&record, |root| {
            let relative = path.trim_start_matches('/');
            if relative.is_empty() || root.join(relative).is_dir() {
                return Ok(false);
            }
            let owner = user::resolve(root, user_spec).map_or((0, 0), |u| (u.uid, u.gid));
            copy::make_dirs_into(root, path, owner).map_err(fail)?;
            Ok(true)
        });
        let created = match created {
            Ok(created) => created,
            Err(error) => {
                self.remove(&record);
                return Err(error);
            }
        };
        if !created {
            self.remove(&record);
            return Ok(false);
        }
        self.commit(stage, &record, &key)?;
        Ok(true)
    }

    fn metadata(&mut self, stage: usize, created_by: &str) -> Result<()> {
        self.step += 1;
        self.reporter.metadata(self.step, stage, created_by);
        let fs = self.stage(stage)?;
        // Metadata changes the config, not the files: the next step's key covers it through
        // its own text, so the stage key stays.
        let _ = fs;
        Ok(())
    }
}

impl Executor<'_> {
    /// COPY --from: mounts the stage's (or image's) filesystem and copies out of it.
    fn copy_from_fs(
        &self,
        source: &ContainerRecord,
        root: &Path,
        step: &CopyStep,
        options: &CopyOptions,
    ) -> Result<()> {
        let store = &self.runtime.store;
        let dir = store.container_dir(&source.id);
        fs_err::create_dir_all(&dir).map_err(fail)?;
        let outcome = self.with_rootfs(source, |from_root| {
            let context =
                BuildContext::open(from_root, &from_root.join(".no-dockerignore")).map_err(fail)?;
            let mut sources = Vec::new();
            for text in &step.sources {
                sources.extend(resolve_source(&context, text, step.parents)?);
            }
            copy::copy_into(root, &sources, &step.dest, "", options).map_err(fail)?;
            Ok(())
        });
        if let Ok(lock) = store.lock() {
            let _ = store.remove_container_dir(&lock, &source.id);
        }
        outcome
    }
}

/// One COPY source in `context`: with `--parents`, cut at its `/./` pivot.
fn resolve_source(context: &BuildContext, source: &str, parents: bool) -> Result<Vec<Source>> {
    let resolved = if parents {
        context.resolve_parents(source)
    } else {
        context.resolve(source)
    };
    resolved.map_err(fail)
}

fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

fn set_mode(path: &PathBuf, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)
}
