//! Hidden `__ssh-proxy AGENT`: the process behind a `RUN --mount=type=ssh` socket. The build
//! binds the socket (with the mount's owner and mode) and hands it over as stdin; this
//! process forwards each connection to the agent until the build kills it after the step. A
//! process of its own because forwarding takes threads, and the build forks for every RUN.

use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;

use anyhow::Context as _;

use super::super::ExitStatus;
use crate::cli::SshProxyArgs;
use crate::util::forward;

pub(crate) fn run(args: &SshProxyArgs) -> anyhow::Result<ExitStatus> {
    // Never outlive the build, even if it is killed.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .context("cannot tie the SSH agent proxy to the build")?;
    let listener = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("the SSH agent proxy needs its listening socket on stdin")?;
    let listener = UnixListener::from(listener);
    forward::forward_connections(&listener, &args.agent)
        .with_context(|| format!("cannot forward the SSH agent `{}`", args.agent.display()))?;
    Ok(ExitStatus::SUCCESS)
}
