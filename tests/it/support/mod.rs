//! Test support: a hermetic store per test, the berth binary run as a chosen user, and
//! fixture images built from this machine's own files.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by many test modules, each using a part"
)]

pub mod fixtures;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Who runs berth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// Real root (how CI itself runs).
    Root,
    /// `berth-sub`: an unprivileged user with /etc/subuid and /etc/subgid ranges.
    Sub,
    /// `berth-nosub`: an unprivileged user without ranges (single-ID fallback).
    NoSub,
}

impl User {
    /// The account name.
    pub fn name(self) -> &'static str {
        match self {
            User::Root => "root",
            User::Sub => "berth-sub",
            User::NoSub => "berth-nosub",
        }
    }

    /// Every user the suite runs as.
    pub const ALL: [User; 3] = [User::Sub, User::NoSub, User::Root];
}

/// Whether the unprivileged users exist and we can switch to them (we are root).
pub fn users_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        nix::unistd::getuid().is_root()
            && [User::Sub, User::NoSub].iter().all(|u| {
                nix::unistd::User::from_name(u.name())
                    .ok()
                    .flatten()
                    .is_some()
            })
    })
}

/// Skips a test (with a printed reason) when the unprivileged users are missing, unless
/// `BERTH_TEST_REQUIRE_ROOTLESS=1` (set by contrib/test.sh), where it fails instead.
#[macro_export]
macro_rules! require_users {
    () => {
        if !$crate::support::users_available() {
            if std::env::var_os("BERTH_TEST_REQUIRE_ROOTLESS").is_some() {
                panic!("the rootless test users are missing: run contrib/ci/rootless-user.sh as root");
            }
            eprintln!("skipped: the rootless test users are missing (run contrib/ci/rootless-user.sh as root)");
            return;
        }
    };
}

/// The berth binary, copied once to a world-readable place so other users can run it.
pub fn berth_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let source = PathBuf::from(env!("CARGO_BIN_EXE_berth"));
        // One directory for every run; copies of test runs that are gone are removed (each
        // is as big as the debug binary, and runs add up).
        let dir = std::env::temp_dir().join("berth-it-bin");
        fs_err::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o755);
        for entry in fs_err::read_dir(&dir).unwrap().flatten() {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok();
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = fs_err::remove_dir_all(entry.path());
            }
        }
        let dir = dir.join(std::process::id().to_string());
        fs_err::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o755);
        let target = dir.join("berth");
        fs_err::copy(&source, &target).unwrap();
        set_mode(&target, 0o755);
        target
    })
}

/// chmod.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// chown -R to a test user.
pub fn chown_to(path: &Path, user: User) {
    if user == User::Root {
        return;
    }
    let status = Command::new("chown")
        .args(["-R", user.name()])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Gives a whole tree to `user`.
pub fn chown_tree(path: &Path, user: User) {
    chown_to(path, user);
    if path.is_dir() {
        for entry in fs_err::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), user);
        }
    }
}

/// One hermetic environment: a private HOME, store root and runtime dir, owned by `user`.
pub struct TestContext {
    /// Who runs berth.
    pub user: User,
    /// The temporary directory holding everything (removed at drop).
    pub dir: tempfile::TempDir,
}

/// No test leaves containers or pods running (they would hold ports and CPU for the rest of
/// the suite), whether it passed or failed.
impl Drop for TestContext {
    fn drop(&mut self) {
        if self.root().exists() {
            self.remove_everything();
        }
    }
}

impl TestContext {
    /// Force-removes every container (with its anonymous volumes) and pod of this context;
    /// returns the containers' IDs.
    pub fn remove_everything(&self) -> Vec<String> {
        let listed = self.run(["ps", "-a", "-q", "--no-trunc"]).stdout();
        let ids: Vec<String> = listed.lines().map(str::to_owned).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            let _ = self.run(args);
        }
        for pod in self.run(["pod", "ls", "-q"]).stdout().lines() {
            let _ = self.run(["pod", "rm", "-f", pod]);
        }
        ids
    }

    /// A fresh context for `user`.
    pub fn new(user: User) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-it-")
            .tempdir()
            .unwrap();
        for sub in ["home", "run", "work"] {
            fs_err::create_dir_all(dir.path().join(sub)).unwrap();
        }
        set_mode(dir.path(), 0o755);
        chown_to(dir.path(), user);
        Self { user, dir }
    }

    /// The store root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A scratch directory the user can write.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// A `berth` command with the hermetic environment, run as this context's user.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command_with_env(args, &[])
    }

    /// Runs berth with some variables of the hermetic environment replaced.
    pub fn run_with_env<I, S>(&self, args: I, overrides: &[(&str, &str)]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let output = self.command_with_env(&args, overrides).output().unwrap();
        Run {
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            output,
        }
    }

    /// `command`, with some variables replaced.
    pub fn command_with_env<I, S>(&self, args: I, overrides: &[(&str, &str)]) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut env: Vec<(&str, std::ffi::OsString)> = vec![
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
            ("HOME", self.dir.path().join("home").into()),
            ("XDG_RUNTIME_DIR", self.dir.path().join("run").into()),
            ("BERTH_ROOT", self.root().into()),
            ("TZ", "UTC".into()),
            ("NO_COLOR", "1".into()),
            ("COLUMNS", "100".into()),
        ];
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push((key, (*value).into()));
        }
        let mut command = if self.user == User::Root {
            Command::new(berth_binary())
        } else {
            // runuser resets HOME (and more) for the target user: pass ours through env(1).
            // By path: the PATH given to the command may not contain it.
            let mut c = Command::new("/usr/sbin/runuser");
            c.args(["-u", self.user.name(), "--", "/usr/bin/env"]);
            for (key, value) in &env {
                let mut pair = std::ffi::OsString::from(format!("{key}="));
                pair.push(value);
                c.arg(pair);
            }
            c.arg(berth_binary());
            c
        };
        command
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs berth and returns what happened.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let output = self.command(&args).output().unwrap();
        Run {
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            output,
        }
    }

    /// Runs berth with `input` on stdin.
    pub fn run_with_stdin<I, S>(&self, args: I, input: &[u8]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        use std::io::Write;
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut child = self
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Run {
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            output,
        }
    }

    /// Runs berth on a pseudo-terminal (util-linux `script`), with stdout and stderr both on
    /// it; `None`, after printing why, when `script` is missing. [`Run::stdout`] is then what
    /// the terminal got: escape sequences, and `\r\n` for every newline.
    pub fn run_in_terminal<I, S>(&self, args: I) -> Option<Run>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        if !command_exists("script") {
            registry::skip("`script` (util-linux) is needed to run berth on a terminal");
            return None;
        }
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let command = self.command(&args);
        let quote =
            |word: &std::ffi::OsStr| format!("'{}'", word.to_string_lossy().replace('\'', "'\\''"));
        let line: Vec<String> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(quote)
            .collect();
        let output = Command::new("script")
            .args(["-qfec", &line.join(" "), "/dev/null"])
            .env_clear()
            .envs(
                command
                    .get_envs()
                    .filter_map(|(key, value)| Some((key, value?))),
            )
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Some(Run {
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            output,
        })
    }

    /// Runs berth and asserts success; returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.run(args).success().stdout()
    }

    /// Writes a file into the work dir, readable by the user; returns its path.
    pub fn write_file(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.work().join(name);
        fs_err::write(&path, data).unwrap();
        chown_to(&path, self.user);
        path
    }

    /// Imports the busybox fixture as `name`; returns the image ID (`sha256:…`).
    pub fn import_busybox(&self, name: &str) -> String {
        let tar = self.write_file("busybox.tar", &fixtures::busybox_rootfs_tar());
        self.ok(["import".as_ref(), tar.as_os_str(), name.as_ref()])
            .trim()
            .to_owned()
    }

    /// `system check` passes.
    pub fn assert_store_clean(&self) {
        let run = self.run(["system", "check"]);
        assert!(
            run.output.status.success(),
            "system check failed:\n{}",
            run.describe()
        );
    }
}

/// The outcome of one berth invocation.
pub struct Run {
    /// The arguments.
    pub args: Vec<String>,
    /// What the process did.
    pub output: Output,
}

impl Run {
    /// stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The exit code.
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    /// Everything, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "berth {}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts exit 0.
    pub fn success(self) -> Self {
        assert!(
            self.output.status.success(),
            "expected success:\n{}",
            self.describe()
        );
        self
    }

    /// Asserts a non-zero exit and that stderr contains `needle`.
    pub fn failure_with(self, needle: &str) -> Self {
        assert!(
            !self.output.status.success(),
            "expected failure:\n{}",
            self.describe()
        );
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.describe()
        );
        self
    }
}

/// Whether `program` is on this machine's PATH.
pub fn command_exists(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs_err::copy(entry.path(), &target).unwrap();
        }
    }
}

/// One `#[test]` per user for a body `fn(User)`; the rootless ones skip (or fail under
/// `BERTH_TEST_REQUIRE_ROOTLESS`) without the test users.
#[macro_export]
macro_rules! as_users {
    ($body:ident => $($test:ident: $user:ident),+ $(,)?) => {
        $(
            #[test]
            fn $test() {
                if $crate::support::User::$user != $crate::support::User::Root {
                    $crate::require_users!();
                }
                $body($crate::support::User::$user);
            }
        )+
    };
}

/// A fixture that `contrib/test.sh` builds as root (the Debian minbase and python root
/// filesystems under /var/cache/berth-test), or None with a printed reason; missing under
/// `BERTH_TEST_REQUIRE_ROOTLESS` is a failure.
pub fn cached_fixture(name: &str) -> Option<PathBuf> {
    let path = Path::new("/var/cache/berth-test").join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("BERTH_TEST_REQUIRE_ROOTLESS").is_none(),
        "{} is missing: run contrib/test.sh as root",
        path.display()
    );
    eprintln!(
        "skipped: {} is missing (contrib/test.sh builds it as root)",
        path.display()
    );
    None
}

/// Whether this machine reaches `host:port` (tests that need the internet skip otherwise).
pub fn reachable(address: &str) -> bool {
    let reached = std::net::TcpStream::connect(address).is_ok();
    if !reached {
        eprintln!("skipped: this machine cannot reach {address}");
    }
    reached
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Imports the python fixture (Debian's python3) as `name`, with the settings of the official
/// python image that the tutorial relies on (pip may install system-wide, PATH, UTF-8, CMD).
pub fn import_python(cx: &TestContext, python: &Path, name: &str) {
    cx.ok([
        "import",
        "--change",
        "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        "CMD [\"python3\"]",
        python.to_str().unwrap(),
        name,
    ]);
}

/// GET `path` from 127.0.0.1:`port`, retrying while nothing answers (until `wait` passes).
pub fn http_get(port: u16, path: &str, wait: std::time::Duration) -> String {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
            stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            std::io::Write::write_all(
                &mut stream,
                format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes(),
            )?;
            let mut answer = String::new();
            std::io::Read::read_to_string(&mut stream, &mut answer)?;
            if !answer.contains(" 200 ") {
                return Err(std::io::Error::other(format!("answer: {answer}")));
            }
            Ok(answer)
        })();
        match attempt {
            Ok(answer) => return answer,
            Err(error) if std::time::Instant::now() > deadline => {
                panic!("no answer on port {port}: {error}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// Polls `condition` every 20 ms until it holds; fails naming `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command line of `pid` (empty once it has gone).
pub fn cmdline(pid: i64) -> Vec<String> {
    fs_err::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}
