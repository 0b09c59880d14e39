//! `container start` / `start`: detached unless `-a`.

use super::super::{ExitStatus, Session};
use super::{resolve, runtime};
use crate::cli::ContainerStartArgs;
use crate::runtime::monitor::{self, Mode};
use crate::runtime::{self as rt};
use crate::storage::containers::SdNotify;

pub(crate) fn run(args: ContainerStartArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let runtime = runtime(session, store);
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        let record = resolve(&runtime.store, &args.containers[0])?;
        if rt::is_running(&record) {
            anyhow::bail!("container {} is already running", args.containers[0]);
        }
        return match monitor::supervise(
            &runtime,
            &record.id,
            Mode::Attached {
                stdin: args.interactive,
            },
        ) {
            Ok(code) => Ok(ExitStatus(u8::try_from(code & 0xff).unwrap_or(125))),
            Err(error) => {
                let code = error.exit_code();
                Ok(super::run::fail(session, &anyhow::Error::from(error), code))
            }
        };
    }
    Ok(super::for_each_container(
        session,
        &args.containers,
        |_, record, text| {
            if !rt::is_running(&record) {
                monitor::spawn_monitor(&runtime, &record.id)?;
            } else if let (Some(socket), Some(pid), SdNotify::Conmon) = (
                &runtime.notify_socket,
                record.state.monitor_pid,
                record.host_config.sdnotify,
            ) {
                // Already running (its pod's unit started it): its monitor is still the
                // unit's main process, and systemd waits for word that it is ready.
                crate::util::sdnotify::notify(socket, &format!("MAINPID={pid}\nREADY=1"))?;
            }
            Ok(text.to_owned())
        },
    ))
}
