//! Pods: containers sharing one network namespace, held by the pod's infra process — berth
//! itself as `__pod-infra <id>`, one small sleeping process per running pod, no daemon. The
//! infra creates the namespace, connects it with pasta (publishing the pod's ports), writes
//! the pod's shared /etc/hosts and /etc/resolv.conf, moves into the namespace, and waits for
//! SIGTERM.

use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

use super::network::{self, Network};
use super::{Runtime, RuntimeError, etc};
use crate::storage::containers::HelperProcess;
use crate::storage::pods::PodRecord;
use crate::util;

/// The infra's pid, if it is running.
pub fn infra_pid(pod: &PodRecord) -> Option<i32> {
    pod.infra
        .filter(|infra| util::process::is_same_process(infra.pid, infra.start))
        .map(|infra| infra.pid)
}

/// Starts the pod's infra unless it runs; waits until its network is up.
pub fn ensure_infra(runtime: &Runtime, id: &str) -> Result<(), RuntimeError> {
    let pod = runtime.store.load_pod(id)?;
    if infra_pid(&pod).is_some() {
        return Ok(());
    }
    // A crashed infra may have left its pasta behind, holding the pod's ports.
    if let Some(helper) = pod.network_helper {
        network::end_helper(helper);
    }
    let log = runtime.store.pod_dir(id).join("infra.log");
    super::monitor::spawn_detached(runtime, "__pod-infra", id, &log)
}

/// Ends the infra (and with it the pod's network); returns once its ports are free.
pub fn stop_infra(pod: &PodRecord) {
    if let Some(infra) = pod.infra {
        network::end_helper(infra);
    }
    if let Some(helper) = pod.network_helper {
        network::end_helper(helper);
    }
}

/// The body of `berth __pod-infra <id> --ready-fd N`.
pub fn infra_main(
    runtime: &Runtime,
    id: &str,
    ready: Option<OwnedFd>,
) -> Result<i32, RuntimeError> {
    let mut ready = ready;
    if let Some(fd) = &ready {
        let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC);
    }
    // Taken before anything can signal us, so that a stop during set-up is not lost.
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(signal);
    }
    let _ = signals.thread_block();
    let network = match set_up(runtime, id) {
        Ok(network) => network,
        Err(error) => {
            super::monitor::report(&mut ready, &format!("error: 125 {error}"));
            return Err(error);
        }
    };
    super::monitor::report(&mut ready, "ok");
    let _ = signals.wait();
    drop(network);
    let _ = runtime.store.update_pod(id, |pod| {
        pod.infra = None;
        pod.ports.clear();
        pod.network_helper = None;
    });
    Ok(0)
}

fn set_up(runtime: &Runtime, id: &str) -> Result<Network, RuntimeError> {
    let pod = runtime.store.load_pod(id)?;
    let dir = runtime.store.pod_dir(id);
    let mut network = Network::pasta(&pod.port_bindings, !crate::userns::in_initial_namespace())?;
    let short_dir = runtime.state_root.parent().unwrap_or(&dir).to_path_buf();
    network.attach(
        &dir,
        &short_dir.join(format!("slirp-pod-{}.sock", &id[..12])),
    )?;
    network.ready()?;
    etc::write_files(
        &dir,
        &etc::EtcInput {
            hostname: &pod.name,
            name: &pod.name,
            addresses: network.addresses(),
            host_network: false,
            dns: &[],
            dns_search: &[],
            dns_options: &[],
            extra_hosts: &[],
        },
    )?;
    network.enter()?;
    let own = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    runtime.store.update_pod(id, |pod| {
        pod.infra = Some(HelperProcess {
            pid: own,
            start: util::process::start_time(own),
        });
        pod.ports.clone_from(&network.ports);
        pod.network_helper = network.helper_process();
    })?;
    Ok(network)
}

/// Waits (briefly) until a stopped infra has recorded its end.
pub fn wait_for_infra_record(runtime: &Runtime, id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        match runtime.store.load_pod(id) {
            Ok(pod) if pod.infra.is_some() && infra_pid(&pod).is_some() => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => return,
        }
    }
}
