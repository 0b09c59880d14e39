//! `image tag SOURCE TARGET`.

use super::super::{ExitStatus, Session};
use crate::cli::ImageTagArgs;
use crate::image::ops;

pub(crate) fn run(args: ImageTagArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let lock = store.lock()?;
    let source = super::pull::local_name(&store, &args.source)?;
    ops::tag(&store, &lock, &source, &args.target)?;
    Ok(ExitStatus::SUCCESS)
}
