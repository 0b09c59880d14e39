//! Flags shared by several commands, each spelled once.

/// `--format`.
#[derive(Debug, Clone, clap::Args)]
pub struct FormatArg {
    /// Format output: `table`, `table TEMPLATE`, `json`, or a Go template such as
    /// '{{.Repository}}:{{.Tag}}'
    #[arg(long)]
    pub format: Option<String>,
}

/// `-f/--force` for commands that would ask for confirmation.
#[derive(Debug, Clone, clap::Args)]
pub struct ForceArg {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}
