//! Image commands as the tutorial uses them: ls, tag, rm/rmi, prune, inspect, history.

use crate::require_users;
use crate::support::{TestContext, User};

fn ids(cx: &TestContext) -> Vec<String> {
    cx.ok(["images", "-q"]).lines().map(str::to_owned).collect()
}

#[test]
fn images_lists_with_docker_columns() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("hello_world:v1");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let out = cx.ok(["image", "ls"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header
            .split("   ")
            .filter(|s| !s.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("hello_world   v1        "), "{row:?}");
    assert!(row.contains(&id[7..19]), "{row}");
    assert!(row.contains("ago"), "{row}");
    // busybox is ~1-2 MB: Docker's decimal units with 3 significant digits.
    let size = row.split_whitespace().last().unwrap();
    assert!(size.ends_with("MB") && size.len() <= 6, "{size}");
    assert_eq!(
        cx.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "hello_world:v1\n"
    );
    assert_eq!(cx.ok(["images", "-q"]), format!("{}\n", &id[7..19]));
    assert_eq!(cx.ok(["images", "-q", "--no-trunc"]), format!("{id}\n"));
    let json: serde_json::Value =
        serde_json::from_str(cx.ok(["images", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Repository"], "hello_world");
    assert_eq!(json["Tag"], "v1");
    assert!(
        cx.ok(["images", "--digests"])
            .lines()
            .next()
            .unwrap()
            .contains("DIGEST")
    );
}

#[test]
fn default_tag_is_latest_and_names_normalise() {
    let cx = TestContext::new(User::Root);
    cx.import_busybox("busybox");
    cx.ok(["tag", "busybox", "docker.io/library/other"]);
    cx.ok(["tag", "busybox:latest", "localhost:5000/team/app:1.0"]);
    let names = cx.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "busybox:latest",
            "localhost:5000/team/app:1.0",
            "other:latest"
        ]
    );
}

#[test]
fn rmi_untags_then_deletes_like_the_tutorial() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("test:latest");
    cx.ok(["image", "tag", "test", "test2"]);
    // By name with another name left: only untagged.
    assert_eq!(cx.ok(["rmi", "test2"]), "Untagged: test2:latest\n");
    assert_eq!(ids(&cx).len(), 1);
    // The last name: untagged and deleted, image and layer.
    let out = cx.ok(["image", "rm", "test"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Untagged: test:latest");
    assert_eq!(lines[1], format!("Deleted: {id}"));
    assert!(lines[2].starts_with("Deleted: sha256:"), "{out}");
    assert!(ids(&cx).is_empty());
    cx.run(["rmi", "test"])
        .failure_with("No such image: test:latest");
    cx.assert_store_clean();
}

#[test]
fn rmi_by_id_across_repositories_needs_force() {
    let cx = TestContext::new(User::Root);
    let id = cx.import_busybox("one:latest");
    cx.ok(["tag", "one", "two:latest"]);
    let short = &id[7..19];
    let run = cx.run(["rmi", short]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains(&format!(
            "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
        )),
        "{}",
        run.describe()
    );
    assert_eq!(ids(&cx).len(), 2);
    let out = cx.ok(["rmi", "-f", short]);
    assert!(
        out.contains("Untagged: one:latest") && out.contains("Untagged: two:latest"),
        "{out}"
    );
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(ids(&cx).is_empty());
}

#[test]
fn rmi_by_id_with_tags_of_one_repository_removes_them_all() {
    let cx = TestContext::new(User::Root);
    let id = cx.import_busybox("app:v1");
    cx.ok(["tag", "app:v1", "app:v2"]);
    let out = cx.ok(["rmi", &id[7..19]]);
    assert!(
        out.contains("Untagged: app:v1") && out.contains("Untagged: app:v2"),
        "{out}"
    );
    assert!(ids(&cx).is_empty());
}

#[test]
fn tag_moves_a_name_and_leaves_the_old_image_dangling() {
    let cx = TestContext::new(User::Root);
    let first = cx.import_busybox("app:latest");
    let tar = cx.write_file(
        "other.tar",
        &crate::support::fixtures::TarBuilder::new()
            .file("hello", 0o644, b"hi")
            .finish(),
    );
    let second = cx
        .ok(["import".as_ref(), tar.as_os_str(), "app:latest".as_ref()])
        .trim()
        .to_owned();
    assert_ne!(first, second);
    let listing = cx.ok(["images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"]);
    assert!(
        listing.contains(&format!("<none> <none> {}", &first[7..19])),
        "{listing}"
    );
    assert_eq!(
        cx.ok(["images", "-q", "--filter", "dangling=true"]).trim(),
        &first[7..19]
    );
    assert_eq!(
        cx.ok(["images", "-q", "--filter", "dangling=false"]).trim(),
        &second[7..19]
    );
}

#[test]
fn prune_asks_and_removes_dangling_or_all() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    let dangling = cx.import_busybox("app:latest");
    let tar = cx.write_file(
        "other.tar",
        &crate::support::fixtures::TarBuilder::new()
            .file("f", 0o644, b"x")
            .finish(),
    );
    cx.ok(["import".as_ref(), tar.as_os_str(), "app:latest".as_ref()]);
    cx.ok(["import".as_ref(), tar.as_os_str(), "keep:1".as_ref()]);
    assert_eq!(ids(&cx).len(), 3);

    // No answer (stdin closed) means no.
    let run = cx.run(["image", "prune"]).success();
    assert!(
        run.stdout()
            .contains("WARNING! This will remove all dangling images."),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout()
            .contains("Are you sure you want to continue? [y/N]")
    );
    assert_eq!(ids(&cx).len(), 3);
    // "n" is no, too.
    cx.run_with_stdin(["image", "prune"], b"n\n").success();
    assert_eq!(ids(&cx).len(), 3);

    let run = cx.run_with_stdin(["image", "prune"], b"y\n").success();
    let out = run.stdout();
    assert!(out.contains("Deleted Images:"), "{out}");
    assert!(out.contains(&format!("deleted: {dangling}")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(ids(&cx).len(), 2);

    let out = cx.ok(["image", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");

    let run = cx
        .run_with_stdin(["image", "prune", "-a"], b"y\n")
        .success();
    assert!(
        run.stdout()
            .contains("without at least one container associated to them")
    );
    assert!(
        run.stdout().contains("untagged: keep:1"),
        "{}",
        run.describe()
    );
    assert!(ids(&cx).is_empty());
    cx.assert_store_clean();
}

#[test]
fn inspect_is_docker_shaped() {
    let cx = TestContext::new(User::Root);
    let tar = cx.write_file("bb.tar", &crate::support::fixtures::busybox_rootfs_tar());
    let id = cx
        .ok([
            "import",
            "--change",
            r#"CMD ["/bin/sh","-c","echo hi"]"#,
            "--change",
            "ENV A=1",
            "--change",
            "WORKDIR /srv",
            "--change",
            "EXPOSE 8000",
            "--change",
            "LABEL team=core",
            "--change",
            "USER user",
            "-m",
            "made in a test",
            tar.to_str().unwrap(),
            "web:v1",
        ])
        .trim()
        .to_owned();
    let json: serde_json::Value =
        serde_json::from_str(&cx.ok(["image", "inspect", "web:v1"])).unwrap();
    let image = &json[0];
    assert_eq!(image["Id"], id.as_str());
    assert_eq!(image["RepoTags"], serde_json::json!(["web:v1"]));
    assert_eq!(
        image["Config"]["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo hi"])
    );
    assert_eq!(image["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(image["Config"]["WorkingDir"], "/srv");
    assert_eq!(image["Config"]["User"], "user");
    assert!(image["Config"]["ExposedPorts"]["8000/tcp"].is_object());
    assert_eq!(image["Config"]["Labels"]["team"], "core");
    assert_eq!(image["Comment"], "made in a test");
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(image["Size"].as_u64().unwrap() > 500_000);
    assert_eq!(
        cx.ok(["inspect", "--format", "{{.Config.Cmd}}", "web:v1"]),
        "[/bin/sh -c echo hi]\n"
    );
    assert_eq!(
        cx.ok([
            "image",
            "inspect",
            "--format",
            "{{json .Config.Env}}",
            &id[7..19]
        ]),
        "[\"A=1\"]\n"
    );
    // Top-level inspect looks at containers and images: Docker says "No such object".
    let run = cx.run(["inspect", "nothere"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("No such object: nothere"),
        "{}",
        run.describe()
    );
    let run = cx.run(["image", "inspect", "nothere"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("No such image: nothere"),
        "{}",
        run.describe()
    );
}

#[test]
fn history_lists_steps() {
    let cx = TestContext::new(User::Root);
    let id = cx.import_busybox("bb:1");
    let out = cx.ok(["history", "bb:1"]);
    let lines: Vec<&str> = out.lines().collect();
    for column in ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"] {
        assert!(lines[0].contains(column), "{out}");
    }
    assert!(lines[1].starts_with(&id[7..19]), "{out}");
    assert!(lines[1].contains("Imported from"), "{out}");
    assert_eq!(cx.ok(["image", "history", "-q", "bb:1"]).trim(), &id[7..19]);
}

#[test]
fn filters_reference_before_since_label() {
    let cx = TestContext::new(User::Root);
    cx.import_busybox("alpha:1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let tar = cx.write_file(
        "labelled.tar",
        &crate::support::fixtures::TarBuilder::new()
            .file("x", 0o644, b"1")
            .finish(),
    );
    cx.ok([
        "import",
        "--change",
        "LABEL stage=two",
        tar.to_str().unwrap(),
        "beta:2",
    ]);
    let repos = |args: &[&str]| {
        let mut all = vec!["images", "--format", "{{.Repository}}"];
        all.extend_from_slice(args);
        cx.ok(all)
    };
    assert_eq!(repos(&["--filter", "reference=al*"]), "alpha\n");
    assert_eq!(repos(&["beta"]), "beta\n");
    assert_eq!(repos(&["--filter", "before=beta:2"]), "alpha\n");
    assert_eq!(repos(&["--filter", "since=alpha:1"]), "beta\n");
    assert_eq!(repos(&["--filter", "label=stage=two"]), "beta\n");
    assert_eq!(repos(&["--filter", "label=stage"]), "beta\n");
    cx.run(["images", "--filter", "bogus=1"])
        .failure_with("invalid filter");
}

#[test]
fn empty_store_lists_nothing_without_creating_it() {
    let cx = TestContext::new(User::Root);
    let out = cx.ok(["images"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!cx.root().exists());
}

#[test]
fn prune_filters_by_label_and_age() {
    let cx = TestContext::new(User::Root);
    let tar = cx.write_file(
        "f.tar",
        &crate::support::fixtures::TarBuilder::new()
            .file("f", 0o644, b"1")
            .finish(),
    );
    cx.ok([
        "import",
        "--change",
        "LABEL keep=yes",
        tar.to_str().unwrap(),
        "kept:1",
    ]);
    cx.ok(["import", tar.to_str().unwrap(), "gone:1"]);
    let out = cx.ok(["image", "prune", "-a", "-f", "--filter", "label!=keep=yes"]);
    assert!(out.contains("untagged: gone:1"), "{out}");
    assert!(!out.contains("kept"), "{out}");
    // Nothing is older than an hour.
    let out = cx.ok(["image", "prune", "-a", "-f", "--filter", "until=1h"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    cx.run(["image", "prune", "-f", "--filter", "bogus=1"])
        .failure_with("invalid filter");
    assert_eq!(cx.ok(["images", "--format", "{{.Repository}}"]), "kept\n");
}
