//! `berth compose`: projects of several services brought up, used and taken down by the real
//! binary, as the unprivileged users; bad files refused before anything starts.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{TestContext, User, chown_tree, free_port, http_get};
use crate::{as_users, require_users};

/// Writes `files` into a project directory of the work dir; returns the compose file's path.
fn project(cx: &TestContext, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = cx.work().join(name);
    for (path, content) in files {
        let file = dir.join(path);
        fs_err::create_dir_all(file.parent().unwrap()).unwrap();
        fs_err::write(&file, content).unwrap();
    }
    chown_tree(&dir, cx.user);
    dir.join("compose.yaml")
}

/// Polls `probe` until it returns Some (or panics with `what` after `wait`).
fn eventually<T>(what: &str, wait: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const TWO_SERVICES: &str = r#"
name: demo
services:
  web:
    image: busybox
    command: ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
      - "127.0.0.1:${WEB_PORT:?set WEB_PORT}:8080"
    volumes:
      - ./www:/www:ro
      - data:/data
    healthcheck:
      test: ["CMD", "busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/index.html"]
      interval: 1s
      timeout: 5s
      retries: 30
  client:
    image: busybox
    command: sh -c 'echo client-up; busybox wget -q -O /data/fetched http://web:8080/index.html; echo $$GREETING; exec sleep 1000'
    environment:
      GREETING: ${GREETING:-hi there}
    volumes: [data:/data]
    stop_signal: SIGKILL
    depends_on:
      web:
        condition: service_healthy
volumes:
  data:
"#;

/// Two services in one pod: the client waits for the web service to be healthy, reaches it by
/// its service name, and shares a named volume with it; the web service answers through its
/// published port from a bind-mounted directory. A second `up` keeps what runs; `down -v`
/// removes containers, pod and volume, and frees the port.
fn two_services_up_exec_logs_down(user: User) {
    let cx = TestContext::new(user);
    cx.import_busybox("busybox");
    let file = project(
        &cx,
        "demo",
        &[
            ("compose.yaml", TWO_SERVICES),
            ("www/index.html", "served by compose\n"),
        ],
    );
    let file = file.to_str().unwrap();
    let port = free_port();
    let env = [("WEB_PORT", port.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let up = cx.run_with_env(["compose", "-f", file, "up", "-d"], &env);
    assert_eq!(up.code(), 0, "{}", up.describe());
    for line in [
        "Container demo-web-1  Started",
        "Container demo-web-1  Healthy",
        "Container demo-client-1  Started",
    ] {
        assert!(up.stderr().contains(line), "{line}: {}", up.describe());
    }
    assert!(
        http_get(port, "/index.html", Duration::from_secs(10)).ends_with("served by compose\n")
    );
    let fetched = eventually("the client's fetch", Duration::from_secs(20), || {
        let run = cx.run_with_env(
            [
                "compose",
                "-f",
                file,
                "exec",
                "-T",
                "web",
                "cat",
                "/data/fetched",
            ],
            &env,
        );
        (run.code() == 0).then(|| run.stdout())
    });
    assert_eq!(fetched, "served by compose\n");

    let ps = cx
        .run_with_env(["compose", "-f", file, "ps"], &env)
        .success();
    let out = ps.stdout();
    assert!(
        out.contains("demo-web-1") && out.contains("demo-client-1"),
        "{out}"
    );
    assert!(out.contains("(healthy)"), "{out}");
    assert!(
        out.contains(&format!("127.0.0.1:{port}->8080/tcp")),
        "{out}"
    );
    // Plain ps, port and inspect show the ports the project's pod publishes, as Podman does.
    assert_eq!(
        cx.ok([
            "ps",
            "--filter",
            "name=demo-web-1",
            "--format",
            "{{.Ports}}"
        ]),
        format!("127.0.0.1:{port}->8080/tcp\n")
    );
    assert_eq!(
        cx.ok(["port", "demo-web-1"]),
        format!("8080/tcp -> 127.0.0.1:{port}\n")
    );
    assert_eq!(
        cx.ok([
            "inspect",
            "--format",
            "{{json .NetworkSettings.Ports}}",
            "demo-web-1"
        ]),
        format!("{{\"8080/tcp\":[{{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"{port}\"}}]}}\n")
    );
    let logs = eventually("the client's log", Duration::from_secs(10), || {
        let out = cx
            .run_with_env(["compose", "-f", file, "logs", "client"], &env)
            .success()
            .stdout();
        out.contains("hi there").then_some(out)
    });
    assert!(logs.contains("demo-client-1  | client-up"), "{logs}");

    // Nothing changed: nothing is recreated.
    let again = cx.run_with_env(["compose", "-f", file, "up", "-d"], &env);
    assert_eq!(again.code(), 0, "{}", again.describe());
    assert!(
        again.stderr().contains("Container demo-web-1  Running"),
        "{}",
        again.describe()
    );
    // A changed definition is: the client gets a new container.
    let changed = cx.run_with_env(
        ["compose", "-f", file, "up", "-d"],
        &[env[0], ("GREETING", "changed")],
    );
    assert_eq!(changed.code(), 0, "{}", changed.describe());
    assert!(
        changed
            .stderr()
            .contains("Container demo-client-1  Recreate"),
        "{}",
        changed.describe()
    );
    assert!(
        changed.stderr().contains("Container demo-web-1  Running"),
        "{}",
        changed.describe()
    );

    let down = cx.run_with_env(["compose", "-f", file, "down", "-v", "-t", "1"], &env);
    assert_eq!(down.code(), 0, "{}", down.describe());
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
    assert!(!cx.ok(["volume", "ls", "-q"]).contains("demo_data"));
    TcpListener::bind(("127.0.0.1", port)).expect("the port is free after down");
}

as_users!(two_services_up_exec_logs_down =>
    compose_two_services_as_sub: Sub,
    compose_two_services_without_subordinate_ids: NoSub,
    compose_two_services_as_root: Root,
);

/// Foreground `up` streams each service's output with its prefix and returns when they end;
/// `run --rm` gives the one-off container's exit code and leaves nothing; a service with a
/// build section is built (`PROJECT-SERVICE` image); a service that cannot start makes a
/// foreground `up` fail and leave nothing behind.
#[test]
fn compose_foreground_run_build_and_failure() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let file = project(
        &cx,
        "fg",
        &[
            (
                "compose.yaml",
                "services:\n  hello:\n    build: ./app\n    command: [\"sh\", \"-c\", \"cat /built; echo hello from compose\"]\n",
            ),
            (
                "app/Dockerfile",
                "FROM busybox\nRUN echo built-by-compose > /built\n",
            ),
        ],
    );
    let file = file.to_str().unwrap();
    let up = cx.run(["compose", "-f", file, "-p", "fg", "up"]);
    assert_eq!(up.code(), 0, "{}", up.describe());
    assert!(
        up.stdout().contains("fg-hello-1  | built-by-compose\n"),
        "{}",
        up.describe()
    );
    assert!(
        up.stdout().contains("fg-hello-1  | hello from compose\n"),
        "{}",
        up.describe()
    );
    assert!(
        up.stdout().contains("fg-hello-1 exited with code 0"),
        "{}",
        up.describe()
    );
    assert!(cx.ok(["images"]).contains("fg-hello"));

    let run = cx.run([
        "compose",
        "-f",
        file,
        "-p",
        "fg",
        "run",
        "--rm",
        "hello",
        "sh",
        "-c",
        "echo one-off; exit 3",
    ]);
    assert_eq!(run.code(), 3, "{}", run.describe());
    assert!(run.stdout().contains("one-off"), "{}", run.describe());
    assert!(!cx.ok(["ps", "-a"]).contains("-run-"));
    cx.run(["compose", "-f", file, "-p", "fg", "down"])
        .success();
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");

    let broken = project(
        &cx,
        "broken",
        &[(
            "compose.yaml",
            "services:\n  fine:\n    image: busybox\n    command: [\"sleep\", \"100\"]\n  bad:\n    image: busybox\n    command: [\"/no/such/program\"]\n    depends_on: [fine]\n",
        )],
    );
    let failed = cx.run(["compose", "-f", broken.to_str().unwrap(), "up"]);
    assert_ne!(failed.code(), 0, "{}", failed.describe());
    assert!(
        failed.stderr().contains("/no/such/program"),
        "{}",
        failed.describe()
    );
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "", "a failed up leaves nothing");
    assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
}

/// `config` prints the merged, interpolated model; bad files are refused before anything is
/// made, each error naming the file and the key or service.
#[test]
fn compose_config_and_bad_files() {
    require_users!();
    let cx = TestContext::new(User::NoSub);
    let file = project(
        &cx,
        "cfg",
        &[
            (
                "compose.yaml",
                "services:\n  web:\n    image: \"busybox:${TAG:-latest}\"\n    ports: [\"8000:80\"]\n    environment: [\"MODE=${MODE}\"]\n",
            ),
            (
                "override.yaml",
                "services:\n  web:\n    ports: [\"9000:90\"]\n    environment:\n      EXTRA: yes\n",
            ),
            (".env", "MODE=from-dotenv\n"),
        ],
    );
    let dir = file.parent().unwrap();
    let over = dir.join("override.yaml");
    let config = cx.ok([
        "compose",
        "-f",
        file.to_str().unwrap(),
        "-f",
        over.to_str().unwrap(),
        "config",
    ]);
    for needle in [
        "name: cfg",
        "busybox:latest",
        "from-dotenv",
        "EXTRA",
        "8000",
        "9000",
    ] {
        assert!(config.contains(needle), "{needle}: {config}");
    }
    let services = cx.ok([
        "compose",
        "-f",
        file.to_str().unwrap(),
        "config",
        "--services",
    ]);
    assert_eq!(services, "web\n");

    let bad = |name: &str, yaml: &str, needle: &str| {
        let file = project(&cx, name, &[("compose.yaml", yaml)]);
        let run = cx.run(["compose", "-f", file.to_str().unwrap(), "up", "-d"]);
        assert_ne!(run.code(), 0, "{}", run.describe());
        assert!(
            run.stderr().contains(needle),
            "{needle}: {}",
            run.describe()
        );
        assert!(
            run.stderr().contains("compose.yaml") || !needle.contains('.'),
            "{}",
            run.describe()
        );
    };
    bad(
        "unknown",
        "services:\n  web:\n    image: busybox\n    portz: [\"80\"]\n",
        "services.web.portz",
    );
    bad(
        "cycle",
        "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
        "cycle",
    );
    bad(
        "noimage",
        "services:\n  web:\n    command: [\"true\"]\n",
        "neither an image nor a build",
    );
    bad(
        "badport",
        "services:\n  web:\n    image: busybox\n    ports: [\"80:abc\"]\n",
        "80:abc",
    );
    bad(
        "required",
        "services:\n  web:\n    image: \"busybox:${NEEDED:?you must set NEEDED}\"\n",
        "you must set NEEDED",
    );
    bad(
        "sameport",
        "services:\n  a:\n    image: busybox\n    ports: [\"8000:80\"]\n  b:\n    image: busybox\n    ports: [\"8000:81\"]\n",
        "8000",
    );
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
}

/// The tutorial's ending for real (`tests/fixtures/compose-app`): the FastAPI app, extended to
/// count visits in PostgreSQL, and a PostgreSQL image built from the Debian minbase with
/// Debian's package. The web service starts once the database is healthy, reaches it as
/// `db:5432`, and answers through its published port with data read from the database;
/// `down -v --rmi local` removes everything the project made. Skipped with a reason when
/// deb.debian.org or PyPI cannot be reached.
#[test]
fn compose_tutorial_web_and_postgres() {
    require_users!();
    let (Some(minbase), Some(python)) = (
        crate::support::cached_fixture("minbase.tar"),
        crate::support::cached_fixture("python.tar"),
    ) else {
        return;
    };
    if !crate::support::reachable("deb.debian.org:80") || !crate::support::reachable("pypi.org:443")
    {
        eprintln!("skipped: deb.debian.org or pypi.org is unreachable");
        return;
    }
    let cx = TestContext::new(User::Sub);
    cx.ok(["import", minbase.to_str().unwrap(), "debian:minbase"]);
    crate::support::import_python(&cx, &python, "python:3.11-slim");
    let dir = cx.work().join("tutorial");
    crate::support::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose-app"),
        &dir,
    );
    chown_tree(&dir, cx.user);
    let file = dir.join("compose.yaml");
    let file = file.to_str().unwrap();
    let port = free_port().to_string();
    let env = [("WEB_PORT", port.as_str())];
    let up = cx.run_with_env(["compose", "-f", file, "up", "-d"], &env);
    assert_eq!(up.code(), 0, "{}", up.describe());
    assert!(
        up.stderr().contains("Container tutorial-db-1  Healthy"),
        "{}",
        up.describe()
    );
    let port: u16 = port.parse().unwrap();
    let first = http_get(port, "/", Duration::from_secs(90));
    assert!(first.contains("\"visits\":1"), "{first}");
    assert!(first.contains("PostgreSQL"), "{first}");
    let second = http_get(port, "/", Duration::from_secs(10));
    assert!(second.contains("\"visits\":2"), "{second}");

    let down = cx.run_with_env(
        ["compose", "-f", file, "down", "-v", "--rmi", "local"],
        &env,
    );
    assert_eq!(down.code(), 0, "{}", down.describe());
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
    assert_eq!(cx.ok(["volume", "ls", "-q"]), "");
    let images = cx.ok(["images"]);
    assert!(
        !images.contains("tutorial-web") && !images.contains("tutorial-db"),
        "{images}"
    );
}

/// Ctrl-C on a foreground `up` stops every service (each gets its stop signal) and returns;
/// the containers stay, stopped, as with Docker Compose.
#[test]
fn compose_foreground_up_stops_on_ctrl_c() {
    use std::io::BufRead;
    require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let looping = "sh -c 'echo ready-$$0; trap \"echo got-term-$$0; exit 0\" TERM; while true; do sleep 0.1; done'";
    let file = project(
        &cx,
        "intr",
        &[(
            "compose.yaml",
            &format!(
                "services:\n  one:\n    image: busybox\n    command: {looping} one\n  two:\n    image: busybox\n    command: {looping} two\n"
            ),
        )],
    );
    let mut child = cx
        .command(["compose", "-f", file.to_str().unwrap(), "up"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = sender.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(seen.iter().any(|l: &String| l.ends_with("ready-one"))
        && seen.iter().any(|l| l.ends_with("ready-two")))
    {
        assert!(Instant::now() < deadline, "never ready: {seen:?}");
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    // The berth process itself (runuser is in between): the one whose command line says so.
    let berth = eventually("the compose process", Duration::from_secs(5), || {
        fs_err::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let cmdline = fs_err::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let is_berth = text.contains(&format!("compose -f {} up", file.display()))
                && !text.contains("runuser")
                && !text.contains("/usr/bin/env");
            is_berth.then(|| entry.file_name().to_string_lossy().into_owned())
        })
    });
    std::process::Command::new("kill")
        .args(["-INT", &berth])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    for line in lines.try_iter() {
        seen.push(line);
    }
    assert_eq!(status.code(), Some(130), "{seen:?}");
    assert!(seen.iter().any(|l| l.ends_with("got-term-one")), "{seen:?}");
    assert!(seen.iter().any(|l| l.ends_with("got-term-two")), "{seen:?}");
    assert_eq!(cx.ok(["ps", "-q"]), "", "nothing runs after Ctrl-C");
    assert_eq!(cx.ok(["ps", "-a", "-q"]).lines().count(), 2);
    cx.run(["compose", "-f", file.to_str().unwrap(), "down"])
        .success();
}

/// The lifecycle commands on a project whose images come from a registry and a build:
/// `pull` fetches the service images, `build` makes the built one, `stop` stops every
/// container (they stay), `start` starts them again in dependency order, `restart SERVICE`
/// restarts one (a new process), and `down --rmi all` removes the images too.
/// `compose stop` and `down` stop dependents before what they depend on (the compose spec's
/// order). The dependency logs its end at once, the dependent only after half a second: stopped
/// all at once, the log would read `db` before `app`.
#[test]
fn compose_stops_dependents_first() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let looping = |name: &str, delay: &str| {
        format!(
            "sh -c 'trap \"sleep {delay}; echo {name} >> /order/log; exit 0\" TERM; while true; do sleep 0.1; done'"
        )
    };
    let file = project(
        &cx,
        "ordered",
        &[
            (
                "compose.yaml",
                &format!(
                    "services:\n  app:\n    image: busybox\n    command: {}\n    volumes: [./order:/order]\n    depends_on: [db]\n  db:\n    image: busybox\n    command: {}\n    volumes: [./order:/order]\n",
                    looping("app", "0.5"),
                    looping("db", "0")
                ),
            ),
            ("order/.keep", ""),
        ],
    );
    let log = file.parent().unwrap().join("order/log");
    let file = file.to_str().unwrap();
    let compose = |args: &[&str]| {
        let mut all = vec!["compose", "-f", file];
        all.extend_from_slice(args);
        cx.run(all)
    };
    let running = || cx.ok(["ps", "-q"]).lines().count();
    compose(&["up", "-d"]).success();
    assert_eq!(running(), 2);
    let stopped = compose(&["stop"]);
    assert_eq!(stopped.code(), 0, "{}", stopped.describe());
    assert_eq!(fs_err::read_to_string(&log).unwrap(), "app\ndb\n");
    let said = stopped.stderr();
    let at = |text: &str| said.find(text).unwrap_or_else(|| panic!("{text}: {said}"));
    assert!(
        at("ordered-app-1  Stopped") < at("ordered-db-1  Stopping"),
        "{said}"
    );

    compose(&["up", "-d"]).success();
    assert_eq!(running(), 2);
    compose(&["down", "-t", "5"]).success();
    assert_eq!(fs_err::read_to_string(&log).unwrap(), "app\ndb\napp\ndb\n");
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
}

#[test]
fn compose_pull_build_stop_start_restart() {
    require_users!();
    let Some(registry) = crate::support::registry::Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let remote = registry.image("compose/busybox:1");
    cx.ok(["tag", "busybox", &remote]);
    cx.ok(["push", &remote]);
    cx.ok(["rmi", &remote]);
    let looping = "sh -c 'echo started; trap \"exit 0\" TERM; while true; do sleep 0.1; done'";
    let file = project(
        &cx,
        "life",
        &[
            (
                "compose.yaml",
                &format!(
                    "services:\n  remote:\n    image: {remote}\n    command: {looping}\n  built:\n    build: ./app\n    command: {looping}\n    depends_on: [remote]\n"
                ),
            ),
            ("app/Dockerfile", "FROM busybox\nRUN echo built > /built\n"),
        ],
    );
    let file = file.to_str().unwrap();
    let compose = |args: &[&str]| {
        let mut all = vec!["compose", "-f", file];
        all.extend_from_slice(args);
        cx.run(all)
    };
    let pulled = compose(&["pull"]);
    assert_eq!(pulled.code(), 0, "{}", pulled.describe());
    assert!(cx.ok(["images"]).contains("compose/busybox"));
    let built = compose(&["build"]);
    assert_eq!(built.code(), 0, "{}", built.describe());
    assert!(cx.ok(["images"]).contains("life-built"));

    compose(&["up", "-d"]).success();
    let running = || cx.ok(["ps", "-q"]).lines().count();
    assert_eq!(running(), 2);
    compose(&["stop"]).success();
    assert_eq!(running(), 0);
    assert_eq!(
        cx.ok(["ps", "-a", "-q"]).lines().count(),
        2,
        "stop keeps them"
    );
    let started = compose(&["start"]);
    assert_eq!(started.code(), 0, "{}", started.describe());
    assert_eq!(running(), 2);
    let pid = |name: &str| cx.ok(["inspect", "--format", "{{.State.Pid}}", name]);
    let before = pid("life-built-1");
    compose(&["restart", "built"]).success();
    assert_eq!(running(), 2);
    assert_ne!(pid("life-built-1"), before, "restart runs a new process");

    compose(&["down", "--rmi", "all", "-t", "1"]).success();
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    let images = cx.ok(["images"]);
    assert!(
        !images.contains("life-built") && !images.contains("compose/busybox"),
        "{images}"
    );
}
