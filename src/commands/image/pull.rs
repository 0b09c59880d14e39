//! `image pull` / `pull [--platform P] [-q] NAME[:TAG|@DIGEST]`, and the pull that `run`,
//! `create` and `build` do for a missing image.

use super::super::progress::LayerProgress;
use super::super::{ExitStatus, Session};
use crate::cli::{ImagePullArgs, PullPolicyArg};
use crate::config::registries::Registries;
use crate::image::{self, ops};
use crate::oci::{Digest, Reference};
use crate::output::Printer;
use crate::registry::client::ClientOptions;
use crate::registry::pull::{self, PullOptions, PullPolicy};
use crate::registry::reporter::PullReporter;
use crate::registry::short_name::{self, Candidates};
use crate::storage::unpack::UnpackOptions;
use crate::storage::{Store, WriteLock};

pub(crate) fn run(args: ImagePullArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    // Docker's reference errors before anything is read.
    Reference::parse(&args.image)?;
    let platform = match &args.platform {
        Some(text) => pull::parse_platform(text).map_err(anyhow::Error::msg)?,
        None => pull::host_platform(),
    };
    let store = session.store()?;
    let lock = store.lock()?;
    let printer = &session.cx.printer;
    let mut reporter = LayerProgress::new(printer, false, args.quiet);
    let client = client_options(args.tls_verify)?;
    let candidates = short_name::resolve_pull(&client.registries, &args.image)?;
    let pulled = pull_and_register(
        &store,
        &lock,
        &candidates,
        PullOptions {
            platform,
            client,
            unpack: session.unpack_options(),
            jobs: pull::DEFAULT_JOBS,
        },
        &mut reporter,
    )?;
    if !args.quiet {
        reporter.emit(&format!("Digest: {}", pulled.digest));
        reporter.emit(&status_line(&pulled.reference, pulled.up_to_date));
    }
    printer.line(&pulled.reference.to_string());
    Ok(ExitStatus::SUCCESS)
}

/// Docker's last line of a pull: `Status: Downloaded newer image for busybox:latest`.
pub(crate) fn status_line(reference: &Reference, up_to_date: bool) -> String {
    if up_to_date {
        format!("Status: Image is up to date for {}", reference.familiar())
    } else {
        format!(
            "Status: Downloaded newer image for {}",
            reference.familiar()
        )
    }
}

/// What [`pull_and_register`] did.
pub(crate) struct Pulled {
    /// The name it was found under, and is now named by.
    pub(crate) reference: Reference,
    /// The digest the reference resolved to (Docker's `Digest:` line).
    pub(crate) digest: Digest,
    /// The image ID.
    pub(crate) image_id: Digest,
    /// Nothing was downloaded and the name already pointed at this image.
    pub(crate) up_to_date: bool,
}

/// Pulls the first of `candidates` a registry has and names the image after it (a digest
/// reference leaves it unnamed, as Docker shows it with `<none>` as the tag).
pub(crate) fn pull_and_register(
    store: &Store,
    lock: &WriteLock,
    candidates: &Candidates,
    options: PullOptions,
    reporter: &mut dyn PullReporter,
) -> anyhow::Result<Pulled> {
    let report = pull::pull(store, lock, candidates, &options, reporter)?;
    let reference = &report.reference;
    let before = image::resolve(store, &reference.to_string()).ok();
    let up_to_date = report.downloaded == 0
        && before.is_some_and(|found| found.image.manifest.digest == report.manifest.digest);
    let names: Vec<Reference> = if reference.digest().is_some() {
        Vec::new()
    } else {
        vec![reference.clone()]
    };
    ops::register(store, lock, &report.manifest, &names)?;
    Ok(Pulled {
        reference: reference.clone(),
        digest: report.digest,
        image_id: report.image_id,
        up_to_date,
    })
}

/// The image `text` names for `run` and `create`, pulled first as `policy` says: `missing`
/// pulls only when the store lacks it (after Docker's `Unable to find image` line), `always`
/// asks the registry each time (so a moved tag is followed), `never` fails with Docker's
/// `No such image`. Progress goes to stderr: stdout is the container's.
pub(crate) fn ensure_image(
    store: &Store,
    text: &str,
    policy: PullPolicy,
    unpack: UnpackOptions,
) -> anyhow::Result<image::Resolved> {
    let found = match policy {
        PullPolicy::Always => None,
        _ => match resolve_local(store, text) {
            Ok(resolved) => Some(resolved),
            Err(error)
                if policy == PullPolicy::Missing
                    && matches!(
                        error.downcast_ref::<image::ImageError>(),
                        Some(image::ImageError::NotFound(_))
                    ) =>
            {
                None
            }
            Err(error) => return Err(error),
        },
    };
    if let Some(resolved) = found {
        return Ok(resolved);
    }
    let id = pull_to_stderr(store, text, policy == PullPolicy::Missing, unpack)?;
    // By ID: a digest reference may name a manifest list, not the stored manifest.
    Ok(image::resolve(store, &id.to_string())?)
}

/// Pulls `text` with Docker's progress on stderr (live on a terminal), after `Unable to find image` when
/// `missing`; returns the image ID.
fn pull_to_stderr(
    store: &Store,
    text: &str,
    missing: bool,
    unpack: UnpackOptions,
) -> anyhow::Result<Digest> {
    let printer = Printer::default();
    let reference = Reference::parse(text)?;
    if missing {
        printer.info(&format!(
            "Unable to find image '{}' locally",
            reference.familiar()
        ));
    }
    let lock = store.lock()?;
    let mut reporter = LayerProgress::new(&printer, true, false);
    let client = client_options(None)?;
    let candidates = short_name::resolve_pull(&client.registries, text)?;
    let options = PullOptions {
        platform: pull::host_platform(),
        client,
        unpack,
        jobs: pull::DEFAULT_JOBS,
    };
    let pulled = pull_and_register(store, &lock, &candidates, options, &mut reporter)?;
    reporter.emit(&format!("Digest: {}", pulled.digest));
    reporter.emit(&status_line(&pulled.reference, pulled.up_to_date));
    Ok(pulled.image_id)
}

/// The stored image `text` names: by Docker's rule (how `build -t`, `tag` and `load` name
/// short names), else, for a short name, by its alias or its search registries' names, in
/// order (how a pull of it names the image).
pub(crate) fn resolve_local(store: &Store, text: &str) -> anyhow::Result<image::Resolved> {
    let found = image::resolve_or(store, text, || -> anyhow::Result<_> {
        Ok(short_name::local_names(&Registries::load()?, text)?)
    })?;
    Ok(found?)
}

/// `text`, or the full name [`resolve_local`] found it under, for commands that take a name
/// (`rmi`, `tag`, `inspect`, …); `text` unchanged when nothing matches, so the command says so.
pub(crate) fn local_name(store: &Store, text: &str) -> anyhow::Result<String> {
    match resolve_local(store, text) {
        Ok(image::Resolved {
            by_name: Some(name),
            ..
        }) => Ok(name.to_string()),
        Ok(_) => Ok(text.to_owned()),
        Err(error)
            if matches!(
                error.downcast_ref::<image::ImageError>(),
                Some(image::ImageError::NotFound(_))
            ) =>
        {
            Ok(text.to_owned())
        }
        Err(error) => Err(error),
    }
}

/// The engine's policy for the `--pull` the user gave.
pub(crate) fn pull_policy(arg: PullPolicyArg) -> PullPolicy {
    match arg {
        PullPolicyArg::Always => PullPolicy::Always,
        PullPolicyArg::Missing => PullPolicy::Missing,
        PullPolicyArg::Never => PullPolicy::Never,
    }
}

/// How commands reach registries: credentials, registries.conf and berth.toml, certs.d, and
/// the user's `--tls-verify` over all of them.
pub(crate) fn client_options(tls_verify: Option<bool>) -> anyhow::Result<ClientOptions> {
    let mut options = ClientOptions::load()?;
    options.tls_verify = tls_verify;
    Ok(options)
}
