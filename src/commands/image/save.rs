//! `image save [-o FILE] [--format docker-archive|oci-archive] IMAGE…`.

use std::io::{BufWriter, Write};

use anyhow::{Context as _, bail};
use fs_err as fs;

use super::super::{ExitStatus, Session};
use crate::cli::ImageSaveArgs;
use crate::image::archive::{self, ArchiveFormat};
use crate::storage::Store;
use crate::util;

pub(crate) fn run(args: ImageSaveArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let format = if args.format == "oci-archive" {
        ArchiveFormat::Oci
    } else {
        ArchiveFormat::Docker
    };
    let Some(store) = Store::open_existing(&session.cx.root) else {
        bail!("No such image: {}", args.images[0]);
    };
    let images = args
        .images
        .iter()
        .map(|text| super::pull::local_name(&store, text))
        .collect::<anyhow::Result<Vec<_>>>()?;
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            // Written beside the target and renamed: a failed save leaves no half file.
            let temp = util::fs::temp_sibling(path);
            let result = (|| -> anyhow::Result<()> {
                let file = fs::File::create(&temp).context("cannot write the archive")?;
                let mut writer = BufWriter::with_capacity(1 << 20, file);
                archive::save(&store, &images, format, &mut writer)?;
                let file = writer.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                fs::rename(&temp, path)?;
                Ok(())
            })();
            if result.is_err() {
                let _ = fs::remove_file(&temp);
            }
            result?;
        }
        _ => {
            if session.cx.printer.stdout_is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let stdout = std::io::stdout();
            let mut writer = BufWriter::with_capacity(1 << 20, stdout.lock());
            archive::save(&store, &images, format, &mut writer)?;
            writer.flush()?;
        }
    }
    Ok(ExitStatus::SUCCESS)
}
