//! `container run` / `run`: create, then start attached (streaming output, forwarding
//! signals, exiting with the container's code) or detached (printing the ID).

use super::super::{ExitStatus, Session};
use super::{create, runtime};
use crate::cli::ContainerRunArgs;
use crate::runtime::monitor::{self, Mode};

pub(crate) fn run(mut args: ContainerRunArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    args.create.command_line = std::env::args().skip(1).collect();
    let store = session.store()?;
    let record = match create::create(&store, &args.create) {
        Ok(record) => record,
        Err(error) => return Ok(fail(session, &error, 125)),
    };
    if record.host_config.resources.any() {
        if let Some(reason) = crate::runtime::limits_unavailable(&record.host_config.resources) {
            session.cx.printer.warn(&format!(
                "resource limits are skipped: {reason}. The container runs without them."
            ));
        }
    }
    let runtime = runtime(session, store);
    let outcome = if args.detach {
        monitor::spawn_monitor(&runtime, &record.id).map(|()| None)
    } else {
        monitor::supervise(
            &runtime,
            &record.id,
            Mode::Attached {
                stdin: args.create.interactive,
            },
        )
        .map(Some)
    };
    match outcome {
        Ok(None) => {
            session.cx.printer.line(&record.id);
            Ok(ExitStatus::SUCCESS)
        }
        Ok(Some(code)) => Ok(ExitStatus(u8::try_from(code & 0xff).unwrap_or(125))),
        Err(error) => {
            // Nothing half-created stays behind a failed run.
            let _ = super::rm::remove_records(&runtime, std::slice::from_ref(&record), true);
            let code = error.exit_code();
            Ok(fail(session, &anyhow::Error::from(error), code))
        }
    }
}

/// Prints a run failure as Docker does and returns its exit code.
pub(super) fn fail(session: &Session<'_>, error: &anyhow::Error, code: u8) -> ExitStatus {
    session.cx.printer.error(&format!("{error:#}"));
    ExitStatus(code)
}
