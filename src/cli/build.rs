//! `image build` / `build`: Dockerfile builds.

use std::path::PathBuf;

use super::shared::PullPolicyArg;

/// `image build` / `build`
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the `name:tag` format (repeatable; the tag defaults to latest)
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile; `-` reads it from stdin)
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Pull the images FROM names: always (`--pull` alone, as in Docker), missing (the
    /// default) or never
    #[arg(
        long,
        value_name = "POLICY",
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_value_t = PullPolicyArg::Missing,
        default_missing_value = "always"
    )]
    pub pull: PullPolicyArg,
    /// Suppress the build output and print the image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Set metadata for an image
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Set the target platform (only the native one is supported)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Secret to expose to RUN --mount=type=secret (id=ID,src=PATH or id=ID,env=VAR)
    #[arg(long, value_name = "id=ID,src=PATH")]
    pub secret: Vec<String>,
    /// SSH agent socket or keys to expose to RUN --mount=type=ssh: `default` forwards
    /// $SSH_AUTH_SOCK, `ID=SOCKET` an agent's socket, `ID=KEY[,KEY]` private key files (loaded
    /// into an ssh-agent that lives for the build); `ID` alone is `ID=$SSH_AUTH_SOCK`
    ///
    /// A RUN with `--mount=type=ssh[,id=ID]` (id `default` by default) reaches that agent
    /// through a socket at `/run/buildkit/ssh_agent.N` (or the mount's `target=`), owned by
    /// the mount's `uid`/`gid` with its `mode` (0:0 and 0600 by default), and `SSH_AUTH_SOCK`
    /// names it for that step only; nothing of it stays in the image. A mount whose id was
    /// not given is skipped, or fails the build with `required=true`. Key files must have no
    /// passphrase (nothing asks for it); `ssh-agent` and `ssh-add` come from openssh-client.
    #[arg(long, value_name = "default|ID[=SOCKET|KEY[,KEY]]")]
    pub ssh: Vec<String>,
    /// Set the networking mode for the RUN instructions (default, none, host)
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Set the create timestamp of the image and clamp file times in its new layers to it,
    /// in seconds since the epoch, for reproducible builds (default: $SOURCE_DATE_EPOCH)
    #[arg(long, value_name = "SECONDS")]
    pub timestamp: Option<u64>,
    /// Manifest and config format of the image: oci, or docker (Docker's schema 2)
    #[arg(long, value_name = "FORMAT", default_value = "oci")]
    pub format: String,
    /// Type of progress output: plain (numbered steps with their output), tty (a live view
    /// whose running step shows its last lines of output and collapses to one line when it
    /// ends; drawn with escape codes even when stderr is not a terminal), auto (tty when stderr
    /// is a terminal, plain otherwise), or quiet
    #[arg(long, value_name = "TYPE", default_value = "auto")]
    pub progress: String,
    /// The build context: a directory
    #[arg(value_name = "PATH")]
    pub context: PathBuf,
}

/// `builder prune`
#[derive(Debug, clap::Args)]
pub struct BuilderPruneArgs {
    /// Remove all build cache, not just the dangling one
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// `__ssh-proxy AGENT`: forwards the connections of the listening socket on its stdin to an
/// SSH agent (started by `build` for each RUN --mount=type=ssh).
#[derive(Debug, clap::Args)]
pub struct SshProxyArgs {
    /// The agent's socket
    pub agent: PathBuf,
}
