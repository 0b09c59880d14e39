//! `cp` between the host and a container, as tar streams through a pipe: a forked child
//! enters the container's filesystem (joining a running container's user and mount
//! namespaces, or mounting a stopped one's overlay), and the side that writes uses the same
//! confined unpacker as image layers, so no path in either tree can lead outside its target.

#![allow(
    unsafe_code,
    reason = "fork: the child only enters namespaces, streams a tar and exits"
)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use nix::sched::{CloneFlags, setns};
use nix::unistd::{ForkResult, fork};

use super::{Runtime, RuntimeError, is_running, launch, rootfs};
use crate::storage::containers::ContainerRecord;
use crate::storage::unpack::{UnpackOptions, unpack_layer};

/// Copies `container_path` out of the container to `host_path` (Docker's rules: into an
/// existing directory, or as a new name in an existing parent).
pub fn copy_out(
    runtime: &Runtime,
    record: &ContainerRecord,
    container_path: &str,
    host_path: &Path,
) -> Result<(), RuntimeError> {
    let (target_dir, name) = host_target(host_path, container_path)?;
    let (read, write) = pipe()?;
    let source = container_path.to_owned();
    let child = fork_in_container(runtime, record, move || {
        let mut out = std::fs::File::from(write);
        write_tar(Path::new(&source), &name, &mut out, false)
            .map(|()| 0)
            .unwrap_or_else(|error| {
                let _ = writeln!(
                    std::io::stderr(),
                    "Error: cannot read `{source}` in the container: {error}"
                );
                1
            })
    })?;
    let unpacked = unpack_layer(
        std::fs::File::from(read),
        &target_dir,
        &UnpackOptions::default(),
    );
    let status = wait(child)?;
    if status != 0 {
        return Err(RuntimeError::Invalid(format!(
            "could not find the file {container_path} in container {}",
            record.name
        )));
    }
    unpacked.map(|_| ()).map_err(|e| {
        RuntimeError::Invalid(format!("cannot copy to `{}`: {e}", host_path.display()))
    })
}

/// Copies `host_path` into the container at `container_path`.
pub fn copy_in(
    runtime: &Runtime,
    record: &ContainerRecord,
    host_path: &Path,
    container_path: &str,
) -> Result<(), RuntimeError> {
    if !host_path.exists() {
        return Err(RuntimeError::Invalid(format!(
            "could not find the file {} on the host",
            host_path.display()
        )));
    }
    let name = host_path
        .file_name()
        .map_or_else(|| "root".to_owned(), |n| n.to_string_lossy().into_owned());
    let (read, write) = pipe()?;
    let destination = container_path.to_owned();
    let child = fork_in_container(runtime, record, move || {
        match unpack_into(std::fs::File::from(read), &destination, &name) {
            Ok(()) => 0,
            Err(error) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "Error: cannot copy to `{destination}` in the container: {error}"
                );
                1
            }
        }
    })?;
    let top = host_path
        .file_name()
        .map_or_else(|| "root".to_owned(), |n| n.to_string_lossy().into_owned());
    let written = write_tar(host_path, &top, &mut std::fs::File::from(write), true);
    let status = wait(child)?;
    written.map_err(|e| RuntimeError::io("failed to read", host_path, e))?;
    if status == 0 {
        Ok(())
    } else {
        Err(RuntimeError::Invalid(format!(
            "copying into container {} failed",
            record.name
        )))
    }
}

/// Where on the host a copy lands: (directory to unpack into, name of the top entry).
fn host_target(host_path: &Path, container_path: &str) -> Result<(PathBuf, String), RuntimeError> {
    let source_name = Path::new(container_path.trim_end_matches('/'))
        .file_name()
        .map_or_else(|| "root".to_owned(), |n| n.to_string_lossy().into_owned());
    if host_path.is_dir() {
        return Ok((host_path.to_path_buf(), source_name));
    }
    let parent = host_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(RuntimeError::Invalid(format!(
            "the destination directory `{}` does not exist",
            parent.display()
        )));
    }
    let name = host_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            RuntimeError::Invalid(format!("invalid destination `{}`", host_path.display()))
        })?;
    Ok((parent.to_path_buf(), name))
}

/// In the container: unpack the tar into `destination` (an existing directory gets the
/// entry under its own name; otherwise it becomes `destination`).
fn unpack_into(reader: impl Read, destination: &str, name: &str) -> std::io::Result<()> {
    let target = Path::new(destination);
    if target.is_dir() {
        return unpack_layer(reader, target, &UnpackOptions::default())
            .map(|_| ())
            .map_err(std::io::Error::other);
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("/"));
    let staging = parent.join(format!(".berth-cp-{}", crate::util::ids::random_hex(6)));
    fs_err::create_dir(&staging)?;
    let result = unpack_layer(reader, &staging, &UnpackOptions::default())
        .map_err(std::io::Error::other)
        .and_then(|_| fs_err::rename(staging.join(name), target));
    let _ = crate::util::fs::remove_all(&staging);
    result
}

/// Writes `path` as a tar whose top entry is `name` (symlinks kept as links). With
/// `as_root`, entries belong to uid/gid 0: files copied into a container are root's, as in
/// Docker.
fn write_tar(path: &Path, name: &str, out: &mut impl Write, as_root: bool) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    if as_root {
        builder.mode(tar::HeaderMode::Deterministic);
    }
    let meta = fs_err::symlink_metadata(path)?;
    if meta.is_dir() {
        builder.append_dir_all(name, path)?;
    } else {
        builder.append_path_with_name(path, name)?;
    }
    builder.into_inner()?.flush()
}

fn pipe() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), RuntimeError> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| RuntimeError::Sys("pipe", nix::errno::Errno::from_raw(e.raw_os_error())))
}

/// Forks a child whose `/` is the container's root filesystem, runs `work` there and exits
/// with its code.
fn fork_in_container(
    runtime: &Runtime,
    record: &ContainerRecord,
    work: impl FnOnce() -> i32,
) -> Result<nix::unistd::Pid, RuntimeError> {
    let running = is_running(record);
    // SAFETY: cp is single-threaded at this point; the child enters namespaces, runs `work`
    // and leaves with _exit.
    match unsafe { fork() }.map_err(|e| RuntimeError::Sys("fork", e))? {
        ForkResult::Child => {
            let entered = if running {
                enter_running(record)
            } else {
                enter_stopped(runtime, record)
            };
            let code = match entered {
                Ok(()) => work(),
                Err(error) => {
                    let _ = writeln!(std::io::stderr(), "Error: {error}");
                    125
                }
            };
            // SAFETY: the child must not run the parent's exit path.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

fn enter_running(record: &ContainerRecord) -> Result<(), RuntimeError> {
    let pid = record.state.pid.unwrap_or(0);
    crate::userns::join(pid).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    let mnt = fs_err::File::open(format!("/proc/{pid}/ns/mnt"))
        .map_err(|e| RuntimeError::io("failed to open", Path::new("/proc/PID/ns/mnt"), e))?;
    // Joining a mount namespace also moves our root and cwd to its root.
    setns(mnt, CloneFlags::CLONE_NEWNS)
        .map_err(|e| RuntimeError::Sys("joining the container's mount namespace", e))?;
    std::env::set_current_dir("/")
        .map_err(|e| RuntimeError::io("failed to enter", Path::new("/"), e))
}

fn enter_stopped(runtime: &Runtime, record: &ContainerRecord) -> Result<(), RuntimeError> {
    crate::userns::enter().map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    launch::prepare_namespaces()?;
    let paths = rootfs::paths(&runtime.store, record);
    rootfs::mount_rootfs(&paths, false)?;
    nix::unistd::chroot(&paths.merged).map_err(|e| RuntimeError::Sys("chroot", e))?;
    std::env::set_current_dir("/")
        .map_err(|e| RuntimeError::io("failed to enter", Path::new("/"), e))
}

fn wait(child: nix::unistd::Pid) -> Result<i32, RuntimeError> {
    match nix::sys::wait::waitpid(child, None) {
        Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => Ok(code),
        Ok(_) => Ok(125),
        Err(e) => Err(RuntimeError::Sys("waitpid", e)),
    }
}
