//! Arguments of the registry commands: pull, push, login, logout.

/// The long help's section on registry configuration (pull, push, login).
pub const REGISTRIES_HELP: &str = "\
Registries:
  Settings come from registries.conf v2 ($CONTAINERS_REGISTRIES_CONF, else
  $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf), then the
  *.conf drop-ins of registries.conf.d in lexical order (the user's only, after the user's
  file; else /etc/containers/registries.conf.d/ and then the user's), then
  $XDG_CONFIG_HOME/berth/berth.toml with the same keys. A later file wins: its [[registry]]
  entries replace those with the same prefix, its `unqualified-search-registries` and
  `short-name-mode` replace the earlier ones, its [aliases] replace (\"\" erases) each name.
  A [[registry]] (the longest matching `prefix`, or a `*.domain` wildcard) may set
  `location`, `insecure`, `blocked` and [[registry.mirror]] tables (`location`, `insecure`,
  `pull-from-mirror`). Pulls try the mirrors in order, then the location, and keep the name
  asked for; pushes go to the name as written, never to a mirror.
  Short names (no registry: `busybox`, `org/app:1`): an [aliases] entry if there is one, else
  each `unqualified-search-registries` entry in order (the first that has the image is
  pulled and names it, e.g. localhost:5000/busybox:latest), else Docker's docker.io. Never a
  prompt: every `short-name-mode` searches. Locally a short name is looked up by Docker's
  rule first, then under those names.
  TLS: CA certificates (*.crt) and client pairs (*.cert + *.key) in certs.d/HOST:PORT/ under
  $XDG_CONFIG_HOME/containers, /etc/containers or /etc/docker. localhost, 127.0.0.0/8 and
  ::1 use verified HTTPS when they speak TLS, else plain HTTP; `insecure = true` and
  --tls-verify=false allow plain HTTP and unverified TLS.";

/// `image pull` / `pull`
#[derive(Debug, clap::Args)]
pub struct ImagePullArgs {
    /// Require HTTPS and verify certificates (default: per registries.conf; localhost may use HTTP). `--tls-verify=false` allows plain HTTP and unverified TLS
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Set platform if server is multi-platform capable (os/arch[/variant]; default: this machine's)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// The image to pull
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub image: String,
}

/// `image push` / `push`
#[derive(Debug, clap::Args)]
pub struct ImagePushArgs {
    /// Require HTTPS and verify certificates (default: per registries.conf; localhost may use HTTP). `--tls-verify=false` allows plain HTTP and unverified TLS
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// The local image
    #[arg(value_name = "NAME[:TAG]")]
    pub image: String,
    /// Where to push it (default: the image's own name)
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
}

/// `login`
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Require HTTPS and verify certificates (default: per registries.conf; localhost may use HTTP). `--tls-verify=false` allows plain HTTP and unverified TLS
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: this one shows in the process list)
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: docker.io)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `logout`
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The registry (default: docker.io)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}
