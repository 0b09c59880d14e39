//! `pod …`: groups of containers that share one network namespace (as in Podman).

/// `pod create`
#[derive(Debug, clap::Args)]
pub struct PodCreateArgs {
    /// Name of the pod
    #[arg(long)]
    pub name: Option<String>,
    /// Publish a port of the pod's network to the host
    #[arg(short, long, value_name = "[IP:][HOST:]CONTAINER[/PROTO]")]
    pub publish: Vec<String>,
    /// Set metadata on the pod
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
}

/// `pod ls`
#[derive(Debug, clap::Args)]
pub struct PodLsArgs {
    /// Only display pod IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
}

/// `pod rm`
#[derive(Debug, clap::Args)]
pub struct PodRmArgs {
    /// Stop and remove running pods and their containers
    #[arg(short, long)]
    pub force: bool,
    /// The pods
    #[arg(value_name = "POD", required = true)]
    pub pods: Vec<String>,
}

/// `pod start`
#[derive(Debug, clap::Args)]
pub struct PodStartArgs {
    /// The pods
    #[arg(value_name = "POD", required = true)]
    pub pods: Vec<String>,
}

/// `pod stop`
#[derive(Debug, clap::Args)]
pub struct PodStopArgs {
    /// Seconds to wait for each container to stop before killing it
    #[arg(short, long, value_name = "SECONDS")]
    pub time: Option<u32>,
    /// The pods
    #[arg(value_name = "POD", required = true)]
    pub pods: Vec<String>,
}

/// `pod inspect`
#[derive(Debug, clap::Args)]
pub struct PodInspectArgs {
    /// The pods
    #[arg(value_name = "POD", required = true)]
    pub pods: Vec<String>,
}

/// `__pod-infra <id>`
#[derive(Debug, clap::Args)]
pub struct PodInfraArgs {
    /// The pod
    pub id: String,
    /// File descriptor to report readiness on
    #[arg(long)]
    pub ready_fd: Option<i32>,
}
