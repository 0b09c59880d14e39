//! `container exec` / `exec`: a command in a running container, exiting with its code.

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve, runtime};
use crate::cli::ContainerExecArgs;
use crate::runtime::exec::{ExecOptions, exec};

pub(crate) fn run(args: ContainerExecArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        existing_store(session).ok_or_else(|| super::NoSuchContainer(args.container.clone()))?;
    let record = resolve(&store, &args.container)?;
    let runtime = runtime(session, store);
    let options = ExecOptions {
        args: args.command,
        env: args.env,
        user: args.user.unwrap_or_default(),
        working_dir: args.workdir,
        stdin: args.interactive,
        tty: args.tty,
        detach: args.detach,
    };
    match exec(&runtime, &record, &options) {
        Ok(code) => Ok(ExitStatus(u8::try_from(code & 0xff).unwrap_or(126))),
        Err(error) => {
            let code = error.exit_code();
            Ok(super::run::fail(session, &anyhow::Error::from(error), code))
        }
    }
}
