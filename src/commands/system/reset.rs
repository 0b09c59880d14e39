//! `system reset [-f]`: removes the whole store, after asking.

use super::super::{ExitStatus, Session};
use crate::cli::SystemResetArgs;
use crate::storage::Store;

pub(crate) fn run(args: SystemResetArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let printer = &session.cx.printer;
    if !args.force.force {
        printer.line("WARNING! This will remove:\n        - all containers\n        - all images\n        - all volumes\n        - all build cache");
        if !printer.confirm("Are you sure you want to continue?") {
            return Ok(ExitStatus::SUCCESS);
        }
    }
    if let Some(store) = Store::open_existing(&session.cx.root) {
        store.reset()?;
    }
    Ok(ExitStatus::SUCCESS)
}
