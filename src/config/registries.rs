//! Which registries exist and how to reach them: registries.conf v2
//! (containers-registries.conf(5), the file podman reads), its `registries.conf.d` drop-ins
//! (containers-registries.conf.d(5)) and the same keys in berth's own `berth.toml`, merged into
//! one validated [`Registries`].
//!
//! Files, each laid over the ones before it:
//! 1. the main file: `$CONTAINERS_REGISTRIES_CONF` if set, else
//!    `$XDG_CONFIG_HOME/containers/registries.conf` if it exists, else
//!    `/etc/containers/registries.conf` (podman's order: a user file replaces the system one);
//! 2. the `*.conf` files of `registries.conf.d` in lexical order: only the user's
//!    (`$XDG_CONFIG_HOME/containers/registries.conf.d`) after the user's main file, else the
//!    system's (`/etc/containers/registries.conf.d`) and then the user's;
//! 3. `$XDG_CONFIG_HOME/berth/berth.toml`.
//!
//! Laying a file over another (podman's merge): its `[[registry]]` entries replace those with
//! the same prefix and add the others; `unqualified-search-registries` and `short-name-mode`,
//! when set, replace the earlier value; `[aliases]` entries replace those of the same name, and
//! an empty alias erases the name.
//!
//! Keys we do not use (`credential-helpers`, …) are accepted and ignored, so podman users keep
//! their files.

use std::collections::BTreeMap;
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
    short_name_mode: Option<String>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
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
    /// `unqualified-search-registries` (`host[:port]`), tried in order for a short name. Empty
    /// (unset, or set to `[]`): short names mean docker.io, Docker's rule.
    pub search: Vec<String>,
    /// The file that set `search`, for messages.
    pub search_source: Option<PathBuf>,
    /// `short-name-mode`: accepted, never prompts (see [`ShortNameMode`]).
    pub short_name_mode: ShortNameMode,
    /// `[aliases]`: short name as written (no tag) → fully qualified name (no tag).
    pub aliases: BTreeMap<String, Alias>,
    /// The `[[registry]]` entries.
    pub entries: Vec<RegistryEntry>,
}

/// An `[aliases]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The fully qualified name it stands for, as written (checked where it is used).
    pub target: String,
    /// The file that declared it, for messages.
    pub source: PathBuf,
}

/// `short-name-mode`. berth never prompts, so every mode behaves as podman's `permissive` does
/// without a terminal: an alias if there is one, else every search registry in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShortNameMode {
    /// `enforcing`: podman prompts, or fails without a terminal; berth searches.
    Enforcing,
    /// `permissive` (the default).
    #[default]
    Permissive,
    /// `disabled`: search without prompting.
    Disabled,
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
        let files = paths::registries_files();
        Self::load_files(&files.main, &files.drop_in_dirs, &paths::berth_toml())
    }

    /// Reads `main`, then the `*.conf` drop-ins of each of `drop_in_dirs`, then `berth`,
    /// skipping those that do not exist.
    pub fn load_files(main: &Path, drop_in_dirs: &[PathBuf], berth: &Path) -> Result<Self> {
        let mut files = Vec::new();
        if main.exists() {
            files.push(main.to_owned());
        }
        for dir in drop_in_dirs {
            files.extend(drop_ins(dir)?);
        }
        if berth.exists() {
            files.push(berth.to_owned());
        }
        let mut registries = Self::default();
        for file in files {
            registries.merge(Self::parse_file(&read(&file)?, &file)?);
        }
        Ok(registries)
    }

    /// Parses one file's text; `path` is named in errors and kept in the entries.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut registries = Self::default();
        registries.merge(Self::parse_file(text, path)?);
        Ok(registries)
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
        let search = match file.unqualified_search_registries {
            Some(list) => Some(
                list.iter()
                    .map(|registry| clean_search_registry(registry, path))
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        let short_name_mode = match file.short_name_mode.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("enforcing") => Some(ShortNameMode::Enforcing),
            Some("permissive") => Some(ShortNameMode::Permissive),
            Some("disabled") => Some(ShortNameMode::Disabled),
            Some(other) => {
                return Err(invalid(
                    path,
                    format!(
                        "short-name-mode `{other}`: expected enforcing, permissive or disabled"
                    ),
                ));
            }
        };
        for name in file.aliases.keys() {
            if name.trim().is_empty() || name.contains(['@', ':']) {
                return Err(invalid(
                    path,
                    format!("alias `{name}`: a short name has no registry, tag or digest"),
                ));
            }
        }
        Ok(Parsed {
            path: path.to_owned(),
            search,
            short_name_mode,
            aliases: file.aliases,
            entries,
        })
    }

    /// Lays `other` (a later file) over `self`.
    fn merge(&mut self, other: Parsed) {
        if let Some(search) = other.search {
            self.search = search;
            self.search_source = Some(other.path.clone());
        }
        if let Some(mode) = other.short_name_mode {
            self.short_name_mode = mode;
        }
        for (name, target) in other.aliases {
            let target = target.trim();
            if target.is_empty() {
                self.aliases.remove(&name);
            } else {
                self.aliases.insert(
                    name,
                    Alias {
                        target: target.to_owned(),
                        source: other.path.clone(),
                    },
                );
            }
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

/// A parsed file, before merging (whether a key was set at all matters there).
struct Parsed {
    path: PathBuf,
    search: Option<Vec<String>>,
    short_name_mode: Option<ShortNameMode>,
    /// As written: an empty target erases the alias.
    aliases: BTreeMap<String, String>,
    entries: Vec<RegistryEntry>,
}

/// The `*.conf` files of a `registries.conf.d` directory, in lexical order; none when it does
/// not exist. Other files and subdirectories are ignored, as podman does.
fn drop_ins(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(ConfigError::Read(error)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(ConfigError::Read)?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "conf")
            && path.is_file()
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// An `unqualified-search-registries` item: a bare `host[:port]`.
fn clean_search_registry(text: &str, path: &Path) -> Result<String> {
    let registry = clean_location(text, "search registry", path)?;
    if registry.is_empty() || registry.contains(['/', '@']) {
        return Err(invalid(
            path,
            format!("search registry `{text}`: write `host[:port]`"),
        ));
    }
    Ok(registry)
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
mod tests;
