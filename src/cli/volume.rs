//! Arguments of the volume commands.

use super::shared::{ForceArg, FormatArg};

/// `volume create`
#[derive(Debug, clap::Args)]
pub struct VolumeCreateArgs {
    /// Set metadata for a volume
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Volume driver name (only `local`)
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// The name (random if not given)
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

/// `volume ls`
#[derive(Debug, clap::Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (dangling=true|false, name=, label=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub format: FormatArg,
}

/// `volume inspect`
#[derive(Debug, clap::Args)]
pub struct VolumeInspectArgs {
    /// Format the output using the given Go template, or `json`
    #[arg(short, long)]
    pub format: Option<String>,
    /// Volumes
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

/// `volume rm`
#[derive(Debug, clap::Args)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    pub force: bool,
    /// Volumes
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

/// `volume prune`
#[derive(Debug, clap::Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    #[command(flatten)]
    pub force: ForceArg,
}
