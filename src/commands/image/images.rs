//! `image ls` / `images`.

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::super::{ExitStatus, Session};
use crate::cli::ImageLsArgs;
use crate::image::{self, ImageSummary, resolve};
use crate::oci::Reference;
use crate::output::format::{Format, parse_format, render_list};
use crate::storage::Store;
use crate::util::human;

const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const DIGESTS_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

pub(crate) fn run(args: ImageLsArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let format = parse_format(args.format.format.as_deref().unwrap_or(""))?;
    let filters = Filters::parse(&args.filter, args.reference.as_deref())?;
    // A fresh machine has no store yet: nothing to list, and nothing to create.
    let mut filters = filters;
    let mut images = match Store::open_existing(&session.cx.root) {
        Some(store) => {
            let mut images = image::list(&store)?;
            filters = filters.resolve_bounds(&store)?;
            filters.apply(&store, &mut images);
            images
        }
        None => Vec::new(),
    };
    images.sort_by_key(|image| std::cmp::Reverse(image.created));
    let now = Utc::now();
    let rows: Vec<Value> = images
        .iter()
        .flat_map(|image| rows_of(image, &filters, args.no_trunc, now))
        .collect();
    if args.quiet {
        let mut out = String::new();
        for row in &rows {
            out.push_str(row["ID"].as_str().unwrap_or_default());
            out.push('\n');
        }
        session.cx.printer.out(&out);
        return Ok(ExitStatus::SUCCESS);
    }
    let default = if args.digests {
        DIGESTS_TABLE
    } else {
        DEFAULT_TABLE
    };
    let format = match format {
        Format::Table if args.digests => parse_format(DIGESTS_TABLE)?,
        other => other,
    };
    let text = render_list(
        &format,
        default,
        &rows,
        &crate::output::format::headers(HEADERS),
    )?;
    session.cx.printer.out(&text);
    Ok(ExitStatus::SUCCESS)
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("Size", "SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("Containers", "CONTAINERS"),
];

/// One row per name (Docker's listing), or one `<none>` row for an unnamed image.
fn rows_of(
    image: &ImageSummary,
    filters: &Filters,
    no_trunc: bool,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let id = if no_trunc {
        image.id.to_string()
    } else {
        image.id.short().to_owned()
    };
    let created_since = image
        .created
        .map_or_else(|| "N/A".to_owned(), |t| human::ago(t, now));
    let created_at = image.created.map_or_else(String::new, |t| {
        t.format("%Y-%m-%d %H:%M:%S %z UTC").to_string()
    });
    let size = human::size(image.size);
    let row = |repository: &str, tag: &str, digest: &str| {
        json!({
            "Containers": "N/A",
            "CreatedAt": created_at,
            "CreatedSince": created_since,
            "Digest": digest,
            "ID": id,
            "Repository": repository,
            "SharedSize": "N/A",
            "Size": size,
            "Tag": tag,
            "UniqueSize": "N/A",
            "VirtualSize": size,
        })
    };
    let tagged: Vec<&Reference> = image
        .names
        .iter()
        .filter(|n| n.digest().is_none())
        .collect();
    let digest_of = |name: &Reference| {
        image
            .names
            .iter()
            .find(|n| n.name() == name.name() && n.digest().is_some())
            .and_then(|n| n.digest().map(ToString::to_string))
            .unwrap_or_else(|| "<none>".to_owned())
    };
    if tagged.is_empty() {
        if let Some(name) = image.names.iter().find(|n| filters.matches_reference(n)) {
            return vec![row(&name.familiar_name(), "<none>", &digest_of(name))];
        }
        if filters.reference.is_empty() {
            return vec![row("<none>", "<none>", "<none>")];
        }
        return Vec::new();
    }
    tagged
        .into_iter()
        .filter(|name| filters.matches_reference(name))
        .map(|name| {
            row(
                &name.familiar_name(),
                name.tag().unwrap_or("<none>"),
                &digest_of(name),
            )
        })
        .collect()
}

/// `--filter` values, as Docker accepts them for images.
#[derive(Debug, Default)]
struct Filters {
    dangling: Option<bool>,
    reference: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    before: Option<String>,
    since: Option<String>,
    before_time: Option<DateTime<Utc>>,
    since_time: Option<DateTime<Utc>>,
}

impl Filters {
    fn parse(values: &[String], positional: Option<&str>) -> anyhow::Result<Self> {
        let mut filters = Self::default();
        for value in values {
            let Some((key, arg)) = value.split_once('=') else {
                bail!("bad format of filter (expected name=value): `{value}`");
            };
            match key {
                "dangling" => match arg {
                    "true" | "1" => filters.dangling = Some(true),
                    "false" | "0" => filters.dangling = Some(false),
                    _ => bail!("invalid filter 'dangling={arg}': expected true or false"),
                },
                "reference" => filters.reference.push(arg.to_owned()),
                "label" => filters.labels.push(match arg.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (arg.to_owned(), None),
                }),
                "before" => filters.before = Some(arg.to_owned()),
                "since" => filters.since = Some(arg.to_owned()),
                _ => bail!("invalid filter '{key}'"),
            }
        }
        if let Some(reference) = positional {
            filters.reference.push(reference.to_owned());
        }
        Ok(filters)
    }

    fn resolve_bounds(mut self, store: &Store) -> anyhow::Result<Self> {
        let created = |text: &str| -> anyhow::Result<Option<DateTime<Utc>>> {
            Ok(resolve(store, text)?.image.created)
        };
        if let Some(before) = self.before.clone() {
            self.before_time = created(&before)?;
        }
        if let Some(since) = self.since.clone() {
            self.since_time = created(&since)?;
        }
        Ok(self)
    }

    fn apply(&self, store: &Store, images: &mut Vec<ImageSummary>) {
        images.retain(|image| {
            let dangling = image.names.iter().all(|n| n.digest().is_some());
            if self.dangling.is_some_and(|wanted| wanted != dangling) {
                return false;
            }
            if !self.reference.is_empty() && !image.names.iter().any(|n| self.matches_reference(n))
            {
                return false;
            }
            if let Some(before) = self.before_time {
                if image.created.is_none_or(|c| c >= before) {
                    return false;
                }
            }
            if let Some(since) = self.since_time {
                if image.created.is_none_or(|c| c <= since) {
                    return false;
                }
            }
            true
        });
        if !self.labels.is_empty() {
            images.retain(|image| self.labels_match(store, image));
        }
    }

    fn labels_match(&self, store: &Store, image: &ImageSummary) -> bool {
        let details = image::ops::details(store, image.clone()).ok();
        let labels = details
            .as_ref()
            .and_then(|d| d.config.config.as_ref())
            .and_then(|c| c.labels.as_ref());
        self.labels.iter().all(
            |(key, value)| match (labels.and_then(|l| l.get(key)), value) {
                (Some(actual), Some(wanted)) => actual == wanted,
                (Some(_), None) => true,
                (None, _) => false,
            },
        )
    }

    /// Docker matches `reference=` patterns (shell globs) against the familiar name, with and
    /// without the tag.
    fn matches_reference(&self, name: &Reference) -> bool {
        self.reference.iter().all(|pattern| {
            let familiar = name.familiar_name();
            let tagged = format!("{familiar}:{}", name.tag().unwrap_or("latest"));
            if pattern.contains(':') {
                glob_match(pattern, &tagged)
            } else {
                glob_match(pattern, &familiar)
            }
        })
    }
}

/// Shell-style glob: `*` (not across `/`), `?`, literal text.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn walk(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                walk(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && walk(p, &t[1..]))
            }
            (Some(b'?'), Some(c)) if *c != b'/' => walk(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => walk(&p[1..], &t[1..]),
            _ => false,
        }
    }
    walk(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("*/app", "myuser/app"));
        assert!(!glob_match("*", "myuser/app"));
        assert!(glob_match("busybox:v?", "busybox:v1"));
    }
}
