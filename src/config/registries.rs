//! Which registries exist and how to reach them: registries.conf v2
//! (containers-registries.conf(5), the file podman reads) and the same keys in berth's own
//! `berth.toml`, merged into one validated [`Registries`].
//!
//! Files: `$CONTAINERS_REGISTRIES_CONF` if set, else `$XDG_CONFIG_HOME/containers/registries.conf`
//! if it exists, else `/etc/containers/registries.conf` (podman's order: a user file replaces
//! the system one); then `$XDG_CONFIG_HOME/berth/berth.toml`, which wins: its `[[registry]]`
//! entries replace those with the same prefix, and its `unqualified-search-registries`, when
//! set, replaces the list.
//!
//! Keys we do not use (`short-name-mode`, `[aliases]`, `credential-helpers`, …) are accepted
//! and ignored, so podman users keep their files.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
use super::paths;

type Result<T> = std::result::Result<T, ConfigError>;

/// The `[[registry]]`/`unqualified-search-registries` part of a file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegistriesFile {
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    registry: Vec<RegistryTable>,
}

/// One `[[registry]]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegistryTable {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<MirrorTable>,
}

/// One `[[registry.mirror]]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MirrorTable {
    #[serde(default)]
    location: String,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

/// Every registry setting berth knows, validated.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    /// `unqualified-search-registries`: read so that podman's files parse, not searched.
    /// Short names always mean docker.io (Docker's rule, and no prompt).
    pub search: Vec<String>,
    /// The `[[registry]]` entries.
    pub entries: Vec<RegistryEntry>,
}

/// A `[[registry]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// What image names it applies to.
    pub prefix: Prefix,
    /// Where those names are really pulled from (`host[:port][/namespace…]`); `None` for a
    /// wildcard prefix, which keeps the names as they are.
    pub location: Option<String>,
    /// Plain HTTP and unverified TLS are allowed.
    pub insecure: bool,
    /// Pulls and pushes are refused.
    pub blocked: bool,
    /// Tried in order before the location, for pulls only.
    pub mirrors: Vec<Mirror>,
    /// The file that declared it, for messages.
    pub source: PathBuf,
}

/// A `[[registry]] prefix`: `host[:port][/namespace…]`, or `*.domain` for every subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefix {
    /// A name prefix, matched at `/`, `:` or `@` boundaries.
    Name(String),
    /// `*.example.com`: any host ending in `.example.com` (not `example.com` itself); holds
    /// `.example.com`.
    Subdomains(String),
}

/// A `[[registry.mirror]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// `host[:port][/namespace…]`, replacing the prefix.
    pub location: String,
    /// Plain HTTP and unverified TLS are allowed.
    pub insecure: bool,
    /// Which pulls may use it.
    pub pull_from: PullFromMirror,
}

/// `pull-from-mirror`: which references a mirror serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFromMirror {
    /// Tags and digests.
    All,
    /// Only references by digest (the content cannot differ from the source's).
    DigestOnly,
    /// Only references by tag.
    TagOnly,
}

impl Prefix {
    /// How much of `name` (`host[:port]/repository`, no tag) this prefix matches: the length
    /// of the matched part, or `None`. A wildcard matches the whole host.
    pub fn matches(&self, name: &str) -> Option<usize> {
        match self {
            Prefix::Name(prefix) => {
                let rest = name.strip_prefix(prefix.as_str())?;
                (rest.is_empty() || rest.starts_with(['/', ':', '@'])).then_some(prefix.len())
            }
            Prefix::Subdomains(suffix) => {
                let host = name.split('/').next().unwrap_or(name);
                let hostname = host.split(':').next().unwrap_or(host);
                (hostname.len() > suffix.len() && hostname.ends_with(suffix.as_str()))
                    .then_some(host.len())
            }
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prefix::Name(prefix) => f.write_str(prefix),
            Prefix::Subdomains(suffix) => write!(f, "*{suffix}"),
        }
    }
}

impl Registries {
    /// Reads the files of the module header (those that exist).
    pub fn load() -> Result<Self> {
        let containers = paths::registries_conf();
        let mut registries = match containers.as_deref().filter(|path| path.exists()) {
            Some(path) => Self::parse(&read(path)?, path)?,
            None => Self::default(),
        };
        let berth = paths::berth_toml();
        if berth.exists() {
            registries.merge(Self::parse_file(&read(&berth)?, &berth)?);
        }
        Ok(registries)
    }

    /// Parses one file's text; `path` is named in errors and kept in the entries.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        Ok(Self::parse_file(text, path)?.into_registries())
    }

    fn parse_file(text: &str, path: &Path) -> Result<Parsed> {
        let file: RegistriesFile = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let mut entries: Vec<RegistryEntry> = Vec::new();
        for table in file.registry {
            let entry = validate(table, path)?;
            if entries.iter().any(|other| other.prefix == entry.prefix) {
                return Err(invalid(
                    path,
                    format!("registry prefix `{}` is defined twice", entry.prefix),
                ));
            }
            entries.push(entry);
        }
        let search = file
            .unqualified_search_registries
            .map(|list| list.into_iter().map(|r| r.trim().to_owned()).collect());
        Ok(Parsed { search, entries })
    }

    /// Lays `other` (berth.toml) over `self`.
    fn merge(&mut self, other: Parsed) {
        if let Some(search) = other.search {
            self.search = search;
        }
        for entry in other.entries {
            self.entries.retain(|old| old.prefix != entry.prefix);
            self.entries.push(entry);
        }
    }

    /// The entry for `name` (`host[:port]/repository`): the longest matching prefix; at equal
    /// length a name prefix beats a wildcard.
    pub fn find(&self, name: &str) -> Option<(&RegistryEntry, usize)> {
        self.entries
            .iter()
            .filter_map(|entry| entry.prefix.matches(name).map(|len| (entry, len)))
            .max_by_key(|(entry, len)| (*len, matches!(entry.prefix, Prefix::Name(_))))
    }
}

/// A parsed file, before merging (whether the search list was set matters there).
struct Parsed {
    search: Option<Vec<String>>,
    entries: Vec<RegistryEntry>,
}

impl Parsed {
    fn into_registries(self) -> Registries {
        Registries {
            search: self.search.unwrap_or_default(),
            entries: self.entries,
        }
    }
}

fn read(path: &Path) -> Result<String> {
    fs_err::read_to_string(path).map_err(ConfigError::Read)
}

fn invalid(path: &Path, reason: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        reason,
    }
}

/// A location as podman accepts it: no scheme, no trailing slash.
fn clean_location(text: &str, what: &str, path: &Path) -> Result<String> {
    let text = text.trim().trim_end_matches('/');
    if text.contains("://") {
        return Err(invalid(
            path,
            format!("{what} `{text}` has a URL scheme: write `host[:port][/namespace]`"),
        ));
    }
    Ok(text.to_owned())
}

fn validate(table: RegistryTable, path: &Path) -> Result<RegistryEntry> {
    let location = clean_location(&table.location, "location", path)?;
    let prefix_text = clean_location(&table.prefix, "prefix", path)?;
    let prefix = match (prefix_text.as_str(), location.as_str()) {
        ("", "") => {
            return Err(invalid(
                path,
                "a [[registry]] needs a prefix or a location".to_owned(),
            ));
        }
        ("", location) => Prefix::Name(location.to_owned()),
        (wildcard, _) if wildcard.starts_with("*.") => {
            let suffix = &wildcard[1..];
            if suffix.contains(['/', ':', '*']) {
                return Err(invalid(
                    path,
                    format!("wildcard prefix `{wildcard}` must be a bare `*.domain`"),
                ));
            }
            Prefix::Subdomains(suffix.to_owned())
        }
        (prefix, _) if prefix.contains('*') => {
            return Err(invalid(
                path,
                format!("prefix `{prefix}`: a wildcard is allowed only as a leading `*.`"),
            ));
        }
        (prefix, _) => Prefix::Name(prefix.to_owned()),
    };
    let location = match (&prefix, location) {
        (Prefix::Subdomains(_), location) if !location.is_empty() => {
            return Err(invalid(
                path,
                format!("wildcard prefix `{prefix}` cannot have a location (`{location}`)"),
            ));
        }
        (Prefix::Subdomains(_), _) => None,
        (Prefix::Name(name), location) if location.is_empty() => Some(name.clone()),
        (_, location) => Some(location),
    };
    let mut mirrors = Vec::new();
    for mirror in table.mirror {
        let location = clean_location(&mirror.location, "mirror location", path)?;
        if location.is_empty() {
            return Err(invalid(
                path,
                format!("a mirror of `{prefix}` has no location"),
            ));
        }
        let pull_from = match mirror.pull_from_mirror.as_deref() {
            None | Some("") if table.mirror_by_digest_only => PullFromMirror::DigestOnly,
            None | Some("" | "all") => PullFromMirror::All,
            Some("digest-only") => PullFromMirror::DigestOnly,
            Some("tag-only") => PullFromMirror::TagOnly,
            Some(other) => {
                return Err(invalid(
                    path,
                    format!(
                        "pull-from-mirror `{other}` of mirror `{location}`: expected all, digest-only or tag-only"
                    ),
                ));
            }
        };
        mirrors.push(Mirror {
            location,
            insecure: mirror.insecure,
            pull_from,
        });
    }
    Ok(RegistryEntry {
        prefix,
        location,
        insecure: table.insecure,
        blocked: table.blocked,
        mirrors,
        source: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Registries {
        Registries::parse(text, Path::new("/test/registries.conf")).unwrap()
    }

    fn error(text: &str) -> String {
        Registries::parse(text, Path::new("/test/registries.conf"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parses_podman_files() {
        let registries = parse(
            r#"
unqualified-search-registries = ["docker.io", "quay.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"

[[registry.mirror]]
location = "127.0.0.1:5000/hub/"
insecure = true

[[registry.mirror]]
location = "mirror.example.com"
pull-from-mirror = "digest-only"

[[registry]]
location = "internal.example.com:5000"
insecure = true

[[registry]]
prefix = "*.blocked.example"
blocked = true

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#,
        );
        assert_eq!(registries.search, ["docker.io", "quay.io"]);
        let hub = &registries.entries[0];
        assert_eq!(hub.prefix, Prefix::Name("docker.io".to_owned()));
        assert_eq!(hub.location.as_deref(), Some("registry-1.docker.io"));
        assert_eq!(
            hub.mirrors,
            [
                Mirror {
                    location: "127.0.0.1:5000/hub".to_owned(),
                    insecure: true,
                    pull_from: PullFromMirror::All,
                },
                Mirror {
                    location: "mirror.example.com".to_owned(),
                    insecure: false,
                    pull_from: PullFromMirror::DigestOnly,
                },
            ]
        );
        assert_eq!(hub.source, Path::new("/test/registries.conf"));
        let internal = &registries.entries[1];
        assert_eq!(
            internal.prefix,
            Prefix::Name("internal.example.com:5000".to_owned())
        );
        assert!(internal.insecure && !internal.blocked);
        let blocked = &registries.entries[2];
        assert_eq!(
            blocked.prefix,
            Prefix::Subdomains(".blocked.example".to_owned())
        );
        assert_eq!(blocked.location, None);
        assert!(blocked.blocked);
        assert!(parse("").entries.is_empty());
    }

    #[test]
    fn mirror_by_digest_only_is_the_mirrors_default() {
        let registries = parse(
            "[[registry]]\nlocation = \"a.example\"\nmirror-by-digest-only = true\n\
             [[registry.mirror]]\nlocation = \"m.example\"\n\
             [[registry.mirror]]\nlocation = \"n.example\"\npull-from-mirror = \"tag-only\"\n",
        );
        let pulls: Vec<_> = registries.entries[0]
            .mirrors
            .iter()
            .map(|m| m.pull_from)
            .collect();
        assert_eq!(pulls, [PullFromMirror::DigestOnly, PullFromMirror::TagOnly]);
    }

    #[test]
    fn bad_files_name_the_file_and_the_problem() {
        assert!(error("[[registry]\n").contains("/test/registries.conf"));
        assert!(error("[[registry]]\ninsecure = true\n").contains("needs a prefix or a location"));
        assert!(
            error("[[registry]]\nprefix = \"*.example.com\"\nlocation = \"x.example\"\n")
                .contains("cannot have a location")
        );
        assert!(error("[[registry]]\nprefix = \"a.*.example\"\n").contains("leading `*.`"));
        assert!(error("[[registry]]\nlocation = \"https://x.example\"\n").contains("URL scheme"));
        assert!(
            error("[[registry]]\nlocation = \"x.example\"\n[[registry]]\nprefix = \"x.example\"\n")
                .contains("defined twice")
        );
        assert!(
            error("[[registry]]\nlocation = \"x\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"some\"\n")
                .contains("expected all, digest-only or tag-only")
        );
        assert!(
            error("unqualified-search-registries = \"docker.io\"\n").contains("registries.conf")
        );
    }

    #[test]
    fn the_longest_prefix_wins() {
        let registries = parse(
            r#"
[[registry]]
prefix = "example.com"
location = "a.example"
[[registry]]
prefix = "example.com/team"
location = "b.example"
[[registry]]
prefix = "*.example.com"
blocked = true
[[registry]]
prefix = "sub.example.com"
location = "c.example"
"#,
        );
        let location = |name: &str| {
            registries
                .find(name)
                .map(|(entry, len)| (entry.location.clone().unwrap_or_default(), len))
        };
        assert_eq!(
            location("example.com/team/app"),
            Some(("b.example".into(), 16))
        );
        assert_eq!(
            location("example.com/teams/app"),
            Some(("a.example".into(), 11))
        );
        assert_eq!(location("example.com/app"), Some(("a.example".into(), 11)));
        assert_eq!(location("example.community/app"), None);
        // A wildcard matches subdomains, not the domain, and loses a tie to a name.
        assert_eq!(
            location("deep.sub.example.com:5000/app"),
            Some((String::new(), 25))
        );
        assert_eq!(
            location("sub.example.com/app"),
            Some(("c.example".into(), 15))
        );
        assert_eq!(location("other.com/app"), None);
    }

    #[test]
    fn prefixes_match_at_boundaries() {
        let name = Prefix::Name("docker.io/library".to_owned());
        assert_eq!(name.matches("docker.io/library/busybox"), Some(17));
        assert_eq!(name.matches("docker.io/library"), Some(17));
        assert_eq!(name.matches("docker.io/libraryx/busybox"), None);
        let repository = Prefix::Name("quay.io/app".to_owned());
        assert_eq!(repository.matches("quay.io/app:1"), Some(11));
        assert_eq!(repository.matches("quay.io/app@sha256:00"), Some(11));
        let wildcard = Prefix::Subdomains(".example.com".to_owned());
        assert_eq!(wildcard.matches("a.example.com/x"), Some(13));
        assert_eq!(wildcard.matches("a.example.com:5000/x"), Some(18));
        assert_eq!(wildcard.matches("example.com/x"), None);
        assert_eq!(wildcard.matches("aexample.com/x"), None);
    }

    #[test]
    fn berth_toml_wins() {
        let mut registries = parse(
            "unqualified-search-registries = [\"quay.io\"]\n\
             [[registry]]\nprefix = \"docker.io\"\nblocked = true\n\
             [[registry]]\nlocation = \"keep.example\"\n",
        );
        let berth = Path::new("/test/berth.toml");
        registries.merge(
            Registries::parse_file(
                "[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n\
                 [[registry.mirror]]\nlocation = \"127.0.0.1:5000\"\n",
                berth,
            )
            .unwrap(),
        );
        assert_eq!(registries.search, ["quay.io"]);
        assert_eq!(registries.entries.len(), 2);
        let (hub, _) = registries.find("docker.io/library/busybox").unwrap();
        assert!(!hub.blocked);
        assert_eq!(hub.source, berth);
        assert_eq!(hub.mirrors.len(), 1);
        registries
            .merge(Registries::parse_file("unqualified-search-registries = []\n", berth).unwrap());
        assert!(registries.search.is_empty());
    }
}
