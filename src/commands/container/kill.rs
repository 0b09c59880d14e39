//! `container kill` / `kill [-s SIGNAL]`.

use super::super::{ExitStatus, Session};
use super::for_each_container;
use crate::cli::ContainerKillArgs;
use crate::runtime;

pub(crate) fn run(args: ContainerKillArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let signal = runtime::parse_signal(&args.signal)?;
    Ok(for_each_container(
        session,
        &args.containers,
        |store, record, text| {
            if signal == nix::sys::signal::Signal::SIGKILL {
                store.update_container(&record.id, |r| r.state.stop_requested = true)?;
            }
            if !runtime::kill(&record, signal)? {
                anyhow::bail!(
                    "cannot kill container: {text}: container {} is not running",
                    record.id
                );
            }
            Ok(text.to_owned())
        },
    ))
}
