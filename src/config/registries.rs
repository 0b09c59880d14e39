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

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, text).unwrap();
        path
    }

    #[test]
    fn drop_ins_follow_the_main_file_in_lexical_order() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "registries.conf",
            "unqualified-search-registries = [\"quay.io\"]\n\
             [aliases]\n\"python\" = \"docker.io/library/python\"\n\"gone\" = \"quay.io/x/gone\"\n\
             [[registry]]\nprefix = \"docker.io\"\nblocked = true\n\
             [[registry]]\nlocation = \"keep.example\"\n",
        );
        let system = dir.path().join("system.d");
        let user = dir.path().join("user.d");
        // Lexical order: 10 before 20, whatever order they were written in.
        let second = write(
            &system,
            "20-second.conf",
            "unqualified-search-registries = [\"b.example:5000\", \"docker.io\"]\n\
             [aliases]\n\"gone\" = \"\"\n",
        );
        write(
            &system,
            "10-first.conf",
            "unqualified-search-registries = [\"a.example\"]\nshort-name-mode = \"enforcing\"\n\
             [[registry]]\nprefix = \"docker.io\"\nlocation = \"mirror.example/hub\"\n",
        );
        // Not `*.conf`: ignored, even when invalid.
        write(&system, "README", "not toml [");
        write(&system, "30-dir.conf/inner.conf", "not toml [");
        let user_file = write(
            &user,
            "50-user.conf",
            "[aliases]\n\"app\" = \"quay.io/team/app\"\n",
        );
        let registries = Registries::load_files(
            &main,
            &[system, user, dir.path().join("missing.d")],
            &dir.path().join("berth.toml"),
        )
        .unwrap();
        assert_eq!(registries.search, ["b.example:5000", "docker.io"]);
        assert_eq!(registries.search_source.as_deref(), Some(second.as_path()));
        assert_eq!(registries.short_name_mode, ShortNameMode::Enforcing);
        assert_eq!(
            registries.aliases.keys().collect::<Vec<_>>(),
            ["app", "python"]
        );
        assert_eq!(registries.aliases["app"].source, user_file);
        assert_eq!(registries.aliases["python"].source, main);
        // The drop-in's docker.io entry replaced the main file's; the other entry stays.
        assert_eq!(registries.entries.len(), 2);
        let (hub, _) = registries.find("docker.io/library/busybox").unwrap();
        assert!(!hub.blocked);
        assert_eq!(hub.location.as_deref(), Some("mirror.example/hub"));
        assert!(registries.find("keep.example/app").is_some());
    }

    #[test]
    fn a_missing_main_file_still_reads_the_drop_ins() {
        let dir = tempfile::tempdir().unwrap();
        let drop_ins = dir.path().join("registries.conf.d");
        write(
            &drop_ins,
            "search.conf",
            "unqualified-search-registries = [\"127.0.0.1:5000/\"]\n",
        );
        let registries = Registries::load_files(
            &dir.path().join("registries.conf"),
            &[drop_ins],
            &dir.path().join("berth.toml"),
        )
        .unwrap();
        assert_eq!(registries.search, ["127.0.0.1:5000"]);
        let none = Registries::load_files(
            &dir.path().join("none.conf"),
            &[dir.path().join("none.d")],
            &dir.path().join("none.toml"),
        )
        .unwrap();
        assert!(none.search.is_empty() && none.aliases.is_empty() && none.entries.is_empty());
    }

    #[test]
    fn a_bad_drop_in_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let drop_ins = dir.path().join("registries.conf.d");
        write(&drop_ins, "ok.conf", "");
        let bad = write(
            &drop_ins,
            "bad.conf",
            "# a comment\nunqualified-search-registries = [\"a\"\n",
        );
        let error = Registries::load_files(
            &dir.path().join("registries.conf"),
            &[drop_ins],
            &dir.path().join("berth.toml"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("invalid configuration file `{}`", bad.display())
        );
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("line 2"), "{cause}");
    }

    #[test]
    fn short_name_settings_are_checked() {
        assert!(error("short-name-mode = \"ask\"\n").contains("expected enforcing, permissive"));
        assert!(
            error("unqualified-search-registries = [\"quay.io/ns\"]\n").contains("host[:port]")
        );
        assert!(error("unqualified-search-registries = [\"\"]\n").contains("host[:port]"));
        assert!(
            error("[aliases]\n\"python:3\" = \"docker.io/library/python\"\n").contains("alias")
        );
        let registries =
            parse("short-name-mode = \"disabled\"\n[aliases]\n\"a/b\" = \" quay.io/a/b \"\n");
        assert_eq!(registries.short_name_mode, ShortNameMode::Disabled);
        assert_eq!(registries.aliases["a/b"].target, "quay.io/a/b");
        assert_eq!(parse("").short_name_mode, ShortNameMode::Permissive);
    }
}
