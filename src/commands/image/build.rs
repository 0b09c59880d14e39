//! `image build` / `build PATH`: a Dockerfile build into this user's store.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context as _, bail};

use super::super::container;
use super::super::progress::{
    self,
    build::{Live, Plain},
};
use super::super::{ExitStatus, Session};
use crate::build::progress::Silent;
use crate::build::{self, BuildRequest, add, plan};
use crate::cli::{BuildArgs, BuilderPruneArgs};
use crate::oci::Reference;
use crate::output::live::Stream;

/// `--progress`, once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// `quiet` or `-q`: only the image ID, on stdout.
    Quiet,
    /// `plain`, and `auto` when stderr is no terminal.
    Plain,
    /// `tty`, and `auto` on a terminal.
    Live,
}

pub(crate) fn run(args: BuildArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let platform = plan::Platform::native();
    if let Some(wanted) = &args.platform {
        if plan::Platform::parse(wanted).is_none_or(|p| !p.matches(&platform)) {
            bail!(
                "berth builds only for the native platform ({platform}); --platform {wanted} is not supported"
            );
        }
    }
    let store = session.store()?;
    // A tar on stdin or a git repository is unpacked into a staging directory first.
    let staging;
    let context_text = args.context.to_string_lossy().into_owned();
    let context = if context_text == "-" {
        staging = add::Staging::new(&store.paths().root().join(add::STAGING_DIR))?;
        let tarball = staging.path().join("context.tar");
        let mut file = fs_err::File::create(&tarball)?;
        std::io::copy(&mut std::io::stdin().lock(), &mut file)
            .context("cannot read the build context from stdin")?;
        drop(file);
        let dir = staging.path().join("context");
        fs_err::create_dir_all(&dir)?;
        add::extract(&tarball, &dir).map_err(|e| anyhow::anyhow!(add::describe(&e)))?;
        dir
    } else if let Some(git) = add::parse_git(&context_text) {
        staging = add::Staging::new(&store.paths().root().join(add::STAGING_DIR))?;
        let commit = git
            .resolve()
            .map_err(|e| anyhow::anyhow!(add::describe(&e)))?;
        git.clone_into(&commit, &staging.path().join("context"), false)
            .map_err(|e| anyhow::anyhow!(add::describe(&e)))?
    } else {
        args.context.clone()
    };
    if !context.is_dir() {
        bail!(
            "unable to prepare context: path \"{}\" not found",
            args.context.display()
        );
    }
    let (dockerfile, text) = match args.file.as_deref() {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the Dockerfile from stdin")?;
            (context.join("Dockerfile"), text)
        }
        // With a staged context, a relative -f names a file inside it.
        Some(path) if context != args.context && path.is_relative() => {
            let path = context.join(path);
            (path.clone(), read_dockerfile(&path)?)
        }
        Some(path) => (path.to_path_buf(), read_dockerfile(path)?),
        None => {
            let path = context.join("Dockerfile");
            (path.clone(), read_dockerfile(&path)?)
        }
    };
    let tags = args
        .tags
        .iter()
        .map(|t| Reference::parse(t).with_context(|| format!("invalid tag `{t}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut build_args = BTreeMap::new();
    for arg in &args.build_args {
        match arg.split_once('=') {
            Some((key, value)) => build_args.insert(key.to_owned(), Some(value.to_owned())),
            // `--build-arg KEY` takes the value from our environment, as Docker does.
            None => build_args.insert(arg.clone(), std::env::var(arg).ok()),
        };
    }
    let mut labels = BTreeMap::new();
    for label in &args.label {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        labels.insert(key.to_owned(), value.to_owned());
    }
    let mut secrets = BTreeMap::new();
    for spec in &args.secret {
        let (id, content) = parse_secret(spec)?;
        secrets.insert(id, content);
    }
    let default_agent = std::env::var_os(crate::env::SSH_AUTH_SOCK).map(std::path::PathBuf::from);
    let ssh = args
        .ssh
        .iter()
        .map(|spec| build::ssh::SshSource::parse(spec, default_agent.as_deref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let docker_format = match args.format.as_str() {
        "oci" => false,
        "docker" => true,
        other => bail!("unrecognized image format `{other}`: use oci or docker"),
    };
    let progress = match args.progress.as_str() {
        _ if args.quiet => Progress::Quiet,
        "quiet" => Progress::Quiet,
        "plain" => Progress::Plain,
        "tty" => Progress::Live,
        "auto" if progress::is_live(Stream::Stderr) => Progress::Live,
        "auto" => Progress::Plain,
        other => bail!("invalid --progress `{other}`: use auto, plain, tty or quiet"),
    };
    let quiet = progress == Progress::Quiet;
    let request = BuildRequest {
        context,
        dockerfile,
        dockerfile_text: text,
        tags: tags.clone(),
        options: plan::BuildOptions {
            build_args,
            target: args.target.clone(),
            platform,
            labels,
        },
        no_cache: args.no_cache,
        network: args.network.clone(),
        unpack: session.unpack_options(),
        secrets,
        docker_format,
        pull: super::pull::pull_policy(args.pull),
        ssh,
        timestamp: args.timestamp.or_else(|| {
            std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|v| v.trim().parse().ok())
        }),
    };
    let runtime = container::runtime(session, store);
    let printer = &session.cx.printer;
    let report = match progress {
        Progress::Quiet => build::build(&runtime, &request, &mut Silent),
        Progress::Plain => build::build(&runtime, &request, &mut Plain { printer }),
        Progress::Live => {
            let mut view = Live::new();
            let report = build::build(&runtime, &request, &mut view);
            view.finish(report.is_ok());
            report
        }
    }?;
    for warning in &report.warnings {
        printer.warn(warning);
    }
    if let Some(path) = &args.iidfile {
        fs_err::write(path, report.image_id.to_string())?;
    }
    if quiet {
        printer.line(&report.image_id.to_string());
    } else {
        printer.info(&format!("writing image {} done", report.image_id));
        for tag in &tags {
            printer.info(&format!("naming to {tag} done"));
        }
    }
    Ok(ExitStatus::SUCCESS)
}

/// `--secret id=ID,src=PATH` (also `source=`), or `id=ID,env=VAR`; `id=ID` alone reads the
/// variable ID, as Docker does.
fn parse_secret(spec: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let mut id = None;
    let mut file = None;
    let mut variable = None;
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("id", value)) => id = Some(value.to_owned()),
            Some(("src" | "source", value)) => file = Some(value.to_owned()),
            Some(("env", value)) => variable = Some(value.to_owned()),
            Some(("type", "file" | "env")) => {}
            _ => bail!("invalid --secret `{spec}`: use id=ID,src=PATH or id=ID,env=VAR"),
        }
    }
    let id = id.ok_or_else(|| anyhow::anyhow!("invalid --secret `{spec}`: the id is missing"))?;
    let content = match (file, variable) {
        (Some(path), _) => {
            fs_err::read(&path).with_context(|| format!("cannot read secret {id}"))?
        }
        (None, variable) => {
            let name = variable.unwrap_or_else(|| id.clone());
            std::env::var(&name)
                .map_err(|_| anyhow::anyhow!("secret {id}: the variable {name} is not set"))?
                .into_bytes()
        }
    };
    Ok((id, content))
}

fn read_dockerfile(path: &std::path::Path) -> anyhow::Result<String> {
    fs_err::read_to_string(path).map_err(|_| {
        anyhow::anyhow!(
            "failed to read dockerfile: open {}: no such file or directory",
            path.display()
        )
    })
}

/// `builder prune [-a] [-f]`: drops build cache records (without `-a`, only those no image
/// uses), then the layers nothing else needs.
pub(crate) fn prune(args: BuilderPruneArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let printer = &session.cx.printer;
    if !args.force {
        let question = if args.all {
            "WARNING! This will remove all build cache. Are you sure you want to continue?"
        } else {
            "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
        };
        if !printer.confirm(question) {
            return Ok(ExitStatus::SUCCESS);
        }
    }
    let store = session.store()?;
    let lock = store.lock()?;
    let used: std::collections::BTreeSet<_> = if args.all {
        std::collections::BTreeSet::new()
    } else {
        let mut reachable = crate::storage::gc::Reachable::default();
        for entry in store.load_index()?.manifests {
            store.mark_manifest(&entry.digest, &mut reachable);
        }
        reachable.layers
    };
    let dropped =
        store.build_cache_remove(&lock, args.all, |layer| used.contains(&layer.chain_id))?;
    let report = store.collect_garbage(&lock, &[])?;
    printer.line(&format!(
        "Deleted build cache objects: {dropped}\nTotal reclaimed space: {}",
        crate::util::human::size(report.reclaimed)
    ));
    Ok(ExitStatus::SUCCESS)
}
