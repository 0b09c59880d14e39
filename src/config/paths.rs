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

/// The registries.conf podman would read: `$CONTAINERS_REGISTRIES_CONF`, else the user's
/// file if it exists, else the system's (`None` only when neither exists).
pub fn registries_conf() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os(env::CONTAINERS_REGISTRIES_CONF).filter(|v| !v.is_empty())
    {
        return Some(PathBuf::from(file));
    }
    [
        config_home().join("containers/registries.conf"),
        PathBuf::from("/etc/containers/registries.conf"),
    ]
    .into_iter()
    .find(|path| path.exists())
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
