//! The command line parsed with a tree that holds only the command it names.
//!
//! clap builds every command's arguments before it parses anything, and berth has about sixty
//! commands, some with a hundred options: that tree is most of a short command's start-up and
//! two of the few megabytes berth keeps resident. When the first word after the global options
//! names a command, only that command is built here, from the same derived definitions, and
//! parsed. Anything it does not accept as is (help, `--version`, every error) goes to the full
//! tree, so that what the user sees is clap's own answer.
//!
//! Only what changes parsing is repeated here: each command's name and type, and
//! `disable_help_flag` (`-h` is `--hostname` for `run` and `create`). A test compares every
//! command's arguments with the full tree's.

use std::ffi::OsString;

use clap::{Args, Command as ClapCommand, FromArgMatches, Subcommand};

use super::*;

/// Parses `args` with only the named command's tree; `None` leaves it to the full tree.
pub(super) fn parse(args: &[OsString]) -> Option<Cli> {
    let root = GlobalArgs::augment_args(
        ClapCommand::new("berth")
            .version(env!("CARGO_PKG_VERSION"))
            .propagate_version(true)
            .subcommand_required(true),
    );
    let command = one_command(command_name(&root, args)?)?;
    let mut root = root.subcommand(command);
    let matches = root.try_get_matches_from_mut(args).ok()?;
    let cli = Cli::from_arg_matches(&matches).ok();
    // The process is about to do its work and exit: freeing the tree would only cost time.
    std::mem::forget(root);
    cli
}

/// The first word after the global options (as `root` defines them), if nothing before it
/// asks for clap's full tree.
fn command_name<'a>(root: &ClapCommand, args: &'a [OsString]) -> Option<&'a str> {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        let Some(option) = word.strip_prefix("--") else {
            return (!word.starts_with('-')).then_some(word);
        };
        let (long, inline_value) = match option.split_once('=') {
            Some((long, _)) => (long, true),
            None => (option, false),
        };
        let global = root.get_arguments().find(|a| a.get_long() == Some(long))?;
        if global.get_action().takes_values() && !inline_value {
            words.next()?;
        }
    }
    None
}

/// A `#[command(subcommand)]` variant: a group of commands.
fn group<T: Subcommand>(name: &'static str) -> ClapCommand {
    T::augment_subcommands(ClapCommand::new(name))
        .subcommand_required(true)
        .arg_required_else_help(true)
}

/// A variant with arguments.
fn leaf<T: Args>(command: ClapCommand) -> ClapCommand {
    T::augment_args(command)
}

/// The command `name` as the derive builds it, as far as parsing goes.
fn one_command(name: &str) -> Option<ClapCommand> {
    let n = ClapCommand::new;
    Some(match name {
        "image" => group::<ImageCommand>("image"),
        "container" => group::<ContainerCommand>("container"),
        "system" => group::<SystemCommand>("system"),
        "volume" => group::<VolumeCommand>("volume"),
        "pod" => group::<PodCommand>("pod"),
        "healthcheck" => group::<HealthcheckCommand>("healthcheck"),
        "compose" => leaf::<ComposeArgs>(n("compose")),
        "kube" => group::<KubeCommand>("kube"),
        "generate" => group::<GenerateCommand>("generate"),
        "systemd-generator" => leaf::<SystemdGeneratorArgs>(n("systemd-generator")),
        "run" => leaf::<ContainerRunArgs>(n("run").disable_help_flag(true)),
        "build" => leaf::<BuildArgs>(n("build")),
        "builder" => group::<BuilderCommand>("builder"),
        "create" => leaf::<ContainerCreateArgs>(n("create").disable_help_flag(true)),
        "start" => leaf::<ContainerStartArgs>(n("start")),
        "stop" => leaf::<ContainerStopArgs>(n("stop")),
        "restart" => leaf::<ContainerStopArgs>(n("restart")),
        "kill" => leaf::<ContainerKillArgs>(n("kill")),
        "rm" => leaf::<ContainerRmArgs>(n("rm")),
        "ps" => leaf::<ContainerLsArgs>(n("ps")),
        "logs" => leaf::<ContainerLogsArgs>(n("logs")),
        "wait" => leaf::<ContainerWaitArgs>(n("wait")),
        "rename" => leaf::<ContainerRenameArgs>(n("rename")),
        "exec" => leaf::<ContainerExecArgs>(n("exec")),
        "top" => leaf::<ContainerTopArgs>(n("top")),
        "port" => leaf::<ContainerPortArgs>(n("port")),
        "cp" => leaf::<ContainerCpArgs>(n("cp")),
        "stats" => leaf::<ContainerStatsArgs>(n("stats")),
        "pause" => leaf::<ContainerPauseArgs>(n("pause")),
        "unpause" => leaf::<ContainerPauseArgs>(n("unpause")),
        "images" => leaf::<ImageLsArgs>(n("images")),
        "rmi" => leaf::<ImageRmArgs>(n("rmi")),
        "tag" => leaf::<ImageTagArgs>(n("tag")),
        "load" => leaf::<ImageLoadArgs>(n("load")),
        "save" => leaf::<ImageSaveArgs>(n("save")),
        "import" => leaf::<ImageImportArgs>(n("import")),
        "history" => leaf::<ImageHistoryArgs>(n("history")),
        "pull" => leaf::<ImagePullArgs>(n("pull")),
        "push" => leaf::<ImagePushArgs>(n("push")),
        "login" => leaf::<LoginArgs>(n("login")),
        "logout" => leaf::<LogoutArgs>(n("logout")),
        "inspect" => leaf::<InspectArgs>(n("inspect")),
        "info" => leaf::<SystemInfoArgs>(n("info")),
        "version" => leaf::<VersionArgs>(n("version")),
        "unshare" => leaf::<UnshareArgs>(n("unshare")),
        "__monitor" => leaf::<MonitorArgs>(n("__monitor")),
        "__generate" => leaf::<GenerateArgs>(n("__generate")),
        "__pod-infra" => leaf::<PodInfraArgs>(n("__pod-infra")),
        "__ssh-proxy" => leaf::<SshProxyArgs>(n("__ssh-proxy")),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every command of the full tree is here, with the same arguments, options and
    /// subcommands, down to the last level.
    #[test]
    fn each_command_parses_as_in_the_full_tree() {
        let mut full = Cli::command();
        full.build();
        // clap's own `help` command is left to the full tree.
        for expected in full.get_subcommands().filter(|c| c.get_name() != "help") {
            let name = expected.get_name();
            let mut root = GlobalArgs::augment_args(ClapCommand::new("berth"))
                .propagate_version(true)
                .version("1")
                .subcommand(one_command(name).unwrap_or_else(|| panic!("`{name}` is missing")));
            root.build();
            let actual = root.find_subcommand(name).unwrap();
            assert_eq!(shape(actual), shape(expected), "`{name}` differs");
        }
    }

    /// What parsing depends on, recursively: each argument's settings and each subcommand's.
    fn shape(command: &ClapCommand) -> String {
        let mut out = format!(
            "{} required={} help_flag_disabled={}\n",
            command.get_name(),
            command.is_subcommand_required_set(),
            command.is_disable_help_flag_set()
        );
        for arg in command.get_arguments() {
            out.push_str(&format!(
                "  {:?} short={:?} long={:?} action={:?} num_args={:?} global={} required={} last={} trailing={} hyphen={} value_delimiter={:?} default={:?}\n",
                arg.get_id(),
                arg.get_short(),
                arg.get_long(),
                arg.get_action(),
                arg.get_num_args(),
                arg.is_global_set(),
                arg.is_required_set(),
                arg.is_last_set(),
                arg.is_trailing_var_arg_set(),
                arg.is_allow_hyphen_values_set(),
                arg.get_value_delimiter(),
                arg.get_default_values(),
            ));
        }
        for sub in command.get_subcommands() {
            out.push_str(&shape(sub));
        }
        out
    }

    /// Command lines give the same `Cli` either way; help, version and errors are left to the
    /// full tree.
    #[test]
    fn command_lines_parse_the_same_either_way() {
        use clap::Parser;
        let lines: &[&[&str]] = &[
            &["berth", "images"],
            &["berth", "--root", "/s", "images", "-a", "--no-trunc"],
            &[
                "berth",
                "--log-level=debug",
                "ps",
                "-a",
                "--filter",
                "status=exited",
            ],
            &[
                "berth",
                "run",
                "--rm",
                "-h",
                "box",
                "-p",
                "8000:8000",
                "-e",
                "A=1",
                "busybox",
                "sh",
                "-c",
                "echo -h",
            ],
            &["berth", "create", "-it", "--name", "web", "busybox"],
            &["berth", "image", "build", ".", "-t", "hello_world:v1"],
            &["berth", "container", "run", "-d", "--name", "web", "img"],
            &["berth", "container", "ls", "-a", "--no-trunc"],
            &["berth", "image", "prune", "-a"],
            &["berth", "build", "-t", "x", "--ssh", "default", "."],
            &["berth", "compose", "-f", "a.yaml", "up", "-d"],
            &["berth", "exec", "-it", "web", "sh"],
            &["berth", "system", "reset", "-f"],
            &["berth", "pod", "create", "--name", "p", "-p", "80:80"],
            &["berth", "stop", "-t", "3", "a", "b"],
            &["berth", "unshare", "ls", "-l"],
            &[
                "berth",
                "--root",
                "/s",
                "--runroot",
                "/r",
                "__monitor",
                "abc",
                "--ready-fd",
                "7",
            ],
            &[
                "berth",
                "--root",
                "/s",
                "--runroot",
                "/r",
                "__pod-infra",
                "abc",
                "--ready-fd",
                "7",
            ],
        ];
        for line in lines {
            let args: Vec<OsString> = line.iter().map(Into::into).collect();
            let fast = parse(&args).unwrap_or_else(|| panic!("{line:?} not parsed"));
            let full = Cli::try_parse_from(&args).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{line:?}");
        }
        for line in [
            &["berth", "--help"][..],
            &["berth", "--version"],
            &["berth", "images", "--help"],
            &["berth", "run", "--help"],
            &["berth", "image"],
            &["berth", "nosuch"],
            &["berth", "images", "--nosuch"],
            &["berth", "-x", "images"],
            &["berth", "--nosuch", "images"],
            &["berth", "--root"],
        ] {
            let args: Vec<OsString> = line.iter().map(Into::into).collect();
            assert!(
                parse(&args).is_none(),
                "{line:?} should go to the full tree"
            );
        }
    }
}
