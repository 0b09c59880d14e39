//! `pod create|ls|rm|start|stop|inspect`: containers that share one network namespace, held
//! by the pod's infra process (see `runtime::pod`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use serde_json::json;

use super::container::{self, runtime};
use super::{ExitStatus, Session};
use crate::cli::{
    PodCreateArgs, PodInfraArgs, PodInspectArgs, PodLsArgs, PodRmArgs, PodStartArgs, PodStopArgs,
};
use crate::output::table::Table;
use crate::runtime::network::ports;
use crate::runtime::{self as rt, monitor, pod};
use crate::storage::Store;
use crate::storage::containers::ContainerRecord;
use crate::storage::pods::PodRecord;
use crate::util::{self, human, names};

/// `No such pod: NAME`.
#[derive(Debug, thiserror::Error)]
#[error("No such pod: {0}")]
pub(crate) struct NoSuchPod(pub(crate) String);

/// A pod by name, full ID or unique ID prefix.
pub(crate) fn resolve(store: &Store, text: &str) -> anyhow::Result<PodRecord> {
    let pods = store.list_pods()?;
    if let Some(pod) = pods.iter().find(|p| p.id == text || p.name == text) {
        return Ok(pod.clone());
    }
    let mut matches = pods
        .iter()
        .filter(|p| !text.is_empty() && util::ids::is_hex_prefix(text) && p.id.starts_with(text));
    match (matches.next(), matches.next()) {
        (Some(pod), None) => Ok(pod.clone()),
        (Some(_), Some(_)) => bail!("pod ID prefix {text} is ambiguous"),
        _ => Err(NoSuchPod(text.to_owned()).into()),
    }
}

/// The containers of a pod.
pub(crate) fn members(store: &Store, pod: &PodRecord) -> anyhow::Result<Vec<ContainerRecord>> {
    let mode = format!("pod:{}", pod.id);
    Ok(store
        .list_containers()?
        .into_iter()
        .filter(|r| r.host_config.network_mode == mode)
        .collect())
}

pub(crate) fn create(args: PodCreateArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let mut port_bindings = Vec::new();
    for text in &args.publish {
        port_bindings.extend(ports::parse_publish(text)?);
    }
    let mut labels = BTreeMap::new();
    for label in &args.label {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        labels.insert(key.to_owned(), value.to_owned());
    }
    let record = create_pod(session, &store, args.name.as_deref(), port_bindings, labels)?;
    session.cx.printer.line(&record.id);
    Ok(ExitStatus::SUCCESS)
}

/// Records a new pod and starts its infra; a pod whose network cannot start is removed again.
pub(crate) fn create_pod(
    session: &Session<'_>,
    store: &Store,
    name: Option<&str>,
    port_bindings: Vec<crate::storage::containers::PortMapping>,
    labels: BTreeMap<String, String>,
) -> anyhow::Result<PodRecord> {
    let record = {
        let lock = store.lock()?;
        let pods = store.list_pods()?;
        let name = match name {
            Some(name) => {
                names::validate_name(name)?;
                if pods.iter().any(|p| p.name == name) {
                    bail!("the pod name \"{name}\" is already in use");
                }
                name.to_owned()
            }
            None => names::unique_name(&|candidate| pods.iter().any(|p| p.name == candidate)),
        };
        let record = PodRecord {
            id: util::ids::random_hex(32),
            name,
            created: Utc::now(),
            labels,
            port_bindings,
            infra: None,
            ports: Vec::new(),
            network_helper: None,
        };
        store.create_pod(&lock, &record)?;
        record
    };
    let runtime = runtime(session, store.clone());
    if let Err(error) = pod::ensure_infra(&runtime, &record.id) {
        if let Ok(lock) = store.lock() {
            let _ = store.remove_pod_dir(&lock, &record.id);
        }
        return Err(error.into());
    }
    Ok(record)
}

pub(crate) fn ls(args: PodLsArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let Some(store) = container::existing_store(session) else {
        return Ok(ExitStatus::SUCCESS);
    };
    let pods = store.list_pods()?;
    if args.quiet {
        for pod in &pods {
            session.cx.printer.line(if args.no_trunc {
                &pod.id
            } else {
                &pod.id[..12]
            });
        }
        return Ok(ExitStatus::SUCCESS);
    }
    let mut table = Table::new(&[
        "POD ID",
        "NAME",
        "STATUS",
        "CREATED",
        "PORTS",
        "# OF CONTAINERS",
    ]);
    let now = Utc::now();
    for pod in &pods {
        let status = if pod::infra_pid(pod).is_some() {
            "Running"
        } else {
            "Stopped"
        };
        let ports = if pod::infra_pid(pod).is_some() {
            ports::summary(&pod.ports)
        } else {
            String::new()
        };
        table.push(vec![
            if args.no_trunc {
                pod.id.clone()
            } else {
                pod.id[..12].to_owned()
            },
            pod.name.clone(),
            status.to_owned(),
            human::ago(pod.created, now),
            ports,
            members(&store, pod)?.len().to_string(),
        ]);
    }
    session.cx.printer.out(&table.render());
    Ok(ExitStatus::SUCCESS)
}

pub(crate) fn inspect(args: PodInspectArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        container::existing_store(session).ok_or_else(|| NoSuchPod(args.pods[0].clone()))?;
    let mut out = Vec::new();
    for text in &args.pods {
        let pod = resolve(&store, text)?;
        let containers: Vec<_> = members(&store, &pod)?
            .into_iter()
            .map(|r| json!({"Id": r.id, "Name": r.name, "State": rt::reconcile(&store, r).state.status.as_str()}))
            .collect();
        out.push(json!({
            "Id": pod.id,
            "Name": pod.name,
            "Created": pod.created.to_rfc3339(),
            "State": if pod::infra_pid(&pod).is_some() { "Running" } else { "Stopped" },
            "Labels": pod.labels,
            "InfraPid": pod::infra_pid(&pod).unwrap_or(0),
            "Ports": pod.ports.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "NumContainers": containers.len(),
            "Containers": containers,
        }));
    }
    session
        .cx
        .printer
        .out(&format!("{:#}\n", serde_json::Value::Array(out)));
    Ok(ExitStatus::SUCCESS)
}

pub(crate) fn start(args: PodStartArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let runtime = runtime(session, store.clone());
    for text in &args.pods {
        let pod = resolve(&store, text)?;
        pod::ensure_infra(&runtime, &pod.id)?;
        for member in members(&store, &pod)? {
            if !rt::is_running(&member) {
                monitor::spawn_monitor(&runtime, &member.id)?;
            }
        }
        session.cx.printer.line(&pod.id);
    }
    Ok(ExitStatus::SUCCESS)
}

pub(crate) fn stop(args: PodStopArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        container::existing_store(session).ok_or_else(|| NoSuchPod(args.pods[0].clone()))?;
    for text in &args.pods {
        let pod = resolve(&store, text)?;
        stop_pod(&store, &pod, args.time)?;
        session.cx.printer.line(&pod.id);
    }
    Ok(ExitStatus::SUCCESS)
}

/// Stops the pod's containers, then its infra (from outside: we own their namespace).
fn stop_pod(store: &Store, pod: &PodRecord, time: Option<u32>) -> anyhow::Result<()> {
    for member in members(store, pod)? {
        let signal = rt::parse_signal(&member.config.stop_signal)?;
        let timeout =
            Duration::from_secs(u64::from(time.or(member.config.stop_timeout).unwrap_or(10)));
        rt::stop(store, &member.id, signal, timeout)?;
    }
    pod::stop_infra(pod);
    Ok(())
}

pub(crate) fn rm(args: PodRmArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        container::existing_store(session).ok_or_else(|| NoSuchPod(args.pods[0].clone()))?;
    for text in &args.pods {
        let pod = resolve(&store, text)?;
        let members = members(&store, &pod)?;
        let running = members.iter().any(rt::is_running) || pod::infra_pid(&pod).is_some();
        if running && !args.force {
            bail!("pod {} is running: stop it first, or use -f", pod.name);
        }
        let mut records = Vec::new();
        for member in &members {
            records.push(container::rm::prepare(&store, &member.id, true)?);
        }
        pod::stop_infra(&pod);
        let runtime = runtime(session, store.clone());
        let code = crate::userns::run_in_namespace(|| {
            let removed = container::rm::remove_records(&runtime, &records, false).and_then(|()| {
                let lock = store.lock()?;
                store.remove_pod_dir(&lock, &pod.id)?;
                Ok(())
            });
            match removed {
                Ok(()) => 0,
                Err(error) => {
                    session.cx.printer.error(&format!("{error:#}"));
                    1
                }
            }
        })?;
        if code != 0 {
            return Ok(ExitStatus::FAILURE);
        }
        session.cx.printer.line(&pod.id);
    }
    Ok(ExitStatus::SUCCESS)
}

/// Hidden `__pod-infra <id>`.
pub(crate) fn infra(args: PodInfraArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let runtime = runtime(session, session.store()?);
    let ready = args
        .ready_fd
        .and_then(crate::runtime::monitor::inherited_fd);
    match pod::infra_main(&runtime, &args.id, ready) {
        Ok(code) => Ok(ExitStatus(u8::try_from(code).unwrap_or(1))),
        Err(error) => {
            tracing::error!(pod = %args.id, %error, "pod infra failed");
            Ok(ExitStatus(error.exit_code()))
        }
    }
}
