//! `compose ps`: the project's containers, with Docker Compose's columns.

use chrono::Utc;

use super::super::container::{command_text, existing_store, status_text};
use super::super::{ExitStatus, Session};
use super::{project_containers, project_pod};
use crate::cli::ComposePsArgs;
use crate::compose::Project;
use crate::output::table::Table;
use crate::runtime::{self as rt, network::ports, pod};
use crate::storage::containers::PortMapping;
use crate::util::human;

pub(super) fn ps(
    session: &Session<'_>,
    project: &Project,
    args: &ComposePsArgs,
) -> anyhow::Result<ExitStatus> {
    let selected = project.select(&args.service_names, false)?;
    if args.services {
        for service in &selected {
            session.cx.printer.line(&service.name);
        }
        return Ok(ExitStatus::SUCCESS);
    }
    let Some(store) = existing_store(session) else {
        return Ok(ExitStatus::SUCCESS);
    };
    let records: Vec<_> = project_containers(&store, project)?
        .into_iter()
        .filter(|r| args.all || rt::is_running(r))
        .filter(|r| super::of_services(r, &selected))
        .collect();
    if args.quiet {
        for record in &records {
            session.cx.printer.line(&record.id);
        }
        return Ok(ExitStatus::SUCCESS);
    }
    // The pod publishes the ports; each container shows those of its service.
    let published: Vec<PortMapping> = project_pod(&store, project)?
        .filter(|p| pod::infra_pid(p).is_some())
        .map(|p| p.ports)
        .unwrap_or_default();
    let now = Utc::now();
    let mut table = Table::new(&[
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
    ]);
    for record in &records {
        let service = record
            .config
            .labels
            .get(super::SERVICE_LABEL)
            .cloned()
            .unwrap_or_default();
        let targets: Vec<(u16, u16, String)> = project
            .services
            .iter()
            .filter(|s| s.name == service)
            .flat_map(|s| s.ports.iter())
            .filter_map(|p| {
                let (low, high) = p.target.split_once('-').unwrap_or((&p.target, &p.target));
                Some((low.parse().ok()?, high.parse().ok()?, p.protocol.clone()))
            })
            .collect();
        let mine: Vec<PortMapping> = if rt::is_running(record) {
            published
                .iter()
                .filter(|m| {
                    targets.iter().any(|(low, high, protocol)| {
                        (*low..=*high).contains(&m.container_port) && &m.protocol == protocol
                    })
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        table.push(vec![
            record.name.clone(),
            record.image.clone(),
            command_text(record, false),
            service,
            human::ago(record.created, now),
            status_text(record, now),
            ports::summary(&mine),
        ]);
    }
    session.cx.printer.out(&table.render());
    Ok(ExitStatus::SUCCESS)
}
