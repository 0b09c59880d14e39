//! serde types for the subset of the Kubernetes v1 API that berth writes and reads: Pod,
//! Deployment, ConfigMap and Service. Fields berth does not know are ignored when read (a
//! cluster manifest carries many), and empty ones are left out when written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A v1 Pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// `v1`.
    #[serde(default)]
    pub api_version: String,
    /// `Pod`.
    #[serde(default)]
    pub kind: String,
    /// Name, labels, annotations.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Containers and volumes.
    #[serde(default)]
    pub spec: PodSpec,
}

/// `spec` of a Pod (and of a Deployment's template).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// The containers.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Volumes the containers mount by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// `Always`, `OnFailure` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    /// The pod's hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// One container of a pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Unique in the pod.
    pub name: String,
    /// Image reference.
    #[serde(default)]
    pub image: String,
    /// Replaces the image's entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Replaces the image's cmd.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Environment variables from whole ConfigMaps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    /// Ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// Mounts of the pod's volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Privileges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    /// `-t`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
    /// `-i`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdin: bool,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_false(value: &bool) -> bool {
    !value
}

/// One environment variable: a value, or a reference to a ConfigMap key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Its name.
    pub name: String,
    /// Its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where the value comes from instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// `valueFrom`: berth reads ConfigMap keys; other sources are refused by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// A key of a ConfigMap in the same file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeySelector>,
    /// Any other source (secretKeyRef, fieldRef, …): unsupported.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `configMapKeyRef`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeySelector {
    /// The ConfigMap.
    pub name: String,
    /// Its key.
    pub key: String,
    /// A missing map or key is no error (the variable is left unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// One `envFrom` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    /// Put before every key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Every key of a ConfigMap in the same file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<NameReference>,
    /// Any other source (secretRef): unsupported.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `configMapRef`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NameReference {
    /// The ConfigMap.
    pub name: String,
    /// A missing map is no error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// One port of a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Port inside the pod.
    pub container_port: u16,
    /// Port published on the host (only these are published, as podman does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// Host address to bind.
    #[serde(default, rename = "hostIP", skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// `TCP` (the default) or `UDP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// One mount of a pod volume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// The pod volume.
    pub name: String,
    /// Path in the container.
    pub mount_path: String,
    /// Read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

/// One volume of a pod: exactly one source is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Its name in the pod.
    pub name: String,
    /// A host path: a bind mount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPathSource>,
    /// A named volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<ClaimSource>,
    /// Scratch space: tmpfs with medium `Memory`, else an anonymous volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirSource>,
    /// Any other source (configMap, secret, nfs, …): unsupported.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `hostPath`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostPathSource {
    /// The host path.
    pub path: String,
    /// `Directory`, `File`, `DirectoryOrCreate`, …
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `persistentVolumeClaim`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSource {
    /// The volume's name.
    pub claim_name: String,
}

/// `emptyDir`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmptyDirSource {
    /// `Memory` for a tmpfs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
}

/// `securityContext` of a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// Capabilities added and dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// `--privileged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// `--read-only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    /// A numeric `-u`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    /// The group of a numeric `-u UID:GID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<u32>,
}

/// `capabilities`: names without the `CAP_` prefix, as Kubernetes writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

/// An apps/v1 Deployment: one pod template (berth runs one replica).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Replicas and template.
    pub spec: DeploymentSpec,
}

/// `spec` of a Deployment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeploymentSpec {
    /// 1 when absent.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// The pod.
    pub template: PodTemplate,
}

/// `template` of a Deployment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PodTemplate {
    /// Labels of the pods.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The pod.
    #[serde(default)]
    pub spec: PodSpec,
}

/// A v1 ConfigMap.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConfigMap {
    /// Name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Its keys.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// A v1 Service (written by `generate -s`; read and ignored by `play`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `v1`.
    pub api_version: String,
    /// `Service`.
    pub kind: String,
    /// Name.
    pub metadata: ObjectMeta,
    /// Ports and selector.
    pub spec: ServiceSpec,
}

/// `spec` of a Service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `NodePort`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The pods it selects, by label.
    pub selector: BTreeMap<String, String>,
    /// Its ports.
    pub ports: Vec<ServicePort>,
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Unique in the Service.
    pub name: String,
    /// The Service's port.
    pub port: u16,
    /// The pod's port.
    pub target_port: u16,
    /// `TCP` or `UDP`.
    pub protocol: String,
    /// The node's port (only in the cluster's range, 30000–32767; else the cluster picks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
}
