//! A container's network, set up by its monitor: the network namespace, the rootless helper
//! that connects it to the host (pasta by default, or slirp4netns), published ports, and the
//! addresses that go into the container's /etc/hosts and /etc/resolv.conf.
//!
//! The monitor stays in the host's network namespace: the helper must bind host ports and
//! open outbound sockets there, and join the container's namespace only for its tap device.

mod devices;
pub mod pasta;
pub mod ports;
pub mod slirp4netns;

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RuntimeError;
use crate::storage::containers::ContainerRecord;
pub use crate::storage::containers::{HelperProcess, PortMapping};
use crate::util;

/// How a container is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Its own namespace with only `lo`.
    None,
    /// The host's namespace.
    Host,
    /// Its own namespace, connected by pasta (the default).
    Pasta,
    /// Its own namespace, connected by slirp4netns.
    Slirp4netns,
    /// The namespace of another container (its full ID).
    Container(String),
    /// The namespace of a pod (its full ID), held by the pod's infra process.
    Pod(String),
}

impl Mode {
    /// Parses `--network` (Docker's `bridge` and `default` mean the default rootless network);
    /// `container:NAME` keeps the name, which the caller resolves to an ID.
    pub fn parse(text: &str) -> Result<Self, RuntimeError> {
        Ok(match text {
            "" | "default" | "bridge" | "pasta" | "private" => Self::Pasta,
            "slirp4netns" => Self::Slirp4netns,
            "none" => Self::None,
            "host" => Self::Host,
            other => match other.strip_prefix("container:") {
                Some(name) if !name.is_empty() => Self::Container(name.to_owned()),
                _ if other.starts_with("pod:") && other.len() > 4 => {
                    Self::Pod(other[4..].to_owned())
                }
                _ => {
                    return Err(RuntimeError::Invalid(format!(
                        "unknown network mode `{other}`: use pasta (the default), slirp4netns, host, none or container:NAME"
                    )));
                }
            },
        })
    }

    /// The text kept in the container's record (`HostConfig.NetworkMode`).
    pub fn as_text(&self) -> String {
        match self {
            Self::None => "none".to_owned(),
            Self::Host => "host".to_owned(),
            Self::Pasta => "pasta".to_owned(),
            Self::Slirp4netns => "slirp4netns".to_owned(),
            Self::Container(id) => format!("container:{id}"),
            Self::Pod(id) => format!("pod:{id}"),
        }
    }

    /// Whether ports can be published in this mode.
    pub fn can_publish(&self) -> bool {
        matches!(self, Self::Pasta | Self::Slirp4netns)
    }
}

/// Ends a helper process and waits until it is gone, so that its host ports are free when
/// this returns.
pub fn end_helper(helper: HelperProcess) {
    signal_helper(helper);
    util::process::wait_for_exit(helper.pid, helper.start, Duration::from_secs(5));
}

/// Sends the helper SIGKILL without waiting: pasta keeps no state worth a graceful exit. Its
/// exit takes a while (the kernel tears its tap device down before it closes the sockets that
/// hold the host ports), so the monitor starts it as soon as the container has ended.
fn signal_helper(helper: HelperProcess) {
    if util::process::is_same_process(helper.pid, helper.start) {
        let pid = nix::unistd::Pid::from_raw(helper.pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Ends the helper a crashed monitor left behind (it would hold the host ports forever).
pub fn end_stale_helper(record: &ContainerRecord) {
    if let Some(helper) = record.state.network_helper {
        end_helper(helper);
    }
}

/// What the container's /etc files say about the network.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    /// The container's own address, for its name in /etc/hosts.
    pub ip: Option<String>,
    /// The address at which the host's loopback is reached (`host.containers.internal`).
    pub host_gateway: Option<String>,
    /// Resolvers for /etc/resolv.conf; empty: the host's usable ones.
    pub nameservers: Vec<String>,
    /// The directory whose hosts and resolv.conf are shared instead (another container's,
    /// or the pod's).
    pub shared_files: Option<PathBuf>,
    /// The hostname file is shared too (`container:` mode; a pod's containers keep their own).
    pub share_hostname: bool,
}

/// The network of one container, owned by its monitor.
pub struct Network {
    mode: Mode,
    rootless: bool,
    /// The namespace the container joins; None for the host's.
    netns: Option<OwnedFd>,
    /// The published ports, with random host ports chosen.
    pub ports: Vec<PortMapping>,
    addresses: Addresses,
    pending: Option<Pending>,
    helper: Option<Running>,
    /// `begin_release` has deleted the helper's tap device.
    tap_deleted: bool,
}

enum Pending {
    Pasta(pasta::Starting),
    Slirp(slirp4netns::Starting),
}

enum Running {
    Pasta(HelperProcess),
    Slirp(slirp4netns::Running),
}

impl Network {
    /// Creates the namespace (or opens the one to share) and chooses and checks host ports.
    /// `target` is the process whose namespace is shared (`container:`, a pod's infra) and
    /// `shared_dir` the directory of its /etc files.
    pub fn prepare(
        record: &ContainerRecord,
        rootless: bool,
        target: Option<(i32, PathBuf)>,
    ) -> Result<Self, RuntimeError> {
        let mode = Mode::parse(&record.host_config.network_mode)?;
        let (netns, addresses) = match &mode {
            Mode::Host => (None, Addresses::default()),
            Mode::None => (Some(new_namespace()?), Addresses::default()),
            Mode::Pasta => return Self::pasta(&record.host_config.port_bindings, rootless),
            Mode::Slirp4netns => (Some(new_namespace()?), slirp4netns::addresses()),
            Mode::Container(name) | Mode::Pod(name) => {
                let (pid, dir) = target.ok_or_else(|| {
                    RuntimeError::Invalid(match mode {
                        Mode::Pod(_) => format!("the infra process of pod {name} is not running"),
                        _ => format!(
                            "cannot join the network of container {name}: it is not running"
                        ),
                    })
                })?;
                let fd = open_namespace(&PathBuf::from(format!("/proc/{pid}/ns/net")))?;
                let addresses = Addresses {
                    shared_files: Some(dir),
                    share_hostname: matches!(mode, Mode::Container(_)),
                    ..Addresses::default()
                };
                (Some(fd), addresses)
            }
        };
        let requested = &record.host_config.port_bindings;
        let ports = if requested.is_empty() {
            Vec::new()
        } else {
            ports::resolve(requested, rootless)?
        };
        Ok(Self {
            mode,
            rootless,
            netns,
            ports,
            addresses,
            pending: None,
            helper: None,
            tap_deleted: false,
        })
    }

    /// A new namespace connected by pasta, publishing `ports` (a container's, or a pod's).
    pub fn pasta(ports: &[PortMapping], rootless: bool) -> Result<Self, RuntimeError> {
        let ports = if ports.is_empty() {
            Vec::new()
        } else {
            ports::resolve(ports, rootless)?
        };
        Ok(Self {
            mode: Mode::Pasta,
            rootless,
            netns: Some(new_namespace()?),
            ports,
            addresses: pasta::addresses(),
            pending: None,
            helper: None,
            tap_deleted: false,
        })
    }

    /// Moves this process into the container's namespace (a pod's infra, which holds it).
    pub fn enter(&self) -> Result<(), RuntimeError> {
        if let Some(netns) = &self.netns {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| RuntimeError::Sys("joining the pod's network namespace", e))?;
        }
        Ok(())
    }

    /// The path through which the container joins the namespace (valid in this process and
    /// its children, which inherit the descriptor).
    pub fn netns_path(&self) -> Option<PathBuf> {
        self.netns
            .as_ref()
            .map(|fd| PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())))
    }

    /// Whether the container uses the host's network.
    pub fn is_host(&self) -> bool {
        self.mode == Mode::Host
    }

    /// What the /etc files should say.
    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    /// Starts the helper, if this mode has one and it is not running; `ready` waits for it.
    /// The container can be created meanwhile: both need only the namespace. `dir` keeps
    /// pasta's pid and log files; `api_socket` is slirp4netns's socket (a short path).
    pub fn attach(&mut self, dir: &Path, api_socket: &Path) -> Result<(), RuntimeError> {
        if self.helper.is_some() || self.pending.is_some() {
            return Ok(());
        }
        let Some(netns) = &self.netns else {
            return Ok(());
        };
        self.pending = match self.mode {
            Mode::Pasta => Some(Pending::Pasta(pasta::start(
                netns,
                &self.ports,
                &self.addresses,
                dir,
            )?)),
            Mode::Slirp4netns => Some(Pending::Slirp(slirp4netns::start(netns, api_socket)?)),
            _ => None,
        };
        if self.mode == Mode::Slirp4netns {
            // slirp4netns is not run beside container creation: with both joining the new
            // namespace at once, the container's init sometimes never reported.
            self.ready()?;
        }
        Ok(())
    }

    /// Waits until the helper has configured the namespace and forwards the ports.
    pub fn ready(&mut self) -> Result<(), RuntimeError> {
        self.helper = match self.pending.take() {
            Some(Pending::Pasta(starting)) => Some(Running::Pasta(starting.wait()?)),
            Some(Pending::Slirp(starting)) => Some(Running::Slirp(starting.wait(&self.ports)?)),
            None => return Ok(()),
        };
        Ok(())
    }

    /// The helper's process, for the record.
    pub fn helper_process(&self) -> Option<HelperProcess> {
        match &self.helper {
            Some(Running::Pasta(process)) => Some(*process),
            Some(Running::Slirp(running)) => Some(running.process()),
            None => None,
        }
    }

    /// Starts ending the helper, for [`Network::release`] to wait for: its tap device is
    /// deleted first (see `devices`), then pasta is signalled (slirp4netns ends when its exit
    /// pipe closes, in `release`).
    pub fn begin_release(&mut self) {
        if self.helper.is_none() || self.tap_deleted {
            return;
        }
        if let Some(netns) = &self.netns {
            devices::delete_devices(netns.as_fd());
        }
        self.tap_deleted = true;
        if let Some(Running::Pasta(process)) = &self.helper {
            signal_helper(*process);
        }
    }

    /// Ends the helper: the host ports are free when this returns.
    pub fn release(&mut self) {
        self.begin_release();
        self.tap_deleted = false;
        // A helper still starting (the container failed before it was needed) is waited for
        // and ended too: pasta outlives its namespace (--no-netns-quit).
        match self.pending.take() {
            Some(Pending::Pasta(starting)) => {
                if let Ok(process) = starting.wait() {
                    end_helper(process);
                }
            }
            Some(Pending::Slirp(starting)) => starting.end(),
            None => {}
        }
        match self.helper.take() {
            Some(Running::Pasta(process)) => end_helper(process),
            Some(Running::Slirp(running)) => running.end(),
            None => {}
        }
    }

    /// Whether rootless (ports below the unprivileged start are refused).
    pub fn rootless(&self) -> bool {
        self.rootless
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.release();
    }
}

/// A new network namespace with `lo` up. A thread of its own creates it (a network
/// namespace belongs to a thread), so that this process stays in the host's: a user namespace
/// may not re-enter its parent's network namespace.
fn new_namespace() -> Result<OwnedFd, RuntimeError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                super::launch::new_network_namespace()?;
                open_namespace(Path::new("/proc/thread-self/ns/net"))
            })
            .join()
            .unwrap_or_else(|_| {
                Err(RuntimeError::Invalid(
                    "creating the network namespace failed".to_owned(),
                ))
            })
    })
}

/// Opens a namespace file; the descriptor stays open across exec, for the helper.
fn open_namespace(path: &Path) -> Result<OwnedFd, RuntimeError> {
    rustix::fs::open(path, rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).map_err(|e| {
        RuntimeError::io(
            "failed to open the network namespace",
            path,
            std::io::Error::from(e),
        )
    })
}

/// The host's IPv4 default route: (interface, gateway).
fn default_route() -> Option<(String, Ipv4Addr)> {
    let table = fs_err::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"00000000") {
            return None;
        }
        let gateway = u32::from_str_radix(fields.get(2)?, 16).ok()?;
        // /proc/net/route prints addresses in host (little-endian) byte order.
        Some((
            (*fields.first()?).to_owned(),
            Ipv4Addr::from(gateway.swap_bytes()),
        ))
    })
}

/// The first IPv4 address of `interface`.
fn interface_address(interface: &str) -> Option<Ipv4Addr> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|entry| {
        if entry.interface_name != interface {
            return None;
        }
        entry.address?.as_sockaddr_in().map(|address| address.ip())
    })
}

/// The host's resolvers that a container's own namespace can reach (not loopback ones).
fn host_nameservers() -> Vec<String> {
    fs_err::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next().map(str::to_owned))?
        })
        .filter(|server| !server.starts_with("127.") && server != "::1")
        .collect()
}
