//! Checks that do not fit in the conversion of one value: the key schema of a file (unknown,
//! ignored and unsupported keys), and the checks on the merged project (undeclared volumes and
//! networks, unknown dependencies, cycles, conflicting host ports, duplicate container names).
//!
//! # Keys berth accepts and ignores (no error, no effect)
//!
//! - top level: `version` (obsolete in Compose too), and `x-*` extension keys at every level;
//! - service: `deploy`, `logging`, `platform`, `ulimits`, `sysctls`, `security_opt`,
//!   `mem_limit`, `mem_reservation`, `memswap_limit`, `mem_swappiness`, `cpus`, `cpu_count`,
//!   `cpu_percent`, `cpu_shares`, `cpu_period`, `cpu_quota`, `cpu_rt_runtime`,
//!   `cpu_rt_period`, `cpuset`, `shm_size`, `domainname`, `dns_search`, `dns_opt`,
//!   `oom_kill_disable`, `oom_score_adj`, `pids_limit`, `mac_address`, `develop`, `scale`,
//!   `annotations`, `attach`, `blkio_config`, `cgroup`, `cgroup_parent`, `device_cgroup_rules`,
//!   `group_add`, `isolation`, `links`, `external_links`, `runtime`, `storage_opt`,
//!   `userns_mode`, `log_driver`, `log_opt`, `label_file`;
//! - `build`: `labels`, `cache_from`, `cache_to`, `network`, `shm_size`, `extra_hosts`,
//!   `platforms`, `pull`, `no_cache`, `tags`, `isolation`, `privileged`, `ulimits`;
//! - service `networks.<name>`: every key (`aliases`, `ipv4_address`, `priority`, ...);
//! - long port syntax: `mode`, `name`, `app_protocol`;
//! - long volume syntax: `consistency`, `bind.propagation`, `bind.create_host_path`,
//!   `bind.selinux`, `volume.nocopy`, `volume.subpath`, `tmpfs.size`, `tmpfs.mode`;
//! - `env_file` entries: `format`;
//! - top-level volumes: `driver`, `driver_opts`; networks: `driver`, `driver_opts`,
//!   `attachable`, `internal`, `ipam`, `enable_ipv4`, `enable_ipv6`.
//!
//! Keys of the Compose spec that change what a container is, and that berth cannot honour,
//! are refused with "not supported by berth" rather than ignored: `secrets`, `configs`,
//! `extends`, `include`, `network_mode`, `pid`, `ipc`, `uts`, `volumes_from`, `devices`,
//! `gpus`, `credential_spec`, `models`, `provider`, `use_api_socket`, and in `build`:
//! `dockerfile_inline`, `additional_contexts`, `ssh`, `secrets`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::error::{ComposeError, KeyPath, Result, ValueError};
use super::model::{Port, Service};
use super::syntax::parse_port_range;

/// What a value may contain, as far as keys go; types are checked by the conversion.
#[derive(Clone, Copy)]
pub(super) enum Schema {
    /// Not checked: free-form maps (`labels`, `environment`) and ignored keys.
    Any,
    /// A mapping with these keys, or a sequence whose mapping items have them.
    Fields(&'static Fields),
    /// A mapping from names the user picks to values of this schema.
    Named(&'static Schema),
}

/// The keys of one kind of mapping.
pub(super) struct Fields {
    known: &'static [(&'static str, Schema)],
    ignored: &'static [&'static str],
    unsupported: &'static [&'static str],
}

const NO_KEYS: &[&str] = &[];

static TOP: Fields = Fields {
    known: &[
        ("name", Schema::Any),
        ("services", Schema::Named(&Schema::Fields(&SERVICE))),
        ("volumes", Schema::Named(&Schema::Fields(&VOLUME))),
        ("networks", Schema::Named(&Schema::Fields(&NETWORK))),
    ],
    ignored: &["version"],
    unsupported: &["secrets", "configs", "include", "models"],
};

static SERVICE: Fields = Fields {
    known: &[
        ("image", Schema::Any),
        ("build", Schema::Fields(&BUILD)),
        ("pull_policy", Schema::Any),
        ("command", Schema::Any),
        ("entrypoint", Schema::Any),
        ("environment", Schema::Any),
        ("env_file", Schema::Fields(&ENV_FILE)),
        ("ports", Schema::Fields(&PORT)),
        ("expose", Schema::Any),
        ("volumes", Schema::Fields(&MOUNT)),
        ("tmpfs", Schema::Any),
        ("depends_on", Schema::Named(&Schema::Fields(&DEPENDENCY))),
        ("healthcheck", Schema::Fields(&HEALTHCHECK)),
        ("restart", Schema::Any),
        ("working_dir", Schema::Any),
        ("user", Schema::Any),
        ("hostname", Schema::Any),
        ("labels", Schema::Any),
        ("container_name", Schema::Any),
        ("init", Schema::Any),
        ("stop_signal", Schema::Any),
        ("stop_grace_period", Schema::Any),
        ("profiles", Schema::Any),
        ("extra_hosts", Schema::Any),
        ("networks", Schema::Named(&Schema::Any)),
        ("dns", Schema::Any),
        ("tty", Schema::Any),
        ("stdin_open", Schema::Any),
        ("privileged", Schema::Any),
        ("read_only", Schema::Any),
        ("cap_add", Schema::Any),
        ("cap_drop", Schema::Any),
    ],
    ignored: &[
        "deploy",
        "logging",
        "platform",
        "ulimits",
        "sysctls",
        "security_opt",
        "mem_limit",
        "mem_reservation",
        "memswap_limit",
        "mem_swappiness",
        "cpus",
        "cpu_count",
        "cpu_percent",
        "cpu_shares",
        "cpu_period",
        "cpu_quota",
        "cpu_rt_runtime",
        "cpu_rt_period",
        "cpuset",
        "shm_size",
        "domainname",
        "dns_search",
        "dns_opt",
        "oom_kill_disable",
        "oom_score_adj",
        "pids_limit",
        "mac_address",
        "develop",
        "scale",
        "annotations",
        "attach",
        "blkio_config",
        "cgroup",
        "cgroup_parent",
        "device_cgroup_rules",
        "group_add",
        "isolation",
        "links",
        "external_links",
        "runtime",
        "storage_opt",
        "userns_mode",
        "log_driver",
        "log_opt",
        "label_file",
    ],
    unsupported: &[
        "secrets",
        "configs",
        "extends",
        "network_mode",
        "pid",
        "ipc",
        "uts",
        "volumes_from",
        "devices",
        "gpus",
        "credential_spec",
        "models",
        "provider",
        "use_api_socket",
    ],
};

static BUILD: Fields = Fields {
    known: &[
        ("context", Schema::Any),
        ("dockerfile", Schema::Any),
        ("args", Schema::Any),
        ("target", Schema::Any),
    ],
    ignored: &[
        "labels",
        "cache_from",
        "cache_to",
        "network",
        "shm_size",
        "extra_hosts",
        "platforms",
        "pull",
        "no_cache",
        "tags",
        "isolation",
        "privileged",
        "ulimits",
    ],
    unsupported: &["dockerfile_inline", "additional_contexts", "ssh", "secrets"],
};

static ENV_FILE: Fields = Fields {
    known: &[("path", Schema::Any), ("required", Schema::Any)],
    ignored: &["format"],
    unsupported: NO_KEYS,
};

static PORT: Fields = Fields {
    known: &[
        ("target", Schema::Any),
        ("published", Schema::Any),
        ("host_ip", Schema::Any),
        ("protocol", Schema::Any),
    ],
    ignored: &["mode", "name", "app_protocol"],
    unsupported: NO_KEYS,
};

static MOUNT: Fields = Fields {
    known: &[
        ("type", Schema::Any),
        ("source", Schema::Any),
        ("target", Schema::Any),
        ("read_only", Schema::Any),
        ("bind", Schema::Fields(&MOUNT_BIND)),
        ("volume", Schema::Fields(&MOUNT_VOLUME)),
        ("tmpfs", Schema::Fields(&MOUNT_TMPFS)),
    ],
    ignored: &["consistency"],
    unsupported: NO_KEYS,
};

static MOUNT_BIND: Fields = Fields {
    known: &[],
    ignored: &["propagation", "create_host_path", "selinux"],
    unsupported: NO_KEYS,
};

static MOUNT_VOLUME: Fields = Fields {
    known: &[],
    ignored: &["nocopy", "subpath"],
    unsupported: NO_KEYS,
};

static MOUNT_TMPFS: Fields = Fields {
    known: &[],
    ignored: &["size", "mode"],
    unsupported: NO_KEYS,
};

static DEPENDENCY: Fields = Fields {
    known: &[
        ("condition", Schema::Any),
        ("restart", Schema::Any),
        ("required", Schema::Any),
    ],
    ignored: NO_KEYS,
    unsupported: NO_KEYS,
};

static HEALTHCHECK: Fields = Fields {
    known: &[
        ("test", Schema::Any),
        ("interval", Schema::Any),
        ("timeout", Schema::Any),
        ("start_period", Schema::Any),
        ("start_interval", Schema::Any),
        ("retries", Schema::Any),
        ("disable", Schema::Any),
    ],
    ignored: NO_KEYS,
    unsupported: NO_KEYS,
};

static VOLUME: Fields = Fields {
    known: &[
        ("name", Schema::Any),
        ("external", Schema::Any),
        ("labels", Schema::Any),
        ("driver", Schema::Any),
    ],
    ignored: &["driver_opts"],
    unsupported: NO_KEYS,
};

static NETWORK: Fields = Fields {
    known: &[
        ("name", Schema::Any),
        ("external", Schema::Any),
        ("driver", Schema::Any),
        ("labels", Schema::Any),
    ],
    ignored: &[
        "driver_opts",
        "attachable",
        "internal",
        "ipam",
        "enable_ipv4",
        "enable_ipv6",
    ],
    unsupported: NO_KEYS,
};

/// Checks every key of a whole compose file.
pub(super) fn check_file_keys(document: &Value) -> Result<(), ValueError> {
    check_keys(document, &KeyPath::root(), Schema::Fields(&TOP))
}

fn check_keys(value: &Value, path: &KeyPath, schema: Schema) -> Result<(), ValueError> {
    match (schema, value) {
        (Schema::Fields(fields), Value::Object(map)) => {
            for (key, item) in map {
                let item_path = path.key(key);
                if key.starts_with("x-") || fields.ignored.contains(&key.as_str()) {
                    continue;
                }
                if fields.unsupported.contains(&key.as_str()) {
                    return Err(item_path.error("not supported by berth"));
                }
                match fields.known.iter().find(|(name, _)| name == key) {
                    Some((_, schema)) => check_keys(item, &item_path, *schema)?,
                    None => return Err(item_path.error("unknown key")),
                }
            }
            Ok(())
        }
        (Schema::Fields(_), Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                check_keys(item, &path.index(index), schema)?;
            }
            Ok(())
        }
        (Schema::Named(inner), Value::Object(map)) => {
            for (key, item) in map {
                check_keys(item, &path.key(key), *inner)?;
            }
            Ok(())
        }
        // `Any`, and scalars or other shapes, whose type the conversion checks.
        _ => Ok(()),
    }
}

/// The project-wide checks, on the merged services. `file_of` names the file that defines a
/// service, for the error.
pub(super) fn check_project(
    services: &[Service],
    volumes: &BTreeSet<&str>,
    networks: &BTreeSet<&str>,
    file_of: &dyn Fn(&str) -> String,
) -> Result<()> {
    let error = |service: &str, message: String| ComposeError::Project {
        file: file_of(service),
        message,
    };
    let mut container_names: BTreeMap<&str, &str> = BTreeMap::new();
    for service in services {
        if service.image.is_none() && service.build.is_none() {
            return Err(error(
                &service.name,
                format!(
                    "service {:?} has neither an image nor a build context",
                    service.name
                ),
            ));
        }
        for mount in &service.volumes {
            if let (super::model::MountKind::Volume, Some(source)) = (mount.kind, &mount.source)
                && !volumes.contains(source.as_str())
            {
                return Err(error(
                    &service.name,
                    format!(
                        "service {:?} refers to undefined volume {source:?}: declare it under the top-level `volumes`",
                        service.name
                    ),
                ));
            }
        }
        for network in &service.networks {
            if network != "default" && !networks.contains(network.as_str()) {
                return Err(error(
                    &service.name,
                    format!(
                        "service {:?} refers to undefined network {network:?}: declare it under the top-level `networks`",
                        service.name
                    ),
                ));
            }
        }
        if let Some(name) = &service.container_name
            && let Some(other) = container_names.insert(name, &service.name)
        {
            return Err(error(
                &service.name,
                format!(
                    "services {other:?} and {:?} have the same container_name {name:?}",
                    service.name
                ),
            ));
        }
    }
    check_port_conflicts(services).map_err(|(service, message)| error(&service, message))
}

/// A published host port range on one address, for the conflict check.
struct Published<'a> {
    service: &'a str,
    port: &'a Port,
    range: (u16, u16),
}

/// Refuses two mappings that publish the same host port (ranges overlapping) for the same
/// protocol on the same address; an unspecified address (`0.0.0.0`, `::`) overlaps all.
fn check_port_conflicts(services: &[Service]) -> Result<(), (String, String)> {
    let mut seen: Vec<Published<'_>> = Vec::new();
    for service in services {
        for port in &service.ports {
            let Some(range) = port.published.as_deref().and_then(parse_port_range) else {
                continue;
            };
            let current = Published {
                service: &service.name,
                port,
                range,
            };
            if let Some(other) = seen.iter().find(|other| overlaps(other, &current)) {
                let what = format!(
                    "{}/{}",
                    port.published.as_deref().unwrap_or_default(),
                    port.protocol
                );
                let message = if other.service == current.service {
                    format!(
                        "service {:?} publishes host port {what} twice",
                        current.service
                    )
                } else {
                    format!(
                        "services {:?} and {:?} both publish host port {what}",
                        other.service, current.service
                    )
                };
                return Err((current.service.to_owned(), message));
            }
            seen.push(current);
        }
    }
    Ok(())
}

fn overlaps(a: &Published<'_>, b: &Published<'_>) -> bool {
    let any = |ip: Option<&str>| matches!(ip, None | Some("0.0.0.0" | "::" | ""));
    let (ip_a, ip_b) = (a.port.host_ip.as_deref(), b.port.host_ip.as_deref());
    a.port.protocol == b.port.protocol
        && (any(ip_a) || any(ip_b) || ip_a == ip_b)
        && a.range.0 <= b.range.1
        && b.range.0 <= a.range.1
}
