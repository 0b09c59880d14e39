//! `system df`: what the store takes on disk.

use serde_json::{Value, json};

use super::super::{ExitStatus, Session};
use crate::cli::SystemDfArgs;
use crate::image;
use crate::output::format::{parse_format, render_list};
use crate::storage::Store;
use crate::util::human;

const DEFAULT_TABLE: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

pub(crate) fn run(args: SystemDfArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let format = parse_format(args.format.format.as_deref().unwrap_or(""))?;
    let usage = match Store::open_existing(&session.cx.root) {
        Some(store) => store_usage(&store)?,
        None => Usage::default(),
    };
    let row = |kind: &str, total: usize, active: usize, size: u64, reclaimable: u64| {
        let percent = (reclaimable * 100).checked_div(size).unwrap_or(0);
        let reclaim = if kind == "Build Cache" {
            human::size(reclaimable)
        } else {
            format!("{} ({percent}%)", human::size(reclaimable))
        };
        json!({
            "Type": kind,
            "TotalCount": total.to_string(),
            "Active": active.to_string(),
            "Size": human::size(size),
            "Reclaimable": reclaim,
        })
    };
    let rows: Vec<Value> = vec![
        row(
            "Images",
            usage.images,
            0,
            usage.image_bytes,
            usage.image_bytes,
        ),
        row(
            "Containers",
            usage.containers,
            0,
            usage.container_bytes,
            usage.container_bytes,
        ),
        row(
            "Local Volumes",
            usage.volumes,
            0,
            usage.volume_bytes,
            usage.volume_bytes,
        ),
        row(
            "Build Cache",
            usage.cache_records,
            0,
            usage.cache_bytes,
            usage.cache_bytes,
        ),
    ];
    let header = crate::output::format::headers(&[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ]);
    session
        .cx
        .printer
        .out(&render_list(&format, DEFAULT_TABLE, &rows, &header)?);
    if args.verbose {
        let mut out = String::from("\nImages space usage:\n\n");
        let mut table =
            crate::output::table::Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "SIZE"]);
        if let Some(store) = Store::open_existing(&session.cx.root) {
            for image in image::list(&store)? {
                let names: Vec<_> = image
                    .names
                    .iter()
                    .filter(|n| n.digest().is_none())
                    .collect();
                if names.is_empty() {
                    table.push(vec![
                        "<none>".into(),
                        "<none>".into(),
                        image.id.short().into(),
                        human::size(image.size),
                    ]);
                }
                for name in names {
                    table.push(vec![
                        name.familiar_name(),
                        name.tag().unwrap_or("<none>").to_owned(),
                        image.id.short().to_owned(),
                        human::size(image.size),
                    ]);
                }
            }
        }
        out.push_str(&table.render());
        session.cx.printer.out(&out);
    }
    Ok(ExitStatus::SUCCESS)
}

#[derive(Debug, Default)]
struct Usage {
    images: usize,
    image_bytes: u64,
    containers: usize,
    container_bytes: u64,
    volumes: usize,
    volume_bytes: u64,
    cache_records: usize,
    cache_bytes: u64,
}

fn store_usage(store: &Store) -> anyhow::Result<Usage> {
    let images = image::list(store)?;
    // Shared layers count once: sum the unpacked layers, not the images.
    let image_bytes = store
        .list_layers()?
        .iter()
        .filter_map(|chain| store.load_layer_meta(chain).ok())
        .map(|meta| meta.size)
        .sum();
    let count = |dir: std::path::PathBuf| fs_err::read_dir(dir).map(|e| e.count()).unwrap_or(0);
    let cache = store.build_cache_records();
    Ok(Usage {
        images: images.len(),
        image_bytes,
        containers: count(store.paths().containers()),
        container_bytes: crate::util::fs::tree_size(&store.paths().containers()),
        volumes: count(store.paths().volumes()),
        volume_bytes: crate::util::fs::tree_size(&store.paths().volumes()),
        cache_records: cache.len(),
        cache_bytes: cache
            .iter()
            .filter_map(|(_, layer)| store.load_layer_meta(&layer.chain_id).ok())
            .map(|meta| meta.size)
            .sum(),
    })
}
