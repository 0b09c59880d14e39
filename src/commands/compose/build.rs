//! The services' images: `compose build`, `compose pull`, and what `up` and `run` make or
//! fetch before they create containers.

use std::path::PathBuf;

use anyhow::bail;
use clap::Parser;

use super::super::{ExitStatus, Session};
use super::{Steps, image_name, progress};
use crate::cli::{BuildArgs, ComposeBuildArgs, ImagePullArgs};
use crate::commands::image;
use crate::compose::{Project, Service};
use crate::storage::Store;

/// When images are built.
pub(super) struct Policy {
    /// `--build`: every service with a build section.
    pub(super) always: bool,
    /// `--no-build`: never; a missing image is an error.
    pub(super) never: bool,
    /// `--no-cache`.
    pub(super) no_cache: bool,
}

/// What must happen to a service's image before its container can be made.
pub(super) enum Need {
    Build(String),
    Pull(String),
}

/// The images to build or pull for `services`, found without entering the namespace (an
/// `up` with every image present forks nothing for them).
pub(super) fn missing_images<'a>(
    store: &Store,
    project: &Project,
    services: &[&'a Service],
    policy: &Policy,
) -> anyhow::Result<Vec<(&'a Service, Need)>> {
    let mut needs = Vec::new();
    for service in services {
        let name = image_name(project, service);
        let present = crate::image::resolve(store, &name).is_ok();
        // The service's pull_policy, as Docker Compose reads it.
        match service.pull_policy.as_deref() {
            Some("always") if service.build.is_none() => {
                needs.push((*service, Need::Pull(name)));
                continue;
            }
            Some("never") if !present && service.build.is_none() => bail!(
                "service \"{}\" has pull_policy: never and no image {name}: pull or load it first",
                service.name
            ),
            Some("build") if service.build.is_some() => {
                needs.push((*service, Need::Build(name)));
                continue;
            }
            _ => {}
        }
        match (&service.build, present) {
            (Some(_), _) if policy.always => needs.push((*service, Need::Build(name))),
            (_, true) => {}
            (Some(_), false) if policy.never => bail!(
                "service \"{}\" has no image {name}: build it (`berth compose build`) or drop --no-build",
                service.name
            ),
            (Some(_), false) => needs.push((*service, Need::Build(name))),
            (None, false) => needs.push((*service, Need::Pull(name))),
        }
    }
    Ok(needs)
}

/// Builds or pulls the images (in the namespace).
pub(super) fn make_images(
    session: &Session<'_>,
    store: &Store,
    needs: &[(&Service, Need)],
    policy: &Policy,
) -> anyhow::Result<()> {
    for (service, need) in needs {
        match need {
            Need::Build(name) => {
                let status = build_one(session, service, name, policy, false)?;
                if status != ExitStatus::SUCCESS {
                    bail!("failed to build the image of service \"{}\"", service.name);
                }
            }
            Need::Pull(name) => {
                progress(session, "Image", name, "Pulling");
                image::pull::ensure_image(
                    store,
                    name,
                    crate::registry::pull::PullPolicy::Always,
                    session.unpack_options(),
                )?;
                progress(session, "Image", name, "Pulled");
            }
        }
    }
    Ok(())
}

/// `berth build` with the service's build section.
fn build_one(
    session: &Session<'_>,
    service: &Service,
    name: &str,
    policy: &Policy,
    quiet: bool,
) -> anyhow::Result<ExitStatus> {
    let Some(build) = &service.build else {
        return Ok(ExitStatus::SUCCESS);
    };
    #[derive(Parser)]
    #[command(no_binary_name = true)]
    struct Flags {
        #[command(flatten)]
        args: BuildArgs,
    }
    let mut argv: Vec<String> = vec!["--tag".to_owned(), name.to_owned()];
    if let Some(dockerfile) = &build.dockerfile {
        let path = PathBuf::from(dockerfile);
        let path = if path.is_absolute() {
            path
        } else {
            build.context.join(path)
        };
        argv.extend(["--file".to_owned(), path.display().to_string()]);
    }
    for (key, value) in &build.args {
        argv.extend(["--build-arg".to_owned(), format!("{key}={value}")]);
    }
    if let Some(target) = &build.target {
        argv.extend(["--target".to_owned(), target.clone()]);
    }
    if policy.no_cache {
        argv.push("--no-cache".to_owned());
    }
    if quiet {
        argv.push("--quiet".to_owned());
    }
    argv.push(build.context.display().to_string());
    let args = Flags::try_parse_from(&argv)
        .map_err(|e| anyhow::anyhow!("service \"{}\": {}", service.name, e.render()))?
        .args;
    progress(session, "Service", &service.name, "Building");
    let status = image::build::run(args, session)?;
    if status == ExitStatus::SUCCESS {
        progress(session, "Service", &service.name, "Built");
    }
    Ok(status)
}

/// `compose build [SERVICE…]`: every service with a build section.
pub(super) fn build(
    steps: &Steps<'_>,
    project: &Project,
    args: &ComposeBuildArgs,
) -> anyhow::Result<ExitStatus> {
    let services: Vec<&Service> = project
        .select(&args.services, false)?
        .into_iter()
        .filter(|s| s.build.is_some())
        .collect();
    let policy = Policy {
        always: true,
        never: false,
        no_cache: args.no_cache,
    };
    let code = steps.in_namespace(None, |child| {
        for service in &services {
            let status = build_one(
                child,
                service,
                &image_name(project, service),
                &policy,
                args.quiet,
            )?;
            if status != ExitStatus::SUCCESS {
                return Ok(status.0);
            }
        }
        Ok(0)
    })?;
    Ok(ExitStatus(code))
}

/// `compose pull [SERVICE…]`: the images of services that name one (built ones are skipped).
pub(super) fn pull(
    steps: &Steps<'_>,
    project: &Project,
    services: &[String],
) -> anyhow::Result<ExitStatus> {
    let services: Vec<&Service> = project
        .select(services, false)?
        .into_iter()
        .filter(|s| s.image.is_some() && s.build.is_none())
        .collect();
    if services.is_empty() {
        return Ok(ExitStatus::SUCCESS);
    }
    let code = steps.in_namespace(None, |child| {
        let mut code = 0;
        for service in &services {
            let name = image_name(project, service);
            progress(child, "Image", &name, "Pulling");
            let args = ImagePullArgs {
                platform: None,
                quiet: true,
                tls_verify: None,
                image: name.clone(),
            };
            let status = image::pull::run(args, child)?;
            if status == ExitStatus::SUCCESS {
                progress(child, "Image", &name, "Pulled");
            } else {
                code = status.0;
            }
        }
        Ok(code)
    })?;
    Ok(ExitStatus(code))
}
