//! `image push` / `push [-q] NAME[:TAG] [DESTINATION]`.

use anyhow::bail;

use super::super::progress::LayerProgress;
use super::super::{ExitStatus, Session};
use super::pull::client_options;
use crate::cli::ImagePushArgs;
use crate::image::{self, ImageError};
use crate::oci::Reference;
use crate::registry::push::{self, PushOptions};

pub(crate) fn run(args: ImagePushArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let resolved = image::resolve(&store, &args.image).map_err(|error| match error {
        ImageError::NotFound(_) => anyhow::anyhow!(
            "An image does not exist locally with the tag: {}",
            args.image
        ),
        other => other.into(),
    })?;
    let destination = match (&args.destination, &resolved.by_name) {
        // podman spells the destination with its transport.
        (Some(text), _) => Reference::parse(text.strip_prefix("docker://").unwrap_or(text))?,
        (None, Some(name)) => name.clone(),
        (None, None) => bail!(
            "pushing `{}` needs a destination: the image is named by ID",
            args.image
        ),
    };
    let printer = &session.cx.printer;
    let mut reporter = LayerProgress::new(printer, false, args.quiet);
    let client = client_options(args.tls_verify)?;
    let options = PushOptions {
        client,
        jobs: push::DEFAULT_JOBS,
        mount_from: resolved.image.names.clone(),
    };
    let report = push::push(
        &store,
        &resolved.image.manifest,
        &destination,
        &options,
        &mut reporter,
    )?;
    if args.quiet {
        printer.line(&destination.to_string());
    } else {
        reporter.emit(&format!(
            "{}: digest: {} size: {}",
            report.tag, report.digest, report.size
        ));
    }
    Ok(ExitStatus::SUCCESS)
}
