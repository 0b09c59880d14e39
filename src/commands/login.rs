//! `login [-u USER] [-p PASS | --password-stdin] [SERVER]` and `logout [SERVER]`: credentials
//! checked against the registry, then kept in podman's auth.json.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context as _, bail};

use super::{ExitStatus, Session};
use crate::cli::{LoginArgs, LogoutArgs};
use crate::registry::auth::{AuthFiles, Credentials, registry_key};
use crate::registry::client;

pub(crate) fn login(args: LoginArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let registry = registry_key(args.server.as_deref().unwrap_or("docker.io"));
    let password = match (&args.password, args.password_stdin) {
        (Some(password), _) => {
            session
                .cx
                .printer
                .warn("using --password via the CLI is insecure. Use --password-stdin.");
            password.clone()
        }
        (None, true) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => {
            if !std::io::stdin().is_terminal() {
                bail!("Cannot perform an interactive login from a non TTY device");
            }
            bail!("interactive login is not supported yet: use -u USER --password-stdin");
        }
    };
    let Some(username) = args.username.filter(|name| !name.is_empty()) else {
        bail!("a username is required: use -u USER");
    };
    if password.is_empty() {
        bail!("a password is required");
    }
    let credentials = Credentials { username, password };
    let options = super::image::pull::client_options(args.tls_verify)?;
    client::login(&registry, credentials.clone(), &options)?;
    AuthFiles::from_env().store(&registry, &credentials)?;
    session.cx.printer.line("Login Succeeded!");
    Ok(ExitStatus::SUCCESS)
}

pub(crate) fn logout(args: LogoutArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let registry = registry_key(args.server.as_deref().unwrap_or("docker.io"));
    if !AuthFiles::from_env().remove(&registry)? {
        bail!("not logged into {registry}");
    }
    session
        .cx
        .printer
        .line(&format!("Removed login credentials for {registry}"));
    Ok(ExitStatus::SUCCESS)
}
