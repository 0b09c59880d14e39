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

/// When `run`, `create` and `build` pull an image (Docker's `--pull`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PullPolicyArg {
    /// Pull even when the image is present
    #[value(alias = "true")]
    Always,
    /// Pull only when the image is not present
    #[default]
    #[value(alias = "false")]
    Missing,
    /// Never pull: a missing image is an error
    Never,
}
