//! Arguments of the container commands.

use std::path::PathBuf;

use super::shared::{ForceArg, FormatArg, PullPolicyArg};

/// Options of `create` and `run` that define the container.
#[derive(Debug, Clone, clap::Args)]
pub struct ContainerCreateArgs {
    /// Print help (`-h` is `--hostname`, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// If a container with the same name exists, stop and remove it first
    #[arg(long)]
    pub replace: bool,
    /// How readiness reaches systemd's NOTIFY_SOCKET: conmon (berth's supervisor sends
    /// READY=1 once the container runs), container (the socket is passed in: the application
    /// signals itself) or ignore
    #[arg(long, value_name = "MODE", default_value = "conmon", value_parser = ["conmon", "container", "ignore"])]
    pub sdnotify: String,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Bind mount a volume (`/host:/ctr[:ro]`, `name:/ctr`, or `/ctr` for an anonymous one)
    #[arg(short, long, value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (`type=bind|volume|tmpfs,source=…,target=…[,readonly]`)
    #[arg(long, value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory (`/path[:options]`)
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// Container host name
    #[arg(long, short = 'h')]
    pub hostname: Option<String>,
    /// Set metadata on a container
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Signal to stop the container
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Pull image before running
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = PullPolicyArg::Missing)]
    pub pull: PullPolicyArg,
    /// Connect a container to a network: pasta (the default), slirp4netns, host, none, container:NAME
    #[arg(long, alias = "net", default_value = "pasta")]
    pub network: String,
    /// Publish a container's port(s) to the host
    #[arg(short, long, value_name = "[IP:][HOST:]CONTAINER[/PROTO]")]
    pub publish: Vec<String>,
    /// Run the container in an existing pod (sharing its network)
    #[arg(long, value_name = "POD")]
    pub pod: Option<String>,
    /// Publish all exposed ports to random host ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Set custom DNS servers
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (NAME:IP; IP may be host-gateway)
    #[arg(long, value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Another name for the container on its network (in a pod: in the shared /etc/hosts)
    #[arg(long, value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options (no-new-privileges, seccomp=unconfined)
    #[arg(long, value_name = "OPTION")]
    pub security_opt: Vec<String>,
    /// Memory limit (e.g. 512m, 1g), where the cgroup tree allows it
    #[arg(short, long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 1.5), where the cgroup tree allows it
    #[arg(long, value_name = "DECIMAL")]
    pub cpus: Option<f64>,
    /// Tune container pids limit (-1 for unlimited), where the cgroup tree allows it
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Command to run to check health (run with /bin/sh -c)
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 30s)
    #[arg(long, value_name = "DURATION")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 30s)
    #[arg(long, value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "DURATION")]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 5s)
    #[arg(long, value_name = "DURATION")]
    pub health_start_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy (default 3)
    #[arg(long, value_name = "N")]
    pub health_retries: Option<u32>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Docker's `Test` form (`["CMD", arg…]`, `["CMD-SHELL", command]`, `["NONE"]`), set by
    /// compose rather than typed: wins over `--health-cmd` and the image's.
    #[arg(skip)]
    pub health_test: Option<Vec<String>>,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The command and its arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
    /// An entrypoint of several words (compose's list form); wins over `--entrypoint`.
    #[arg(skip)]
    pub entrypoint_args: Option<Vec<String>>,
    /// The command line as typed (`run`/`create` only, not compose), kept in the record so
    /// that `generate systemd --new` can repeat it.
    #[arg(skip)]
    pub command_line: Vec<String>,
}

/// What `run --help` and the man page say about confinement (kept in step with
/// `runtime::security` by a test).
pub const SECURITY_HELP: &str = "\
Security:
  Containers get Docker's default capabilities (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD,
  NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE),
  masked and read-only /proc and /sys paths, and berth's default seccomp profile: every system
  call is refused with EPERM unless allowed, clone3 answers ENOSYS (so libc falls back to
  clone), clone may not create namespaces, and personality takes only its safe values. Refused
  by default: add_key keyctl request_key bpf io_uring_enter io_uring_register io_uring_setup
  perf_event_open userfaultfd create_module delete_module finit_module get_kernel_syms
  init_module kexec_file_load kexec_load query_module reboot fsconfig fsmount fsopen fspick
  mount mount_setattr move_mount open_tree pivot_root setns umount umount2 unshare acct
  adjtimex clock_adjtime clock_settime quotactl quotactl_fd setdomainname sethostname
  settimeofday stime swapoff swapon syslog name_to_handle_at open_by_handle_at get_mempolicy
  ioperm iopl kcmp mbind migrate_pages move_pages pidfd_getfd process_madvise set_mempolicy
  vhangup lookup_dcookie nfsservctl _sysctl sysfs uselib ustat vm86 vm86old.
  --cap-add re-allows what the capability needs (SYS_ADMIN: mount, unshare, setns…;
  SYS_PTRACE: kcmp, pidfd_getfd…; SYS_TIME: the clock calls). --privileged and
  --security-opt seccomp=unconfined turn the profile off; --security-opt no-new-privileges
  sets the no_new_privs bit.";

/// `container run` / `run`
#[derive(Debug, clap::Args)]
pub struct ContainerRunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub create: ContainerCreateArgs,
}

/// `container start` / `start`
#[derive(Debug, clap::Args)]
pub struct ContainerStartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `container stop` / `stop` and `restart`
#[derive(Debug, clap::Args)]
pub struct ContainerStopArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short, long, value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `container kill` / `kill`
#[derive(Debug, clap::Args)]
pub struct ContainerKillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `container rm` / `rm`
#[derive(Debug, clap::Args)]
pub struct ContainerRmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `container ls` / `ps`
#[derive(Debug, clap::Args)]
pub struct ContainerLsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output (status=, name=, label=, ancestor=, id=, exited=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub format: FormatArg,
}

/// `container logs` / `logs`
#[derive(Debug, clap::Args)]
pub struct ContainerLogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs (or `all`)
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp or relative time (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time
    #[arg(long)]
    pub until: Option<String>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `container wait` / `wait`
#[derive(Debug, clap::Args)]
pub struct ContainerWaitArgs {
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `container inspect`
#[derive(Debug, clap::Args)]
pub struct ContainerInspectArgs {
    /// Format the output using the given Go template, or `json`
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `container prune`
#[derive(Debug, clap::Args)]
pub struct ContainerPruneArgs {
    #[command(flatten)]
    pub force: ForceArg,
    /// Provide filter values (until=, label=)
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// `container rename` / `rename`
#[derive(Debug, clap::Args)]
pub struct ContainerRenameArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its new name
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

/// Hidden `__monitor ID`
#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// The container
    pub id: String,
    /// File descriptor to report readiness on
    #[arg(long)]
    pub ready_fd: Option<i32>,
}

/// `container exec` / `exec`
#[derive(Debug, clap::Args)]
pub struct ContainerExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `healthcheck run`
#[derive(Debug, clap::Args)]
pub struct HealthcheckRunArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `container port` / `port`
#[derive(Debug, clap::Args)]
pub struct ContainerPortArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Only this container port (`80` or `80/tcp`)
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// `container top` / `top`
#[derive(Debug, clap::Args)]
pub struct ContainerTopArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// ps options (ignored: the columns are those of `ps -ef`)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PS OPTIONS"
    )]
    pub ps_options: Vec<String>,
}

/// `container cp` / `cp`
#[derive(Debug, clap::Args)]
pub struct ContainerCpArgs {
    /// Source: a host path, or CONTAINER:PATH
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Destination: a host path, or CONTAINER:PATH
    #[arg(value_name = "DEST")]
    pub destination: String,
}

/// `container stats` / `stats`
#[derive(Debug, clap::Args)]
pub struct ContainerStatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    #[command(flatten)]
    pub format: super::shared::FormatArg,
    /// Containers (default: all running)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `container pause|unpause` / `pause|unpause`
#[derive(Debug, clap::Args)]
pub struct ContainerPauseArgs {
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}
