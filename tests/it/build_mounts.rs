//! `RUN --mount` types that reach outside the step: cache mounts shared between builds as
//! `sharing=` says (two builds at once, ordered by marker files, never by timing), seeded
//! `from` a stage with an owner and mode, read-only; and the SSH agent of `build --ssh`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::require_users;
use crate::support::{TestContext, User, chown_tree, wait_for};

/// A context directory holding one Dockerfile, owned by the user.
fn dockerfile(cx: &TestContext, name: &str, text: &str) -> PathBuf {
    let dir = cx.work().join(name);
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("Dockerfile"), text).unwrap();
    chown_tree(&dir, cx.user);
    dir
}

/// The cache mount directory (of any id) holding the file `marker`, if one does.
fn cache_dir_with(cx: &TestContext, marker: &str) -> Option<PathBuf> {
    let mounts = cx.root().join("build-cache/mounts");
    fs_err::read_dir(&mounts)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .find(|dir| dir.join(marker).exists())
}

/// Starts a build of `dir` in the background.
fn start_build(cx: &TestContext, dir: &Path) -> Child {
    cx.command(["build", "-q", "--no-cache", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the first build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The first build's RUN: says it is in (`in-PHASE`), waits for `release` (at most `tenths`
/// tenths of a second), then says it is out (`out`).
fn holder(phase: &str, sharing: &str, tenths: u32) -> String {
    format!(
        "FROM busybox
RUN --mount=type=cache,id={phase},target=/c,sharing={sharing} touch /c/in-{phase} && i=0 && while [ ! -e /c/release ] && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done && touch /c/out
"
    )
}

/// The second build's RUN: records what it saw of the first (`/order`), then releases it.
fn visitor(phase: &str, sharing: &str) -> String {
    format!(
        "FROM busybox
RUN --mount=type=cache,id={phase},target=/c,sharing={sharing} if [ ! -e /c/in-{phase} ]; then echo fresh; elif [ -e /c/out ]; then echo waited; else echo concurrent; fi > /order && touch /c/release
CMD [\"cat\", \"/order\"]
"
    )
}

/// Runs the second build while the first holds the cache; returns what the second saw.
fn second_build_sees(cx: &TestContext, phase: &str, first: &str, second: &str) -> String {
    let held = start_build(cx, &dockerfile(cx, &format!("{phase}-a"), first));
    let marker = format!("in-{phase}");
    wait_for(&marker, Duration::from_secs(120), || {
        cache_dir_with(cx, &marker).is_some()
    });
    let dir = dockerfile(cx, &format!("{phase}-b"), second);
    let tag = format!("{phase}-b");
    cx.ok([
        "build",
        "-q",
        "--no-cache",
        "-t",
        &tag,
        dir.to_str().unwrap(),
    ]);
    if let Some(held_dir) = cache_dir_with(cx, &marker) {
        // A private second build released its own instance: release the first one's.
        let _ = fs_err::write(held_dir.join("release"), "");
    }
    finish(held);
    cx.ok(["run", "--rm", &tag]).trim().to_owned()
}

/// `sharing=shared` lets the second build in while the first is inside; `locked` makes it
/// wait until the first is done (the first gives up waiting for the release after two
/// seconds: only that path finishes when the lock works); `private` gives it a fresh
/// instance at once.
#[test]
fn cache_mount_sharing_between_two_builds() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let shared = second_build_sees(
        &cx,
        "shared",
        &holder("shared", "shared", 1200),
        &visitor("shared", "shared"),
    );
    assert_eq!(shared, "concurrent");
    let locked = second_build_sees(
        &cx,
        "locked",
        &holder("locked", "locked", 20),
        &visitor("locked", "locked"),
    );
    assert_eq!(locked, "waited");
    let private = second_build_sees(
        &cx,
        "private",
        &holder("private", "locked", 1200),
        &visitor("private", "private"),
    );
    assert_eq!(private, "fresh");
}

/// A cache seeded `from` a stage at `source`, one made with `uid`, `gid` and `mode`, and a
/// read-only one; the cache outlives the build and nothing of it lands in the layers.
#[test]
fn cache_mount_from_owner_and_readonly() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let dir = dockerfile(
        &cx,
        "options",
        "FROM busybox AS seed
RUN mkdir -p /seed/sub && echo seeded > /seed/sub/f
FROM busybox
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed cat /c/sub/f > /got && echo more > /c/more
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed cat /c/more >> /got
RUN --mount=type=cache,id=owned,target=/o,uid=1000,gid=1001,mode=0750 stat -c '%u %g %a' /o >> /got
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed,ro ! touch /c/x 2>/dev/null && echo ro >> /got
CMD [\"cat\", \"/got\"]
",
    );
    cx.ok(["build", "-q", "-t", "options", dir.to_str().unwrap()]);
    assert_eq!(
        cx.ok(["run", "--rm", "options"]),
        "seeded\nmore\n1000 1001 750\nro\n"
    );
    let leftovers = cx.run(["run", "--rm", "options", "ls", "/c", "/o"]);
    assert_ne!(leftovers.code(), 0, "{}", leftovers.describe());
}

/// Speaks the agent protocol over `$SSH_AUTH_SOCK`: SSH2_AGENTC_REQUEST_IDENTITIES (11) in a
/// length-prefixed frame; the answer SSH2_AGENT_IDENTITIES_ANSWER (12) holds the key count.
const AGENT_CLIENT: &str = r#"import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(os.environ["SSH_AUTH_SOCK"])
except PermissionError:
    print("denied")
    sys.exit(0)
s.sendall(struct.pack(">IB", 1, 11))
def read(n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            sys.exit("the agent closed the connection")
        data += chunk
    return data
(length,) = struct.unpack(">I", read(4))
body = read(length)
assert body[0] == 12, body[0]
print("keys", struct.unpack(">I", body[1:5])[0])
"#;

const SSH_DOCKERFILE: &str = "FROM python:3.11-slim
COPY agent.py /agent.py
RUN --mount=type=ssh python3 /agent.py > /report && chmod 666 /report
RUN --mount=type=ssh,id=other,target=/sock/other python3 /agent.py >> /report
RUN --mount=type=ssh,id=absent test ! -e /run/buildkit/ssh_agent.0 && echo skipped >> /report
USER 1000
RUN --mount=type=ssh python3 /agent.py >> /report
RUN --mount=type=ssh,uid=1000,mode=0600 python3 /agent.py >> /report
CMD [\"cat\", \"/report\"]
";

/// `cmd` as the context's user.
fn as_user(cx: &TestContext, program: &str) -> std::process::Command {
    let mut command = if cx.user == User::Root {
        std::process::Command::new(program)
    } else {
        let mut c = std::process::Command::new("/usr/sbin/runuser");
        c.args(["-u", cx.user.name(), "--", program]);
        c
    };
    command.env_clear().env("PATH", "/usr/bin:/bin");
    command
}

/// Stops the test's own agent, also when the test fails: by the pid of the process serving
/// `socket` (killing `runuser` would leave its child running).
struct StopAgent {
    child: std::process::Child,
    socket: PathBuf,
}

impl Drop for StopAgent {
    fn drop(&mut self) {
        let wanted = format!("ssh-agent -D -a {}", self.socket.display());
        for entry in fs_err::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if crate::support::cmdline(i64::from(pid)).join(" ") == wanted {
                let pid = nix::unistd::Pid::from_raw(pid);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            }
        }
        let _ = self.child.wait();
    }
}

/// The ssh-agents and proxies of berth whose command line mentions `dir` (the builds get
/// `TMPDIR=dir`, so the agents they start live there).
fn helpers_in(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy();
    processes_with(&dir)
        .into_iter()
        .filter(|line| line.contains("__ssh-proxy") || line.contains("berth-ssh-"))
        .collect()
}

/// Processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let line = crate::support::cmdline(pid).join(" ");
        if line.contains(needle) {
            found.push(line);
        }
    }
    found
}

/// `build --ssh`: key files (an ssh-agent berth starts and stops), an agent's socket, and
/// `default` from `$SSH_AUTH_SOCK`; a RUN reaches the agent through `SSH_AUTH_SOCK`, a USER
/// other than root only when the mount's `uid` says so; a missing optional agent is skipped,
/// a missing required one names the flag; nothing lands in the image.
fn ssh_agents_reach_run_steps(user: User) {
    let Some(python) = crate::support::cached_fixture("python.tar") else {
        return;
    };
    let cx = TestContext::new(user);
    crate::support::import_python(&cx, &python, "python:3.11-slim");
    let dir = dockerfile(&cx, "ssh", SSH_DOCKERFILE);
    fs_err::write(dir.join("agent.py"), AGENT_CLIENT).unwrap();
    chown_tree(&dir, cx.user);
    let key = cx.work().join("id_test");
    let generated = as_user(&cx, "ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "berth-test", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    // The test's own agent, holding the key too.
    let socket = cx.work().join("agent.sock");
    let _agent = StopAgent {
        child: as_user(&cx, "ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        socket: socket.clone(),
    };
    wait_for("the test's ssh-agent", Duration::from_secs(10), || {
        socket.exists()
    });
    let added = as_user(&cx, "ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let expected = "keys 1\nkeys 1\nskipped\ndenied\nkeys 1\n";

    let key_spec = format!("default={}", key.display());
    let socket_spec = format!("other={}", socket.display());
    let context = dir.to_str().unwrap();
    let work = cx.work();
    let tmp = work.to_str().unwrap();
    cx.run_with_env(
        [
            "build",
            "-q",
            "--ssh",
            &key_spec,
            "--ssh",
            &socket_spec,
            "-t",
            "ssh",
            context,
        ],
        &[("TMPDIR", tmp)],
    )
    .success();
    assert_eq!(cx.ok(["run", "--rm", "ssh"]), expected);
    let left = helpers_in(&work);
    assert!(
        left.is_empty(),
        "an agent or a proxy outlived the build: {left:?}"
    );
    let socket_text = socket.to_str().unwrap();
    cx.run_with_env(
        [
            "build",
            "-q",
            "--no-cache",
            "--ssh",
            "default",
            "--ssh",
            "other",
            "-t",
            "ssh2",
            context,
        ],
        &[("SSH_AUTH_SOCK", socket_text), ("TMPDIR", tmp)],
    )
    .success();
    assert!(helpers_in(&work).is_empty());
    assert_eq!(cx.ok(["run", "--rm", "ssh2"]), expected);
    let listing = cx.ok([
        "run", "--rm", "--user", "0", "ssh2", "ls", "-A", "/run", "/",
    ]);
    assert!(
        !listing.contains("buildkit") && !listing.contains("sock"),
        "{listing}"
    );
    let config = cx.ok(["image", "inspect", "ssh2"]);
    assert!(!config.contains("SSH_AUTH_SOCK"), "{config}");

    let required = dockerfile(
        &cx,
        "ssh-required",
        "FROM python:3.11-slim\nRUN --mount=type=ssh,id=deploy,required true\n",
    );
    cx.run(["build", "-q", required.to_str().unwrap()])
        .failure_with("`--ssh deploy`");
}

crate::as_users!(ssh_agents_reach_run_steps =>
    ssh_agents_reach_run_steps_as_sub: Sub,
    ssh_agents_reach_run_steps_as_root: Root,
);
