//! Where a reference is really fetched from: the `[[registry]]` entry with the longest
//! matching prefix rewrites the name to its location, and its mirrors come first for pulls
//! (as podman does: pushes go to the name as written, never to a mirror or a location).
//! The image keeps the name the user asked for; only the transport changes.

use super::RegistryError;
use crate::config::registries::{PullFromMirror, Registries, RegistryEntry};
use crate::oci::Reference;

/// One place to fetch from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]`.
    pub registry: String,
    /// The repository there.
    pub repository: String,
    /// Plain HTTP and unverified TLS are allowed (`insecure = true`).
    pub insecure: bool,
    /// A `[[registry.mirror]]`, not the registry itself.
    pub mirror: bool,
}

impl Endpoint {
    /// The reference's own registry, with no configuration.
    pub fn direct(registry: &str, repository: &str) -> Self {
        Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            insecure: false,
            mirror: false,
        }
    }

    /// `host[:port]/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// Where a pull goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSources {
    /// The mirrors that serve this kind of reference, tried in order.
    pub mirrors: Vec<Endpoint>,
    /// The registry itself (at its location), tried last.
    pub registry: Endpoint,
}

/// Where to pull `reference` from.
pub fn pull_sources(
    registries: &Registries,
    reference: &Reference,
) -> Result<PullSources, RegistryError> {
    let name = reference.name();
    let Some((entry, matched)) = registries.find(&name) else {
        return Ok(PullSources {
            mirrors: Vec::new(),
            registry: Endpoint::direct(reference.registry(), reference.repository()),
        });
    };
    check_blocked(entry, &name)?;
    let rest = &name[matched..];
    let by_digest = reference.digest().is_some();
    let mut mirrors = Vec::new();
    for mirror in &entry.mirrors {
        let serves = match mirror.pull_from {
            PullFromMirror::All => true,
            PullFromMirror::DigestOnly => by_digest,
            PullFromMirror::TagOnly => !by_digest,
        };
        if serves {
            mirrors.push(rewrite(
                &mirror.location,
                rest,
                mirror.insecure,
                true,
                entry,
            )?);
        }
    }
    let registry = match &entry.location {
        Some(location) => rewrite(location, rest, entry.insecure, false, entry)?,
        None => Endpoint {
            insecure: entry.insecure,
            ..Endpoint::direct(reference.registry(), reference.repository())
        },
    };
    Ok(PullSources { mirrors, registry })
}

/// Where to push `reference`: its own name, refused when blocked, insecure when configured.
pub fn push_endpoint(
    registries: &Registries,
    reference: &Reference,
) -> Result<Endpoint, RegistryError> {
    let name = reference.name();
    let mut endpoint = Endpoint::direct(reference.registry(), reference.repository());
    if let Some((entry, _)) = registries.find(&name) {
        check_blocked(entry, &name)?;
        endpoint.insecure = entry.insecure;
    }
    Ok(endpoint)
}

/// Whether `registry` (a bare `host[:port]`, for `login`) is configured insecure.
pub fn registry_insecure(registries: &Registries, registry: &str) -> bool {
    registries
        .find(registry)
        .is_some_and(|(entry, _)| entry.insecure)
}

fn check_blocked(entry: &RegistryEntry, name: &str) -> Result<(), RegistryError> {
    if entry.blocked {
        return Err(RegistryError::Blocked {
            name: name.to_owned(),
            prefix: entry.prefix.to_string(),
            file: entry.source.clone(),
        });
    }
    Ok(())
}

/// `location` + what follows the prefix, split into registry and repository.
fn rewrite(
    location: &str,
    rest: &str,
    insecure: bool,
    mirror: bool,
    entry: &RegistryEntry,
) -> Result<Endpoint, RegistryError> {
    let rewritten = format!("{location}{rest}");
    match rewritten.split_once('/') {
        Some((registry, repository)) if !repository.is_empty() && !registry.is_empty() => {
            Ok(Endpoint {
                registry: registry.to_owned(),
                repository: repository.to_owned(),
                insecure,
                mirror,
            })
        }
        _ => Err(RegistryError::BadConfig {
            file: entry.source.clone(),
            reason: format!(
                "prefix `{}` rewritten to `{location}` leaves `{rewritten}`, which names no repository",
                entry.prefix
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn registries(text: &str) -> Registries {
        Registries::parse(text, Path::new("/etc/containers/registries.conf")).unwrap()
    }

    fn names(registries: &Registries, reference: &str) -> Vec<(String, bool, bool)> {
        let sources = pull_sources(registries, &Reference::parse(reference).unwrap()).unwrap();
        sources
            .mirrors
            .into_iter()
            .chain([sources.registry])
            .map(|e| (e.name(), e.insecure, e.mirror))
            .collect()
    }

    #[test]
    fn without_configuration_the_name_is_the_endpoint() {
        let none = Registries::default();
        assert_eq!(
            names(&none, "busybox"),
            [("docker.io/library/busybox".to_owned(), false, false)]
        );
        let endpoint = push_endpoint(&none, &Reference::parse("quay.io/a/b:1").unwrap()).unwrap();
        assert_eq!(endpoint, Endpoint::direct("quay.io", "a/b"));
    }

    #[test]
    fn mirrors_come_first_then_the_location() {
        let config = registries(
            r#"
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000"
[[registry.mirror]]
location = "mirror.example:5000/hub"
insecure = true
[[registry.mirror]]
location = "digests.example"
pull-from-mirror = "digest-only"
"#,
        );
        assert_eq!(
            names(&config, "python:3.11-slim"),
            [
                ("127.0.0.1:5000/library/python".to_owned(), false, true),
                (
                    "mirror.example:5000/hub/library/python".to_owned(),
                    true,
                    true
                ),
                ("docker.io/library/python".to_owned(), false, false),
            ]
        );
        let by_digest = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(names(&config, &by_digest).len(), 4);
        // Pushes never go to a mirror.
        let endpoint =
            push_endpoint(&config, &Reference::parse("docker.io/me/app").unwrap()).unwrap();
        assert_eq!(endpoint.name(), "docker.io/me/app");
    }

    #[test]
    fn a_location_rewrites_the_prefix() {
        let config = registries(
            r#"
[[registry]]
prefix = "docker.io"
location = "127.0.0.1:5000/some/ns"
insecure = true
[[registry]]
prefix = "quay.io/team"
location = "internal.example/quay-team"
[[registry]]
prefix = "*.corp.example"
insecure = true
"#,
        );
        assert_eq!(
            names(&config, "busybox:1"),
            [(
                "127.0.0.1:5000/some/ns/library/busybox".to_owned(),
                true,
                false
            )]
        );
        assert_eq!(
            names(&config, "quay.io/team/app"),
            [("internal.example/quay-team/app".to_owned(), false, false)]
        );
        assert_eq!(
            names(&config, "quay.io/other/app"),
            [("quay.io/other/app".to_owned(), false, false)]
        );
        assert_eq!(
            names(&config, "r.corp.example:5000/app"),
            [("r.corp.example:5000/app".to_owned(), true, false)]
        );
        assert!(registry_insecure(&config, "r.corp.example:5000"));
        assert!(!registry_insecure(&config, "quay.io"));
    }

    #[test]
    fn blocked_registries_are_refused_naming_the_file() {
        let config = registries("[[registry]]\nlocation = \"quay.io\"\nblocked = true\n");
        for result in [
            pull_sources(&config, &Reference::parse("quay.io/a/b").unwrap()).map(drop),
            push_endpoint(&config, &Reference::parse("quay.io/a/b").unwrap()).map(drop),
        ] {
            let message = result.unwrap_err().to_string();
            assert!(message.contains("`quay.io/a/b`"), "{message}");
            assert!(
                message.contains("/etc/containers/registries.conf"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_rewrite_must_leave_a_repository() {
        let config = registries(
            "[[registry]]\nprefix = \"docker.io/library/busybox\"\nlocation = \"127.0.0.1:5000\"\n",
        );
        assert!(
            pull_sources(&config, &Reference::parse("busybox").unwrap())
                .unwrap_err()
                .to_string()
                .contains("names no repository")
        );
    }
}
