//! The only reader of the path-related environment (XDG_DATA_HOME, XDG_RUNTIME_DIR, HOME).

use std::path::PathBuf;

use crate::env;

/// The storage root: `--root`/`BERTH_ROOT` (already folded into `flag` by clap), else
/// `$XDG_DATA_HOME/berth`, else `~/.local/share/berth`.
pub fn storage_root(flag: Option<PathBuf>) -> PathBuf {
    if let Some(root) = flag {
        return absolute(root);
    }
    if let Some(data) = std::env::var_os(env::XDG_DATA_HOME).filter(|v| !v.is_empty()) {
        return absolute(PathBuf::from(data)).join("berth");
    }
    match directories::BaseDirs::new() {
        Some(dirs) => dirs.data_dir().join("berth"),
        None => PathBuf::from(format!("/tmp/berth-{}", nix::unistd::getuid())).join("storage"),
    }
}

/// Runtime state: `$XDG_RUNTIME_DIR/berth`, else `/tmp/berth-$UID`.
pub fn runtime_root() -> PathBuf {
    match std::env::var_os(env::XDG_RUNTIME_DIR).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("berth"),
        None => PathBuf::from(format!("/tmp/berth-{}", nix::unistd::getuid())),
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> PathBuf {
    if let Some(dir) = std::env::var_os(env::XDG_CONFIG_HOME).filter(|v| !v.is_empty()) {
        return absolute(PathBuf::from(dir));
    }
    match directories::BaseDirs::new() {
        Some(dirs) => dirs.home_dir().join(".config"),
        None => PathBuf::from("/etc/berth"),
    }
}

/// berth's own configuration file: `$XDG_CONFIG_HOME/berth/berth.toml`.
pub fn berth_toml() -> PathBuf {
    config_home().join("berth/berth.toml")
}

/// The registries.conf files podman would read, in the order they are laid over each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistriesFiles {
    /// The main file (it may not exist).
    pub main: PathBuf,
    /// The `registries.conf.d` directories whose `*.conf` drop-ins follow it, in order (they
    /// may not exist).
    pub drop_in_dirs: Vec<PathBuf>,
}

/// containers-registries.conf.d(5)'s choice: `$CONTAINERS_REGISTRIES_CONF` if set, else the
/// user's registries.conf if it exists, else the system's. The user's file replaces the
/// system's and its drop-ins (only the user's `registries.conf.d` follows it); otherwise the
/// system's drop-ins come first, then the user's.
pub fn registries_files() -> RegistriesFiles {
    let user = config_home().join("containers/registries.conf");
    let user_dir = config_home().join("containers/registries.conf.d");
    let system_dir = PathBuf::from("/etc/containers/registries.conf.d");
    if let Some(file) = std::env::var_os(env::CONTAINERS_REGISTRIES_CONF).filter(|v| !v.is_empty())
    {
        return RegistriesFiles {
            main: PathBuf::from(file),
            drop_in_dirs: vec![system_dir, user_dir],
        };
    }
    if user.exists() {
        return RegistriesFiles {
            main: user,
            drop_in_dirs: vec![user_dir],
        };
    }
    RegistriesFiles {
        main: PathBuf::from("/etc/containers/registries.conf"),
        drop_in_dirs: vec![system_dir, user_dir],
    }
}

/// Where per-registry TLS files live (`certs.d/HOST[:PORT]/`), in the order searched:
/// the user's, podman's system directory, Docker's.
pub fn certs_dirs() -> Vec<PathBuf> {
    vec![
        config_home().join("containers/certs.d"),
        PathBuf::from("/etc/containers/certs.d"),
        PathBuf::from("/etc/docker/certs.d"),
    ]
}
