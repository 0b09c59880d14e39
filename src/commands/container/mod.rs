//! The container commands, and what they share: finding a container by ID, prefix or name,
//! and the runtime settings of this user.

pub(super) mod cp;
pub(super) mod create;
pub(super) mod exec;
pub(super) mod healthcheck;
pub(super) mod inspect;
pub(super) mod kill;
pub(super) mod logs;
pub(super) mod pause;
pub(super) mod port;
pub(super) mod prune;
pub(super) mod ps;
pub(super) mod rename;
pub(super) mod rm;
pub(super) mod run;
pub(super) mod start;
pub(super) mod stats;
pub(super) mod stop;
pub(super) mod top;
pub(super) mod wait;

use anyhow::bail;

use super::Session;
use crate::cli::{Command, ContainerCommand, PodCommand};
use crate::context::Context;
use crate::runtime::{self, Runtime};
use crate::storage::Store;
use crate::storage::containers::ContainerRecord;

/// `No such container: x`, Docker's words.
#[derive(Debug, thiserror::Error)]
#[error("No such container: {0}")]
pub(crate) struct NoSuchContainer(pub(crate) String);

/// Finds a container by full ID, unique ID prefix or name (with or without Docker's `/`),
/// with its state reconciled with the processes that really run.
pub(crate) fn resolve(store: &Store, text: &str) -> anyhow::Result<ContainerRecord> {
    let records = store.list_containers()?;
    let name = text.strip_prefix('/').unwrap_or(text);
    let found = records
        .iter()
        .find(|r| r.id == text)
        .or_else(|| records.iter().find(|r| r.name == name))
        .cloned()
        .or_else(|| {
            let mut matches = records
                .iter()
                .filter(|r| !text.is_empty() && r.id.starts_with(text));
            let first = matches.next()?;
            matches.next().is_none().then(|| first.clone())
        });
    match found {
        Some(record) => Ok(runtime::reconcile(store, record)),
        None => bail!(NoSuchContainer(text.to_owned())),
    }
}

/// Docker's way with several container arguments: each one on its own, `act` returning the
/// line to print (usually the argument itself), the error printed otherwise; exit 1 if any
/// failed.
pub(crate) fn for_each_container(
    session: &Session<'_>,
    texts: &[String],
    mut act: impl FnMut(&Store, ContainerRecord, &str) -> anyhow::Result<String>,
) -> super::ExitStatus {
    let store = existing_store(session);
    let mut status = super::ExitStatus::SUCCESS;
    for text in texts {
        let outcome = store
            .as_ref()
            .ok_or_else(|| anyhow::Error::from(NoSuchContainer(text.clone())))
            .and_then(|store| act(store, resolve(store, text)?, text));
        match outcome {
            Ok(line) => session.cx.printer.line(&line),
            Err(error) => {
                session.cx.printer.error(&format!("{error:#}"));
                status = super::ExitStatus::FAILURE;
            }
        }
    }
    status
}

/// The store, only if it exists (read-only commands on a fresh machine).
pub(crate) fn existing_store(session: &Session<'_>) -> Option<Store> {
    Store::open_existing(&session.cx.root)
}

/// The process whose user namespace a command must enter instead of a new one: the
/// container whose network a new container joins (`--network container:NAME`). Only a
/// process of that namespace may open the container's network namespace.
pub(crate) fn network_owner(command: &Command, cx: &Context) -> anyhow::Result<Option<i32>> {
    let Some(store) = Store::open_existing(&cx.root) else {
        return Ok(None);
    };
    let networks: Vec<String> = match command {
        Command::Run(args) | Command::Container(ContainerCommand::Run(args)) => {
            match &args.create.pod {
                Some(pod) => vec![format!("pod:{}", super::pod::resolve(&store, pod)?.id)],
                None => vec![args.create.network.clone()],
            }
        }
        Command::Start(args) | Command::Container(ContainerCommand::Start(args)) => args
            .containers
            .iter()
            .filter_map(|text| resolve(&store, text).ok())
            .map(|record| record.host_config.network_mode)
            .collect(),
        Command::Pod(PodCommand::Start(args)) => args
            .pods
            .iter()
            .filter_map(|text| super::pod::resolve(&store, text).ok())
            .map(|pod| format!("pod:{}", pod.id))
            .collect(),
        _ => return Ok(None),
    };
    for network in &networks {
        if let Some(target) = network.strip_prefix("container:") {
            let record = runtime::reconcile(&store, resolve(&store, target)?);
            return match record.state.pid.filter(|_| runtime::is_running(&record)) {
                Some(pid) => Ok(Some(pid)),
                None => bail!("cannot join the network of container {target}: it is not running"),
            };
        }
        if let Some(id) = network.strip_prefix("pod:") {
            // A pod whose infra is not running gets one, started in this command's namespace.
            if let Some(pid) = store
                .load_pod(id)
                .ok()
                .as_ref()
                .and_then(runtime::pod::infra_pid)
            {
                return Ok(Some(pid));
            }
        }
    }
    Ok(None)
}

/// This user's runtime settings.
pub(crate) fn runtime(session: &Session<'_>, store: Store) -> Runtime {
    Runtime {
        store,
        state_root: session.cx.runtime_root.join("libcontainer"),
        single_id: crate::userns::is_single_id(),
        notify_socket: std::env::var_os(crate::env::NOTIFY_SOCKET).filter(|s| !s.is_empty()),
    }
}

/// Docker's container status text: `Up 2 hours`, `Exited (0) 3 minutes ago`, `Created`.
pub(crate) fn status_text(record: &ContainerRecord, now: chrono::DateTime<chrono::Utc>) -> String {
    use crate::storage::containers::{HealthStatus, Status};
    use crate::util::human;
    match record.state.status {
        Status::Running => {
            let since = record.state.started_at.map_or_else(
                || "Less than a second".to_owned(),
                |t| human::duration((now - t).to_std().unwrap_or_default()),
            );
            match &record.state.health {
                Some(health) if health.status == HealthStatus::Starting => {
                    format!("Up {since} (health: starting)")
                }
                Some(health) => format!("Up {since} ({})", health.status.as_str()),
                None => format!("Up {since}"),
            }
        }
        Status::Paused => "Up (Paused)".to_owned(),
        Status::Restarting => {
            let ago = record
                .state
                .finished_at
                .map_or_else(String::new, |t| human::ago(t, now));
            format!("Restarting ({}) {ago}", record.state.exit_code.unwrap_or(0))
        }
        Status::Exited => {
            let ago = record
                .state
                .finished_at
                .map_or_else(String::new, |t| human::ago(t, now));
            format!("Exited ({}) {ago}", record.state.exit_code.unwrap_or(0))
        }
        Status::Created => "Created".to_owned(),
        Status::Removing => "Removal In Progress".to_owned(),
    }
}

/// The command as `ps` shows it: quoted, truncated to 20 characters with `…` unless asked not to.
pub(crate) fn command_text(record: &ContainerRecord, no_trunc: bool) -> String {
    let text = record.config.args.join(" ");
    let text = if no_trunc || text.chars().count() <= 20 {
        text
    } else {
        let mut cut: String = text.chars().take(19).collect();
        cut.push('…');
        cut
    };
    format!("\"{text}\"")
}
