//! `healthcheck run` (podman's): the container's healthcheck once, now, recorded as the
//! monitor records its own; prints `healthy` (exit 0) or `unhealthy` (exit 1).

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve, runtime};
use crate::cli::HealthcheckRunArgs;
use crate::runtime::probe;

pub(crate) fn run(args: HealthcheckRunArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        existing_store(session).ok_or_else(|| super::NoSuchContainer(args.container.clone()))?;
    let record = resolve(&store, &args.container)?;
    let runtime = runtime(session, store);
    if probe::run_once(&runtime, &record)? {
        session.cx.printer.line("healthy");
        Ok(ExitStatus::SUCCESS)
    } else {
        session.cx.printer.line("unhealthy");
        Ok(ExitStatus::FAILURE)
    }
}
