//! `kube play FILE [--down] [--replace]`: the file's pods and their containers, named
//! `POD-CONTAINER` as podman names them. Everything is read and checked before anything is
//! made, and a play that fails part-way removes what it made.

use std::collections::BTreeSet;

use anyhow::{Context as _, bail};
use fs_err as fs;

use super::super::container::{self, existing_store};
use super::super::steps::{Steps, parse_create_flags, remove, stop_all};
use super::super::{ExitStatus, pod};
use crate::cli::{ContainerCreateArgs, KubePlayArgs};
use crate::kube::{self, ContainerPlan, KubeError, MountKind, PodPlan};
use crate::runtime::{monitor, pod as infra};
use crate::storage::Store;
use crate::storage::containers::PortMapping;

pub(super) fn play(
    args: &KubePlayArgs,
    session: &super::Session<'_>,
) -> anyhow::Result<ExitStatus> {
    let text = fs::read_to_string(&args.file)?;
    let documents = kube::parse_documents(&args.file, &text)?;
    let pods = kube::plan(&documents)?;
    if pods.is_empty() {
        return Err(KubeError::Empty(args.file.clone()).into());
    }
    let steps = Steps::new(session);
    let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    if args.down {
        return down(&steps, &names, true);
    }
    // Every container's flags are checked now, so that a bad value makes nothing.
    let mut creates: Vec<Vec<ContainerCreateArgs>> = Vec::new();
    for pod in &pods {
        let mut list = Vec::new();
        for container in &pod.containers {
            list.push(
                create_args(pod, container)
                    .with_context(|| format!("container \"{}\"", container.name))?,
            );
        }
        creates.push(list);
    }
    if args.replace {
        let status = down(&steps, &names, false)?;
        if status != ExitStatus::SUCCESS {
            return Ok(status);
        }
    }
    let store = session.store()?;
    let existing = store.list_pods()?;
    if let Some(taken) = existing.iter().find(|p| names.contains(&p.name.as_str())) {
        bail!(
            "a pod named \"{}\" already exists: remove it (`berth kube play --down`), or use --replace",
            taken.name
        );
    }
    let containers = store.list_containers()?;
    for plan in pods.iter().flat_map(|p| &p.containers) {
        if containers.iter().any(|r| r.name == plan.name) {
            bail!("the container name \"{}\" is already in use", plan.name);
        }
    }
    let volumes = missing_volumes(&store, &pods)?;

    let made = steps.in_namespace(None, |child| {
        let lock = store.lock()?;
        for volume in &volumes {
            store.ensure_volume(&lock, volume, &std::collections::BTreeMap::new(), false)?;
        }
        drop(lock);
        for plan in &pods {
            pod::create_pod(
                child,
                &store,
                Some(&plan.name),
                ports(plan),
                plan.labels.clone(),
            )?;
        }
        Ok(0)
    })?;
    let mut code = made;
    if code == 0 {
        for (plan, creates) in pods.iter().zip(&creates) {
            code = start_members(&steps, &store, plan, creates)?;
            if code != 0 {
                break;
            }
        }
    }
    if code != 0 {
        // Nothing half-created: the pods, their containers, and the volumes made for them go.
        down(&steps, &names, false)?;
        let _ = steps.in_namespace(None, |_| {
            let lock = store.lock()?;
            for volume in &volumes {
                store.remove_volume(&lock, volume)?;
            }
            Ok(0)
        });
        return Ok(ExitStatus(code));
    }
    let printer = &session.cx.printer;
    for plan in &pods {
        let record = pod::resolve(&store, &plan.name)?;
        let mut members = pod::members(&store, &record)?;
        members.sort_by_key(|r| r.created);
        printer.line("Pod:");
        printer.line(&record.id);
        printer.line(if members.len() == 1 {
            "Container:"
        } else {
            "Containers:"
        });
        for member in &members {
            printer.line(&member.id);
        }
        printer.line("");
    }
    Ok(ExitStatus::SUCCESS)
}

/// Creates and starts the pod's containers, alongside its infra.
fn start_members(
    steps: &Steps<'_>,
    store: &Store,
    plan: &PodPlan,
    creates: &[ContainerCreateArgs],
) -> anyhow::Result<u8> {
    let record = pod::resolve(store, &plan.name)?;
    let Some(pid) = infra::infra_pid(&record) else {
        bail!("the network of pod {} is not running", plan.name);
    };
    steps.in_namespace(Some(pid), |child| {
        let runtime = container::runtime(child, store.clone());
        for args in creates {
            let mut args = args.clone();
            args.pod = Some(record.id.clone());
            let made = container::create::create(store, &args)?;
            monitor::spawn_monitor(&runtime, &made.id)?;
        }
        Ok(0)
    })
}

/// `--down`: stops and removes the named pods and their containers (anonymous volumes too;
/// named ones stay, as podman keeps them). With `report`, prints what went as podman does.
fn down(steps: &Steps<'_>, names: &[&str], report: bool) -> anyhow::Result<ExitStatus> {
    let Some(store) = existing_store(steps.session) else {
        return Ok(ExitStatus::SUCCESS);
    };
    let pods: Vec<_> = store
        .list_pods()?
        .into_iter()
        .filter(|p| names.contains(&p.name.as_str()))
        .collect();
    let mut members = Vec::new();
    for pod in &pods {
        members.push(pod::members(&store, pod)?);
    }
    stop_all(&store, &members.concat(), None);
    for pod in &pods {
        infra::stop_infra(pod);
    }
    if pods.is_empty() {
        return Ok(ExitStatus::SUCCESS);
    }
    let code = steps.in_namespace(None, |child| {
        for (pod, members) in pods.iter().zip(&members) {
            remove(child, &store, members, Some(pod), true)?;
        }
        Ok(0)
    })?;
    if code == 0 && report {
        let printer = &steps.session.cx.printer;
        for heading in ["Pods stopped:", "Pods removed:"] {
            printer.line(heading);
            for pod in &pods {
                printer.line(&pod.id);
            }
        }
    }
    Ok(ExitStatus(code))
}

/// The pod publishes its containers' host ports.
fn ports(plan: &PodPlan) -> Vec<PortMapping> {
    plan.ports
        .iter()
        .map(|port| PortMapping {
            host_ip: port.host_ip.clone(),
            host_port: port.host_port,
            container_port: port.container_port,
            protocol: port.protocol.clone(),
        })
        .collect()
}

/// Named volumes (persistentVolumeClaims) that do not exist yet.
fn missing_volumes(store: &Store, pods: &[PodPlan]) -> anyhow::Result<BTreeSet<String>> {
    let existing: BTreeSet<String> = store.list_volumes()?.into_iter().map(|v| v.name).collect();
    Ok(pods
        .iter()
        .flat_map(|p| &p.containers)
        .flat_map(|c| &c.mounts)
        .filter(|m| m.kind == MountKind::Volume && !existing.contains(&m.source))
        .map(|m| m.source.clone())
        .collect())
}

/// `create` flags for one container (its pod is set once the pod exists).
fn create_args(pod: &PodPlan, plan: &ContainerPlan) -> anyhow::Result<ContainerCreateArgs> {
    let mut argv: Vec<String> = Vec::new();
    let mut flag = |name: &str, value: String| {
        argv.push(name.to_owned());
        argv.push(value);
    };
    flag("--name", plan.name.clone());
    flag("--restart", pod.restart.clone());
    for (key, value) in &plan.env {
        flag("--env", format!("{key}={value}"));
    }
    for (key, value) in &plan.labels {
        flag("--label", format!("{key}={value}"));
    }
    for mount in &plan.mounts {
        let mode = if mount.read_only { ":ro" } else { "" };
        match mount.kind {
            MountKind::Bind | MountKind::Volume => {
                flag(
                    "--volume",
                    format!("{}:{}{mode}", mount.source, mount.target),
                );
            }
            MountKind::Tmpfs => flag("--tmpfs", mount.target.clone()),
            MountKind::Anonymous => flag("--volume", format!("{}{mode}", mount.target)),
        }
    }
    for (name, value) in [("--workdir", &plan.working_dir), ("--user", &plan.user)] {
        if let Some(value) = value {
            flag(name, value.clone());
        }
    }
    for cap in &plan.cap_add {
        flag("--cap-add", cap.clone());
    }
    for cap in &plan.cap_drop {
        flag("--cap-drop", cap.clone());
    }
    for (on, name) in [
        (plan.privileged, "--privileged"),
        (plan.read_only, "--read-only"),
        (plan.tty, "--tty"),
        (plan.stdin, "--interactive"),
    ] {
        if on {
            argv.push(name.to_owned());
        }
    }
    argv.push(plan.image.clone());
    let mut args = parse_create_flags(&argv)?;
    args.entrypoint_args.clone_from(&plan.entrypoint);
    args.command.clone_from(&plan.args);
    Ok(args)
}
