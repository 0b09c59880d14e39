//! `unshare [CMD…]`: runs a command as root of berth's user namespace (like `buildah unshare`),
//! e.g. to look at or remove files that belong to subordinate IDs.

use std::os::unix::process::CommandExt;

use super::super::{ExitStatus, Session};
use crate::cli::UnshareArgs;
use crate::env;

pub(crate) fn run(args: UnshareArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let mut argv = args.command;
    if argv.is_empty() {
        argv.push(std::env::var(env::SHELL).unwrap_or_else(|_| "/bin/sh".to_owned()));
    }
    let error = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env(env::BERTH_UNSHARE, "1")
        .env(env::BERTH_ROOT, &session.cx.root)
        .exec();
    let code = if error.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    session.cx.printer.error(&format!(
        "{:#}",
        anyhow::Error::from(error).context(format!("cannot run `{}`", argv[0]))
    ));
    Ok(ExitStatus(code))
}
