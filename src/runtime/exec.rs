//! A second process in a running container (`exec`), through libcontainer's tenant builder:
//! it joins the init's namespaces. We first join the container's user namespace (we own it)
//! and take a private mount and cgroup namespace of our own: libcontainer needs its state
//! directory, which is not visible from inside the container's mount namespace.

#![allow(
    unsafe_code,
    reason = "exec -d forks a child that outlives us and waits for the process"
)]

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{Runtime, RuntimeError, is_running, launch, user};
use crate::storage::containers::ContainerRecord;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Command and arguments.
    pub args: Vec<String>,
    /// Extra `KEY=value` variables.
    pub env: Vec<String>,
    /// `-u` (empty: the container's user).
    pub user: String,
    /// `-w`.
    pub working_dir: Option<String>,
    /// `-i`: pass our stdin.
    pub stdin: bool,
    /// `-t`: a pseudo-terminal.
    pub tty: bool,
    /// `-d`: start it and return; its output is discarded, as Docker does.
    pub detach: bool,
}

/// Runs `options.args` in the container and returns its exit code. Call single-threaded,
/// outside any berth namespace.
pub fn exec(
    runtime: &Runtime,
    record: &ContainerRecord,
    options: &ExecOptions,
) -> Result<i32, RuntimeError> {
    if options.detach {
        return exec_detached(runtime, record, options);
    }
    exec_in(runtime, record, options, None)
}

/// `exec -d`: a forked child of ours (in a session of its own, so that it outlives us) runs
/// the process and waits for it, as libcontainer needs its caller to stay; we return once it
/// says the process started, or with the error that kept it from starting.
fn exec_detached(
    runtime: &Runtime,
    record: &ContainerRecord,
    options: &ExecOptions,
) -> Result<i32, RuntimeError> {
    use std::io::Read as _;
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| RuntimeError::Sys("pipe", nix::errno::Errno::from_raw(e.raw_os_error())))?;
    // SAFETY: exec runs single-threaded, outside any namespace of ours; the child does the
    // exec and leaves with _exit, never returning into the caller's code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(read);
            let _ = nix::unistd::setsid();
            // Our caller's pipes must not stay open in the child (a shell's `$(…)` would wait).
            if let Ok(null) = fs_err::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                let null = std::os::fd::AsRawFd::as_raw_fd(&null);
                for target in 0..=2 {
                    let _ = nix::unistd::dup2(null, target);
                }
            }
            let code = match exec_in(runtime, record, options, Some(&write)) {
                Ok(_) => 0,
                Err(error) => {
                    let _ = rustix::io::write(
                        &write,
                        format!("{} {error}", error.exit_code()).as_bytes(),
                    );
                    1
                }
            };
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(write);
            let mut answer = String::new();
            let _ = std::fs::File::from(read).read_to_string(&mut answer);
            match answer.as_str() {
                "ok" => Ok(0),
                "" => Err(RuntimeError::Invalid(
                    "exec -d: the process did not start".to_owned(),
                )),
                text => {
                    let (code, message) = text.split_once(' ').unwrap_or(("126", text));
                    Err(RuntimeError::StartFailed {
                        code: code.parse().unwrap_or(126),
                        message: message.to_owned(),
                    })
                }
            }
        }
        Err(errno) => Err(RuntimeError::Sys("fork", errno)),
    }
}

/// The exec itself; `started` (for `-d`) hears `ok` once the process runs, and closes.
fn exec_in(
    runtime: &Runtime,
    record: &ContainerRecord,
    options: &ExecOptions,
    started: Option<&OwnedFd>,
) -> Result<i32, RuntimeError> {
    let (user, env) = prepare(record, options)?;
    if options.tty && !options.detach {
        return exec_tty(runtime, record, options, &user, &env);
    }
    let child = start_tenant(runtime, record, options, &user, env, None)?;
    if let Some(started) = started {
        let _ = rustix::io::write(started, b"ok");
        let _ = nix::unistd::close(std::os::fd::AsRawFd::as_raw_fd(started));
    }
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => return Err(RuntimeError::Sys("waitpid", errno)),
        }
    }
}

/// Joins the container's namespaces and resolves what the process needs: its user, and
/// the variables it adds to the container's.
fn prepare(
    record: &ContainerRecord,
    options: &ExecOptions,
) -> Result<(user::ResolvedUser, HashMap<String, String>), RuntimeError> {
    if !is_running(record) {
        return Err(RuntimeError::Invalid(format!(
            "container {} is not running",
            record.id
        )));
    }
    let pid = record.state.pid.unwrap_or(0);
    crate::userns::join(pid).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    launch::prepare_namespaces()?;
    let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
    let user_spec = if options.user.is_empty() {
        record.config.user.as_str()
    } else {
        options.user.as_str()
    };
    let user = user::resolve(&root, user_spec)?;
    let working_dir = options
        .working_dir
        .clone()
        .unwrap_or_else(|| record.config.working_dir.clone());
    let mut path_env = record.config.env.clone();
    path_env.extend(options.env.iter().cloned());
    super::monitor::check_command(&root, &options.args, &working_dir, &path_env)?;
    let mut env: HashMap<String, String> = options
        .env
        .iter()
        .map(|e| {
            e.split_once('=')
                .map_or((e.clone(), String::new()), |(k, v)| {
                    (k.to_owned(), v.to_owned())
                })
        })
        .collect();
    if !options.user.is_empty() {
        env.entry("HOME".to_owned()).or_insert(user.home.clone());
    }
    Ok((user, env))
}

/// Starts the process (without a terminal) through libcontainer's tenant builder; returns
/// its pid, a child of ours. Its stdout and stderr go to `output` when given.
fn start_tenant(
    runtime: &Runtime,
    record: &ContainerRecord,
    options: &ExecOptions,
    user: &user::ResolvedUser,
    env: HashMap<String, String>,
    output: Option<OwnedFd>,
) -> Result<Pid, RuntimeError> {
    let executor = super::seccomp::executor_for(&runtime.store.container_dir(&record.id))?;
    let mut builder = ContainerBuilder::new(record.id.clone(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(&runtime.state_root)
        .map_err(RuntimeError::libcontainer)?;
    let null = || -> Result<OwnedFd, RuntimeError> {
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| {
                RuntimeError::io("failed to open", std::path::Path::new("/dev/null"), e)
            })?;
        Ok(OwnedFd::from(std::fs::File::from(file)))
    };
    if !options.stdin || options.detach {
        builder = builder.with_stdin(null()?);
    }
    if options.detach {
        builder = builder.with_stdout(null()?).with_stderr(null()?);
    } else if let Some(output) = output {
        let copy = output
            .try_clone()
            .map_err(|e| RuntimeError::io("failed to use", std::path::Path::new("output"), e))?;
        builder = builder.with_stdout(output).with_stderr(copy);
    }
    builder
        .as_tenant()
        .with_container_args(options.args.clone())
        .with_env(env)
        .with_cwd(
            options
                .working_dir
                .clone()
                .or_else(|| Some(record.config.working_dir.clone()).filter(|w| !w.is_empty())),
        )
        .with_user(Some(user.uid))
        .with_group(Some(user.gid))
        .with_additional_gids(user.additional_gids.clone())
        .with_detach(false)
        .build()
        .map_err(RuntimeError::libcontainer)
}

/// Starts a healthcheck's `args` in the running container `record` (its `state.pid` set),
/// in a forked child of ours, so that joining the container's namespaces and libcontainer's
/// changes to the process (dumpable, namespaces) never touch the caller, a monitor that
/// lives on. Returns the child's pid for the caller to reap: it exits with the check's
/// code (its output, or why it could not run, in the file `output`), or ends by SIGKILL
/// once the check ran past `timeout` (the check's process group killed first).
pub(super) fn spawn_check(
    runtime: &Runtime,
    record: &ContainerRecord,
    args: &[String],
    output: &std::path::Path,
    timeout: Duration,
) -> Result<Pid, RuntimeError> {
    let file = fs_err::File::create(output)
        .map_err(|e| RuntimeError::io("failed to create", output, e))?;
    // SAFETY: the callers (a monitor, `healthcheck run`) are single-threaded, as libcontainer
    // needs; the child leaves with _exit or SIGKILL, never returning into the caller's code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // A foreground `run`'s terminal signals (^C) are for the container, not the check.
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let deadline = Instant::now() + timeout;
            let mut file = std::fs::File::from(file);
            let options = ExecOptions {
                args: args.to_vec(),
                ..ExecOptions::default()
            };
            let started = file
                .try_clone()
                .map_err(|e| RuntimeError::io("failed to use", output, e))
                .and_then(|copy| {
                    let (user, env) = prepare(record, &options)?;
                    start_tenant(runtime, record, &options, &user, env, Some(copy.into()))
                });
            let code = match started {
                Ok(tenant) => wait_until(tenant, deadline),
                Err(error) => {
                    let _ = std::io::Write::write_all(&mut file, error.to_string().as_bytes());
                    Some(i32::from(error.exit_code()))
                }
            };
            match code {
                // SAFETY: as above; _exit skips the monitor's atexit handlers and destructors.
                Some(code) => unsafe { libc::_exit(code) },
                None => {
                    let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGKILL);
                    // SAFETY: as above (SIGKILL cannot be caught; this is never reached).
                    unsafe { libc::_exit(255) }
                }
            }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(child),
        Err(errno) => Err(RuntimeError::Sys("fork", errno)),
    }
}

/// Waits for `tenant` until `deadline`; returns its exit code, or None once it ran too
/// long (then it and its process group, which libcontainer's setsid made its own, are
/// killed and reaped).
fn wait_until(tenant: Pid, deadline: Instant) -> Option<i32> {
    let pidfd = rustix::process::Pid::from_raw(tenant.as_raw()).and_then(|pid| {
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
    });
    loop {
        match waitpid(tenant, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Some(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Some(128 + signal as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return Some(-1),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = nix::sys::signal::killpg(tenant, Signal::SIGKILL);
            let _ = nix::sys::signal::kill(tenant, Signal::SIGKILL);
            let _ = waitpid(tenant, None);
            return None;
        }
        let pause = left.min(Duration::from_millis(500));
        match &pidfd {
            // The pidfd turns readable when the process ends.
            Some(fd) => {
                let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                let timeout = rustix::event::Timespec {
                    tv_sec: i64::try_from(pause.as_secs()).unwrap_or(0),
                    tv_nsec: i64::from(pause.subsec_nanos()),
                };
                let _ = rustix::event::poll(&mut fds, Some(&timeout));
            }
            None => std::thread::sleep(pause.min(Duration::from_millis(20))),
        }
    }
}

/// `exec -t`: the process gets a terminal of its own, whose master we relay. libcontainer
/// takes a terminal only from a whole process description, so we write one from the
/// container's own (keeping its capabilities and rlimits).
fn exec_tty(
    runtime: &Runtime,
    record: &ContainerRecord,
    options: &ExecOptions,
    user: &user::ResolvedUser,
    env: &HashMap<String, String>,
) -> Result<i32, RuntimeError> {
    use std::os::fd::AsFd;

    let dir = runtime.store.container_dir(&record.id);
    let spec = oci_spec::runtime::Spec::load(dir.join("config.json"))
        .map_err(|e| RuntimeError::Invalid(format!("cannot read the container's spec: {e}")))?;
    let mut process =
        serde_json::to_value(spec.process().clone().unwrap_or_default()).unwrap_or_default();
    let mut variables: Vec<String> = process["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (key, value) in env {
        variables.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        variables.push(format!("{key}={value}"));
    }
    process["args"] = serde_json::json!(options.args);
    process["env"] = serde_json::json!(variables);
    process["terminal"] = serde_json::Value::Bool(true);
    process["user"] = serde_json::json!({"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids});
    if let Some(cwd) = options
        .working_dir
        .clone()
        .or_else(|| Some(record.config.working_dir.clone()).filter(|w| !w.is_empty()))
    {
        process["cwd"] = serde_json::Value::String(cwd);
    }
    let process_path = dir.join(format!("exec-{}.json", crate::util::ids::random_hex(6)));
    fs_err::write(
        &process_path,
        serde_json::to_vec(&process).unwrap_or_default(),
    )
    .map_err(|e| RuntimeError::io("failed to write", &process_path, e))?;
    let socket = super::console::ConsoleSocket::bind(
        &runtime
            .state_root
            .parent()
            .unwrap_or(&dir)
            .join(format!("exec-{}.sock", crate::util::ids::random_hex(4))),
    )?;
    let executor = super::seccomp::executor_for(&dir)?;
    let built = ContainerBuilder::new(record.id.clone(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(&runtime.state_root)
        .map_err(RuntimeError::libcontainer)
        .map(|builder| builder.with_console_socket(Some(socket.path())))
        .and_then(|builder| {
            builder
                .as_tenant()
                .with_process(Some(&process_path))
                .with_detach(true)
                .build()
                .map_err(RuntimeError::libcontainer)
        });
    let _ = fs_err::remove_file(&process_path);
    let child = built?;
    let master = socket.receive_master(std::time::Duration::from_secs(10))?;
    drop(socket);
    super::console::copy_window_size(std::io::stdout().as_fd(), master.as_fd());
    let _raw = super::console::RawMode::enable();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut stdin_open = options.stdin;
    loop {
        match waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => return Err(RuntimeError::Sys("waitpid", errno)),
        }
        let stdin = std::io::stdin();
        let mut fds = vec![rustix::event::PollFd::new(
            &master,
            rustix::event::PollFlags::IN,
        )];
        if stdin_open {
            fds.push(rustix::event::PollFd::new(
                &stdin,
                rustix::event::PollFlags::IN,
            ));
        }
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        let _ = rustix::event::poll(&mut fds, Some(&timeout));
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        if ready[0] {
            match rustix::io::read(&master, &mut buffer) {
                Ok(n) if n > 0 => {
                    use std::io::Write;
                    let mut out = std::io::stdout();
                    let _ = out.write_all(&buffer[..n]).and_then(|()| out.flush());
                }
                // EIO once the last process holding the terminal is gone: wait for the exit.
                _ => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        if stdin_open && ready.get(1).copied().unwrap_or(false) {
            match rustix::io::read(&stdin, &mut buffer) {
                Ok(n) if n > 0 => {
                    let _ = rustix::io::write(&master, &buffer[..n]);
                }
                _ => stdin_open = false,
            }
        }
    }
}
