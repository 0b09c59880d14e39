//! `image inspect` and top-level `inspect`: Docker's JSON array, or `--format` per item.

use serde_json::Value;

use super::super::{ExitStatus, Session};
use crate::image::{self, ImageError, ops};
use crate::output::format::Template;
use crate::storage::Store;

/// What `inspect` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Containers, then images (Docker's order).
    Any,
    /// Images only.
    Image,
    /// Containers only.
    Container,
}

pub(crate) fn run(
    names: Vec<String>,
    format: Option<String>,
    kind: Kind,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    let template = match format.as_deref() {
        None | Some("" | "json") => None,
        Some(text) => Some(Template::parse(text)?),
    };
    let store = Store::open_existing(&session.cx.root);
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for name in &names {
        if kind != Kind::Image {
            if let Some(item) = store
                .as_ref()
                .and_then(|s| super::super::container::inspect::find(s, name))
            {
                items.push(item);
                continue;
            }
            if kind == Kind::Container {
                errors.push(format!("No such container: {name}"));
                continue;
            }
        }
        let found = match &store {
            Some(store) => image::resolve(store, &super::pull::local_name(store, name)?)
                .and_then(|resolved| ops::details(store, resolved.image))
                .map(|details| ops::inspect(store, &details)),
            None => Err(ImageError::NotFound(name.clone())),
        };
        match found {
            Ok(item) => items.push(item),
            Err(ImageError::NotFound(_)) if kind == Kind::Any => {
                errors.push(format!("No such object: {name}"))
            }
            Err(ImageError::NotFound(_)) => errors.push(format!("No such image: {name}")),
            Err(error) => errors.push(format!("{:#}", anyhow::Error::from(error))),
        }
    }
    let printer = &session.cx.printer;
    match template {
        Some(template) => {
            let mut out = String::new();
            for item in &items {
                out.push_str(&template.render(item)?);
                out.push('\n');
            }
            printer.out(&out);
        }
        None => printer.line(&pretty(&Value::Array(items))),
    }
    for error in &errors {
        printer.error(error);
    }
    Ok(if errors.is_empty() {
        ExitStatus::SUCCESS
    } else {
        ExitStatus::FAILURE
    })
}

/// JSON indented with four spaces, as Docker prints it.
pub(crate) fn pretty(value: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    let _ = serde::Serialize::serialize(value, &mut serializer);
    String::from_utf8(out).unwrap_or_default()
}
