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
