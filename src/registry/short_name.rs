//! Short names — `busybox`, `myorg/app:1`, written without a registry — and the fully
//! qualified names they may mean (containers-registries.conf(5), "Short-Name Aliasing"):
//!
//! 1. an `[aliases]` entry for the name (its tag or digest stripped, then put back) is the only
//!    candidate;
//! 2. else, with `unqualified-search-registries` set, `REGISTRY/name` for each registry in
//!    order: a pull takes the first that has the image;
//! 3. else Docker's rule: `docker.io/library/busybox`.
//!
//! Nothing ever prompts: `short-name-mode` is accepted, and every mode behaves as podman's
//! `permissive` does without a terminal. A pulled image is named by the name it was found
//! under (`127.0.0.1:5000/busybox:latest`); a local lookup of the short name tries Docker's
//! rule first (the name berth's own `build -t`, `tag` and `load` give), then the same
//! candidates, so `run busybox` finds it again.

use super::RegistryError;
use crate::config::registries::{Alias, Registries};
use crate::oci::Reference;
use crate::oci::reference::split_short_name;

/// The names a pull of what the user wrote may use, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    /// What the user wrote.
    pub text: String,
    /// Fully qualified names, tried in order.
    pub names: Vec<Reference>,
    /// Where they came from.
    pub origin: Origin,
}

/// Where [`Candidates`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A qualified name, or a short name under Docker's rule: one name.
    Direct,
    /// An `[aliases]` entry: one name.
    Alias,
    /// `unqualified-search-registries`: one name per registry. Every one is tried.
    Search,
}

impl Candidates {
    /// Exactly `reference`.
    pub fn direct(reference: Reference) -> Self {
        Self {
            text: reference.to_string(),
            names: vec![reference],
            origin: Origin::Direct,
        }
    }
}

/// What a pull of `text` tries.
///
/// # Errors
///
/// Docker's reference errors for `text`; [`RegistryError::BadConfig`] when an alias or a
/// search registry makes no valid name with it.
pub fn resolve_pull(registries: &Registries, text: &str) -> Result<Candidates, RegistryError> {
    let reference = Reference::parse(text)?;
    let configured = configured(registries, text)?;
    Ok(match configured {
        Some((names, origin)) => Candidates {
            text: text.to_owned(),
            names,
            origin,
        },
        None => Candidates {
            text: text.to_owned(),
            ..Candidates::direct(reference)
        },
    })
}

/// The names a local lookup of `text` tries after Docker's rule: the alias, else the search
/// registries' names; none for a qualified name or without configuration.
///
/// # Errors
///
/// As [`resolve_pull`].
pub fn local_names(registries: &Registries, text: &str) -> Result<Vec<Reference>, RegistryError> {
    Reference::parse(text)?;
    Ok(configured(registries, text)?
        .map(|(names, _)| names)
        .unwrap_or_default())
}

/// Checks every alias (its name short, its target fully qualified without tag or digest).
///
/// # Errors
///
/// [`RegistryError::BadConfig`] naming the file of the first bad alias.
pub fn check_aliases(registries: &Registries) -> Result<(), RegistryError> {
    for (name, alias) in &registries.aliases {
        if split_short_name(name) != Some((name.as_str(), ""))
            || Reference::parse_repository(name).is_err()
        {
            return Err(bad_alias(
                name,
                alias,
                "the name must be a short name, without registry, tag or digest",
            ));
        }
        alias_target(name, alias, "")?;
    }
    Ok(())
}

/// The alias or search names of a short `text`; `None` when Docker's rule applies.
fn configured(
    registries: &Registries,
    text: &str,
) -> Result<Option<(Vec<Reference>, Origin)>, RegistryError> {
    let Some((name, suffix)) = split_short_name(text) else {
        return Ok(None);
    };
    if let Some(alias) = registries.aliases.get(name) {
        return Ok(Some((
            vec![alias_target(name, alias, suffix)?],
            Origin::Alias,
        )));
    }
    if registries.search.is_empty() {
        return Ok(None);
    }
    let mut names: Vec<Reference> = Vec::new();
    for registry in &registries.search {
        let qualified = format!("{registry}/{name}{suffix}");
        let reference = Reference::parse(&qualified).map_err(|error| RegistryError::BadConfig {
            file: registries.search_source.clone().unwrap_or_default(),
            reason: format!(
                "search registry `{registry}` makes `{qualified}` of `{text}`, which is not a valid name: {error}"
            ),
        })?;
        if !names.contains(&reference) {
            names.push(reference);
        }
    }
    Ok(Some((names, Origin::Search)))
}

/// `alias`'s target with `suffix` (`:tag`, `@digest`) put back.
fn alias_target(name: &str, alias: &Alias, suffix: &str) -> Result<Reference, RegistryError> {
    let target = &alias.target;
    let plain = Reference::parse_repository(target).map_err(|error| {
        bad_alias(
            name,
            alias,
            &format!("`{target}` is not a valid name: {error}"),
        )
    })?;
    if split_short_name(target).is_some() || plain.tag().is_some() || plain.digest().is_some() {
        return Err(bad_alias(
            name,
            alias,
            &format!("`{target}` must be a fully qualified name without tag or digest"),
        ));
    }
    Reference::parse(&format!("{target}{suffix}")).map_err(|error| {
        bad_alias(
            name,
            alias,
            &format!("`{target}{suffix}` is not a valid name: {error}"),
        )
    })
}

fn bad_alias(name: &str, alias: &Alias, reason: &str) -> RegistryError {
    RegistryError::BadConfig {
        file: alias.source.clone(),
        reason: format!("alias `{name}`: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn registries(text: &str) -> Registries {
        Registries::parse(text, Path::new("/etc/containers/registries.conf")).unwrap()
    }

    fn pull(registries: &Registries, text: &str) -> (Vec<String>, Origin) {
        let candidates = resolve_pull(registries, text).unwrap();
        assert_eq!(candidates.text, text);
        (
            candidates.names.iter().map(ToString::to_string).collect(),
            candidates.origin,
        )
    }

    #[test]
    fn without_configuration_short_names_mean_docker_io() {
        let none = Registries::default();
        assert_eq!(
            pull(&none, "busybox"),
            (
                vec!["docker.io/library/busybox:latest".to_owned()],
                Origin::Direct
            )
        );
        assert!(local_names(&none, "busybox").unwrap().is_empty());
        assert!(resolve_pull(&none, "Bad:Name").is_err());
    }

    #[test]
    fn search_registries_are_tried_in_order() {
        let config = registries(
            "unqualified-search-registries = [\"127.0.0.1:5000\", \"docker.io\", \"quay.io\", \"docker.io\"]\n",
        );
        assert_eq!(
            pull(&config, "busybox"),
            (
                vec![
                    "127.0.0.1:5000/busybox:latest".to_owned(),
                    "docker.io/library/busybox:latest".to_owned(),
                    "quay.io/busybox:latest".to_owned(),
                ],
                Origin::Search
            )
        );
        assert_eq!(
            pull(&config, "myorg/app:1").0,
            [
                "127.0.0.1:5000/myorg/app:1",
                "docker.io/myorg/app:1",
                "quay.io/myorg/app:1"
            ]
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            pull(&config, &format!("app@{digest}")).0[0],
            format!("127.0.0.1:5000/app@{digest}")
        );
        // Qualified names are never searched.
        for qualified in ["docker.io/busybox", "localhost:5000/app", "quay.io/a/b:1"] {
            assert_eq!(pull(&config, qualified).1, Origin::Direct, "{qualified}");
            assert!(local_names(&config, qualified).unwrap().is_empty());
        }
        assert_eq!(
            local_names(&config, "busybox").unwrap()[0].to_string(),
            "127.0.0.1:5000/busybox:latest"
        );
    }

    #[test]
    fn an_alias_comes_before_the_search() {
        let config = registries(
            "unqualified-search-registries = [\"127.0.0.1:5000\"]\n\
             [aliases]\n\"python\" = \"quay.io/team/python\"\n\"org/app\" = \"localhost/app\"\n",
        );
        assert_eq!(
            pull(&config, "python:3.11"),
            (vec!["quay.io/team/python:3.11".to_owned()], Origin::Alias)
        );
        assert_eq!(pull(&config, "org/app").0, ["localhost/app:latest"]);
        assert_eq!(pull(&config, "other").0, ["127.0.0.1:5000/other:latest"]);
        assert_eq!(
            local_names(&config, "python").unwrap(),
            [Reference::parse("quay.io/team/python").unwrap()]
        );
        check_aliases(&config).unwrap();
    }

    #[test]
    fn bad_aliases_name_their_file() {
        for (alias, expected) in [
            ("\"python\" = \"python\"", "fully qualified"),
            ("\"python\" = \"quay.io/python:3\"", "without tag or digest"),
            ("\"python\" = \"quay.io/Bad Name\"", "not a valid name"),
            (
                "\"quay.io/python\" = \"quay.io/python\"",
                "must be a short name",
            ),
            ("\"Python\" = \"quay.io/python\"", "must be a short name"),
        ] {
            let config = registries(&format!("[aliases]\n{alias}\n"));
            let message = check_aliases(&config).unwrap_err().to_string();
            assert!(message.contains(expected), "{alias}: {message}");
            assert!(
                message.contains("/etc/containers/registries.conf"),
                "{message}"
            );
        }
    }
}
