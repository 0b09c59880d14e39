//! Manifest → [`PodPlan`]s: what `kube play` creates, with every reference (volumes, ConfigMap
//! keys) resolved and every unsupported request refused before anything exists. Pure.

use std::collections::BTreeMap;

use super::model::{Container, PodSpec};
use super::{Document, KubeError, config_maps, model};

/// One pod to create.
#[derive(Debug, Clone, PartialEq)]
pub struct PodPlan {
    /// The pod's name (a Deployment's pod is `NAME-pod`, as podman names it).
    pub name: String,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// Ports the pod publishes: every container port with a `hostPort`.
    pub ports: Vec<PortPlan>,
    /// berth's restart policy for every container (`always`, `on-failure`, `no`).
    pub restart: String,
    /// Its containers, in the file's order.
    pub containers: Vec<ContainerPlan>,
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPlan {
    /// Host address, empty for all.
    pub host_ip: String,
    /// Host port.
    pub host_port: u16,
    /// Port in the pod.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// One container to create.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerPlan {
    /// `PODNAME-CONTAINERNAME`, as podman names them.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// `command`: replaces the image's entrypoint (and then its cmd too, as in Kubernetes).
    pub entrypoint: Option<Vec<String>>,
    /// `args`: replaces the image's cmd.
    pub args: Vec<String>,
    /// Labels: the pod's annotations `KEY/CONTAINER` (podman's per-container form).
    pub labels: BTreeMap<String, String>,
    /// Environment, ConfigMap values resolved; later entries win.
    pub env: Vec<(String, String)>,
    /// Mounts.
    pub mounts: Vec<MountPlan>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// `UID` or `UID:GID`.
    pub user: Option<String>,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub stdin: bool,
}

/// What backs a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// `hostPath`.
    Bind,
    /// `persistentVolumeClaim`: a named volume, created if missing.
    Volume,
    /// `emptyDir` with medium `Memory`.
    Tmpfs,
    /// `emptyDir` on disk: an anonymous volume, removed with the container.
    Anonymous,
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    /// Its backing.
    pub kind: MountKind,
    /// Host path or volume name; empty for tmpfs and anonymous volumes.
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// The pods of a file, in its order. A Deployment must ask for one replica.
pub fn plan(documents: &[Document]) -> Result<Vec<PodPlan>, KubeError> {
    let maps = config_maps(documents);
    let mut pods: Vec<PodPlan> = Vec::new();
    for document in documents {
        let pod = match document {
            Document::Pod(pod) => pod_plan(
                &pod.metadata.name,
                &pod.metadata.labels,
                &pod.metadata.annotations,
                &pod.spec,
                &maps,
            )?,
            Document::Deployment(deployment) => {
                let name = &deployment.metadata.name;
                let replicas = deployment.spec.replicas.unwrap_or(1);
                if replicas != 1 {
                    return Err(unsupported(
                        format!("deployment \"{name}\""),
                        format!(
                            "replicas: {replicas}: berth runs exactly one replica of a Deployment"
                        ),
                    ));
                }
                let template = &deployment.spec.template;
                let mut labels = deployment.metadata.labels.clone();
                labels.extend(template.metadata.labels.clone());
                pod_plan(
                    &format!("{name}-pod"),
                    &labels,
                    &template.metadata.annotations,
                    &template.spec,
                    &maps,
                )?
            }
            Document::ConfigMap(_) | Document::Service => continue,
        };
        if pods.iter().any(|p| p.name == pod.name) {
            return Err(unsupported(
                format!("pod \"{}\"", pod.name),
                "defined twice in the file".to_owned(),
            ));
        }
        pods.push(pod);
    }
    Ok(pods)
}

fn unsupported(object: String, message: String) -> KubeError {
    KubeError::Unsupported { object, message }
}

fn pod_plan(
    name: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    spec: &PodSpec,
    maps: &BTreeMap<&str, &model::ConfigMap>,
) -> Result<PodPlan, KubeError> {
    let object = format!("pod \"{name}\"");
    if name.is_empty() {
        return Err(unsupported("pod".to_owned(), "no metadata.name".to_owned()));
    }
    if spec.containers.is_empty() {
        return Err(unsupported(object, "no containers".to_owned()));
    }
    // Kubernetes' default policy is Always, and podman's play keeps it.
    let restart = match spec.restart_policy.as_deref() {
        None | Some("Always") => "always",
        Some("OnFailure") => "on-failure",
        Some("Never") => "no",
        Some(other) => {
            return Err(unsupported(
                object,
                format!("restartPolicy `{other}`: expected Always, OnFailure or Never"),
            ));
        }
    };
    let mut ports = Vec::new();
    let mut containers: Vec<ContainerPlan> = Vec::new();
    for container in &spec.containers {
        let object = format!("container \"{name}/{}\"", container.name);
        if containers
            .iter()
            .any(|c| c.name == format!("{name}-{}", container.name))
        {
            return Err(unsupported(object, "defined twice in the pod".to_owned()));
        }
        for port in &container.ports {
            let protocol = match port.protocol.as_deref() {
                None | Some("TCP") => "tcp",
                Some("UDP") => "udp",
                Some(other) => {
                    return Err(unsupported(
                        object,
                        format!("port protocol `{other}`: expected TCP or UDP"),
                    ));
                }
            };
            // podman publishes only ports with a hostPort; so does berth.
            if let Some(host_port) = port.host_port {
                ports.push(PortPlan {
                    host_ip: port.host_ip.clone().unwrap_or_default(),
                    host_port,
                    container_port: port.container_port,
                    protocol: protocol.to_owned(),
                });
            }
        }
        let mut plan = container_plan(name, container, spec, maps)?;
        let suffix = format!("/{}", container.name);
        plan.labels = annotations
            .iter()
            .filter_map(|(key, value)| Some((key.strip_suffix(&suffix)?.to_owned(), value.clone())))
            .collect();
        containers.push(plan);
    }
    Ok(PodPlan {
        name: name.to_owned(),
        labels: labels.clone(),
        ports,
        restart: restart.to_owned(),
        containers,
    })
}

fn container_plan(
    pod: &str,
    container: &Container,
    spec: &PodSpec,
    maps: &BTreeMap<&str, &model::ConfigMap>,
) -> Result<ContainerPlan, KubeError> {
    let object = format!("container \"{pod}/{}\"", container.name);
    let fail = |message: String| unsupported(object.clone(), message);
    if container.name.is_empty() {
        return Err(unsupported(
            format!("pod \"{pod}\""),
            "a container has no name".to_owned(),
        ));
    }
    if container.image.is_empty() {
        return Err(fail("no image".to_owned()));
    }
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |key: String, value: String| match env.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => env.push((key, value)),
    };
    for source in &container.env_from {
        if let Some(other) = source.other.keys().next() {
            return Err(fail(format!(
                "envFrom.{other}: only configMapRef is supported"
            )));
        }
        let Some(reference) = &source.config_map_ref else {
            continue;
        };
        match maps.get(reference.name.as_str()) {
            Some(map) => {
                for (key, value) in &map.data {
                    let prefix = source.prefix.as_deref().unwrap_or("");
                    set(format!("{prefix}{key}"), value.clone());
                }
            }
            None if reference.optional == Some(true) => {}
            None => {
                return Err(fail(format!(
                    "ConfigMap \"{}\" is not in the file",
                    reference.name
                )));
            }
        }
    }
    for variable in &container.env {
        if let Some(value) = &variable.value {
            set(variable.name.clone(), value.clone());
            continue;
        }
        let Some(source) = &variable.value_from else {
            set(variable.name.clone(), String::new());
            continue;
        };
        if let Some(other) = source.other.keys().next() {
            return Err(fail(format!(
                "env \"{}\": valueFrom.{other}: only configMapKeyRef is supported",
                variable.name
            )));
        }
        let Some(selector) = &source.config_map_key_ref else {
            continue;
        };
        match maps
            .get(selector.name.as_str())
            .and_then(|m| m.data.get(&selector.key))
        {
            Some(value) => set(variable.name.clone(), value.clone()),
            None if selector.optional == Some(true) => {}
            None => {
                return Err(fail(format!(
                    "env \"{}\": key \"{}\" of ConfigMap \"{}\" is not in the file",
                    variable.name, selector.key, selector.name
                )));
            }
        }
    }
    let mut mounts = Vec::new();
    for mount in &container.volume_mounts {
        let Some(volume) = spec.volumes.iter().find(|v| v.name == mount.name) else {
            return Err(fail(format!(
                "volumeMount \"{}\": no such volume in the pod",
                mount.name
            )));
        };
        let (kind, source) = if let Some(host) = &volume.host_path {
            (MountKind::Bind, host.path.clone())
        } else if let Some(claim) = &volume.persistent_volume_claim {
            (MountKind::Volume, claim.claim_name.clone())
        } else if let Some(empty) = &volume.empty_dir {
            match empty.medium.as_deref() {
                Some("Memory") => (MountKind::Tmpfs, String::new()),
                _ => (MountKind::Anonymous, String::new()),
            }
        } else {
            let what = volume
                .other
                .keys()
                .next()
                .map_or("no source", String::as_str);
            return Err(fail(format!(
                "volume \"{}\": {what}: supported sources are hostPath, persistentVolumeClaim and emptyDir",
                volume.name
            )));
        };
        mounts.push(MountPlan {
            kind,
            source,
            target: mount.mount_path.clone(),
            read_only: mount.read_only,
        });
    }
    let security = container.security_context.clone().unwrap_or_default();
    let user = match (security.run_as_user, security.run_as_group) {
        (Some(user), Some(group)) => Some(format!("{user}:{group}")),
        (Some(user), None) => Some(user.to_string()),
        (None, Some(_)) => return Err(fail("runAsGroup without runAsUser".to_owned())),
        (None, None) => None,
    };
    let capabilities = security.capabilities.unwrap_or_default();
    Ok(ContainerPlan {
        name: format!("{pod}-{}", container.name),
        labels: BTreeMap::new(),
        image: container.image.clone(),
        entrypoint: (!container.command.is_empty()).then(|| container.command.clone()),
        args: container.args.clone(),
        env,
        mounts,
        working_dir: container.working_dir.clone(),
        user,
        cap_add: capabilities.add,
        cap_drop: capabilities.drop,
        privileged: security.privileged == Some(true),
        read_only: security.read_only_root_filesystem == Some(true),
        tty: container.tty,
        stdin: container.stdin,
    })
}
