//! `compose …`: a compose file's services as the containers of one pod (DESIGN.md §2.6), named
//! and labelled as Docker Compose does (`PROJECT-SERVICE-1`, `com.docker.compose.*`), so that
//! `ps`, `logs` and `rm` work on them as on any container.
//!
//! Process model: the command itself stays in the host's user namespace — only the owner of
//! the containers' namespaces may signal them all — and does each step that writes the store
//! in a forked child that enters berth's namespace: images, volumes and the pod in a new one,
//! then the pod's members alongside the pod's infra, whose network namespace they join.

mod build;
mod config;
mod down;
mod exec;
mod logs;
mod ps;
mod up;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sha2::Digest as _;

use super::steps::{Steps, parse_create_flags};
use super::{ExitStatus, Session};
use crate::cli::{ComposeArgs, ComposeCommand, ContainerCreateArgs};
use crate::compose::{self, LoadOptions, MountKind, Project, Service};
use crate::runtime::network::ports;
use crate::storage::Store;
use crate::storage::containers::{ContainerRecord, PortMapping};
use crate::storage::pods::PodRecord;

pub(crate) const PROJECT_LABEL: &str = "com.docker.compose.project";
pub(crate) const SERVICE_LABEL: &str = "com.docker.compose.service";
const NUMBER_LABEL: &str = "com.docker.compose.container-number";
const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";
const HASH_LABEL: &str = "com.docker.compose.config-hash";
const WORKDIR_LABEL: &str = "com.docker.compose.project.working_dir";
const FILES_LABEL: &str = "com.docker.compose.project.config_files";
const VOLUME_LABEL: &str = "com.docker.compose.volume";

pub(super) fn run(args: ComposeArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let environ: BTreeMap<String, String> = std::env::vars().collect();
    let options = LoadOptions {
        files: args.files,
        project_name: args.project_name,
        env_files: args.env_files,
        profiles: args.profiles,
        working_dir: std::env::current_dir().context("cannot read the current directory")?,
        environ,
    };
    let project = compose::load(&options)?;
    for warning in &project.warnings {
        session.cx.printer.warn(warning);
    }
    let steps = Steps::new(session);
    match args.command {
        ComposeCommand::Up(args) => up::up(&steps, &project, &args),
        ComposeCommand::Down(args) => down::down(&steps, &project, &args),
        ComposeCommand::Ps(args) => ps::ps(session, &project, &args),
        ComposeCommand::Logs(args) => logs::logs(session, &project, &args),
        ComposeCommand::Build(args) => build::build(&steps, &project, &args),
        ComposeCommand::Pull(args) => build::pull(&steps, &project, &args.services),
        ComposeCommand::Start(args) => up::start(&steps, &project, &args.services),
        ComposeCommand::Stop(args) => down::stop(&steps, &project, &args.services, args.timeout),
        ComposeCommand::Restart(args) => {
            let status = down::stop(&steps, &project, &args.services, args.timeout)?;
            if status != ExitStatus::SUCCESS {
                return Ok(status);
            }
            up::start(&steps, &project, &args.services)
        }
        ComposeCommand::Exec(args) => exec::exec(session, &project, args),
        ComposeCommand::Run(args) => exec::run(&steps, &project, args),
        ComposeCommand::Config(args) => config::config(session, &project, &args),
    }
}

/// A progress line as Docker Compose prints them: ` Container web-1  Started`.
fn progress(session: &Session<'_>, kind: &str, name: &str, state: &str) {
    session.cx.printer.info(&format!(" {kind} {name}  {state}"));
}

/// The project's containers (one-off ones too), in creation order.
fn project_containers(store: &Store, project: &Project) -> anyhow::Result<Vec<ContainerRecord>> {
    let mut records: Vec<ContainerRecord> = store
        .list_containers()?
        .into_iter()
        .filter(|r| r.config.labels.get(PROJECT_LABEL) == Some(&project.name))
        .map(|r| crate::runtime::reconcile(store, r))
        .collect();
    records.sort_by_key(|r| r.created);
    Ok(records)
}

/// The service's own container (not a one-off `compose run` one).
fn service_container<'a>(
    records: &'a [ContainerRecord],
    service: &str,
) -> Option<&'a ContainerRecord> {
    records.iter().find(|r| {
        r.config.labels.get(SERVICE_LABEL).map(String::as_str) == Some(service)
            && r.config.labels.get(ONEOFF_LABEL).map(String::as_str) != Some("True")
    })
}

/// Whether the container belongs to a service the file no longer has.
fn is_orphan(project: &Project, record: &ContainerRecord) -> bool {
    record
        .config
        .labels
        .get(SERVICE_LABEL)
        .is_none_or(|name| !project.services.iter().any(|service| &service.name == name))
}

/// Whether the container belongs to one of `services`.
fn of_services(record: &ContainerRecord, services: &[&Service]) -> bool {
    record
        .config
        .labels
        .get(SERVICE_LABEL)
        .is_some_and(|name| services.iter().any(|service| &service.name == name))
}

/// `records` in the order the compose spec stops them: a service's containers only once every
/// service that depends on it has stopped. Each wave stops at once; the first holds what
/// nothing depends on (one-off containers and orphans among them).
fn stop_waves(project: &Project, records: &[ContainerRecord]) -> Vec<Vec<ContainerRecord>> {
    let service_of = |r: &ContainerRecord| r.config.labels.get(SERVICE_LABEL).cloned();
    let depends = |dependent: &ContainerRecord, dependency: &ContainerRecord| {
        let (Some(dependent), Some(dependency)) = (service_of(dependent), service_of(dependency))
        else {
            return false;
        };
        project
            .services
            .iter()
            .find(|s| s.name == dependent)
            .is_some_and(|s| s.depends_on.contains_key(&dependency))
    };
    let mut left: Vec<ContainerRecord> = records.to_vec();
    let mut waves = Vec::new();
    while !left.is_empty() {
        let (mut wave, rest): (Vec<_>, Vec<_>) = left
            .iter()
            .cloned()
            .partition(|r| !left.iter().any(|other| depends(other, r)));
        // Dependencies have no cycles (the file was checked), so a wave is never empty; this
        // only guards the loop.
        if wave.is_empty() {
            wave = rest;
            left = Vec::new();
        } else {
            left = rest;
        }
        waves.push(wave);
    }
    waves
}

/// The project's pod: named after the project, and labelled as its own.
fn project_pod(store: &Store, project: &Project) -> anyhow::Result<Option<PodRecord>> {
    let Some(pod) = store
        .list_pods()?
        .into_iter()
        .find(|p| p.name == project.name)
    else {
        return Ok(None);
    };
    if pod.labels.get(PROJECT_LABEL) != Some(&project.name) {
        bail!(
            "a pod named \"{}\" exists but does not belong to compose project \"{}\": remove it or choose another project name (-p)",
            pod.name,
            project.name
        );
    }
    Ok(Some(pod))
}

/// The container name of a service: `container_name`, else Compose's `PROJECT-SERVICE-1`.
fn container_name(project: &Project, service: &Service) -> String {
    service
        .container_name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-1", project.name, service.name))
}

/// The image a service runs: `image`, else the one its build makes, `PROJECT-SERVICE`.
fn image_name(project: &Project, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{}", project.name, service.name))
}

/// The store name of a named volume: its `name:`, else `PROJECT_VOLUME` (external ones as
/// written).
fn volume_name(project: &Project, name: &str) -> String {
    match project.volumes.get(name) {
        Some(volume) if volume.external => volume.name.clone().unwrap_or_else(|| name.to_owned()),
        Some(volume) => volume
            .name
            .clone()
            .unwrap_or_else(|| format!("{}_{name}", project.name)),
        None => format!("{}_{name}", project.name),
    }
}

/// The pod publishes every service's ports (all services, not only the ones started now, so
/// that starting another service later does not need a new pod).
fn pod_ports(project: &Project) -> anyhow::Result<Vec<PortMapping>> {
    let mut bindings = Vec::new();
    for service in &project.services {
        for port in &service.ports {
            let mut text = String::new();
            if let Some(ip) = &port.host_ip {
                text.push_str(ip);
                text.push(':');
                if port.published.is_none() {
                    text.push(':');
                }
            }
            if let Some(published) = &port.published {
                text.push_str(published);
                text.push(':');
            }
            text.push_str(&port.target);
            text.push('/');
            text.push_str(&port.protocol);
            bindings.extend(
                ports::parse_publish(&text)
                    .with_context(|| format!("service \"{}\": port `{text}`", service.name))?,
            );
        }
    }
    Ok(bindings)
}

/// Hash of what a service's container is made from: its definition and its image. A container
/// whose hash differs is recreated by `up`.
fn config_hash(service: &Service, image_id: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(serde_json::to_vec(service).unwrap_or_default());
    hasher.update(image_id.as_bytes());
    hex::encode(hasher.finalize())
}

/// What `create` needs for one container of a service.
struct ContainerPlan<'a> {
    project: &'a Project,
    service: &'a Service,
    name: String,
    pod_id: &'a str,
    hash: String,
    oneoff: bool,
}

fn create_args(plan: &ContainerPlan<'_>) -> anyhow::Result<ContainerCreateArgs> {
    let ContainerPlan {
        project, service, ..
    } = plan;
    let mut argv: Vec<String> = Vec::new();
    let mut flag = |name: &str, value: String| {
        argv.push(name.to_owned());
        argv.push(value);
    };
    flag("--name", plan.name.clone());
    flag("--pod", plan.pod_id.to_owned());
    flag("--network-alias", service.name.clone());
    // A project's containers are not the unit's main process: `compose up` is.
    flag("--sdnotify", "ignore".to_owned());
    let mut labels = service.labels.clone();
    labels.insert(PROJECT_LABEL.to_owned(), project.name.clone());
    labels.insert(SERVICE_LABEL.to_owned(), service.name.clone());
    labels.insert(NUMBER_LABEL.to_owned(), "1".to_owned());
    labels.insert(
        ONEOFF_LABEL.to_owned(),
        if plan.oneoff { "True" } else { "False" }.to_owned(),
    );
    labels.insert(HASH_LABEL.to_owned(), plan.hash.clone());
    labels.insert(
        WORKDIR_LABEL.to_owned(),
        project.directory.display().to_string(),
    );
    labels.insert(
        FILES_LABEL.to_owned(),
        project
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    for (key, value) in labels {
        flag("--label", format!("{key}={value}"));
    }
    for (key, value) in &service.environment {
        flag("--env", format!("{key}={value}"));
    }
    for mount in &service.volumes {
        let mode = if mount.read_only { ":ro" } else { "" };
        match (&mount.kind, &mount.source) {
            (MountKind::Tmpfs, _) => flag("--tmpfs", mount.target.clone()),
            (MountKind::Bind, Some(source)) => {
                flag("--volume", format!("{source}:{}{mode}", mount.target));
            }
            (MountKind::Volume, Some(source)) => flag(
                "--volume",
                format!("{}:{}{mode}", volume_name(project, source), mount.target),
            ),
            (_, None) => flag("--volume", format!("{}{mode}", mount.target)),
        }
    }
    for tmpfs in &service.tmpfs {
        flag("--tmpfs", tmpfs.clone());
    }
    if let Some(restart) = &service.restart {
        if !plan.oneoff {
            flag("--restart", restart.clone());
        }
    }
    for (name, value) in [
        ("--user", &service.user),
        ("--workdir", &service.working_dir),
        ("--hostname", &service.hostname),
        ("--stop-signal", &service.stop_signal),
    ] {
        if let Some(value) = value {
            flag(name, value.clone());
        }
    }
    if let Some(grace) = service.stop_grace_period {
        flag("--stop-timeout", seconds(grace).to_string());
    }
    for host in &service.extra_hosts {
        flag("--add-host", host.clone());
    }
    for server in &service.dns {
        flag("--dns", server.clone());
    }
    for cap in &service.cap_add {
        flag("--cap-add", cap.clone());
    }
    for cap in &service.cap_drop {
        flag("--cap-drop", cap.clone());
    }
    if let Some(check) = &service.healthcheck {
        for (name, value) in [
            ("--health-interval", check.interval),
            ("--health-timeout", check.timeout),
            ("--health-start-period", check.start_period),
            ("--health-start-interval", check.start_interval),
        ] {
            if let Some(value) = value {
                flag(name, format!("{}ms", value.as_millis()));
            }
        }
        if let Some(retries) = check.retries {
            flag("--health-retries", retries.to_string());
        }
    }
    let switches = [
        (service.init == Some(true), "--init"),
        (service.tty, "--tty"),
        (service.stdin_open, "--interactive"),
        (service.privileged, "--privileged"),
        (service.read_only, "--read-only"),
    ];
    for (on, name) in switches {
        if on {
            argv.push(name.to_owned());
        }
    }
    argv.push(image_name(project, service));
    let mut args =
        parse_create_flags(&argv).with_context(|| format!("service \"{}\"", service.name))?;
    args.command = service.command.clone().unwrap_or_default();
    args.entrypoint_args.clone_from(&service.entrypoint);
    args.health_test = service.healthcheck.as_ref().map(|c| c.test.clone());
    Ok(args)
}

/// Whole seconds, rounded up (a grace period of 1.5s waits 2s, never less than asked).
fn seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The container's health as Docker words it, or None when it has no healthcheck.
fn health_status(record: &ContainerRecord) -> Option<&'static str> {
    let enabled = record
        .config
        .healthcheck
        .as_ref()
        .is_some_and(crate::storage::containers::HealthConfig::enabled);
    enabled.then(|| {
        record
            .state
            .health
            .as_ref()
            .map_or("starting", |health| health.status.as_str())
    })
}
