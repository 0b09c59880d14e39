//! `system info`, `check`, `df`, `reset`, and `unshare`.

use crate::require_users;
use crate::support::{TestContext, User};

#[test]
fn info_reports_the_namespace_store_and_helpers() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    let out = cx.ok(["system", "info"]);
    assert!(out.contains("Rootless:         true"), "{out}");
    assert!(out.contains("subordinate ID ranges"), "{out}");
    assert!(
        out.contains(&format!("Storage root:     {}", cx.root().display())),
        "{out}"
    );
    assert!(
        out.contains("Storage driver:   overlay")
            || out.contains("Storage driver:   fuse-overlayfs"),
        "{out}"
    );
    assert!(
        out.contains("pasta") && out.contains("Kernel:") && out.contains("Cgroup version:"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cx.ok(["info", "--format", "json"])).unwrap();
    assert_eq!(json["Rootless"], true);
    assert!(
        json["IdMapping"]["UidMap"]
            .as_str()
            .unwrap()
            .starts_with("0 ")
    );

    let nosub = TestContext::new(User::NoSub);
    let out = nosub.ok(["info"]);
    assert!(out.contains("single ID (fallback)"), "{out}");
    assert!(out.contains("usermod --add-subuids"), "{out}");

    let root = TestContext::new(User::Root);
    assert!(root.ok(["info"]).contains("Rootless:         false"));
}

#[test]
fn single_id_fallback_warns_once_and_works() {
    require_users!();
    let cx = TestContext::new(User::NoSub);
    let tar = cx.write_file("bb.tar", &crate::support::fixtures::busybox_rootfs_tar());
    let run = cx
        .run(["import".as_ref(), tar.as_os_str(), "bb".as_ref()])
        .success();
    assert_eq!(
        run.stderr().matches("WARNING").count(),
        1,
        "{}",
        run.describe()
    );
    assert!(
        run.stderr().contains("usermod --add-subuids"),
        "{}",
        run.describe()
    );
    assert_eq!(cx.ok(["images", "-q"]).lines().count(), 1);
    cx.assert_store_clean();
}

#[test]
fn unshare_runs_as_namespace_root_with_the_subordinate_map() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    assert_eq!(cx.ok(["unshare", "id", "-u"]).trim(), "0");
    let map = cx.ok(["unshare", "cat", "/proc/self/uid_map"]);
    let rows: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{map}");
    assert_eq!(rows[0][0], "0");
    assert_eq!(rows[1][0], "1");
    assert_eq!(rows[1][2], "65536");
    let run = cx.run(["unshare", "/nonexistent/program"]);
    assert_eq!(run.code(), 127, "{}", run.describe());
    // As root: no user namespace.
    let root = TestContext::new(User::Root);
    assert!(
        root.ok(["unshare", "cat", "/proc/self/uid_map"])
            .contains("4294967295")
    );
}

#[test]
fn check_detects_and_repairs_a_corrupt_blob() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("bb:1");
    cx.assert_store_clean();
    // Corrupt the config blob behind berth's back.
    let blob = cx.root().join("images/blobs/sha256").join(&id[7..]);
    fs_err::write(&blob, b"{}").unwrap();
    let run = cx.run(["system", "check"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.stdout().contains("is corrupt"), "{}", run.describe());
    let run = cx.run(["system", "check", "--repair"]).success();
    assert!(run.stdout().contains("repaired"), "{}", run.describe());
    cx.assert_store_clean();
    assert!(cx.ok(["images", "-q"]).is_empty());
}

#[test]
fn df_counts_images() {
    let cx = TestContext::new(User::Root);
    cx.import_busybox("bb:1");
    let out = cx.ok(["system", "df"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("TYPE") && lines[0].contains("RECLAIMABLE"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("Images") && lines[1].contains("MB"),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.starts_with("Build Cache")), "{out}");
}

#[test]
fn reset_prompts_then_empties_the_store() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("bb:1");
    cx.run(["system", "reset"]).success();
    assert_eq!(
        cx.ok(["images", "-q"]).lines().count(),
        1,
        "no answer means no"
    );
    // What runs goes too: a container, and a pod with its network helper.
    cx.ok(["run", "-d", "--name", "loop", "bb:1", "sleep", "1000"]);
    cx.ok(["pod", "create", "--name", "pp"]);
    let root = cx.root().display().to_string();
    let running = || {
        std::process::Command::new("pgrep")
            .args(["-f", &root])
            .output()
            .unwrap()
            .stdout
    };
    assert!(!running().is_empty());
    cx.ok(["system", "reset", "-f"]);
    assert!(
        running().is_empty(),
        "nothing of the store runs after reset"
    );
    assert!(cx.ok(["images", "-q"]).is_empty());
    assert_eq!(
        fs_err::read_dir(cx.root().join("layers")).unwrap().count(),
        0
    );
    cx.assert_store_clean();
}
