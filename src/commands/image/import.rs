//! `image import FILE|-|URL [REF]`.

use std::io::Read;

use anyhow::{Context as _, bail};
use fs_err as fs;

use super::super::{ExitStatus, Session};
use crate::cli::ImageImportArgs;
use crate::image::archive::host_architecture;
use crate::image::import::{ImportOptions, import};
use crate::oci::Reference;
use crate::registry;

pub(crate) fn run(args: ImageImportArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    if let Some(platform) = &args.platform {
        let wanted = format!("linux/{}", host_architecture());
        if *platform != wanted {
            bail!(
                "invalid --platform `{platform}`: only this machine's platform ({wanted}) can be imported"
            );
        }
    }
    let reference = args
        .reference
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    let options = ImportOptions {
        source_name: args.source.clone(),
        reference,
        changes: args.change,
        message: args.message,
        unpack: session.unpack_options(),
    };
    let store = session.store()?;
    let lock = store.lock()?;
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    let input: Box<dyn Read> = if args.source == "-" {
        Box::new(std::io::stdin().lock())
    } else if is_url {
        // Downloaded first (into the store's tmp/, gone with the next write lock), so a
        // broken connection never leaves half an image.
        let path = store.temp_dir(&lock, "download")?.join("tarball");
        let mut file = fs::File::create(&path)?;
        registry::http::download(&args.source, &mut file)?;
        drop(file);
        Box::new(fs::File::open(&path)?)
    } else {
        Box::new(fs::File::open(&args.source).context("cannot read the tarball")?)
    };
    let id = import(&store, &lock, input, &options)?;
    session.cx.printer.line(&id.to_string());
    Ok(ExitStatus::SUCCESS)
}
