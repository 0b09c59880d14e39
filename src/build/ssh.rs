//! `build --ssh` and `RUN --mount=type=ssh`, as docker buildx does them.
//!
//! - `--ssh default` (or `--ssh ID`) forwards the agent of `$SSH_AUTH_SOCK`, `--ssh ID=SOCKET`
//!   the agent listening on SOCKET, and `--ssh ID=KEY[,KEY]` private key files: BuildKit's
//!   client serves those from an agent keyring of its own; berth starts a real `ssh-agent`
//!   (openssh-client) holding them for the build, and kills it when the build ends
//!   ([`SshAgents`]).
//! - Each ssh mount of a RUN gets a socket of its own ([`SshProxy`]): bound by us outside the
//!   image, owned by the mount's `uid`:`gid` with its `mode` (0:0 and 0600 by default), bind
//!   mounted at its target, and served by a `berth __ssh-proxy` process that forwards every
//!   connection to the agent. The agent's own socket is not mounted: it belongs to the host
//!   user (root in the build's user namespace) and is 0600, so a RUN as another USER could
//!   not connect to it, and changing the mode of the user's agent socket is not ours to do.
//!   This is what BuildKit does too (it proxies the agent over its session).
//!
//! Tree line: `build/ssh.rs`; uses `util` only.

use std::collections::BTreeMap;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::plan::BuildError;
use crate::util::{
    self,
    process::{self, SSH_ADD, SSH_AGENT},
};

type Result<T> = std::result::Result<T, BuildError>;

/// The variable that tells ssh clients where the agent is: set for `ssh-add` and for a RUN
/// with ssh mounts (berth reads it in `commands`, through `env`).
pub const SSH_AUTH_SOCK: &str = "SSH_AUTH_SOCK";

/// How long a new `ssh-agent` may take to create its socket.
const AGENT_START: Duration = Duration::from_secs(10);

fn fail(error: impl std::fmt::Display) -> BuildError {
    BuildError::executor(error.to_string())
}

/// One `--ssh` value: an id and the agent socket or key files it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSource {
    /// The id `RUN --mount=type=ssh,id=…` asks for (`default` by default).
    pub id: String,
    /// One agent socket, or private key files.
    pub paths: Vec<PathBuf>,
}

impl SshSource {
    /// Parses `default|ID[=SOCKET|KEY[,KEY]]`; without paths, `default_socket` (the value of
    /// `$SSH_AUTH_SOCK`) is the agent, as in buildx.
    ///
    /// # Errors
    ///
    /// An empty id, or no paths and no `$SSH_AUTH_SOCK`.
    pub fn parse(spec: &str, default_socket: Option<&Path>) -> std::result::Result<Self, String> {
        let (id, paths) = spec.split_once('=').unwrap_or((spec, ""));
        if id.is_empty() {
            return Err(format!("invalid --ssh `{spec}`: the id is missing"));
        }
        let mut paths: Vec<PathBuf> = paths
            .split(',')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
        if paths.is_empty() {
            let socket = default_socket
                .filter(|s| !s.as_os_str().is_empty())
                .ok_or_else(|| {
                    format!(
                        "invalid --ssh `{spec}`: no agent socket given and SSH_AUTH_SOCK is not set"
                    )
                })?;
            paths.push(socket.to_path_buf());
        }
        Ok(Self {
            id: id.to_owned(),
            paths,
        })
    }
}

/// The agents of one build, by id; the `ssh-agent`s started for key files die with it.
#[derive(Debug, Default)]
pub struct SshAgents {
    sockets: BTreeMap<String, PathBuf>,
    started: Vec<StartedAgent>,
}

#[derive(Debug)]
struct StartedAgent {
    child: Child,
    _dir: SocketDir,
}

impl Drop for StartedAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SshAgents {
    /// Resolves every `--ssh` source: one socket is used as it is; key files are loaded into
    /// a new `ssh-agent`.
    ///
    /// # Errors
    ///
    /// A path is missing, a socket comes with other paths, or the agent or `ssh-add` fails
    /// (a key with a passphrase cannot be loaded: nothing asks for it).
    pub fn start(sources: &[SshSource]) -> Result<Self> {
        let mut agents = Self::default();
        for source in sources {
            let mut sockets = 0;
            for path in &source.paths {
                let meta = fs_err::metadata(path)
                    .map_err(|e| fail(format!("--ssh {}: {e}", source.id)))?;
                if meta.file_type().is_socket() {
                    sockets += 1;
                }
            }
            let socket = match (sockets, source.paths.as_slice()) {
                (0, keys) => agents.start_agent(&source.id, keys)?,
                (1, [socket]) => socket.clone(),
                _ => {
                    return Err(fail(format!(
                        "--ssh {}: only a single agent socket is allowed, without key files",
                        source.id
                    )));
                }
            };
            agents.sockets.insert(source.id.clone(), socket);
        }
        Ok(agents)
    }

    /// The agent socket for `id`.
    #[must_use]
    pub fn socket(&self, id: &str) -> Option<&Path> {
        self.sockets.get(id).map(PathBuf::as_path)
    }

    /// All of them, by id.
    #[must_use]
    pub fn sockets(&self) -> &BTreeMap<String, PathBuf> {
        &self.sockets
    }

    /// `ssh-agent -D -a SOCKET` in a private directory, then `ssh-add KEY…` into it.
    fn start_agent(&mut self, id: &str, keys: &[PathBuf]) -> Result<PathBuf> {
        let dir = SocketDir::new().map_err(|e| {
            fail(format!(
                "--ssh {id}: cannot make a directory for ssh-agent: {e}"
            ))
        })?;
        let socket = dir.path().join("agent.sock");
        let child = SSH_AGENT
            .spawn_with(|command| {
                command
                    .arg("-D")
                    .arg("-a")
                    .arg(&socket)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
            })
            .map_err(|e| fail(format!("--ssh {id}: {e}")))?;
        self.started.push(StartedAgent { child, _dir: dir });
        let deadline = Instant::now() + AGENT_START;
        while !socket.exists() {
            if Instant::now() > deadline {
                return Err(fail(format!(
                    "--ssh {id}: ssh-agent did not create `{}`",
                    socket.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        SSH_ADD
            .run_with(|command| {
                command
                    .arg("-q")
                    .args(keys)
                    .env_clear()
                    .env(SSH_AUTH_SOCK, &socket)
                    .env("SSH_ASKPASS_REQUIRE", "never")
                    .stdin(Stdio::null());
            })
            .map_err(|e| fail(format!("--ssh {id}: cannot load the keys: {e}")))?;
        Ok(socket)
    }
}

/// A private directory for a socket, in the temporary directory (a socket path must fit in
/// 108 bytes, which paths in the store may not); removed on drop.
#[derive(Debug)]
struct SocketDir(PathBuf);

impl SocketDir {
    fn new() -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("berth-ssh-{}", util::ids::random_hex(6)));
        fs_err::create_dir(&path)?;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.0);
    }
}

/// The socket of one `RUN --mount=type=ssh`, served by a `berth __ssh-proxy` process until
/// dropped.
#[derive(Debug)]
pub struct SshProxy {
    socket: PathBuf,
    child: Child,
    _dir: SocketDir,
}

impl SshProxy {
    /// Binds a new socket owned by `uid`:`gid` (ids of the build's user namespace, which we
    /// are root of) with permission bits `mode`, and starts forwarding it to `agent`.
    ///
    /// # Errors
    ///
    /// The socket cannot be made or the proxy cannot start.
    pub fn start(agent: &Path, uid: u32, gid: u32, mode: u32) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = SocketDir::new()
            .map_err(|e| fail(format!("cannot make a directory for the ssh socket: {e}")))?;
        let socket = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket)
            .map_err(|e| fail(format!("cannot bind `{}`: {e}", socket.display())))?;
        // Under a single-ID map only 0 exists; the socket then stays root's.
        let _ = std::os::unix::fs::chown(&socket, Some(uid), Some(gid));
        fs_err::set_permissions(&socket, std::fs::Permissions::from_mode(mode & 0o777))
            .map_err(fail)?;
        let child = process::spawn_self(["__ssh-proxy".as_ref(), agent.as_os_str()], |command| {
            command
                .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
                .stdout(Stdio::null());
        })
        .map_err(|e| fail(format!("cannot start the SSH agent proxy: {e}")))?;
        Ok(Self {
            socket,
            child,
            _dir: dir,
        })
    }

    /// The socket to mount.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for SshProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    #[test]
    fn ssh_values_parse_as_buildx_reads_them() {
        let agent = Path::new("/run/agent.sock");
        let parse = |spec| SshSource::parse(spec, Some(agent));
        assert_eq!(
            parse("default").unwrap(),
            SshSource {
                id: "default".into(),
                paths: vec![agent.into()]
            }
        );
        assert_eq!(parse("git").unwrap().paths, vec![agent.to_path_buf()]);
        assert_eq!(
            parse("git=/k1,/k2").unwrap().paths,
            vec![PathBuf::from("/k1"), PathBuf::from("/k2")]
        );
        assert_eq!(parse("x=/s.sock").unwrap().id, "x");
        assert!(parse("=/k").is_err());
        let unset = SshSource::parse("default", None).unwrap_err();
        assert!(unset.contains("SSH_AUTH_SOCK"), "{unset}");
    }

    #[test]
    fn sockets_and_keys_do_not_mix() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let _listener = UnixListener::bind(&socket).unwrap();
        let key = dir.path().join("key");
        fs_err::write(&key, "not a key").unwrap();
        let agents = SshAgents::start(&[SshSource {
            id: "default".into(),
            paths: vec![socket.clone()],
        }])
        .unwrap();
        assert_eq!(agents.socket("default"), Some(socket.as_path()));
        assert_eq!(agents.socket("other"), None);
        let mixed = SshAgents::start(&[SshSource {
            id: "x".into(),
            paths: vec![socket, key],
        }])
        .unwrap_err();
        assert!(mixed.to_string().contains("single agent socket"), "{mixed}");
        let missing = SshAgents::start(&[SshSource {
            id: "x".into(),
            paths: vec![dir.path().join("nothing")],
        }])
        .unwrap_err();
        assert!(missing.to_string().contains("--ssh x"), "{missing}");
    }
}
