//! The only caller of libcontainer. Callers must be single-threaded (libcontainer forks), and
//! must already be in berth's user namespace with the cgroup workaround applied
//! ([`prepare_namespaces`]).

#![allow(
    unsafe_code,
    reason = "setting a socket's interface flags is an ioctl without a safe wrapper"
)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use libcontainer::container::Container;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

use super::RuntimeError;

/// The container's standard streams, as the init process gets them.
pub struct Stdio {
    /// stdin.
    pub stdin: OwnedFd,
    /// stdout.
    pub stdout: OwnedFd,
    /// stderr.
    pub stderr: OwnedFd,
}

/// Gives this process its own mount and cgroup namespaces, with cgroup2 mounted over
/// /sys/fs/cgroup. On hybrid (v1) hosts libcgroups would otherwise pick its v1 manager, which
/// fails with EACCES as root of a user namespace; its v2 manager skips what it may not write.
pub fn prepare_namespaces() -> Result<(), RuntimeError> {
    crate::userns::private_mount_namespace().map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    if unshare(CloneFlags::CLONE_NEWCGROUP).is_ok() {
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        if let Err(errno) = mount(
            Some("cgroup2"),
            "/sys/fs/cgroup",
            Some("cgroup2"),
            flags,
            None::<&str>,
        ) {
            tracing::debug!(%errno, "cannot mount cgroup2 over /sys/fs/cgroup; resource limits unavailable");
        }
    }
    Ok(())
}

/// Moves this process into a new network namespace with `lo` up (libcontainer leaves it
/// down). The caller keeps a descriptor of it: the container joins through
/// `/proc/self/fd/N` of an inherited descriptor, not through `/proc/<our pid>/ns/net`, since
/// libcontainer makes its caller non-dumpable, and the /proc files of a non-dumpable process
/// belong to real root, which a rootless init cannot open.
pub fn new_network_namespace() -> Result<(), RuntimeError> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| RuntimeError::Sys("unshare(CLONE_NEWNET)", e))?;
    loopback_up()
}

fn loopback_up() -> Result<(), RuntimeError> {
    let socket = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| RuntimeError::Sys("socket", e))?;
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = libc::c_char::from_ne_bytes([*byte]);
    }
    // SAFETY: SIOCGIFFLAGS reads the flags of the interface named in `request` into it; the
    // socket is valid and `request` outlives the call.
    let read = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) };
    if read < 0 {
        return Err(RuntimeError::Sys(
            "reading the flags of lo",
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: the union field written by SIOCGIFFLAGS is ifru_flags.
    let flags = unsafe { request.ifr_ifru.ifru_flags };
    request.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads `request`, which is valid for the duration of the call.
    let written = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) };
    if written < 0 {
        return Err(RuntimeError::Sys(
            "bringing lo up",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Creates and starts the container described by `bundle/config.json` (and its seccomp
/// program, `runtime::seccomp`); `before_start` runs
/// between the two (the network must be up before the process starts). The init process is
/// a child of this process.
pub fn create_and_start(
    id: &str,
    bundle: &Path,
    state_root: &Path,
    stdio: Stdio,
    console_socket: Option<&Path>,
    before_start: impl FnOnce() -> Result<(), RuntimeError>,
) -> Result<Container, RuntimeError> {
    fs_err::create_dir_all(state_root)
        .map_err(|e| RuntimeError::io("failed to create", state_root, e))?;
    // libcontainer leaves its caller non-dumpable; a second container started by the same
    // process (a build's next RUN) would inherit that, and its init could not open its own
    // /proc/self/fd entries.
    let _ = nix::sys::prctl::set_dumpable(true);
    let executor = super::seccomp::executor_for(bundle)?;
    let mut container = ContainerBuilder::new(id.to_owned(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(state_root)
        .map_err(RuntimeError::libcontainer)?
        .with_stdin(stdio.stdin)
        .with_stdout(stdio.stdout)
        .with_stderr(stdio.stderr)
        .with_console_socket(console_socket)
        .as_init(bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(RuntimeError::libcontainer)?;
    if let Err(error) = before_start() {
        let _ = container.delete(true);
        return Err(error);
    }
    if let Err(error) = container.start() {
        let _ = container.delete(true);
        return Err(RuntimeError::libcontainer(error));
    }
    Ok(container)
}

/// Deletes libcontainer's state of a container whose process has ended.
pub fn delete(container: &mut Container) {
    if let Err(error) = container.delete(true) {
        tracing::debug!(%error, "libcontainer delete failed");
    }
}

/// Deletes libcontainer's leftover state of `id`, if any (after a crash).
pub fn delete_stale(id: &str, state_root: &Path) {
    let dir = state_root.join(id);
    if dir.exists() {
        match Container::load(dir.clone()) {
            Ok(mut container) => delete(&mut container),
            Err(_) => {
                let _ = fs_err::remove_dir_all(&dir);
            }
        }
    }
}
