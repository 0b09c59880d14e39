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
