//! `image load [-i FILE]`: a docker-archive or oci-archive from a file or stdin.

use std::io::Read;

use anyhow::Context as _;
use fs_err as fs;

use super::super::{ExitStatus, Session};
use crate::cli::ImageLoadArgs;
use crate::image::archive::{self, LoadEvent};

pub(crate) fn run(args: ImageLoadArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let (input, name): (Box<dyn Read>, String) = match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file = fs::File::open(path).context("cannot read the archive")?;
            (Box::new(file), path.display().to_string())
        }
        _ => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                anyhow::bail!(
                    "requested load from stdin, but stdin is empty: use -i FILE or a pipe"
                );
            }
            (Box::new(std::io::stdin().lock()), "-".to_owned())
        }
    };
    let store = session.store()?;
    let lock = store.lock()?;
    let events = archive::load(&store, &lock, input, &name, &session.unpack_options())?;
    if !args.quiet {
        let mut out = String::new();
        for event in events {
            match event {
                LoadEvent::Named(name) => out.push_str(&format!("Loaded image: {name}\n")),
                LoadEvent::Unnamed(id) => out.push_str(&format!("Loaded image ID: {id}\n")),
                LoadEvent::Renamed { name, old } => out.push_str(&format!(
                    "The image {name} already exists, renaming the old one with ID {old} to empty string\n"
                )),
            }
        }
        session.cx.printer.out(&out);
    }
    Ok(ExitStatus::SUCCESS)
}
