//! The mounts of a RUN step (`RUN --mount`): binds from the context or another stage, cache
//! directories leased from the store as `sharing=` says, tmpfs, secrets and SSH agent
//! sockets; and the removal of the empty mount points they leave in the upper directory.
//! Part of [`super::Executor`], split out by verb.

use std::path::{Path, PathBuf};

use super::super::cache::{self, CacheMountLease};
use super::super::context::BuildContext;
use super::super::copy::{self, CopyOptions};
use super::super::eval::{MountType, RunMount};
use super::super::plan::CopySource;
use super::super::ssh::SshProxy;
use super::{Executor, Result, StageFs, fail, set_mode};
use crate::runtime::rootfs;
use crate::storage::containers::{ContainerRecord, MountSpec};
use crate::util;

/// What a RUN step holds while its command runs: cache mounts in use (their locks) and the
/// SSH agent proxies.
#[derive(Default)]
pub(super) struct StepHolds {
    leases: Vec<CacheMountLease>,
    proxies: Vec<SshProxy>,
}

impl Executor<'_> {
    /// `RUN --mount`: bind (context or stage, read-only unless rw), cache (a directory kept
    /// in the store across builds), tmpfs.
    pub(super) fn run_mount(
        &mut self,
        mount: &RunMount,
        record: &ContainerRecord,
        holds: &mut StepHolds,
    ) -> Result<Option<MountSpec>> {
        let dir = self.runtime.store.container_dir(&record.id);
        let target = mount
            .target
            .clone()
            .ok_or_else(|| fail("a RUN --mount needs a target"))?;
        Ok(Some(match mount.kind {
            MountType::Bind => {
                let source = mount.source.clone().unwrap_or_default();
                let path = match &mount.from {
                    CopySource::Context => {
                        let found = self
                            .context
                            .resolve(if source.is_empty() { "." } else { &source })
                            .map_err(fail)?;
                        found
                            .first()
                            .map(|s| s.path.clone())
                            .unwrap_or_else(|| self.context.root().to_path_buf())
                    }
                    // Mounted by `mount_sources` before the step.
                    _ => return Ok(None),
                };
                MountSpec {
                    kind: "bind".to_owned(),
                    source: path.display().to_string(),
                    destination: target,
                    read_only: mount.readonly,
                    options: Vec::new(),
                    anonymous: false,
                }
            }
            MountType::Cache => {
                let lease = self.lease_cache(mount, &target, record)?;
                let spec = MountSpec {
                    kind: "bind".to_owned(),
                    source: lease.path().display().to_string(),
                    destination: target,
                    read_only: mount.readonly,
                    options: Vec::new(),
                    anonymous: false,
                };
                holds.leases.push(lease);
                spec
            }
            MountType::Tmpfs => MountSpec {
                kind: "tmpfs".to_owned(),
                source: String::new(),
                destination: target,
                read_only: false,
                options: Vec::new(),
                anonymous: false,
            },
            MountType::Secret => {
                let id = mount
                    .id
                    .clone()
                    .or_else(|| mount.source.clone())
                    .unwrap_or_default();
                let Some(content) = self.options.secrets.get(&id) else {
                    if mount.required {
                        return Err(fail(format!(
                            "secret {id} not found: pass it with `--secret id={id},src=FILE`"
                        )));
                    }
                    return Ok(None);
                };
                // Outside the root filesystem: a secret never reaches a layer.
                let file = dir.join(format!("secret-{}", util::ids::random_hex(8)));
                fs_err::write(&file, content).map_err(fail)?;
                set_mode(&file, mount.mode.unwrap_or(0o400))?;
                if let (Some(uid), Some(gid)) = (mount.uid, mount.gid) {
                    let _ = std::os::unix::fs::chown(&file, Some(uid), Some(gid));
                }
                MountSpec {
                    kind: "bind".to_owned(),
                    source: file.display().to_string(),
                    destination: target,
                    read_only: true,
                    options: Vec::new(),
                    anonymous: false,
                }
            }
            MountType::Ssh => {
                let id = mount.id.as_deref().unwrap_or("default");
                let Some(agent) = self.options.ssh.get(id) else {
                    if mount.required {
                        return Err(fail(format!(
                            "no SSH key {id:?} forwarded from the client: pass one with `--ssh {id}` \
                             (the agent of $SSH_AUTH_SOCK) or `--ssh {id}=SOCKET|KEY[,KEY]`"
                        )));
                    }
                    return Ok(None);
                };
                let proxy = SshProxy::start(
                    agent,
                    mount.uid.unwrap_or(0),
                    mount.gid.unwrap_or(0),
                    mount.mode.unwrap_or(0o600),
                )?;
                let spec = MountSpec {
                    kind: "bind".to_owned(),
                    source: proxy.socket().display().to_string(),
                    destination: target,
                    read_only: mount.readonly,
                    options: Vec::new(),
                    anonymous: false,
                };
                holds.proxies.push(proxy);
                spec
            }
        }))
    }

    /// Takes the directory of a cache mount for one step (see [`cache::lease_mount`]). A new
    /// instance starts as BuildKit's: `from` (a stage or an image; nothing by default) at
    /// `source`, or an empty directory; `uid`, `gid` and `mode` (0:0 and 0755 by default when
    /// one is given) apply to its root. Unlike BuildKit, `from` without `source` but with an
    /// owner or mode seeds from the root of `from`, not from its `/cache`.
    fn lease_cache(
        &mut self,
        mount: &RunMount,
        target: &str,
        record: &ContainerRecord,
    ) -> Result<CacheMountLease> {
        let id = mount.id.clone().unwrap_or_else(|| target.to_owned());
        let from = match &mount.from {
            CopySource::Context => None,
            CopySource::Stage(index) => Some(
                self.stages
                    .get(*index)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| fail(format!("stage {index} was not built")))?,
            ),
            CopySource::Image(name) => Some(self.image_fs(name)?.0),
        };
        let source = mount.source.as_deref().unwrap_or("").trim_matches('/');
        if from.is_none() && !source.is_empty() {
            return Err(fail(format!(
                "cache mount source `{source}` needs `from`: the default base is empty"
            )));
        }
        let owner =
            (mount.uid.is_some() || mount.gid.is_some() || mount.mode.is_some()).then(|| {
                (
                    mount.uid.unwrap_or(0),
                    mount.gid.unwrap_or(0),
                    mount.mode.unwrap_or(0o755),
                )
            });
        let base = match (&from, owner) {
            (None, None) => String::new(),
            _ => format!(
                "from={} source={source} owner={owner:?}",
                from.as_ref().map_or("", |fs| fs.key.as_str())
            ),
        };
        let seed = |dir: &Path| -> std::io::Result<()> {
            if let Some(fs) = &from {
                self.seed_cache(dir, fs, source, record)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            use std::os::unix::fs::PermissionsExt;
            let (uid, gid, mode) = owner.unwrap_or((0, 0, 0o755));
            if owner.is_some() {
                // Under a single-ID map only 0 exists: the owner then stays root.
                let _ = std::os::unix::fs::chown(dir, Some(uid), Some(gid));
            }
            fs_err::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        };
        cache::lease_mount(&self.runtime.store, &id, &base, mount.sharing, &seed).map_err(fail)
    }

    /// Copies `source` of the filesystem `fs` into the new cache directory `dir`, keeping
    /// owners and modes.
    fn seed_cache(
        &self,
        dir: &Path,
        fs: &StageFs,
        source: &str,
        record: &ContainerRecord,
    ) -> Result<()> {
        let store = &self.runtime.store;
        let mut from = record.clone();
        from.id = util::ids::random_hex(32);
        from.layers = fs.layers.iter().map(|l| l.chain_id.clone()).collect();
        fs_err::create_dir_all(store.container_dir(&from.id)).map_err(fail)?;
        let outcome = self.with_rootfs(&from, |from_root| {
            let context =
                BuildContext::open(from_root, &from_root.join(".no-dockerignore")).map_err(fail)?;
            let sources = context
                .resolve(if source.is_empty() { "." } else { source })
                .map_err(fail)?;
            let options = CopyOptions {
                keep_owners: true,
                ..CopyOptions::default()
            };
            copy::copy_into(dir, &sources, "/", "", &options).map_err(fail)?;
            Ok(())
        });
        if let Ok(lock) = store.lock() {
            let _ = store.remove_container_dir(&lock, &from.id);
        }
        outcome
    }

    /// `RUN --mount=type=bind,from=STAGE|IMAGE`: mounts each source's filesystem here (the
    /// step's monitor, forked from us, inherits the mount) and adds the bind to `record`.
    /// Returns the source records, to unmount and remove after the step.
    pub(super) fn mount_sources(
        &mut self,
        mounts: &[RunMount],
        record: &mut ContainerRecord,
    ) -> Result<Vec<ContainerRecord>> {
        let mut sources = Vec::new();
        for mount in mounts.iter().filter(|m| m.kind == MountType::Bind) {
            let fs = match &mount.from {
                CopySource::Context => continue,
                CopySource::Stage(index) => self
                    .stages
                    .get(*index)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| fail(format!("stage {index} was not built")))?,
                CopySource::Image(name) => self.image_fs(name)?.0,
            };
            let mut source = record.clone();
            source.id = util::ids::random_hex(32);
            source.layers = fs.layers.iter().map(|l| l.chain_id.clone()).collect();
            let paths = rootfs::paths(&self.runtime.store, &source);
            rootfs::mount_rootfs(&paths, false).map_err(fail)?;
            sources.push(source);
            let inner = mount.source.clone().unwrap_or_default();
            record.host_config.mounts.push(MountSpec {
                kind: "bind".to_owned(),
                source: paths
                    .merged
                    .join(inner.trim_start_matches('/'))
                    .display()
                    .to_string(),
                destination: mount.target.clone().unwrap_or_default(),
                read_only: mount.readonly,
                options: Vec::new(),
                anonymous: false,
            });
        }
        Ok(sources)
    }

    /// Removes from the upper dir the empty files and directories the runtime made as mount
    /// points (`/run/secrets/x`, cache targets, heredoc pipes) where the image had nothing:
    /// they are not the step's work, and Docker's layers do not have them.
    pub(super) fn prune_mountpoints(&self, record: &ContainerRecord) {
        let store = &self.runtime.store;
        let upper = store.container_dir(&record.id).join("upper");
        let lowers: Vec<PathBuf> = record
            .layers
            .iter()
            .map(|chain| store.paths().layer_diff(chain))
            .collect();
        let in_image = |rel: &Path| {
            lowers
                .iter()
                .any(|l| l.join(rel).symlink_metadata().is_ok())
        };
        // The runtime's own mount points come first: the generated /etc files and the
        // kernel filesystems.
        let fixed = [
            "/etc/hosts",
            "/etc/hostname",
            "/etc/resolv.conf",
            "/proc",
            "/sys",
            "/dev",
        ];
        let targets = fixed.iter().map(|t| (*t).to_owned()).chain(
            record
                .host_config
                .mounts
                .iter()
                .map(|m| m.destination.clone()),
        );
        for target in targets {
            let mut rel = PathBuf::from(target.trim_start_matches('/'));
            loop {
                if rel.as_os_str().is_empty() || in_image(&rel) {
                    break;
                }
                let path = upper.join(&rel);
                let removed = match path.symlink_metadata() {
                    Ok(meta) if meta.is_file() && meta.len() == 0 => {
                        fs_err::remove_file(&path).is_ok()
                    }
                    Ok(meta) if meta.is_dir() => fs_err::remove_dir(&path).is_ok(),
                    _ => false,
                };
                if !removed {
                    break;
                }
                if !rel.pop() {
                    break;
                }
            }
        }
    }
}
