//! Supervising one container: set up its root filesystem, network namespace and spec, start
//! it, relay its output (to the terminal and/or its log), forward signals, run its healthcheck
//! (`probe`), reap it, record its exit, apply the restart policy, and clean up. A foreground `run` does this in-process; a
//! detached container gets `berth __monitor <id>`, a small process of its own (our conmon).

#![allow(
    unsafe_code,
    reason = "restoring SIGPIPE's default around libcontainer's fork"
)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use fs_err as fs;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use rustix::event::{PollFd, PollFlags, poll};

use super::logs::{LogWriter, Stream};
use super::network::{self, Network};
use super::spec::{ResolvedMount, SpecInputs};
use super::{
    Runtime, RuntimeError, console, etc, health, launch, probe, rootfs, seccomp, spec, user,
};
use crate::storage::containers::{ContainerRecord, Health, SdNotify, Status};
use crate::util;

/// How the container's streams are handled.
pub enum Mode {
    /// Foreground: output to our stdout/stderr (and the log); with `stdin`, our stdin goes to
    /// the container; signals we get are forwarded.
    Attached {
        /// Forward our stdin (`-i`).
        stdin: bool,
    },
    /// The monitor of a detached container: output only to the log. `ready` gets `ok` once
    /// the container runs, or the error.
    Detached {
        /// Where to report readiness.
        ready: Option<OwnedFd>,
    },
}

/// Signals a foreground `run` forwards to the container (Docker's `--sig-proxy`).
const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Runs the container `id` to its end (through restarts); returns its last exit code.
pub fn supervise(runtime: &Runtime, id: &str, mut mode: Mode) -> Result<i32, RuntimeError> {
    super::wait_for_previous_monitor(&runtime.store, id);
    let record = runtime.store.load_container(id)?;
    let paths = rootfs::paths(&runtime.store, &record);
    // A previous run that crashed (its monitor killed) left libcontainer's state behind,
    // and perhaps its network helper, holding the host ports.
    launch::delete_stale(id, &runtime.state_root);
    network::end_stale_helper(&record);
    let outcome = launch::prepare_namespaces()
        .and_then(|()| rootfs::mount_rootfs(&paths, record.layer_is_throwaway()).map(|_| ()))
        .and_then(|()| supervise_mounted(runtime, &record, &paths.merged, &mut mode));
    rootfs::unmount_rootfs(&paths);
    launch::delete_stale(id, &runtime.state_root);
    if let Err(error) = &outcome {
        if let Mode::Detached { ready } = &mut mode {
            report(ready, &format!("error: {} {error}", error.exit_code()));
        }
        let _ = runtime.store.update_container(id, |r| {
            r.state.error = Some(error.to_string());
            if r.state.status != Status::Created {
                r.state.status = Status::Exited;
            }
        });
    }
    let auto_remove = record.host_config.auto_remove;
    if auto_remove && (outcome.is_ok() || matches!(mode, Mode::Detached { .. })) {
        if let Ok(lock) = runtime.store.lock() {
            let _ = runtime.store.remove_container_dir(&lock, id);
            // Docker's --rm also removes the container's anonymous volumes.
            for mount in record.host_config.mounts.iter().filter(|m| m.anonymous) {
                let _ = runtime.store.remove_volume(&lock, &mount.source);
            }
        }
    }
    outcome
}

fn supervise_mounted(
    runtime: &Runtime,
    record: &ContainerRecord,
    merged: &Path,
    mode: &mut Mode,
) -> Result<i32, RuntimeError> {
    let dir = runtime.store.container_dir(&record.id);
    let network_mode = network::Mode::parse(&record.host_config.network_mode)?;
    if let network::Mode::Pod(id) = &network_mode {
        super::pod::ensure_infra(runtime, id)?;
    }
    let target = match &network_mode {
        network::Mode::Container(id) => runtime
            .store
            .load_container(id)
            .ok()
            .filter(super::is_running)
            .and_then(|t| Some((t.state.pid?, runtime.store.container_dir(id)))),
        network::Mode::Pod(id) => runtime
            .store
            .load_pod(id)
            .ok()
            .and_then(|pod| Some((super::pod::infra_pid(&pod)?, runtime.store.pod_dir(id)))),
        _ => None,
    };
    let mut network = Network::prepare(record, !crate::userns::in_initial_namespace(), target)?;
    // pasta needs tens of milliseconds to come up: start it now, beside everything else
    // the container needs (run_once waits for it just before the process starts).
    // slirp4netns keeps its place in run_once: started this early, its container hung.
    if network_mode == network::Mode::Pasta {
        network.attach(
            &dir,
            &runtime
                .state_root
                .parent()
                .unwrap_or(&dir)
                .join(format!("slirp-{}.sock", &record.id[..12])),
        )?;
    }
    let netns_path = network.netns_path();
    let etc_files = etc::write_files(
        &dir,
        &etc::EtcInput {
            hostname: &record.config.hostname,
            name: &record.name,
            addresses: network.addresses(),
            host_network: network.is_host(),
            dns: &record.host_config.dns,
            dns_search: &record.host_config.dns_search,
            dns_options: &record.host_config.dns_options,
            extra_hosts: &record.host_config.extra_hosts,
        },
    )?;
    if let network::Mode::Pod(id) = &network_mode {
        etc::add_to_shared_hosts(
            &runtime.store.pod_dir(id).join("hosts"),
            &record.config.hostname,
            &record.name,
            &record.host_config.network_aliases,
        )?;
    }
    let mut user = user::resolve(merged, &record.config.user)?;
    if runtime.single_id {
        // Only our own ID exists in a single-ID namespace: other users and groups cannot be
        // switched to, and setgroups is denied.
        if user.uid != 0 || user.gid != 0 {
            return Err(RuntimeError::User(format!(
                "cannot run as uid {} gid {}: this user has no subordinate IDs, so only root exists in its containers (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER)",
                user.uid, user.gid
            )));
        }
        user.additional_gids.clear();
    }
    if !record.config.working_dir.is_empty() {
        ensure_dir_in_root(merged, &record.config.working_dir)?;
    }
    let mounts = resolve_mounts(runtime, record, merged)?;
    check_command(
        merged,
        &record.config.args,
        &record.config.working_dir,
        &record.config.env,
    )?;
    let init = if record.host_config.init {
        Some(util::process::CATATONIT.find().ok_or_else(|| {
            RuntimeError::Invalid(
                "--init needs `catatonit`: install the `catatonit` package".to_owned(),
            )
        })?)
    } else {
        None
    };
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap_or((1024, 1024));
    let bounding = spec::bounding_capabilities();
    let mut spec = spec::build(&SpecInputs {
        record,
        rootfs: merged,
        user: &user,
        etc_files: &etc_files,
        mounts: &mounts,
        netns: netns_path.as_deref(),
        single_id: runtime.single_id,
        nofile: (nofile.1, nofile.1),
        init: init.as_deref(),
        bounding: &bounding,
        limits: record.host_config.resources.any()
            && super::limits_unavailable(&record.host_config.resources).is_none(),
    })?;
    seccomp::prepare(&mut spec, &runtime.store.paths().seccomp(), &dir)?;
    let config = dir.join("config.json");
    spec.save(&config)
        .map_err(|e| RuntimeError::Invalid(format!("cannot write `{}`: {e}", config.display())))?;
    let mut log =
        LogWriter::open(&dir.join("log.json")).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    let signals = Signals::install(matches!(mode, Mode::Attached { .. }))?;
    loop {
        let code = run_once(
            runtime,
            record,
            &dir,
            mode,
            &signals,
            &mut log,
            &mut network,
        )?;
        let latest = runtime.store.load_container(&record.id)?;
        if !should_restart(&latest, code) {
            return Ok(code);
        }
        // Docker's back-off: 100 ms, doubling, reset after 10 s of running.
        let ran = latest
            .state
            .started_at
            .map_or(0, |s| (Utc::now() - s).num_seconds());
        let delay = if ran > 10 {
            100
        } else {
            100u64 << latest.state.restart_count.min(10)
        };
        runtime.store.update_container(&record.id, |r| {
            r.state.status = Status::Restarting;
            r.state.restart_count += 1;
        })?;
        if !wait_out_back_off(
            runtime,
            &record.id,
            Duration::from_millis(delay.min(60_000)),
        ) {
            return Ok(code);
        }
    }
}

/// Sleeps through a restart's back-off; false if the container was stopped or removed
/// meanwhile (it is then recorded as exited, or stays gone). Looks every 100 ms, so that
/// `stop` and `rm -f` need not wait out a back-off of up to a minute, and a removed container
/// is never started again.
fn wait_out_back_off(runtime: &Runtime, id: &str, delay: Duration) -> bool {
    let resume = Instant::now() + delay;
    loop {
        match runtime.store.load_container(id) {
            Ok(record) if !record.state.stop_requested => {}
            Ok(_) => {
                let _ = runtime
                    .store
                    .update_container(id, |r| r.state.status = Status::Exited);
                return false;
            }
            Err(_) => return false,
        }
        let left = resume.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

fn should_restart(record: &ContainerRecord, code: i32) -> bool {
    if record.state.stop_requested {
        return false;
    }
    let policy = &record.host_config.restart;
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            code != 0
                && (policy.maximum_retry_count == 0
                    || record.state.restart_count < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// Starts the process once and relays until it ends; returns its exit code.
fn run_once(
    runtime: &Runtime,
    record: &ContainerRecord,
    dir: &Path,
    mode: &mut Mode,
    signals: &Signals,
    log: &mut LogWriter,
    network: &mut Network,
) -> Result<i32, RuntimeError> {
    let pipe = || {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| RuntimeError::Sys("pipe", nix::errno::Errno::from_raw(e.raw_os_error())))
    };
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let forward_stdin = matches!(mode, Mode::Attached { stdin: true });
    let (stdin_for_container, mut stdin_writer): (OwnedFd, Option<OwnedFd>) = if forward_stdin {
        let (read, write) = pipe()?;
        (read, Some(write))
    } else {
        let null = fs::File::open("/dev/null")
            .map_err(|e| RuntimeError::io("failed to open", Path::new("/dev/null"), e))?;
        (OwnedFd::from(std::fs::File::from(null)), None)
    };
    let stdio = launch::Stdio {
        stdin: stdin_for_container,
        stdout: out_write,
        stderr: err_write,
    };
    // -t: the init makes the pty and sends us its master; the socket's path must be short.
    let console = if record.config.tty {
        let name = format!("console-{}.sock", &record.id[..12]);
        Some(console::ConsoleSocket::bind(
            &runtime.state_root.parent().unwrap_or(dir).join(name),
        )?)
    } else {
        None
    };
    // The network helper starts while the container is created; the container's process
    // starts once the network is up.
    let short_dir = runtime.state_root.parent().unwrap_or(dir);
    network.attach(
        dir,
        &short_dir.join(format!("slirp-{}.sock", &record.id[..12])),
    )?;
    let container = with_default_sigpipe(|| {
        launch::create_and_start(
            &record.id,
            dir,
            &runtime.state_root,
            stdio,
            console.as_ref().map(console::ConsoleSocket::path),
            || network.ready(),
        )
    });
    if container.is_err() {
        network.release();
    }
    let mut container = container?;
    let master = match &console {
        Some(socket) => Some(socket.receive_master(Duration::from_secs(10))?),
        None => None,
    };
    drop(console);
    let pid = container
        .pid()
        .ok_or_else(|| RuntimeError::Libcontainer("the container has no pid".to_owned()))?;
    let started = runtime.store.update_container(&record.id, |r| {
        r.state.status = Status::Running;
        r.state.pid = Some(pid.as_raw());
        r.state.pid_start = util::process::start_time(pid.as_raw());
        r.state.started_at = Some(Utc::now());
        r.state.finished_at = None;
        r.state.exit_code = None;
        r.state.error = None;
        r.state.ports.clone_from(&network.ports);
        r.state.network_helper = network.helper_process();
        // Each run starts its health afresh.
        r.state.health = r
            .config
            .healthcheck
            .as_ref()
            .filter(|config| health::command(&config.test).is_some())
            .map(|_| Health::starting());
    });
    if let Mode::Detached { ready } = mode {
        report(ready, "ok");
        release_startup_code();
    }
    notify_systemd(runtime, record);
    // Without a healthcheck this stays None, and the loop does no health work at all.
    let mut checks = probe::Checks::new(runtime, &started?);
    let attached = matches!(mode, Mode::Attached { .. });
    let mut outputs: Vec<(OwnedFd, Stream)> =
        vec![(out_read, Stream::Stdout), (err_read, Stream::Stderr)];
    let _raw_mode = match &master {
        Some(master) => {
            // Keystrokes go to the container's terminal, which echoes them itself.
            let writer = master
                .try_clone()
                .map_err(|e| RuntimeError::io("failed to use", Path::new("the terminal"), e))?;
            outputs.push((writer, Stream::Stdout));
            if attached {
                console::copy_window_size(std::io::stdout().as_fd(), master.as_fd());
                stdin_writer = Some(master.try_clone().map_err(|e| {
                    RuntimeError::io("failed to use", Path::new("the terminal"), e)
                })?);
                console::RawMode::enable()
            } else {
                None
            }
        }
        None => None,
    };
    let mut exit: Option<i32> = None;
    let mut drain_deadline: Option<Instant> = None;
    let mut stdin_open = forward_stdin;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut output_closed = false;
    loop {
        if exit.is_none() {
            let (init_exit, check_status) =
                reap(pid, checks.as_ref().and_then(probe::Checks::child));
            exit = init_exit;
            if let Some(checks) = &mut checks {
                if let Some(status) = check_status {
                    checks.finished(runtime, status);
                }
                if exit.is_none() {
                    checks.tick(runtime);
                }
            }
            if exit.is_some() {
                // The helper's exit overlaps the draining of the output.
                network.begin_release();
                drain_deadline = Some(Instant::now() + Duration::from_secs(2));
                if let Some(checks) = &mut checks {
                    checks.stop();
                }
            }
        }
        if exit.is_some()
            && (outputs.is_empty() || drain_deadline.is_some_and(|d| Instant::now() >= d))
        {
            break;
        }
        let stdin_fd = std::io::stdin();
        let wake_index = outputs.len();
        let stdin_index = wake_index + 1;
        let mut fds: Vec<PollFd<'_>> = outputs
            .iter()
            .map(|(fd, _)| PollFd::new(fd, PollFlags::IN))
            .collect();
        fds.push(PollFd::new(&signals.wake_read, PollFlags::IN));
        if stdin_open {
            fds.push(PollFd::new(&stdin_fd, PollFlags::IN));
        }
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        };
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(errno) => {
                return Err(RuntimeError::Sys(
                    "poll",
                    nix::errno::Errno::from_raw(errno.raw_os_error()),
                ));
            }
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        let mut closed = Vec::new();
        for (index, (fd, stream)) in outputs.iter().enumerate() {
            if !ready[index] {
                continue;
            }
            match rustix::io::read(fd, &mut buffer) {
                Ok(0) | Err(_) => closed.push(index),
                Ok(n) => {
                    let chunk = &buffer[..n];
                    if attached && !output_closed {
                        let written = match stream {
                            Stream::Stdout => std::io::stdout()
                                .write_all(chunk)
                                .and_then(|()| std::io::stdout().flush()),
                            Stream::Stderr => std::io::stderr().write_all(chunk),
                        };
                        // `berth run … | head -1`: once our reader is gone, end the container
                        // as a pipeline ends its writer.
                        if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
                            output_closed = true;
                            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                        }
                    }
                    if let Err(error) = log.write_chunk(*stream, chunk) {
                        tracing::warn!(%error, "cannot write the container log");
                    }
                }
            }
        }
        for index in closed.into_iter().rev() {
            outputs.remove(index);
        }
        if ready[wake_index] {
            signals.drain();
            if signals.take_resize() {
                if let Some(master) = &master {
                    console::copy_window_size(std::io::stdout().as_fd(), master.as_fd());
                }
            }
        }
        for signal in signals.take_forwarded() {
            let _ = nix::sys::signal::kill(pid, signal);
        }
        if stdin_open && ready.get(stdin_index).copied().unwrap_or(false) {
            let mut input = [0u8; 16 * 1024];
            match std::io::stdin().read(&mut input) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    stdin_writer = None;
                }
                Ok(n) => {
                    if let Some(writer) = &stdin_writer {
                        if rustix::io::write(writer, &input[..n]).is_err() {
                            stdin_open = false;
                            stdin_writer = None;
                        }
                    }
                }
            }
        }
    }
    let _ = log.flush_partial();
    drop(stdin_writer);
    let code = exit.unwrap_or(137);
    // The host ports are free before anyone learns of the end.
    network.release();
    // Record the end before libcontainer's cleanup: `stop` and `wait` are waiting for it.
    let recorded = runtime.store.update_container(&record.id, |r| {
        r.state.ports.clear();
        r.state.network_helper = None;
        r.state.status = Status::Exited;
        r.state.exit_code = Some(code);
        r.state.finished_at = Some(Utc::now());
        r.state.pid = None;
        r.state.pid_start = None;
        r.state.health = None;
    });
    launch::delete(&mut container);
    recorded?;
    Ok(code)
}

/// Reaps every ended child (the init, libcontainer's intermediate, orphans we adopted as
/// subreaper, a healthcheck's child); returns the init's exit code once it has ended, and
/// how the healthcheck's child `check` ended, if it did.
fn reap(init: Pid, check: Option<Pid>) -> (Option<i32>, Option<WaitStatus>) {
    let mut code = None;
    let mut check_status = None;
    loop {
        match waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
        ) {
            Ok(WaitStatus::Exited(pid, status)) if pid == init => code = Some(status),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == init => {
                code = Some(128 + signal as i32)
            }
            Ok(status @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)))
                if Some(pid) == check =>
            {
                check_status = Some(status);
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return (code, check_status),
            Ok(_) => {}
        }
    }
}

/// A detached container's monitor lives as long as the container, but most of the code it ran
/// to get there (argument parsing, the spec, libcontainer, the loader's work) it will not run
/// again. Dropping the pages of every read-only file mapping that holds no page of its own (no
/// relocated, copied-on-write page) lets the kernel map back only what the relay loop uses:
/// those pages are the file's, so they come back unchanged.
fn release_startup_code() {
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    let smaps = fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    for (start, end) in droppable_mappings(&smaps) {
        let Some(pointer) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: the range is a read-only, private file mapping without anonymous pages, as
        // /proc/self/smaps lists it: nothing in it was ever written, so MADV_DONTNEED only
        // drops pages that fault back in unchanged.
        let _ = unsafe {
            nix::sys::mman::madvise(
                pointer,
                end - start,
                nix::sys::mman::MmapAdvise::MADV_DONTNEED,
            )
        };
    }
}

/// The address ranges of read-only, private file mappings with no anonymous page, from the
/// text of /proc/self/smaps. A writable mapping could be written between the read and the
/// drop, and a relocated one (RELRO) holds anonymous pages: neither is listed.
fn droppable_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        if let Some((start, end)) = first.split_once('-') {
            // A mapping's header: "start-end perms offset dev inode [path]".
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            current = match (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                (Ok(start), Ok(end))
                    if (perms == "r--p" || perms == "r-xp") && path.starts_with('/') =>
                {
                    Some((start, end))
                }
                _ => None,
            };
        } else if first == "Anonymous:" {
            if let Some(range) = current.take() {
                if fields.next() == Some("0") {
                    ranges.push(range);
                }
            }
        }
    }
    ranges
}

pub(super) fn report(ready: &mut Option<OwnedFd>, text: &str) {
    if let Some(fd) = ready.take() {
        let _ = rustix::io::write(&fd, format!("{text}\n").as_bytes());
    }
}

/// Rust ignores SIGPIPE; an ignored signal stays ignored across exec, so the container would
/// inherit it (`yes | head` would never end). Restore the default around the fork.
fn with_default_sigpipe<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: setting a signal's disposition to SIG_DFL or SIG_IGN installs no handler code.
    let previous =
        unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
    let result = f();
    if let Ok(previous) = previous {
        // SAFETY: as above; `previous` was the disposition before (SIG_IGN or SIG_DFL).
        let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, previous) };
    }
    result
}

/// Signal flags plus a self-pipe that wakes the poll loop.
struct Signals {
    wake_read: OwnedFd,
    _wake_write: OwnedFd,
    forwarded: Vec<(Signal, Arc<AtomicBool>)>,
    resized: Arc<AtomicBool>,
}

impl Signals {
    fn install(forward: bool) -> Result<Self, RuntimeError> {
        let (wake_read, wake_write) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .map_err(|e| RuntimeError::Sys("pipe", nix::errno::Errno::from_raw(e.raw_os_error())))?;
        let register = |signal: Signal| -> Result<(), RuntimeError> {
            let fd = wake_write
                .try_clone()
                .map_err(|e| RuntimeError::io("failed to clone", Path::new("pipe"), e))?;
            signal_hook::low_level::pipe::register(signal as i32, fd)
                .map(|_| ())
                .map_err(|e| {
                    RuntimeError::io("failed to register a signal handler", Path::new("-"), e)
                })
        };
        register(Signal::SIGCHLD)?;
        let resized = Arc::new(AtomicBool::new(false));
        let mut forwarded = Vec::new();
        if forward {
            for signal in FORWARDED {
                let flag = Arc::new(AtomicBool::new(false));
                signal_hook::flag::register(signal as i32, Arc::clone(&flag)).map_err(|e| {
                    RuntimeError::io("failed to register a signal handler", Path::new("-"), e)
                })?;
                register(signal)?;
                forwarded.push((signal, flag));
            }
            signal_hook::flag::register(Signal::SIGWINCH as i32, Arc::clone(&resized)).map_err(
                |e| RuntimeError::io("failed to register a signal handler", Path::new("-"), e),
            )?;
            register(Signal::SIGWINCH)?;
        }
        Ok(Self {
            wake_read,
            _wake_write: wake_write,
            forwarded,
            resized,
        })
    }

    fn drain(&self) {
        let mut buffer = [0u8; 64];
        while matches!(rustix::io::read(&self.wake_read, &mut buffer), Ok(n) if n > 0) {}
    }

    fn take_resize(&self) -> bool {
        self.resized.swap(false, Ordering::SeqCst)
    }

    fn take_forwarded(&self) -> Vec<Signal> {
        self.forwarded
            .iter()
            .filter(|(_, flag)| flag.swap(false, Ordering::SeqCst))
            .map(|(signal, _)| *signal)
            .collect()
    }
}

/// Host paths for the container's mounts. Named and anonymous volumes live in the store; a
/// volume mounted for the first time gets the image's content at its mount point.
fn resolve_mounts(
    runtime: &Runtime,
    record: &ContainerRecord,
    merged: &Path,
) -> Result<Vec<ResolvedMount>, RuntimeError> {
    let mut out = Vec::new();
    for mount in &record.host_config.mounts {
        let source = match mount.kind.as_str() {
            "volume" => {
                let volume = runtime.store.paths().volumes().join(&mount.source);
                let data = volume.join("_data");
                fs::create_dir_all(&data)
                    .map_err(|e| RuntimeError::io("failed to create", &data, e))?;
                let marker = volume.join(".populated");
                if !marker.exists() {
                    let inside = merged.join(mount.destination.trim_start_matches('/'));
                    if inside.is_dir() && is_empty_dir(&data) {
                        util::fs::copy_tree(&inside, &data)
                            .map_err(|e| RuntimeError::io("failed to fill volume", &data, e))?;
                    }
                    let _ = fs::write(&marker, b"");
                }
                data
            }
            "bind" => std::path::PathBuf::from(&mount.source),
            _ => std::path::PathBuf::new(),
        };
        out.push(ResolvedMount {
            kind: if mount.kind == "tmpfs" {
                "tmpfs".to_owned()
            } else {
                "bind".to_owned()
            },
            source,
            destination: mount.destination.clone(),
            read_only: mount.read_only,
            options: mount.options.clone(),
        });
    }
    Ok(out)
}

fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(false)
}

/// Creates `path` (and its parents) inside the root filesystem at `root`, never leaving it
/// (every step resolves in the root), as Docker does for a missing `-w` directory.
fn ensure_dir_in_root(root: &Path, path: &str) -> Result<(), RuntimeError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags, mkdirat, openat2};
    let root_fd = fs::File::open(root).map_err(|e| RuntimeError::io("failed to open", root, e))?;
    let mut prefix = String::new();
    for component in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let parent = if prefix.is_empty() {
            "/".to_owned()
        } else {
            prefix.clone()
        };
        prefix = format!("{prefix}/{component}");
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        match openat2(
            root_fd.as_fd(),
            prefix.as_str(),
            flags,
            Mode::empty(),
            resolve,
        ) {
            Ok(_) => continue,
            Err(rustix::io::Errno::NOENT) => {}
            Err(_) => {
                return Err(RuntimeError::Invalid(format!(
                    "working directory `{path}`: `{prefix}` is not a directory"
                )));
            }
        }
        let parent_fd = openat2(
            root_fd.as_fd(),
            parent.as_str(),
            flags,
            Mode::empty(),
            resolve,
        )
        .map_err(|_| {
            RuntimeError::Invalid(format!(
                "working directory `{path}`: cannot open `{parent}`"
            ))
        })?;
        if let Err(errno) = mkdirat(&parent_fd, component, Mode::from_raw_mode(0o755)) {
            if errno != rustix::io::Errno::EXIST {
                return Err(RuntimeError::Invalid(format!(
                    "working directory `{path}`: cannot create `{prefix}`: {errno}"
                )));
            }
        }
    }
    Ok(())
}

/// Docker's 127 and 126: the command must exist in the container and be executable. Looked
/// up in the root filesystem without leaving it (symlinks resolve inside it).
pub(super) fn check_command(
    merged: &Path,
    args: &[String],
    working_dir: &str,
    env: &[String],
) -> Result<(), RuntimeError> {
    let Some(command) = args.first() else {
        return Err(RuntimeError::Invalid("no command specified".to_owned()));
    };
    let root = fs::File::open(merged).map_err(|e| RuntimeError::io("failed to open", merged, e))?;
    check_working_dir(&root, working_dir)?;
    let candidates: Vec<String> = if command.contains('/') {
        if command.starts_with('/') {
            vec![command.clone()]
        } else {
            vec![format!("{}/{command}", working_dir.trim_end_matches('/'))]
        }
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|dir| format!("{}/{command}", dir.trim_end_matches('/')))
            .collect()
    };
    let mut found_unusable = false;
    for candidate in &candidates {
        let opened = rustix::fs::openat2(
            root.as_fd(),
            candidate.as_str(),
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
            rustix::fs::ResolveFlags::IN_ROOT | rustix::fs::ResolveFlags::NO_MAGICLINKS,
        );
        let Ok(fd) = opened else { continue };
        let Ok(stat) = rustix::fs::fstat(&fd) else {
            continue;
        };
        let is_file =
            rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::RegularFile;
        if is_file && stat.st_mode & 0o111 != 0 {
            return Ok(());
        }
        found_unusable = true;
    }
    if found_unusable {
        Err(RuntimeError::CannotInvoke(command.clone()))
    } else {
        Err(RuntimeError::NotFound(command.clone()))
    }
}

/// The working directory must be an absolute directory of the container. `run` creates it
/// first, so this speaks for `exec`, in Docker's words: exit code 126 and runc's message
/// (libcontainer would only say "failed to unix syscall").
fn check_working_dir(root: &fs::File, dir: &str) -> Result<(), RuntimeError> {
    if dir.is_empty() {
        return Ok(());
    }
    if !dir.starts_with('/') {
        return Err(RuntimeError::Invalid(format!(
            "the working directory '{dir}' is invalid, it needs to be an absolute path"
        )));
    }
    let opened = rustix::fs::openat2(
        root.as_fd(),
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
        rustix::fs::ResolveFlags::IN_ROOT | rustix::fs::ResolveFlags::NO_MAGICLINKS,
    );
    let reason = match opened {
        Ok(_) => return Ok(()),
        Err(rustix::io::Errno::NOENT) => "no such file or directory".to_owned(),
        Err(rustix::io::Errno::NOTDIR) => "not a directory".to_owned(),
        Err(errno) => std::io::Error::from(errno).to_string().to_lowercase(),
    };
    Err(RuntimeError::StartFailed {
        code: 126,
        message: format!(
            "exec failed: chdir to cwd (\"{dir}\") set in config.json failed: {reason}"
        ),
    })
}

/// Tells systemd, under a `Type=notify` unit, that the container runs: we (the monitor, or a
/// foreground `run`) are the unit's main process, the one that lives as long as the
/// container. With `--sdnotify=container` the application sends `READY=1` itself.
fn notify_systemd(runtime: &Runtime, record: &ContainerRecord) {
    let Some(socket) = &runtime.notify_socket else {
        return;
    };
    let pid = std::process::id();
    let message = match record.host_config.sdnotify {
        SdNotify::Conmon => format!("MAINPID={pid}\nREADY=1"),
        SdNotify::Container => format!("MAINPID={pid}"),
        SdNotify::Ignore => return,
    };
    if let Err(error) = util::sdnotify::notify(socket, &message) {
        tracing::warn!(container = %record.id, %error, "cannot notify systemd");
    }
}

/// [`supervise`] in a forked child, attached, for callers that start many containers one
/// after the other (a build's RUN steps): libcontainer changes process-wide state (dumpable,
/// signal dispositions, namespaces) that a second container in the same process would
/// inherit. Returns the container's exit code, or the error that kept it from starting.
/// The container's output goes where `output` says: our stderr (a build's plain progress
/// stream), nowhere, or to the caller's function (a live progress view).
pub fn supervise_in_child(
    runtime: &Runtime,
    id: &str,
    output: StepOutput<'_>,
) -> Result<i32, RuntimeError> {
    let pipe = || {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| RuntimeError::Sys("pipe", nix::errno::Errno::from_raw(e.raw_os_error())))
    };
    let (read, write) = pipe()?;
    let captured = match &output {
        StepOutput::Capture(_) => Some(pipe()?),
        StepOutput::Inherit | StepOutput::Discard => None,
    };
    // SAFETY: the caller is single-threaded (a build runs its steps in order on one thread);
    // the child runs the supervision and leaves with _exit, never returning into the caller.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(read);
            match (&output, &captured) {
                (StepOutput::Discard, _) => {
                    if let Ok(null) = fs::OpenOptions::new().write(true).open("/dev/null") {
                        let null = std::os::fd::AsRawFd::as_raw_fd(&null);
                        let _ = nix::unistd::dup2(null, 1);
                        let _ = nix::unistd::dup2(null, 2);
                    }
                }
                (StepOutput::Capture(_), Some((_, out))) => {
                    let out = std::os::fd::AsRawFd::as_raw_fd(out);
                    let _ = nix::unistd::dup2(out, 1);
                    let _ = nix::unistd::dup2(out, 2);
                }
                _ => {
                    let _ = nix::unistd::dup2(2, 1);
                }
            }
            // The pipe's own descriptors close at exec (CLOEXEC); 1 and 2 stay.
            drop(captured);
            let code = match supervise(runtime, id, Mode::Attached { stdin: false }) {
                Ok(code) => code & 0xff,
                Err(error) => {
                    let _ = rustix::io::write(&write, error.to_string().as_bytes());
                    255
                }
            };
            let _ = std::io::stdout().flush();
            // SAFETY: as above; _exit skips the parent's atexit handlers and destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(write);
            let message = match (output, captured) {
                (StepOutput::Capture(sink), Some((out, out_write))) => {
                    drop(out_write);
                    pump(read, &out, sink)
                }
                _ => {
                    let mut message = String::new();
                    let _ = std::fs::File::from(read).read_to_string(&mut message);
                    message
                }
            };
            let status = loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => {}
                    other => break other,
                }
            };
            if !message.is_empty() {
                return Err(RuntimeError::Invalid(message));
            }
            match status {
                Ok(WaitStatus::Exited(_, code)) => Ok(code),
                Ok(WaitStatus::Signaled(_, signal, _)) => Ok(128 + signal as i32),
                Ok(_) => Ok(255),
                Err(errno) => Err(RuntimeError::Sys("waitpid", errno)),
            }
        }
        Err(errno) => Err(RuntimeError::Sys("fork", errno)),
    }
}

/// Where the output of a step run by [`supervise_in_child`] goes (stdout and stderr as one).
pub enum StepOutput<'a> {
    /// Our own stderr, as it comes.
    Inherit,
    /// Nowhere (`build -q`).
    Discard,
    /// To this function, in the pieces it comes in; it is also called with no bytes after
    /// each [`CAPTURE_TICK`] of silence, so that a caller can show time passing.
    Capture(&'a mut dyn FnMut(&[u8])),
}

/// How long a captured step may be silent before its sink hears of it.
pub const CAPTURE_TICK: Duration = Duration::from_millis(100);

/// Hands the step's output to `sink` until the child is gone, and returns the error message
/// it wrote on `message`. The child's end of `message` closes when it exits (CLOEXEC, never
/// inherited past an exec), which is the signal to stop: the output pipe may outlive it in a
/// process the step left behind, so what is left in it is only drained, not waited for.
fn pump(message: OwnedFd, output: &OwnedFd, sink: &mut dyn FnMut(&[u8])) -> String {
    let tick = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(CAPTURE_TICK.subsec_nanos()),
    };
    let mut text = Vec::new();
    let mut buffer = vec![0_u8; 16 * 1024];
    let mut output_open = true;
    loop {
        let mut fds = vec![PollFd::new(&message, PollFlags::IN)];
        if output_open {
            fds.push(PollFd::new(output, PollFlags::IN));
        }
        match poll(&mut fds, Some(&tick)) {
            Ok(0) => {
                sink(&[]);
                continue;
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        let output_ready = output_open && !fds[1].revents().is_empty();
        let message_ready = !fds[0].revents().is_empty();
        if output_ready {
            match rustix::io::read(output, &mut buffer) {
                Ok(0) | Err(_) => output_open = false,
                Ok(n) => sink(&buffer[..n]),
            }
        }
        if message_ready {
            match rustix::io::read(&message, &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buffer[..n]),
            }
        }
    }
    // What the step wrote before it ended, without waiting for anyone else.
    while output_open {
        let mut fds = [PollFd::new(output, PollFlags::IN)];
        if !matches!(
            poll(&mut fds, Some(&rustix::event::Timespec::default())),
            Ok(1)
        ) {
            break;
        }
        match rustix::io::read(output, &mut buffer) {
            Ok(0) | Err(_) => output_open = false,
            Ok(n) => sink(&buffer[..n]),
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Takes the readiness descriptor that `spawn_detached` left open for a detached helper.
pub fn inherited_fd(fd: i32) -> Option<OwnedFd> {
    // Only descriptors that exist here: a wrong number must not adopt something else.
    // SAFETY: borrowed for this one call only; fcntl(F_GETFD) on any number is harmless.
    rustix::io::fcntl_getfd(unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) }).ok()?;
    // SAFETY: the number was inherited from `spawn_detached`, which kept it open for us, and
    // nothing else in this process owns it.
    Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// The body of `berth __monitor <id> --ready-fd N`: supervise a detached container.
pub fn monitor_main(
    runtime: &Runtime,
    id: &str,
    ready_fd: Option<i32>,
) -> Result<i32, RuntimeError> {
    // SAFETY: the fd number was inherited from `spawn_monitor`, which kept it open for us and
    // nothing else in this process owns it.
    let ready = ready_fd.map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
    // Our helpers (pasta) must not inherit it: `run -d` waits for the pipe to close.
    if let Some(fd) = &ready {
        let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC);
    }
    // Orphans of the container (double-forked daemons) are reaped by us, not by init.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let monitor_pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    super::wait_for_previous_monitor(&runtime.store, id);
    runtime.store.update_container(id, |r| {
        r.state.monitor_pid = Some(monitor_pid);
        r.state.monitor_start = util::process::start_time(monitor_pid);
        r.state.stop_requested = false;
    })?;
    supervise(runtime, id, Mode::Detached { ready })
}

/// Starts `berth __monitor <id>` (the current executable) in a session of its own, and waits
/// until it reports that the container runs. The monitor outlives us: no daemon, no systemd.
pub fn spawn_monitor(runtime: &Runtime, id: &str) -> Result<(), RuntimeError> {
    let log_path = runtime.store.container_dir(id).join("monitor.log");
    spawn_detached(runtime, "__monitor", id, &log_path)
}

/// Starts `berth <subcommand> <id> --ready-fd N` in a session of its own (a monitor, a pod's
/// infra), logging to `log_path`, and waits for its report: `ok`, or `error: CODE MESSAGE`.
pub fn spawn_detached(
    runtime: &Runtime,
    subcommand: &str,
    id: &str,
    log_path: &Path,
) -> Result<(), RuntimeError> {
    use std::os::unix::process::CommandExt;
    let (ready_read, ready_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| RuntimeError::Sys("pipe", nix::errno::Errno::from_raw(e.raw_os_error())))?;
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| RuntimeError::io("failed to open", log_path, e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| RuntimeError::io("failed to open", log_path, e))?;
    let exe = std::env::current_exe()
        .map_err(|e| RuntimeError::io("failed to find", Path::new("/proc/self/exe"), e))?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&ready_write);
    let mut command = std::process::Command::new(exe);
    command
        .arg("--root")
        .arg(runtime.store.paths().root())
        .arg("--runroot")
        .arg(runtime.state_root.parent().unwrap_or(&runtime.state_root))
        .args([subcommand, id, "--ready-fd", &fd.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::from(log))
        .stderr(std::fs::File::from(log_err));
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // system calls (setsid, fcntl).
    unsafe {
        command.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            // Keep the readiness pipe open across exec.
            let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)
                .map_err(std::io::Error::from)?;
            let flags =
                nix::fcntl::FdFlag::from_bits_truncate(flags) - nix::fcntl::FdFlag::FD_CLOEXEC;
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(flags))
                .map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| RuntimeError::io("failed to start", Path::new(subcommand), e))?;
    drop(ready_write);
    let mut answer = String::new();
    let _ = std::fs::File::from(ready_read).read_to_string(&mut answer);
    // The monitor keeps running; reap it only if it already ended (so no zombie stays while we live).
    let _ = child.try_wait();
    let answer = answer.trim();
    if answer == "ok" {
        return Ok(());
    }
    match answer
        .strip_prefix("error: ")
        .and_then(|rest| rest.split_once(' '))
    {
        Some((code, message)) => Err(RuntimeError::StartFailed {
            code: code.parse().unwrap_or(125),
            message: message.to_owned(),
        }),
        None => Err(RuntimeError::StartFailed {
            code: 125,
            message: format!(
                "`{subcommand}` ended without reporting; see `{}`",
                log_path.display()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unwritten_read_only_file_mappings_are_dropped() {
        let smaps = "\
55d000000000-55d000100000 r--p 00000000 fe:01 12 /usr/bin/berth
Rss:                 400 kB
Anonymous:             0 kB
55d000100000-55d000900000 r-xp 00100000 fe:01 12 /usr/bin/berth
Anonymous:             0 kB
55d000900000-55d000a00000 r--p 00900000 fe:01 12 /usr/bin/berth
Anonymous:           644 kB
55d000a00000-55d000a10000 rw-p 00a00000 fe:01 12 /usr/bin/berth
Anonymous:             0 kB
7f0000000000-7f0000010000 r-xp 00000000 00:00 0 
Anonymous:             0 kB
7f0000010000-7f0000020000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
7f0000020000-7f0000030000 r-xp 00028000 fe:01 40 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
";
        assert_eq!(
            droppable_mappings(smaps),
            vec![
                (0x55d0_0000_0000, 0x55d0_0010_0000),
                (0x55d0_0010_0000, 0x55d0_0090_0000),
                (0x7f00_0002_0000, 0x7f00_0003_0000),
            ]
        );
    }
}
