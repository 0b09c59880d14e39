//! Running the few external programs berth depends on. Errors name the program and the
//! Debian package that provides it.
//!
//! Leaf module: uses nothing else of the crate.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// An external helper program and the package that ships it.
#[derive(Debug, Clone, Copy)]
pub struct Helper {
    /// Program name, looked up in PATH.
    pub program: &'static str,
    /// Debian/Ubuntu package providing it.
    pub package: &'static str,
}

/// `newuidmap`, setuid, writes a user namespace's uid map from /etc/subuid.
pub const NEWUIDMAP: Helper = Helper {
    program: "newuidmap",
    package: "uidmap",
};
/// `newgidmap`, the same for gids.
pub const NEWGIDMAP: Helper = Helper {
    program: "newgidmap",
    package: "uidmap",
};
/// pasta, the default rootless network.
pub const PASTA: Helper = Helper {
    program: "pasta",
    package: "passt",
};
/// slirp4netns, the alternative rootless network.
pub const SLIRP4NETNS: Helper = Helper {
    program: "slirp4netns",
    package: "slirp4netns",
};
/// fuse-overlayfs, the overlay fallback.
pub const FUSE_OVERLAYFS: Helper = Helper {
    program: "fuse-overlayfs",
    package: "fuse-overlayfs",
};
/// catatonit, the static init that `run --init` puts in a container as pid 1.
pub const CATATONIT: Helper = Helper {
    program: "catatonit",
    package: "catatonit",
};
/// git, for git build contexts.
pub const GIT: Helper = Helper {
    program: "git",
    package: "git",
};

/// ssh-agent, started by `build --ssh ID=KEY` to hold the keys for the build.
pub const SSH_AGENT: Helper = Helper {
    program: "ssh-agent",
    package: "openssh-client",
};
/// ssh-add, loads `build --ssh` keys into that agent.
pub const SSH_ADD: Helper = Helper {
    program: "ssh-add",
    package: "openssh-client",
};

/// Why a helper could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Not installed.
    #[error("failed to run `{program}`: not found in PATH (install the `{package}` package)")]
    NotFound {
        /// Program.
        program: &'static str,
        /// Package.
        package: &'static str,
    },
    /// Could not be started.
    #[error("failed to run `{program}`")]
    Spawn {
        /// Program.
        program: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Ran and failed.
    #[error("`{program}` failed ({status}): {stderr}")]
    Failed {
        /// Program.
        program: &'static str,
        /// Exit status text.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
}

impl Helper {
    /// The helper's full path, if it is installed.
    pub fn find(&self) -> Option<PathBuf> {
        find_in_path(self.program)
    }

    /// Runs the helper to completion, capturing its output; a non-zero exit is an error.
    pub fn run<I, S>(&self, args: I) -> Result<Output, ProcessError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.finish(self.start(args)?)
    }

    /// [`Helper::run`], with the command set up by `configure` (arguments, environment,
    /// working directory).
    pub fn run_with(&self, configure: impl FnOnce(&mut Command)) -> Result<Output, ProcessError> {
        self.finish(self.start_with(configure)?)
    }

    /// Starts the helper in the background, set up by `configure`; the caller waits for it.
    pub fn spawn_with(&self, configure: impl FnOnce(&mut Command)) -> Result<Child, ProcessError> {
        self.command(configure)?
            .spawn()
            .map_err(|source| ProcessError::Spawn {
                program: self.program,
                source,
            })
    }

    /// Starts the helper with `args` and its output captured, for [`Helper::finish`]: helpers
    /// that do not depend on each other run side by side.
    pub fn start<I, S>(&self, args: I) -> Result<Child, ProcessError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.start_with(|command| {
            command.args(args);
        })
    }

    /// [`Helper::start`], with the command set up by `configure`: no input, and both outputs
    /// captured unless `configure` says otherwise.
    fn start_with(&self, configure: impl FnOnce(&mut Command)) -> Result<Child, ProcessError> {
        self.spawn_with(|command| {
            command
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            configure(command);
        })
    }

    /// Waits for a helper from [`Helper::start`]: its output, or an error naming the helper,
    /// its exit status and what it wrote on stderr.
    pub fn finish(&self, child: Child) -> Result<Output, ProcessError> {
        let output = child
            .wait_with_output()
            .map_err(|source| ProcessError::Spawn {
                program: self.program,
                source,
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(ProcessError::Failed {
                program: self.program,
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// The helper's command, set up by `configure`; an error naming the package when it is
    /// not installed.
    fn command(&self, configure: impl FnOnce(&mut Command)) -> Result<Command, ProcessError> {
        let path = self.find().ok_or(ProcessError::NotFound {
            program: self.program,
            package: self.package,
        })?;
        let mut command = Command::new(path);
        configure(&mut command);
        Ok(command)
    }
}

/// Starts berth itself (`/proc/self/exe`) with `args`, set up by `configure`: for the hidden
/// helper commands that must be a process of their own.
pub fn spawn_self<I, S>(args: I, configure: impl FnOnce(&mut Command)) -> std::io::Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(std::env::current_exe()?);
    command.args(args);
    configure(&mut command);
    command.spawn()
}

/// Looks `program` up in `PATH` (and the sbin directories, which unprivileged users often lack).
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot), to
/// tell a process from a later one that got the same pid.
pub fn start_time(pid: i32) -> Option<u64> {
    ProcStat::read(pid)?.number(22)
}

/// A process's /proc/PID/stat (`pid` may be `self`), read once. Its fields are numbered as
/// proc(5) numbers them, from 3 (the state) on: the command name (field 2) may contain
/// spaces and parentheses, so everything up to its last `)` is skipped.
pub struct ProcStat {
    fields: String,
}

impl ProcStat {
    pub fn read(pid: impl std::fmt::Display) -> Option<Self> {
        let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let fields = stat.get(stat.rfind(')')? + 2..)?.to_owned();
        Some(Self { fields })
    }

    /// Field `n` (3 or more) as text.
    pub fn field(&self, n: usize) -> Option<&str> {
        self.fields.split_whitespace().nth(n.checked_sub(3)?)
    }

    /// Field `n` (3 or more) as a number.
    pub fn number(&self, n: usize) -> Option<u64> {
        self.field(n)?.parse().ok()
    }
}

/// Waits until process `pid` (the one that started at `start`) is gone; returns whether it
/// went within `timeout`. Uses a pidfd, readable the moment the process exits: no polling.
pub fn wait_for_exit(pid: i32, start: Option<u64>, timeout: std::time::Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    if !is_same_process(pid, start) {
        return true;
    }
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    let Ok(pidfd) = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) else {
        return !is_same_process(pid, start);
    };
    // The pid may have been recycled between the check and the open.
    if !is_same_process(pid, start) {
        return true;
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let wait = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&wait)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return !is_same_process(pid, start),
        }
    }
}

/// Whether `pid` is alive and still the process that started at `start` (not a zombie).
pub fn is_same_process(pid: i32, start: Option<u64>) -> bool {
    let Some(stat) = ProcStat::read(pid) else {
        return false;
    };
    if matches!(stat.field(3), None | Some("Z" | "X")) {
        return false;
    }
    start.is_none_or(|start| stat.number(22) == Some(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_numbered_as_proc5_numbers_them() {
        let stat = ProcStat::read("self").unwrap();
        // The test harness's main thread, which /proc/self/stat describes, is waiting.
        assert!(
            matches!(stat.field(3), Some("R" | "S")),
            "{:?}",
            stat.field(3)
        );
        assert_eq!(
            stat.number(4),
            Some(u64::from(nix::unistd::getppid().as_raw().unsigned_abs()))
        );
        assert_eq!(stat.field(2), None);
        let own = i32::try_from(std::process::id()).unwrap();
        assert_eq!(start_time(own), stat.number(22));
        assert!(is_same_process(own, start_time(own)));
        assert!(!is_same_process(own, start_time(own).map(|t| t + 1)));
    }
}
