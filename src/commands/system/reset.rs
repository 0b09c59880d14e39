//! `system reset [-f]`: removes the whole store, after asking. Whatever runs goes first —
//! killed from outside berth's namespace, whose owner alone may signal every container —
//! so that no monitor, pod infra or pasta outlives the store it belonged to.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::super::{ExitStatus, Session};
use crate::cli::SystemResetArgs;
use crate::runtime;
use crate::storage::Store;

pub(crate) fn run(args: SystemResetArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let printer = &session.cx.printer;
    if !args.force.force {
        printer.line("WARNING! This will remove:\n        - all containers\n        - all pods\n        - all images\n        - all volumes\n        - all build cache");
        if !printer.confirm("Are you sure you want to continue?") {
            return Ok(ExitStatus::SUCCESS);
        }
    }
    let Some(store) = Store::open_existing(&session.cx.root) else {
        return Ok(ExitStatus::SUCCESS);
    };
    for record in store.list_containers()? {
        let record = runtime::reconcile(&store, record);
        if runtime::is_running(&record) {
            runtime::stop(&store, &record.id, Signal::SIGKILL, Duration::ZERO)?;
        }
    }
    for pod in store.list_pods()? {
        runtime::pod::stop_infra(&pod);
    }
    let code = crate::userns::run_in_namespace(|| match store.reset() {
        Ok(()) => 0,
        Err(error) => {
            printer.error(&format!("{error:#}"));
            1
        }
    })?;
    Ok(ExitStatus(code))
}
