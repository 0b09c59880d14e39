//! `berth build` as the tutorial uses it: a Dockerfile with FROM, ENV, WORKDIR, COPY, RUN
//! (shell and heredoc), EXPOSE and CMD becomes a tagged image of layers that runs; the cache
//! makes an unchanged rebuild start no container, ignores mtimes and notices edits;
//! `.dockerignore`; multi-stage builds with `--target` and `COPY --from`; build args; and the
//! errors for bad input, which leave the tags where they were.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{TestContext, User, chown_tree};
use crate::{as_users, require_users};

/// A context directory with `files` (path, content), owned by the user.
fn context(cx: &TestContext, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = cx.work().join(name);
    for (path, content) in files {
        let file = dir.join(path);
        fs_err::create_dir_all(file.parent().unwrap()).unwrap();
        fs_err::write(&file, content).unwrap();
    }
    chown_tree(&dir, cx.user);
    dir
}

fn busybox(user: User) -> TestContext {
    let cx = TestContext::new(user);
    cx.import_busybox("busybox");
    cx
}

fn image_config(cx: &TestContext, image: &str) -> Value {
    let out = cx.ok(["image", "inspect", image]);
    let all: Value = serde_json::from_str(&out).unwrap();
    all[0].clone()
}

const TUTORIAL: &str = "FROM busybox
ENV GREETING=hello
WORKDIR /app
COPY requirements.txt .
RUN echo \"$GREETING from run\" > /app/run.txt
COPY . .
RUN <<EOF
echo heredoc > /app/heredoc.txt
EOF
EXPOSE 8000
CMD [\"cat\", \"/app/main.txt\", \"/app/run.txt\", \"/app/heredoc.txt\"]
";

/// The tutorial's sequence: build with a tag, list, run, and a default `latest` tag.
fn tutorial_build(user: User) {
    let cx = busybox(user);
    let dir = context(
        &cx,
        "app",
        &[
            ("Dockerfile", TUTORIAL),
            ("requirements.txt", "fastapi\n"),
            ("main.txt", "main file\n"),
            ("secret.txt", "do not copy\n"),
            (".dockerignore", "secret.txt\n"),
        ],
    );
    let dir = dir.to_str().unwrap();
    let run = cx.run(["image", "build", dir, "-t", "hello_world:v1"]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        run.stderr()
            .contains("naming to docker.io/library/hello_world:v1"),
        "{}",
        run.describe()
    );
    let images = cx.ok(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains("hello_world:v1"), "{images}");
    assert_eq!(
        cx.ok(["run", "--rm", "hello_world:v1"]),
        "main file\nhello from run\nheredoc\n"
    );
    let listing = cx.ok(["run", "--rm", "hello_world:v1", "ls", "/app"]);
    assert!(!listing.contains("secret.txt"), "{listing}");
    assert!(listing.contains("requirements.txt"), "{listing}");
    let config = image_config(&cx, "hello_world:v1");
    assert_eq!(config["Config"]["WorkingDir"], "/app");
    let env = config["Config"]["Env"].as_array().unwrap();
    assert!(env.contains(&Value::from("GREETING=hello")), "{env:?}");
    // The base had no PATH: the image gets the default one, as with BuildKit.
    assert!(
        env.iter()
            .any(|e| e.as_str().is_some_and(|e| e.starts_with("PATH="))),
        "{env:?}"
    );
    assert!(
        config["Config"]["ExposedPorts"]["8000/tcp"].is_object(),
        "{config}"
    );
    // One layer per COPY and RUN (and WORKDIR, which created /app) on busybox's one layer.
    assert_eq!(
        config["RootFS"]["Layers"].as_array().unwrap().len(),
        1 + 1 + 4,
        "{config}"
    );
    // `build` with no tag name gets `latest`.
    cx.ok(["build", "-q", "-t", "hello_world", dir]);
    assert!(
        cx.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .contains("hello_world:latest")
    );
    cx.assert_store_clean();
}

as_users!(tutorial_build =>
    tutorial_dockerfile_builds_and_runs_as_sub: Sub,
    tutorial_dockerfile_builds_and_runs_as_nosub: NoSub,
    tutorial_dockerfile_builds_and_runs_as_root: Root,
);

/// A rebuild of an unchanged context is all cache hits and starts no container; touching a
/// source's mtime changes nothing; editing it rebuilds from that COPY on.
#[test]
fn the_cache_ignores_mtimes_and_notices_edits() {
    require_users!();
    let cx = busybox(User::Sub);
    let dir = context(
        &cx,
        "app",
        &[
            ("Dockerfile", TUTORIAL),
            ("requirements.txt", "fastapi\n"),
            ("main.txt", "main file\n"),
        ],
    );
    let dir_text = dir.to_str().unwrap();
    cx.ok(["build", "-t", "app", dir_text]);
    let again = cx.run(["build", "-t", "app", dir_text]);
    assert_eq!(again.code(), 0, "{}", again.describe());
    assert_eq!(
        again.stderr().matches("CACHED").count(),
        5,
        "{}",
        again.describe()
    );
    assert!(!again.stderr().contains("DONE"), "{}", again.describe());
    let file = dir.join("main.txt");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    fs_err::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let touched = cx.run(["build", "-t", "app", dir_text]);
    assert_eq!(
        touched.stderr().matches("CACHED").count(),
        5,
        "{}",
        touched.describe()
    );
    fs_err::write(&file, "edited\n").unwrap();
    let edited = cx.run(["build", "-t", "app", dir_text]);
    assert_eq!(edited.code(), 0, "{}", edited.describe());
    // WORKDIR, COPY requirements.txt and the first RUN stay cached.
    assert_eq!(
        edited.stderr().matches("CACHED").count(),
        3,
        "{}",
        edited.describe()
    );
    assert!(cx.ok(["run", "--rm", "app"]).starts_with("edited\n"));
    let uncached = cx.run(["build", "--no-cache", "-t", "app", dir_text]);
    assert!(
        !uncached.stderr().contains("CACHED"),
        "{}",
        uncached.describe()
    );
}

/// Multi-stage: `--target`, `COPY --from=stage`, an unused stage skipped, build args.
#[test]
fn multi_stage_builds_and_build_args() {
    require_users!();
    let cx = busybox(User::Sub);
    let dir = context(
        &cx,
        "multi",
        &[(
            "Dockerfile",
            "ARG BASE=busybox
FROM ${BASE} AS builder
ARG FLAVOUR=plain
RUN echo \"built $FLAVOUR\" > /artifact
FROM busybox AS unused
RUN echo this stage must not run && false
FROM busybox
COPY --from=builder /artifact /artifact
CMD [\"cat\", \"/artifact\"]
",
        )],
    );
    let dir = dir.to_str().unwrap();
    let run = cx.run(["build", "--build-arg", "FLAVOUR=spicy", "-t", "multi", dir]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        !run.stderr().contains("this stage must not run"),
        "{}",
        run.describe()
    );
    assert_eq!(cx.ok(["run", "--rm", "multi"]), "built spicy\n");
    cx.ok(["build", "--target", "builder", "-t", "builder-only", dir]);
    assert_eq!(
        cx.ok(["run", "--rm", "builder-only", "cat", "/artifact"]),
        "built plain\n"
    );
}

/// Bad input: located errors, and a failed build moves no tag.
#[test]
fn bad_dockerfiles_fail_clearly_and_move_no_tag() {
    require_users!();
    let cx = busybox(User::Sub);
    let good = context(
        &cx,
        "good",
        &[(
            "Dockerfile",
            "FROM busybox\nCMD [\"busybox\", \"echo\", \"old\"]\n",
        )],
    );
    cx.ok(["build", "-t", "app", good.to_str().unwrap()]);
    for (dockerfile, needle) in [
        (
            "FROM busybox\nRUNN echo hi\n",
            "unknown instruction: RUNN (did you mean RUN?)",
        ),
        ("FROM busybox\nCOPY nothere /x\n", "\"/nothere\": not found"),
        (
            "FROM busybox\nRUN false\n",
            "process \"/bin/sh -c false\" did not complete successfully: exit code: 1",
        ),
        (
            "FROM busybox\nRUN <<EOF\necho never ends\n",
            "unterminated heredoc",
        ),
        ("FROM nosuchimage\n", "nosuchimage"),
    ] {
        let dir = context(&cx, "bad", &[("Dockerfile", dockerfile)]);
        let run = cx.run(["build", "-t", "app", dir.to_str().unwrap()]);
        assert_ne!(run.code(), 0, "{}", run.describe());
        assert!(
            run.stderr().contains(needle),
            "{needle}: {}",
            run.describe()
        );
        assert!(run.stderr().contains("Dockerfile:"), "{}", run.describe());
        assert_eq!(
            cx.ok(["run", "--rm", "app"]),
            "old\n",
            "a failed build moved the tag"
        );
    }
    // An unterminated JSON array is shell form, as in BuildKit: it builds.
    let dir = context(&cx, "json", &[("Dockerfile", "FROM busybox\nCMD [\"a\"\n")]);
    cx.ok(["build", "-q", dir.to_str().unwrap()]);
    let dir = context(&cx, "target", &[("Dockerfile", "FROM busybox AS one\n")]);
    let run = cx.run(["build", "--target", "two", dir.to_str().unwrap()]);
    assert!(
        run.stderr()
            .contains("target stage \"two\" could not be found"),
        "{}",
        run.describe()
    );
    let run = cx.run([
        "build",
        "-f",
        "/nonexistent/Dockerfile",
        dir.to_str().unwrap(),
    ]);
    assert!(
        run.stderr().contains("failed to read dockerfile"),
        "{}",
        run.describe()
    );
    let run = cx.run(["build", "--platform", "linux/s390x", dir.to_str().unwrap()]);
    assert!(
        run.stderr().contains("native platform"),
        "{}",
        run.describe()
    );
    cx.assert_store_clean();
}

/// A malicious context cannot make COPY write outside the image: a symlink in the image
/// pointing at a host directory is resolved inside the image's root.
#[test]
fn copy_never_writes_outside_the_image() {
    require_users!();
    let cx = busybox(User::Sub);
    let canary = cx.work().join("canary");
    fs_err::create_dir_all(&canary).unwrap();
    chown_tree(&canary, cx.user);
    let dockerfile = format!(
        "FROM busybox\nRUN ln -s {} /escape\nCOPY payload /escape/\n",
        canary.display()
    );
    let dir = context(
        &cx,
        "evil",
        &[("Dockerfile", &dockerfile), ("payload", "x\n")],
    );
    cx.ok(["build", "-t", "evil", dir.to_str().unwrap()]);
    assert_eq!(
        fs_err::read_dir(&canary).unwrap().count(),
        0,
        "COPY wrote through the symlink"
    );
    let inside = format!("{}/payload", canary.display());
    assert_eq!(cx.ok(["run", "--rm", "evil", "cat", &inside]), "x\n");
    let _ = Path::new(&inside);
}

/// The tutorial's example verbatim (`tests/fixtures/tutorial-app`, a copy of `../shared/lab/app`: `FROM python:3.11-slim`, `RUN pip
/// install` from the package index, `COPY`, `CMD uvicorn …`): it builds, `run -d -p` serves it,
/// and the answer is the JSON hello. The base image is the python fixture (Debian's python3,
/// as DESIGN.md §7 describes); skipped with a reason when this machine cannot reach PyPI.
#[test]
fn the_tutorial_app_builds_and_serves() {
    require_users!();
    let Some(python) = crate::support::cached_fixture("python.tar") else {
        return;
    };
    if !crate::support::reachable("pypi.org:443") {
        return;
    }
    let cx = TestContext::new(User::Sub);
    crate::support::import_python(&cx, &python, "python:3.11-slim");
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tutorial-app");
    let files: Vec<(String, String)> = ["Dockerfile", "main.py", "requirements.txt"]
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                fs_err::read_to_string(lab.join(name)).unwrap(),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = context(&cx, "app", &borrowed);
    let run = cx.run(["image", "build", dir.to_str().unwrap(), "-t", "hello_world"]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cx.ok([
        "container",
        "run",
        "-p",
        &format!("{port}:8000"),
        "-d",
        "--name",
        "web",
        "hello_world",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let answer = loop {
        use std::io::{Read, Write};
        let attempt = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut text = String::new();
            s.read_to_string(&mut text)?;
            Ok(text)
        });
        match attempt {
            Ok(text) if text.contains("200 OK") => break text,
            _ if std::time::Instant::now() > deadline => panic!("the app never answered"),
            _ => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    };
    assert!(
        answer.ends_with("{\"message\":\"Hello World\"}"),
        "{answer}"
    );
    cx.ok(["rm", "-f", "web"]);
}

/// `--secret` reaches `RUN --mount=type=secret` as a file and as a variable, and never a
/// layer; the runtime's mount points (/etc/hosts, /proc, …) are not left in RUN layers;
/// `--timestamp` makes two uncached builds bit-identical; the build cache survives `rmi`
/// and shows in `system df` until `builder prune -a`.
#[test]
fn secrets_reproducible_builds_and_the_cache_lifecycle() {
    require_users!();
    let cx = busybox(User::Sub);
    let secret = cx.write_file("token.txt", b"s3cret");
    let dir = context(
        &cx,
        "sec",
        &[(
            "Dockerfile",
            "FROM busybox
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /got
RUN --mount=type=secret,id=tok,env=TOKEN echo \" env=$TOKEN\" >> /got
CMD [\"cat\", \"/got\"]
",
        )],
    );
    let dir = dir.to_str().unwrap();
    let spec = format!("id=tok,src={}", secret.display());
    cx.ok(["build", "-q", "--secret", &spec, "-t", "sec", dir]);
    assert_eq!(cx.ok(["run", "--rm", "sec"]), "s3cret env=s3cret\n");
    let saved = cx.work().join("sec.tar");
    cx.ok(["save", "-o", saved.to_str().unwrap(), "sec"]);
    let listing = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mkdir -p {0}/x && tar -xf {1} -C {0}/x && for l in {0}/x/*/layer.tar; do tar -tf $l; done",
            cx.work().display(),
            saved.display()
        ))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(!listing.contains("run/secrets"), "{listing}");
    assert!(
        !listing.contains("etc/hosts") && !listing.contains("proc/"),
        "{listing}"
    );
    assert!(listing.contains("got"), "{listing}");

    let first = cx.ok([
        "build",
        "-q",
        "--no-cache",
        "--timestamp",
        "0",
        "--secret",
        &spec,
        dir,
    ]);
    let second = cx.ok([
        "build",
        "-q",
        "--no-cache",
        "--timestamp",
        "0",
        "--secret",
        &spec,
        dir,
    ]);
    assert_eq!(
        first, second,
        "the same inputs and --timestamp gave different images"
    );

    let df = cx.ok(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(!df.contains("Build Cache 0"), "{df}");
    cx.ok(["rmi", "-f", "sec"]);
    let again = cx.run(["build", "--secret", &spec, "-t", "sec", dir]);
    assert_eq!(
        again.stderr().matches("CACHED").count(),
        2,
        "{}",
        again.describe()
    );
    let pruned = cx.ok(["builder", "prune", "-a", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    let df = cx.ok(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df.contains("Build Cache 0"), "{df}");
    let cold = cx.run(["build", "--secret", &spec, "-t", "sec", dir]);
    assert!(!cold.stderr().contains("CACHED"), "{}", cold.describe());
    let missing = cx.run(["build", "--no-cache", dir]);
    assert_ne!(missing.code(), 0, "{}", missing.describe());
    cx.assert_store_clean();
}

/// Serves `body` to every GET on 127.0.0.1 from a thread of this process (ADD downloads run in
/// the berth process, which shares the host's loopback); counts the requests.
fn serve_forever(body: &'static [u8]) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => request.push(byte[0]),
                    _ => break,
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    (port, count)
}

/// A `.tar.gz` with `dir/f.txt` owned by 1000:1000 and `top.txt`.
fn tar_gz() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (path, data, owner) in [
        ("dir/f.txt", "in the archive\n", 1000),
        ("top.txt", "top\n", 0),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_path(path).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o640);
        header.set_uid(owner);
        header.set_gid(owner);
        header.set_mtime(1_600_000_000);
        header.set_cksum();
        builder.append(&header, data.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// ADD's own sources: a local `.tar.gz` is extracted into the destination with its owners, a
/// URL with `--checksum` is downloaded (mode 0600, not extracted) and not downloaded again on
/// a cached rebuild, and a git repository is cloned at a tag without its `.git`.
#[test]
fn add_extracts_archives_fetches_urls_and_clones_git() {
    use sha2::Digest as _;
    require_users!();
    let cx = busybox(User::Sub);
    const BODY: &[u8] = b"from the web\n";
    let (port, requests) = serve_forever(BODY);
    let checksum = hex::encode(sha2::Sha256::digest(BODY));
    let mut dockerfile = format!(
        "FROM busybox\nADD archive.tar.gz /x/\nADD --checksum=sha256:{checksum} http://127.0.0.1:{port}/files/file.txt /y/\n"
    );
    let has_git = std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let work = cx.work();
    if has_git {
        let git = |dir: &Path, args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(["-c", "init.defaultBranch=main"])
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
        };
        git(&work, &["init", "-q", "--bare", "repo.git"]);
        git(&work, &["init", "-q", "src"]);
        let src = work.join("src");
        fs_err::write(src.join("hello.txt"), "v1\n").unwrap();
        git(&src, &["add", "."]);
        git(&src, &["commit", "-qm", "one"]);
        git(&src, &["tag", "v1"]);
        fs_err::write(src.join("hello.txt"), "v2\n").unwrap();
        git(&src, &["commit", "-qam", "two"]);
        git(&src, &["push", "-q", "--tags", "../repo.git", "main"]);
        chown_tree(&work.join("repo.git"), cx.user);
        dockerfile.push_str(&format!("ADD file://{}/repo.git#v1 /z\n", work.display()));
    }
    let dir = context(&cx, "add", &[("Dockerfile", &dockerfile)]);
    fs_err::write(dir.join("archive.tar.gz"), tar_gz()).unwrap();
    chown_tree(&dir, cx.user);
    let dir_text = dir.to_str().unwrap();
    let build = cx.run(["build", "-t", "added", dir_text]);
    assert_eq!(build.code(), 0, "{}", build.describe());
    let sh = |script: &str| cx.ok(["run", "--rm", "added", "sh", "-c", script]);
    assert_eq!(sh("cat /x/dir/f.txt /x/top.txt"), "in the archive\ntop\n");
    assert_eq!(sh("stat -c '%u:%g %a' /x/dir/f.txt"), "1000:1000 640\n");
    assert_eq!(sh("ls /x"), "dir\ntop.txt\n");
    assert_eq!(sh("cat /y/file.txt"), "from the web\n");
    assert_eq!(sh("stat -c '%u:%g %a' /y/file.txt"), "0:0 600\n");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    if has_git {
        assert_eq!(sh("cat /z/hello.txt"), "v1\n");
        assert_eq!(sh("ls -A /z"), "hello.txt\n");
    }
    // A rebuild is all cache hits: the checksum is the URL's key, nothing is downloaded.
    let again = cx.run(["build", "-t", "added", dir_text]);
    assert_eq!(again.code(), 0, "{}", again.describe());
    let steps = if has_git { 3 } else { 2 };
    assert_eq!(
        again.stderr().matches("CACHED").count(),
        steps,
        "{}",
        again.describe()
    );
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A wrong checksum fails and names both digests.
    let wrong = dockerfile.replace(&checksum, &"0".repeat(64));
    fs_err::write(dir.join("Dockerfile"), wrong).unwrap();
    let failed = cx.run(["build", "-t", "added", dir_text]);
    assert_ne!(failed.code(), 0, "{}", failed.describe());
    let expected = format!(
        "digest mismatch sha256:{checksum}: sha256:{}",
        "0".repeat(64)
    );
    assert!(failed.stderr().contains(&expected), "{}", failed.describe());
}

/// `RUN apt-get install` works for a user with subordinate IDs, and in the single-ID fallback
/// too (chown succeeds without effect, apt stays root instead of switching to `_apt`), on the
/// Debian minbase fixture; skipped with a reason when deb.debian.org is unreachable.
fn apt_get_install(user: User) {
    let Some(minbase) = crate::support::cached_fixture("minbase.tar") else {
        return;
    };
    if !crate::support::reachable("deb.debian.org:80") {
        return;
    }
    let cx = TestContext::new(user);
    cx.ok(["import", minbase.to_str().unwrap(), "debian:minbase"]);
    let dir = context(
        &cx,
        "apt",
        &[(
            "Dockerfile",
            "FROM debian:minbase\nRUN apt-get update -q && apt-get install -y -q --no-install-recommends hello && rm -rf /var/lib/apt/lists/*\nCMD [\"hello\"]\n",
        )],
    );
    let run = cx.run(["build", "-t", "hello", dir.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(cx.ok(["run", "--rm", "hello"]), "Hello, world!\n");
}

as_users!(apt_get_install =>
    apt_get_install_in_run_as_sub: Sub,
    apt_get_install_in_run_without_subordinate_ids: NoSub,
);

/// The context as a tar on stdin (`build -`) and as a git repository URL (`#tag`); `--format
/// docker` writes Docker's schema 2 media types; `-q` prints only the ID, with no RUN output.
#[test]
fn contexts_from_stdin_and_git_and_the_docker_format() {
    require_users!();
    let cx = busybox(User::Sub);
    let dir = context(
        &cx,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY hello.txt /\nRUN echo from-run\nCMD [\"cat\", \"/hello.txt\"]\n",
            ),
            ("hello.txt", "hello from the context\n"),
        ],
    );
    let tar = std::process::Command::new("tar")
        .args(["-C", dir.to_str().unwrap(), "-cf", "-", "."])
        .output()
        .unwrap()
        .stdout;
    let run = cx.run_with_stdin(["build", "-q", "-t", "fromstdin", "-"], &tar);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        run.stdout().starts_with("sha256:") && run.stdout().lines().count() == 1,
        "{}",
        run.describe()
    );
    assert!(
        !run.stdout().contains("from-run") && !run.stderr().contains("from-run"),
        "{}",
        run.describe()
    );
    assert_eq!(
        cx.ok(["run", "--rm", "fromstdin"]),
        "hello from the context\n"
    );

    if crate::support::command_exists("git") {
        let git = |args: &[&str]| {
            let output = std::process::Command::new("git")
                .args(["-C", dir.to_str().unwrap(), "-c", "safe.directory=*"])
                .args(["-c", "user.email=t@t", "-c", "user.name=t"])
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "git {args:?}: {stderr}");
        };
        git(&["init", "-q", "."]);
        git(&["add", "-A"]);
        git(&["commit", "-qm", "context"]);
        git(&["tag", "v1"]);
        chown_tree(&dir, cx.user);
        let url = format!("file://{}/.git#v1", dir.display());
        cx.ok(["build", "-q", "-t", "fromgit", &url]);
        assert_eq!(
            cx.ok(["run", "--rm", "fromgit"]),
            "hello from the context\n"
        );
    }

    cx.ok([
        "build",
        "-q",
        "--format",
        "docker",
        "-t",
        "dockerfmt",
        dir.to_str().unwrap(),
    ]);
    let index = fs_err::read_to_string(cx.root().join("images/index.json"))
        .or_else(|_| fs_err::read_to_string(cx.root().join("index.json")))
        .unwrap();
    assert!(
        index.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{index}"
    );
    let run = cx.run(["build", "--format", "zip", dir.to_str().unwrap()]);
    assert!(
        run.stderr().contains("unrecognized image format"),
        "{}",
        run.describe()
    );
}

/// Interop with buildah: for each fixture context under `tests/fixtures/build/` (one
/// behaviour per folder), the image config (Cmd, Entrypoint, Env, WorkingDir, User,
/// ExposedPorts, Labels, Volumes, StopSignal) and the final filesystem listing (path, type,
/// mode, owner, size of files, link target) equal what buildah builds from the same context.
#[test]
fn builds_match_buildah() {
    require_users!();
    if !crate::support::command_exists("buildah") {
        assert!(
            std::env::var_os("BERTH_TEST_REQUIRE_ROOTLESS").is_none(),
            "buildah is missing: contrib/test.sh installs it"
        );
        eprintln!("skipped: buildah is not installed");
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build");
    let mut cases: Vec<PathBuf> = fs_err::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 2, "{cases:?}");
    let cx = busybox(User::Sub);
    let peer = Peer::new(&cx);
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let dir = cx.work().join(format!("case-{name}"));
        crate::support::copy_tree(&case, &dir);
        chown_tree(&dir, cx.user);
        cx.ok(["build", "-q", "-t", &name, dir.to_str().unwrap()]);
        peer.build(&name, &dir);
        let ours = image_config(&cx, &name)["Config"].clone();
        let mut theirs = peer.config(&name);
        // buildah signs its images with its version; that is the tool, not the build.
        if let Some(labels) = theirs["Labels"].as_object_mut() {
            labels.remove("io.buildah.version");
        }
        for key in [
            "Cmd",
            "Entrypoint",
            "Env",
            "WorkingDir",
            "User",
            "ExposedPorts",
            "Labels",
            "Volumes",
            "StopSignal",
        ] {
            let normal = |v: &Value| match v {
                Value::Null => Value::Null,
                Value::String(s) if s.is_empty() => Value::Null,
                Value::Array(a) if a.is_empty() => Value::Null,
                Value::Object(o) if o.is_empty() => Value::Null,
                other => other.clone(),
            };
            assert_eq!(normal(&ours[key]), normal(&theirs[key]), "{name}: {key}");
        }
        let listing = cx.ok([
            "run",
            "--rm",
            "--user",
            "0",
            "--entrypoint",
            "/bin/busybox",
            &name,
            "sh",
            "-c",
            LISTING,
        ]);
        assert_eq!(
            normal_listing(&listing),
            normal_listing(&peer.listing(&name)),
            "{name}"
        );
    }
    // The image berth built runs under podman once saved and loaded.
    let archive = cx.work().join("built.tar");
    cx.ok([
        "save",
        "-o",
        archive.to_str().unwrap(),
        "metadata-and-layers",
    ]);
    chown_tree(&archive, cx.user);
    peer.tool("podman", &["load", "-q", "-i", archive.to_str().unwrap()]);
    let out = peer.tool(
        "podman",
        &[
            "--runtime",
            "runc",
            "run",
            "--rm",
            "--network",
            "none",
            "metadata-and-layers",
            "cat /app/file.txt; echo $B",
        ],
    );
    assert_eq!(out, "a file\ntwo words\n");
}

/// Lists the root filesystem: `path|type|mode|uid|gid|size|link`, sorted.
const LISTING: &str = "cd / && busybox find . -xdev \\( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \\) -prune -o -print | busybox sort | while read -r f; do busybox stat -c '%n|%F|%a|%u|%g|%s|%N' \"$f\"; done";

/// Drops what differs by runtime, not by build: the root entry, the /etc files runtimes
/// mount, and directory sizes (a filesystem's business).
fn normal_listing(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.starts_with(".|")
                && !["./etc/hosts|", "./etc/hostname|", "./etc/resolv.conf|"]
                    .iter()
                    .any(|p| l.starts_with(p))
        })
        .map(|l| {
            let mut fields: Vec<&str> = l.split('|').collect();
            if fields.get(1) == Some(&"directory") {
                fields[5] = "-";
            }
            fields.join("|")
        })
        .collect()
}

/// buildah (and podman, to import the base) as the test user, with a private store.
struct Peer<'a> {
    cx: &'a TestContext,
    flags: Vec<String>,
}

impl<'a> Peer<'a> {
    fn new(cx: &'a TestContext) -> Self {
        let root = cx.work().join("peer");
        let flags = vec![
            "--root".to_owned(),
            root.join("storage").display().to_string(),
            "--runroot".to_owned(),
            root.join("run").display().to_string(),
            "--storage-driver".to_owned(),
            "overlay".to_owned(),
        ];
        let peer = Self { cx, flags };
        let tar = cx.work().join("busybox.tar");
        peer.tool(
            "podman",
            &[
                "import",
                tar.to_str().unwrap(),
                "docker.io/library/busybox:latest",
            ],
        );
        peer
    }

    fn tool(&self, program: &str, args: &[&str]) -> String {
        let home = self.cx.dir.path().join("home");
        let output = std::process::Command::new("/usr/sbin/runuser")
            .args(["-u", self.cx.user.name(), "--", "/usr/bin/env"])
            .arg(format!("HOME={}", home.display()))
            .arg(format!(
                "XDG_RUNTIME_DIR={}",
                self.cx.dir.path().join("run").display()
            ))
            .arg(program)
            .args(&self.flags)
            .args(args)
            .current_dir(self.cx.work())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn build(&self, name: &str, dir: &Path) {
        self.tool(
            "buildah",
            &[
                "bud",
                "--runtime",
                "runc",
                "--layers",
                "-q",
                "-t",
                name,
                dir.to_str().unwrap(),
            ],
        );
    }

    fn config(&self, name: &str) -> Value {
        let out = self.tool("buildah", &["inspect", "--type", "image", name]);
        let all: Value = serde_json::from_str(&out).unwrap();
        let config = &all["Docker"]["config"];
        config.clone()
    }

    fn listing(&self, name: &str) -> String {
        let container = self.tool("buildah", &["from", name]);
        let container = container.trim();
        self.tool(
            "buildah",
            &[
                "run",
                "--runtime",
                "runc",
                "--user",
                "0",
                container,
                "--",
                "/bin/busybox",
                "sh",
                "-c",
                LISTING,
            ],
        )
    }
}

/// `RUN --mount=type=bind,from=STAGE`: the stage's files are visible during the step and
/// leave no trace in its layer.
#[test]
fn run_mounts_files_of_another_stage() {
    require_users!();
    let cx = busybox(User::Sub);
    let dir = context(
        &cx,
        "bindfrom",
        &[(
            "Dockerfile",
            "FROM busybox AS tools
RUN echo tool > /tool.txt
FROM busybox
RUN --mount=type=bind,from=tools,source=/tool.txt,target=/mnt/tool.txt cat /mnt/tool.txt > /copied
CMD [\"cat\", \"/copied\"]
",
        )],
    );
    cx.ok(["build", "-q", "-t", "bindfrom", dir.to_str().unwrap()]);
    assert_eq!(cx.ok(["run", "--rm", "bindfrom"]), "tool\n");
    let run = cx.run(["run", "--rm", "bindfrom", "stat", "/mnt"]);
    assert_ne!(
        run.code(),
        0,
        "the mount point stayed in the layer: {}",
        run.describe()
    );
}

/// `--progress`: `plain` (and `auto` off a terminal) prints BuildKit's numbered steps with
/// the output of RUN and durations, exactly as before the live view existed; `tty` (and `auto`
/// on a terminal) draws the live view, where the running step shows its output and collapses
/// to one line when it ends, and a failed step's output is printed after the view.
#[test]
fn build_progress_plain_is_numbered_and_tty_collapses_steps() {
    require_users!();
    let cx = busybox(User::Sub);
    let dir = context(
        &cx,
        "progress",
        &[
            (
                "Dockerfile",
                "FROM busybox\nENV A=1\nRUN echo one && sleep 0.3 && echo two\nCOPY f /f\n",
            ),
            ("f", "x\n"),
        ],
    );
    let dir = dir.to_str().unwrap();
    let plain = cx
        .run(["build", "--progress", "plain", "-t", "p", dir])
        .success();
    let normal: Vec<String> = plain
        .stderr()
        .lines()
        .map(|line| match line.split_once(" DONE ") {
            Some((step, _)) => format!("{step} DONE [TIME]"),
            None if line.starts_with("writing image sha256:") => "writing image [ID]".to_owned(),
            None => line.to_owned(),
        })
        .collect();
    assert_eq!(
        normal,
        [
            "#1 [stage-0] ENV A=1",
            "#2 [stage-0] RUN /bin/sh -c echo one && sleep 0.3 && echo two # buildkit",
            "one",
            "two",
            "#2 DONE [TIME]",
            "#3 [stage-0] COPY f /f # buildkit",
            "#3 DONE [TIME]",
            "writing image [ID]",
            "naming to docker.io/library/p:latest done",
        ],
        "{}",
        plain.describe()
    );
    // Off a terminal, `auto` is plain.
    let auto = cx.run(["build", "-t", "p", dir]).success();
    assert!(
        auto.stderr()
            .starts_with("#1 [stage-0] ENV A=1\n#2 [stage-0] RUN")
    );
    assert!(!auto.stderr().contains('\x1b'), "{}", auto.describe());

    // `--progress tty` draws even when stderr is not a terminal.
    let tty = cx
        .run(["build", "--progress", "tty", "--no-cache", "-t", "p", dir])
        .success();
    let text = tty.stderr();
    assert!(text.starts_with("[+] Building "), "{text:?}");
    // While the RUN step waits, its first line of output shows under it.
    assert!(
        text.contains(" => [2/3] RUN echo one && sleep 0.3 && echo two"),
        "{text:?}"
    );
    assert!(text.contains("\n => => # one\x1b[K\n"), "{text:?}");
    let last = last_frame(&text);
    assert!(last[0].ends_with("(3/3) FINISHED"), "{last:?}");
    assert!(last[1].starts_with(" => [1/3] FROM busybox "), "{last:?}");
    assert!(last[2].starts_with(" => [2/3] RUN echo one"), "{last:?}");
    assert!(last[3].starts_with(" => [3/3] COPY f /f "), "{last:?}");
    assert!(last[3].ends_with('s'), "{last:?}");
    assert_eq!(last.len(), 4, "collapsed: {last:?}");

    // `auto` on a terminal: the same view, with the cache hits.
    let Some(cached) = cx.run_in_terminal(["build", "-t", "p", dir]) else {
        return;
    };
    let text = cached.success().stdout().replace("\r\n", "\n");
    let last = last_frame(&text);
    assert!(last[0].ends_with("(3/3) FINISHED"), "{text:?}");
    assert!(
        last[2].starts_with(" => CACHED [2/3] RUN echo one"),
        "{last:?}"
    );
    assert!(
        last[3].starts_with(" => CACHED [3/3] COPY f /f"),
        "{last:?}"
    );

    let failing = context(
        &cx,
        "failing",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo about to fail && false\n",
        )],
    );
    let failed = cx.run(["build", "--progress", "tty", failing.to_str().unwrap()]);
    assert_ne!(failed.code(), 0, "{}", failed.describe());
    let text = failed.stderr();
    assert!(
        text.contains(" => ERROR [2/2] RUN echo about to fail && false"),
        "{text:?}"
    );
    assert!(
        text.contains(
            "------\x1b[K\n > [2/2] RUN echo about to fail && false:\x1b[K\nabout to fail\x1b[K\n------"
        ),
        "{text:?}"
    );
}

/// The lines of the last frame a live view drew: after its last "cursor up", without the
/// escape sequences, and before anything printed below the view.
fn last_frame(text: &str) -> Vec<String> {
    let start = text
        .rfind("\r\x1b[")
        .map_or(0, |at| at + text[at..].find('A').unwrap() + 1);
    let frame = &text[start..];
    let frame = frame.split("\x1b[J").next().unwrap();
    frame
        .split("\x1b[K\n")
        .filter(|line| !line.is_empty())
        .map(|line| line.trim_end().to_owned())
        .collect()
}

/// `COPY --parents` with a `/./` pivot (dockerfile 1.7): only the path below the pivot is
/// kept, with wildcards and `**`, from the context and from another stage.
#[test]
fn copy_parents_keeps_the_path_below_the_pivot() {
    require_users!();
    let cx = busybox(User::Sub);
    let dir = context(
        &cx,
        "pivot",
        &[
            (
                "Dockerfile",
                "FROM busybox AS base
RUN mkdir -p /test/a/b/c/d/e /test/a/b2/c/d/e && touch /test/a/b/c/d/foo /test/a/b/c/d/e/bay /test/a/b2/c/d/e/bar
FROM busybox
COPY --parents ./x/./y/z.txt x/y/z.txt /dst/
COPY --parents src/./**/*.go /app/
COPY --from=base --parents /test/a/b*/./c/**/e /out/
COPY --from=base --parents /test/a/b/./c/d /middle/
RUN find /dst /app /out /middle | sort > /listing
CMD [\"cat\", \"/listing\"]
",
            ),
            ("x/y/z.txt", "z"),
            ("src/main.go", "m"),
            ("src/pkg/util.go", "u"),
            ("src/pkg/README", "r"),
        ],
    );
    cx.ok(["build", "-q", "-t", "pivot", dir.to_str().unwrap()]);
    assert_eq!(
        cx.ok(["run", "--rm", "pivot"]),
        "/app\n/app/main.go\n/app/pkg\n/app/pkg/util.go\n\
         /dst\n/dst/x\n/dst/x/y\n/dst/x/y/z.txt\n/dst/y\n/dst/y/z.txt\n\
         /middle\n/middle/c\n/middle/c/d\n/middle/c/d/e\n/middle/c/d/e/bay\n/middle/c/d/foo\n\
         /out\n/out/c\n/out/c/d\n/out/c/d/e\n/out/c/d/e/bar\n/out/c/d/e/bay\n"
    );
}
