//! `version`.

use serde_json::json;

use super::{ExitStatus, Session};
use crate::cli::VersionArgs;
use crate::output::format::Template;

pub(crate) fn run(args: VersionArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let info = json!({
        "Client": {
            "Version": env!("CARGO_PKG_VERSION"),
            "GoVersion": "",
            "Os": "linux",
            "Arch": crate::image::archive::host_architecture(),
        }
    });
    let text = match args.format.as_deref() {
        Some("json") => format!("{info}\n"),
        Some(template) => format!("{}\n", Template::parse(template)?.render(&info)?),
        None => format!(
            "Client:\n Version:    {}\n OS/Arch:    linux/{}\n",
            env!("CARGO_PKG_VERSION"),
            crate::image::archive::host_architecture()
        ),
    };
    session.cx.printer.out(&text);
    Ok(ExitStatus::SUCCESS)
}
