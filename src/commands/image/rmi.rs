//! `image rm` / `rmi`: each argument on its own, as Docker does; any failure makes exit 1.

use super::super::{ExitStatus, Session};
use crate::cli::ImageRmArgs;
use crate::image::ImageError;
use crate::image::ops::{self, ContainerUse, RemoveEvent, RemoveOptions};

pub(crate) fn run(args: ImageRmArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let lock = store.lock()?;
    let options = RemoveOptions { force: args.force };
    let containers = store.list_containers()?;
    let used_by = |image: &crate::oci::Digest| {
        let users: Vec<_> = containers.iter().filter(|c| c.image_id == *image).collect();
        // Docker names a running user first.
        let user = users
            .iter()
            .find(|c| crate::runtime::is_running(c))
            .or(users.first())?;
        Some(ContainerUse {
            container: user.id[..12].to_owned(),
            running: crate::runtime::is_running(user),
        })
    };
    let mut status = ExitStatus::SUCCESS;
    for text in &args.images {
        let name = super::pull::local_name(&store, text)?;
        // Docker's refusal quotes the name as typed, not the normalized one.
        let removed =
            ops::remove(&store, &lock, &name, &options, &used_by).map_err(|error| match error {
                ImageError::ReferenceInUse {
                    container, image, ..
                } => ImageError::ReferenceInUse {
                    name: text.clone(),
                    container,
                    image,
                },
                other => other,
            });
        match removed {
            Ok(events) => session
                .cx
                .printer
                .out(&render(&events, "Untagged", "Deleted")),
            Err(error) => {
                session
                    .cx
                    .printer
                    .error(&format!("{:#}", anyhow::Error::from(error)));
                status = ExitStatus::FAILURE;
            }
        }
    }
    Ok(status)
}

/// `Untagged: x` / `Deleted: sha256:…` lines (prune writes them in lower case).
pub(super) fn render(events: &[RemoveEvent], untagged: &str, deleted: &str) -> String {
    let mut out = String::new();
    for event in events {
        match event {
            RemoveEvent::Untagged(name) => out.push_str(&format!("{untagged}: {name}\n")),
            RemoveEvent::Deleted(digest) => out.push_str(&format!("{deleted}: {digest}\n")),
        }
    }
    out
}
