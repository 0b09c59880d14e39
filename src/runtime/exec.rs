//! A second process in a running container (`exec`), through libcontainer's tenant builder:
//! it joins the init's namespaces. We first join the container's user namespace (we own it)
//! and take a private mount and cgroup namespace of our own: libcontainer needs its state
//! directory, which is not visible from inside the container's mount namespace.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::wait::{WaitStatus, waitpid};

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
}

/// Runs `options.args` in the container and returns its exit code. Call single-threaded,
/// outside any berth namespace.
pub fn exec(
    runtime: &Runtime,
    record: &ContainerRecord,
    options: &ExecOptions,
) -> Result<i32, RuntimeError> {
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
    let mut builder = ContainerBuilder::new(record.id.clone(), SyscallType::default())
        .with_root_path(&runtime.state_root)
        .map_err(RuntimeError::libcontainer)?;
    if !options.stdin {
        let null = fs_err::File::open("/dev/null").map_err(|e| {
            RuntimeError::io("failed to open", std::path::Path::new("/dev/null"), e)
        })?;
        builder = builder.with_stdin(OwnedFd::from(std::fs::File::from(null)));
    }
    let child = builder
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
        .map_err(RuntimeError::libcontainer)?;
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => return Err(RuntimeError::Sys("waitpid", errno)),
        }
    }
}
