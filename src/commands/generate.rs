//! `generate systemd` (units for a container, or a pod and its containers) and
//! `systemd-generator` (units from Quadlet files, run by systemd at boot and reload).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory as _;
use fs_err as fs;

use super::{ExitStatus, Session, container, pod};
use crate::cli::{Cli, GenerateSystemdArgs, SystemdGeneratorArgs};
use crate::storage::containers::ContainerRecord;
use crate::systemd::generate::{self, ContainerInput, PodInput, UnitOptions};
use crate::systemd::{Unit, quadlet};

pub(crate) fn systemd(
    args: GenerateSystemdArgs,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    let store = container::existing_store(session);
    let exe = std::env::current_exe().context("cannot find berth's own path")?;
    let mut options = UnitOptions {
        berth: vec![exe.display().to_string()],
        stop_timeout: args.time,
        restart_policy: args.restart_policy.clone(),
        restart_sec: args.restart_sec,
        new: args.new,
        requires_mounts_for: session.cx.root.display().to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    options.validate()?;
    let is_switch = run_switches();
    let container_unit =
        |record: &ContainerRecord, pod_unit: Option<String>, options: &UnitOptions| {
            let mut options = options.clone();
            // --new repeats the global flags typed with `run`; otherwise ours.
            options.berth.extend(if args.new {
                generate::global_flags(&record.create_command)
            } else {
                own_global_flags()
            });
            let input = ContainerInput {
                unit_name: format!(
                    "{}{}{}",
                    args.container_prefix,
                    args.separator,
                    reference(&args, &record.name, &record.id)
                ),
                reference: reference(&args, &record.name, &record.id).to_owned(),
                name: record.name.clone(),
                stop_timeout: record.config.stop_timeout,
                create_command: record.create_command.clone(),
                pod_unit,
            };
            Ok::<_, anyhow::Error>((
                input.unit_name.clone(),
                generate::container_unit(&input, &options, &is_switch)?,
            ))
        };
    let mut units: Vec<(String, Unit)> = Vec::new();
    let found = store
        .as_ref()
        .map(|store| container::resolve(store, &args.target));
    match found {
        Some(Ok(record)) => units.push(container_unit(&record, None, &options)?),
        _ => {
            let Some(store) = &store else {
                anyhow::bail!("{} does not refer to a container or pod", args.target);
            };
            let Ok(pod) = pod::resolve(store, &args.target) else {
                anyhow::bail!("{} does not refer to a container or pod", args.target);
            };
            let pod_unit = format!(
                "{}{}{}",
                args.pod_prefix,
                args.separator,
                reference(&args, &pod.name, &pod.id)
            );
            let members = pod::members(store, &pod)?;
            let mut member_units = Vec::new();
            for member in &members {
                member_units.push(container_unit(member, Some(pod_unit.clone()), &options)?);
            }
            options.berth.extend(own_global_flags());
            let input = PodInput {
                unit_name: pod_unit.clone(),
                reference: reference(&args, &pod.name, &pod.id).to_owned(),
                name: pod.name.clone(),
                create_flags: pod_create_flags(&pod),
                members: member_units.iter().map(|(name, _)| name.clone()).collect(),
            };
            units.push((pod_unit, generate::pod_unit(&input, &options)));
            units.extend(member_units);
        }
    }
    let printer = &session.cx.printer;
    if args.files {
        let dir = std::env::current_dir().context("cannot find the current directory")?;
        for (name, unit) in &units {
            let path = dir.join(format!("{name}.service"));
            crate::util::fs::atomic_write(&path, unit.render().as_bytes())
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            printer.line(&path.display().to_string());
        }
    } else {
        let texts: Vec<String> = units.iter().map(|(_, unit)| unit.render()).collect();
        printer.out(&texts.join("\n"));
    }
    Ok(ExitStatus::SUCCESS)
}

/// The name with `--name`, else the ID (as Podman names units and their commands).
fn reference<'a>(args: &GenerateSystemdArgs, name: &'a str, id: &'a str) -> &'a str {
    if args.name || args.new { name } else { id }
}

/// The global flags this `berth generate` was given (`--root …`), for the units to repeat.
fn own_global_flags() -> Vec<String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let end = argv.iter().position(|a| a == "generate").unwrap_or(0);
    argv[..end].to_vec()
}

/// `pod create` flags that recreate the pod's ports and labels.
fn pod_create_flags(pod: &crate::storage::pods::PodRecord) -> Vec<String> {
    let mut flags = Vec::new();
    for port in &pod.port_bindings {
        let host = match (port.host_ip.as_str(), port.host_port) {
            ("", 0) => String::new(),
            ("", host) => format!("{host}:"),
            (ip, 0) => format!("{ip}::"),
            (ip, host) => format!("{ip}:{host}:"),
        };
        flags.push("-p".to_owned());
        flags.push(format!("{host}{}/{}", port.container_port, port.protocol));
    }
    for (key, value) in &pod.labels {
        flags.push("-l".to_owned());
        flags.push(format!("{key}={value}"));
    }
    flags
}

/// Which options of `run` take no value, from the CLI definition itself.
fn run_switches() -> impl Fn(&str) -> bool {
    let command = Cli::command();
    let mut switches: Vec<String> = Vec::new();
    if let Some(run) = command.find_subcommand("run") {
        for arg in run.get_arguments() {
            if arg.get_action().takes_values() {
                continue;
            }
            if let Some(long) = arg.get_long() {
                switches.push(format!("--{long}"));
            }
            if let Some(short) = arg.get_short() {
                switches.push(format!("-{short}"));
            }
        }
    }
    move |flag: &str| switches.iter().any(|s| s == flag)
}

/// `systemd-generator`: reads the Quadlet files and writes their units into systemd's
/// output directory. A file that cannot be used is reported (`FILE:LINE: …`) and skipped;
/// the others are still written, and the exit status says that something failed.
pub(crate) fn generator(
    args: SystemdGeneratorArgs,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    let printer = &session.cx.printer;
    let source = args.source.clone().unwrap_or_else(|| {
        if args.user || !nix::unistd::geteuid().is_root() {
            crate::config::paths::config_home().join("containers/systemd")
        } else {
            PathBuf::from("/etc/containers/systemd")
        }
    });
    let output = &args.output[0];
    let Ok(listing) = fs::read_dir(&source) else {
        // No Quadlet files: nothing to generate.
        return Ok(ExitStatus::SUCCESS);
    };
    let mut paths: Vec<PathBuf> = listing
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            path.is_file()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| quadlet::Kind::of(n).is_some())
        })
        .collect();
    paths.sort();
    let mut failed = false;
    let mut parsed = Vec::new();
    for path in &paths {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let outcome = fs::read_to_string(path)
            .map_err(anyhow::Error::from)
            .and_then(|text| Ok(quadlet::parse(&file_name, &text)?));
        match outcome {
            Ok(file) => parsed.push((path, file)),
            Err(error) => {
                printer.error(&format!("{error:#}"));
                failed = true;
            }
        }
    }
    let names = parsed
        .iter()
        .filter(|(_, file)| matches!(file.kind, quadlet::Kind::Pod | quadlet::Kind::Volume))
        .map(|(_, file)| (file.file_name.clone(), file.object_name()))
        .collect();
    let mut cx = quadlet::RenderContext {
        berth: std::env::current_exe()
            .context("cannot find berth's own path")?
            .display()
            .to_string(),
        source_path: String::new(),
        names,
    };
    fs::create_dir_all(output)?;
    for (path, file) in &parsed {
        cx.source_path = path.display().to_string();
        let written = quadlet::render(file, &cx)
            .map_err(anyhow::Error::from)
            .and_then(|unit| write_unit(output, &file.unit_name(), &unit));
        if let Err(error) = written {
            printer.error(&format!("{error:#}"));
            failed = true;
        }
    }
    Ok(if failed {
        ExitStatus::FAILURE
    } else {
        ExitStatus::SUCCESS
    })
}

/// Writes `NAME.service`, and enables it as `[Install]` asks: a generated unit cannot be
/// `systemctl enable`d, so the generator makes the `.wants/` links itself (as Quadlet does).
fn write_unit(output: &Path, name: &str, unit: &Unit) -> anyhow::Result<()> {
    let file = format!("{name}.service");
    let path = output.join(&file);
    crate::util::fs::atomic_write(&path, unit.render().as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    let install = unit
        .sections
        .iter()
        .filter(|(section, _)| section == "Install")
        .flat_map(|(_, entries)| entries);
    for (key, value) in install {
        let suffix = match key.as_str() {
            "WantedBy" => "wants",
            "RequiredBy" => "requires",
            _ => continue,
        };
        for target in value.split_whitespace() {
            let dir = output.join(format!("{target}.{suffix}"));
            fs::create_dir_all(&dir)?;
            let link = dir.join(&file);
            let _ = fs::remove_file(&link);
            fs::os::unix::fs::symlink(format!("../{file}"), &link)
                .with_context(|| format!("cannot link `{}`", link.display()))?;
        }
    }
    Ok(())
}
