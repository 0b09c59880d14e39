//! Arguments of the system commands.

use super::shared::{ForceArg, FormatArg};

/// `system info` / `info`
#[derive(Debug, clap::Args)]
pub struct SystemInfoArgs {
    /// Format the output using the given Go template, or `json`
    #[arg(short, long)]
    pub format: Option<String>,
}

/// `system df`
#[derive(Debug, clap::Args)]
pub struct SystemDfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub format: FormatArg,
}

/// `system check`
#[derive(Debug, clap::Args)]
pub struct SystemCheckArgs {
    /// Remove what is broken (never what is valid)
    #[arg(long)]
    pub repair: bool,
}

/// `system reset`
#[derive(Debug, clap::Args)]
pub struct SystemResetArgs {
    #[command(flatten)]
    pub force: ForceArg,
}
