//! `container kill` / `kill [-s SIGNAL]`.

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerKillArgs;
use crate::runtime;

pub(crate) fn run(args: ContainerKillArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let signal = runtime::parse_signal(&args.signal)?;
    let store = existing_store(session);
    let mut status = ExitStatus::SUCCESS;
    for text in &args.containers {
        let killed = store
            .as_ref()
            .ok_or_else(|| anyhow::Error::from(super::NoSuchContainer(text.clone())))
            .and_then(|store| {
                let record = resolve(store, text)?;
                if signal == nix::sys::signal::Signal::SIGKILL {
                    store.update_container(&record.id, |r| r.state.stop_requested = true)?;
                }
                if !runtime::kill(&record, signal)? {
                    anyhow::bail!(
                        "cannot kill container: {text}: container {} is not running",
                        record.id
                    );
                }
                Ok(())
            });
        match killed {
            Ok(()) => session.cx.printer.line(text),
            Err(error) => {
                session.cx.printer.error(&format!("{error:#}"));
                status = ExitStatus::FAILURE;
            }
        }
    }
    Ok(status)
}
