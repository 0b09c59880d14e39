//! Arguments of the image commands.

use std::path::PathBuf;

use super::shared::{ForceArg, FormatArg};

/// `image ls` / `images`
#[derive(Debug, clap::Args)]
pub struct ImageLsArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=true, reference=, before=, since=, label=)
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub format: FormatArg,
    /// Only images with this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `image rm` / `rmi`
#[derive(Debug, clap::Args)]
pub struct ImageRmArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted for compatibility)
    #[arg(long)]
    pub no_prune: bool,
    /// Images to remove
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `image prune`
#[derive(Debug, clap::Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    #[command(flatten)]
    pub force: ForceArg,
    /// Provide filter values (accepted: label=…, until=…)
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// `image tag` / `tag`
#[derive(Debug, clap::Args)]
pub struct ImageTagArgs {
    /// The existing image
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new name
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

/// `image load` / `load`
#[derive(Debug, clap::Args)]
pub struct ImageLoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

/// `image save` / `save`
#[derive(Debug, clap::Args)]
pub struct ImageSaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Archive format
    #[arg(long, default_value = "docker-archive", value_parser = ["docker-archive", "oci-archive"])]
    pub format: String,
    /// Images to save
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `image import` / `import`
#[derive(Debug, clap::Args)]
pub struct ImageImportArgs {
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
    /// ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)
    #[arg(short, long, value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable (only this machine's is accepted)
    #[arg(long)]
    pub platform: Option<String>,
    /// The tarball: a file, `-` for STDIN, or an http(s) URL
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    /// Name for the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `image inspect`
#[derive(Debug, clap::Args)]
pub struct ImageInspectArgs {
    /// Format the output using the given Go template, or `json`
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images to inspect
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `image history` / `history`
#[derive(Debug, clap::Args)]
pub struct ImageHistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub format: FormatArg,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
}
