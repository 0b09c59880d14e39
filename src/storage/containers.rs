//! Container records: `containers/<id>/record.json`, one per container, replaced atomically.
//! The record is the source of truth for `ps`, `inspect` and every command that finds a
//! running container (pid and its start time, so a recycled pid is never signalled).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use fs_err as fs;
use serde::{Deserialize, Serialize};

use super::{Result, StorageError, Store, WriteLock, io_error};
use crate::oci::Digest;
use crate::util;

/// A container's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started (or being started).
    Created,
    /// Its process runs.
    Running,
    /// Paused (frozen).
    Paused,
    /// Being restarted by its monitor.
    Restarting,
    /// Its process ended.
    Exited,
    /// Being removed.
    Removing,
}

impl Status {
    /// Docker's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
        }
    }
}

/// A mount inside a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// Host path (bind), volume name (volume), empty for tmpfs.
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// Read-only.
    pub read_only: bool,
    /// Extra options (tmpfs size, mode).
    #[serde(default)]
    pub options: Vec<String>,
    /// For volumes: created for this container only (anonymous), removed by `rm -v`.
    #[serde(default)]
    pub anonymous: bool,
}

/// `--restart`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `no`, `on-failure`, `always` or `unless-stopped`.
    pub name: String,
    /// For `on-failure:N`.
    pub maximum_retry_count: u32,
}

/// What the container runs, resolved from the image config and the `run` flags.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// The full command line (entrypoint + cmd).
    pub args: Vec<String>,
    /// The image's or `--entrypoint`'s part of `args`.
    pub entrypoint: Vec<String>,
    /// The cmd part.
    pub cmd: Vec<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// `-u` as given (`name`, `uid`, `uid:gid`), empty for the image's.
    pub user: String,
    /// Hostname.
    pub hostname: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Signal that `stop` sends.
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: Option<u32>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub open_stdin: bool,
    /// Ports the image exposes.
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// The image's `HEALTHCHECK` merged with the `--health-*` flags; None when neither
    /// gives one.
    #[serde(default)]
    pub healthcheck: Option<HealthConfig>,
}

/// Docker's `Config.Healthcheck`. Durations are in nanoseconds, and 0 (like a 0 `retries`)
/// means Docker's default, as in Docker's own record, so `inspect` shows what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `["CMD", arg…]`, `["CMD-SHELL", command]` or `["NONE"]` (disabled); empty inherits.
    #[serde(default)]
    pub test: Vec<String>,
    /// Between two checks (default 30s).
    #[serde(default)]
    pub interval: u64,
    /// A check running longer fails (default 30s).
    #[serde(default)]
    pub timeout: u64,
    /// Failures in this time after a start do not count (default 0s).
    #[serde(default)]
    pub start_period: u64,
    /// Between two checks during the start period (default 5s).
    #[serde(default)]
    pub start_interval: u64,
    /// Consecutive failures that make the container unhealthy (default 3).
    #[serde(default)]
    pub retries: u32,
}

impl HealthConfig {
    /// Whether checks run at all: a test other than `["NONE"]` is set.
    pub fn enabled(&self) -> bool {
        self.test.first().is_some_and(|kind| kind != "NONE")
    }

    /// Each field not set here (empty, 0) taken from `base`: Docker merges a container's
    /// healthcheck over its image's field by field.
    pub fn merged_over(mut self, base: &HealthConfig) -> HealthConfig {
        if self.test.is_empty() {
            self.test.clone_from(&base.test);
        }
        let fields = [
            (&mut self.interval, base.interval),
            (&mut self.timeout, base.timeout),
            (&mut self.start_period, base.start_period),
            (&mut self.start_interval, base.start_interval),
        ];
        for (field, inherited) in fields {
            if *field == 0 {
                *field = inherited;
            }
        }
        if self.retries == 0 {
            self.retries = base.retries;
        }
        self
    }
}

/// `State.Health`: the outcome of the latest checks of the current run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Where the checks stand.
    pub status: HealthStatus,
    /// Consecutive failures that counted.
    pub failing_streak: u32,
    /// The last results, oldest first (at most [`Health::LOG_LENGTH`]).
    pub log: Vec<HealthResult>,
}

impl Health {
    /// Results kept, as Docker keeps.
    pub const LOG_LENGTH: usize = 5;

    /// A run's health before its first check.
    pub fn starting() -> Self {
        Self {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }
}

/// Docker's health states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No check has passed yet.
    Starting,
    /// The last check passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

impl HealthStatus {
    /// Docker's word.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResult {
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// The command's exit code; -1 when it timed out or could not run (Docker's value).
    pub exit_code: i32,
    /// What it printed (stdout and stderr), at most [`HealthResult::OUTPUT_LIMIT`] bytes.
    pub output: String,
}

impl HealthResult {
    /// Docker's limit on the output kept of a check.
    pub const OUTPUT_LIMIT: usize = 4096;
}

/// How the container is run on the host.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostConfig {
    /// Mounts.
    pub mounts: Vec<MountSpec>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--restart`.
    pub restart: RestartPolicy,
    /// `none`, `host` (and later the rootless networks).
    pub network_mode: String,
    /// `--read-only`.
    pub read_only: bool,
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `--init`.
    pub init: bool,
    /// Resource limits (applied only where the cgroup tree is writable).
    #[serde(default)]
    pub resources: Resources,
    /// `-p` and `-P` (host port 0: chosen at start).
    #[serde(default)]
    pub port_bindings: Vec<PortMapping>,
    /// `--dns`.
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--dns-search`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP`.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// `--network-alias`: more names for the container in its pod's /etc/hosts.
    #[serde(default)]
    pub network_aliases: Vec<String>,
    /// `--sdnotify`: who tells systemd (through `NOTIFY_SOCKET`) that the container is ready.
    #[serde(default)]
    pub sdnotify: SdNotify,
}

/// `--sdnotify`. Records made before it existed, and build containers, ignore the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdNotify {
    /// berth's supervisor (the monitor, or a foreground `run`) sends `MAINPID` and `READY=1`.
    Conmon,
    /// The socket is passed into the container; the application sends `READY=1` itself.
    Container,
    /// Nothing is sent, and the container does not see the socket.
    #[default]
    Ignore,
}

/// One published port (a range is kept as one mapping per port).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address to bind; empty for every address.
    #[serde(default)]
    pub host_ip: String,
    /// Host port; 0 until a random one is chosen at start.
    pub host_port: u16,
    /// Port inside the container.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

impl PortMapping {
    /// The container side as Docker names it: `80/tcp`.
    pub fn container_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }

    /// The host side as Docker prints it: `0.0.0.0:8000`, `[::1]:8000`.
    pub fn host_text(&self) -> String {
        match self.host_ip.as_str() {
            "" => format!("0.0.0.0:{}", self.host_port),
            ip if ip.contains(':') => format!("[{ip}]:{}", self.host_port),
            ip => format!("{ip}:{}", self.host_port),
        }
    }
}

impl std::fmt::Display for PortMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}->{}", self.host_text(), self.container_key())
    }
}

/// A network helper process (pasta, slirp4netns) of a running container, kept so that a later
/// command can end it if the monitor died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperProcess {
    /// Host pid.
    pub pid: i32,
    /// Its start time, to recognise it.
    pub start: Option<u64>,
}

/// `--memory`, `--cpus`, `--pids-limit`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// Bytes.
    pub memory: Option<i64>,
    /// CPUs × 10⁹.
    pub nano_cpus: Option<i64>,
    /// Processes.
    pub pids_limit: Option<i64>,
}

impl Resources {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.nano_cpus.is_some() || self.pids_limit.is_some()
    }
}

/// The mutable part of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Lifecycle state.
    pub status: Status,
    /// Host pid of the container's init, while it runs.
    pub pid: Option<i32>,
    /// Start time of that pid (field 22 of /proc/PID/stat), to recognise it.
    pub pid_start: Option<u64>,
    /// Host pid of the monitor of a detached container.
    pub monitor_pid: Option<i32>,
    /// Start time of the monitor pid.
    pub monitor_start: Option<u64>,
    /// When the process last started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it last ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// Why it could not start.
    pub error: Option<String>,
    /// Restarts done by the monitor.
    pub restart_count: u32,
    /// `stop`/`kill` asked for it to end: the restart policy does not apply.
    pub stop_requested: bool,
    /// The container was killed by a signal it got from `kill` or OOM (kept for inspect).
    pub oom_killed: bool,
    /// The published ports of the current run, with the host ports chosen.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// pasta or slirp4netns of the current run.
    #[serde(default)]
    pub network_helper: Option<HelperProcess>,
    /// The healthcheck's results in the current run; None without a healthcheck or while
    /// the container does not run.
    #[serde(default)]
    pub health: Option<Health>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            status: Status::Created,
            pid: None,
            pid_start: None,
            monitor_pid: None,
            monitor_start: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            error: None,
            restart_count: 0,
            stop_requested: false,
            oom_killed: false,
            ports: Vec::new(),
            network_helper: None,
            health: None,
        }
    }
}

/// Everything berth knows of one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// Unique name, without Docker's leading `/`.
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The image ID.
    pub image_id: Digest,
    /// Layer chain IDs, bottom first: the overlay's lower directories.
    pub layers: Vec<Digest>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// What runs.
    pub config: ContainerConfig,
    /// How it runs.
    pub host_config: HostConfig,
    /// Its state.
    pub state: State,
    /// The `run`/`create` command line that made it (argv without the program), for
    /// `generate systemd --new`; empty for containers made by compose or a build.
    #[serde(default)]
    pub create_command: Vec<String>,
}

/// The label that marks a build's working containers (hidden from `ps`).
pub const BUILD_LABEL: &str = "io.berth.build";

impl ContainerRecord {
    /// Whether its writable layer outlives no run: a `--rm` container's is deleted, a build
    /// step's is committed as a layer or deleted. Nothing needs it synced to disk.
    pub fn layer_is_throwaway(&self) -> bool {
        self.host_config.auto_remove || self.config.labels.contains_key(BUILD_LABEL)
    }
}

impl Store {
    /// The directory of a container.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.paths.containers().join(id)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("record.json")
    }

    /// Every container record (unreadable ones are skipped with a debug log).
    pub fn list_containers(&self) -> Result<Vec<ContainerRecord>> {
        self.list_records(&self.paths.containers(), |id| self.load_container(id))
    }

    /// The records of the directories under `dir` (none when it does not exist yet), read by
    /// `load`; unreadable ones are skipped with a debug log. Containers and pods keep their
    /// records so.
    pub(super) fn list_records<T>(
        &self,
        dir: &std::path::Path,
        load: impl Fn(&str) -> Result<T>,
    ) -> Result<Vec<T>> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(StorageError::Io {
                    action: "failed to read",
                    path: dir.to_path_buf(),
                    source: error,
                });
            }
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            match load(&id) {
                Ok(record) => records.push(record),
                Err(error) => tracing::debug!(record = %id, %error, "skipping unreadable record"),
            }
        }
        Ok(records)
    }

    /// Reads one record.
    pub fn load_container(&self, id: &str) -> Result<ContainerRecord> {
        let path = self.record_path(id);
        let text = fs::read(&path).map_err(io_error("failed to read", &path))?;
        serde_json::from_slice(&text).map_err(|source| StorageError::Corrupt { path, source })
    }

    /// Writes a new record (its directory is created). Under the write lock, so that names
    /// stay unique.
    pub fn create_container(&self, _lock: &WriteLock, record: &ContainerRecord) -> Result<()> {
        let dir = self.container_dir(&record.id);
        fs::create_dir_all(&dir).map_err(io_error("failed to create", &dir))?;
        self.write_record(record, util::fs::atomic_write)
    }

    /// Replaces a record atomically. Monitors update state without the store lock: each
    /// container's record has a single writer at a time (its monitor, or the command that
    /// holds the store lock while the container is not running).
    ///
    /// A throwaway container's changes of state (running, exited) are not synced: it does not
    /// outlive a crash (its layer is mounted volatile, and it is removed when it ends), and
    /// each sync cost a `run --rm` a fraction of a millisecond, four times. Its record was
    /// synced once, when it was created, so it is never lost, only perhaps out of date, which
    /// `ps` corrects from the process table.
    pub fn save_container(&self, record: &ContainerRecord) -> Result<()> {
        self.write_record(
            record,
            if record.layer_is_throwaway() {
                util::fs::atomic_write_unsynced
            } else {
                util::fs::atomic_write
            },
        )
    }

    fn write_record(
        &self,
        record: &ContainerRecord,
        write: fn(&std::path::Path, &[u8]) -> std::io::Result<()>,
    ) -> Result<()> {
        let path = self.record_path(&record.id);
        let text = serde_json::to_vec_pretty(record).unwrap_or_default();
        write(&path, &text).map_err(io_error("failed to write", &path))
    }

    /// Reads, changes and saves a record.
    pub fn update_container(
        &self,
        id: &str,
        change: impl FnOnce(&mut ContainerRecord),
    ) -> Result<ContainerRecord> {
        // Read-modify-write under a lock of the record's own: the monitor saves health results
        // while `stop` sets stop_requested, and neither may undo the other. (Not the store
        // lock: a monitor must not wait behind a long pull.)
        let _guard =
            super::lock::WriteLock::acquire(&self.container_dir(id).join("record.lock")).ok();
        let mut record = self.load_container(id)?;
        change(&mut record);
        self.save_container(&record)?;
        Ok(record)
    }

    /// Removes a container's directory (upper layer, logs, record). Call inside berth's user
    /// namespace: the upper layer holds files of subordinate IDs.
    pub fn remove_container_dir(&self, lock: &WriteLock, id: &str) -> Result<()> {
        self.remove_tree(lock, &self.container_dir(id))
    }

    /// The layers that containers stand on (kept by garbage collection).
    pub fn container_layers(&self) -> Result<Vec<Digest>> {
        Ok(self
            .list_containers()?
            .into_iter()
            .flat_map(|r| r.layers)
            .collect())
    }
}
