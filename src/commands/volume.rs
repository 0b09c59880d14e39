//! The volume commands: create, ls, inspect, rm, prune.

use std::collections::BTreeMap;

use anyhow::bail;
use serde_json::{Value, json};

use super::{ExitStatus, Session};
use crate::cli::{
    VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::output::format::{Template, parse_format, render_list};
use crate::storage::Store;
use crate::storage::volumes::VolumeRecord;
use crate::util;

/// `volume create [NAME]`: prints the name.
pub(crate) fn create(args: VolumeCreateArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    if args.driver != "local" {
        bail!(
            "volume driver `{}` is not available: only `local`",
            args.driver
        );
    }
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| util::ids::random_hex(32));
    let valid = name.len() > 1
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid {
        bail!(
            "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
        );
    }
    let labels: BTreeMap<String, String> = args
        .label
        .iter()
        .map(|l| {
            l.split_once('=')
                .map_or((l.clone(), String::new()), |(k, v)| {
                    (k.to_owned(), v.to_owned())
                })
        })
        .collect();
    let store = session.store()?;
    let lock = store.lock()?;
    store.ensure_volume(&lock, &name, &labels, false)?;
    session.cx.printer.line(&name);
    Ok(ExitStatus::SUCCESS)
}

/// Containers using each volume.
fn users(store: &Store) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in store.list_containers()? {
        for mount in record
            .host_config
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
        {
            users
                .entry(mount.source.clone())
                .or_default()
                .push(record.id.clone());
        }
    }
    Ok(users)
}

fn inspect_json(store: &Store, volume: &VolumeRecord) -> Value {
    json!({
        "CreatedAt": volume.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "Driver": "local",
        "Labels": volume.labels,
        "Mountpoint": store.volume_data(&volume.name).display().to_string(),
        "Name": volume.name,
        "Options": null,
        "Scope": "local",
    })
}

/// `volume ls`.
pub(crate) fn ls(args: VolumeLsArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let format = parse_format(args.format.format.as_deref().unwrap_or(""))?;
    let Some(store) = Store::open_existing(&session.cx.root) else {
        session.cx.printer.out(&render_list(
            &format,
            "table {{.Driver}}\t{{.Name}}",
            &[],
            &header,
        )?);
        return Ok(ExitStatus::SUCCESS);
    };
    let users = users(&store)?;
    let mut volumes = store.list_volumes()?;
    for filter in &args.filter {
        let (key, value) = filter.split_once('=').unwrap_or((filter, ""));
        match key {
            "dangling" => {
                let dangling = matches!(value, "true" | "1");
                volumes.retain(|v| users.contains_key(&v.name) != dangling);
            }
            "name" => volumes.retain(|v| v.name.contains(value)),
            "label" => volumes.retain(|v| match value.split_once('=') {
                Some((k, want)) => v.labels.get(k).is_some_and(|got| got == want),
                None => v.labels.contains_key(value),
            }),
            _ => bail!("invalid filter '{key}'"),
        }
    }
    if args.quiet {
        session.cx.printer.out(
            &volumes
                .iter()
                .map(|v| format!("{}\n", v.name))
                .collect::<String>(),
        );
        return Ok(ExitStatus::SUCCESS);
    }
    let rows: Vec<Value> = volumes
        .iter()
        .map(|v| {
            json!({
                "Driver": "local",
                "Name": v.name,
                "Mountpoint": store.volume_data(&v.name).display().to_string(),
                "Scope": "local",
                "Labels": v.labels.iter().map(|(k, val)| format!("{k}={val}")).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    session.cx.printer.out(&render_list(
        &format,
        "table {{.Driver}}\t{{.Name}}",
        &rows,
        &header,
    )?);
    Ok(ExitStatus::SUCCESS)
}

fn header(field: &str) -> Option<String> {
    Some(
        match field {
            "Driver" => "DRIVER",
            "Name" => "VOLUME NAME",
            "Mountpoint" => "MOUNTPOINT",
            "Scope" => "SCOPE",
            "Labels" => "LABELS",
            _ => return None,
        }
        .to_owned(),
    )
}

/// `volume inspect`.
pub(crate) fn inspect(
    args: VolumeInspectArgs,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    let store = Store::open_existing(&session.cx.root);
    let mut items = Vec::new();
    let mut status = ExitStatus::SUCCESS;
    for name in &args.names {
        match store
            .as_ref()
            .and_then(|s| s.load_volume(name).ok().map(|v| inspect_json(s, &v)))
        {
            Some(item) => items.push(item),
            None => {
                session
                    .cx
                    .printer
                    .error(&format!("get {name}: no such volume"));
                status = ExitStatus::FAILURE;
            }
        }
    }
    match args.format.as_deref() {
        None | Some("" | "json") => session
            .cx
            .printer
            .line(&super::image::inspect::pretty(&Value::Array(items))),
        Some(text) => {
            let template = Template::parse(text)?;
            for item in &items {
                session.cx.printer.line(&template.render(item)?);
            }
        }
    }
    Ok(status)
}

/// `volume rm`: refuses volumes in use (`-f` does not change that, as in Docker).
pub(crate) fn rm(args: VolumeRmArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let users = users(&store)?;
    let lock = store.lock()?;
    let mut status = ExitStatus::SUCCESS;
    for name in &args.names {
        if let Some(containers) = users.get(name) {
            session.cx.printer.error(&format!(
                "remove {name}: volume is in use - [{}]",
                containers.join(", ")
            ));
            status = ExitStatus::FAILURE;
            continue;
        }
        if store.load_volume(name).is_err() {
            if !args.force {
                session
                    .cx
                    .printer
                    .error(&format!("get {name}: no such volume"));
                status = ExitStatus::FAILURE;
            }
            continue;
        }
        store.remove_volume(&lock, name)?;
        session.cx.printer.line(name);
    }
    Ok(status)
}

/// `volume prune [-a] [-f]`: unused anonymous volumes, or with `-a` every unused one.
pub(crate) fn prune(args: VolumePruneArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let printer = &session.cx.printer;
    if !args.force.force {
        printer.line(if args.all {
            "WARNING! This will remove all local volumes not used by at least one container."
        } else {
            "WARNING! This will remove anonymous local volumes not used by at least one container."
        });
        if !printer.confirm("Are you sure you want to continue?") {
            return Ok(ExitStatus::SUCCESS);
        }
    }
    let store = session.store()?;
    let users = users(&store)?;
    let lock = store.lock()?;
    let mut removed = Vec::new();
    let mut reclaimed = 0;
    for volume in store.list_volumes()? {
        if users.contains_key(&volume.name) || !(args.all || volume.anonymous) {
            continue;
        }
        reclaimed += util::fs::tree_size(&store.volume_data(&volume.name));
        store.remove_volume(&lock, &volume.name)?;
        removed.push(volume.name);
    }
    let mut out = String::new();
    if !removed.is_empty() {
        out.push_str("Deleted Volumes:\n");
        for name in &removed {
            out.push_str(name);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        util::human::size(reclaimed)
    ));
    printer.out(&out);
    Ok(ExitStatus::SUCCESS)
}
