//! `image prune [-a] [-f] [--filter until=…|label=…]`, with Docker's warning, prompt and report.

use std::collections::BTreeSet;

use anyhow::bail;
use chrono::{DateTime, Utc};

use super::super::{ExitStatus, Session};
use crate::cli::ImagePruneArgs;
use crate::image::{ImageSummary, ops};
use crate::storage::Store;
use crate::util::human;

pub(crate) fn run(args: ImagePruneArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let filters = PruneFilters::parse(&args.filter)?;
    let printer = &session.cx.printer;
    if !args.force.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        printer.line(warning);
        if !printer.confirm("Are you sure you want to continue?") {
            return Ok(ExitStatus::SUCCESS);
        }
    }
    let store = session.store()?;
    let lock = store.lock()?;
    let in_use: BTreeSet<_> = store
        .list_containers()?
        .into_iter()
        .map(|c| c.image_id)
        .collect();
    let selected = |image: &ImageSummary| filters.matches(&store, image);
    let report = ops::prune(&store, &lock, args.all, &in_use, &selected)?;
    let mut out = String::new();
    if !report.events.is_empty() {
        out.push_str("Deleted Images:\n");
        out.push_str(&super::rmi::render(&report.events, "untagged", "deleted"));
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human::size(report.reclaimed)
    ));
    printer.out(&out);
    Ok(ExitStatus::SUCCESS)
}

/// Docker's prune filters: `until=` (a timestamp or a duration such as `24h`) and
/// `label=`/`label!=` (`key` or `key=value`).
#[derive(Debug, Default)]
struct PruneFilters {
    until: Option<DateTime<Utc>>,
    labels: Vec<(String, Option<String>, bool)>,
}

impl PruneFilters {
    fn parse(values: &[String]) -> anyhow::Result<Self> {
        let mut filters = Self::default();
        for value in values {
            if let Some(rest) = value.strip_prefix("label!=") {
                filters.labels.push(label(rest, false));
            } else if let Some(rest) = value.strip_prefix("label=") {
                filters.labels.push(label(rest, true));
            } else if let Some(rest) = value.strip_prefix("until=") {
                filters.until = Some(parse_until(rest)?);
            } else {
                bail!("invalid filter `{value}`: image prune accepts until=… and label=…");
            }
        }
        Ok(filters)
    }

    fn matches(&self, store: &Store, image: &ImageSummary) -> bool {
        if let Some(until) = self.until {
            if image.created.is_none_or(|created| created >= until) {
                return false;
            }
        }
        if self.labels.is_empty() {
            return true;
        }
        let details = ops::details(store, image.clone()).ok();
        let labels = details
            .as_ref()
            .and_then(|d| d.config.config.as_ref())
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        self.labels.iter().all(|(key, value, wanted)| {
            let present = match value {
                Some(value) => labels.get(key) == Some(value),
                None => labels.contains_key(key),
            };
            present == *wanted
        })
    }
}

fn label(text: &str, wanted: bool) -> (String, Option<String>, bool) {
    match text.split_once('=') {
        Some((key, value)) => (key.to_owned(), Some(value.to_owned()), wanted),
        None => (text.to_owned(), None, wanted),
    }
}

/// `until=`: RFC 3339, a date, a Unix timestamp, or a Go duration (`10m`, `24h`, `1h30m`).
fn parse_until(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    if let Ok(seconds) = text.parse::<i64>() {
        return DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| anyhow::anyhow!("invalid until `{text}`"));
    }
    let mut total = 0f64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid until `{text}`"))?;
        number.clear();
        total += value
            * match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                _ => bail!("invalid until `{text}`: use a timestamp or a duration such as 24h"),
            };
    }
    if !number.is_empty() || total == 0.0 {
        bail!("invalid until `{text}`: use a timestamp or a duration such as 24h");
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "durations are far below i64 milliseconds"
    )]
    let millis = (total * 1000.0) as i64;
    Ok(Utc::now() - chrono::Duration::milliseconds(millis))
}
