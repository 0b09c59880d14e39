//! Credentials and challenges: podman's `auth.json` (also Docker's `config.json`, read only),
//! and the `WWW-Authenticate` header a registry answers 401 with.
//!
//! The files are found by the caller (`commands`, which knows the environment) and handed in as
//! [`AuthFiles`]; this module only reads and writes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fs_err as fs;

use super::RegistryError;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The `auth` value of auth.json, and the token of a Basic `Authorization` header:
    /// `base64(user:password)`.
    pub fn encode(&self) -> String {
        STANDARD.encode(format!("{}:{}", self.username, self.password))
    }

    /// Decodes an `auth` value; `None` when it is not base64 of `user:password`.
    pub fn decode(auth: &str) -> Option<Self> {
        let bytes = STANDARD.decode(auth.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (username, password) = text.split_once(':')?;
        Some(Self {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// Where credentials live: written to `primary`, read from it and then from `fallbacks`
/// (`$XDG_CONFIG_HOME/containers/auth.json`, `~/.docker/config.json`).
#[derive(Debug, Clone, Default)]
pub struct AuthFiles {
    /// `$XDG_RUNTIME_DIR/containers/auth.json`: podman's file, the one login writes.
    pub primary: Option<PathBuf>,
    /// Read-only fallbacks, in order.
    pub fallbacks: Vec<PathBuf>,
}

/// The key a registry has in auth.json: `docker.io` for Docker Hub in all its spellings, else
/// the host and port as given, without scheme or path.
pub fn registry_key(text: &str) -> String {
    let host = text
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" | "" => "docker.io".to_owned(),
        other => other.to_owned(),
    }
}

/// The keys a registry may have been stored under (Docker writes Hub's as its v1 URL).
fn candidate_keys(registry: &str) -> Vec<String> {
    let key = registry_key(registry);
    let mut keys = vec![
        key.clone(),
        format!("https://{key}"),
        format!("http://{key}"),
    ];
    if key == "docker.io" {
        keys.extend(
            [
                "https://index.docker.io/v1/",
                "index.docker.io",
                "registry-1.docker.io",
            ]
            .map(str::to_owned),
        );
    }
    keys
}

/// Reads a JSON file with an `auths` object; a missing file is empty.
fn load_file(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, RegistryError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(serde_json::Map::new());
        }
        Err(source) => {
            return Err(RegistryError::AuthFile {
                path: path.to_path_buf(),
                reason: source.to_string(),
            });
        }
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    serde_json::from_slice(&text).map_err(|error| RegistryError::AuthFile {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })
}

/// Finds the credentials for `registry` in one file's `auths`.
fn find_in(
    document: &serde_json::Map<String, serde_json::Value>,
    registry: &str,
) -> Option<Credentials> {
    let auths = document.get("auths")?.as_object()?;
    candidate_keys(registry).iter().find_map(|key| {
        let entry = auths.get(key)?;
        if let Some(auth) = entry.get("auth").and_then(serde_json::Value::as_str) {
            if let Some(credentials) = Credentials::decode(auth) {
                return Some(credentials);
            }
        }
        // Docker's older form, and what some tools write.
        let username = entry.get("username")?.as_str()?;
        let password = entry.get("password")?.as_str()?;
        Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    })
}

impl AuthFiles {
    /// The files podman and Docker use: `$XDG_RUNTIME_DIR/containers/auth.json` (written by
    /// `login`), then `$XDG_CONFIG_HOME/containers/auth.json`, then `$DOCKER_CONFIG/config.json`
    /// or `~/.docker/config.json`. (Read here rather than in `config::paths` because `build`
    /// pulls too, and it may not use `config`.)
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let home = var("HOME").map(PathBuf::from);
        let config_home = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".config")));
        let config_auth = config_home.map(|dir| dir.join("containers/auth.json"));
        let runtime_auth =
            var("XDG_RUNTIME_DIR").map(|dir| PathBuf::from(dir).join("containers/auth.json"));
        let docker = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| home.map(|home| home.join(".docker")))
            .map(|dir| dir.join("config.json"));
        let primary = runtime_auth.or_else(|| config_auth.clone());
        let fallbacks = config_auth
            .into_iter()
            .filter(|path| Some(path) != primary.as_ref())
            .chain(docker)
            .collect();
        Self { primary, fallbacks }
    }

    /// The credentials stored for `registry`, if any. An unreadable file is an error: a
    /// silently anonymous pull would hide it.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        for path in self.primary.iter().chain(&self.fallbacks) {
            if let Some(found) = find_in(&load_file(path)?, registry) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Stores credentials for `registry` in the primary file (created `0600`, in a `0700`
    /// directory), keeping every other entry and key.
    pub fn store(&self, registry: &str, credentials: &Credentials) -> Result<(), RegistryError> {
        let path = self.primary_path()?;
        let mut document = load_file(path)?;
        let auths = document
            .entry("auths")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if !auths.is_object() {
            *auths = serde_json::Value::Object(serde_json::Map::new());
        }
        if let Some(auths) = auths.as_object_mut() {
            let mut entry = serde_json::Map::new();
            entry.insert("auth".to_owned(), credentials.encode().into());
            auths.insert(registry_key(registry), entry.into());
        }
        save_file(path, &document)
    }

    /// Removes the credentials for `registry` from the primary file. Returns whether there
    /// were any.
    pub fn remove(&self, registry: &str) -> Result<bool, RegistryError> {
        let path = self.primary_path()?;
        let mut document = load_file(path)?;
        let mut removed = false;
        if let Some(auths) = document
            .get_mut("auths")
            .and_then(serde_json::Value::as_object_mut)
        {
            for key in candidate_keys(registry) {
                removed |= auths.remove(&key).is_some();
            }
        }
        if removed {
            save_file(path, &document)?;
        }
        Ok(removed)
    }

    fn primary_path(&self) -> Result<&Path, RegistryError> {
        self.primary
            .as_deref()
            .ok_or_else(|| RegistryError::AuthFile {
                path: PathBuf::from("auth.json"),
                reason: "neither XDG_RUNTIME_DIR nor HOME is set".to_owned(),
            })
    }
}

fn save_file(
    path: &Path,
    document: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), RegistryError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |error: std::io::Error| RegistryError::AuthFile {
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(failed)?;
            fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
        }
    }
    let mut text = serde_json::to_vec_pretty(document).unwrap_or_default();
    text.push(b'\n');
    crate::util::fs::atomic_write(path, &text).map_err(failed)?;
    fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)
}

/// A parsed `WWW-Authenticate` challenge (RFC 7235), as registries send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm="…",service="…",scope="…"`: get a token from `realm`.
    Bearer {
        /// The token endpoint URL.
        realm: String,
        /// The `service` parameter to pass back.
        service: Option<String>,
        /// The scope the registry asked for, if it said.
        scope: Option<String>,
    },
    /// `Basic realm="…"`: send the credentials with every request.
    Basic,
}

/// Parses a `WWW-Authenticate` value. Unknown schemes give `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        "basic" => Some(Challenge::Basic),
        _ => None,
    }
}

/// `key=value` or `key="quoted, \"value\""` pairs separated by commas; keys lowercased.
fn parse_params(text: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        other => value.push(other),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        let key = key.trim().to_ascii_lowercase();
        if !key.is_empty() {
            params.insert(key, value.trim().to_owned());
        }
        if chars.peek().is_none() {
            break;
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#;
        assert_eq!(
            parse_challenge(header),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".to_owned(),
                service: Some("registry.docker.io".to_owned()),
                scope: Some("repository:library/busybox:pull".to_owned()),
            })
        );
        // Scopes with commas inside quotes, unquoted values, odd spacing and case.
        let header = r#"bearer  realm=https://ghcr.io/token , service="ghcr.io",scope="repository:a/b:pull,push""#;
        assert_eq!(
            parse_challenge(header),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".to_owned(),
                service: Some("ghcr.io".to_owned()),
                scope: Some("repository:a/b:pull,push".to_owned()),
            })
        );
        assert_eq!(parse_challenge("Bearer service=\"x\""), None);
    }

    #[test]
    fn parses_basic_and_unknown_challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Basic"), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn quoted_escapes() {
        let params = parse_params(r#"realm="a \"b\", c",x=1"#);
        assert_eq!(params["realm"], r#"a "b", c"#);
        assert_eq!(params["x"], "1");
    }

    #[test]
    fn registry_keys_normalise_docker_hub() {
        assert_eq!(registry_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_key("registry-1.docker.io"), "docker.io");
        assert_eq!(registry_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_key("http://localhost:5000/"), "localhost:5000");
    }

    #[test]
    fn auth_json_round_trip_keeps_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        let primary = dir.path().join("containers/auth.json");
        fs::create_dir_all(primary.parent().unwrap()).unwrap();
        fs::write(
            &primary,
            r#"{"auths":{"quay.io":{"auth":"cTp3"}},"credHelpers":{"x":"y"}}"#,
        )
        .unwrap();
        let files = AuthFiles {
            primary: Some(primary.clone()),
            fallbacks: Vec::new(),
        };
        let credentials = Credentials {
            username: "alice".to_owned(),
            password: "s3cr:et".to_owned(),
        };
        files.store("127.0.0.1:5000", &credentials).unwrap();
        assert_eq!(
            files.lookup("127.0.0.1:5000").unwrap(),
            Some(credentials.clone())
        );
        let text: serde_json::Value = serde_json::from_slice(&fs::read(&primary).unwrap()).unwrap();
        assert_eq!(
            text["auths"]["127.0.0.1:5000"]["auth"],
            STANDARD.encode("alice:s3cr:et")
        );
        assert_eq!(text["auths"]["quay.io"]["auth"], "cTp3");
        assert_eq!(text["credHelpers"]["x"], "y");
        assert!(files.remove("127.0.0.1:5000").unwrap());
        assert!(!files.remove("127.0.0.1:5000").unwrap());
        assert_eq!(files.lookup("127.0.0.1:5000").unwrap(), None);
    }

    #[test]
    fn docker_config_is_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("config.json");
        let auth = STANDARD.encode("bob:pw");
        fs::write(
            &docker,
            format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let files = AuthFiles {
            primary: Some(dir.path().join("missing/auth.json")),
            fallbacks: vec![docker],
        };
        let found = files.lookup("docker.io").unwrap().unwrap();
        assert_eq!(found.username, "bob");
        assert_eq!(found.password, "pw");
        assert_eq!(files.lookup("quay.io").unwrap(), None);
    }
}
