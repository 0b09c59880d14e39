//! pull, push, login and logout against a private `docker-registry` on 127.0.0.1 (one per
//! test), and interop with podman and skopeo.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::require_users;
use crate::support::registry::{Registry, skip};
use crate::support::{TestContext, User, command_exists};

/// Imports busybox as `name` and pushes it; returns the push output.
fn push_busybox(cx: &TestContext, name: &str) -> String {
    cx.import_busybox(name);
    cx.ok(["push", name])
}

/// The `Digest:` a pull printed.
fn digest_line(output: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no Digest line in:\n{output}"))
        .to_owned()
}

#[test]
fn push_rmi_pull_and_run_round_trip() {
    require_users!();
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let name = registry.image("test/busybox:1");
    let id = cx.import_busybox("busybox");
    cx.ok(["tag", "busybox", &name]);
    let pushed = cx.ok(["image", "push", &name]);
    assert!(
        pushed.contains(&format!(
            "The push refers to repository [{}]",
            registry.image("test/busybox")
        )),
        "{pushed}"
    );
    assert!(pushed.contains(": Pushed\n"), "{pushed}");
    let last = pushed.lines().last().unwrap();
    assert!(
        last.starts_with("1: digest: sha256:") && last.contains(" size: "),
        "{pushed}"
    );
    // A second push finds every layer there.
    let again = cx.ok(["push", &name]);
    assert!(again.contains(": Layer already exists"), "{again}");

    cx.ok(["rmi", &name, "busybox"]);
    assert_eq!(cx.ok(["images", "-q"]), "");
    let pulled = cx.ok(["pull", &name]);
    let lines: Vec<&str> = pulled.lines().collect();
    assert_eq!(lines[0], "1: Pulling from test/busybox", "{pulled}");
    assert!(pulled.contains(": Pulling fs layer\n"), "{pulled}");
    assert!(pulled.contains(": Download complete\n"), "{pulled}");
    assert!(pulled.contains(": Pull complete\n"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {name}\n")),
        "{pulled}"
    );
    assert_eq!(*lines.last().unwrap(), name);
    let digest = digest_line(&pulled);
    assert!(last.contains(&digest), "push said {last}, pull {digest}");
    // The same image: the config (and so the ID) went through unchanged.
    assert_eq!(cx.ok(["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(cx.ok(["run", "--rm", &name, "echo", "hello"]), "hello\n");

    let again = cx.ok(["image", "pull", &name]);
    assert!(again.contains(": Already exists\n"), "{again}");
    assert!(
        again.contains(&format!("Status: Image is up to date for {name}\n")),
        "{again}"
    );
    assert_eq!(cx.ok(["pull", "-q", &name]), format!("{name}\n"));

    // By digest, into an empty store.
    cx.ok(["rmi", &name]);
    let by_digest = format!("{}@{digest}", registry.image("test/busybox"));
    let pulled = cx.ok(["pull", &by_digest]);
    assert!(
        pulled.starts_with(&format!("{digest}: Pulling from test/busybox\n")),
        "{pulled}"
    );
    assert_eq!(cx.ok(["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(cx.ok(["run", "--rm", &by_digest, "true"]), "");
    cx.assert_store_clean();
}

#[test]
fn pull_errors_name_the_reference() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Root);
    let missing = registry.image("test/nothing:nope");
    cx.run(["pull", &missing])
        .failure_with("manifest unknown")
        .failure_with(&missing);
    // Nothing listens there: a quick, clear error.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    cx.run(["pull", &format!("127.0.0.1:{closed}/x/y:1")])
        .failure_with(&format!("cannot reach the registry `127.0.0.1:{closed}`"));
    assert!(started.elapsed() < Duration::from_secs(20));
    cx.run(["pull", "--platform", "linux//", &missing])
        .failure_with("invalid platform");
}

#[test]
fn tampered_blob_fails_naming_the_layer_and_stores_nothing() {
    require_users!();
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let name = registry.image("test/tampered:1");
    push_busybox(&cx, &name);
    let layer = cx
        .ok([
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            &name,
        ])
        .trim()
        .trim_matches(['[', ']', '"'])
        .to_owned();
    assert!(layer.starts_with("sha256:"), "{layer}");
    cx.ok(["rmi", &name]);
    // Same size, one byte changed, in the middle of the tar.
    let data = registry.blob_data(&layer);
    let mut bytes = fs_err::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs_err::write(&data, &bytes).unwrap();
    cx.run(["pull", &name])
        .failure_with(&format!("layer `{layer}` failed verification"));
    assert_eq!(cx.ok(["images", "-q"]), "");
    cx.run(["run", "--rm", &name, "true"])
        .failure_with("Unable to find image");
    assert_eq!(cx.ok(["images", "-q"]), "");
    cx.assert_store_clean();
}

#[test]
fn run_pulls_a_missing_image() {
    require_users!();
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let name = registry.image("test/run:1");
    push_busybox(&cx, &name);
    cx.ok(["rmi", &name]);
    let run = cx.run(["run", "--rm", &name, "echo", "pulled"]).success();
    assert_eq!(run.stdout(), "pulled\n");
    let stderr = run.stderr();
    assert!(
        stderr.starts_with(&format!("Unable to find image '{name}' locally\n")),
        "{stderr}"
    );
    assert!(stderr.contains("Pull complete"), "{stderr}");
    assert!(
        stderr.contains(&format!("Status: Downloaded newer image for {name}")),
        "{stderr}"
    );
    // create too, and a build's FROM.
    cx.ok(["rmi", &name]);
    let run = cx.run(["create", &name, "true"]).success();
    assert!(
        run.stderr().contains("Unable to find image"),
        "{}",
        run.describe()
    );
    cx.ok(["rm", run.stdout().trim()]);
    cx.ok(["rmi", &name]);
    let dockerfile = cx.write_file(
        "Dockerfile",
        format!("FROM {name}\nCMD [\"true\"]\n").as_bytes(),
    );
    cx.ok([
        "build".as_ref(),
        "-q".as_ref(),
        "-t".as_ref(),
        "built".as_ref(),
        "-f".as_ref(),
        dockerfile.as_os_str(),
        cx.work().as_os_str(),
    ]);
    let names = cx.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        names.contains(&name) && names.contains("built:latest"),
        "{names}"
    );
}

#[test]
fn basic_auth_login_and_logout() {
    let Some(registry) = Registry::start_with_basic_auth("tester", "s3cret") else {
        return;
    };
    let cx = TestContext::new(User::Root);
    let name = registry.image("private/busybox:1");
    cx.import_busybox(&name);
    let hint = format!("berth login {}", registry.host);
    cx.run(["push", &name])
        .failure_with("unauthorized: authentication required")
        .failure_with(&hint);
    cx.run_with_stdin(
        ["login", "-u", "tester", "--password-stdin", &registry.host],
        b"wrong\n",
    )
    .failure_with("incorrect username or password");
    let login = cx
        .run_with_stdin(
            ["login", "-u", "tester", "--password-stdin", &registry.host],
            b"s3cret\n",
        )
        .success();
    assert_eq!(login.stdout(), "Login Succeeded!\n");
    let auth: serde_json::Value = serde_json::from_slice(
        &fs_err::read(cx.dir.path().join("run/containers/auth.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        auth["auths"][&registry.host]["auth"], "dGVzdGVyOnMzY3JldA==",
        "{auth}"
    );
    cx.ok(["push", &name]);
    cx.ok(["rmi", &name]);
    cx.ok(["pull", &name]);
    assert_eq!(
        cx.ok(["logout", &registry.host]),
        format!("Removed login credentials for {}\n", registry.host)
    );
    cx.ok(["rmi", &name]);
    cx.run(["pull", &name])
        .failure_with("unauthorized: authentication required")
        .failure_with(&hint);
    cx.run(["logout", &registry.host])
        .failure_with("not logged into");
    // Docker's config.json is read too.
    let docker = cx.dir.path().join("home/.docker");
    fs_err::create_dir_all(&docker).unwrap();
    fs_err::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"dGVzdGVyOnMzY3JldA=="}}}}}}"#,
            registry.host
        ),
    )
    .unwrap();
    cx.ok(["pull", "-q", &name]);
}

/// Rootless podman as the context's user, with private storage in its dir; `--runtime runc`
/// where crun refuses this host's hybrid cgroups (as contrib/bench/lib.sh does).
fn podman(cx: &TestContext, runtime: Option<&str>) -> Command {
    let dir = cx.dir.path();
    let mut command = Command::new("/usr/sbin/runuser");
    command
        .args(["-u", cx.user.name(), "--", "/usr/bin/env"])
        .arg(format!("HOME={}", dir.join("home").display()))
        .arg(format!("XDG_RUNTIME_DIR={}", dir.join("run").display()))
        .arg("podman")
        .arg("--root")
        .arg(dir.join("podman"))
        .arg("--runroot")
        .arg(dir.join("podrun"))
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ]);
    if let Some(runtime) = runtime {
        command.args(["--runtime", runtime]);
    }
    command.current_dir(dir);
    command
}

/// Stops the pause process rootless podman leaves behind for this context's runtime dir.
struct PodmanPause(std::path::PathBuf);

impl Drop for PodmanPause {
    fn drop(&mut self) {
        let pid_file = self.0.join("run/libpod/tmp/pause.pid");
        if let Some(pid) = fs_err::read_to_string(pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn output_of(command: &mut Command) -> std::process::Output {
    command.output().unwrap()
}

#[test]
fn podman_pulls_and_runs_what_berth_pushed() {
    require_users!();
    if !command_exists("podman") || !command_exists("skopeo") {
        skip("podman and skopeo are needed for the interop test");
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let name = registry.image("interop/berth:1");
    push_busybox(&cx, &name);
    let inspect = output_of(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        &format!("docker://{name}"),
    ]));
    assert!(inspect.status.success(), "{inspect:?}");
    let inspected: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let ours = cx.ok([
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        &name,
    ]);
    let ours: Vec<String> = serde_json::from_str(ours.trim()).unwrap();
    assert_eq!(inspected["Layers"], serde_json::json!(ours));

    let _pause = PodmanPause(cx.dir.path().to_path_buf());
    let pull = output_of(podman(&cx, None).args(["pull", "-q", "--tls-verify=false", &name]));
    assert!(pull.status.success(), "{pull:?}");
    let run_args = [
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "sh",
        "-c",
        "echo hi",
    ];
    let mut run = output_of(podman(&cx, None).args(run_args));
    if !run.status.success() {
        run = output_of(podman(&cx, Some("runc")).args(run_args));
    }
    assert!(run.status.success(), "podman run failed: {run:?}");
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hi\n");
}

#[test]
fn berth_pulls_what_skopeo_pushed_gzip_and_zstd() {
    require_users!();
    if !command_exists("skopeo") {
        skip("skopeo is needed for the interop test");
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let layers = |name: &str| {
        cx.ok([
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            name,
        ])
    };
    let original = layers("busybox");
    let archive = cx.work().join("busybox.tar");
    cx.ok([
        "save".as_ref(),
        "-o".as_ref(),
        archive.as_os_str(),
        "busybox".as_ref(),
    ]);
    cx.ok(["rmi", "busybox"]);
    for (tag, extra) in [
        ("gzip", &[][..]),
        (
            "zstd",
            &["--format", "oci", "--dest-compress-format", "zstd"][..],
        ),
    ] {
        let name = registry.image(&format!("interop/skopeo:{tag}"));
        let copy = output_of(
            Command::new("skopeo")
                .args(["copy", "--dest-tls-verify=false"])
                .args(extra)
                .arg(format!("docker-archive:{}", archive.display()))
                .arg(format!("docker://{name}")),
        );
        assert!(copy.status.success(), "{copy:?}");
        let pulled = cx.ok(["pull", &name]);
        assert!(pulled.contains("Pull complete"), "{pulled}");
        // skopeo may rewrite the config, never the layers' content.
        assert_eq!(layers(&name), original);
        assert_eq!(
            cx.ok(["run", "--rm", &name, "echo", tag]),
            format!("{tag}\n")
        );
        cx.ok(["rmi", &name]);
    }
    cx.assert_store_clean();
}

/// Writes `text` to `~/.config/<relative>` of the context's user.
fn write_config(cx: &TestContext, relative: &str, text: &str) {
    let config = cx.dir.path().join("home/.config");
    let path = config.join(relative);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, text).unwrap();
    crate::support::chown_tree(&config, cx.user);
}

/// A loopback port where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Puts busybox in the registry as `<path>library/busybox:latest`, and leaves the store empty.
fn seed_busybox(cx: &TestContext, registry: &Registry, path: &str) {
    let name = registry.image(&format!("{path}library/busybox:latest"));
    push_busybox(cx, &name);
    cx.ok(["rmi", &name]);
    assert_eq!(cx.ok(["images", "-q"]), "");
}

/// What the store names its images, as `REPOSITORY:TAG` lines.
fn image_names(cx: &TestContext) -> String {
    cx.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"])
}

/// Removes the local busybox, builds `built` on `FROM busybox` (which must pull it again) and
/// returns the image names after.
fn build_from_busybox(cx: &TestContext) -> String {
    cx.ok(["rmi", "busybox"]);
    let dockerfile = cx.write_file("Dockerfile", b"FROM busybox\nRUN true\n");
    cx.ok([
        "build".as_ref(),
        "-q".as_ref(),
        "-t".as_ref(),
        "built".as_ref(),
        "-f".as_ref(),
        dockerfile.as_os_str(),
        cx.work().as_os_str(),
    ]);
    image_names(cx)
}

#[test]
fn a_docker_io_mirror_serves_pulls_runs_and_builds_offline() {
    require_users!();
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    seed_busybox(&cx, &registry, "");
    write_config(
        &cx,
        "containers/registries.conf",
        &format!(
            "unqualified-search-registries = [\"docker.io\"]\n\n\
             [[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n\n\
             [[registry.mirror]]\nlocation = \"127.0.0.1:{}\"\n\n\
             [[registry.mirror]]\nlocation = \"{}\"\n",
            closed_port(),
            registry.host
        ),
    );
    // The first mirror is down: the second serves.
    let pulled = cx.ok(["pull", "docker.io/library/busybox"]);
    assert!(
        pulled.starts_with("latest: Pulling from library/busybox\n"),
        "{pulled}"
    );
    assert!(
        pulled.contains("Status: Downloaded newer image for busybox:latest\n"),
        "{pulled}"
    );
    assert!(
        pulled.ends_with("docker.io/library/busybox:latest\n"),
        "{pulled}"
    );
    assert_eq!(image_names(&cx), "busybox:latest\n");
    assert_eq!(
        cx.ok(["run", "--rm", "busybox", "echo", "mirrored"]),
        "mirrored\n"
    );

    // run and a build's FROM pull a missing image through the mirror too.
    cx.ok(["rmi", "busybox"]);
    let run = cx.run(["run", "--rm", "busybox", "true"]).success();
    assert!(
        run.stderr()
            .starts_with("Unable to find image 'busybox:latest' locally\n"),
        "{}",
        run.describe()
    );
    let names = build_from_busybox(&cx);
    assert!(
        names.contains("busybox:latest") && names.contains("built:latest"),
        "{names}"
    );

    // Pushes never go to a mirror: docker.io itself is tried (and unreachable offline, or
    // refusing us online).
    let push = cx.run(["push", "busybox"]);
    assert_ne!(push.code(), 0, "{}", push.describe());
    assert!(
        !push.stderr().contains(&registry.host),
        "{}",
        push.describe()
    );
}

#[test]
fn short_names_search_the_registries_a_drop_in_names() {
    require_users!();
    let (Some(empty), Some(full)) = (Registry::start(), Registry::start()) else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let pushed = full.image("busybox:latest");
    push_busybox(&cx, &pushed);
    cx.ok(["rmi", &pushed]);
    let dead = format!("127.0.0.1:{}", closed_port());
    // The main file's search list and alias are replaced by the drop-in (an empty alias erases
    // the name); files not named `*.conf` are ignored.
    write_config(
        &cx,
        "containers/registries.conf",
        &format!(
            "unqualified-search-registries = [\"{dead}\"]\n\
             [aliases]\n\"busybox\" = \"{dead}/busybox\"\n"
        ),
    );
    write_config(
        &cx,
        "containers/registries.conf.d/50-search.conf",
        &format!(
            "unqualified-search-registries = [\"{}\", \"{}\"]\n\
             [aliases]\n\"busybox\" = \"\"\n",
            empty.host, full.host
        ),
    );
    write_config(&cx, "containers/registries.conf.d/README", "not toml [");
    let search_file = ".config/containers/registries.conf.d/50-search.conf";

    // The first registry lacks it: the second serves, and names it.
    let pulled = cx.ok(["pull", "busybox"]);
    assert!(
        pulled.starts_with("latest: Pulling from busybox\n"),
        "{pulled}"
    );
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {pushed}\n")),
        "{pulled}"
    );
    assert!(pulled.ends_with(&format!("\n{pushed}\n")), "{pulled}");
    assert_eq!(image_names(&cx), format!("{pushed}\n"));
    // Found locally under the short name: no second pull.
    let run = cx
        .run(["run", "--rm", "busybox", "echo", "searched"])
        .success();
    assert_eq!(run.stdout(), "searched\n");
    assert!(
        !run.stderr().contains("Unable to find"),
        "{}",
        run.describe()
    );
    assert!(cx.ok(["inspect", "busybox"]).contains(&pushed));

    // Found nowhere: every name tried, and why, and where the list comes from.
    cx.run(["pull", "nothing"])
        .failure_with(&format!(
            "short name `nothing` did not resolve to an image: tried `{}/nothing:latest` (manifest unknown), `{}/nothing:latest` (manifest unknown)",
            empty.host, full.host
        ))
        .failure_with(search_file);
    write_config(
        &cx,
        "containers/registries.conf.d/60-down.conf",
        &format!(
            "unqualified-search-registries = [\"{dead}\", \"{}\"]\n",
            empty.host
        ),
    );
    cx.run(["pull", "busybox:1"])
        .failure_with(&format!(
            "tried `{dead}/busybox:1` (cannot reach the registry `{dead}`"
        ))
        .failure_with(&format!("`{}/busybox:1` (manifest unknown)", empty.host))
        .failure_with("60-down.conf");
    // A broken drop-in is named, with the line.
    write_config(
        &cx,
        "containers/registries.conf.d/60-down.conf",
        "\nunqualified-search-registries = [\n",
    );
    cx.run(["pull", "busybox"])
        .failure_with("invalid configuration file")
        .failure_with("registries.conf.d/60-down.conf")
        .failure_with("line 2");
    fs_err::remove_file(
        cx.dir
            .path()
            .join("home/.config/containers/registries.conf.d/60-down.conf"),
    )
    .unwrap();

    // An alias is the only name tried, and a local lookup follows it too.
    write_config(
        &cx,
        "containers/registries.conf.d/70-alias.conf",
        &format!("[aliases]\n\"shorty\" = \"{}\"\n", full.image("busybox")),
    );
    let run = cx
        .run(["run", "--rm", "shorty", "echo", "aliased"])
        .success();
    assert_eq!(run.stdout(), "aliased\n");
    assert!(
        !run.stderr().contains("Unable to find"),
        "{}",
        run.describe()
    );
    cx.ok(["rmi", "shorty"]);
    assert_eq!(cx.ok(["images", "-q"]), "");
    assert_eq!(cx.ok(["pull", "-q", "shorty"]), format!("{pushed}\n"));

    // A build's FROM searches too.
    let names = build_from_busybox(&cx);
    assert!(
        names.contains(&pushed) && names.contains("built:latest"),
        "{names}"
    );
    // A qualified name is never searched.
    cx.run(["pull", "docker.io/library/nothing"])
        .failure_with("docker.io");
}

#[test]
fn berth_toml_location_wins_over_registries_conf() {
    require_users!();
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    seed_busybox(&cx, &registry, "hub/");
    // registries.conf blocks docker.io; berth.toml, which wins, sends it to the registry.
    write_config(
        &cx,
        "containers/registries.conf",
        "[[registry]]\nprefix = \"docker.io\"\nblocked = true\n",
    );
    cx.run(["pull", "busybox"])
        .failure_with("is blocked")
        .failure_with(".config/containers/registries.conf");
    let dead = closed_port();
    write_config(
        &cx,
        "berth/berth.toml",
        &format!(
            "[[registry]]\nprefix = \"docker.io\"\nlocation = \"{}/hub\"\n\n\
             [[registry.mirror]]\nlocation = \"127.0.0.1:{dead}\"\n",
            registry.host
        ),
    );
    let pulled = cx.ok(["pull", "-q", "busybox"]);
    assert_eq!(pulled, "docker.io/library/busybox:latest\n");
    assert_eq!(image_names(&cx), "busybox:latest\n");
    assert_eq!(cx.ok(["run", "--rm", "busybox", "echo", "hub"]), "hub\n");

    // Every source failing names each of them.
    cx.ok(["rmi", "busybox"]);
    cx.run(["pull", "busybox:nope"])
        .failure_with("failed from every mirror")
        .failure_with(&format!("`127.0.0.1:{dead}/library/busybox`: cannot reach"))
        .failure_with("manifest unknown");
}

#[test]
fn blocked_registries_refuse_pull_and_push_naming_the_file() {
    let cx = TestContext::new(User::Root);
    let host = format!("127.0.0.1:{}", closed_port());
    write_config(
        &cx,
        "containers/registries.conf",
        &format!("[[registry]]\nprefix = \"{host}/blocked\"\nblocked = true\n"),
    );
    let name = format!("{host}/blocked/busybox:1");
    let file = cx
        .dir
        .path()
        .join("home/.config/containers/registries.conf");
    cx.run(["pull", &name])
        .failure_with(&format!("`{host}/blocked/busybox` is blocked"))
        .failure_with(&file.display().to_string());
    cx.import_busybox(&name);
    cx.run(["push", &name])
        .failure_with("is blocked")
        .failure_with(&file.display().to_string());
    // Its neighbours are not.
    cx.run(["pull", &format!("{host}/open/busybox:1")])
        .failure_with("cannot reach the registry");
    // A broken file is named too.
    write_config(&cx, "containers/registries.conf", "[[registry]\n");
    cx.run(["pull", &name])
        .failure_with("invalid configuration file")
        .failure_with(&file.display().to_string());
}

#[test]
fn tls_registry_needs_its_ca_in_certs_d() {
    require_users!();
    let Some((registry, ca)) = Registry::start_tls() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let name = registry.image("tls/busybox:1");
    cx.import_busybox(&name);
    cx.run(["push", &name])
        .failure_with(&format!(
            "cannot verify the TLS certificate of `{}`",
            registry.host
        ))
        .failure_with("certs.d");
    // --tls-verify=false skips the check, as podman's does.
    cx.ok(["push", "--tls-verify=false", &name]);
    cx.ok(["rmi", &name]);
    cx.run(["pull", &name])
        .failure_with("cannot verify the TLS certificate")
        .failure_with(&format!(
            ".config/containers/certs.d/{}/ca.crt",
            registry.host
        ));
    // `insecure = true` skips it too.
    write_config(
        &cx,
        "containers/registries.conf",
        &format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            registry.host
        ),
    );
    cx.ok(["pull", "-q", &name]);
    cx.ok(["rmi", &name]);
    fs_err::remove_file(
        cx.dir
            .path()
            .join("home/.config/containers/registries.conf"),
    )
    .unwrap();

    write_config(
        &cx,
        &format!("containers/certs.d/{}/ca.crt", registry.host),
        &String::from_utf8(ca).unwrap(),
    );
    let pulled = cx.ok(["pull", &name]);
    assert!(pulled.contains("Pull complete"), "{pulled}");
    assert_eq!(cx.ok(["run", "--rm", &name, "echo", "tls"]), "tls\n");
    // The registry itself refuses plain HTTP: HTTPS was used.
    cx.ok(["push", "--tls-verify", &name]);
}

/// Builds `FROM name` plus a `/version` file holding `version` in `cx`, under `name` itself,
/// and pushes it: the registry's tag moves to a new image.
fn push_version(cx: &TestContext, name: &str, version: &str) {
    cx.write_file("version", format!("{version}\n").as_bytes());
    let dockerfile = cx.write_file(
        "Dockerfile",
        format!("FROM {name}\nCOPY version /version\n").as_bytes(),
    );
    cx.ok([
        "build".as_ref(),
        "-q".as_ref(),
        "-t".as_ref(),
        name.as_ref(),
        "-f".as_ref(),
        dockerfile.as_os_str(),
        cx.work().as_os_str(),
    ]);
    cx.ok(["push", name]);
}

#[test]
fn pull_policy_always_missing_never() {
    require_users!();
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let name = registry.image("test/policy:1");
    push_busybox(&cx, &name);

    // never: a missing image is Docker's error, and nothing is pulled.
    let absent = registry.image("test/absent:1");
    for verb in ["run", "create"] {
        let run = cx
            .run([verb, "--pull", "never", &absent, "true"])
            .failure_with(&format!("No such image: {absent}"));
        assert_eq!(run.code(), 125, "{}", run.describe());
        assert!(
            !run.stderr().contains("Unable to find"),
            "{}",
            run.describe()
        );
    }
    let run = cx
        .run(["run", "--pull", "never", "--rm", &name, "true"])
        .success();
    assert!(!run.stderr().contains("Status:"), "{}", run.describe());
    let never = cx.write_file("Dockerfile", format!("FROM {absent}\n").as_bytes());
    cx.run([
        "build".as_ref(),
        "--pull=never".as_ref(),
        "-f".as_ref(),
        never.as_os_str(),
        cx.work().as_os_str(),
    ])
    .failure_with(&format!("No such image: {absent}"));

    // Another user moves the tag; `build --pull` (always) follows it.
    let other = TestContext::new(User::Sub);
    other.import_busybox(&name);
    push_version(&other, &name, "two");
    let dockerfile = cx.write_file(
        "Dockerfile",
        format!("FROM {name}\nCMD [\"cat\", \"/version\"]\n").as_bytes(),
    );
    cx.ok([
        "build".as_ref(),
        "-q".as_ref(),
        "--pull".as_ref(),
        "-t".as_ref(),
        "derived".as_ref(),
        "-f".as_ref(),
        dockerfile.as_os_str(),
        cx.work().as_os_str(),
    ]);
    assert_eq!(cx.ok(["run", "--rm", "derived"]), "two\n");

    // And `run --pull always` too, then finds it up to date.
    push_version(&other, &name, "three");
    let run = cx
        .run(["run", "--pull", "always", "--rm", &name, "cat", "/version"])
        .success();
    assert_eq!(run.stdout(), "three\n", "{}", run.describe());
    assert!(
        run.stderr()
            .contains(&format!("Status: Downloaded newer image for {name}\n"))
            && !run.stderr().contains("Unable to find"),
        "{}",
        run.describe()
    );
    let run = cx
        .run(["create", "--pull", "always", &name, "true"])
        .success();
    assert!(
        run.stderr()
            .contains(&format!("Status: Image is up to date for {name}\n")),
        "{}",
        run.describe()
    );
}

#[test]
fn bearer_token_flow_anonymous_pull_and_login_push() {
    let Some((registry, tokens)) = Registry::start_with_token_auth("tester", "s3cret") else {
        return;
    };
    let cx = TestContext::new(User::Root);
    let name = registry.image("private/busybox:1");
    cx.import_busybox(&name);
    // Anonymous tokens carry pull access only: the push is refused, with the hint.
    cx.run(["push", &name])
        .failure_with("unauthorized: authentication required")
        .failure_with(&format!("berth login {}", registry.host));
    cx.run_with_stdin(
        ["login", "-u", "tester", "--password-stdin", &registry.host],
        b"wrong\n",
    )
    .failure_with("incorrect username or password");
    cx.run_with_stdin(
        ["login", "-u", "tester", "--password-stdin", &registry.host],
        b"s3cret\n",
    )
    .success();
    cx.ok(["push", &name]);
    // A token for one repository cannot mount from another: the push falls back to uploading.
    cx.ok(["push", &name, &registry.image("private/copy:1")]);
    let pushed = tokens.requests();
    assert!(
        pushed
            .iter()
            .any(|request| request.user.as_deref() == Some("tester")
                && request.scope == "repository:private/busybox:pull,push"
                && request
                    .granted
                    .as_ref()
                    .is_some_and(|granted| granted.contains(&"push".to_owned()))),
        "{pushed:#?}"
    );

    // Someone else, not logged in, pulls with an anonymous token.
    let other = TestContext::new(User::Root);
    let before = tokens.requests().len();
    let pulled = other.ok(["pull", &name]);
    assert!(
        pulled.contains("Status: Downloaded newer image"),
        "{pulled}"
    );
    let asked = tokens.requests().split_off(before);
    assert!(!asked.is_empty(), "no token was fetched");
    for request in &asked {
        assert_eq!(request.user, None, "{asked:#?}");
        assert_eq!(
            request.scope, "repository:private/busybox:pull",
            "{asked:#?}"
        );
        assert_eq!(request.granted, Some(vec!["pull".to_owned()]), "{asked:#?}");
    }
}

#[test]
fn push_to_a_second_repository_mounts_the_blobs() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Root);
    let first = registry.image("test/first:1");
    push_busybox(&cx, &first);
    let second = registry.image("test/second:1");
    let pushed = cx.ok(["push", &first, &second]);
    assert!(pushed.contains(": Mounted from test/first\n"), "{pushed}");
    assert!(!pushed.contains(": Pushed\n"), "{pushed}");
    let other = TestContext::new(User::Root);
    other.ok(["pull", "-q", &second]);
    assert_eq!(
        other.ok(["run", "--rm", &second, "echo", "mounted"]),
        "mounted\n"
    );
}

#[test]
fn large_blobs_are_pushed_in_chunks() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Root);
    // Over the 32 MiB chunk size: two chunks, the second short.
    let mut data = vec![0u8; 40 << 20];
    data[(40 << 20) - 1] = b'!';
    let tar = crate::support::fixtures::TarBuilder::new()
        .file("big", 0o644, &data)
        .finish();
    let tar = cx.write_file("big.tar", &tar);
    let name = registry.image("test/big:1");
    cx.ok(["import".as_ref(), tar.as_os_str(), name.as_ref()]);
    let push = cx.run(["--log-level", "debug", "push", &name]).success();
    assert_eq!(
        push.stderr().matches("chunk uploaded").count(),
        2,
        "{}",
        push.describe()
    );
    let other = TestContext::new(User::Root);
    other.ok(["pull", "-q", &name]);
    let id = cx.ok(["images", "-q", "--no-trunc", &name]);
    assert_eq!(other.ok(["images", "-q", "--no-trunc", &name]), id);
}

/// On a terminal `push` and `pull` draw Docker's live per-layer lines, redrawn in place: a
/// progress bar while a layer downloads, then `Pull complete`; the `Digest:` and `Status:`
/// lines come after them as ever. (Off a terminal the plain lines stay: see
/// `push_rmi_pull_and_run_round_trip`.)
#[test]
fn pull_and_push_on_a_terminal_redraw_each_layer_in_place() {
    require_users!();
    let Some(registry) = Registry::start() else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    let name = registry.image("test/live:1");
    cx.import_busybox(&name);
    let Some(pushed) = cx.run_in_terminal(["push", &name]) else {
        return;
    };
    let pushed = pushed.success().stdout();
    assert!(
        pushed.starts_with(&format!(
            "The push refers to repository [{}]",
            registry.image("test/live")
        )),
        "{pushed:?}"
    );
    // `Preparing`, then the same line redrawn (cursor up one line) with a progress bar,
    // then as `Pushed`.
    assert!(pushed.contains(": Preparing\x1b[K\r\n"), "{pushed:?}");
    assert!(pushed.contains("\r\x1b[1A"), "{pushed:?}");
    assert!(pushed.contains(": Pushing [="), "{pushed:?}");
    assert!(pushed.contains(": Pushed\x1b[K\r\n"), "{pushed:?}");
    assert!(pushed.contains(": digest: sha256:"), "{pushed:?}");

    cx.ok(["rmi", &name]);
    let pulled = cx.run_in_terminal(["pull", &name]).unwrap().success();
    let pulled = pulled.stdout();
    assert!(
        pulled.starts_with("1: Pulling from test/live\x1b[K\r\n"),
        "{pulled:?}"
    );
    assert!(
        pulled.contains(": Pulling fs layer\x1b[K\r\n"),
        "{pulled:?}"
    );
    assert!(pulled.contains(": Downloading [="), "{pulled:?}");
    assert!(pulled.contains("\r\x1b[1A"), "{pulled:?}");
    let complete = pulled
        .rfind(": Pull complete\x1b[K\r\n")
        .unwrap_or_else(|| panic!("no Pull complete in {pulled:?}"));
    let tail = &pulled[complete..];
    let digest = tail
        .split("Digest: ")
        .nth(1)
        .and_then(|rest| rest.split('\x1b').next())
        .unwrap_or_else(|| panic!("no Digest line after the layers: {tail:?}"));
    assert!(digest.starts_with("sha256:"), "{tail:?}");
    assert!(
        tail.ends_with(&format!(
            "Status: Downloaded newer image for {name}\x1b[K\r\n\x1b[J{name}\r\n"
        )),
        "{tail:?}"
    );
    // Quiet stays quiet on a terminal.
    let quiet = cx.run_in_terminal(["pull", "-q", &name]).unwrap().success();
    assert_eq!(quiet.stdout(), format!("{name}\r\n"));
}
