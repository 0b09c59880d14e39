//! What commands that build several containers at once (`compose`, `kube play`) share: they stay
//! in the host's user namespace — only the owner of the containers' namespaces may signal them
//! all — and do each step that writes the store in a forked child that enters berth's
//! namespace (a new one, or the one of a pod's infra, whose network namespace the members join).

use std::cell::Cell;
use std::time::Duration;

use clap::Parser;

use super::Session;
use super::container;
use crate::cli::ContainerCreateArgs;
use crate::runtime as rt;
use crate::storage::Store;
use crate::storage::containers::ContainerRecord;
use crate::storage::pods::PodRecord;
use crate::userns::{self, Entered};

/// The steps of one command that run in berth's namespace, each in a forked child.
pub(crate) struct Steps<'a> {
    pub(crate) session: &'a Session<'a>,
    /// The single-ID warning is said once per command, not once per child.
    warned: Cell<bool>,
}

impl<'a> Steps<'a> {
    /// Steps of a command run in `session` (outside any namespace).
    pub(crate) fn new(session: &'a Session<'a>) -> Self {
        Self {
            session,
            warned: Cell::new(false),
        }
    }

    /// Runs `work` in a child in berth's namespace (a new one, or that of the process
    /// `alongside`); returns its exit code. Errors are printed by the child. Call only while
    /// single-threaded.
    pub(crate) fn in_namespace(
        &self,
        alongside: Option<i32>,
        work: impl FnOnce(&Session<'_>) -> anyhow::Result<u8>,
    ) -> anyhow::Result<u8> {
        let cx = self.session.cx;
        let warn = !self.warned.get();
        let code = userns::run_in_child(alongside, |entered| {
            if let (Entered::Single(reason), true) = (&entered, warn) {
                cx.printer.warn(&format!(
                    "running with a single-ID user namespace: {reason}. Files owned by other users in images will belong to root."
                ));
            }
            let session = Session {
                cx,
                entered: Some(entered),
            };
            match work(&session) {
                Ok(code) => code,
                Err(error) => {
                    cx.printer.error(&format!("{error:#}"));
                    1
                }
            }
        })?;
        self.warned.set(true);
        Ok(code)
    }
}

/// Flags of `create` for a container made by a command from a file, parsed by the same CLI
/// definitions as the user's own `create` (so every value is checked the same way).
#[derive(Debug, Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct CreateFlags {
    #[command(flatten)]
    args: ContainerCreateArgs,
}

/// Parses `create` flags (the image last); the error is clap's rendered message.
pub(crate) fn parse_create_flags(argv: &[String]) -> anyhow::Result<ContainerCreateArgs> {
    CreateFlags::try_parse_from(argv)
        .map(|flags| flags.args)
        .map_err(|error| anyhow::anyhow!("{}", error.render()))
}

/// Stops containers at once, each with its stop signal and timeout (from outside: we own their
/// namespaces). Threads, so that a dozen slow stoppers take one timeout, not twelve.
pub(crate) fn stop_all(store: &Store, records: &[ContainerRecord], timeout: Option<u32>) {
    std::thread::scope(|scope| {
        for record in records.iter().filter(|r| rt::is_running(r)) {
            scope.spawn(move || {
                let signal = rt::parse_signal(&record.config.stop_signal)
                    .unwrap_or(nix::sys::signal::Signal::SIGTERM);
                let seconds = timeout.or(record.config.stop_timeout).unwrap_or(10);
                let _ = rt::stop(
                    store,
                    &record.id,
                    signal,
                    Duration::from_secs(u64::from(seconds)),
                );
            });
        }
    });
}

/// Removes stopped containers' records (with `volumes`, their anonymous volumes) and the pod,
/// in a namespace child.
pub(crate) fn remove(
    session: &Session<'_>,
    store: &Store,
    records: &[ContainerRecord],
    pod: Option<&PodRecord>,
    volumes: bool,
) -> anyhow::Result<()> {
    let runtime = container::runtime(session, store.clone());
    container::rm::remove_records(&runtime, records, volumes)?;
    if let Some(pod) = pod {
        let lock = store.lock()?;
        store.remove_pod_dir(&lock, &pod.id)?;
    }
    Ok(())
}
