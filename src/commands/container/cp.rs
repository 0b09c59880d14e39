//! `container cp` / `cp`: `CONTAINER:PATH HOSTPATH` or `HOSTPATH CONTAINER:PATH`.

use anyhow::bail;

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve, runtime};
use crate::cli::ContainerCpArgs;
use crate::runtime::copy;

pub(crate) fn run(args: ContainerCpArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let split = |text: &str| -> Option<(String, String)> {
        // A host path may contain ':' only after a '/', as Docker decides.
        let (container, path) = text.split_once(':')?;
        (!container.is_empty() && !container.contains('/'))
            .then(|| (container.to_owned(), path.to_owned()))
    };
    let store =
        || existing_store(session).ok_or_else(|| anyhow::anyhow!("no containers exist yet"));
    match (split(&args.source), split(&args.destination)) {
        (Some((container, path)), None) => {
            let store = store()?;
            let record = resolve(&store, &container)?;
            copy::copy_out(
                &runtime(session, store),
                &record,
                &path,
                std::path::Path::new(&args.destination),
            )?;
        }
        (None, Some((container, path))) => {
            let store = store()?;
            let record = resolve(&store, &container)?;
            copy::copy_in(
                &runtime(session, store),
                &record,
                std::path::Path::new(&args.source),
                &path,
            )?;
        }
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
    Ok(ExitStatus::SUCCESS)
}
