//! `generate systemd` and `systemd-generator`: berth under systemd.

use std::path::PathBuf;

/// `generate …`
#[derive(Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// Generate systemd units for a container or a pod (and its containers)
    Systemd(GenerateSystemdArgs),
}

/// `generate systemd`
#[derive(Debug, clap::Args)]
pub struct GenerateSystemdArgs {
    /// Create the container at start and remove it at stop (`berth run --rm --replace …`)
    #[arg(long)]
    pub new: bool,
    /// Name the container (or pod) by its name rather than its ID
    #[arg(short, long)]
    pub name: bool,
    /// systemd restart policy (no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always)
    #[arg(long, value_name = "POLICY", default_value = "on-failure")]
    pub restart_policy: String,
    /// Seconds systemd waits before restarting (RestartSec=)
    #[arg(long, value_name = "SECONDS")]
    pub restart_sec: Option<u32>,
    /// Stop timeout in seconds (default: the container's, else 10)
    #[arg(short, long, value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Write the units into the current directory and print their paths
    #[arg(short, long)]
    pub files: bool,
    /// Prefix of container unit names
    #[arg(long, value_name = "PREFIX", default_value = "container")]
    pub container_prefix: String,
    /// Prefix of pod unit names
    #[arg(long, value_name = "PREFIX", default_value = "pod")]
    pub pod_prefix: String,
    /// Separator between the prefix and the name
    #[arg(long, value_name = "SEPARATOR", default_value = "-")]
    pub separator: String,
    /// The container or pod
    #[arg(value_name = "CONTAINER|POD")]
    pub target: String,
}

/// `systemd-generator`
#[derive(Debug, clap::Args)]
pub struct SystemdGeneratorArgs {
    /// Generate user units (reads `$XDG_CONFIG_HOME/containers/systemd/`); the default when
    /// not run as root
    #[arg(long)]
    pub user: bool,
    /// Read the Quadlet files from this directory instead
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Where systemd wants the units: normal-dir [early-dir late-dir]
    #[arg(value_name = "OUTPUT_DIR", num_args = 1..=3, required = true)]
    pub output: Vec<PathBuf>,
}

/// The arguments to parse. systemd runs a generator by its path, with only the output
/// directories: a link to berth under a `system-generators` or `user-generators` directory
/// (as install.sh makes them) is read as `berth systemd-generator [--user] DIR…`.
pub fn generator_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(program) = args.first() else {
        return args;
    };
    let program = program.to_string_lossy();
    let user = program.contains("/user-generators/");
    if !user && !program.contains("/system-generators/") {
        return args;
    }
    let mut rewritten = vec![args[0].clone(), "systemd-generator".into()];
    if user {
        rewritten.push("--user".into());
    }
    rewritten.extend(args.into_iter().skip(1));
    rewritten
}

#[cfg(test)]
mod tests {
    #[test]
    fn generator_links_become_the_generator_command() {
        let args =
            |words: &[&str]| -> Vec<std::ffi::OsString> { words.iter().map(Into::into).collect() };
        assert_eq!(
            super::generator_args(args(&[
                "/usr/lib/systemd/user-generators/berth-user-generator",
                "/run/a",
                "/run/b",
                "/run/c"
            ])),
            args(&[
                "/usr/lib/systemd/user-generators/berth-user-generator",
                "systemd-generator",
                "--user",
                "/run/a",
                "/run/b",
                "/run/c"
            ])
        );
        assert_eq!(
            super::generator_args(args(&[
                "/usr/lib/systemd/system-generators/berth-generator",
                "/run/a"
            ])),
            args(&[
                "/usr/lib/systemd/system-generators/berth-generator",
                "systemd-generator",
                "/run/a"
            ])
        );
        assert_eq!(
            super::generator_args(args(&["berth", "ps"])),
            args(&["berth", "ps"])
        );
    }
}
