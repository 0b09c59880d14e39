//! (container record, resolved inputs) → the OCI runtime spec for libcontainer. Pure: no I/O,
//! so the result can be checked in unit tests.
//!
//! Rootless choices (see ../shared/notes/libcontainer.md): no user namespace in the spec (we
//! are already in ours), no cgroup mount, `/dev/pts` with `gid=5` only when gid 5 is mapped,
//! sysfs only with a network namespace of the container's own.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::{Value, json};

use super::RuntimeError;
use super::security;
use super::user::ResolvedUser;
use crate::storage::containers::ContainerRecord;

/// A mount whose host side is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMount {
    /// `bind` or `tmpfs`.
    pub kind: String,
    /// Host path (for binds and volumes).
    pub source: PathBuf,
    /// Path in the container.
    pub destination: String,
    /// Read-only.
    pub read_only: bool,
    /// Extra mount options.
    pub options: Vec<String>,
}

/// Everything besides the record that the spec depends on.
#[derive(Debug, Clone)]
pub struct SpecInputs<'a> {
    /// The container.
    pub record: &'a ContainerRecord,
    /// The mounted root filesystem.
    pub rootfs: &'a Path,
    /// The process identity.
    pub user: &'a ResolvedUser,
    /// Generated /etc/hosts, /etc/hostname, /etc/resolv.conf.
    pub etc_files: &'a [(PathBuf, &'static str)],
    /// Mounts with host paths.
    pub mounts: &'a [ResolvedMount],
    /// The network namespace to join (prepared by the caller), or None for the host's.
    pub netns: Option<&'a Path>,
    /// Only our own ID is mapped (no gid 5 for devpts).
    pub single_id: bool,
    /// RLIMIT_NOFILE (soft, hard) the container gets.
    pub nofile: (u64, u64),
    /// `--init`: the host path of the static init to run as pid 1.
    pub init: Option<&'a Path>,
    /// Apply the record's resource limits (the cgroup tree allows it).
    pub limits: bool,
    /// The capabilities in our own bounding set (`CAP_…` names).
    pub bounding: &'a [String],
}

/// The `CAP_…` names in this process's bounding set.
pub fn bounding_capabilities() -> Vec<String> {
    caps::read(None, caps::CapSet::Bounding)
        .map(|set| set.into_iter().map(|cap| cap.to_string()).collect())
        .unwrap_or_default()
}

/// Where `--init` puts its init in the container (on the /dev tmpfs, so any image works).
pub const INIT_PATH: &str = "/dev/init";

/// Builds the spec.
pub fn build(inputs: &SpecInputs<'_>) -> Result<Spec, RuntimeError> {
    let record = inputs.record;
    let host = &record.host_config;
    let mut args = record.config.args.clone();
    if inputs.init.is_some() {
        // catatonit: reaps zombies, forwards signals to the command (as its child).
        let mut with_init = vec![INIT_PATH.to_owned(), "--".to_owned()];
        with_init.append(&mut args);
        args = with_init;
    }
    let mut env = record.config.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        );
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", record.config.hostname));
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", inputs.user.home));
    }
    if record.config.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_owned());
    }
    let mut capabilities = security::capability_set(&host.cap_add, &host.cap_drop, host.privileged)
        .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    // A container cannot get capabilities we do not have ourselves (capset would fail):
    // --privileged means all of ours, as in podman.
    capabilities.retain(|cap| inputs.bounding.contains(&security::capability_name(*cap)));
    let caps_json =
        serde_json::to_value(security::linux_capabilities(&capabilities)).unwrap_or(Value::Null);
    let no_new_privileges = host.security_opt.iter().any(|o| {
        o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true"
    });
    let unconfined = host.privileged
        || host
            .security_opt
            .iter()
            .any(|o| o == "seccomp=unconfined" || o == "seccomp:unconfined");

    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts_options(inputs.single_id)}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    // sysfs may only be mounted by the owner of the network namespace: with the host's
    // network, bind the host's /sys read-only instead.
    mounts.push(if inputs.netns.is_some() {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    });
    for (path, destination) in inputs.etc_files {
        mounts.push(json!({"destination": destination, "type": "bind", "source": path, "options": ["rbind", "rprivate"]}));
    }
    if let Some(init) = inputs.init {
        mounts.push(json!({"destination": INIT_PATH, "type": "bind", "source": init, "options": ["bind", "ro", "nosuid", "nodev"]}));
    }
    for mount in inputs.mounts {
        let mut options: Vec<String> = match mount.kind.as_str() {
            "tmpfs" => vec!["nosuid".into(), "nodev".into(), "noexec".into()],
            _ => vec!["rbind".into(), "rprivate".into()],
        };
        if mount.read_only {
            options.push("ro".into());
        }
        options.extend(mount.options.iter().cloned());
        let (kind, source) = match mount.kind.as_str() {
            "tmpfs" => ("tmpfs", PathBuf::from("tmpfs")),
            _ => ("bind", mount.source.clone()),
        };
        mounts.push(json!({"destination": mount.destination, "type": kind, "source": source, "options": options}));
    }

    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if let Some(netns) = inputs.netns {
        namespaces.push(json!({"type": "network", "path": netns}));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "maskedPaths": if host.privileged { Vec::new() } else { security::masked_paths() },
        "readonlyPaths": if host.privileged { Vec::new() } else { security::readonly_paths() },
        "cgroupsPath": format!("/berth/{}", record.id),
    });
    if inputs.limits {
        let limits = &host.resources;
        let mut resources = json!({});
        if let Some(memory) = limits.memory {
            resources["memory"] = json!({"limit": memory});
        }
        if let Some(nano) = limits.nano_cpus {
            resources["cpu"] = json!({"quota": nano / 10_000, "period": 100_000});
        }
        if let Some(pids) = limits.pids_limit {
            resources["pids"] = json!({"limit": pids});
        }
        linux["resources"] = resources;
    }
    if !unconfined {
        let mut profile = security::seccomp_profile(&capabilities);
        if inputs.single_id {
            security::fake_chown(&mut profile);
        }
        linux["seccomp"] = serde_json::to_value(profile).unwrap_or(Value::Null);
    }
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": inputs.rootfs, "readonly": host.read_only},
        "hostname": record.config.hostname,
        "mounts": mounts,
        "process": {
            "terminal": record.config.tty,
            "user": {"uid": inputs.user.uid, "gid": inputs.user.gid, "additionalGids": inputs.user.additional_gids},
            "args": args,
            "env": env,
            "cwd": if record.config.working_dir.is_empty() { "/" } else { record.config.working_dir.as_str() },
            "capabilities": caps_json,
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": inputs.nofile.0, "hard": inputs.nofile.1}],
        },
        "linux": linux,
    });
    // Only when asked, as in Docker: setuid programs keep working. (The seccomp filter is
    // loaded either way: runtime::seccomp grants CAP_SYS_ADMIN for the load when the bit is
    // off.)
    if no_new_privileges {
        spec["process"]["noNewPrivileges"] = Value::Bool(true);
    }
    serde_json::from_value(spec)
        .map_err(|e| RuntimeError::Invalid(format!("cannot build the runtime spec: {e}")))
}

fn devpts_options(single_id: bool) -> Vec<&'static str> {
    let mut options = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if !single_id {
        options.push("gid=5");
    }
    options
}
