//! `kube generate`: a v1 Pod manifest for a pod, or for loose containers together, and with
//! `-s` a NodePort Service for its published ports. Only what differs from the image is
//! written (env, command, working directory), so that the manifest says what the user chose.

use std::collections::BTreeMap;

use anyhow::bail;
use fs_err as fs;

use super::super::container::{self, existing_store};
use super::super::{ExitStatus, Session, pod};
use crate::cli::KubeGenerateArgs;
use crate::image::{self, ops};
use crate::kube::{self, model};
use crate::oci::Reference;
use crate::storage::Store;
use crate::storage::containers::{ContainerRecord, PortMapping};

pub(super) fn generate(
    args: &KubeGenerateArgs,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    let Some(store) = existing_store(session) else {
        bail!("no such container or pod: {}", args.names[0]);
    };
    let mut pods = Vec::new();
    let mut loose: Vec<ContainerRecord> = Vec::new();
    for name in &args.names {
        if let Ok(record) = container::resolve(&store, name) {
            loose.push(record);
        } else if let Ok(found) = pod::resolve(&store, name) {
            let mut members = pod::members(&store, &found)?;
            members.sort_by_key(|r| r.created);
            if members.is_empty() {
                bail!("pod {} has no containers", found.name);
            }
            pods.push(PodSource {
                name: found.name.clone(),
                labels: found.labels.clone(),
                ports: found.port_bindings.clone(),
                members,
            });
        } else {
            bail!("no such container or pod: {name}");
        }
    }
    if let Some(first) = loose.first() {
        // podman's name for the pod of loose containers.
        pods.push(PodSource {
            name: format!("{}-pod", first.name),
            labels: BTreeMap::new(),
            ports: Vec::new(),
            members: loose,
        });
    }
    let mut objects: Vec<serde_json::Value> = Vec::new();
    for source in &pods {
        let manifest = pod_manifest(&store, source)?;
        let service = args.service.then(|| service_manifest(&manifest)).flatten();
        objects.push(serde_json::to_value(&manifest)?);
        if let Some(service) = service {
            objects.push(serde_json::to_value(&service)?);
        }
    }
    let text = kube::to_yaml(&objects)?;
    match &args.filename {
        Some(path) => fs::write(path, text)?,
        None => session.cx.printer.out(&text),
    }
    Ok(ExitStatus::SUCCESS)
}

/// A pod to describe: a berth pod, or loose containers (which publish their own ports).
struct PodSource {
    name: String,
    labels: BTreeMap<String, String>,
    /// The pod's published ports, given to the member whose image exposes them (else the first).
    ports: Vec<PortMapping>,
    members: Vec<ContainerRecord>,
}

fn pod_manifest(store: &Store, source: &PodSource) -> anyhow::Result<model::Pod> {
    let pod_name = kube::object_name(&source.name);
    let mut volumes = Volumes::default();
    let mut containers = Vec::new();
    let mut annotations = BTreeMap::new();
    for record in &source.members {
        let image = image_config(store, record);
        let name = record
            .name
            .strip_prefix(&format!("{}-", source.name))
            .unwrap_or(&record.name);
        let name = kube::object_name(name);
        let container = container_manifest(record, &image, &name, &mut volumes);
        let image_labels = image.labels.clone().unwrap_or_default();
        for (key, value) in &record.config.labels {
            if image_labels.get(key) != Some(value) {
                // podman's form for per-container metadata: `KEY/CONTAINER`.
                annotations.insert(format!("{key}/{name}"), value.clone());
            }
        }
        containers.push(container);
    }
    for port in &source.ports {
        let owner = source
            .members
            .iter()
            .position(|m| m.config.exposed_ports.contains(&port.container_key()))
            .unwrap_or(0);
        containers[owner].ports.push(container_port(port));
    }
    let mut labels = source.labels.clone();
    labels.insert("app".to_owned(), pod_name.clone());
    Ok(model::Pod {
        api_version: "v1".to_owned(),
        kind: "Pod".to_owned(),
        metadata: model::ObjectMeta {
            name: pod_name,
            labels,
            annotations,
        },
        spec: model::PodSpec {
            containers,
            volumes: volumes.list,
            restart_policy: Some(restart_policy(&source.members[0].host_config.restart.name)),
            hostname: None,
        },
    })
}

/// The image's config, or an empty one when the image is gone (then everything is written).
fn image_config(store: &Store, record: &ContainerRecord) -> crate::oci::image::ContainerConfig {
    image::resolve(store, &record.image_id.to_string())
        .ok()
        .and_then(|resolved| ops::details(store, resolved.image).ok())
        .and_then(|details| details.config.config)
        .unwrap_or_default()
}

fn container_manifest(
    record: &ContainerRecord,
    image: &crate::oci::image::ContainerConfig,
    name: &str,
    volumes: &mut Volumes,
) -> model::Container {
    let config = &record.config;
    let host = &record.host_config;
    let image_env = image.env.clone().unwrap_or_default();
    let env = config
        .env
        .iter()
        .filter(|entry| !image_env.contains(entry))
        .map(|entry| {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            model::EnvVar {
                name: key.to_owned(),
                value: Some(value.to_owned()),
                value_from: None,
            }
        })
        .collect();
    // Kubernetes drops the image's cmd when `command` is set: then `args` is always written.
    let (command, args) = if config.entrypoint == image.entrypoint.clone().unwrap_or_default() {
        let same = config.cmd == image.cmd.clone().unwrap_or_default();
        (
            Vec::new(),
            if same { Vec::new() } else { config.cmd.clone() },
        )
    } else if config.entrypoint.is_empty() {
        (config.cmd.clone(), Vec::new())
    } else {
        (config.entrypoint.clone(), config.cmd.clone())
    };
    let image_dir = image.working_dir.clone().filter(|d| !d.is_empty());
    let working_dir = (!config.working_dir.is_empty()
        && Some(config.working_dir.as_str()) != image_dir.as_deref().or(Some("/")))
    .then(|| config.working_dir.clone());
    let mut mounts = Vec::new();
    for mount in &host.mounts {
        mounts.push(model::VolumeMount {
            name: volumes.name_for(mount),
            mount_path: mount.destination.clone(),
            read_only: mount.read_only,
        });
    }
    let image_name =
        Reference::parse(&record.image).map_or_else(|_| record.image.clone(), |r| r.to_string());
    let mut container = model::Container {
        name: name.to_owned(),
        image: image_name,
        command,
        args,
        env,
        env_from: Vec::new(),
        ports: Vec::new(),
        volume_mounts: mounts,
        working_dir,
        security_context: security_context(record),
        tty: config.tty,
        stdin: config.open_stdin,
    };
    if !matches!(host.network_mode.as_str(), mode if mode.starts_with("pod:")) {
        container.ports = host.port_bindings.iter().map(container_port).collect();
    }
    container
}

fn container_port(port: &PortMapping) -> model::ContainerPort {
    model::ContainerPort {
        container_port: port.container_port,
        host_port: (port.host_port != 0).then_some(port.host_port),
        host_ip: (!port.host_ip.is_empty() && port.host_ip != "0.0.0.0")
            .then(|| port.host_ip.clone()),
        protocol: Some(port.protocol.to_uppercase()),
    }
}

fn security_context(record: &ContainerRecord) -> Option<model::SecurityContext> {
    let host = &record.host_config;
    let capability = |name: &String| {
        let upper = name.to_uppercase();
        upper
            .strip_prefix("CAP_")
            .map_or(upper.clone(), str::to_owned)
    };
    let capabilities = model::Capabilities {
        add: host.cap_add.iter().map(capability).collect(),
        drop: host.cap_drop.iter().map(capability).collect(),
    };
    let (user, group) = record
        .config
        .user
        .split_once(':')
        .unwrap_or((&record.config.user, ""));
    let run_as_user = user.parse::<u32>().ok();
    let run_as_group = run_as_user.and_then(|_| group.parse::<u32>().ok());
    let context = model::SecurityContext {
        capabilities: (!capabilities.add.is_empty() || !capabilities.drop.is_empty())
            .then_some(capabilities),
        privileged: host.privileged.then_some(true),
        read_only_root_filesystem: host.read_only.then_some(true),
        run_as_user,
        run_as_group,
    };
    (context != model::SecurityContext::default()).then_some(context)
}

/// berth's restart policy in Kubernetes' words.
fn restart_policy(name: &str) -> String {
    match name {
        "always" | "unless-stopped" => "Always",
        "on-failure" => "OnFailure",
        _ => "Never",
    }
    .to_owned()
}

/// The pod's volumes: one per host path or named volume (shared by the containers that mount
/// it), one per tmpfs or anonymous volume.
#[derive(Default)]
struct Volumes {
    list: Vec<model::Volume>,
}

impl Volumes {
    fn name_for(&mut self, mount: &crate::storage::containers::MountSpec) -> String {
        let mut volume = model::Volume::default();
        let base = match (mount.kind.as_str(), mount.anonymous) {
            ("bind", _) => {
                let path = std::path::Path::new(&mount.source);
                let kind = if path.is_dir() {
                    Some("Directory")
                } else if path.is_file() {
                    Some("File")
                } else {
                    None
                };
                volume.host_path = Some(model::HostPathSource {
                    path: mount.source.clone(),
                    kind: kind.map(str::to_owned),
                });
                format!("{}-host", kube::object_name(&mount.source))
            }
            ("volume", false) => {
                volume.persistent_volume_claim = Some(model::ClaimSource {
                    claim_name: mount.source.clone(),
                });
                format!("{}-pvc", kube::object_name(&mount.source))
            }
            (kind, _) => {
                volume.empty_dir = Some(model::EmptyDirSource {
                    medium: (kind == "tmpfs").then(|| "Memory".to_owned()),
                });
                format!("{}-empty", kube::object_name(&mount.destination))
            }
        };
        if volume.empty_dir.is_none() {
            if let Some(same) = self.list.iter().find(|v| {
                v.host_path == volume.host_path
                    && v.persistent_volume_claim == volume.persistent_volume_claim
            }) {
                return same.name.clone();
            }
        }
        let mut name = base.clone();
        let mut number = 1;
        while self.list.iter().any(|v| v.name == name) {
            number += 1;
            name = format!("{base}-{number}");
        }
        volume.name.clone_from(&name);
        self.list.push(volume);
        name
    }
}

/// A NodePort Service selecting the pod, for its published ports; None without any.
fn service_manifest(pod: &model::Pod) -> Option<model::Service> {
    let ports: Vec<model::ServicePort> = pod
        .spec
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .map(|port| {
            let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".to_owned());
            model::ServicePort {
                name: format!("{}-{}", port.container_port, protocol.to_lowercase()),
                port: port.container_port,
                target_port: port.container_port,
                protocol,
                // A cluster accepts node ports only in its range; elsewhere it picks one.
                node_port: port.host_port.filter(|p| (30000..=32767).contains(p)),
            }
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    Some(model::Service {
        api_version: "v1".to_owned(),
        kind: "Service".to_owned(),
        metadata: model::ObjectMeta {
            name: pod.metadata.name.clone(),
            labels: [("app".to_owned(), pod.metadata.name.clone())].into(),
            annotations: BTreeMap::new(),
        },
        spec: model::ServiceSpec {
            kind: "NodePort".to_owned(),
            selector: [("app".to_owned(), pod.metadata.name.clone())].into(),
            ports,
        },
    })
}
