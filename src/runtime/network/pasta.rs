//! pasta (package `passt`), the default rootless network: it copies the host's addresses and
//! routes into the container's namespace, forwards published ports from the host, and maps
//! the gateway address onto the host's loopback (`host.containers.internal`).
//!
//! pasta configures the namespace, then daemonizes: its first process exits 0 once the
//! network is up, and the daemon's pid is in the pid file.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{Addresses, HelperProcess, PortMapping, RuntimeError};
use crate::util::process::PASTA;

/// The address that resolvers are told to use when the host's are on its loopback (as with
/// systemd-resolved): pasta forwards queries sent to it to the host's resolver.
const DNS_FORWARD: &str = "169.254.1.1";

/// What the container sees: the host's own address and gateway (pasta copies them), the
/// gateway standing for the host's loopback.
pub fn addresses() -> Addresses {
    let route = super::default_route();
    let ip = route
        .as_ref()
        .and_then(|(interface, _)| super::interface_address(interface))
        .map(|ip| ip.to_string());
    let mut nameservers = super::host_nameservers();
    if nameservers.is_empty() {
        nameservers.push(DNS_FORWARD.to_owned());
    }
    Addresses {
        ip,
        host_gateway: route.map(|(_, gateway)| gateway.to_string()),
        nameservers,
        ..Addresses::default()
    }
}

/// A pasta that was started and has not reported yet.
pub struct Starting {
    child: Child,
    pid_file: PathBuf,
    log_file: PathBuf,
}

/// Starts pasta against the namespace `netns` (inherited by the child as a descriptor).
pub fn start(
    netns: &OwnedFd,
    ports: &[PortMapping],
    addresses: &Addresses,
    dir: &Path,
) -> Result<Starting, RuntimeError> {
    let program = PASTA.find().ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "the default rootless network needs `pasta`: install the `{}` package (or use --network slirp4netns, host or none)",
            PASTA.package
        ))
    })?;
    let pid_file = dir.join("pasta.pid");
    let log_file = dir.join("pasta.log");
    let _ = fs_err::remove_file(&pid_file);
    let _ = fs_err::remove_file(&log_file);
    let mut command = Command::new(direct_build(&program).unwrap_or(program));
    // pasta learns its mode from its name, whichever build runs.
    command.arg0("pasta");
    command.args(arguments(
        netns.as_raw_fd(),
        ports,
        addresses,
        &pid_file,
        &log_file,
    ));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = command.spawn().map_err(|e| {
        RuntimeError::io("failed to start the network helper", Path::new("pasta"), e)
    })?;
    Ok(Starting {
        child,
        pid_file,
        log_file,
    })
}

/// The AVX2 build beside `pasta`, when this CPU has AVX2: Debian's pasta otherwise starts by
/// re-executing itself as that build, a millisecond of every container start with `-p`.
fn direct_build(pasta: &Path) -> Option<PathBuf> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        let build = pasta.with_file_name("pasta.avx2");
        return build.exists().then_some(build);
    }
    let _ = pasta;
    None
}

fn arguments(
    netns: i32,
    ports: &[PortMapping],
    addresses: &Addresses,
    pid_file: &Path,
    log_file: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--config-net".into(),
        // As (namespace) root pasta would switch to `nobody`, which a single-ID namespace
        // lacks; we are the user already.
        "--runas".into(),
        "0:0".into(),
        "--quiet".into(),
        // berth ends pasta itself. Its own watch on the namespace's path (an inotify watch,
        // which never fires for a /proc/self/fd path) costs milliseconds at its exit, while
        // the host ports are still held.
        "--no-netns-quit".into(),
        "--pid".into(),
        pid_file.display().to_string(),
        "--log-file".into(),
        log_file.display().to_string(),
        "--netns".into(),
        format!("/proc/self/fd/{netns}"),
        // Nothing from the container's side is forwarded to the host, and no port is
        // forwarded unless published (pasta's default would follow every bound port).
        "-T".into(),
        "none".into(),
        "-U".into(),
        "none".into(),
    ];
    if addresses.nameservers.iter().any(|s| s == DNS_FORWARD) {
        args.extend(["--dns-forward".into(), DNS_FORWARD.into()]);
    }
    for protocol in ["tcp", "udp"] {
        let flag = if protocol == "tcp" { "-t" } else { "-u" };
        let specs: Vec<String> = ports
            .iter()
            .filter(|p| p.protocol == protocol)
            .map(|p| {
                let address = if p.host_ip.is_empty() {
                    String::new()
                } else {
                    format!("{}/", p.host_ip)
                };
                format!("{address}{}:{}", p.host_port, p.container_port)
            })
            .collect();
        if specs.is_empty() {
            args.extend([flag.into(), "none".into()]);
        }
        for spec in specs {
            args.extend([flag.into(), spec]);
        }
    }
    args
}

impl Starting {
    /// Waits until pasta has configured the namespace; returns its daemon.
    pub fn wait(mut self) -> Result<HelperProcess, RuntimeError> {
        let status = self.child.wait().map_err(|e| {
            RuntimeError::io(
                "failed to wait for the network helper",
                Path::new("pasta"),
                e,
            )
        })?;
        let pid = fs_err::read_to_string(&self.pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        match pid {
            Some(pid) if status.success() => Ok(HelperProcess {
                pid,
                start: crate::util::process::start_time(pid),
            }),
            _ => {
                // Only now: a daemon that went on would hold the pipe open.
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let log = fs_err::read_to_string(&self.log_file).unwrap_or_default();
                Err(RuntimeError::Invalid(format!(
                    "pasta could not set up the container's network: {}",
                    explain(&format!("{stderr}\n{log}"))
                )))
            }
        }
    }
}

/// pasta's own words, without its syslog noise, and a hint for the usual causes.
fn explain(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("to syslog"))
        .collect();
    let text = if lines.is_empty() {
        "it exited without saying why".to_owned()
    } else {
        lines.join("; ")
    };
    if text.contains("/dev/net/tun") || text.contains("tap") && text.contains("ermission") {
        format!(
            "{text} (pasta needs /dev/net/tun readable and writable by this user: as root, `chmod 0666 /dev/net/tun`)"
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_avx2_build_beside_pasta_is_run_directly_where_the_cpu_has_avx2() {
        let dir = tempfile::tempdir().unwrap();
        let pasta = dir.path().join("pasta");
        fs_err::write(&pasta, "").unwrap();
        assert_eq!(direct_build(&pasta), None, "no AVX2 build beside it");
        fs_err::write(dir.path().join("pasta.avx2"), "").unwrap();
        #[cfg(target_arch = "x86_64")]
        let expected =
            std::arch::is_x86_feature_detected!("avx2").then(|| dir.path().join("pasta.avx2"));
        #[cfg(not(target_arch = "x86_64"))]
        let expected = None;
        assert_eq!(direct_build(&pasta), expected);
    }

    #[test]
    fn ports_become_forwards_and_nothing_else_is_forwarded() {
        let mut ports = super::super::ports::parse_publish("127.0.0.1:8080:80").unwrap();
        ports.extend(super::super::ports::parse_publish("5353:53/udp").unwrap());
        let args = arguments(
            7,
            &ports,
            &Addresses::default(),
            Path::new("/p"),
            Path::new("/l"),
        );
        let text = args.join(" ");
        assert!(text.contains("--netns /proc/self/fd/7"), "{text}");
        assert!(text.contains("-t 127.0.0.1/8080:80"), "{text}");
        assert!(text.contains("-u 5353:53"), "{text}");
        assert!(text.contains("-T none -U none"), "{text}");
        assert!(text.contains("--no-netns-quit"), "{text}");
        let bare = arguments(
            7,
            &[],
            &Addresses::default(),
            Path::new("/p"),
            Path::new("/l"),
        );
        assert!(bare.join(" ").contains("-t none -u none"));
    }
}
