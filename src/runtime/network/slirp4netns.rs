//! slirp4netns (`--network slirp4netns`): a tap device in the container's namespace backed by
//! a user-mode TCP/IP stack. It reports readiness on a pipe, ends when our end of its exit
//! pipe closes (so it never outlives the monitor), and forwards published ports through its
//! API socket.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Addresses, HelperProcess, PortMapping, RuntimeError};
use crate::util::process::SLIRP4NETNS;

/// slirp4netns's fixed addresses: the container, the host (its loopback), the resolver.
const CONTAINER_IP: &str = "10.0.2.100";
const HOST_IP: &str = "10.0.2.2";
const DNS_IP: &str = "10.0.2.3";

/// What the container sees.
pub fn addresses() -> Addresses {
    Addresses {
        ip: Some(CONTAINER_IP.to_owned()),
        host_gateway: Some(HOST_IP.to_owned()),
        nameservers: vec![DNS_IP.to_owned()],
        ..Addresses::default()
    }
}

/// A slirp4netns that was started and has not reported yet.
pub struct Starting {
    running: Running,
    ready: OwnedFd,
}

/// A running slirp4netns.
pub struct Running {
    child: Child,
    /// Closing it ends slirp4netns.
    exit: Option<OwnedFd>,
    api: PathBuf,
}

fn pipe_error(e: rustix::io::Errno) -> RuntimeError {
    RuntimeError::Sys("pipe", nix::errno::Errno::from_raw(e.raw_os_error()))
}

/// A pipe whose `inherited` end (0: read, 1: write) stays open across exec.
fn pipe_for_child(inherited: usize) -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    let (read, write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::empty()).map_err(pipe_error)?;
    let ours = if inherited == 0 { &write } else { &read };
    rustix::io::fcntl_setfd(ours, rustix::io::FdFlags::CLOEXEC).map_err(pipe_error)?;
    Ok((read, write))
}

/// Starts slirp4netns against `netns`; `api` is its socket path (short: sockaddr_un limit).
pub fn start(netns: &OwnedFd, api: &Path) -> Result<Starting, RuntimeError> {
    let program = SLIRP4NETNS.find().ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "--network slirp4netns needs `slirp4netns`: install the `{}` package",
            SLIRP4NETNS.package
        ))
    })?;
    let (ready_read, ready_write) = pipe_for_child(1)?;
    let (exit_read, exit_write) = pipe_for_child(0)?;
    if let Some(parent) = api.parent() {
        fs_err::create_dir_all(parent)
            .map_err(|e| RuntimeError::io("failed to create", parent, e))?;
    }
    let _ = fs_err::remove_file(api);
    let child = Command::new(program)
        .arg("--configure")
        .arg("--mtu=65520")
        .arg(format!("--ready-fd={}", ready_write.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_read.as_raw_fd()))
        .arg(format!("--api-socket={}", api.display()))
        .arg("--netns-type=path")
        .arg(format!("/proc/self/fd/{}", netns.as_raw_fd()))
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            RuntimeError::io(
                "failed to start the network helper",
                Path::new("slirp4netns"),
                e,
            )
        })?;
    drop(ready_write);
    drop(exit_read);
    Ok(Starting {
        running: Running {
            child,
            exit: Some(exit_write),
            api: api.to_path_buf(),
        },
        ready: ready_read,
    })
}

impl Starting {
    /// Ends slirp4netns before it was needed.
    pub fn end(self) {
        self.running.end();
    }

    /// Waits until the tap device is configured, then forwards `ports`.
    pub fn wait(mut self, ports: &[PortMapping]) -> Result<Running, RuntimeError> {
        let mut byte = [0u8; 1];
        let ready = rustix::io::read(&self.ready, &mut byte).unwrap_or(0) == 1;
        if !ready {
            let mut stderr = String::new();
            let _ = self.running.child.kill();
            let _ = self.running.child.wait();
            if let Some(mut pipe) = self.running.child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return Err(RuntimeError::Invalid(format!(
                "slirp4netns could not set up the container's network: {}",
                stderr.trim()
            )));
        }
        for port in ports {
            self.running.forward(port)?;
        }
        Ok(self.running)
    }
}

impl Running {
    /// The process, for the record.
    pub fn process(&self) -> HelperProcess {
        let pid = i32::try_from(self.child.id()).unwrap_or(i32::MAX);
        HelperProcess {
            pid,
            start: crate::util::process::start_time(pid),
        }
    }

    fn forward(&self, port: &PortMapping) -> Result<(), RuntimeError> {
        let request = serde_json::json!({
            "execute": "add_hostfwd",
            "arguments": {
                "proto": port.protocol,
                "host_addr": if port.host_ip.is_empty() { "0.0.0.0" } else { &port.host_ip },
                "host_port": port.host_port,
                "guest_port": port.container_port,
            }
        });
        let failed = |why: String| {
            RuntimeError::Invalid(format!("cannot publish {port} through slirp4netns: {why}"))
        };
        let mut socket = UnixStream::connect(&self.api).map_err(|e| failed(e.to_string()))?;
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| failed(e.to_string()))?;
        socket
            .write_all(request.to_string().as_bytes())
            .and_then(|()| socket.shutdown(std::net::Shutdown::Write))
            .map_err(|e| failed(e.to_string()))?;
        let mut answer = String::new();
        socket
            .read_to_string(&mut answer)
            .map_err(|e| failed(e.to_string()))?;
        let answer: serde_json::Value =
            serde_json::from_str(&answer).map_err(|e| failed(format!("{e}: {answer}")))?;
        match answer.get("error") {
            Some(error) => Err(failed(
                error["desc"].as_str().unwrap_or("refused").to_owned(),
            )),
            None => Ok(()),
        }
    }

    /// Ends slirp4netns (closing its exit pipe) and waits for it.
    pub fn end(mut self) {
        self.exit = None;
        let process = self.process();
        if !crate::util::process::wait_for_exit(process.pid, process.start, Duration::from_secs(2))
        {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = fs_err::remove_file(&self.api);
    }
}
