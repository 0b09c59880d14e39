//! `container wait` / `wait`: blocks until each container stops, prints its exit code.

use std::time::Duration;

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerWaitArgs;
use crate::runtime;
use crate::storage::containers::Status;

pub(crate) fn run(args: ContainerWaitArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = existing_store(session);
    let mut status = ExitStatus::SUCCESS;
    for text in &args.containers {
        let waited = store
            .as_ref()
            .ok_or_else(|| anyhow::Error::from(super::NoSuchContainer(text.clone())))
            .and_then(|store| {
                let record = resolve(store, text)?;
                let mut pause = Duration::from_millis(5);
                loop {
                    let current = runtime::reconcile(store, store.load_container(&record.id)?);
                    if !matches!(
                        current.state.status,
                        Status::Running | Status::Restarting | Status::Paused
                    ) {
                        return Ok(current.state.exit_code.unwrap_or(0));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
            });
        match waited {
            Ok(code) => session.cx.printer.line(&code.to_string()),
            Err(error) => {
                session.cx.printer.error(&format!("{error:#}"));
                status = ExitStatus::FAILURE;
            }
        }
    }
    Ok(status)
}
