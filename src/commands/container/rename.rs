//! `container rename` / `rename`.

use anyhow::bail;

use super::super::{ExitStatus, Session};
use super::resolve;
use crate::cli::ContainerRenameArgs;
use crate::util::names;

pub(crate) fn run(args: ContainerRenameArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    names::validate_name(&args.new_name)?;
    let new_name = args.new_name.trim_start_matches('/').to_owned();
    let lock = store.lock()?;
    let record = resolve(&store, &args.container)?;
    if let Some(other) = store.list_containers()?.iter().find(|r| r.name == new_name) {
        bail!(
            "the container name \"/{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
            other.id
        );
    }
    store.update_container(&record.id, |r| r.name = new_name)?;
    drop(lock);
    Ok(ExitStatus::SUCCESS)
}
