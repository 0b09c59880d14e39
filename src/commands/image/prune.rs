//! `image prune [-a] [-f]`, with Docker's warning, prompt and report.

use std::collections::BTreeSet;

use anyhow::bail;

use super::super::{ExitStatus, Session};
use crate::cli::ImagePruneArgs;
use crate::image::ops;
use crate::util::human;

pub(crate) fn run(args: ImagePruneArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    if let Some(filter) = args.filter.first() {
        bail!("invalid filter `{filter}`: image prune filters are not supported yet");
    }
    let printer = &session.cx.printer;
    if !args.force.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        printer.line(warning);
        if !printer.confirm("Are you sure you want to continue?") {
            return Ok(ExitStatus::SUCCESS);
        }
    }
    let store = session.store()?;
    let lock = store.lock()?;
    // No container commands exist yet, so no image is in use by one.
    let report = ops::prune(&store, &lock, args.all, &BTreeSet::new())?;
    let mut out = String::new();
    if !report.events.is_empty() {
        out.push_str("Deleted Images:\n");
        out.push_str(&super::rmi::render(&report.events, "untagged", "deleted"));
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human::size(report.reclaimed)
    ));
    printer.out(&out);
    Ok(ExitStatus::SUCCESS)
}
