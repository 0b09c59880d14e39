//! `compose …`: applications of several containers described by a compose.yaml.

use std::path::PathBuf;

use clap::Subcommand;

/// `compose [OPTIONS] COMMAND`
#[derive(Debug, clap::Args)]
pub struct ComposeArgs {
    /// Compose file (repeat to merge overrides; default: compose.yaml, compose.yml,
    /// docker-compose.yml or docker-compose.yaml in the current directory)
    #[arg(short, long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: COMPOSE_PROJECT_NAME, the file's `name:`, or the directory's name)
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Variables for interpolation (default: .env in the project directory)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Enable services of this profile (also COMPOSE_PROFILES)
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// The compose command.
    #[command(subcommand)]
    pub command: ComposeCommand,
}

/// The compose commands.
#[derive(Debug, Subcommand)]
pub enum ComposeCommand {
    /// Create and start the services' containers (building or pulling images as needed)
    Up(ComposeUpArgs),
    /// Stop and remove the project's containers and its network
    Down(ComposeDownArgs),
    /// List the project's containers
    Ps(ComposePsArgs),
    /// Show the services' output
    Logs(ComposeLogsArgs),
    /// Build the services that have a build section
    Build(ComposeBuildArgs),
    /// Pull the services' images
    Pull(ComposeServicesArgs),
    /// Start the services' existing containers
    Start(ComposeServicesArgs),
    /// Stop the services' containers
    Stop(ComposeStopArgs),
    /// Restart the services' containers
    Restart(ComposeStopArgs),
    /// Run a command in a running service container
    Exec(ComposeExecArgs),
    /// Run a one-off command in a new container of a service
    #[command(disable_help_flag = true)]
    Run(ComposeRunArgs),
    /// Print the normalised, interpolated model
    Config(ComposeConfigArgs),
}

/// `compose up`
#[derive(Debug, clap::Args)]
pub struct ComposeUpArgs {
    /// Start in the background and leave them running
    #[arg(short, long)]
    pub detach: bool,
    /// Build images before starting
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Do not build missing images
    #[arg(long)]
    pub no_build: bool,
    /// Recreate containers even if their configuration has not changed
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers even if their configuration changed
    #[arg(long)]
    pub no_recreate: bool,
    /// Do not start the services' dependencies
    #[arg(long)]
    pub no_deps: bool,
    /// Remove containers of services no longer in the compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Stop every container when any container stops (foreground only)
    #[arg(long, conflicts_with = "detach")]
    pub abort_on_container_exit: bool,
    /// Seconds to wait for a stop before killing (after Ctrl-C)
    #[arg(short, long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Services to start (default: all)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `compose down`
#[derive(Debug, clap::Args)]
pub struct ComposeDownArgs {
    /// Remove named volumes declared in the file, and anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove images: `local` (built without a custom tag) or `all`
    #[arg(long, value_name = "TYPE", value_parser = ["local", "all"])]
    pub rmi: Option<String>,
    /// Remove containers of services no longer in the compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Seconds to wait for a stop before killing
    #[arg(short, long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
}

/// `compose ps`
#[derive(Debug, clap::Args)]
pub struct ComposePsArgs {
    /// Show stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display the services
    #[arg(long)]
    pub services: bool,
    /// Only these services
    #[arg(value_name = "SERVICE")]
    pub service_names: Vec<String>,
}

/// `compose logs`
#[derive(Debug, clap::Args)]
pub struct ComposeLogsArgs {
    /// Follow the output
    #[arg(short, long)]
    pub follow: bool,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Number of lines from the end of each log (or `all`)
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<String>,
    /// No colours
    #[arg(long)]
    pub no_color: bool,
    /// Do not prefix lines with the container's name
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Only these services
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `compose build`
#[derive(Debug, clap::Args)]
pub struct ComposeBuildArgs {
    /// Do not use the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Only print the image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Only these services
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// Commands that take only service names.
#[derive(Debug, clap::Args)]
pub struct ComposeServicesArgs {
    /// Only these services
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `compose stop` and `compose restart`
#[derive(Debug, clap::Args)]
pub struct ComposeStopArgs {
    /// Seconds to wait for a stop before killing
    #[arg(short, long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Only these services
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `compose exec`
#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct ComposeExecArgs {
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Do not allocate a terminal (the default when stdin is not a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set environment variables
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Run as this user
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory in the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The service
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The command and its arguments
    #[arg(value_name = "COMMAND", required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `compose run`
#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct ComposeRunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run in the background and print the container's ID
    #[arg(short, long)]
    pub detach: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Override the image's entrypoint
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run as this user
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory in the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Do not start the service's dependencies
    #[arg(long)]
    pub no_deps: bool,
    /// Do not allocate a terminal
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep stdin open (the default)
    #[arg(short, long)]
    pub interactive: bool,
    /// The service
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The command and its arguments (default: the service's command)
    #[arg(value_name = "COMMAND", allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `compose config`
#[derive(Debug, clap::Args)]
pub struct ComposeConfigArgs {
    /// Only validate; print nothing
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
}
