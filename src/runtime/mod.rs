//! Containers as processes: prepare the root filesystem and spec, start them through
//! libcontainer, supervise them (foreground, or in a detached monitor), stop, kill and remove
//! them. Knows layers, records and specs; never image names or registries.
//!
//! Uses: `storage`, `userns`, `oci`, `util`.

pub mod console;
pub mod copy;
pub mod etc;
pub mod exec;
pub mod health;
pub mod launch;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod pod;
pub mod probe;
pub mod rootfs;
pub mod seccomp;
pub mod security;
pub mod spec;
pub mod user;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::storage::Store;
use crate::storage::containers::{ContainerRecord, PortMapping, Status};
use crate::util;

/// Errors of the runtime, with Docker's exit code conventions attached by the caller.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The command does not exist in the container (exit 127).
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    /// The command cannot be executed (exit 126).
    #[error("exec: \"{0}\": permission denied")]
    CannotInvoke(String),
    /// A bad option or state.
    #[error("{0}")]
    Invalid(String),
    /// `-u` could not be resolved.
    #[error("{0}")]
    User(String),
    /// The root filesystem could not be mounted.
    #[error("cannot mount the container's root filesystem: {0}")]
    Rootfs(String),
    /// libcontainer refused.
    #[error("OCI runtime error: {0}")]
    Libcontainer(String),
    /// A system call failed.
    #[error("{0}: {1}")]
    Sys(&'static str, nix::errno::Errno),
    /// I/O on a path.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A detached container could not start (the monitor's words and exit code).
    #[error("{message}")]
    StartFailed {
        /// Docker's exit code for the failure.
        code: u8,
        /// What the monitor said.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

impl RuntimeError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn libcontainer(error: libcontainer::error::LibcontainerError) -> Self {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Libcontainer(text)
    }

    /// Docker's exit code for a container that could not start because of this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RuntimeError::NotFound(_) => 127,
            RuntimeError::CannotInvoke(_) => 126,
            RuntimeError::StartFailed { code, .. } => *code,
            _ => 125,
        }
    }
}

/// Where and how containers run for this user.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The store.
    pub store: Store,
    /// libcontainer's state directory (under the runtime dir).
    pub state_root: PathBuf,
    /// The user namespace maps only our own ID.
    pub single_id: bool,
    /// systemd's `NOTIFY_SOCKET`, when berth runs under a `Type=notify` unit.
    pub notify_socket: Option<std::ffi::OsString>,
}

/// Whether the container's process is still the one the record names.
pub fn is_running(record: &ContainerRecord) -> bool {
    matches!(
        record.state.status,
        Status::Running | Status::Paused | Status::Restarting
    ) && record
        .state
        .pid
        .is_some_and(|pid| util::process::is_same_process(pid, record.state.pid_start))
}

/// The host ports through which a running container is reached: its own, or, for a member of
/// a pod (compose projects, `kube play`, `run --pod`), the ports its pod publishes while the
/// pod's infra runs, as Podman shows them for every member. Empty when it is not running.
pub fn published_ports(store: &Store, record: &ContainerRecord) -> Vec<PortMapping> {
    if !is_running(record) {
        return Vec::new();
    }
    match network::Mode::parse(&record.host_config.network_mode) {
        Ok(network::Mode::Pod(id)) => store
            .load_pod(&id)
            .ok()
            .filter(|p| pod::infra_pid(p).is_some())
            .map(|p| p.ports)
            .unwrap_or_default(),
        _ => record.state.ports.clone(),
    }
}

/// Whether the record's monitor is still alive.
pub fn monitor_alive(record: &ContainerRecord) -> bool {
    record
        .state
        .monitor_pid
        .is_some_and(|pid| util::process::is_same_process(pid, record.state.monitor_start))
}

/// The record as it really is: a container whose process is gone (its monitor was killed,
/// or the machine rebooted) is exited, whatever the record last said. Readers never write
/// this back: the monitor may be recording the real exit at this very moment, and a stale
/// copy must not overwrite it.
pub fn reconcile(store: &Store, mut record: ContainerRecord) -> ContainerRecord {
    let claims_running = matches!(
        record.state.status,
        Status::Running | Status::Paused | Status::Restarting
    );
    if claims_running && !is_running(&record) && !monitor_alive(&record) {
        // Our copy may predate the monitor's last write: it records the exit, then ends.
        if let Ok(fresh) = store.load_container(&record.id) {
            if !matches!(
                fresh.state.status,
                Status::Running | Status::Paused | Status::Restarting
            ) {
                return fresh;
            }
            record = fresh;
        }
        record.state.status = Status::Exited;
        record.state.pid = None;
        record.state.health = None;
        if record.state.exit_code.is_none() {
            // Nobody saw it end: Docker reports such containers as killed.
            record.state.exit_code = Some(137);
        }
        if record.state.finished_at.is_none() {
            record.state.finished_at = Some(chrono::Utc::now());
        }
    }
    record
}

/// Whether the container's run is over as far as its log is concerned: its monitor has
/// recorded the end (after writing the last output), or is gone. Not merely "its init has
/// died": the monitor may still be draining the output, which a follower would miss.
pub fn has_ended(store: &Store, id: &str) -> bool {
    store.load_container(id).ok().is_none_or(|record| {
        !matches!(
            reconcile(store, record).state.status,
            Status::Running | Status::Paused | Status::Restarting
        )
    })
}

/// Sends `signal` to the container's init, never to a recycled pid. Returns whether it was
/// running.
pub fn kill(record: &ContainerRecord, signal: Signal) -> Result<bool, RuntimeError> {
    if !is_running(record) {
        return Ok(false);
    }
    let Some(pid) = record.state.pid else {
        return Ok(false);
    };
    match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::ESRCH) => Ok(false),
        Err(errno) => Err(RuntimeError::Sys("kill", errno)),
    }
}

/// `stop`: marks the stop (so no restart policy applies), sends the stop signal, waits up to
/// `timeout`, then SIGKILL; finally waits for the monitor to record the exit.
pub fn stop(
    store: &Store,
    id: &str,
    signal: Signal,
    timeout: Duration,
) -> Result<(), RuntimeError> {
    let record = store.update_container(id, |r| r.state.stop_requested = true)?;
    if kill(&record, signal)? && !wait_for_exit(&record, timeout) {
        kill(&record, Signal::SIGKILL)?;
        wait_for_exit(&record, Duration::from_secs(10));
    }
    wait_for_record(store, id, Some(Duration::from_secs(5)));
    Ok(())
}

/// Waits until the container's process is gone; returns whether it went in time.
pub fn wait_for_exit(record: &ContainerRecord, timeout: Duration) -> bool {
    match record.state.pid {
        Some(pid) if is_running(record) => {
            util::process::wait_for_exit(pid, record.state.pid_start, timeout)
        }
        _ => true,
    }
}

/// Waits (at most ten seconds) for a monitor of an earlier run of `id`, other than the
/// calling process, to finish: it records the exit first and then unmounts and deletes
/// libcontainer's state, which must not happen under a new run's feet.
pub fn wait_for_previous_monitor(store: &Store, id: &str) {
    let Ok(record) = store.load_container(id) else {
        return;
    };
    let own = i32::try_from(std::process::id()).ok();
    if record.state.monitor_pid != own {
        wait_for_monitor(&record);
    }
}

/// Waits (at most ten seconds) until the record's monitor has ended: it unmounts, and with
/// `--rm` removes the container, after it records the end.
pub fn wait_for_monitor(record: &ContainerRecord) {
    if let Some(pid) = record.state.monitor_pid {
        util::process::wait_for_exit(pid, record.state.monitor_start, Duration::from_secs(10));
    }
}

/// Waits until the monitor has recorded the end (or is gone itself), at most `timeout`
/// (`None`: as long as it takes).
pub fn wait_for_record(
    store: &Store,
    id: &str,
    timeout: Option<Duration>,
) -> Option<ContainerRecord> {
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let mut pause = Duration::from_millis(1);
    loop {
        let record = store.load_container(id).ok()?;
        let settled = !matches!(
            record.state.status,
            Status::Running | Status::Paused | Status::Restarting
        );
        let orphaned = !monitor_alive(&record) && !is_running(&record);
        if settled || orphaned || deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(reconcile(store, record));
        }
        // The monitor records the end within a millisecond or two of the exit; a long wait
        // (`berth wait` on a server) need not read the record a hundred times a second.
        std::thread::sleep(pause);
        let cap = if started.elapsed() < Duration::from_secs(1) {
            10
        } else {
            100
        };
        pause = (pause * 2).min(Duration::from_millis(cap));
    }
}

/// Host pids of every process in a running container (those in its init's pid namespace).
pub fn container_processes(record: &ContainerRecord) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Some(init) = record.state.pid.filter(|_| is_running(record)) else {
        return Vec::new();
    };
    let Ok(namespace) = fs_err::metadata(format!("/proc/{init}/ns/pid")).map(|m| m.ino()) else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = fs_err::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .filter(|pid: &i32| {
                    fs_err::metadata(format!("/proc/{pid}/ns/pid"))
                        .is_ok_and(|m| m.ino() == namespace)
                })
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// Why resource limits cannot be applied to berth's containers on this host, if they cannot:
/// they need a cgroup v2 tree that we may write, with the controllers enabled (root, or a
/// delegated subtree). Without one, containers run unlimited and the caller says so once.
pub fn limits_unavailable(needs: &crate::storage::containers::Resources) -> Option<String> {
    use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};
    if !statfs("/sys/fs/cgroup").is_ok_and(|fs| fs.filesystem_type() == CGROUP2_SUPER_MAGIC) {
        return Some("this host's cgroups are v1 (or hybrid), and berth applies limits only through a cgroup v2 tree".to_owned());
    }
    let own = fs_err::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim()
        .to_owned();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let controllers = fs_err::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let wanted = [
        (needs.memory.is_some(), "memory"),
        (needs.nano_cpus.is_some(), "cpu"),
        (needs.pids_limit.is_some(), "pids"),
    ];
    for (needed, controller) in wanted {
        if needed && !controller_listed(&controllers, controller) {
            return Some(format!(
                "the `{controller}` cgroup controller is not delegated to this user"
            ));
        }
    }
    if nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_err() {
        return Some(format!(
            "the cgroup `{}` is not writable (no delegation)",
            dir.display()
        ));
    }
    None
}

fn controller_listed(controllers: &str, name: &str) -> bool {
    controllers.split_whitespace().any(|c| c == name)
}

/// Parses a signal name or number as Docker accepts it (`TERM`, `SIGTERM`, `15`).
pub fn parse_signal(text: &str) -> Result<Signal, RuntimeError> {
    let invalid = || RuntimeError::Invalid(format!("invalid signal: {text}"));
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| invalid());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| invalid())
}
