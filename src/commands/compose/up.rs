//! `compose up` and `compose start`: make the services' containers match the file, in
//! dependency order, waiting for the conditions of `depends_on`.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::bail;

use super::super::ExitStatus;
use super::super::steps::{Steps, remove, stop_all};
use super::{
    ContainerPlan, config_hash, container_name, create_args, image_name, pod_ports, progress,
    project_containers, project_pod, service_container, volume_name,
};
use crate::cli::ComposeUpArgs;
use crate::commands::container;
use crate::compose::{Condition, MountKind, Project, Service};
use crate::runtime::{self as rt, monitor, pod};
use crate::storage::Store;
use crate::storage::containers::{ContainerRecord, Status};

pub(super) fn up(
    steps: &Steps<'_>,
    project: &Project,
    args: &ComposeUpArgs,
) -> anyhow::Result<ExitStatus> {
    let session = steps.session;
    let selected = project.select(&args.services, !args.no_deps)?;
    let store = session.store()?;
    let started_at = chrono::Utc::now();
    let before = project_containers(&store, project)?;
    report_orphans(steps, project, &store, &before, args.remove_orphans)?;

    // The pod publishes the project's ports: a pod made for other ports goes, with its members.
    let wanted_ports = pod_ports(project)?;
    let mut pod = project_pod(&store, project)?;
    let mut doomed: Vec<ContainerRecord> = Vec::new();
    let mut pod_outdated = false;
    if let Some(existing) = &pod {
        let mut have = existing.port_bindings.clone();
        let mut want = wanted_ports.clone();
        have.sort_by_key(|p| (p.container_port, p.host_port, p.protocol.clone()));
        want.sort_by_key(|p| (p.container_port, p.host_port, p.protocol.clone()));
        if have != want {
            pod_outdated = true;
            doomed.extend(before.iter().cloned());
            stop_all(&store, &doomed, args.timeout);
            pod::stop_infra(existing);
        }
    }

    // Images, volumes and the pod, in a new namespace — only when something is missing.
    let build = super::build::Policy {
        always: args.build,
        never: args.no_build,
        no_cache: false,
    };
    let images = super::build::missing_images(&store, project, &selected, &build)?;
    let volumes = missing_volumes(&store, project, &selected)?;
    let pod_ready = !pod_outdated && pod.as_ref().is_some_and(|p| pod::infra_pid(p).is_some());
    let mut pod_created = false;
    if !images.is_empty() || !volumes.is_empty() || !pod_ready {
        pod_created = pod.is_none() || pod_outdated;
        let code = steps.in_namespace(None, |child| {
            if pod_outdated {
                remove(child, &store, &doomed, pod.as_ref(), false)?;
            }
            super::build::make_images(child, &store, &images, &build)?;
            create_volumes(child, &store, project, &volumes)?;
            ensure_pod(
                child,
                &store,
                project,
                if pod_outdated { None } else { pod.as_ref() },
                &wanted_ports,
            )?;
            Ok(0)
        })?;
        if code != 0 {
            return Ok(ExitStatus(code));
        }
        pod = project_pod(&store, project)?;
    }
    let Some(pod) = pod else {
        bail!("the project's pod was not created");
    };
    let Some(infra) = pod::infra_pid(&pod) else {
        bail!("the network of pod {} is not running", pod.name);
    };

    // Containers whose definition or image changed are recreated.
    let current = if pod_outdated {
        Vec::new()
    } else {
        project_containers(&store, project)?
    };
    let mut plans = Vec::new();
    let mut replaced: Vec<ContainerRecord> = Vec::new();
    for service in &selected {
        let image_id = crate::image::resolve(&store, &image_name(project, service))
            .map(|r| r.image.id.to_string())
            .unwrap_or_default();
        let hash = config_hash(service, &image_id);
        let existing = service_container(&current, &service.name);
        let action = match existing {
            None => Action::Create,
            Some(record) => {
                let same = record.config.labels.get(super::HASH_LABEL) == Some(&hash);
                if args.force_recreate || (!same && !args.no_recreate) {
                    replaced.push(record.clone());
                    Action::Recreate(record.clone())
                } else {
                    Action::Keep(record.clone())
                }
            }
        };
        plans.push((*service, hash, action));
    }
    stop_all(&store, &replaced, args.timeout);

    let code = steps.in_namespace(Some(infra), |child| {
        let runtime = container::runtime(child, store.clone());
        for (service, hash, action) in &plans {
            wait_for_dependencies(child, &store, project, service, &selected)?;
            let name = container_name(project, service);
            match action {
                Action::Keep(record) => {
                    let record = rt::reconcile(&store, store.load_container(&record.id)?);
                    if rt::is_running(&record) {
                        progress(child, "Container", &name, "Running");
                        continue;
                    }
                    progress(child, "Container", &name, "Starting");
                    monitor::spawn_monitor(&runtime, &record.id)?;
                    progress(child, "Container", &name, "Started");
                    continue;
                }
                Action::Recreate(record) => {
                    progress(child, "Container", &name, "Recreate");
                    container::rm::remove_records(&runtime, std::slice::from_ref(record), false)?;
                    progress(child, "Container", &name, "Recreated");
                }
                Action::Create => progress(child, "Container", &name, "Creating"),
            }
            let plan = ContainerPlan {
                project,
                service,
                name: name.clone(),
                pod_id: &pod.id,
                hash: hash.clone(),
                oneoff: false,
            };
            let record = container::create::create(&store, &create_args(&plan)?)?;
            if matches!(action, Action::Create) {
                progress(child, "Container", &name, "Created");
            }
            progress(child, "Container", &name, "Starting");
            if let Err(error) = monitor::spawn_monitor(&runtime, &record.id) {
                bail!("service \"{}\": {error}", service.name);
            }
            progress(child, "Container", &name, "Started");
        }
        Ok(0)
    })?;
    if code != 0 {
        if !args.detach {
            // A failed foreground `up` leaves nothing half-started behind.
            let made: Vec<ContainerRecord> = project_containers(&store, project)?
                .into_iter()
                .filter(|r| !before.iter().any(|b| b.id == r.id))
                .collect();
            stop_all(&store, &made, Some(0));
            let pod = if pod_created {
                project_pod(&store, project)?
            } else {
                None
            };
            if let Some(pod) = &pod {
                pod::stop_infra(pod);
            }
            steps.in_namespace(None, |child| {
                remove(child, &store, &made, pod.as_ref(), false)?;
                Ok(0)
            })?;
        }
        return Ok(ExitStatus(code));
    }
    if args.detach {
        return Ok(ExitStatus::SUCCESS);
    }
    let records = project_containers(&store, project)?;
    let attached: Vec<(ContainerRecord, Option<chrono::DateTime<chrono::Utc>>)> = selected
        .iter()
        .filter_map(|service| service_container(&records, &service.name))
        .map(|record| {
            // Output of this run only, for containers that were already running.
            let since = before
                .iter()
                .any(|b| b.id == record.id && rt::is_running(b))
                .then_some(started_at);
            (record.clone(), since)
        })
        .collect();
    super::logs::attach(
        session,
        &store,
        &attached,
        args.abort_on_container_exit,
        args.timeout,
    )
}

/// What `up` does with a service's container.
enum Action {
    Create,
    Keep(ContainerRecord),
    Recreate(ContainerRecord),
}

/// `compose start`: the existing containers, in dependency order.
pub(super) fn start(
    steps: &Steps<'_>,
    project: &Project,
    services: &[String],
) -> anyhow::Result<ExitStatus> {
    let selected = project.select(services, false)?;
    let store = steps.session.store()?;
    let records = project_containers(&store, project)?;
    if selected
        .iter()
        .all(|s| service_container(&records, &s.name).is_none())
    {
        bail!("no containers to start: run `berth compose up` first");
    }
    let Some(pod) = project_pod(&store, project)? else {
        bail!("the project has no pod: run `berth compose up` first");
    };
    if pod::infra_pid(&pod).is_none() {
        let code = steps.in_namespace(None, |child| {
            pod::ensure_infra(&container::runtime(child, store.clone()), &pod.id)?;
            Ok(0)
        })?;
        if code != 0 {
            return Ok(ExitStatus(code));
        }
    }
    let Some(infra) = project_pod(&store, project)?
        .as_ref()
        .and_then(pod::infra_pid)
    else {
        bail!("the network of pod {} is not running", pod.name);
    };
    let code = steps.in_namespace(Some(infra), |child| {
        let runtime = container::runtime(child, store.clone());
        for service in &selected {
            let Some(record) = service_container(&records, &service.name) else {
                continue;
            };
            wait_for_dependencies(child, &store, project, service, &selected)?;
            let record = rt::reconcile(&store, store.load_container(&record.id)?);
            if !rt::is_running(&record) {
                progress(child, "Container", &record.name, "Starting");
                monitor::spawn_monitor(&runtime, &record.id)?;
                progress(child, "Container", &record.name, "Started");
            }
        }
        Ok(0)
    })?;
    Ok(ExitStatus(code))
}

/// Waits until each dependency of `service` meets its condition (Docker Compose's
/// `depends_on`); a dependency that is not part of this run is waited for only if it exists.
fn wait_for_dependencies(
    session: &super::Session<'_>,
    store: &Store,
    project: &Project,
    service: &Service,
    selected: &[&Service],
) -> anyhow::Result<()> {
    for (name, dependency) in &service.depends_on {
        let Some(target) = project.services.iter().find(|s| &s.name == name) else {
            continue;
        };
        let container = container_name(project, target);
        let in_run = selected.iter().any(|s| &s.name == name);
        let mut announced = false;
        loop {
            let record = match container::resolve(store, &container) {
                Ok(record) => record,
                Err(_) if !in_run || !dependency.required => break,
                Err(error) => return Err(error),
            };
            let running = rt::is_running(&record);
            let exit = (record.state.status == Status::Exited)
                .then(|| record.state.exit_code.unwrap_or(0));
            match dependency.condition {
                Condition::Started => break,
                Condition::Healthy => {
                    match super::health_status(&record) {
                        None => bail!(
                            "dependency \"{name}\" of service \"{}\" has no healthcheck: condition service_healthy cannot be met",
                            service.name
                        ),
                        Some("healthy") => {
                            progress(session, "Container", &container, "Healthy");
                            break;
                        }
                        Some("unhealthy") => {
                            bail!("dependency failed to start: container {container} is unhealthy")
                        }
                        Some(_) => {}
                    }
                    if !running {
                        bail!(
                            "dependency failed to start: container {container} exited ({})",
                            exit.unwrap_or(0)
                        );
                    }
                }
                Condition::CompletedSuccessfully => match exit {
                    Some(0) => {
                        progress(session, "Container", &container, "Exited");
                        break;
                    }
                    Some(code) => {
                        bail!("service \"{name}\" didn't complete successfully: exit {code}")
                    }
                    None => {}
                },
            }
            if !announced {
                progress(session, "Container", &container, "Waiting");
                announced = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Named volumes the services mount that do not exist yet.
fn missing_volumes(
    store: &Store,
    project: &Project,
    services: &[&Service],
) -> anyhow::Result<BTreeSet<String>> {
    let existing: BTreeSet<String> = store.list_volumes()?.into_iter().map(|v| v.name).collect();
    let mut missing = BTreeSet::new();
    for service in services {
        for mount in &service.volumes {
            if let (MountKind::Volume, Some(source)) = (&mount.kind, &mount.source) {
                let name = volume_name(project, source);
                if !existing.contains(&name) {
                    if project.volumes.get(source).is_some_and(|v| v.external) {
                        bail!(
                            "external volume \"{name}\" not found: create it with `berth volume create {name}`"
                        );
                    }
                    missing.insert(source.clone());
                }
            }
        }
    }
    Ok(missing)
}

fn create_volumes(
    session: &super::Session<'_>,
    store: &Store,
    project: &Project,
    volumes: &BTreeSet<String>,
) -> anyhow::Result<()> {
    if volumes.is_empty() {
        return Ok(());
    }
    let lock = store.lock()?;
    for source in volumes {
        let name = volume_name(project, source);
        let mut labels = project
            .volumes
            .get(source)
            .map(|v| v.labels.clone())
            .unwrap_or_default();
        labels.insert(super::PROJECT_LABEL.to_owned(), project.name.clone());
        labels.insert(super::VOLUME_LABEL.to_owned(), source.clone());
        progress(session, "Volume", &name, "Creating");
        store.ensure_volume(&lock, &name, &labels, false)?;
        progress(session, "Volume", &name, "Created");
    }
    Ok(())
}

/// The project's pod, made (publishing every service's ports) or its infra restarted.
pub(super) fn ensure_pod(
    session: &super::Session<'_>,
    store: &Store,
    project: &Project,
    existing: Option<&crate::storage::pods::PodRecord>,
    ports: &[crate::storage::containers::PortMapping],
) -> anyhow::Result<()> {
    match existing {
        Some(pod) => {
            if pod::infra_pid(pod).is_none() {
                pod::ensure_infra(&container::runtime(session, store.clone()), &pod.id)?;
            }
        }
        None => {
            progress(session, "Pod", &project.name, "Creating");
            let labels = [(super::PROJECT_LABEL.to_owned(), project.name.clone())].into();
            crate::commands::pod::create_pod(
                session,
                store,
                Some(&project.name),
                ports.to_vec(),
                labels,
            )?;
            progress(session, "Pod", &project.name, "Created");
        }
    }
    Ok(())
}

/// Containers of services no longer in the file: a warning, or with `--remove-orphans`, gone.
fn report_orphans(
    steps: &Steps<'_>,
    project: &Project,
    store: &Store,
    records: &[ContainerRecord],
    remove_them: bool,
) -> anyhow::Result<()> {
    let orphans: Vec<ContainerRecord> = records
        .iter()
        .filter(|r| super::is_orphan(project, r))
        .cloned()
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    if !remove_them {
        let names: Vec<&str> = orphans.iter().map(|r| r.name.as_str()).collect();
        steps.session.cx.printer.warn(&format!(
            "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        ));
        return Ok(());
    }
    stop_all(store, &orphans, None);
    let code = steps.in_namespace(None, |child| {
        remove(child, store, &orphans, None, false)?;
        for record in &orphans {
            progress(child, "Container", &record.name, "Removed");
        }
        Ok(0)
    })?;
    if code != 0 {
        bail!("cannot remove the orphan containers");
    }
    Ok(())
}
