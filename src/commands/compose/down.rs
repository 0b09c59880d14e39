//! `compose down` and `compose stop`.

use super::super::ExitStatus;
use super::super::steps::stop_all;
use super::{Steps, image_name, progress, project_containers, project_pod};
use crate::cli::{ComposeDownArgs, ImageRmArgs};
use crate::commands::image;
use crate::compose::Project;
use crate::runtime::{self as rt, pod};
use crate::storage::containers::ContainerRecord;

/// `compose down`: every container of the project (one-off ones too), its pod, and with `-v`
/// its volumes, with `--rmi` its images.
pub(super) fn down(
    steps: &Steps<'_>,
    project: &Project,
    args: &ComposeDownArgs,
) -> anyhow::Result<ExitStatus> {
    let session = steps.session;
    let Some(store) = super::super::container::existing_store(session) else {
        return Ok(ExitStatus::SUCCESS);
    };
    let (records, orphans): (Vec<ContainerRecord>, Vec<ContainerRecord>) =
        project_containers(&store, project)?
            .into_iter()
            .partition(|r| args.remove_orphans || !super::is_orphan(project, r));
    let orphans = orphans.len();
    if orphans > 0 {
        session.cx.printer.warn(&format!(
            "{orphans} orphan container(s) of this project remain: run with --remove-orphans to remove them"
        ));
    }
    // Dependents first, as the compose spec stops them; the records are then removed in
    // that order too.
    let waves = super::stop_waves(project, &records);
    for wave in &waves {
        let running: Vec<&ContainerRecord> = wave.iter().filter(|r| rt::is_running(r)).collect();
        for record in &running {
            progress(session, "Container", &record.name, "Stopping");
        }
        stop_all(&store, wave, args.timeout);
        for record in &running {
            progress(session, "Container", &record.name, "Stopped");
        }
    }
    let records: Vec<ContainerRecord> = waves.into_iter().flatten().collect();
    let pod = project_pod(&store, project)?;
    // A pod still holding orphans stays.
    let pod = pod.filter(|_| orphans == 0);
    if let Some(pod) = &pod {
        pod::stop_infra(pod);
    }
    let volumes: Vec<String> = if args.volumes {
        store
            .list_volumes()?
            .into_iter()
            .filter(|v| v.labels.get(super::PROJECT_LABEL) == Some(&project.name))
            .map(|v| v.name)
            .collect()
    } else {
        Vec::new()
    };
    let images: Vec<String> = match args.rmi.as_deref() {
        Some("all") => project
            .services
            .iter()
            .map(|s| image_name(project, s))
            .collect(),
        Some(_) => project
            .services
            .iter()
            .filter(|s| s.image.is_none())
            .map(|s| image_name(project, s))
            .collect(),
        None => Vec::new(),
    };
    if records.is_empty() && pod.is_none() && volumes.is_empty() && images.is_empty() {
        return Ok(ExitStatus::SUCCESS);
    }
    let code = steps.in_namespace(None, |child| {
        let runtime = super::super::container::runtime(child, store.clone());
        super::super::container::rm::remove_records(&runtime, &records, args.volumes)?;
        for record in &records {
            progress(child, "Container", &record.name, "Removed");
        }
        let lock = store.lock()?;
        if let Some(pod) = &pod {
            store.remove_pod_dir(&lock, &pod.id)?;
            progress(child, "Pod", &pod.name, "Removed");
        }
        for volume in &volumes {
            store.remove_volume(&lock, volume)?;
            progress(child, "Volume", volume, "Removed");
        }
        drop(lock);
        let mut images = images.clone();
        images.sort();
        images.dedup();
        images.retain(|name| crate::image::resolve(&store, name).is_ok());
        if !images.is_empty() {
            let status = image::rmi::run(
                ImageRmArgs {
                    force: false,
                    no_prune: false,
                    images,
                },
                child,
            )?;
            return Ok(status.0);
        }
        Ok(0)
    })?;
    Ok(ExitStatus(code))
}

/// `compose stop [SERVICE…]`: dependents first, each wave at once (the pod keeps its network).
pub(super) fn stop(
    steps: &Steps<'_>,
    project: &Project,
    services: &[String],
    timeout: Option<u32>,
) -> anyhow::Result<ExitStatus> {
    let session = steps.session;
    let selected = project.select(services, false)?;
    let Some(store) = super::super::container::existing_store(session) else {
        return Ok(ExitStatus::SUCCESS);
    };
    let records: Vec<ContainerRecord> = project_containers(&store, project)?
        .into_iter()
        .filter(rt::is_running)
        .filter(|r| super::of_services(r, &selected))
        .collect();
    // Dependents first, as the compose spec stops them.
    for wave in super::stop_waves(project, &records) {
        for record in &wave {
            progress(session, "Container", &record.name, "Stopping");
        }
        stop_all(&store, &wave, timeout);
        for record in &wave {
            progress(session, "Container", &record.name, "Stopped");
        }
    }
    Ok(ExitStatus::SUCCESS)
}
