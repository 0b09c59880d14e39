//! `kube …`: Kubernetes YAML from containers and pods, and pods from Kubernetes YAML (as in
//! Podman).

use std::path::PathBuf;

/// `kube …`
#[derive(Debug, clap::Subcommand)]
pub enum KubeCommand {
    /// Print a Kubernetes Pod manifest (and with -s a Service) for containers or pods
    Generate(KubeGenerateArgs),
    /// Create pods and their containers from a Kubernetes YAML file (Pod, Deployment, ConfigMap)
    Play(KubePlayArgs),
    /// Stop and remove the pods a Kubernetes YAML file describes (same as `kube play --down`)
    Down(KubeDownArgs),
}

/// `kube down`
#[derive(Debug, clap::Args)]
pub struct KubeDownArgs {
    /// The Kubernetes YAML file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `kube generate`
#[derive(Debug, clap::Args)]
pub struct KubeGenerateArgs {
    /// Also write a Service of type NodePort for the published ports
    #[arg(short, long)]
    pub service: bool,
    /// Write the YAML to this file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub filename: Option<PathBuf>,
    /// The containers (together in one pod) or pods
    #[arg(value_name = "CONTAINER|POD", required = true)]
    pub names: Vec<String>,
}

/// `kube play`
#[derive(Debug, clap::Args)]
pub struct KubePlayArgs {
    /// Stop and remove the pods the file describes, and their containers
    #[arg(long, conflicts_with = "replace")]
    pub down: bool,
    /// Remove pods of the same names (and their containers) first
    #[arg(long)]
    pub replace: bool,
    /// The Kubernetes YAML file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}
