//! `container ls` / `ps`: Docker's columns, filters and formats, from the records alone.

use anyhow::bail;
use chrono::Utc;
use serde_json::{Value, json};

use super::super::{ExitStatus, Session};
use super::{command_text, existing_store, status_text};
use crate::cli::ContainerLsArgs;
use crate::output::format::{parse_format, render_list};
use crate::runtime;
use crate::storage::containers::{ContainerRecord, Status};
use crate::util::human;

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const SIZE_TABLE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}";

pub(crate) fn run(args: ContainerLsArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let format = parse_format(args.format.format.as_deref().unwrap_or(""))?;
    let filters = Filters::parse(&args.filter)?;
    let mut records: Vec<ContainerRecord> = match existing_store(session) {
        Some(store) => store
            .list_containers()?
            .into_iter()
            .map(|r| runtime::reconcile(&store, r))
            .collect(),
        None => Vec::new(),
    };
    // A build's working containers are its business (buildah hides them too).
    records.retain(|r| {
        !r.config
            .labels
            .contains_key(crate::storage::containers::BUILD_LABEL)
    });
    records.sort_by_key(|r| std::cmp::Reverse(r.created));
    let show_all = args.all
        || args.latest
        || args.last.is_some()
        || filters.status.is_some()
        || filters.exited.is_some();
    records.retain(|r| {
        show_all
            || matches!(
                r.state.status,
                Status::Running | Status::Paused | Status::Restarting
            )
    });
    records.retain(|r| filters.matches(r));
    if args.latest {
        records.truncate(1);
    }
    if let Some(n) = args.last {
        records.truncate(n);
    }
    let now = Utc::now();
    let store = existing_store(session);
    let rows: Vec<Value> = records
        .iter()
        .map(|r| {
            let size = if args.size {
                let bytes = store.as_ref().map_or(0, |s| crate::util::fs::tree_size(&s.container_dir(&r.id).join("upper")));
                human::size(bytes)
            } else {
                String::new()
            };
            json!({
                "ID": if args.no_trunc { r.id.clone() } else { r.id[..12].to_owned() },
                "Image": r.image,
                "Command": command_text(r, args.no_trunc),
                "CreatedAt": r.created.format("%Y-%m-%d %H:%M:%S %z UTC").to_string(),
                "RunningFor": human::ago(r.created, now),
                "Status": status_text(r, now),
                "State": r.state.status.as_str(),
                "Ports": store.as_ref().map_or_else(String::new, |s| runtime::network::ports::summary(&runtime::published_ports(s, r))),
                "Names": r.name,
                "Labels": r.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Mounts": r.host_config.mounts.iter().map(|m| m.source.clone()).collect::<Vec<_>>().join(","),
                "Networks": r.host_config.network_mode,
                "Size": size,
            })
        })
        .collect();
    if args.quiet {
        let ids: String = rows
            .iter()
            .map(|r| format!("{}\n", r["ID"].as_str().unwrap_or_default()))
            .collect();
        session.cx.printer.out(&ids);
        return Ok(ExitStatus::SUCCESS);
    }
    let default = if args.size { SIZE_TABLE } else { DEFAULT_TABLE };
    let header = crate::output::format::headers(&[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("State", "STATE"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
        ("Size", "SIZE"),
    ]);
    session
        .cx
        .printer
        .out(&render_list(&format, default, &rows, &header)?);
    Ok(ExitStatus::SUCCESS)
}

/// `--filter` values for containers.
#[derive(Debug, Default)]
struct Filters {
    status: Option<Vec<String>>,
    names: Vec<String>,
    ids: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    ancestors: Vec<String>,
    exited: Option<Vec<i32>>,
    health: Option<Vec<String>>,
}

impl Filters {
    fn parse(values: &[String]) -> anyhow::Result<Self> {
        let mut filters = Self::default();
        for value in values {
            let Some((key, arg)) = value.split_once('=') else {
                bail!("bad format of filter (expected name=value): `{value}`");
            };
            match key {
                "status" => {
                    const STATES: [&str; 7] = [
                        "created",
                        "restarting",
                        "running",
                        "removing",
                        "paused",
                        "exited",
                        "dead",
                    ];
                    if !STATES.contains(&arg) {
                        bail!(
                            "invalid filter 'status={arg}': use one of {}",
                            STATES.join(", ")
                        );
                    }
                    filters
                        .status
                        .get_or_insert_with(Vec::new)
                        .push(arg.to_owned());
                }
                "name" => filters.names.push(arg.to_owned()),
                "id" => filters.ids.push(arg.to_owned()),
                "ancestor" => filters.ancestors.push(arg.to_owned()),
                "label" => filters.labels.push(match arg.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (arg.to_owned(), None),
                }),
                "health" => {
                    const STATES: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];
                    if !STATES.contains(&arg) {
                        bail!(
                            "invalid filter 'health={arg}': use one of {}",
                            STATES.join(", ")
                        );
                    }
                    filters
                        .health
                        .get_or_insert_with(Vec::new)
                        .push(arg.to_owned());
                }
                "exited" => filters.exited.get_or_insert_with(Vec::new).push(
                    arg.parse()
                        .map_err(|_| anyhow::anyhow!("invalid filter 'exited={arg}'"))?,
                ),
                _ => bail!("invalid filter '{key}'"),
            }
        }
        Ok(filters)
    }

    fn matches(&self, record: &ContainerRecord) -> bool {
        if let Some(states) = &self.status {
            if !states.iter().any(|s| s == record.state.status.as_str()) {
                return false;
            }
        }
        if let Some(states) = &self.health {
            let state = record
                .state
                .health
                .as_ref()
                .map_or("none", |health| health.status.as_str());
            if !states.iter().any(|s| s == state) {
                return false;
            }
        }
        if let Some(codes) = &self.exited {
            if record.state.status != Status::Exited
                || !codes.contains(&record.state.exit_code.unwrap_or(0))
            {
                return false;
            }
        }
        // Docker matches names and IDs as substrings / prefixes.
        if !self.names.is_empty()
            && !self
                .names
                .iter()
                .any(|n| record.name.contains(n.trim_start_matches('/')))
        {
            return false;
        }
        if !self.ids.is_empty() && !self.ids.iter().any(|i| record.id.starts_with(i.as_str())) {
            return false;
        }
        if !self.ancestors.is_empty() {
            let matches_ancestor = self.ancestors.iter().any(|a| {
                record.image == *a
                    || record
                        .image_id
                        .hex()
                        .starts_with(a.trim_start_matches("sha256:"))
                    || crate::oci::Reference::parse(a).is_ok_and(|reference| {
                        crate::oci::Reference::parse(&record.image)
                            .is_ok_and(|image| image == reference)
                    })
            });
            if !matches_ancestor {
                return false;
            }
        }
        self.labels.iter().all(
            |(key, value)| match (record.config.labels.get(key), value) {
                (Some(actual), Some(wanted)) => actual == wanted,
                (Some(_), None) => true,
                (None, _) => false,
            },
        )
    }
}
