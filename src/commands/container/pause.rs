//! `container pause|unpause`: these need a cgroup freezer, which rootless containers only
//! have with a delegated cgroup v2 tree. berth says so rather than pretending.

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerPauseArgs;
use crate::runtime;

pub(crate) fn run(
    args: ContainerPauseArgs,
    session: &Session<'_>,
    verb: &str,
) -> anyhow::Result<ExitStatus> {
    let store = existing_store(session)
        .ok_or_else(|| super::NoSuchContainer(args.containers[0].clone()))?;
    for text in &args.containers {
        let record = resolve(&store, text)?;
        if !runtime::is_running(&record) {
            anyhow::bail!(
                "cannot {verb} container {text}: container {} is not running",
                record.id
            );
        }
    }
    anyhow::bail!(
        "cannot {verb}: pausing needs a cgroup freezer, and this host gives berth's containers no cgroup of their own (cgroup version: {}; no delegated cgroup v2 subtree)",
        if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            "2"
        } else {
            "1"
        }
    )
}
