//! `container port` / `port`: the published ports of a running container, as Docker prints
//! them (`80/tcp -> 0.0.0.0:8000`).

use anyhow::bail;

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerPortArgs;
use crate::runtime;

pub(crate) fn run(args: ContainerPortArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        existing_store(session).ok_or_else(|| super::NoSuchContainer(args.container.clone()))?;
    let record = resolve(&store, &args.container)?;
    let ports = runtime::published_ports(&store, &record);
    let printer = &session.cx.printer;
    match &args.port {
        None => {
            for port in &ports {
                printer.line(&format!("{} -> {}", port.container_key(), port.host_text()));
            }
        }
        Some(wanted) => {
            let key = if wanted.contains('/') {
                wanted.to_ascii_lowercase()
            } else {
                format!("{wanted}/tcp")
            };
            let matching: Vec<_> = ports.iter().filter(|p| p.container_key() == key).collect();
            if matching.is_empty() {
                bail!("no public port '{key}' published for {}", args.container);
            }
            for port in matching {
                printer.line(&port.host_text());
            }
        }
    }
    Ok(ExitStatus::SUCCESS)
}
