//! `container rm` / `rm [-f] [-v]`. Running containers are refused unless `-f`, which kills
//! them first (from outside the user namespace, which owns them); the files go in a child
//! that enters the namespace (the upper layer belongs to subordinate IDs).

use std::time::Duration;

use anyhow::bail;
use nix::sys::signal::Signal;

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerRmArgs;
use crate::runtime;
use crate::storage::Store;
use crate::storage::containers::{ContainerRecord, Status};

pub(crate) fn run(args: ContainerRmArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let printer = &session.cx.printer;
    let Some(store) = existing_store(session) else {
        if args.ignore {
            return Ok(ExitStatus::SUCCESS);
        }
        for text in &args.containers {
            printer.error(&super::NoSuchContainer(text.clone()).to_string());
        }
        return Ok(ExitStatus::FAILURE);
    };
    let mut status = ExitStatus::SUCCESS;
    let mut doomed: Vec<(String, ContainerRecord)> = Vec::new();
    for text in &args.containers {
        match prepare(&store, text, args.force) {
            Ok(record) => doomed.push((text.clone(), record)),
            Err(error) if args.ignore && error.is::<super::NoSuchContainer>() => {}
            Err(error) => {
                printer.error(&format!("{error:#}"));
                status = ExitStatus::FAILURE;
            }
        }
    }
    if doomed.is_empty() {
        return Ok(status);
    }
    let records: Vec<ContainerRecord> = doomed.iter().map(|(_, r)| r.clone()).collect();
    let code = crate::userns::run_in_namespace(|| {
        match remove_records(
            &super::runtime(session, store.clone()),
            &records,
            args.volumes,
        ) {
            Ok(()) => 0,
            Err(error) => {
                printer.error(&format!("{error:#}"));
                1
            }
        }
    })?;
    if code != 0 {
        return Ok(ExitStatus::FAILURE);
    }
    for (text, _) in &doomed {
        printer.line(text);
    }
    Ok(status)
}

/// Checks that the container may go, killing it with `-f`.
pub(crate) fn prepare(store: &Store, text: &str, force: bool) -> anyhow::Result<ContainerRecord> {
    let record = resolve(store, text)?;
    if runtime::is_running(&record) {
        if !force {
            bail!(
                "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                record.name
            );
        }
        store.update_container(&record.id, |r| r.state.stop_requested = true)?;
        runtime::kill(&record, Signal::SIGKILL)?;
        runtime::wait_for_exit(&record, Duration::from_secs(10));
        runtime::wait_for_record(store, &record.id, Some(Duration::from_secs(5)));
    } else if record.state.status == Status::Restarting && runtime::monitor_alive(&record) {
        // Between two runs: its monitor sees the request within 100 ms and ends, releasing
        // the mounts and the ports it would otherwise take again.
        if !force {
            bail!(
                "cannot remove container \"/{}\": container is restarting: stop the container before removing or force remove",
                record.name
            );
        }
        store.update_container(&record.id, |r| r.state.stop_requested = true)?;
        runtime::wait_for_monitor(&record);
    }
    Ok(record)
}

/// `run --replace` / `create --replace`: stops the container called `name` (its stop signal,
/// then SIGKILL after its timeout) and removes it, so that a unit restarted after its berth
/// was killed starts afresh. Runs before berth enters its namespace, as `rm -f` does: only
/// the namespace's owner may signal every process of a container.
pub(crate) fn replace(session: &Session<'_>, name: &str) -> anyhow::Result<()> {
    let Some(store) = existing_store(session) else {
        return Ok(());
    };
    let Some(record) = store
        .list_containers()?
        .into_iter()
        .find(|r| r.name == name)
    else {
        return Ok(());
    };
    let record = runtime::reconcile(&store, record);
    if runtime::is_running(&record) {
        let signal = runtime::parse_signal(&record.config.stop_signal)?;
        let timeout = Duration::from_secs(u64::from(record.config.stop_timeout.unwrap_or(10)));
        runtime::stop(&store, &record.id, signal, timeout)?;
    }
    // Its monitor unmounts and, with --rm, removes the container itself: let it finish.
    runtime::wait_for_monitor(&record);
    if store.load_container(&record.id).is_err() {
        return Ok(());
    }
    let code = crate::userns::run_in_namespace(|| {
        match remove_records(
            &super::runtime(session, store.clone()),
            std::slice::from_ref(&record),
            true,
        ) {
            Ok(()) => 0,
            Err(error) => {
                session.cx.printer.error(&format!("{error:#}"));
                1
            }
        }
    })?;
    if code != 0 {
        bail!("cannot replace container `{name}`: removing it failed");
    }
    Ok(())
}

/// Removes the containers' directories (and with `volumes`, their anonymous volumes), and
/// whatever libcontainer state a crashed run left.
pub(crate) fn remove_records(
    runtime: &crate::runtime::Runtime,
    records: &[ContainerRecord],
    volumes: bool,
) -> anyhow::Result<()> {
    let store = &runtime.store;
    // libcontainer removes a container's cgroup through the manager that created it: give it
    // the same view of /sys/fs/cgroup as the monitor had.
    let _ = crate::runtime::launch::prepare_namespaces();
    let lock = store.lock()?;
    for record in records {
        crate::runtime::launch::delete_stale(&record.id, &runtime.state_root);
        crate::runtime::network::end_stale_helper(record);
        store.remove_container_dir(&lock, &record.id)?;
        if volumes {
            for mount in record.host_config.mounts.iter().filter(|m| m.anonymous) {
                store.remove_volume(&lock, &mount.source)?;
            }
        }
    }
    Ok(())
}
