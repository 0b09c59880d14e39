//! Running healthchecks: the monitor's checks of a running container (one in flight at a
//! time, on [`health::Schedule`]), and the one check `healthcheck run` asks for. Each check
//! is a forked child of ours (`exec::spawn_check`) that the caller reaps; its result goes
//! into the record by [`health::apply`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::health::{self, Schedule, Timing};
use super::{Runtime, RuntimeError, exec};
use crate::storage::containers::{ContainerRecord, Health, HealthResult, HealthStatus, Status};

/// How long past its timeout a check's child may take before we kill it ourselves (it
/// kills an overdue check on its own; this covers a child stuck before the check started).
const GRACE: Duration = Duration::from_secs(10);

/// The healthcheck of one run of a container, driven by its monitor's poll loop.
pub(super) struct Checks {
    command: Vec<String>,
    schedule: Schedule,
    /// The record as it started (with its pid), for joining the container.
    record: ContainerRecord,
    output: PathBuf,
    in_flight: Option<InFlight>,
}

/// A check that runs.
struct InFlight {
    child: Pid,
    start: DateTime<Utc>,
    began: Instant,
}

impl Checks {
    /// The checks of the run that `started` records (its pid set), if it has a healthcheck.
    pub(super) fn new(runtime: &Runtime, started: &ContainerRecord) -> Option<Self> {
        let config = started.config.healthcheck.as_ref()?;
        let command = health::command(&config.test)?;
        Some(Self {
            command,
            schedule: Schedule::new(Timing::of(config), Instant::now()),
            record: started.clone(),
            output: output_path(runtime, &started.id),
            in_flight: None,
        })
    }

    /// The child running a check, for `reap` to report.
    pub(super) fn child(&self) -> Option<Pid> {
        self.in_flight.as_ref().map(|check| check.child)
    }

    /// Starts a check if one is due, and kills a check's child that outlived its grace.
    pub(super) fn tick(&mut self, runtime: &Runtime) {
        let now = Instant::now();
        if let Some(check) = &self.in_flight {
            if now.saturating_duration_since(check.began) > self.schedule.timing().timeout + GRACE {
                let _ = nix::sys::signal::kill(check.child, Signal::SIGKILL);
            }
            return;
        }
        if !self.schedule.due(now) {
            return;
        }
        let start = Utc::now();
        let timeout = self.schedule.timing().timeout;
        match exec::spawn_check(runtime, &self.record, &self.command, &self.output, timeout) {
            Ok(child) => {
                self.in_flight = Some(InFlight {
                    child,
                    start,
                    began: now,
                });
            }
            Err(error) => {
                let result = HealthResult {
                    start,
                    end: Utc::now(),
                    exit_code: -1,
                    output: error.to_string(),
                };
                self.record_result(runtime, result);
            }
        }
    }

    /// The check's child ended with `status` (reaped by the caller): records the result.
    pub(super) fn finished(&mut self, runtime: &Runtime, status: WaitStatus) {
        let Some(check) = self.in_flight.take() else {
            return;
        };
        let result = result_of(status, check.start, &self.output, self.schedule.timing());
        self.record_result(runtime, result);
    }

    /// The container ended: a check in flight is killed and reaped, unrecorded.
    pub(super) fn stop(&mut self) {
        if let Some(check) = self.in_flight.take() {
            let _ = nix::sys::signal::kill(check.child, Signal::SIGKILL);
            let _ = waitpid(check.child, None);
        }
    }

    fn record_result(&mut self, runtime: &Runtime, result: HealthResult) {
        let status = save_result(runtime, &self.record.id, result, self.schedule.timing())
            .unwrap_or_else(|error| {
                tracing::warn!(container = %self.record.id, %error, "cannot record a health check");
                HealthStatus::Starting
            });
        self.schedule.checked(Instant::now(), status);
    }
}

/// Runs the healthcheck of the running container `record` once, now, records the result
/// and returns whether the check passed (`healthcheck run`). Call single-threaded, as `exec`.
pub fn run_once(runtime: &Runtime, record: &ContainerRecord) -> Result<bool, RuntimeError> {
    let no_check = || {
        RuntimeError::Invalid(format!(
            "container {} has no defined healthcheck",
            record.name
        ))
    };
    let config = record.config.healthcheck.as_ref().ok_or_else(no_check)?;
    let command = health::command(&config.test).ok_or_else(no_check)?;
    if !super::is_running(record) {
        return Err(RuntimeError::Invalid(format!(
            "container {} is not running",
            record.name
        )));
    }
    let timing = Timing::of(config);
    // A file of our own: the monitor may be running a check of its own at the same time.
    let output = runtime
        .store
        .container_dir(&record.id)
        .join(format!("health-{}.out", crate::util::ids::random_hex(4)));
    let start = Utc::now();
    let child = exec::spawn_check(runtime, record, &command, &output, timing.timeout)?;
    let status = loop {
        match waitpid(child, None) {
            Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => return Err(RuntimeError::Sys("waitpid", errno)),
            Ok(status) => break status,
        }
    };
    let result = result_of(status, start, &output, &timing);
    let _ = fs_err::remove_file(&output);
    let passed = result.exit_code == 0;
    save_result(runtime, &record.id, result, &timing)?;
    Ok(passed)
}

/// Where the monitor's checks leave their output.
fn output_path(runtime: &Runtime, id: &str) -> PathBuf {
    runtime.store.container_dir(id).join("health.out")
}

/// The result of a check whose child ended with `status`, its output in `output`.
fn result_of(
    status: WaitStatus,
    start: DateTime<Utc>,
    output: &std::path::Path,
    timing: &Timing,
) -> HealthResult {
    let end = Utc::now();
    let exit_code = match status {
        WaitStatus::Exited(_, code) => code,
        // Killed at its timeout (by itself or by us).
        _ => return health::timed_out(start, end, timing),
    };
    let mut bytes = Vec::new();
    if let Ok(file) = fs_err::File::open(output) {
        let limit = u64::try_from(HealthResult::OUTPUT_LIMIT).unwrap_or(u64::MAX);
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(file, limit), &mut bytes);
    }
    HealthResult {
        start,
        end,
        exit_code,
        output: health::kept_output(&bytes),
    }
}

/// Applies `result` to the record's health (a run's first result starts it); returns the
/// health it leaves.
fn save_result(
    runtime: &Runtime,
    id: &str,
    result: HealthResult,
    timing: &Timing,
) -> Result<HealthStatus, RuntimeError> {
    let updated = runtime.store.update_container(id, |r| {
        // It ended while the check ran: its health was cleared, and stays so.
        if r.state.status != Status::Running {
            return;
        }
        let since_start = r
            .state
            .started_at
            .and_then(|started| (result.start - started).to_std().ok())
            .unwrap_or(Duration::MAX);
        let health = r.state.health.get_or_insert_with(Health::starting);
        health::apply(health, result, timing, since_start);
    })?;
    Ok(updated
        .state
        .health
        .map_or(HealthStatus::Starting, |health| health.status))
}
