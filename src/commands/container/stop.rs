//! `container stop` / `stop`, and `restart`: the stop signal, then SIGKILL after the timeout.
//! Runs outside berth's user namespace: as the namespace's owner we may signal every process
//! in it, which a sibling namespace could not.

use std::time::Duration;

use super::super::{ExitStatus, Session};
use super::for_each_container;
use crate::cli::ContainerStopArgs;
use crate::runtime;

pub(crate) fn run(args: ContainerStopArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    stop_all(&args, session, false)
}

/// `restart`: stop, then start again (in berth's namespace, through a forked child).
pub(crate) fn restart(
    args: ContainerStopArgs,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    stop_all(&args, session, true)
}

fn stop_all(
    args: &ContainerStopArgs,
    session: &Session<'_>,
    restart: bool,
) -> anyhow::Result<ExitStatus> {
    // --ignore (for systemd's ExecStop, which runs after `run --rm` removed the container):
    // missing containers are skipped, silently.
    let containers: Vec<String> = if args.ignore {
        let store = super::existing_store(session);
        args.containers
            .iter()
            .filter(|text| {
                store
                    .as_ref()
                    .is_some_and(|store| super::resolve(store, text).is_ok())
            })
            .cloned()
            .collect()
    } else {
        args.containers.clone()
    };
    Ok(for_each_container(
        session,
        &containers,
        |store, record, text| {
            let signal = runtime::parse_signal(
                args.signal.as_deref().unwrap_or(&record.config.stop_signal),
            )?;
            let timeout = Duration::from_secs(u64::from(
                args.time.or(record.config.stop_timeout).unwrap_or(10),
            ));
            runtime::stop(store, &record.id, signal, timeout)?;
            if restart {
                let runtime = super::runtime(session, store.clone());
                let code =
                    crate::userns::run_in_namespace(|| {
                        match runtime::monitor::spawn_monitor(&runtime, &record.id) {
                            Ok(()) => 0,
                            Err(error) => {
                                session.cx.printer.error(&error.to_string());
                                1
                            }
                        }
                    })?;
                if code != 0 {
                    anyhow::bail!("cannot restart container {text}");
                }
            }
            Ok(text.to_owned())
        },
    ))
}
