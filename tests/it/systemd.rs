//! Containers as systemd services, without a systemd (none runs on the test machines): the
//! readiness protocol against a test-side `NOTIFY_SOCKET` listener, `run --replace` after a
//! SIGKILL of berth, the units of `generate systemd` (checked by `systemd-analyze verify`
//! where it exists, and run line by line as systemd would run them), and the Quadlet
//! generator's units and errors.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::as_users;
use crate::support::{TestContext, User, berth_binary, cmdline, set_mode, wait_for};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn busybox(user: User) -> TestContext {
    let cx = TestContext::new(user);
    cx.import_busybox("busybox");
    cx
}

/// systemd's side of `sd_notify`: a datagram socket the test user may write to.
struct Listener {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Listener {
    fn new(cx: &TestContext) -> Self {
        let path = cx.dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        set_mode(&path, 0o777);
        socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        Self { socket, path }
    }

    fn env(&self) -> String {
        self.path.display().to_string()
    }

    /// The messages up to READY=1, which must come within 10 s (asserted).
    fn ready(&self) -> Vec<String> {
        let messages = self.receive_until("READY=1", Duration::from_secs(10));
        assert_eq!(
            field(&messages, "READY").as_deref(),
            Some("1"),
            "{messages:?}"
        );
        messages
    }

    /// The messages that arrive within `timeout`, once one contains `until`.
    fn receive_until(&self, until: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut messages = Vec::new();
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buffer) {
                let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
                let done = message.contains(until);
                messages.push(message);
                if done {
                    break;
                }
            }
        }
        messages
    }
}

/// The value of `KEY=` in the notification messages.
fn field(messages: &[String], key: &str) -> Option<String> {
    messages
        .iter()
        .flat_map(|m| m.lines())
        .find_map(|line| line.strip_prefix(&format!("{key}=")).map(str::to_owned))
}

/// The record of container `name`, as stored (for the monitor's pid).
fn record(cx: &TestContext, name: &str) -> serde_json::Value {
    let id = cx.ok(["inspect", "--format", "{{.Id}}", name]);
    let path = cx
        .root()
        .join("containers")
        .join(id.trim())
        .join("record.json");
    serde_json::from_str(&fs_err::read_to_string(path).unwrap()).unwrap()
}

/// The berth processes (not runuser or env) whose command line contains `needle`, in this
/// context's store.
fn berth_pids(cx: &TestContext, needle: &[&str]) -> Vec<i64> {
    let binary = berth_binary().to_path_buf();
    let root = cx.root();
    let all: Vec<i64> = fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(|pid| {
            let exe = fs_err::read_link(format!("/proc/{pid}/exe")).ok();
            let environ = fs_err::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let environ = String::from_utf8_lossy(&environ);
            let args = cmdline(*pid);
            exe.as_deref() == Some(binary.as_path())
                && environ.contains(&format!("BERTH_ROOT={}", root.display()))
                && needle.iter().all(|n| args.iter().any(|a| a == n))
        })
        .collect();
    // Only the top ones: a fork of berth (a container's init before its exec, a helper's
    // child) shows the same command line for a moment.
    all.iter()
        .copied()
        .filter(|pid| parent(*pid).is_none_or(|parent| !all.contains(&parent)))
        .collect()
}

/// The parent pid of `pid` (field 4 of /proc/PID/stat).
fn parent(pid: i64) -> Option<i64> {
    let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn alive(pid: i64) -> bool {
    let Ok(stat) = fs_err::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

fn spawn(cx: &TestContext, args: &[&str], env: &[(&str, &str)]) -> Child {
    cx.command_with_env(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 30 s) for a spawned berth; returns its code and stderr.
fn finish(mut child: Child) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("berth still runs after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn signal(pid: i64, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        signal,
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// 1. The readiness protocol
// ---------------------------------------------------------------------------------------------

/// `run -d`: the monitor, which lives as long as the container, is the unit's main process.
fn notify_detached(user: User) {
    let cx = busybox(user);
    let listener = Listener::new(&cx);
    let socket = listener.env();
    cx.run_with_env(
        ["run", "-d", "--name", "svc", "busybox", "sleep", "1000"],
        &[("NOTIFY_SOCKET", &socket)],
    )
    .success();
    let messages = listener.ready();
    let monitor = record(&cx, "svc")["state"]["monitor_pid"].as_i64().unwrap();
    assert_eq!(
        field(&messages, "MAINPID"),
        Some(monitor.to_string()),
        "{messages:?}"
    );
    assert!(cmdline(monitor).iter().any(|a| a == "__monitor"));
    cx.ok(["rm", "-f", "svc"]);
}

as_users!(notify_detached =>
    detached_run_notifies_with_the_monitor_pid_as_sub: Sub,
    detached_run_notifies_with_the_monitor_pid_as_root: Root,
);

/// A foreground `run` supervises in-process: berth itself is the main process. SIGTERM
/// reaches the container, and berth exits with the container's code, leaving nothing.
fn notify_foreground(user: User) {
    let cx = busybox(user);
    let listener = Listener::new(&cx);
    let socket = listener.env();
    let mut child = spawn(
        &cx,
        &[
            "run",
            "--rm",
            "--name",
            "fg",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 3' TERM; echo trapped; while true; do sleep 0.1; done",
        ],
        &[("NOTIFY_SOCKET", &socket)],
    );
    let messages = listener.ready();
    let main: i64 = field(&messages, "MAINPID").unwrap().parse().unwrap();
    assert_eq!(berth_pids(&cx, &["run", "fg"]), vec![main]);
    // Only once the shell has its trap: as the namespace's pid 1 without a handler it would
    // ignore SIGTERM (READY=1 comes when the container starts, which can be before that).
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "trapped\n");
    signal(main, nix::sys::signal::Signal::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
}

as_users!(notify_foreground =>
    foreground_run_notifies_with_its_own_pid_as_sub: Sub,
    foreground_run_notifies_with_its_own_pid_as_root: Root,
);

/// `container`: the application gets the socket (and sends READY=1 itself); `ignore`: the
/// container never sees it, and nothing is sent.
fn notify_modes(user: User) {
    let cx = busybox(user);
    let listener = Listener::new(&cx);
    let socket = listener.env();
    let inside = cx.run_with_env(
        [
            "run",
            "--rm",
            "--sdnotify=container",
            "busybox",
            "sh",
            "-c",
            "echo $NOTIFY_SOCKET; test -S $NOTIFY_SOCKET && echo socket",
        ],
        &[("NOTIFY_SOCKET", &socket)],
    );
    assert_eq!(
        inside.success().stdout(),
        "/run/notify/notify.sock\nsocket\n"
    );
    let messages = listener.receive_until("READY=1", Duration::from_secs(2));
    assert!(field(&messages, "MAINPID").is_some(), "{messages:?}");
    assert_eq!(field(&messages, "READY"), None, "{messages:?}");

    let env = cx.run_with_env(
        ["run", "--rm", "--sdnotify=ignore", "busybox", "env"],
        &[("NOTIFY_SOCKET", &socket)],
    );
    assert!(!env.success().stdout().contains("NOTIFY_SOCKET"));
    let env = cx.run_with_env(
        ["run", "--rm", "busybox", "env"],
        &[("NOTIFY_SOCKET", &socket)],
    );
    assert!(!env.success().stdout().contains("NOTIFY_SOCKET"));
    let messages = listener.receive_until("READY=1", Duration::from_secs(2));
    assert_eq!(
        messages.len(),
        1,
        "only the default run notifies: {messages:?}"
    );
}

as_users!(notify_modes =>
    sdnotify_container_and_ignore_as_sub: Sub,
    sdnotify_container_and_ignore_as_root: Root,
);

// ---------------------------------------------------------------------------------------------
// 2. --replace
// ---------------------------------------------------------------------------------------------

/// A unit's `berth run --rm --name web` killed with SIGKILL leaves its container behind; the
/// next start, with `--replace`, stops and removes it and runs anew.
fn replace_after_sigkill(user: User) {
    let cx = busybox(user);
    let child = spawn(
        &cx,
        &["run", "--rm", "--name", "web", "busybox", "sleep", "1000"],
        &[],
    );
    wait_for("web to run", Duration::from_secs(10), || {
        cx.ok(["ps", "--format", "{{.Names}}"]).contains("web")
    });
    let old_pid = record(&cx, "web")["state"]["pid"].as_i64().unwrap();
    let berth = berth_pids(&cx, &["run", "web"]);
    assert_eq!(berth.len(), 1, "{berth:?}");
    signal(berth[0], nix::sys::signal::Signal::SIGKILL);
    let _ = finish(child);

    // Without --replace the name is taken.
    cx.run(["run", "-d", "--name", "web", "busybox", "sleep", "1000"])
        .failure_with("is already in use");
    let id = cx
        .ok([
            "run",
            "-d",
            "--replace",
            "--name",
            "web",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_owned();
    wait_for("the old container to go", Duration::from_secs(10), || {
        !alive(old_pid)
    });
    assert_eq!(
        cx.ok(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]),
        format!("{id} web\n")
    );
    // --replace of a container that does not exist is a plain run.
    cx.ok(["create", "--replace", "--name", "other", "busybox", "true"]);
    cx.run(["create", "--replace", "busybox", "true"])
        .failure_with("--replace needs --name");
    cx.ok(["rm", "-f", "web", "other"]);
    // stop and rm --ignore: a missing container is no error.
    cx.ok(["stop", "--ignore", "web"]);
    cx.ok(["rm", "--ignore", "web"]);
    cx.run(["rm", "web"]).failure_with("No such container: web");
}

as_users!(replace_after_sigkill =>
    replace_recovers_after_a_sigkill_of_berth_as_sub: Sub,
    replace_recovers_after_a_sigkill_of_berth_as_root: Root,
);

// ---------------------------------------------------------------------------------------------
// 3. generate systemd
// ---------------------------------------------------------------------------------------------

/// `systemd-analyze verify` of the units in `dir`, where the program exists: it exits 0 even
/// for keys it ignores, so anything it says about our files is a failure.
fn verify_units(dir: &std::path::Path) {
    if !crate::support::command_exists("systemd-analyze") {
        eprintln!("skipped systemd-analyze verify: install Debian's `systemd` package");
        return;
    }
    let units: Vec<PathBuf> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service"))
        .collect();
    assert!(!units.is_empty());
    let output = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let about_ours: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(&dir.display().to_string()) || line.contains(".service"))
        .collect();
    assert!(
        output.status.success() && about_ours.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

/// Runs `berth generate systemd ARGS --files` in a fresh directory; returns it.
fn generate_files(cx: &TestContext, args: &[&str]) -> PathBuf {
    let dir = cx
        .work()
        .join(format!("units-{}", args.join("-").replace('/', "_")));
    fs_err::create_dir_all(&dir).unwrap();
    crate::support::chown_to(&dir, cx.user);
    let mut all = vec!["generate", "systemd", "--files"];
    all.extend(args);
    let output = cx.command(&all).current_dir(&dir).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

/// The commands of `key` (`ExecStart`, …) in a unit, split into words as systemd splits
/// them (double quotes with backslash escapes, `%%` and `$$`); a leading `-` is dropped.
fn exec_lines(unit: &str, key: &str) -> Vec<Vec<String>> {
    unit.lines()
        .filter_map(|line| line.strip_prefix(&format!("{key}=")))
        .map(|value| {
            let value = value.strip_prefix('-').unwrap_or(value);
            let mut words = Vec::new();
            let mut chars = value.chars().peekable();
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    chars.next();
                    continue;
                }
                let mut word = String::new();
                if c == '"' {
                    chars.next();
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => match chars.next() {
                                Some('n') => word.push('\n'),
                                Some('t') => word.push('\t'),
                                Some(other) => word.push(other),
                                None => {}
                            },
                            _ => word.push(c),
                        }
                    }
                } else {
                    while let Some(&c) = chars.peek() {
                        if c == ' ' {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                }
                words.push(word.replace("%%", "%").replace("$$", "$"));
            }
            words
        })
        .collect()
}

/// Runs one Exec line of a unit as systemd would: the program is berth itself.
fn exec(cx: &TestContext, words: &[String], env: &[(&str, &str)]) -> std::process::Command {
    assert_eq!(std::path::Path::new(&words[0]), berth_binary(), "{words:?}");
    cx.command_with_env(&words[1..], env)
}

fn generated_units_verify(user: User) {
    let cx = busybox(user);
    cx.ok([
        "create",
        "--name",
        "web",
        "-e",
        "GREETING=100% $HOME",
        "busybox",
        "sleep",
        "1000",
    ]);
    cx.ok(["pod", "create", "--name", "app"]);
    cx.ok([
        "create", "--pod", "app", "--name", "db", "busybox", "sleep", "1000",
    ]);
    let dir = generate_files(&cx, &["--name", "web"]);
    assert!(dir.join("container-web.service").exists());
    let dir = generate_files(
        &cx,
        &[
            "--new",
            "--restart-policy",
            "always",
            "--restart-sec",
            "3",
            "web",
        ],
    );
    let unit = fs_err::read_to_string(dir.join("container-web.service")).unwrap();
    assert!(unit.contains("Restart=always\nRestartSec=3\n"), "{unit}");
    verify_units(&dir);
    let dir = generate_files(&cx, &["--name", "--time", "3", "app"]);
    let pod = fs_err::read_to_string(dir.join("pod-app.service")).unwrap();
    assert!(pod.contains("Requires=container-db.service\n"), "{pod}");
    let db = fs_err::read_to_string(dir.join("container-db.service")).unwrap();
    assert!(db.contains("BindsTo=pod-app.service\n"), "{db}");
    assert!(db.contains(" stop -t 3 db\n"), "{db}");
    verify_units(&dir);
    let dir = generate_files(&cx, &["--new", "app"]);
    verify_units(&dir);

    cx.run(["generate", "systemd", "nothere"])
        .failure_with("nothere does not refer to a container or pod");
    cx.run([
        "generate",
        "systemd",
        "--restart-policy",
        "sometimes",
        "web",
    ])
    .failure_with("invalid --restart-policy `sometimes`");
}

as_users!(generated_units_verify =>
    generated_units_pass_systemd_analyze_as_sub: Sub,
    generated_units_pass_systemd_analyze_as_root: Root,
);

/// The `--new` unit's lines, run as systemd runs them: ExecStartPre, ExecStart (in the
/// foreground, ready once berth says so), ExecStop, ExecStopPost; nothing is left.
fn generated_unit_runs(user: User) {
    let cx = busybox(user);
    cx.ok([
        "create",
        "--name",
        "web",
        "-e",
        "GREETING=100% $HOME",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo \"$GREETING\"; while true; do sleep 0.1; done",
    ]);
    let dir = generate_files(&cx, &["--new", "web"]);
    let unit = fs_err::read_to_string(dir.join("container-web.service")).unwrap();
    let listener = Listener::new(&cx);
    let socket = listener.env();
    let env = [("NOTIFY_SOCKET", socket.as_str())];
    for words in exec_lines(&unit, "ExecStartPre") {
        assert!(exec(&cx, &words, &env).output().unwrap().status.success());
    }
    assert_eq!(
        cx.ok(["ps", "-a", "-q"]),
        "",
        "ExecStartPre removes leftovers"
    );
    let start = exec_lines(&unit, "ExecStart");
    assert_eq!(start.len(), 1);
    let mut child = exec(&cx, &start[0], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let messages = listener.ready();
    let main: i64 = field(&messages, "MAINPID").unwrap().parse().unwrap();
    assert_eq!(berth_pids(&cx, &["run", "web"]), vec![main]);
    assert_eq!(cx.ok(["ps", "--format", "{{.Names}}"]), "web\n");
    // Stopped only once the shell has its trap (it prints after setting it): as the
    // namespace's pid 1 without a handler it would ignore SIGTERM.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut printed).unwrap();
    for words in exec_lines(&unit, "ExecStop") {
        assert!(exec(&cx, &words, &env).output().unwrap().status.success());
    }
    std::io::Read::read_to_string(&mut stdout, &mut printed).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(printed, "100% $HOME\n");
    for words in exec_lines(&unit, "ExecStopPost") {
        assert!(exec(&cx, &words, &env).output().unwrap().status.success());
    }
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
}

as_users!(generated_unit_runs =>
    generated_unit_exec_lines_run_as_systemd_would_as_sub: Sub,
    generated_unit_exec_lines_run_as_systemd_would_as_root: Root,
);

// ---------------------------------------------------------------------------------------------
// 4. Quadlet: systemd-generator
// ---------------------------------------------------------------------------------------------

/// `tests/fixtures/quadlet/CASE` as this user's `$XDG_CONFIG_HOME/containers/systemd`;
/// returns the config home.
fn quadlet_config(cx: &TestContext, case: &str) -> PathBuf {
    let config = cx.dir.path().join(format!("config-{case}"));
    let dir = config.join("containers/systemd");
    fs_err::create_dir_all(&dir).unwrap();
    crate::support::copy_tree(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/quadlet")
            .join(case),
        &dir,
    );
    crate::support::chown_tree(&config, cx.user);
    config
}

/// An empty directory the user owns (systemd's output directories).
fn output_dir(cx: &TestContext, name: &str) -> PathBuf {
    let dir = cx.work().join(name);
    fs_err::create_dir_all(&dir).unwrap();
    crate::support::chown_to(&dir, cx.user);
    dir
}

fn quadlet_units(user: User) {
    let cx = busybox(user);
    let config = quadlet_config(&cx, "ok");
    let source = config.join("containers/systemd");
    // Tests run side by side: each publishes a port of its own.
    let port = crate::support::free_port().to_string();
    let pod_file = source.join("app.pod");
    let text = fs_err::read_to_string(&pod_file).unwrap();
    fs_err::write(&pod_file, text.replace("38471", &port)).unwrap();
    let [out, early, late] = ["out", "early", "late"].map(|name| output_dir(&cx, name));
    let config_env = config.display().to_string();
    // Rootless, the user's files are the default; root reads /etc unless asked for its own.
    let mut args = vec!["systemd-generator".as_ref()];
    if user == User::Root {
        args.push("--user".as_ref());
    }
    args.extend([out.as_os_str(), early.as_os_str(), late.as_os_str()]);
    let generated = cx.run_with_env(args, &[("XDG_CONFIG_HOME", &config_env)]);
    assert_eq!(generated.success().stdout(), "");
    let expected_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quadlet/expected");
    let mut names: Vec<String> = fs_err::read_dir(&expected_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "app-pod.service",
            "data-volume.service",
            "site.service",
            "web.service"
        ]
    );
    for name in &names {
        let expected = fs_err::read_to_string(expected_dir.join(name))
            .unwrap()
            .replace("[BERTH]", &berth_binary().display().to_string())
            .replace("[SOURCE]", &source.display().to_string())
            .replace("38471", &port);
        let actual = fs_err::read_to_string(out.join(name)).unwrap();
        assert_eq!(actual, expected, "{name}");
    }
    assert_eq!(
        fs_err::read_link(out.join("default.target.wants/web.service")).unwrap(),
        PathBuf::from("../web.service")
    );
    verify_units(&out);

    // The units, run as systemd would: the volume, the pod, then the container (ready once
    // berth says so), and down again.
    let unit = |name: &str| fs_err::read_to_string(out.join(name)).unwrap();
    let listener = Listener::new(&cx);
    let socket = listener.env();
    let env = [("NOTIFY_SOCKET", socket.as_str())];
    let run_all = |unit: &str, key: &str, must_succeed: bool| {
        for words in exec_lines(unit, key) {
            let output = exec(&cx, &words, &env).output().unwrap();
            assert!(
                !must_succeed || output.status.success(),
                "{words:?}: {output:?}"
            );
        }
    };
    run_all(&unit("data-volume.service"), "ExecStart", true);
    let pod = unit("app-pod.service");
    run_all(&pod, "ExecStartPre", false);
    run_all(&pod, "ExecStart", true);
    let web = unit("web.service");
    let start = exec_lines(&web, "ExecStart");
    let child = exec(&cx, &start[0], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    listener.ready();
    assert_eq!(cx.ok(["ps", "--format", "{{.Names}}"]), "web\n");
    assert!(cx.ok(["volume", "ls", "-q"]).contains("systemd-data"));
    run_all(&web, "ExecStop", true);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hello\n",
        "{output:?}"
    );
    run_all(&web, "ExecStopPost", false);
    run_all(&pod, "ExecStop", true);
    run_all(&pod, "ExecStopPost", false);
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
}

as_users!(quadlet_units =>
    quadlet_files_become_units_that_run_as_sub: Sub,
    quadlet_files_become_units_that_run_as_root: Root,
);

/// A file with an unknown key or bad syntax is reported as FILE:LINE and skipped; the
/// others are still written, and the generator fails.
#[test]
fn quadlet_errors_name_file_and_line() {
    let cx = TestContext::new(User::Root);
    let config = quadlet_config(&cx, "bad");
    let out = output_dir(&cx, "out");
    let run = cx.run_with_env(
        [
            "systemd-generator".as_ref(),
            "--user".as_ref(),
            out.as_os_str(),
        ],
        &[("XDG_CONFIG_HOME", &config.display().to_string())],
    );
    assert_eq!(run.code(), 1, "{}", run.describe());
    let stderr = run.stderr();
    assert!(
        stderr.contains("bad.container:4: unsupported key `ImagePullPolicy` in [Container]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("broken.volume:2: expected KEY=VALUE, found `VolumeName data`"),
        "{stderr}"
    );
    assert!(out.join("good.service").exists());
    assert!(!out.join("bad.service").exists());
    assert!(!out.join("broken-volume.service").exists());
}

/// systemd runs a generator by its path with three directories: install.sh's link under
/// `user-generators` is berth's `systemd-generator --user`.
#[test]
fn quadlet_generator_link() {
    let cx = TestContext::new(User::Root);
    let config = quadlet_config(&cx, "ok");
    let links = cx.work().join("lib/systemd/user-generators");
    fs_err::create_dir_all(&links).unwrap();
    std::os::unix::fs::symlink(berth_binary(), links.join("berth")).unwrap();
    let [out, early, late] = ["out", "early", "late"].map(|name| output_dir(&cx, name));
    let output = std::process::Command::new(links.join("berth"))
        .args([&out, &early, &late])
        .env_clear()
        .env("XDG_CONFIG_HOME", &config)
        .env("HOME", cx.dir.path().join("home"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(out.join("web.service").exists());
    assert!(out.join("app-pod.service").exists());
}
