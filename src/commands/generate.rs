//! `generate systemd` (units for a container, or a pod and its containers) and
//! `systemd-generator` (units from Quadlet files, run by systemd at boot and reload).

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::{ExitStatus, Session, container, pod};
use crate::cli::{Cli, GenerateSystemdArgs, SystemdGeneratorArgs};
use crate::storage::Store;
use crate::storage::containers::ContainerRecord;
use crate::systemd::Unit;
use crate::systemd::generate::{self, ContainerInput, PodInput, UnitOptions};

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
                create_flags: pod_create_flags(store, &pod),
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
fn pod_create_flags(_store: &Store, pod: &crate::storage::pods::PodRecord) -> Vec<String> {
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

pub(crate) fn generator(
    args: SystemdGeneratorArgs,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    let _ = (args, session);
    anyhow::bail!("not yet")
}
