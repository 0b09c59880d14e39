//! LowArgs: clap derive structs only, values as the user typed them. Docker's command tree:
//! management groups (`image`, `system`) and the short top-level forms (`images`, `rmi`, …).
//!
//! Uses nothing else of the crate.

mod build;
mod compose;
mod container;
mod fast;
mod image;
mod kube;
mod pod;
mod registry;
mod shared;
mod system;
mod systemd;
mod volume;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use build::*;
pub use compose::*;
pub use container::*;
pub use image::*;
pub use kube::*;
pub use pod::*;
pub use registry::*;
pub use shared::*;
pub use system::*;
pub use systemd::*;
pub use volume::*;

/// Daemonless, rootless containers that speak Docker's language.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options for every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line: with only the named command's tree when that is enough
    /// (see [`fast`]), else with clap's whole tree.
    pub fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Self, clap::Error> {
        let args = generator_args(args);
        if let Some(cli) = fast::parse(&args) {
            return Ok(cli);
        }
        <Self as Parser>::try_parse_from(args)
    }
}

/// Options accepted by every command.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Storage root (default: $XDG_DATA_HOME/berth, i.e. ~/.local/share/berth)
    #[arg(long, global = true, env = "BERTH_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Runtime state directory (default: $XDG_RUNTIME_DIR/berth, or /tmp/berth-$UID)
    #[arg(long, global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// Log level: error, warn, info, debug or trace
    #[arg(
        long,
        global = true,
        env = "BERTH_LOG",
        value_name = "LEVEL",
        default_value = "warn"
    )]
    pub log_level: String,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage berth itself: information, disk use, checks
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage pods: containers that share one network namespace
    #[command(subcommand)]
    Pod(PodCommand),
    /// Manage healthchecks of containers
    #[command(subcommand)]
    Healthcheck(HealthcheckCommand),
    /// Run applications of several containers described by a compose.yaml
    Compose(ComposeArgs),
    /// Generate Kubernetes YAML from containers and pods, or play it
    #[command(subcommand)]
    Kube(KubeCommand),
    /// Generate structured data: systemd units
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// systemd generator: units from Quadlet files (`*.container`, `*.volume`, `*.pod`, `*.kube`)
    SystemdGenerator(SystemdGeneratorArgs),

    /// Create and run a new container from an image
    #[command(disable_help_flag = true, after_long_help = SECURITY_HELP)]
    Run(ContainerRunArgs),
    /// Build an image from a Dockerfile (same as `image build`)
    Build(BuildArgs),
    /// Manage builds: build, and prune the build cache
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(ContainerCreateArgs),
    /// Start one or more stopped containers
    Start(ContainerStartArgs),
    /// Stop one or more running containers
    Stop(ContainerStopArgs),
    /// Restart one or more containers
    Restart(ContainerStopArgs),
    /// Kill one or more running containers
    Kill(ContainerKillArgs),
    /// Remove one or more containers
    Rm(ContainerRmArgs),
    /// List containers
    Ps(ContainerLsArgs),
    /// Fetch the logs of a container
    Logs(ContainerLogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainerWaitArgs),
    /// Rename a container
    Rename(ContainerRenameArgs),
    /// Execute a command in a running container
    Exec(ContainerExecArgs),
    /// Display the running processes of a container
    Top(ContainerTopArgs),
    /// List port mappings or a specific mapping for the container
    Port(ContainerPortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(ContainerCpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(ContainerStatsArgs),
    /// Pause all processes within one or more containers
    Pause(ContainerPauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainerPauseArgs),

    /// List images (same as `image ls`)
    Images(ImageLsArgs),
    /// Remove one or more images (same as `image rm`)
    Rmi(ImageRmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE (same as `image tag`)
    Tag(ImageTagArgs),
    /// Load an image from a tar archive or STDIN (same as `image load`)
    Load(ImageLoadArgs),
    /// Save one or more images to a tar archive (same as `image save`)
    Save(ImageSaveArgs),
    /// Import the contents from a tarball to create a filesystem image (same as `image import`)
    Import(ImageImportArgs),
    /// Show the history of an image (same as `image history`)
    History(ImageHistoryArgs),
    /// Download an image from a registry (same as `image pull`)
    #[command(after_long_help = REGISTRIES_HELP)]
    Pull(ImagePullArgs),
    /// Upload an image to a registry (same as `image push`)
    #[command(after_long_help = REGISTRIES_HELP)]
    Push(ImagePushArgs),
    /// Log in to a registry
    #[command(after_long_help = REGISTRIES_HELP)]
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Return low-level information on containers and images
    Inspect(InspectArgs),
    /// Display system-wide information (same as `system info`)
    Info(SystemInfoArgs),
    /// Show the berth version information
    Version(VersionArgs),
    /// Run a command inside berth's user namespace (like `buildah unshare`)
    Unshare(UnshareArgs),

    /// Supervise a detached container (started by `run -d` and `start`)
    #[command(name = "__monitor", hide = true)]
    Monitor(MonitorArgs),
    /// Generate man pages or shell completions (used by install.sh)
    #[command(name = "__generate", hide = true)]
    GenerateDocs(GenerateArgs),
    /// Hold a pod's network namespace (started by `pod create`, `pod start`, `run --pod`)
    #[command(name = "__pod-infra", hide = true)]
    PodInfra(PodInfraArgs),
    /// Forward an SSH agent into a build step (started by `build` for RUN --mount=type=ssh)
    #[command(name = "__ssh-proxy", hide = true)]
    SshProxy(SshProxyArgs),
}

/// `builder …`
#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

/// `pod …`
#[derive(Debug, Subcommand)]
pub enum PodCommand {
    /// Create a new pod (its network starts at once)
    Create(PodCreateArgs),
    /// List pods
    #[command(visible_alias = "list", visible_alias = "ps")]
    Ls(PodLsArgs),
    /// Remove one or more pods and their containers
    Rm(PodRmArgs),
    /// Start one or more pods and their containers
    Start(PodStartArgs),
    /// Stop one or more pods and their containers
    Stop(PodStopArgs),
    /// Display detailed information on one or more pods
    Inspect(PodInspectArgs),
}

/// `image …`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImageLsArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(ImageRmArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(ImageTagArgs),
    /// Load an image from a tar archive or STDIN
    Load(ImageLoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(ImageSaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImageImportArgs),
    /// Display detailed information on one or more images
    Inspect(ImageInspectArgs),
    /// Show the history of an image
    History(ImageHistoryArgs),
    /// Download an image from a registry
    #[command(after_long_help = REGISTRIES_HELP)]
    Pull(ImagePullArgs),
    /// Upload an image to a registry
    #[command(after_long_help = REGISTRIES_HELP)]
    Push(ImagePushArgs),
}

/// `container …`
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true, after_long_help = SECURITY_HELP)]
    Run(ContainerRunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(ContainerCreateArgs),
    /// Start one or more stopped containers
    Start(ContainerStartArgs),
    /// Stop one or more running containers
    Stop(ContainerStopArgs),
    /// Restart one or more containers
    Restart(ContainerStopArgs),
    /// Kill one or more running containers
    Kill(ContainerKillArgs),
    /// Remove one or more containers
    Rm(ContainerRmArgs),
    /// List containers
    #[command(visible_aliases = ["list", "ps"])]
    Ls(ContainerLsArgs),
    /// Fetch the logs of a container
    Logs(ContainerLogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainerWaitArgs),
    /// Display detailed information on one or more containers
    Inspect(ContainerInspectArgs),
    /// Remove all stopped containers
    Prune(ContainerPruneArgs),
    /// Rename a container
    Rename(ContainerRenameArgs),
    /// Execute a command in a running container
    Exec(ContainerExecArgs),
    /// Display the running processes of a container
    Top(ContainerTopArgs),
    /// List port mappings or a specific mapping for the container
    Port(ContainerPortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(ContainerCpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(ContainerStatsArgs),
    /// Pause all processes within one or more containers
    Pause(ContainerPauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainerPauseArgs),
}

/// `healthcheck …`
#[derive(Debug, Subcommand)]
pub enum HealthcheckCommand {
    /// Run the healthcheck of a container now: prints healthy or unhealthy (exit 0 or 1)
    Run(HealthcheckRunArgs),
}

/// `volume …`
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused volumes (anonymous ones; all with -a)
    Prune(VolumePruneArgs),
}

/// `system …`
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Display system-wide information
    Info(SystemInfoArgs),
    /// Show berth disk usage
    Df(SystemDfArgs),
    /// Verify the store: digests, references, layers
    Check(SystemCheckArgs),
    /// Remove all images, containers and volumes: reset the store
    Reset(SystemResetArgs),
}

/// `version`
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Format the output using the given Go template, or `json`
    #[arg(short, long)]
    pub format: Option<String>,
}

/// `unshare`
#[derive(Debug, clap::Args)]
pub struct UnshareArgs {
    /// Command to run (default: $SHELL)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `inspect`
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template, or `json`
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "TYPE", value_parser = ["image", "container"])]
    pub kind: Option<String>,
    /// Names or IDs
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// `__generate`
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// What to generate
    #[arg(value_parser = ["man", "completions"])]
    pub what: String,
    /// Output directory
    pub dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
