//! Every environment variable berth reads, by name.
//!
//! Leaf module: uses nothing else of the crate.

/// Overrides the storage root (same as `--root`).
pub const BERTH_ROOT: &str = "BERTH_ROOT";
/// Log level (same as `--log-level`).
pub const BERTH_LOG: &str = "BERTH_LOG";
/// Set by `berth unshare` in the environment of the command it runs.
pub const BERTH_UNSHARE: &str = "BERTH_UNSHARE";
/// XDG data directory (the store's default parent).
pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
/// XDG config directory (registries.conf, certs.d, berth.toml); default `~/.config`.
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// podman's override of the registries.conf path.
pub const CONTAINERS_REGISTRIES_CONF: &str = "CONTAINERS_REGISTRIES_CONF";
/// XDG runtime directory (runtime state).
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
/// The terminal type: `dumb` turns live progress views into plain lines.
pub const TERM: &str = "TERM";
/// The user's shell, for `berth unshare` without a command.
pub const SHELL: &str = "SHELL";
/// systemd's notification socket (a path, or `@name` for an abstract socket), for
/// `run --sdnotify`.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// The SSH agent socket that `build --ssh default` forwards.
pub const SSH_AUTH_SOCK: &str = "SSH_AUTH_SOCK";
