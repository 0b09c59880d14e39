//! `container prune [-f]`: removes every stopped container, after Docker's prompt.

use super::super::{ExitStatus, Session};
use crate::cli::ContainerPruneArgs;
use crate::runtime;
use crate::util::human;

pub(crate) fn run(args: ContainerPruneArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    if let Some(filter) = args.filter.first() {
        anyhow::bail!("invalid filter `{filter}`: container prune filters are not supported yet");
    }
    let printer = &session.cx.printer;
    if !args.force.force {
        printer.line("WARNING! This will remove all stopped containers.");
        if !printer.confirm("Are you sure you want to continue?") {
            return Ok(ExitStatus::SUCCESS);
        }
    }
    let store = session.store()?;
    let stopped: Vec<_> = store
        .list_containers()?
        .into_iter()
        .map(|r| runtime::reconcile(&store, r))
        .filter(|r| !runtime::is_running(r) && !runtime::monitor_alive(r))
        .collect();
    let reclaimed: u64 = stopped
        .iter()
        .map(|r| crate::util::fs::tree_size(&store.container_dir(&r.id).join("upper")))
        .sum();
    super::rm::remove_records(&super::runtime(session, store.clone()), &stopped, false)?;
    let mut out = String::new();
    if !stopped.is_empty() {
        out.push_str("Deleted Containers:\n");
        for record in &stopped {
            out.push_str(&record.id);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human::size(reclaimed)
    ));
    printer.out(&out);
    Ok(ExitStatus::SUCCESS)
}
