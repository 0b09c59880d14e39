//! `image history`.

use chrono::Utc;
use serde_json::{Value, json};

use super::super::{ExitStatus, Session};
use crate::cli::ImageHistoryArgs;
use crate::image::{self, ImageError, ops};
use crate::output::format::{parse_format, render_list};
use crate::storage::Store;
use crate::util::human;

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

pub(crate) fn run(args: ImageHistoryArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let format = parse_format(args.format.format.as_deref().unwrap_or(""))?;
    let store = Store::open_existing(&session.cx.root)
        .ok_or_else(|| ImageError::NotFound(args.image.clone()))?;
    let details = ops::details(
        &store,
        image::resolve(&store, &super::pull::local_name(&store, &args.image)?)?.image,
    )?;
    let now = Utc::now();
    let rows: Vec<Value> = ops::history(&store, &details)
        .into_iter()
        .map(|row| {
            let id = match &row.id {
                Some(id) if args.no_trunc => id.to_string(),
                Some(id) => id.short().to_owned(),
                None => "<missing>".to_owned(),
            };
            let created_by = if args.no_trunc {
                row.created_by.clone()
            } else {
                ellipsis(&row.created_by, 45)
            };
            let (created, size) = if args.human {
                (
                    row.created
                        .map_or_else(|| "N/A".to_owned(), |t| human::ago(t, now)),
                    human::size(row.size),
                )
            } else {
                (
                    row.created.map_or_else(String::new, |t| t.to_rfc3339()),
                    row.size.to_string(),
                )
            };
            json!({
                "ID": id,
                "CreatedSince": created,
                "CreatedAt": row.created.map(|t| t.to_rfc3339()).unwrap_or_default(),
                "CreatedBy": created_by,
                "Size": size,
                "Comment": row.comment,
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
    let header = crate::output::format::headers(&[
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ]);
    session
        .cx
        .printer
        .out(&render_list(&format, DEFAULT_TABLE, &rows, &header)?);
    Ok(ExitStatus::SUCCESS)
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
fn ellipsis(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}
