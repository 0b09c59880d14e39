//! `compose config`: the model after merging, interpolation and validation.

use super::super::{ExitStatus, Session};
use crate::cli::ComposeConfigArgs;
use crate::compose::Project;

pub(super) fn config(
    session: &Session<'_>,
    project: &Project,
    args: &ComposeConfigArgs,
) -> anyhow::Result<ExitStatus> {
    if args.quiet {
        return Ok(ExitStatus::SUCCESS);
    }
    if args.services {
        for service in &project.services {
            session.cx.printer.line(&service.name);
        }
    } else if args.volumes {
        for name in project.volumes.keys() {
            session.cx.printer.line(name);
        }
    } else {
        session.cx.printer.out(&project.to_yaml());
    }
    Ok(ExitStatus::SUCCESS)
}
