//! Containers as the tutorial runs them: foreground and detached `run`, the lifecycle commands
//! (`create`, `start`, `stop`, `restart`, `kill`, `wait`, `rm`, `ps`, `logs`, `inspect`,
//! `prune`, `rename`), the configuration flags, mounts and volumes, the default security
//! profile, a monitor killed under a running container, and a Debian minbase image
//! (`contrib/ci/minbase.sh`).
//!
//! Tests that matter for every identity run as `berth-sub`, `berth-nosub` and root (one test
//! per user, through `as_users!`).

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fixtures::{BUSYBOX, TarBuilder};
use crate::support::{Run, TestContext, User, berth_binary, cmdline, wait_for};
use crate::{as_users, require_users};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A context for `user` with the busybox fixture imported as `busybox`.
fn busybox(user: User) -> Cx {
    let cx = Cx(TestContext::new(user));
    cx.import_busybox("busybox");
    cx
}

/// A test context that force-removes its containers at the end, so a failed test leaves no
/// container process behind.
struct Cx(TestContext);

impl std::ops::Deref for Cx {
    type Target = TestContext;

    fn deref(&self) -> &TestContext {
        &self.0
    }
}

impl Drop for Cx {
    fn drop(&mut self) {
        // The host's cgroups outlive the test directory: remove what a failed test left.
        for id in self.remove_everything() {
            remove_cgroups(&self.0, &id);
        }
    }
}

/// Asserts the exit code, with everything in the message.
fn expect_code(run: &Run, code: i32) {
    assert_eq!(run.code(), code, "{}", run.describe());
}

/// Asserts stderr contains `needle`.
fn expect_stderr(run: &Run, needle: &str) {
    assert!(
        run.stderr().contains(needle),
        "stderr lacks {needle:?}:\n{}",
        run.describe()
    );
}

/// `container inspect` of one container.
fn inspect(cx: &TestContext, container: &str) -> Value {
    let out = cx.ok(["container", "inspect", container]);
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{out}");
    all[0].clone()
}

/// `ps -a` as `NAME|STATUS` lines.
fn ps_all(cx: &TestContext) -> Vec<String> {
    cx.ok(["ps", "-a", "--format", "{{.Names}}|{{.Status}}"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The `STATUS` of one container in `ps -a`.
fn status_of(cx: &TestContext, name: &str) -> String {
    ps_all(cx)
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{name}|")).map(str::to_owned))
        .unwrap_or_else(|| panic!("{name} is not in ps -a: {:?}", ps_all(cx)))
}

/// The directories under `$BERTH_ROOT/containers`.
fn container_dirs(cx: &TestContext) -> Vec<String> {
    match fs_err::read_dir(cx.root().join("containers")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The directories under `$BERTH_ROOT/volumes`.
fn volume_dirs(cx: &TestContext) -> Vec<String> {
    let mut names: Vec<String> = match fs_err::read_dir(cx.root().join("volumes")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Waits until `ps` reports `name` as running.
fn wait_running(cx: &TestContext, name: &str) {
    wait_for(&format!("{name} to run"), Duration::from_secs(10), || {
        cx.ok(["ps", "--format", "{{.Names}}"])
            .lines()
            .any(|l| l == name)
    });
}

/// Waits until the container's log has `needle` (stdout or stderr).
fn wait_log(cx: &TestContext, name: &str, needle: &str) {
    wait_for(
        &format!("{needle:?} in the log of {name}"),
        Duration::from_secs(10),
        || {
            let run = cx.run(["logs", name]);
            run.stdout().contains(needle) || run.stderr().contains(needle)
        },
    );
}

/// Whether `pid` names a live (not zombie) process.
fn alive(pid: i64) -> bool {
    let Ok(stat) = fs_err::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// The numeric entries of /proc.
fn all_pids() -> Vec<i64> {
    fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The live `berth __monitor <id>` processes.
fn monitors_of(id: &str) -> Vec<i64> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            let args = cmdline(*pid);
            args.windows(2).any(|w| w[0] == "__monitor" && w[1] == id) && alive(*pid)
        })
        .collect()
}

/// The live berth processes (not `runuser`) of this context's store.
fn berth_processes_of(cx: &TestContext) -> Vec<i64> {
    let binary = berth_binary().display().to_string();
    let store = format!("BERTH_ROOT={}", cx.root().display());
    all_pids()
        .into_iter()
        .filter(|pid| {
            let environ = fs_err::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            cmdline(*pid).first() == Some(&binary)
                && environ.split(|b| *b == 0).any(|e| e == store.as_bytes())
                && alive(*pid)
        })
        .collect()
}

/// The berth process (not `runuser`, not a child berth forked) that this context started
/// with `arg` among its arguments.
fn berth_process_with(cx: &TestContext, arg: &str) -> i64 {
    let ours: Vec<i64> = berth_processes_of(cx)
        .into_iter()
        .filter(|pid| cmdline(*pid).iter().any(|a| a == arg))
        .collect();
    let parent = |pid: i64| -> Option<i64> {
        let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let top: Vec<i64> = ours
        .iter()
        .copied()
        .filter(|pid| parent(*pid).is_none_or(|p| !ours.contains(&p)))
        .collect();
    assert_eq!(top.len(), 1, "berth processes with {arg}: {ours:?}");
    top[0]
}

/// Mount table lines, of any process, that mention `needle`.
fn mounts_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for pid in all_pids() {
        if let Ok(text) = fs_err::read_to_string(format!("/proc/{pid}/mountinfo")) {
            found.extend(
                text.lines()
                    .filter(|l| l.contains(needle))
                    .map(|l| format!("pid {pid}: {l}")),
            );
        }
    }
    found
}

/// The host uid of `user`.
fn host_uid(user: User) -> u32 {
    nix::unistd::User::from_name(user.name())
        .unwrap()
        .unwrap()
        .uid
        .as_raw()
}

/// Imports `tar` (bytes) as `name` with `--change` instructions.
fn import_with(cx: &TestContext, tar: &[u8], name: &str, changes: &[&str]) -> String {
    let path = cx.write_file(&format!("{}.tar", name.replace([':', '/'], "_")), tar);
    let mut args: Vec<String> = vec!["import".into()];
    for change in changes {
        args.push("--change".into());
        args.push((*change).to_owned());
    }
    args.push(path.display().to_string());
    args.push(name.to_owned());
    cx.ok(args).trim().to_owned()
}

/// The busybox fixture's /etc/group.
const GROUP: &[u8] = b"root:x:0:\nuser:x:1000:\n";

/// The busybox fixture with `group` as /etc/group, plus `extra` entries, in one layer.
fn busybox_with(group: &[u8], extra: impl FnOnce(TarBuilder) -> TarBuilder) -> Vec<u8> {
    let busybox = fs_err::read(BUSYBOX).unwrap();
    let mut tar = TarBuilder::new()
        .dir("bin", 0o755)
        .file("bin/busybox", 0o755, &busybox)
        .dir("etc", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
        )
        .file("etc/group", 0o644, group)
        .dir("tmp", 0o1777)
        .dir("root", 0o700);
    for applet in [
        "sh", "ls", "cat", "echo", "id", "true", "sleep", "stat", "env",
    ] {
        tar = tar.symlink(&format!("bin/{applet}"), "busybox");
    }
    extra(tar).finish()
}

/// Starts berth in the background (stdout and stderr piped).
fn spawn(cx: &TestContext, args: &[&str]) -> Child {
    cx.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a spawned berth; returns (code, stdout, stderr).
fn finish(cx: &TestContext, child: Child) -> (i32, String, String) {
    finish_within(cx, child, Duration::from_secs(60))
}

/// [`finish`], failing when it runs longer than `timeout` (then this context's foreground
/// berth processes are killed, so that nothing hangs on).
fn finish_within(cx: &TestContext, mut child: Child, timeout: Duration) -> (i32, String, String) {
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            for pid in berth_processes_of(cx) {
                if !cmdline(pid).iter().any(|a| a == "__monitor") {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            let _ = child.wait();
            panic!("still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn is_container_id(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// ---------------------------------------------------------------------------------------------
// 1, 2. Foreground runs: streams, exit codes, stdin, --rm
// ---------------------------------------------------------------------------------------------

fn foreground(user: User) {
    let cx = busybox(user);

    // stdout and stderr stay apart; the container's code is ours.
    let run = cx.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    expect_code(&run, 3);
    assert_eq!(run.stdout(), "out\n", "{}", run.describe());
    expect_stderr(&run, "err\n");
    assert!(!run.stderr().contains("out"), "{}", run.describe());

    let run = cx.run(["run", "--rm", "busybox", "true"]);
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "");
    // pid 1 of a PID namespace ignores even SIGKILL from inside it (as in Docker): 137 only
    // comes from outside (foreground_signals).
    let run = cx.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "kill -9 $$; echo survived",
    ]);
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "survived\n");

    // Docker's 127, 126 and 125, with Docker's words.
    let run = cx.run(["run", "--rm", "busybox", "nonexist"]);
    expect_code(&run, 127);
    expect_stderr(
        &run,
        "exec: \"nonexist\": executable file not found in $PATH",
    );
    let run = cx.run(["run", "--rm", "busybox", "/etc/passwd"]);
    expect_code(&run, 126);
    expect_stderr(&run, "exec: \"/etc/passwd\": permission denied");
    let run = cx.run(["run", "--rm", "nosuchimage", "true"]);
    expect_code(&run, 125);
    expect_stderr(&run, "Unable to find image 'nosuchimage");

    // --rm leaves nothing, neither does a run that could not start.
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&cx), Vec::<String>::new());
    let run = cx.run(["run", "--name", "broken", "busybox", "nonexist"]);
    expect_code(&run, 127);
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&cx), Vec::<String>::new());
    // ... and its name is free again.
    cx.ok(["create", "--name", "broken", "busybox", "true"]);
    cx.ok(["rm", "broken"]);

    // Without --rm the container stays, exited with its code.
    let run = cx.run(["run", "--name", "kept", "busybox", "sh", "-c", "exit 3"]);
    expect_code(&run, 3);
    let status = status_of(&cx, "kept");
    assert!(
        status.starts_with("Exited (3) ") && status.ends_with(" ago"),
        "{status}"
    );
    let state = &inspect(&cx, "kept")["State"];
    assert_eq!(state["Status"], "exited");
    assert_eq!(state["ExitCode"], 3);
    assert_eq!(state["Running"], false);
    assert_eq!(cx.ok(["rm", "kept"]), "kept\n");
    assert_eq!(container_dirs(&cx), Vec::<String>::new());

    // -i passes stdin (all of it); without -i the container's stdin is empty.
    let run = cx.run_with_stdin(["run", "-i", "--rm", "busybox", "cat"], b"hello\n");
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "hello\n", "{}", run.describe());
    let run = cx.run_with_stdin(["run", "--rm", "busybox", "cat"], b"hello\n");
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "", "{}", run.describe());
    let big = vec![b'x'; 300_000];
    let run = cx.run_with_stdin(
        ["run", "-i", "--rm", "busybox", "busybox", "wc", "-c"],
        &big,
    );
    expect_code(&run, 0);
    assert_eq!(run.stdout().trim(), "300000", "{}", run.describe());
    // Large output arrives whole.
    let run = cx.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 5000 ]; do echo line$i; i=$((i+1)); done",
    ]);
    expect_code(&run, 0);
    let lines: Vec<String> = run.stdout().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 5000);
    assert_eq!(lines[4999], "line4999");
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
}

as_users!(foreground =>
    foreground_streams_codes_stdin_and_rm_as_sub: Sub,
    foreground_streams_codes_stdin_and_rm_as_nosub: NoSub,
    foreground_streams_codes_stdin_and_rm_as_root: Root,
);

fn foreground_signals(user: User) {
    let cx = busybox(user);
    // Killed from outside with SIGKILL: 137. (From inside, `kill -9 $$` cannot kill pid 1 of
    // a PID namespace: the kernel ignores it, in Docker too.)
    let child = spawn(
        &cx,
        &["run", "--rm", "--name", "fg", "busybox", "sleep", "100"],
    );
    wait_running(&cx, "fg");
    assert_eq!(cx.ok(["kill", "fg"]), "fg\n");
    let (code, _, stderr) = finish(&cx, child);
    assert_eq!(code, 137, "{stderr}");
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");

    // SIGTERM to a foreground run reaches the container (Docker's --sig-proxy).
    let child = spawn(
        &cx,
        &[
            "run",
            "--name",
            "fwd",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got TERM; exit 4' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    wait_log(&cx, "fwd", "ready");
    let pid = berth_process_with(&cx, "fwd");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (code, stdout, stderr) = finish(&cx, child);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert_eq!(stdout, "ready\ngot TERM\n");
    assert!(status_of(&cx, "fwd").starts_with("Exited (4)"));
}

/// `berth run … | head -1` must end like any command in a pipeline: once its stdout is
/// closed, berth stops (and the foreground container with it) instead of relaying forever.
#[test]
fn foreground_run_ends_when_its_stdout_closes() {
    use std::io::Read as _;
    require_users!();
    let cx = busybox(User::Sub);
    let mut child = spawn(&cx, &["run", "--rm", "busybox", "busybox", "yes"]);
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 2];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"y\n");
    drop(stdout);
    let (_, _, stderr) = finish_within(&cx, child, Duration::from_secs(10));
    wait_for("the container to end", Duration::from_secs(10), || {
        cx.ok(["ps", "-q"]).is_empty()
    });
    assert!(!stderr.contains("panicked"), "{stderr}");
}

as_users!(foreground_signals =>
    foreground_kill_and_signal_forwarding_as_sub: Sub,
    foreground_kill_and_signal_forwarding_as_root: Root,
);

// ---------------------------------------------------------------------------------------------
// 3. Detached containers and the lifecycle commands
// ---------------------------------------------------------------------------------------------

/// A container that ends cleanly on TERM and with 7 on USR1.
const POLITE: &str = "trap 'echo bye; exit 0' TERM; trap 'exit 7' USR1; \
    echo one; echo two; echo oops >&2; while true; do sleep 0.1; done";

fn detached_lifecycle(user: User) {
    let cx = busybox(user);
    let run = cx.run(["run", "-d", "--name", "web", "busybox", "sh", "-c", POLITE]);
    expect_code(&run, 0);
    let id = run.stdout().trim().to_owned();
    assert!(is_container_id(&id), "{}", run.describe());
    assert_eq!(run.stdout(), format!("{id}\n"));

    // ps: Docker's columns, the short ID, Up.
    let out = cx.ok(["ps"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id[..12]), "{out}");
    assert!(row.contains(" Up ") && row.ends_with("web"), "{out}");
    assert!(status_of(&cx, "web").starts_with("Up "));
    assert_eq!(cx.ok(["ps", "-q"]), format!("{}\n", &id[..12]));
    assert_eq!(cx.ok(["ps", "-q", "--no-trunc"]), format!("{id}\n"));
    let json: Value = serde_json::from_str(cx.ok(["ps", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Names"], "web");
    assert_eq!(json["State"], "running");

    // inspect: Docker's shape; the pid is the container's init, alive on the host.
    let info = inspect(&cx, "web");
    assert_eq!(info["Id"], id.as_str());
    assert_eq!(info["Name"], "/web");
    assert_eq!(info["State"]["Status"], "running");
    assert_eq!(info["State"]["Running"], true);
    let pid = info["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 0 && alive(pid), "{info}");
    assert_eq!(monitors_of(&id).len(), 1);
    assert_eq!(info["Config"]["Cmd"][0], "sh");
    assert_eq!(info["Config"]["Hostname"], &id[..12]);
    assert_eq!(inspect(&cx, &id[..8])["Id"], id.as_str());

    // logs, --tail, -t.
    wait_log(&cx, "web", "oops");
    let logs = cx.run(["logs", "web"]).success();
    assert_eq!(logs.stdout(), "one\ntwo\n");
    assert_eq!(logs.stderr(), "oops\n");
    let tail = cx.run(["logs", "--tail", "2", "web"]).success();
    assert_eq!(tail.stdout(), "two\n");
    assert_eq!(tail.stderr(), "oops\n");
    let tail = cx.run(["logs", "--tail", "1", "web"]).success();
    assert_eq!(tail.stdout(), "");
    let stamped = cx.ok(["logs", "-t", "web"]);
    for (line, text) in stamped.lines().zip(["one", "two"]) {
        let (time, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, text, "{stamped}");
        // RFC 3339 in UTC with nanoseconds: 2024-01-02T03:04:05.123456789Z.
        assert_eq!(time.len(), 30, "{line}");
        assert!(time.ends_with('Z'), "{line}");
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{line}");
    }

    // stop: TERM ends it at once (well within the 10 s timeout).
    let started = Instant::now();
    assert_eq!(cx.ok(["stop", "web"]), "web\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!alive(pid));
    assert_eq!(cx.ok(["wait", "web"]), "0\n");
    assert!(status_of(&cx, "web").starts_with("Exited (0) "));
    wait_log(&cx, "web", "bye");
    let info = inspect(&cx, "web");
    assert_eq!(info["State"]["Status"], "exited");
    assert_eq!(info["State"]["Running"], false);
    assert_eq!(info["State"]["Pid"], 0);
    assert_ne!(info["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    let first_start = info["State"]["StartedAt"].clone();
    wait_for("the monitor to end", Duration::from_secs(5), || {
        monitors_of(&id).is_empty()
    });
    assert_eq!(cx.ok(["ps", "-q"]), "");

    // start again: a new process, the log grows.
    assert_eq!(cx.ok(["start", "web"]), "web\n");
    assert!(status_of(&cx, "web").starts_with("Up "));
    let info = inspect(&cx, "web");
    assert_ne!(info["State"]["StartedAt"], first_start);
    let second_pid = info["State"]["Pid"].as_i64().unwrap();
    assert!(alive(second_pid));
    wait_for("the second run's output", Duration::from_secs(10), || {
        cx.ok(["logs", "web"]).matches("one").count() == 2
    });
    // Starting a running container is a no-op.
    assert_eq!(cx.ok(["start", "web"]), "web\n");
    assert_eq!(inspect(&cx, "web")["State"]["Pid"], second_pid);

    // kill -s: the container's own handler decides the code. `logs -f` follows until the end.
    let follower = spawn(&cx, &["logs", "-f", "web"]);
    assert_eq!(cx.ok(["kill", "-s", "USR1", "web"]), "web\n");
    assert_eq!(cx.ok(["wait", "web"]), "7\n");
    assert!(status_of(&cx, "web").starts_with("Exited (7) "));
    let (code, stdout, stderr) = finish_within(&cx, follower, Duration::from_secs(10));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "one\ntwo\nbye\none\ntwo\n");
    assert_eq!(stderr, "oops\noops\n");
    assert_eq!(cx.ok(["logs", "--since", "1h", "web"]), stdout);
    assert_eq!(
        cx.ok(["logs", "--since", "2099-01-01T00:00:00Z", "web"]),
        ""
    );
    cx.run(["kill", "web"]).failure_with("is not running");

    // restart: stopped or running, it runs again afterwards.
    assert_eq!(cx.ok(["restart", "web"]), "web\n");
    assert!(status_of(&cx, "web").starts_with("Up "));
    let before = inspect(&cx, "web")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(cx.ok(["restart", "-t", "1", "web"]), "web\n");
    let after = inspect(&cx, "web")["State"]["Pid"].as_i64().unwrap();
    assert_ne!(before, after);
    assert!(!alive(before) && alive(after));
    assert!(status_of(&cx, "web").starts_with("Up "));

    // rename, even while running.
    cx.ok(["rename", "web", "web2"]);
    assert_eq!(cx.ok(["ps", "--format", "{{.Names}}"]), "web2\n");
    cx.run(["logs", "web"])
        .failure_with("No such container: web");
    assert_eq!(inspect(&cx, "web2")["Name"], "/web2");

    // rm: refused while running, -f kills.
    let run = cx.run(["rm", "web2"]);
    expect_code(&run, 1);
    expect_stderr(
        &run,
        "cannot remove container \"/web2\": container is running: stop the container before removing or force remove",
    );
    assert!(alive(after));
    assert_eq!(cx.ok(["rm", "-f", "web2"]), "web2\n");
    wait_for(
        "the container's process to go",
        Duration::from_secs(5),
        || !alive(after),
    );
    wait_for("the monitor to end", Duration::from_secs(5), || {
        monitors_of(&id).is_empty()
    });
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&cx), Vec::<String>::new());
    cx.run(["rm", "web2"])
        .failure_with("No such container: web2");
    assert_eq!(mounts_mentioning(&id), Vec::<String>::new());
}

as_users!(detached_lifecycle =>
    detached_lifecycle_as_sub: Sub,
    detached_lifecycle_as_nosub: NoSub,
    detached_lifecycle_as_root: Root,
);

#[test]
fn stop_kills_a_container_that_ignores_the_stop_signal() {
    require_users!();
    let cx = busybox(User::Sub);
    // `sleep` as pid 1 has no handler for TERM: the kernel drops it.
    cx.ok(["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    let pid = inspect(&cx, "sleeper")["State"]["Pid"].as_i64().unwrap();
    let started = Instant::now();
    assert_eq!(cx.ok(["stop", "-t", "1", "sleeper"]), "sleeper\n");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(!alive(pid));
    assert_eq!(cx.ok(["wait", "sleeper"]), "137\n");
    assert!(status_of(&cx, "sleeper").starts_with("Exited (137) "));

    // --stop-signal and --stop-timeout are the container's defaults for stop.
    cx.ok([
        "run",
        "-d",
        "--name",
        "custom",
        "--stop-signal",
        "USR1",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        POLITE,
    ]);
    assert_eq!(inspect(&cx, "custom")["Config"]["StopSignal"], "USR1");
    cx.ok(["stop", "custom"]);
    assert_eq!(cx.ok(["wait", "custom"]), "7\n");
    cx.ok([
        "run",
        "-d",
        "--name",
        "quick",
        "--stop-timeout",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    let started = Instant::now();
    cx.ok(["stop", "quick"]);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cx.ok(["wait", "quick"]), "137\n");
}

#[test]
fn create_then_start_attached() {
    require_users!();
    let cx = busybox(User::Sub);
    let id = cx
        .ok([
            "create",
            "--name",
            "att",
            "busybox",
            "sh",
            "-c",
            "echo attached; echo problem >&2; exit 5",
        ])
        .trim()
        .to_owned();
    assert!(is_container_id(&id), "{id}");
    assert_eq!(status_of(&cx, "att"), "Created");
    assert_eq!(cx.ok(["ps", "-q"]), "");
    assert_eq!(
        cx.ok(["ps", "-a", "-q", "--filter", "status=created"]),
        format!("{}\n", &id[..12])
    );
    let info = inspect(&cx, "att");
    assert_eq!(info["State"]["Status"], "created");
    assert_eq!(info["State"]["StartedAt"], "0001-01-01T00:00:00Z");

    let run = cx.run(["start", "-a", "att"]);
    expect_code(&run, 5);
    assert_eq!(run.stdout(), "attached\n");
    expect_stderr(&run, "problem\n");
    assert!(status_of(&cx, "att").starts_with("Exited (5) "));
    assert_eq!(
        cx.ok(["ps", "-a", "-q", "--filter", "exited=5"]),
        format!("{}\n", &id[..12])
    );
    // Again, detached: the code is recorded, the log has both runs.
    assert_eq!(cx.ok(["start", "att"]), "att\n");
    assert_eq!(cx.ok(["wait", "att"]), "5\n");
    wait_for("both runs in the log", Duration::from_secs(5), || {
        cx.ok(["logs", "att"]) == "attached\nattached\n"
    });
    cx.run(["start", "nothere"])
        .failure_with("No such container: nothere");
}

#[test]
fn prune_asks_and_keeps_running_containers() {
    require_users!();
    let cx = busybox(User::Sub);
    let first = cx.ok(["run", "-d", "busybox", "true"]).trim().to_owned();
    let second = cx.ok(["create", "busybox", "true"]).trim().to_owned();
    cx.ok(["run", "-d", "--name", "alive", "busybox", "sleep", "1000"]);
    assert_eq!(cx.ok(["wait", &first]), "0\n");
    // prune leaves a container whose monitor is still cleaning up.
    wait_for("the monitor to end", Duration::from_secs(10), || {
        monitors_of(&first).is_empty()
    });

    // No answer (stdin closed) and "n" are no.
    let run = cx.run(["container", "prune"]).success();
    assert!(
        run.stdout()
            .contains("WARNING! This will remove all stopped containers."),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout()
            .contains("Are you sure you want to continue? [y/N]")
    );
    assert!(!run.stdout().contains("Deleted"), "{}", run.describe());
    cx.run_with_stdin(["container", "prune"], b"n\n").success();
    assert_eq!(ps_all(&cx).len(), 3);

    let out = cx
        .run_with_stdin(["container", "prune"], b"y\n")
        .success()
        .stdout();
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains(&format!("\n{first}\n")), "{out}");
    assert!(out.contains(&format!("\n{second}\n")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    let left = ps_all(&cx);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("alive|Up "), "{left:?}");
    assert_eq!(container_dirs(&cx).len(), 1);

    // -f: no prompt; nothing stopped, nothing deleted.
    let out = cx.ok(["container", "prune", "-f"]);
    assert!(
        !out.contains("WARNING") && !out.contains("Deleted"),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space: 0B"), "{out}");
    cx.ok(["rm", "-f", "alive"]);
}

#[test]
fn restart_policies_retry_and_stop_ends_them() {
    require_users!();
    let cx = busybox(User::Sub);
    cx.ok([
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo try; exit 1",
    ]);
    wait_for("two restarts", Duration::from_secs(15), || {
        let info = inspect(&cx, "flaky");
        info["RestartCount"] == 2 && info["State"]["Status"] == "exited"
    });
    assert_eq!(
        cx.ok(["wait", "flaky"]),
        "1\n",
        "{}\nlogs:\n{}",
        inspect(&cx, "flaky"),
        cx.ok(["logs", "flaky"])
    );
    assert_eq!(cx.ok(["logs", "flaky"]), "try\ntry\ntry\n");
    assert_eq!(
        inspect(&cx, "flaky")["HostConfig"]["RestartPolicy"]["Name"],
        "on-failure"
    );
    cx.run(["run", "--rm", "--restart", "always", "busybox", "true"])
        .failure_with("cannot specify both --restart and --rm");

    // always: restarts until stopped; stop ends it for good.
    cx.ok([
        "run",
        "-d",
        "--name",
        "forever",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2; exit 2",
    ]);
    wait_for("two restarts", Duration::from_secs(15), || {
        inspect(&cx, "forever")["RestartCount"].as_u64() >= Some(2)
    });
    assert_eq!(cx.ok(["stop", "-t", "1", "forever"]), "forever\n");
    let count = inspect(&cx, "forever")["RestartCount"].clone();
    std::thread::sleep(Duration::from_millis(800));
    let info = inspect(&cx, "forever");
    assert_eq!(info["RestartCount"], count);
    assert_eq!(info["State"]["Status"], "exited");
    let id = info["Id"].as_str().unwrap().to_owned();
    wait_for("the monitor to end", Duration::from_secs(5), || {
        monitors_of(&id).is_empty()
    });

    // rm -f between two runs (the back-off after six restarts is 6.4 s): the monitor ends
    // at once rather than after the back-off (when it would start the removed container
    // again), and the published port is free.
    let port = crate::support::free_port();
    cx.ok([
        "run",
        "-d",
        "--name",
        "bouncing",
        "--restart",
        "always",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_for("six restarts", Duration::from_secs(20), || {
        inspect(&cx, "bouncing")["RestartCount"].as_u64() >= Some(6)
    });
    let id = inspect(&cx, "bouncing")["Id"].as_str().unwrap().to_owned();
    cx.run(["rm", "bouncing"]).failure_with(
        "container is restarting: stop the container before removing or force remove",
    );
    assert_eq!(cx.ok(["rm", "-f", "bouncing"]), "bouncing\n");
    wait_for("the monitor to end", Duration::from_millis(1500), || {
        monitors_of(&id).is_empty()
    });
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port {port} is still held after rm -f"
    );
    cx.run(["inspect", "bouncing"])
        .failure_with("No such object: bouncing");
}

/// With `--network host` and no `--hostname`, Docker gives the container the host's name.
#[test]
fn host_network_uses_the_hosts_hostname() {
    require_users!();
    let cx = busybox(User::Sub);
    let host = fs_err::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "busybox",
            "hostname"
        ]),
        host
    );
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--network",
            "host",
            "-h",
            "mine",
            "busybox",
            "busybox",
            "hostname"
        ]),
        "mine\n"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Names
// ---------------------------------------------------------------------------------------------

/// `image rm` refuses an image that a container stands on, in Docker's words for a name, and
/// for an ID used by a stopped or a running container; `-f` removes it anyway.
#[test]
fn image_rm_refuses_an_image_in_use() {
    require_users!();
    let cx = busybox(User::Sub);
    let image = cx.ok(["images", "-q", "busybox"]).trim().to_owned();
    let stopped = cx.ok(["create", "busybox", "true"]).trim()[..12].to_owned();
    let run = cx.run(["rmi", "busybox"]);
    expect_code(&run, 1);
    expect_stderr(
        &run,
        &format!(
            "Error: conflict: unable to remove repository reference \"busybox\" (must force) - container {stopped} is using its referenced image {image}"
        ),
    );
    let run = cx.run(["image", "rm", &image]);
    expect_code(&run, 1);
    expect_stderr(
        &run,
        &format!(
            "conflict: unable to delete {image} (must be forced) - image is being used by stopped container {stopped}"
        ),
    );
    let running = cx.ok(["run", "-d", "busybox", "sleep", "100"]).trim()[..12].to_owned();
    cx.run(["rmi", &image]).failure_with(&format!(
        "conflict: unable to delete {image} (must be forced) - image is being used by running container {running}"
    ));
    assert_eq!(cx.ok(["images", "-q"]), format!("{image}\n"));
    cx.ok(["rm", "-f", &running, &stopped]);
    cx.ok(["rmi", "busybox"]);
    assert_eq!(cx.ok(["images", "-q"]), "");
}

#[test]
fn names_collide_with_dockers_message() {
    require_users!();
    let cx = busybox(User::Sub);
    let id = cx
        .ok(["create", "--name", "web", "busybox", "true"])
        .trim()
        .to_owned();
    let expected = format!(
        "the container name \"/web\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    );
    let run = cx.run(["run", "--name", "web", "busybox", "true"]);
    expect_code(&run, 125);
    expect_stderr(&run, &expected);
    cx.run(["create", "--name", "/web", "busybox", "true"])
        .failure_with(&expected);
    cx.ok(["create", "--name", "other", "busybox", "true"]);
    cx.run(["rename", "other", "web"]).failure_with(&expected);
    cx.run(["create", "--name", "a", "busybox", "true"])
        .failure_with("Invalid container name");
    cx.run(["create", "--name", "bad name", "busybox", "true"])
        .failure_with("Invalid container name");
    assert_eq!(ps_all(&cx).len(), 2);
    cx.run(["ps", "-a", "--filter", "name=web", "-q"]).success();
    assert_eq!(
        cx.ok(["ps", "-a", "--filter", "name=web", "--format", "{{.Names}}"]),
        "web\n"
    );
    // The other filters and selections of ps.
    assert_eq!(
        cx.ok([
            "ps",
            "-a",
            "--filter",
            &format!("id={}", &id[..6]),
            "--format",
            "{{.Names}}"
        ]),
        "web\n"
    );
    assert_eq!(
        cx.ok(["ps", "-a", "--filter", "ancestor=busybox", "-q"])
            .lines()
            .count(),
        2
    );
    assert_eq!(
        cx.ok(["ps", "-a", "--filter", "ancestor=busybox:latest", "-q"])
            .lines()
            .count(),
        2
    );
    assert_eq!(cx.ok(["ps", "-a", "--filter", "ancestor=other", "-q"]), "");
    assert_eq!(cx.ok(["ps", "-l", "--format", "{{.Names}}"]), "other\n");
    assert_eq!(
        cx.ok(["ps", "-n", "1", "--format", "{{.Names}}"]),
        "other\n"
    );
    assert_eq!(cx.ok(["ps", "-n", "2", "-q"]).lines().count(), 2);
    cx.run(["ps", "--filter", "status=bogus"])
        .failure_with("invalid filter");
    // Generated names: Docker's adjective_surname.
    cx.ok(["create", "busybox", "true"]);
    let names = cx.ok(["ps", "-a", "--format", "{{.Names}}"]);
    let generated = names
        .lines()
        .find(|n| *n != "web" && *n != "other")
        .unwrap();
    let (adjective, surname) = generated.split_once('_').unwrap();
    assert!(
        !adjective.is_empty()
            && adjective.bytes().all(|b| b.is_ascii_lowercase())
            && !surname.is_empty()
            && surname
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{generated}"
    );
}

#[test]
fn parallel_runs_get_unique_names_and_ids() {
    require_users!();
    let cx = busybox(User::Sub);
    let children: Vec<Child> = (0..32)
        .map(|_| spawn(&cx, &["run", "-d", "busybox", "true"]))
        .collect();
    let mut ids: Vec<String> = children
        .into_iter()
        .map(|child| {
            let (code, stdout, stderr) = finish(&cx, child);
            assert_eq!(code, 0, "{stdout}{stderr}");
            stdout.trim().to_owned()
        })
        .collect();
    assert!(ids.iter().all(|id| is_container_id(id)), "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 32);
    let mut names: Vec<String> = cx
        .ok(["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(names.len(), 32);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 32);
    let mut listed: Vec<String> = cx
        .ok(["ps", "-a", "-q", "--no-trunc"])
        .lines()
        .map(str::to_owned)
        .collect();
    listed.sort();
    assert_eq!(listed, ids);

    // 32 foreground --rm runs at once: all succeed, none stays.
    let children: Vec<Child> = (0..32)
        .map(|i| {
            spawn(
                &cx,
                &[
                    "run",
                    "--rm",
                    "busybox",
                    "sh",
                    "-c",
                    &format!("echo run{i}"),
                ],
            )
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let (code, stdout, stderr) = finish(&cx, child);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert_eq!(stdout, format!("run{i}\n"));
    }
    assert_eq!(cx.ok(["ps", "-a", "-q"]).lines().count(), 32);
    assert_eq!(container_dirs(&cx).len(), 32);
    for id in &ids {
        assert_eq!(cx.ok(["wait", id]), "0\n");
    }
    cx.assert_store_clean();
}

/// A short container's exit code must survive readers: `wait`, `ps` and `inspect` reconcile
/// records of vanished processes (monitor gone, process gone ⇒ 137) from a copy they loaded
/// before; when the monitor records the real exit and ends in between, that stale copy must
/// not overwrite it. Racy by nature: many short containers, with readers polling meanwhile.
#[test]
fn exit_codes_survive_concurrent_readers() {
    require_users!();
    let cx = busybox(User::Sub);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let bad: Vec<String> = std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = cx.run(["ps", "-a"]);
                }
            });
        }
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut bad = Vec::new();
                    for _ in 0..20 {
                        let id = cx.ok(["run", "-d", "busybox", "true"]).trim().to_owned();
                        let code = cx.ok(["wait", &id]);
                        if code != "0\n" {
                            bad.push(format!("{id}: {}", code.trim()));
                        }
                    }
                    bad
                })
            })
            .collect();
        let bad = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        bad
    });
    assert_eq!(
        bad,
        Vec::<String>::new(),
        "containers of `true` recorded as killed"
    );
    let statuses = cx.ok(["ps", "-a", "--format", "{{.Status}}"]);
    assert_eq!(statuses.lines().count(), 80);
    assert!(
        statuses.lines().all(|s| s.starts_with("Exited (0) ")),
        "{statuses}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Configuration
// ---------------------------------------------------------------------------------------------

fn configuration(user: User) {
    let cx = busybox(user);

    // -e and --env-file over the image's ENV; later wins.
    let env_file = cx.write_file(
        "app.env",
        b"# a comment\n\nFROM_FILE=file value\nOVERRIDDEN=file\n  INDENTED=yes\nEMPTY=\n",
    );
    let env_file = env_file.display().to_string();
    import_with(
        &cx,
        &busybox_with(GROUP, |t| t),
        "envimg",
        &["ENV A=1", "ENV B=\"two words\"", "ENV OVERRIDDEN=image"],
    );
    let out = cx.ok([
        "run",
        "--rm",
        "--env-file",
        &env_file,
        "-e",
        "OVERRIDDEN=flag",
        "-e",
        "X=1=2",
        "envimg",
        "env",
    ]);
    let env: Vec<&str> = out.lines().collect();
    for wanted in [
        "A=1",
        "B=two words",
        "FROM_FILE=file value",
        "OVERRIDDEN=flag",
        "INDENTED=yes",
        "EMPTY=",
        "X=1=2",
        "HOME=/root",
    ] {
        assert!(env.contains(&wanted), "{wanted} missing from {env:?}");
    }
    assert!(env.iter().any(|e| e.starts_with("PATH=/")), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with('#')), "{env:?}");
    let env = cx.ok(["run", "--rm", "envimg", "env"]);
    assert!(env.lines().any(|l| l == "OVERRIDDEN=image"), "{env}");
    let bad = cx.write_file("bad.env", b"GOOD=1\nBAD LINE\n");
    let run = cx.run([
        "run".as_ref(),
        "--rm".as_ref(),
        "--env-file".as_ref(),
        bad.as_os_str(),
        "busybox".as_ref(),
        "true".as_ref(),
    ]);
    expect_code(&run, 125);
    expect_stderr(&run, &format!("{}:2", bad.display()));
    let run = cx.run([
        "run",
        "--rm",
        "--env-file",
        "/nonexistent.env",
        "busybox",
        "true",
    ]);
    expect_code(&run, 125);
    expect_stderr(&run, "/nonexistent.env");

    // -w (existing), --entrypoint, --hostname with /etc/hostname and /etc/hosts.
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "-w",
            "/tmp",
            "busybox",
            "sh",
            "-c",
            "echo $PWD"
        ]),
        "/tmp\n"
    );
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "hi",
            "there"
        ]),
        "hi there\n"
    );
    // The image's ENTRYPOINT and CMD; arguments replace CMD; --entrypoint resets CMD.
    import_with(
        &cx,
        &busybox_with(GROUP, |t| t),
        "epimg",
        &["ENTRYPOINT [\"echo\", \"ep\"]", "CMD [\"default\"]"],
    );
    assert_eq!(cx.ok(["run", "--rm", "epimg"]), "ep default\n");
    assert_eq!(cx.ok(["run", "--rm", "epimg", "other"]), "ep other\n");
    assert_eq!(
        cx.ok(["run", "--rm", "--entrypoint", "echo", "epimg"]),
        "\n"
    );
    assert_eq!(
        cx.ok(["run", "--rm", "--entrypoint", "", "epimg", "echo", "plain"]),
        "plain\n"
    );
    cx.ok(["create", "--name", "ep", "epimg"]);
    let config = &inspect(&cx, "ep")["Config"];
    assert_eq!(config["Entrypoint"], serde_json::json!(["echo", "ep"]));
    assert_eq!(config["Cmd"], serde_json::json!(["default"]));
    cx.ok(["rm", "ep"]);
    let out = cx.ok([
        "run",
        "--rm",
        "--hostname",
        "myhost",
        "busybox",
        "sh",
        "-c",
        "busybox hostname; cat /etc/hostname; echo $HOSTNAME; cat /etc/hosts",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("myhost"), "{out}");
    assert_eq!(lines.next(), Some("myhost"), "{out}");
    assert_eq!(lines.next(), Some("myhost"), "{out}");
    let hosts: Vec<&str> = lines.collect();
    assert!(hosts.contains(&"127.0.0.1\tlocalhost"), "{out}");
    // The host name resolves to the container's own address.
    assert!(
        hosts
            .iter()
            .any(|l| l.split_whitespace().skip(1).any(|w| w == "myhost")),
        "{out}"
    );
    // The default host name is the short ID.
    let id = cx
        .ok(["run", "-d", "busybox", "sh", "-c", "busybox hostname"])
        .trim()
        .to_owned();
    assert_eq!(cx.ok(["wait", &id]), "0\n");
    assert_eq!(cx.ok(["logs", &id]), format!("{}\n", &id[..12]));

    // Labels: inspect and ps --filter label=.
    cx.ok([
        "create",
        "--name",
        "labelled",
        "-l",
        "team=blue",
        "--label",
        "solo",
        "busybox",
        "true",
    ]);
    cx.ok(["create", "--name", "plain", "busybox", "true"]);
    let labels = &inspect(&cx, "labelled")["Config"]["Labels"];
    assert_eq!(labels["team"], "blue");
    assert_eq!(labels["solo"], "");
    for filter in ["label=team=blue", "label=team", "label=solo"] {
        assert_eq!(
            cx.ok(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]),
            "labelled\n",
            "{filter}"
        );
    }
    assert_eq!(
        cx.ok([
            "ps",
            "-a",
            "--filter",
            "label=team=red",
            "--format",
            "{{.Names}}"
        ]),
        ""
    );
    // Docker's `.Label` method in templates.
    assert_eq!(
        cx.ok([
            "ps",
            "-a",
            "--filter",
            "label=team",
            "--format",
            "{{.Names}} {{.Label \"team\"}}|{{.Label \"solo\"}}|{{.Label \"none\"}}"
        ]),
        "labelled blue||\n"
    );

    // The network: pasta's copy of the host's interface by default; only lo (up) with
    // --network none; the host's with --network host.
    let out = cx.ok(["run", "--rm", "busybox", "ls", "/sys/class/net"]);
    assert!(out.lines().count() == 2 && out.contains("lo\n"), "{out}");
    let out = cx.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(out, "lo\n");
    let out = cx.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/sys/class/net/lo/operstate",
    ]);
    assert!(out == "unknown\n" || out == "up\n", "{out}");
    let mut host: Vec<String> = fs_err::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let mut seen: Vec<String> = cx
        .ok([
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "ls",
            "/sys/class/net",
        ])
        .lines()
        .map(str::to_owned)
        .collect();
    seen.sort();
    assert_eq!(seen, host);
    cx.run([
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "8080:80",
        "busybox",
        "true",
    ])
    .failure_with("cannot publish ports with --network host");
}

as_users!(configuration =>
    configuration_env_workdir_hostname_labels_network_as_sub: Sub,
    configuration_env_workdir_hostname_labels_network_as_nosub: NoSub,
    configuration_env_workdir_hostname_labels_network_as_root: Root,
);

fn users_in_the_image(user: User) {
    let cx = busybox(user);
    assert_eq!(cx.ok(["run", "--rm", "busybox", "id", "-u"]), "0\n");
    assert_eq!(
        cx.ok(["run", "--rm", "-u", "1000", "busybox", "id", "-u"]),
        "1000\n"
    );
    let out = cx.ok([
        "run",
        "--rm",
        "-u",
        "user",
        "busybox",
        "sh",
        "-c",
        "id -u; id -g; echo $HOME; cat /home/user/owned; stat -c %u:%g /home/user/owned",
    ]);
    assert_eq!(out, "1000\n1000\n/home/user\nmine\n1000:1000\n");
    assert_eq!(
        cx.ok(["run", "--rm", "-u", "1000:0", "busybox", "id", "-g"]),
        "0\n"
    );
    // A user that owns nothing cannot read root's files.
    let run = cx.run(["run", "--rm", "-u", "1000", "busybox", "ls", "/root"]);
    expect_code(&run, 1);
    let run = cx.run(["run", "--rm", "-u", "nobody", "busybox", "true"]);
    expect_code(&run, 125);
    expect_stderr(&run, "unable to find user nobody");
}

as_users!(users_in_the_image =>
    user_flag_switches_identity_as_sub: Sub,
    user_flag_switches_identity_as_root: Root,
);

/// With a single-ID namespace only uid 0 exists in the container: `-u 1000` cannot work, but
/// it must say so (today: `OCI runtime error: … failed syscall`).
#[test]
fn user_flag_without_subordinate_ids_fails_clearly() {
    require_users!();
    let cx = busybox(User::NoSub);
    assert_eq!(cx.ok(["run", "--rm", "busybox", "id", "-u"]), "0\n");
    let run = cx.run(["run", "--rm", "-u", "1000", "busybox", "id", "-u"]);
    expect_code(&run, 125);
    let stderr = run.stderr();
    let error = stderr
        .lines()
        .find(|l| l.starts_with("Error"))
        .unwrap_or_else(|| panic!("no error line:\n{}", run.describe()));
    assert!(
        error.contains("1000") && (error.contains("subuid") || error.contains("subordinate")),
        "the error should name the uid and the missing subordinate IDs:\n{}",
        run.describe()
    );
}

/// Images often list root in other groups (Alpine: `wheel:x:10:root`, `bin:x:1:root,…`).
/// Docker gives the process those supplementary groups; with a single-ID namespace they cannot
/// be mapped, so they must be left out, not make every such image fail with
/// `setgroup is disabled`.
fn supplementary_groups(user: User) {
    let cx = busybox(user);
    let group = b"root:x:0:\nbin:x:1:root,daemon\nwheel:x:10:root\nuser:x:1000:\n";
    import_with(&cx, &busybox_with(group, |t| t), "groups", &[]);
    let run = cx.run(["run", "--rm", "groups", "id", "-G"]);
    expect_code(&run, 0);
    let expected = if user == User::NoSub {
        "0\n"
    } else {
        "0 1 10\n"
    };
    assert_eq!(run.stdout(), expected, "{}", run.describe());
}

as_users!(supplementary_groups =>
    supplementary_groups_from_the_image_as_sub: Sub,
    supplementary_groups_from_the_image_as_nosub: NoSub,
    supplementary_groups_from_the_image_as_root: Root,
);

/// Docker creates a missing working directory (`-w` or WORKDIR).
#[test]
fn workdir_is_created_when_missing() {
    require_users!();
    let cx = busybox(User::Sub);
    let run = cx.run([
        "run",
        "--rm",
        "-w",
        "/new/dir",
        "busybox",
        "sh",
        "-c",
        "echo $PWD",
    ]);
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "/new/dir\n", "{}", run.describe());
    let run = cx.run([
        "run",
        "--rm",
        "-u",
        "1000",
        "-w",
        "/tmp/work",
        "busybox",
        "sh",
        "-c",
        "echo $PWD",
    ]);
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "/tmp/work\n", "{}", run.describe());
}

fn read_only_and_tmpfs(user: User) {
    let cx = busybox(user);
    let run = cx.run([
        "run",
        "--rm",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "echo x > /file",
    ]);
    expect_code(&run, 1);
    expect_stderr(&run, "Read-only file system");
    let run = cx.run([
        "run",
        "--rm",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "echo x > /tmp/file",
    ]);
    expect_code(&run, 1);
    // --tmpfs: writable, empty, world-writable (1777), gone afterwards.
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "busybox",
            "sh",
            "-c",
            "echo x > /tmp/file && cat /tmp/file && stat -c %a /tmp",
        ]),
        "x\n1777\n"
    );
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--tmpfs",
            "/scratch",
            "busybox",
            "sh",
            "-c",
            "busybox grep ' /scratch ' /proc/mounts | busybox cut -d' ' -f3",
        ]),
        "tmpfs\n"
    );
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,target=/scratch",
            "busybox",
            "sh",
            "-c",
            "echo ok > /scratch/f && cat /scratch/f",
        ]),
        "ok\n"
    );
    cx.ok(["create", "--name", "ro", "--read-only", "busybox", "true"]);
    assert_eq!(inspect(&cx, "ro")["HostConfig"]["ReadonlyRootfs"], true);
}

as_users!(read_only_and_tmpfs =>
    read_only_rootfs_and_tmpfs_as_sub: Sub,
    read_only_rootfs_and_tmpfs_as_nosub: NoSub,
    read_only_rootfs_and_tmpfs_as_root: Root,
);

fn bind_mounts(user: User) {
    let cx = busybox(user);
    let shared = cx.work().join("shared");
    fs_err::create_dir_all(&shared).unwrap();
    fs_err::write(shared.join("from-host"), b"host\n").unwrap();
    crate::support::chown_to(&shared, user);
    let spec = format!("{}:/data", shared.display());
    let out = cx.ok([
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "cat /data/from-host; echo ctr > /data/from-ctr; stat -c %u /data/from-host",
    ]);
    assert_eq!(out, "host\n0\n");
    // Written as the container's root: owned by the user who ran berth.
    let written = shared.join("from-ctr");
    assert_eq!(fs_err::read_to_string(&written).unwrap(), "ctr\n");
    let owner = std::os::unix::fs::MetadataExt::uid(&fs_err::metadata(&written).unwrap());
    let expected = if user == User::Root {
        0
    } else {
        host_uid(user)
    };
    assert_eq!(owner, expected);

    // :ro and --mount readonly.
    let spec_ro = format!("{}:/data:ro", shared.display());
    let run = cx.run([
        "run",
        "--rm",
        "-v",
        &spec_ro,
        "busybox",
        "sh",
        "-c",
        "cat /data/from-ctr; echo no > /data/x",
    ]);
    expect_code(&run, 1);
    assert_eq!(run.stdout(), "ctr\n");
    expect_stderr(&run, "Read-only file system");
    let mount = format!(
        "type=bind,source={},target=/data,readonly",
        shared.display()
    );
    let run = cx.run([
        "run",
        "--rm",
        "--mount",
        &mount,
        "busybox",
        "sh",
        "-c",
        "echo no > /data/x",
    ]);
    expect_code(&run, 1);
    assert!(!shared.join("x").exists());
    // --mount refuses a missing source; -v creates it.
    let missing = cx.work().join("missing");
    let mount = format!("type=bind,source={},target=/data", missing.display());
    cx.run(["run", "--rm", "--mount", &mount, "busybox", "true"])
        .failure_with("bind source path does not exist");
    let spec = format!("{}:/data", missing.display());
    cx.ok(["run", "--rm", "-v", &spec, "busybox", "true"]);
    assert!(missing.is_dir());

    // inspect shows the bind.
    let spec = format!("{}:/data:ro", shared.display());
    cx.ok(["create", "--name", "binder", "-v", &spec, "busybox", "true"]);
    let info = inspect(&cx, "binder");
    assert_eq!(info["Mounts"][0]["Type"], "bind");
    assert_eq!(info["Mounts"][0]["Source"], shared.display().to_string());
    assert_eq!(info["Mounts"][0]["Destination"], "/data");
    assert_eq!(info["Mounts"][0]["RW"], false);
    assert_eq!(info["HostConfig"]["Binds"][0], spec);
}

as_users!(bind_mounts =>
    bind_mounts_rw_and_ro_as_sub: Sub,
    bind_mounts_rw_and_ro_as_nosub: NoSub,
    bind_mounts_rw_and_ro_as_root: Root,
);

fn volumes(user: User) {
    let cx = busybox(user);
    // A named volume is filled from the image on first use, and outlives its containers.
    let out = cx.ok([
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        "busybox",
        "sh",
        "-c",
        "busybox head -n1 /etc/passwd; echo kept > /etc/added",
    ]);
    assert_eq!(out, "root:x:0:0:root:/root:/bin/sh\n");
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "-v",
            "etcvol:/elsewhere",
            "busybox",
            "cat",
            "/elsewhere/added"
        ]),
        "kept\n"
    );
    assert!(volume_dirs(&cx).contains(&"etcvol".to_owned()));
    let mount = "type=volume,source=etcvol,target=/v,readonly";
    let run = cx.run([
        "run",
        "--rm",
        "--mount",
        mount,
        "busybox",
        "sh",
        "-c",
        "cat /v/added; echo x > /v/y",
    ]);
    expect_code(&run, 1);
    assert_eq!(run.stdout(), "kept\n");

    // An image's VOLUME gets an anonymous volume, filled from the image (owners kept).
    let tar = busybox_with(GROUP, |t| {
        t.dir("data", 0o755)
            .file_owned("data/seed", 0o644, 1000, 1000, b"seed\n")
    });
    import_with(&cx, &tar, "volimg", &["VOLUME /data"]);
    let before = volume_dirs(&cx);
    let id = cx
        .ok([
            "run",
            "-d",
            "volimg",
            "sh",
            "-c",
            "cat /data/seed; stat -c %u /data/seed; echo new > /data/new",
        ])
        .trim()
        .to_owned();
    assert_eq!(cx.ok(["wait", &id]), "0\n");
    let expected_owner = if user == User::NoSub { "0" } else { "1000" };
    assert_eq!(cx.ok(["logs", &id]), format!("seed\n{expected_owner}\n"));
    let info = inspect(&cx, &id);
    let mount = &info["Mounts"][0];
    assert_eq!(mount["Type"], "volume");
    assert_eq!(mount["Destination"], "/data");
    let anonymous = mount["Name"].as_str().unwrap().to_owned();
    assert!(is_container_id(&anonymous), "{info}");
    let data = PathBuf::from(mount["Source"].as_str().unwrap());
    assert_eq!(fs_err::read_to_string(data.join("new")).unwrap(), "new\n");
    assert!(!before.contains(&anonymous));
    // A named volume over the image's VOLUME: no anonymous one.
    cx.ok([
        "run",
        "--rm",
        "-v",
        "named:/data",
        "volimg",
        "cat",
        "/data/seed",
    ]);

    // -v /path: anonymous; rm keeps it, rm -v removes it.
    let id = cx.ok([
        "run",
        "-d",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo a > /anon/f",
    ]);
    let id = id.trim();
    assert_eq!(cx.ok(["wait", id]), "0\n");
    let anon = inspect(&cx, id)["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(volume_dirs(&cx).contains(&anon));
    cx.ok(["rm", "-v", id]);
    assert!(!volume_dirs(&cx).contains(&anon), "{:?}", volume_dirs(&cx));
    let id = cx.ok(["run", "-d", "-v", "/anon", "busybox", "true"]);
    let id = id.trim();
    assert_eq!(cx.ok(["wait", id]), "0\n");
    let anon = inspect(&cx, id)["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    cx.ok(["rm", id]);
    assert!(volume_dirs(&cx).contains(&anon));
    // Named volumes survive rm -v.
    let id = cx.ok(["run", "-d", "-v", "etcvol:/etc", "busybox", "true"]);
    let id = id.trim();
    assert_eq!(cx.ok(["wait", id]), "0\n");
    cx.ok(["rm", "-v", id]);
    assert!(volume_dirs(&cx).contains(&"etcvol".to_owned()));

    cx.run(["run", "--rm", "-v", "/a:/b:bogus", "busybox", "true"])
        .failure_with("invalid volume specification");
    cx.run(["run", "--rm", "-v", "x:/d", "busybox", "true"])
        .failure_with("invalid volume name");
    cx.run([
        "run", "--rm", "-v", "vv:/d", "--tmpfs", "/d", "busybox", "true",
    ])
    .failure_with("Duplicate mount point: /d");
}

as_users!(volumes =>
    volumes_named_anonymous_and_from_the_image_as_sub: Sub,
    volumes_named_anonymous_and_from_the_image_as_nosub: NoSub,
    volumes_named_anonymous_and_from_the_image_as_root: Root,
);

/// The options of the container's root mount, as it sees them.
fn root_mount_options(cx: &TestContext, flags: &[&str]) -> (String, Vec<String>) {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "cat", "/proc/self/mounts"]);
    let mounts = cx.ok(&args);
    let root = mounts
        .lines()
        .find(|l| l.split(' ').nth(1) == Some("/"))
        .unwrap_or_else(|| panic!("no root mount:\n{mounts}"));
    let fields: Vec<&str> = root.split(' ').collect();
    (
        fields[2].to_owned(),
        fields[3].split(',').map(str::to_owned).collect(),
    )
}

/// A `--rm` container's writable layer is thrown away, so its overlay is volatile: no syncs of
/// the store's file system (its own fsyncs included, and none at unmount). A kept container's
/// layer keeps them.
fn rm_overlay_is_volatile(user: User) {
    let cx = busybox(user);
    let (kind, options) = root_mount_options(&cx, &["--rm"]);
    if kind != "overlay" {
        eprintln!("skipped: the root is {kind} (fuse-overlayfs has no volatile mode)");
        return;
    }
    // Newer kernels show `volatile` as `fsync=volatile`.
    let volatile = |options: &[String]| {
        options
            .iter()
            .any(|o| o == "volatile" || o == "fsync=volatile")
    };
    assert!(volatile(&options), "{options:?}");
    let (_, options) = root_mount_options(&cx, &["--name", "kept"]);
    assert!(!volatile(&options), "{options:?}");
    // The kept container's layer mounts again (no volatile marker blocks it), and so does a
    // fresh --rm one.
    assert!(cx.ok(["start", "-a", "kept"]).contains(" / "));
    cx.ok(["run", "--rm", "busybox", "sh", "-c", "echo x > /f && sync"]);
    cx.ok(["rm", "kept"]);

    // A build's RUN too (its layer is committed from the upper dir, never kept as is), and
    // the working container mounts again for the steps after it.
    let dir = cx.work().join("volatile-build");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN grep ' / ' /proc/self/mounts > /run-mount\nCOPY Dockerfile /\n\
         RUN echo again > /again\n",
    )
    .unwrap();
    crate::support::chown_tree(&dir, cx.user);
    cx.ok(["build", "-q", "-t", "volatile-build", dir.to_str().unwrap()]);
    let built = cx.ok([
        "run",
        "--rm",
        "volatile-build",
        "cat",
        "/run-mount",
        "/again",
        "/Dockerfile",
    ]);
    let options: Vec<String> = built
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(3))
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    assert!(volatile(&options), "{built}");
    assert!(built.contains("\nagain\nFROM busybox"), "{built}");
    cx.assert_store_clean();
}

as_users!(rm_overlay_is_volatile =>
    rm_overlay_is_volatile_as_sub: Sub,
    rm_overlay_is_volatile_as_nosub: NoSub,
    rm_overlay_is_volatile_as_root: Root,
);

/// Docker's `--rm` removes the container's anonymous volumes with it.
#[test]
fn rm_flag_removes_anonymous_volumes() {
    require_users!();
    let cx = busybox(User::Sub);
    cx.ok([
        "run",
        "--rm",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo x > /anon/f",
    ]);
    cx.ok(["run", "--rm", "-v", "keep:/named", "busybox", "true"]);
    assert_eq!(volume_dirs(&cx), ["keep"], "anonymous volumes left behind");
    let id = cx.ok(["run", "-d", "--rm", "-v", "/anon", "busybox", "true"]);
    let id = id.trim();
    assert!(is_container_id(id));
    wait_for("the monitor to end", Duration::from_secs(10), || {
        monitors_of(id).is_empty()
    });
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(volume_dirs(&cx), ["keep"], "anonymous volumes left behind");
}

// ---------------------------------------------------------------------------------------------
// 6. Security
// ---------------------------------------------------------------------------------------------

/// A field of /proc/1/status in a container run with `flags`.
fn status_field(cx: &TestContext, flags: &[&str], field: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "cat", "/proc/1/status"]);
    let out = cx.ok(&args);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing:\n{out}"))
        .trim()
        .to_owned()
}

fn security(user: User) {
    let cx = busybox(user);
    // The default: seccomp filter, Docker's capabilities, setuid programs still allowed.
    assert_eq!(status_field(&cx, &[], "Seccomp"), "2");
    assert_eq!(status_field(&cx, &[], "NoNewPrivs"), "0");
    assert_eq!(status_field(&cx, &[], "CapEff"), "00000000a80425fb");
    let run = cx.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "busybox unshare -U true; echo unshare=$?; busybox mkdir -p /mnt; \
         busybox mount -t tmpfs none /mnt; echo mount=$?",
    ]);
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "unshare=1\nmount=1\n", "{}", run.describe());
    expect_stderr(&run, "Operation not permitted");

    assert_eq!(
        status_field(&cx, &["--security-opt", "seccomp=unconfined"], "Seccomp"),
        "0"
    );
    // It was the filter that refused unshare.
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "busybox",
            "unshare",
            "-U",
            "echo",
            "unconfined",
        ]),
        "unconfined\n"
    );
    assert_eq!(
        status_field(&cx, &["--cap-drop", "ALL"], "CapEff"),
        "0000000000000000"
    );
    assert_eq!(
        status_field(&cx, &["--cap-drop", "ALL"], "CapBnd"),
        "0000000000000000"
    );
    let with_admin = u64::from_str_radix(
        &status_field(&cx, &["--cap-add", "SYS_ADMIN"], "CapEff"),
        16,
    )
    .unwrap();
    assert_ne!(with_admin & (1 << 21), 0, "{with_admin:x}");
    let without_chown =
        u64::from_str_radix(&status_field(&cx, &["--cap-drop", "CHOWN"], "CapEff"), 16).unwrap();
    assert_eq!(without_chown & 1, 0, "{without_chown:x}");
    assert_eq!(
        status_field(&cx, &["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
    // With SYS_ADMIN (and its syscalls) mount works.
    assert_eq!(
        cx.ok([
            "run",
            "--rm",
            "--cap-add",
            "SYS_ADMIN",
            "busybox",
            "sh",
            "-c",
            "busybox mkdir -p /mnt && busybox mount -t tmpfs none /mnt && echo mounted",
        ]),
        "mounted\n"
    );
    cx.run(["run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true"])
        .failure_with("NOT_A_CAP");

    // Masked and read-only kernel files.
    let out = cx.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "busybox wc -c < /proc/timer_list; busybox wc -c < /proc/kcore 2>/dev/null || echo 0; \
         ls /sys/firmware | busybox wc -l; \
         echo x > /proc/sys/kernel/hostname 2>/dev/null; echo procsys=$?; \
         busybox touch /sys/new 2>/dev/null; echo sys=$?",
    ]);
    assert_eq!(out, "0\n0\n0\nprocsys=1\nsys=1\n");
    let mounts = cx.ok(["run", "--rm", "busybox", "cat", "/proc/mounts"]);
    let sys = mounts
        .lines()
        .find(|l| l.split(' ').nth(1) == Some("/sys"))
        .unwrap_or_else(|| panic!("{mounts}"));
    assert!(
        sys.split(' ').nth(3).unwrap().split(',').any(|o| o == "ro"),
        "{sys}"
    );
    // --privileged (as root: see privileged_as_root_gets_the_callers_capabilities): no
    // seccomp, every capability, nothing masked.
    if user != User::Root {
        privileged(&cx);
    }
}

fn privileged(cx: &TestContext) {
    assert_eq!(status_field(cx, &["--privileged"], "Seccomp"), "0");
    let out = cx.ok([
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "busybox grep -c ' /proc/timer_list ' /proc/mounts; \
         busybox mkdir -p /mnt && busybox mount -t tmpfs none /mnt && echo mounted",
    ]);
    assert_eq!(out, "0\nmounted\n");
}

/// The capabilities of this process's bounding set, as a mask of /proc/self/status.
fn own_bounding_set() -> u64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    u64::from_str_radix(hex, 16).unwrap()
}

/// As real root, `--privileged` and `--cap-add ALL` must give the capabilities the caller
/// has: a CI runner's root may lack some (this machine's lacks CAP_SYS_RESOURCE), and asking
/// libcontainer for more fails in capset with `failed syscall`.
#[test]
fn privileged_as_root_gets_the_callers_capabilities() {
    let cx = busybox(User::Root);
    let bounding = own_bounding_set();
    for flags in [&["--privileged"][..], &["--cap-add", "ALL"][..]] {
        let effective = u64::from_str_radix(&status_field(&cx, flags, "CapEff"), 16).unwrap();
        assert_eq!(
            effective, bounding,
            "{flags:?}: {effective:x} vs {bounding:x}"
        );
    }
    privileged(&cx);
}

as_users!(security =>
    security_defaults_and_options_as_sub: Sub,
    security_defaults_and_options_as_nosub: NoSub,
    security_defaults_and_options_as_root: Root,
);

/// The capability and filter lines of /proc/self/status, as `field:value` words.
fn confinement(status: &str) -> String {
    status
        .lines()
        .filter(|l| {
            ["Seccomp:", "CapInh:", "CapPrm:", "CapEff:", "CapAmb:"]
                .iter()
                .any(|f| l.starts_with(f))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// berth compiles the seccomp profile once, keeps the program in the store, and loads it itself
/// just before exec, in every process a container starts: its command, `exec`, and a build's
/// RUN, as root and as another user. The CAP_SYS_ADMIN that loading takes is never left behind.
fn seccomp_in_every_process(user: User) {
    let cx = busybox(user);
    let root_set = "CapInh:0000000000000000 CapPrm:00000000a80425fb \
                    CapEff:00000000a80425fb CapAmb:0000000000000000 Seccomp:2";
    let user_set = "CapInh:0000000000000000 CapPrm:0000000000000000 \
                    CapEff:0000000000000000 CapAmb:0000000000000000 Seccomp:2";
    let status = ["cat", "/proc/self/status"];
    let run = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.push("busybox");
        args.extend(status);
        confinement(&cx.ok(&args))
    };
    assert_eq!(run(&[]), root_set);
    assert_eq!(
        run(&["--security-opt", "no-new-privileges"]),
        root_set,
        "with no_new_privs"
    );
    assert_eq!(run(&["--cap-drop", "ALL"]), user_set);

    cx.ok([
        "run", "-d", "--name", "confined", "busybox", "sleep", "1000",
    ]);
    let mut exec = vec!["exec", "confined"];
    exec.extend(status);
    assert_eq!(confinement(&cx.ok(&exec)), root_set, "exec");
    // The filter, not a capability, refuses unshare in an exec'd process too.
    let refused = cx.run([
        "exec",
        "confined",
        "sh",
        "-c",
        "busybox unshare -U true; echo unshare=$?",
    ]);
    assert_eq!(refused.stdout(), "unshare=1\n", "{}", refused.describe());

    let dir = cx.work().join("confined-build");
    fs_err::create_dir_all(&dir).unwrap();
    let mut dockerfile = "FROM busybox\nRUN cat /proc/self/status > /root.txt\n".to_owned();
    if user != User::NoSub {
        dockerfile.push_str("USER 1000\nRUN cat /proc/self/status > /tmp/user.txt\n");
    }
    fs_err::write(dir.join("Dockerfile"), dockerfile).unwrap();
    crate::support::chown_tree(&dir, cx.user);
    cx.ok(["build", "-q", "-t", "confined-build", dir.to_str().unwrap()]);
    let built = |file: &str| confinement(&cx.ok(["run", "--rm", "confined-build", "cat", file]));
    assert_eq!(built("/root.txt"), root_set, "a build's RUN");
    if user != User::NoSub {
        assert_eq!(
            built("/tmp/user.txt"),
            user_set,
            "a build's RUN as USER 1000"
        );
        assert_eq!(run(&["-u", "1000"]), user_set, "-u 1000");
        let mut exec = vec!["exec", "-u", "1000", "confined"];
        exec.extend(status);
        assert_eq!(confinement(&cx.ok(&exec)), user_set, "exec -u 1000");
    }
    cx.ok(["rm", "-f", "confined"]);

    // One program per profile, kept: the default's, and a wider one for --cap-add SYS_ADMIN.
    let programs = || -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = fs_err::read_dir(cx.root().join("seccomp"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        found.sort();
        found
    };
    let before = programs();
    assert!(
        before
            .iter()
            .all(|p| p.extension().is_some_and(|e| e == "bpf")),
        "{before:?}"
    );
    run(&["--cap-add", "SYS_ADMIN"]);
    assert_eq!(programs().len(), before.len() + 1, "{:?}", programs());
    // A damaged program is compiled again, never loaded.
    for program in programs() {
        fs_err::write(&program, b"bad").unwrap();
    }
    assert_eq!(run(&[]), root_set);
    let refused = cx.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "busybox unshare -U true; echo unshare=$?",
    ]);
    assert_eq!(refused.stdout(), "unshare=1\n", "{}", refused.describe());
}

as_users!(seccomp_in_every_process =>
    seccomp_in_every_process_as_sub: Sub,
    seccomp_in_every_process_as_nosub: NoSub,
    seccomp_in_every_process_as_root: Root,
);

// ---------------------------------------------------------------------------------------------
// 7. Robustness: a monitor killed under a running container
// ---------------------------------------------------------------------------------------------

fn monitor_killed(user: User) {
    let cx = busybox(user);
    let id = cx
        .ok(["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"])
        .trim()
        .to_owned();
    let pid = inspect(&cx, "orphan")["State"]["Pid"].as_i64().unwrap();
    assert!(alive(pid));
    let monitors = monitors_of(&id);
    assert_eq!(monitors.len(), 1, "{monitors:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(monitors[0]).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("the monitor to die", Duration::from_secs(5), || {
        monitors_of(&id).is_empty()
    });
    // The container's process lives on, and berth still sees it.
    assert!(alive(pid));
    assert!(
        status_of(&cx, "orphan").starts_with("Up "),
        "{:?}",
        ps_all(&cx)
    );
    assert_eq!(inspect(&cx, "orphan")["State"]["Running"], true);
    assert_eq!(cx.ok(["ps", "-q"]), format!("{}\n", &id[..12]));

    // rm -f kills it and leaves no process and no mount.
    assert_eq!(cx.ok(["rm", "-f", "orphan"]), "orphan\n");
    wait_for(
        "the container's process to go",
        Duration::from_secs(5),
        || !alive(pid),
    );
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&cx), Vec::<String>::new());
    assert_eq!(mounts_mentioning(&id), Vec::<String>::new());
    // (What stays in the runtime dir and the cgroup tree: killed_monitor_cleanup.)
    remove_cgroups(&cx, &id);
}

as_users!(monitor_killed =>
    killed_monitor_leaves_a_removable_container_as_sub: Sub,
    killed_monitor_leaves_a_removable_container_as_root: Root,
);

/// Kills the container's monitor with SIGKILL, and with `process` its init too; waits until
/// they are gone.
fn crash(cx: &TestContext, name: &str, process: bool) -> (String, i64) {
    let info = inspect(cx, name);
    let id = info["Id"].as_str().unwrap().to_owned();
    let pid = info["State"]["Pid"].as_i64().unwrap();
    let mut victims = monitors_of(&id);
    assert_eq!(victims.len(), 1, "{victims:?}");
    if process {
        victims.push(pid);
    }
    for victim in &victims {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(*victim).unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    // A killed monitor loses its command line at once but may spend a while in exit
    // (state D, tearing down its mount namespace): wait for the processes themselves.
    wait_for(
        "the monitor and container to die",
        Duration::from_secs(5),
        || victims.iter().all(|victim| !alive(*victim)),
    );
    (id, pid)
}

/// Where berth's cgroups are, as root (cgroup v2, or the v2 tree of a hybrid host).
const CGROUP_TREES: [&str; 2] = ["/sys/fs/cgroup/berth", "/sys/fs/cgroup/unified/berth"];

/// What a container leaves outside its store directory: libcontainer's state (under the
/// runtime dir) and, as root, its cgroup.
fn runtime_leftovers(cx: &TestContext, id: &str) -> Vec<PathBuf> {
    let mut candidates = vec![cx.dir.path().join("run/berth/libcontainer").join(id)];
    if cx.user == User::Root {
        for tree in CGROUP_TREES {
            candidates.push(Path::new(tree).join(id));
        }
    }
    candidates.into_iter().filter(|p| p.exists()).collect()
}

/// Removes the (empty) cgroups of container `id`, as root.
fn remove_cgroups(cx: &TestContext, id: &str) {
    if cx.user == User::Root {
        for tree in CGROUP_TREES {
            let _ = fs_err::remove_dir(Path::new(tree).join(id));
        }
    }
}

/// `rm -f` after the monitor died must clean up what the monitor would have: libcontainer's
/// state directory and (as root) the cgroup. Today both stay behind.
fn killed_monitor_cleanup(user: User) {
    let cx = busybox(user);
    cx.ok(["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"]);
    let (id, pid) = crash(&cx, "orphan", false);
    assert!(alive(pid));
    cx.ok(["rm", "-f", "orphan"]);
    wait_for(
        "the container's process to go",
        Duration::from_secs(5),
        || !alive(pid),
    );
    let leftovers = runtime_leftovers(&cx, &id);
    remove_cgroups(&cx, &id);
    assert_eq!(leftovers, Vec::<PathBuf>::new());
}

as_users!(killed_monitor_cleanup =>
    killed_monitor_leaves_no_runtime_state_after_rm_as_sub: Sub,
    killed_monitor_leaves_no_runtime_state_after_rm_as_root: Root,
);

/// A container whose monitor and process were both killed (a crash, an OOM kill of the
/// session) counts as exited with 137, and can be started again. Today `start` fails with
/// `OCI runtime error: container already exists` (libcontainer's stale state).
fn crashed_restart(user: User) {
    let cx = busybox(user);
    cx.ok(["run", "-d", "--name", "gone", "busybox", "sleep", "1000"]);
    let (id, _) = crash(&cx, "gone", true);
    assert!(
        status_of(&cx, "gone").starts_with("Exited (137) "),
        "{:?}",
        ps_all(&cx)
    );
    assert_eq!(cx.ok(["wait", "gone"]), "137\n");
    assert_eq!(cx.ok(["start", "gone"]), "gone\n");
    assert!(status_of(&cx, "gone").starts_with("Up "));
    let restarted = cx.run(["restart", "-t", "0", "gone"]);
    expect_code(&restarted, 0);
    cx.ok(["rm", "-f", "gone"]);
    wait_for("the monitor to end", Duration::from_secs(5), || {
        monitors_of(&id).is_empty()
    });
    assert_eq!(mounts_mentioning(&id), Vec::<String>::new());
    let leftovers = runtime_leftovers(&cx, &id);
    remove_cgroups(&cx, &id);
    assert_eq!(leftovers, Vec::<PathBuf>::new());
}

as_users!(crashed_restart =>
    crashed_container_starts_again_as_sub: Sub,
    crashed_container_starts_again_as_root: Root,
);

// ---------------------------------------------------------------------------------------------
// 8. A real distribution: Debian minbase (contrib/ci/minbase.sh)
// ---------------------------------------------------------------------------------------------

fn debian(user: User) {
    let Some(tar) = crate::support::cached_fixture("minbase.tar") else {
        return;
    };
    let cx = Cx(TestContext::new(user));
    cx.ok([
        "import".as_ref(),
        tar.as_os_str(),
        "debian:minbase".as_ref(),
    ]);
    let out = cx.ok(["run", "--rm", "debian:minbase", "cat", "/etc/os-release"]);
    assert!(out.contains("ID=debian"), "{out}");
    assert!(out.contains("bookworm"), "{out}");
    let out = cx.ok([
        "run",
        "--rm",
        "debian:minbase",
        "sh",
        "-c",
        "id -un; stat -c '%U:%G' /var/mail /etc/shadow /var/cache; echo $HOME",
    ]);
    if user == User::NoSub {
        // Single ID: every file belongs to root.
        assert_eq!(out, "root\nroot:root\nroot:root\nroot:root\n/root\n");
        return;
    }
    // Group-owned files keep their groups (mail is 8, shadow 42).
    assert_eq!(out, "root\nroot:mail\nroot:shadow\nroot:root\n/root\n");
    let out = cx.ok([
        "run",
        "--rm",
        "-u",
        "nobody",
        "debian:minbase",
        "sh",
        "-c",
        "id -un; id -u; id -gn; cat /etc/shadow 2>/dev/null || echo denied",
    ]);
    assert_eq!(out, "nobody\n65534\nnogroup\ndenied\n");
    // chown to other IDs, and a user made with useradd, stay across runs of the container.
    let id = cx
        .ok([
            "create",
            "--name",
            "owner",
            "debian:minbase",
            "sh",
            "-c",
            "if [ -e /srv/mine ]; then stat -c %U:%G /srv/mine /home/alice; id alice; \
             else touch /srv/mine && chown nobody:mail /srv/mine && useradd -u 1234 -m alice; fi",
        ])
        .trim()
        .to_owned();
    let run = cx.run(["start", "-a", "owner"]);
    expect_code(&run, 0);
    assert_eq!(run.stdout(), "");
    let run = cx.run(["start", "-a", "owner"]);
    expect_code(&run, 0);
    assert_eq!(
        run.stdout(),
        "nobody:mail\nalice:alice\nuid=1234(alice) gid=1234(alice) groups=1234(alice)\n",
        "{}",
        run.describe()
    );
    // On the host the file belongs to the matching subordinate ID (or to nobody, as root).
    let upper = cx
        .root()
        .join("containers")
        .join(&id)
        .join("upper/srv/mine");
    let owner = std::os::unix::fs::MetadataExt::uid(&fs_err::metadata(&upper).unwrap());
    let expected = if user == User::Root {
        65534
    } else {
        let ranges = fs_err::read_to_string("/etc/subuid").unwrap();
        let start: u32 = ranges
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{}:", user.name())))
            .and_then(|rest| rest.split(':').next())
            .unwrap()
            .parse()
            .unwrap();
        start + 65534 - 1
    };
    assert_eq!(owner, expected, "{}", upper.display());
    // The user exists only in that container.
    cx.run(["run", "--rm", "-u", "alice", "debian:minbase", "true"])
        .failure_with("unable to find user alice");
    cx.ok(["rm", "owner"]);
}

as_users!(debian =>
    debian_minbase_as_sub: Sub,
    debian_minbase_as_nosub: NoSub,
    debian_minbase_as_root: Root,
);

/// `exec -d` starts the process and returns at once; the process outlives the command, its
/// output is discarded; a missing command is still reported (127).
#[test]
fn exec_detached_outlives_the_command() {
    require_users!();
    let cx = busybox(User::Sub);
    cx.ok(["run", "-d", "--name", "host", "busybox", "sleep", "100"]);
    let started = Instant::now();
    let out = cx.ok([
        "exec",
        "-d",
        "host",
        "sh",
        "-c",
        "echo ignored; sleep 1; echo done > /marker",
    ]);
    assert_eq!(out, "");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "exec -d waited"
    );
    wait_for(
        "the detached process to finish",
        Duration::from_secs(10),
        || cx.run(["exec", "host", "cat", "/marker"]).stdout() == "done\n",
    );
    let missing = cx.run(["exec", "-d", "host", "nosuchcmd"]);
    expect_code(&missing, 127);
    expect_stderr(&missing, "executable file not found");

    // -w names a directory of the container: exec does not create it (run does), and fails
    // as Docker's does when it is missing or not a directory.
    assert_eq!(
        cx.ok(["exec", "-w", "/bin", "host", "sh", "-c", "pwd"]),
        "/bin\n"
    );
    for (mode, dir, reason) in [
        ("-i", "/nowhere", "no such file or directory"),
        ("-d", "/nowhere", "no such file or directory"),
        ("-i", "/bin/busybox", "not a directory"),
    ] {
        let run = cx.run(["exec", mode, "-w", dir, "host", "true"]);
        expect_code(&run, 126);
        expect_stderr(&run, &format!("chdir to cwd (\"{dir}\")"));
        expect_stderr(&run, reason);
    }
    cx.run(["exec", "-w", "relative", "host", "true"])
        .failure_with("needs to be an absolute path");
}

// ---------------------------------------------------------------------------------------------
// Healthchecks, run by the monitor
// ---------------------------------------------------------------------------------------------

/// `State.Health.Status` of a container, or `none` without one (Docker leaves it out).
fn health_of(cx: &TestContext, name: &str) -> String {
    inspect(cx, name)["State"]["Health"]["Status"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

/// Waits until the health of `name` is `wanted`.
fn wait_health(cx: &TestContext, name: &str, wanted: &str) {
    wait_for(
        &format!("{name} to be {wanted} (now {})", health_of(cx, name)),
        Duration::from_secs(20),
        || health_of(cx, name) == wanted,
    );
}

/// A check that fails goes from `starting` to `unhealthy` after `--health-retries` failures,
/// and a passing one makes it healthy; `ps` and `inspect` show it, `healthcheck run` runs it
/// now, and stopping clears it.
fn healthchecks(user: User) {
    let cx = busybox(user);
    cx.ok([
        "run",
        "-d",
        "--name",
        "web",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "100",
    ]);
    let status = status_of(&cx, "web");
    // Two failures a second apart are needed before unhealthy.
    assert!(
        status.ends_with("(health: starting)") || status.ends_with("(unhealthy)"),
        "{status}"
    );
    wait_health(&cx, "web", "unhealthy");
    let health = &inspect(&cx, "web")["State"]["Health"];
    assert!(health["FailingStreak"].as_u64() >= Some(2), "{health}");
    assert_eq!(health["Log"][0]["ExitCode"], 1, "{health}");
    assert!(status_of(&cx, "web").ends_with("(unhealthy)"));
    assert_eq!(
        cx.ok([
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}"
        ]),
        "web\n"
    );

    cx.ok(["exec", "web", "sh", "-c", "echo > /tmp/ok"]);
    wait_health(&cx, "web", "healthy");
    assert!(status_of(&cx, "web").ends_with("(healthy)"));
    assert_eq!(inspect(&cx, "web")["State"]["Health"]["FailingStreak"], 0);
    assert_eq!(
        cx.ok(["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]),
        "web\n"
    );
    assert_eq!(
        inspect(&cx, "web")["Config"]["Healthcheck"],
        serde_json::json!({
            "Test": ["CMD-SHELL", "test -f /tmp/ok"],
            "Interval": 1_000_000_000_u64,
            "Retries": 2,
        })
    );

    assert_eq!(cx.ok(["healthcheck", "run", "web"]), "healthy\n");
    cx.ok(["exec", "web", "busybox", "rm", "/tmp/ok"]);
    let run = cx.run(["healthcheck", "run", "web"]);
    expect_code(&run, 1);
    assert_eq!(run.stdout(), "unhealthy\n");

    cx.ok(["stop", "-t", "1", "web"]);
    assert!(inspect(&cx, "web")["State"].get("Health").is_none());
    assert_eq!(health_of(&cx, "web"), "none");
}

as_users!(healthchecks =>
    health_starting_unhealthy_healthy_as_sub: Sub,
    health_starting_unhealthy_healthy_as_nosub: NoSub,
    health_starting_unhealthy_healthy_as_root: Root,
);

/// An image's HEALTHCHECK applies to its containers, and `--no-healthcheck` turns it off.
#[test]
fn health_from_the_image_and_no_healthcheck() {
    require_users!();
    let cx = busybox(User::Sub);
    let dir = cx.work().join("health");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(
        dir.join("Dockerfile"),
        "FROM busybox\nHEALTHCHECK --interval=1s --retries=1 CMD [\"sh\", \"-c\", \"echo fine\"]\n",
    )
    .unwrap();
    crate::support::chown_tree(&dir, cx.user);
    cx.ok(["build", "-q", "-t", "checked", dir.to_str().unwrap()]);
    cx.ok(["run", "-d", "--name", "checked", "checked", "sleep", "100"]);
    wait_health(&cx, "checked", "healthy");
    let health = &inspect(&cx, "checked")["State"]["Health"];
    assert_eq!(health["Log"][0]["Output"], "fine\n", "{health}");
    assert_eq!(
        inspect(&cx, "checked")["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "sh", "-c", "echo fine"])
    );

    cx.ok([
        "run",
        "-d",
        "--name",
        "unchecked",
        "--no-healthcheck",
        "checked",
        "sleep",
        "100",
    ]);
    wait_running(&cx, "unchecked");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(health_of(&cx, "unchecked"), "none");
    assert!(!status_of(&cx, "unchecked").contains('('));
    assert_eq!(
        cx.ok(["ps", "--filter", "health=none", "--format", "{{.Names}}"]),
        "unchecked\n"
    );
    cx.run([
        "run",
        "--no-healthcheck",
        "--health-retries",
        "1",
        "busybox",
        "true",
    ])
    .failure_with("--no-healthcheck conflicts with --health-* options");
}

/// A check that runs past `--health-timeout` is killed and fails (Docker's -1 and words).
#[test]
fn health_check_past_its_timeout_fails() {
    require_users!();
    let cx = busybox(User::Sub);
    cx.ok([
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "100",
    ]);
    wait_health(&cx, "slow", "unhealthy");
    let result = &inspect(&cx, "slow")["State"]["Health"]["Log"][0];
    assert_eq!(result["ExitCode"], -1, "{result}");
    assert_eq!(
        result["Output"], "Health check exceeded timeout (300ms)",
        "{result}"
    );
    // The check's sleep was killed with it.
    let sleeps = cx.ok(["exec", "slow", "busybox", "ps"]);
    assert!(!sleeps.contains("sleep 30"), "{sleeps}");
}
