//! Hidden `__monitor <id> [--ready-fd N]`: the process that supervises a detached container.

use super::super::container;
use super::super::{ExitStatus, Session};
use crate::cli::MonitorArgs;
use crate::runtime::monitor;

pub(crate) fn run(args: MonitorArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let runtime = container::runtime(session, session.store()?);
    match monitor::monitor_main(&runtime, &args.id, args.ready_fd) {
        Ok(code) => Ok(ExitStatus(u8::try_from(code & 0xff).unwrap_or(125))),
        Err(error) => {
            tracing::error!(container = %args.id, %error, "monitor failed");
            Ok(ExitStatus(error.exit_code()))
        }
    }
}
