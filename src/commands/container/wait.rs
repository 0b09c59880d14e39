//! `container wait` / `wait`: blocks until each container stops, prints its exit code.

use super::super::{ExitStatus, Session};
use super::for_each_container;
use crate::cli::ContainerWaitArgs;
use crate::runtime;

pub(crate) fn run(args: ContainerWaitArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    Ok(for_each_container(
        session,
        &args.containers,
        |store, record, _| {
            let ended = runtime::wait_for_record(store, &record.id, None)
                .ok_or_else(|| anyhow::Error::from(super::NoSuchContainer(record.id.clone())))?;
            Ok(ended.state.exit_code.unwrap_or(0).to_string())
        },
    ))
}
