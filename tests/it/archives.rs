//! `save`, `load` and `import` through the real binary: round trips in both archive formats,
//! compressed and multi-image archives, Docker's messages, interop with podman, bad input that
//! must leave the store as it was, and many processes loading and removing at once.
//!
//! The helpers at the top (crafted docker-archives, store snapshots, tar member listings) are
//! shared with `layers.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fs_err as fs;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::fixtures::{self, TarBuilder};
use crate::support::{TestContext, User};

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// Hex sha256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The config of a crafted image: `layers` are the uncompressed layer tars, `comment` makes
/// configs (and so image IDs) of images with the same layers differ.
pub(crate) fn image_config(layers: &[Vec<u8>], comment: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": { "Cmd": ["sh"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": layers.iter().map(|_| json!({
            "created": "2024-01-01T00:00:00Z",
            "comment": comment,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&config).unwrap()
}

/// The image ID (`sha256:…`) of a crafted image.
pub(crate) fn image_id(layers: &[Vec<u8>], comment: &str) -> String {
    format!("sha256:{}", sha256_hex(&image_config(layers, comment)))
}

/// One image of a crafted docker-archive.
pub(crate) struct ArchiveImage<'a> {
    /// `RepoTags` (`null` in manifest.json when empty, as Docker writes untagged images).
    pub tags: &'a [&'a str],
    /// Uncompressed layer tars, bottom first.
    pub layers: &'a [Vec<u8>],
    /// Goes into the config's history (makes the image ID unique).
    pub comment: &'a str,
}

/// A docker-archive (`docker save` format) holding `images`, built in memory.
pub(crate) fn docker_archive(images: &[ArchiveImage<'_>]) -> Vec<u8> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut manifest = Vec::new();
    for image in images {
        let config = image_config(image.layers, image.comment);
        let config_name = format!("{}.json", sha256_hex(&config));
        let mut layer_names = Vec::new();
        for layer in image.layers {
            let name = format!("{}/layer.tar", sha256_hex(layer));
            files.insert(name.clone(), layer.clone());
            layer_names.push(name);
        }
        files.insert(config_name.clone(), config);
        let tags = if image.tags.is_empty() {
            Value::Null
        } else {
            json!(image.tags)
        };
        manifest.push(json!({ "Config": config_name, "RepoTags": tags, "Layers": layer_names }));
    }
    files.insert(
        "manifest.json".to_owned(),
        serde_json::to_vec(&manifest).unwrap(),
    );
    tar_of(files.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}

/// A tar of regular files, in the order given.
pub(crate) fn tar_of<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    files
        .into_iter()
        .fold(TarBuilder::new(), |tar, (name, data)| {
            tar.file(name, 0o644, data)
        })
        .finish()
}

/// The regular files of a tar archive (path → content), and every entry's path in order.
pub(crate) fn tar_members(archive: &[u8]) -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
    let mut files = BTreeMap::new();
    let mut order = Vec::new();
    let mut reader = tar::Archive::new(archive);
    for entry in reader.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        order.push(path.clone());
        if entry.header().entry_type().is_file() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            files.insert(path, data);
        }
    }
    (files, order)
}

/// Rewrites the regular files of a tar archive with `edit` (which may change their content),
/// keeping names and order.
pub(crate) fn rewrite_tar(archive: &[u8], mut edit: impl FnMut(&str, &mut Vec<u8>)) -> Vec<u8> {
    let (mut files, order) = tar_members(archive);
    let mut out = TarBuilder::new();
    for path in order {
        if let Some(data) = files.get_mut(&path) {
            edit(&path, data);
            out = out.file(&path, 0o644, data);
        }
    }
    out.finish()
}

/// gzip.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// zstd.
pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// What a refused command must leave exactly as it was.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StoreState {
    /// `images -q --no-trunc`.
    pub ids: String,
    /// `images/index.json`.
    pub index: String,
    /// Entries of `layers/`.
    pub layers: BTreeSet<String>,
    /// Entries of `images/blobs/sha256/`.
    pub blobs: BTreeSet<String>,
}

/// Names in a directory (empty when it does not exist).
pub(crate) fn dir_names(path: &Path) -> BTreeSet<String> {
    match fs::read_dir(path) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// A snapshot of the store.
pub(crate) fn store_state(cx: &TestContext) -> StoreState {
    let root = cx.root();
    StoreState {
        ids: cx.ok(["images", "-q", "--no-trunc"]),
        index: fs::read_to_string(root.join("images/index.json")).unwrap_or_default(),
        layers: dir_names(&root.join("layers")),
        blobs: dir_names(&root.join("images/blobs/sha256")),
    }
}

/// After a refused command: the next command (`system check`, which takes the write lock)
/// finds the store consistent, `tmp/` holds no debris, and nothing else changed.
pub(crate) fn assert_store_unchanged(cx: &TestContext, before: &StoreState, what: &str) {
    let check = cx.run(["system", "check"]);
    assert!(
        check.output.status.success(),
        "{what}: system check failed:\n{}",
        check.describe()
    );
    let debris = dir_names(&cx.root().join("tmp"));
    assert!(
        debris.is_empty(),
        "{what}: tmp/ still holds {debris:?} after the next command"
    );
    let after = store_state(cx);
    assert_eq!(
        &after, before,
        "{what}: the refused command changed the store"
    );
}

/// `image inspect` of one image, parsed.
pub(crate) fn inspect(cx: &TestContext, image: &str) -> Value {
    let out = cx.ok(["image", "inspect", image]);
    let mut array: Vec<Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect output: {e}\n{out}"));
    assert_eq!(array.len(), 1, "{out}");
    array.remove(0)
}

/// The unpacked layer directories of an image, top first (GraphDriver.Data.LowerDir).
pub(crate) fn lower_dirs(cx: &TestContext, image: &str) -> Vec<PathBuf> {
    let info = inspect(cx, image);
    let lower = info["GraphDriver"]["Data"]["LowerDir"]
        .as_str()
        .unwrap()
        .to_owned();
    lower.split(':').map(PathBuf::from).collect()
}

/// The IDs `images -q --no-trunc` lists, sorted and deduplicated.
pub(crate) fn listed_ids(cx: &TestContext) -> BTreeSet<String> {
    cx.ok(["images", "-q", "--no-trunc"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The `RepoTags` of an image.
fn repo_tags(cx: &TestContext, image: &str) -> Vec<String> {
    inspect(cx, image)["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// `images --format json`: (repository, tag, id) per row.
fn image_rows(cx: &TestContext) -> Vec<(String, String, String)> {
    let out = cx.ok(["images", "--no-trunc", "--format", "json"]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let field = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
            (field("Repository"), field("Tag"), field("ID"))
        })
        .collect()
}

/// Writes `data` into the work dir and returns the path as a string.
fn input(cx: &TestContext, name: &str, data: &[u8]) -> String {
    cx.write_file(name, data).to_string_lossy().into_owned()
}

/// A path in the work dir (for `save -o`).
fn out_path(cx: &TestContext, name: &str) -> String {
    cx.work().join(name).to_string_lossy().into_owned()
}

/// Asserts `text` is `sha256:` and 64 lowercase hex digits.
fn assert_image_id(text: &str) {
    let hex = text
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("not an image ID: {text:?}"));
    assert!(
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{text:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// import

#[test]
fn import_lists_the_image_and_records_changes_and_message() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let rootfs = fixtures::busybox_rootfs_tar();
    let tar = input(&cx, "rootfs.tar", &rootfs);
    let out = cx.ok([
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        "-m",
        "imported by the tests",
        &tar,
        "busybox:latest",
    ]);
    let id = out.trim();
    assert_image_id(id);
    assert_eq!(out, format!("{id}\n"), "import prints the ID alone");

    assert_eq!(listed_ids(&cx), BTreeSet::from([id.to_owned()]));
    let rows = image_rows(&cx);
    assert!(
        rows.iter()
            .any(|(repo, tag, row_id)| repo == "busybox" && tag == "latest" && row_id == id),
        "{rows:?}"
    );

    let info = inspect(&cx, "busybox");
    assert_eq!(info["Id"], id);
    assert_eq!(info["RepoTags"], json!(["busybox:latest"]));
    // The layer is stored as imported: its diff ID is the digest of the tar.
    assert_eq!(
        info["RootFS"]["Layers"],
        json!([format!("sha256:{}", sha256_hex(&rootfs))])
    );
    assert_eq!(info["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(info["Comment"], "imported by the tests");
    assert_eq!(info["Os"], "linux");
    let lower = lower_dirs(&cx, "busybox");
    assert_eq!(lower.len(), 1);
    assert!(lower[0].starts_with(cx.root().join("layers")), "{lower:?}");
    assert!(lower[0].join("bin/busybox").is_file());
    cx.assert_store_clean();
}

/// A one-shot HTTP server on 127.0.0.1 (Python's http.server) serving `dir`.
struct HttpServer {
    child: std::process::Child,
    port: u16,
}

impl HttpServer {
    fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn import_from_a_url() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let tar = cx.write_file("rootfs.tar", &fixtures::busybox_rootfs_tar());
    let server = HttpServer::start(tar.parent().unwrap());
    let url = format!("http://127.0.0.1:{}/rootfs.tar", server.port);
    let id = cx
        .ok(["import", url.as_str(), "fromurl:1"])
        .trim()
        .to_owned();
    assert_image_id(&id);
    let inspect: Value = serde_json::from_str(&cx.ok(["image", "inspect", "fromurl:1"])).unwrap();
    assert_eq!(inspect[0]["Comment"], format!("Imported from {url}"));
    let missing = format!("http://127.0.0.1:{}/nothere.tar", server.port);
    cx.run(["import", missing.as_str()])
        .failure_with(&format!("failed to fetch `{missing}`"));
    cx.assert_store_clean();
}

#[test]
fn import_from_stdin_compressed_and_unnamed() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let rootfs = fixtures::busybox_rootfs_tar();
    let gz = cx
        .run_with_stdin(["import", "-", "gz:1"], &gzip(&rootfs))
        .success()
        .stdout();
    let zst = cx
        .run_with_stdin(["import", "-", "zst:1"], &zstd(&rootfs))
        .success()
        .stdout();
    let unnamed = cx.ok(["import", &input(&cx, "rootfs.tar", &rootfs)]);
    for id in [&gz, &zst, &unnamed] {
        assert_image_id(id.trim());
    }
    // Every import stores the same uncompressed layer, once.
    let layer = format!("sha256:{}", sha256_hex(&rootfs));
    for image in ["gz:1", "zst:1", unnamed.trim()] {
        assert_eq!(
            inspect(&cx, image)["RootFS"]["Layers"],
            json!([layer]),
            "{image}"
        );
    }
    assert_eq!(dir_names(&cx.root().join("layers")).len(), 1);
    assert_eq!(repo_tags(&cx, unnamed.trim()), Vec::<String>::new());
    assert_eq!(
        listed_ids(&cx).len(),
        3,
        "three imports, three configs (different times or comments)"
    );
    cx.assert_store_clean();
}

// ---------------------------------------------------------------------------------------------
// save / load round trips

/// Compares two archives member by member (names, order and content), then as bytes.
fn assert_same_archive(first: &[u8], second: &[u8], what: &str) {
    let (files_a, order_a) = tar_members(first);
    let (files_b, order_b) = tar_members(second);
    assert_eq!(order_a, order_b, "{what}: different members");
    for (path, data) in &files_a {
        assert_eq!(
            sha256_hex(data),
            sha256_hex(&files_b[path]),
            "{what}: member {path} differs"
        );
    }
    assert!(
        first == second,
        "{what}: same members, but the archives are not byte-identical"
    );
}

#[test]
fn docker_archive_round_trip_keeps_the_id_and_the_bytes() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("busybox:latest");
    let first = out_path(&cx, "first.tar");
    cx.ok(["save", "-o", &first, "busybox"]);
    let first_bytes = fs::read(&first).unwrap();

    // The archive is docker's format: manifest.json, <config>.json, <diff id>/layer.tar.
    let (files, _) = tar_members(&first_bytes);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let hex = id.strip_prefix("sha256:").unwrap();
    assert_eq!(manifest[0]["Config"], format!("{hex}.json"));
    assert_eq!(manifest[0]["RepoTags"], json!(["busybox:latest"]));
    let layers = manifest[0]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let layer_path = layers[0].as_str().unwrap();
    assert_eq!(
        layer_path,
        format!("{}/layer.tar", sha256_hex(&files[layer_path]))
    );
    assert_eq!(sha256_hex(&files[&format!("{hex}.json")]), hex);

    // save → rmi → load: the same image comes back.
    let rmi = cx.ok(["rmi", "busybox"]);
    assert!(rmi.contains("Untagged: busybox:latest"), "{rmi}");
    assert!(listed_ids(&cx).is_empty());
    assert!(
        dir_names(&cx.root().join("layers")).is_empty(),
        "rmi removed the last image's layer"
    );
    let loaded = cx.ok(["load", "-i", &first]);
    assert_eq!(loaded, "Loaded image: busybox:latest\n");
    assert_eq!(listed_ids(&cx), BTreeSet::from([id.clone()]));
    assert_eq!(inspect(&cx, "busybox:latest")["Id"], id);

    // save again: the same archive.
    let second = out_path(&cx, "second.tar");
    cx.ok(["save", "-o", &second, "busybox:latest"]);
    assert_same_archive(
        &first_bytes,
        &fs::read(&second).unwrap(),
        "save after load (same store)",
    );

    // And in a fresh store.
    let other = TestContext::new(User::Sub);
    let copy = input(&other, "copy.tar", &first_bytes);
    assert_eq!(
        other.ok(["load", "-i", &copy]),
        "Loaded image: busybox:latest\n"
    );
    assert_eq!(listed_ids(&other), BTreeSet::from([id.clone()]));
    let third = out_path(&other, "third.tar");
    other.ok(["save", "-o", &third, "busybox"]);
    assert_same_archive(
        &first_bytes,
        &fs::read(&third).unwrap(),
        "save after load (fresh store)",
    );
    cx.assert_store_clean();
    other.assert_store_clean();
}

/// The digests in an oci-archive's index.json, with their names.
fn index_manifests(archive: &[u8]) -> Vec<(String, Option<String>)> {
    let (files, _) = tar_members(archive);
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .map(str::to_owned);
            (m["digest"].as_str().unwrap().to_owned(), name)
        })
        .collect()
}

#[test]
fn oci_archive_round_trip_keeps_id_and_manifest_digest() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("busybox:latest");
    let first = out_path(&cx, "first.tar");
    cx.ok(["save", "--format", "oci-archive", "-o", &first, "busybox"]);
    let first_bytes = fs::read(&first).unwrap();
    let (files, _) = tar_members(&first_bytes);
    assert!(files.contains_key("oci-layout"));
    // Every blob is named by its digest.
    for (path, data) in &files {
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            assert_eq!(sha256_hex(data), hex, "{path}");
        }
    }
    let manifests = index_manifests(&first_bytes);
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let manifest_digest = manifests[0].0.clone();
    assert_eq!(
        inspect(&cx, "busybox")["Descriptor"]["digest"],
        manifest_digest
    );
    let manifest: Value = serde_json::from_slice(
        &files[&format!(
            "blobs/sha256/{}",
            manifest_digest.strip_prefix("sha256:").unwrap()
        )],
    )
    .unwrap();
    assert_eq!(manifest["config"]["digest"], id);

    cx.ok(["rmi", "busybox"]);
    assert!(listed_ids(&cx).is_empty());
    let loaded = cx.ok(["load", "-i", &first]);
    assert_eq!(loaded, "Loaded image: busybox:latest\n");
    let info = inspect(&cx, "busybox");
    assert_eq!(info["Id"], id);
    assert_eq!(
        info["Descriptor"]["digest"], manifest_digest,
        "the manifest is kept as loaded"
    );

    let second = out_path(&cx, "second.tar");
    cx.ok(["save", "--format", "oci-archive", "-o", &second, "busybox"]);
    let second_bytes = fs::read(&second).unwrap();
    assert_eq!(index_manifests(&second_bytes), manifests);
    assert_same_archive(&first_bytes, &second_bytes, "oci save after load");

    let other = TestContext::new(User::Sub);
    let copy = input(&other, "copy.tar", &first_bytes);
    assert_eq!(
        other.ok(["load", "-i", &copy]),
        "Loaded image: busybox:latest\n"
    );
    assert_eq!(
        inspect(&other, "busybox")["Descriptor"]["digest"],
        manifest_digest
    );
    let third = out_path(&other, "third.tar");
    other.ok(["save", "--format", "oci-archive", "-o", &third, "busybox"]);
    assert_same_archive(
        &first_bytes,
        &fs::read(&third).unwrap(),
        "oci save in a fresh store",
    );
    cx.assert_store_clean();
    other.assert_store_clean();
}

// ---------------------------------------------------------------------------------------------
// load: inputs and messages

#[test]
fn load_from_stdin_and_compressed_archives() {
    crate::require_users!();
    let source = TestContext::new(User::Sub);
    let id = source.import_busybox("busybox:latest");
    let docker = out_path(&source, "docker.tar");
    source.ok(["save", "-o", &docker, "busybox"]);
    let oci = out_path(&source, "oci.tar");
    source.ok(["save", "--format", "oci-archive", "-o", &oci, "busybox"]);
    let docker = fs::read(&docker).unwrap();
    let oci = fs::read(&oci).unwrap();

    let cases: [(&str, Vec<u8>, bool); 7] = [
        ("docker-archive on stdin", docker.clone(), true),
        ("gzip docker-archive", gzip(&docker), false),
        ("gzip docker-archive on stdin", gzip(&docker), true),
        ("zstd docker-archive", zstd(&docker), false),
        ("zstd docker-archive on stdin", zstd(&docker), true),
        ("gzip oci-archive", gzip(&oci), false),
        ("zstd oci-archive on stdin", zstd(&oci), true),
    ];
    for (what, data, stdin) in cases {
        let cx = TestContext::new(User::Sub);
        let run = if stdin {
            cx.run_with_stdin(["load"], &data)
        } else {
            let path = input(&cx, "archive", &data);
            cx.run(["load", "-i", &path])
        };
        let run = run.success();
        assert_eq!(run.stdout(), "Loaded image: busybox:latest\n", "{what}");
        assert_eq!(listed_ids(&cx), BTreeSet::from([id.clone()]), "{what}");
        assert!(
            lower_dirs(&cx, "busybox")[0].join("bin/busybox").is_file(),
            "{what}"
        );
        cx.assert_store_clean();
    }
}

#[test]
fn load_multi_image_archives() {
    crate::require_users!();
    // Saved by berth: two images sharing their only layer.
    let source = TestContext::new(User::Sub);
    let tar = input(&source, "rootfs.tar", &fixtures::busybox_rootfs_tar());
    let a = source
        .ok(["import", "-m", "a", &tar, "first:1"])
        .trim()
        .to_owned();
    let b = source
        .ok(["import", "-m", "b", &tar, "second:2"])
        .trim()
        .to_owned();
    assert_ne!(a, b);
    let both = out_path(&source, "both.tar");
    source.ok(["save", "-o", &both, "first:1", "second:2"]);
    let (files, _) = tar_members(&fs::read(&both).unwrap());
    assert_eq!(
        files.keys().filter(|k| k.ends_with("/layer.tar")).count(),
        1,
        "a shared layer is written once"
    );

    let cx = TestContext::new(User::Sub);
    let path = input(&cx, "both.tar", &fs::read(&both).unwrap());
    let out = cx.ok(["load", "-i", &path]);
    assert_eq!(out, "Loaded image: first:1\nLoaded image: second:2\n");
    assert_eq!(listed_ids(&cx), BTreeSet::from([a.clone(), b.clone()]));
    assert_eq!(inspect(&cx, "first:1")["Id"], a);
    assert_eq!(inspect(&cx, "second:2")["Id"], b);
    assert_eq!(dir_names(&cx.root().join("layers")).len(), 1);
    cx.assert_store_clean();

    // Crafted: a two-layer and a one-layer image on the same base, and an untagged one.
    let base = fixtures::busybox_rootfs_tar();
    let top = TarBuilder::new()
        .dir("app", 0o755)
        .file("app/hello", 0o644, b"hello\n")
        .finish();
    let two = [base.clone(), top.clone()];
    let one = [base.clone()];
    let archive = docker_archive(&[
        ArchiveImage {
            tags: &["app:v1", "app:latest"],
            layers: &two,
            comment: "app",
        },
        ArchiveImage {
            tags: &["base:latest"],
            layers: &one,
            comment: "base",
        },
        ArchiveImage {
            tags: &[],
            layers: &two,
            comment: "untagged",
        },
    ]);
    let cx = TestContext::new(User::Sub);
    let path = input(&cx, "crafted.tar", &archive);
    let out = cx.ok(["load", "-i", &path]);
    let untagged = image_id(&two, "untagged");
    assert_eq!(
        out,
        format!(
            "Loaded image: app:v1\nLoaded image: app:latest\nLoaded image: base:latest\nLoaded image ID: {untagged}\n"
        )
    );
    assert_eq!(inspect(&cx, "app:v1")["Id"], image_id(&two, "app"));
    assert_eq!(inspect(&cx, "app:latest")["Id"], image_id(&two, "app"));
    assert_eq!(inspect(&cx, "base")["Id"], image_id(&one, "base"));
    let lower = lower_dirs(&cx, "app:v1");
    assert_eq!(lower.len(), 2);
    assert!(lower[0].join("app/hello").is_file());
    assert!(
        !lower[0].join("bin").exists(),
        "the top layer holds only its own files"
    );
    assert_eq!(
        lower[1],
        lower_dirs(&cx, "base")[0],
        "the base layer is shared"
    );
    assert_eq!(dir_names(&cx.root().join("layers")).len(), 2);
    cx.assert_store_clean();
}

#[test]
fn load_untagged_image_prints_its_id() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let layers = [fixtures::busybox_rootfs_tar()];
    let archive = docker_archive(&[ArchiveImage {
        tags: &[],
        layers: &layers,
        comment: "untagged",
    }]);
    let id = image_id(&layers, "untagged");
    let path = input(&cx, "untagged.tar", &archive);
    assert_eq!(
        cx.ok(["load", "-i", &path]),
        format!("Loaded image ID: {id}\n")
    );
    assert_eq!(listed_ids(&cx), BTreeSet::from([id.clone()]));
    assert_eq!(repo_tags(&cx, &id), Vec::<String>::new());
    let rows = image_rows(&cx);
    assert_eq!(
        rows,
        vec![("<none>".to_owned(), "<none>".to_owned(), id.clone())]
    );

    // Saved by ID and loaded again, it stays untagged (docker-archive and oci-archive).
    for format in ["docker-archive", "oci-archive"] {
        let saved = out_path(&cx, &format!("{format}.tar"));
        cx.ok(["save", "--format", format, "-o", &saved, &id]);
        let other = TestContext::new(User::Sub);
        let copy = input(&other, "copy.tar", &fs::read(&saved).unwrap());
        assert_eq!(
            other.ok(["load", "-i", &copy]),
            format!("Loaded image ID: {id}\n"),
            "{format}"
        );
        assert_eq!(repo_tags(&other, &id), Vec::<String>::new(), "{format}");
        other.assert_store_clean();
    }
    cx.assert_store_clean();
}

#[test]
fn loading_a_taken_name_leaves_the_old_image_unnamed() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let tar = input(&cx, "rootfs.tar", &fixtures::busybox_rootfs_tar());
    let old = cx.ok(["import", &tar, "x:latest"]).trim().to_owned();
    let layers = [fixtures::busybox_rootfs_tar()];
    let new = image_id(&layers, "newer");
    assert_ne!(old, new);
    let archive = docker_archive(&[ArchiveImage {
        tags: &["x:latest"],
        layers: &layers,
        comment: "newer",
    }]);
    let path = input(&cx, "x.tar", &archive);
    let out = cx.ok(["load", "-i", &path]);
    assert_eq!(
        out,
        format!(
            "The image x:latest already exists, renaming the old one with ID {old} to empty string\nLoaded image: x:latest\n"
        )
    );
    assert_eq!(inspect(&cx, "x:latest")["Id"], new);
    assert_eq!(
        repo_tags(&cx, &old),
        Vec::<String>::new(),
        "the old image keeps no name"
    );
    assert_eq!(listed_ids(&cx), BTreeSet::from([old.clone(), new.clone()]));
    let rows = image_rows(&cx);
    assert!(
        rows.contains(&("<none>".to_owned(), "<none>".to_owned(), old.clone())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("x".to_owned(), "latest".to_owned(), new.clone())),
        "{rows:?}"
    );

    // Loading the same archive again renames nothing.
    assert_eq!(cx.ok(["load", "-i", &path]), "Loaded image: x:latest\n");
    assert_eq!(listed_ids(&cx).len(), 2);
    cx.assert_store_clean();
}

/// Docker 25 and later write docker-archives as an OCI layout plus manifest.json naming
/// `blobs/sha256/<hex>` files: loaded once, through manifest.json.
#[test]
fn load_docker_25_archive_layout() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let layers = [fixtures::busybox_rootfs_tar()];
    let config = image_config(&layers, "docker 25");
    let config_hex = sha256_hex(&config);
    let layer_hex = sha256_hex(&layers[0]);
    let oci_manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{layer_hex}"), "size": layers[0].len() }],
    }))
    .unwrap();
    let manifest_hex = sha256_hex(&oci_manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_hex}"),
            "size": oci_manifest.len(),
            "annotations": {
                "io.containerd.image.name": "docker.io/library/modern:latest",
                "org.opencontainers.image.ref.name": "latest",
            },
        }],
    }))
    .unwrap();
    let docker_manifest = serde_json::to_vec(&json!([{
        "Config": format!("blobs/sha256/{config_hex}"),
        "RepoTags": ["modern:latest"],
        "Layers": [format!("blobs/sha256/{layer_hex}")],
    }]))
    .unwrap();
    let (config_path, layer_path, manifest_path) = (
        format!("blobs/sha256/{config_hex}"),
        format!("blobs/sha256/{layer_hex}"),
        format!("blobs/sha256/{manifest_hex}"),
    );
    let archive = tar_of([
        (config_path.as_str(), &config[..]),
        (layer_path.as_str(), &layers[0][..]),
        (manifest_path.as_str(), &oci_manifest[..]),
        ("index.json", &index[..]),
        ("manifest.json", &docker_manifest[..]),
        ("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
    ]);
    let path = input(&cx, "modern.tar", &archive);
    assert_eq!(
        cx.ok(["load", "-i", &path]),
        "Loaded image: modern:latest\n"
    );
    assert_eq!(inspect(&cx, "modern")["Id"], format!("sha256:{config_hex}"));
    assert_eq!(listed_ids(&cx).len(), 1);
    cx.assert_store_clean();
}

/// `docker save` before Docker 25 writes a layer whose diff ID already appeared in the
/// archive (the same layer at another position, e.g. repeated empty layers) as a symlink
/// `<v1 id>/layer.tar -> ../<other v1 id>/layer.tar`, and manifest.json names the symlink.
#[test]
fn load_legacy_docker_archive_with_symlinked_layer() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let base = fixtures::busybox_rootfs_tar();
    // What Docker's classic builder wrote for a step that changed nothing: an empty tar.
    let empty = vec![0u8; 1024];
    let top = TarBuilder::new().file("top", 0o644, b"top\n").finish();
    let layers = [base.clone(), empty.clone(), top.clone(), empty.clone()];
    let config = image_config(&layers, "legacy");
    let config_name = format!("{}.json", sha256_hex(&config));
    let v1 = |n: u8| format!("{n:064x}");
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": ["legacy:latest"],
        "Layers": (1..=4).map(|n| format!("{}/layer.tar", v1(n))).collect::<Vec<_>>(),
    }]))
    .unwrap();
    let mut tar = TarBuilder::new();
    for (n, layer) in [(1, &base), (2, &empty), (3, &top)] {
        tar = tar
            .dir(&v1(n), 0o755)
            .file(&format!("{}/VERSION", v1(n)), 0o644, b"1.0")
            .file(
                &format!("{}/json", v1(n)),
                0o644,
                format!(r#"{{"id":"{}"}}"#, v1(n)).as_bytes(),
            )
            .file(&format!("{}/layer.tar", v1(n)), 0o644, layer);
    }
    let archive = tar
        .dir(&v1(4), 0o755)
        .file(&format!("{}/VERSION", v1(4)), 0o644, b"1.0")
        .file(
            &format!("{}/json", v1(4)),
            0o644,
            format!(r#"{{"id":"{}"}}"#, v1(4)).as_bytes(),
        )
        .symlink(
            &format!("{}/layer.tar", v1(4)),
            &format!("../{}/layer.tar", v1(2)),
        )
        .file(&config_name, 0o644, &config)
        .file("manifest.json", 0o644, &manifest)
        .file(
            "repositories",
            0o644,
            format!(r#"{{"legacy":{{"latest":"{}"}}}}"#, v1(4)).as_bytes(),
        )
        .finish();
    let path = input(&cx, "legacy.tar", &archive);
    let run = cx.run(["load", "-i", &path]);
    assert!(
        run.output.status.success(),
        "a docker-archive with a symlinked layer is refused:\n{}",
        run.describe()
    );
    assert_eq!(run.stdout(), "Loaded image: legacy:latest\n");
    assert_eq!(inspect(&cx, "legacy")["Id"], image_id(&layers, "legacy"));
    assert_eq!(lower_dirs(&cx, "legacy").len(), 4);
    cx.assert_store_clean();
}

/// Paths in manifest.json and member names are looked up in the archive only: never on the
/// host, never written by name.
#[test]
fn archive_paths_never_reach_the_host() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox:latest");
    let before = store_state(&cx);
    let layers = [TarBuilder::new().file("f", 0o644, b"f\n").finish()];
    let config = image_config(&layers, "paths");
    let config_name = format!("{}.json", sha256_hex(&config));
    let layer_name = format!("{}/layer.tar", sha256_hex(&layers[0]));
    let manifest = |config: &str, layer: &str| {
        serde_json::to_vec(
            &json!([{ "Config": config, "RepoTags": ["paths:latest"], "Layers": [layer] }]),
        )
        .unwrap()
    };
    let passwd = fs::read("/etc/passwd").unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "config /etc/passwd",
            tar_of([
                ("manifest.json", &manifest("/etc/passwd", &layer_name)[..]),
                (layer_name.as_str(), &layers[0][..]),
            ]),
            "/etc/passwd",
        ),
        (
            "layer ../../../../../etc/passwd",
            tar_of([
                (
                    "manifest.json",
                    &manifest(&config_name, "../../../../../etc/passwd")[..],
                ),
                (config_name.as_str(), &config[..]),
            ]),
            "etc/passwd",
        ),
        (
            "layer through a symlink member to /etc/passwd",
            TarBuilder::new()
                .file(
                    "manifest.json",
                    0o644,
                    &manifest(&config_name, "evil/layer.tar"),
                )
                .file(&config_name, 0o644, &config)
                .symlink("evil/layer.tar", "/etc/passwd")
                .finish(),
            "evil/layer.tar",
        ),
        (
            "layer through a symlink member climbing out",
            TarBuilder::new()
                .file(
                    "manifest.json",
                    0o644,
                    &manifest(&config_name, "evil/layer.tar"),
                )
                .file(&config_name, 0o644, &config)
                .symlink("evil/layer.tar", "../../../../../../../../etc/passwd")
                .finish(),
            "evil/layer.tar",
        ),
    ];
    for (what, archive, needle) in &cases {
        let path = input(&cx, "evil.tar", archive);
        let run = cx.run(["load", "-i", &path]);
        assert_eq!(
            run.code(),
            1,
            "{what}: expected a refusal:\n{}",
            run.describe()
        );
        assert!(
            run.stderr().contains(needle),
            "{what}: stderr lacks {needle:?}:\n{}",
            run.describe()
        );
        assert_store_unchanged(&cx, &before, what);
        // Nothing of the host file reached the store.
        let blobs = cx.root().join("images/blobs/sha256");
        assert!(
            !blobs.join(sha256_hex(&passwd)).exists(),
            "{what}: /etc/passwd was copied into the store"
        );
    }

    // Member names climbing out are never used as paths.
    let name = format!(
        "pwned-{}",
        cx.dir.path().file_name().unwrap().to_string_lossy()
    );
    let mut archive = TarBuilder::new();
    for member in [
        format!("../../../../{name}"),
        format!("/tmp/{name}"),
        format!("../../../../../../../../../{name}"),
    ] {
        archive = archive.raw(&member, tar::EntryType::Regular, "", b"pwned\n");
    }
    let mut good = tar_members(&docker_archive(&[ArchiveImage {
        tags: &["paths:latest"],
        layers: &layers,
        comment: "paths",
    }]))
    .0;
    for (member, data) in &good {
        archive = archive.file(member, 0o644, data);
    }
    good.clear();
    let path = input(&cx, "members.tar", &archive.finish());
    assert_eq!(cx.ok(["load", "-i", &path]), "Loaded image: paths:latest\n");
    for place in [
        cx.dir.path().to_path_buf(),
        cx.work(),
        cx.root(),
        PathBuf::from("/tmp"),
        PathBuf::from("/"),
    ] {
        assert!(
            !fixtures::exists_nofollow(&place.join(&name)),
            "{} was written",
            place.join(&name).display()
        );
    }
    assert!(!fixtures::exists_nofollow(
        &cx.dir.path().parent().unwrap().join(&name)
    ));
    cx.assert_store_clean();
}

// ---------------------------------------------------------------------------------------------
// podman interop

/// Whether podman can be used; prints why not (or fails when rootless tests are required).
fn podman_available() -> bool {
    let found = Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("BERTH_TEST_REQUIRE_ROOTLESS").is_none(),
            "podman is not installed (apt-get install podman)"
        );
        eprintln!("skipped: podman is not installed");
    }
    found && nix::unistd::getuid().is_root()
}

/// podman with a private store in `dir` (as root, vfs, no events).
struct Podman {
    dir: PathBuf,
}

impl Podman {
    fn new(dir: &Path) -> Self {
        for sub in ["root", "run", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("podman")
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--events-backend",
                "none",
                "--cgroup-manager",
                "cgroupfs",
            ])
            .args(args)
            .env("TMPDIR", self.dir.join("tmp"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "podman {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Image IDs (hex), sorted.
    fn ids(&self) -> BTreeSet<String> {
        self.run(&["images", "--no-trunc", "--format", "{{.ID}}"])
            .lines()
            .map(|l| l.trim().trim_start_matches("sha256:").to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

#[test]
fn podman_loads_what_berth_saves() {
    crate::require_users!();
    if !podman_available() {
        return;
    }
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("busybox:latest");
    let hex = id.strip_prefix("sha256:").unwrap().to_owned();
    for format in ["docker-archive", "oci-archive"] {
        let saved = out_path(&cx, &format!("{format}.tar"));
        cx.ok(["save", "--format", format, "-o", &saved, "busybox"]);
        let podman = Podman::new(&cx.dir.path().join(format!("podman-{format}")));
        let out = podman.run(&["load", "-i", &saved]);
        assert!(out.contains("busybox:latest"), "{format}: {out}");
        assert_eq!(
            podman.ids(),
            BTreeSet::from([hex.clone()]),
            "{format}: podman sees another image ID"
        );
    }
}

#[test]
fn berth_loads_what_podman_saves() {
    crate::require_users!();
    if !podman_available() {
        return;
    }
    let scratch = tempfile::Builder::new()
        .prefix("berth-it-podman-")
        .tempdir()
        .unwrap();
    let podman = Podman::new(scratch.path());
    let rootfs = scratch.path().join("rootfs.tar");
    fs::write(&rootfs, fixtures::busybox_rootfs_tar()).unwrap();
    podman.run(&[
        "import",
        "--change",
        "CMD [\"sh\"]",
        rootfs.to_str().unwrap(),
        "busybox:latest",
    ]);
    let ids = podman.ids();
    assert_eq!(ids.len(), 1);
    let hex = ids.into_iter().next().unwrap();
    for format in ["docker-archive", "oci-archive"] {
        let saved = scratch.path().join(format!("{format}.tar"));
        podman.run(&[
            "save",
            "--format",
            format,
            "-o",
            saved.to_str().unwrap(),
            "busybox:latest",
        ]);
        let cx = TestContext::new(User::Sub);
        let path = input(&cx, "podman.tar", &fs::read(&saved).unwrap());
        let out = cx.ok(["load", "-i", &path]);
        assert!(
            out.starts_with("Loaded image: ") && out.contains("busybox:latest"),
            "{format}: {out}"
        );
        assert_eq!(
            listed_ids(&cx),
            BTreeSet::from([format!("sha256:{hex}")]),
            "{format}"
        );
        let name = out
            .trim()
            .strip_prefix("Loaded image: ")
            .unwrap()
            .to_owned();
        assert_eq!(
            inspect(&cx, &name)["Config"]["Cmd"],
            json!(["sh"]),
            "{format}"
        );
        assert!(
            lower_dirs(&cx, &name)[0].join("bin/busybox").is_file(),
            "{format}"
        );
        cx.assert_store_clean();
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_archives_are_refused_and_leave_the_store_unchanged() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox:latest");
    let docker = out_path(&cx, "good-docker.tar");
    cx.ok(["save", "-o", &docker, "busybox"]);
    let oci = out_path(&cx, "good-oci.tar");
    cx.ok(["save", "--format", "oci-archive", "-o", &oci, "busybox"]);
    let docker = fs::read(&docker).unwrap();
    let oci = fs::read(&oci).unwrap();
    let before = store_state(&cx);

    // Random bytes, deterministic.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let random: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();

    // A layer blob altered, its name kept.
    let altered = rewrite_tar(&oci, |path, data| {
        if path.starts_with("blobs/sha256/") && data.len() > 100_000 {
            let at = data.windows(5).position(|w| w == b"mine\n").unwrap();
            data[at] = b'M';
        }
    });
    // manifest.json naming a layer the archive lacks.
    let layers = [fixtures::busybox_rootfs_tar()];
    let config = image_config(&layers, "missing layer");
    let config_name = format!("{}.json", sha256_hex(&config));
    let missing_layer = format!("{}/layer.tar", sha256_hex(&layers[0]));
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name, "RepoTags": ["missing:latest"], "Layers": [missing_layer],
    }]))
    .unwrap();
    let missing = tar_of([
        ("manifest.json", &manifest[..]),
        (config_name.as_str(), &config[..]),
    ]);
    let malformed = tar_of([("manifest.json", &b"[{\"Config\": "[..])]);
    // A config that is not a config.
    let not_config = tar_of([
        (
            "manifest.json",
            &br#"[{"Config":"c.json","RepoTags":["c:latest"],"Layers":[]}]"#[..],
        ),
        ("c.json", &b"{\"rootfs\": 5}"[..]),
    ]);
    // OCI: the index names a manifest the archive lacks.
    let missing_manifest = rewrite_tar(&oci, |path, data| {
        if path == "index.json" {
            let text = String::from_utf8(data.clone()).unwrap();
            let digest = text.split("\"digest\":\"sha256:").nth(1).unwrap()[..64].to_owned();
            *data = text.replace(&digest, &"0".repeat(64)).into_bytes();
        }
    });

    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("random bytes", random.clone(), vec!["invalid archive"]),
        (
            "truncated docker-archive",
            docker[..docker.len() / 2].to_vec(),
            vec!["invalid archive"],
        ),
        (
            "truncated oci-archive",
            oci[..oci.len() / 2].to_vec(),
            vec!["invalid archive"],
        ),
        (
            "a cut inside a tar header",
            docker[..700].to_vec(),
            vec!["invalid archive"],
        ),
        ("an empty file", Vec::new(), vec!["invalid archive"]),
        (
            "gzip of random bytes",
            gzip(&random),
            vec!["invalid archive"],
        ),
        (
            "a truncated gzip stream",
            gzip(&docker)[..1000].to_vec(),
            vec!["invalid archive"],
        ),
        (
            "an altered oci blob",
            altered,
            vec!["invalid archive", "sha256:"],
        ),
        (
            "a missing layer",
            missing,
            vec!["invalid archive", &missing_layer, "missing"],
        ),
        (
            "malformed manifest.json",
            malformed,
            vec!["invalid archive", "manifest.json"],
        ),
        ("a config that is not a config", not_config, vec!["c.json"]),
        (
            "a missing oci manifest",
            missing_manifest,
            vec!["invalid archive", "missing"],
        ),
        (
            "a tar without an image",
            tar_of([("hello", &b"hi"[..])]),
            vec!["invalid archive"],
        ),
    ];
    for (what, data, needles) in &cases {
        let path = input(&cx, "bad.tar", data);
        let run = cx.run(["load", "-i", &path]);
        assert_eq!(
            run.code(),
            1,
            "{what}: expected a refusal:\n{}",
            run.describe()
        );
        for needle in needles {
            assert!(
                run.stderr().contains(needle),
                "{what}: stderr lacks {needle:?}:\n{}",
                run.describe()
            );
        }
        assert!(
            run.stdout().is_empty(),
            "{what}: nothing loaded:\n{}",
            run.describe()
        );
        assert_store_unchanged(&cx, &before, what);
        // The same on stdin.
        let run = cx.run_with_stdin(["load"], data);
        assert!(
            !run.output.status.success(),
            "{what} on stdin:\n{}",
            run.describe()
        );
        assert_store_unchanged(&cx, &before, &format!("{what} on stdin"));
    }

    // import: not a tar, and a truncated tar.
    for (what, data) in [
        ("random bytes", random.clone()),
        (
            "a truncated rootfs",
            layers[0][..layers[0].len() / 2].to_vec(),
        ),
    ] {
        let path = input(&cx, "bad-rootfs.tar", data.as_slice());
        cx.run(["import", &path, "bad:latest"])
            .failure_with("invalid archive");
        assert_store_unchanged(&cx, &before, &format!("import of {what}"));
    }
}

/// A docker-archive whose layer.tar does not hash to the diff ID its config names.
fn archive_with_wrong_layer(saved: &[u8]) -> Vec<u8> {
    rewrite_tar(saved, |path, data| {
        if path.ends_with("/layer.tar") {
            let at = data.windows(5).position(|w| w == b"mine\n").unwrap();
            data[at] = b'M';
        }
    })
}

#[test]
fn layer_that_is_not_its_diff_id_is_refused_in_a_fresh_store() {
    crate::require_users!();
    let source = TestContext::new(User::Sub);
    source.import_busybox("busybox:latest");
    let saved = out_path(&source, "saved.tar");
    source.ok(["save", "-o", &saved, "busybox"]);
    let bad = archive_with_wrong_layer(&fs::read(&saved).unwrap());

    let cx = TestContext::new(User::Sub);
    cx.ok(["system", "check"]);
    let before = store_state(&cx);
    let path = input(&cx, "bad.tar", &bad);
    let run = cx.run(["load", "-i", &path]);
    assert_eq!(run.code(), 1, "expected a refusal:\n{}", run.describe());
    assert!(
        run.stderr().contains("sha256:"),
        "the error names the digests:\n{}",
        run.describe()
    );
    assert_store_unchanged(&cx, &before, "wrong diff ID");
}

/// Regression test (bug found while writing these tests): `Store::unpack_layer` returns early
/// when the chain ID computed from the *claimed* diff ID is already unpacked, so the layer
/// blob of the archive is never hashed against its diff ID. The image is registered with a
/// layer blob whose content is not its diff ID, `system check` does not notice, and `save`
/// then exports that content as `<diff id>/layer.tar`.
#[test]
fn layer_that_is_not_its_diff_id_is_refused_when_the_layer_is_already_unpacked() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("busybox:latest");
    let saved = out_path(&cx, "saved.tar");
    cx.ok(["save", "-o", &saved, "busybox"]);
    let bad = archive_with_wrong_layer(&fs::read(&saved).unwrap());
    let before = store_state(&cx);
    let path = input(&cx, "bad.tar", &bad);
    let run = cx.run(["load", "-i", &path]);
    if run.code() == 0 {
        // Show what the accepted archive did to the store before failing.
        let resaved = out_path(&cx, "resaved.tar");
        cx.ok(["save", "-o", &resaved, "busybox"]);
        let (files, _) = tar_members(&fs::read(&resaved).unwrap());
        let corrupt: Vec<&String> = files
            .iter()
            .filter(|(name, data)| {
                name.ends_with("/layer.tar") && !name.starts_with(&sha256_hex(data))
            })
            .map(|(name, _)| name)
            .collect();
        panic!(
            "an archive whose layer does not match its diff ID was loaded (image {}, was {id}); \
             `save` now exports layers whose content is not their name: {corrupt:?}\n{}",
            inspect(&cx, "busybox")["Id"],
            run.describe()
        );
    }
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains("sha256:"),
        "the error names the digests:\n{}",
        run.describe()
    );
    assert_store_unchanged(&cx, &before, "wrong diff ID over an unpacked layer");
}

#[test]
fn bad_references_and_paths_are_refused() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let id = cx.import_busybox("busybox:latest");
    let before = store_state(&cx);

    let run = cx.run(["tag", "busybox", "UPPER"]);
    let run = run.failure_with(
        "invalid reference format: repository name (library/UPPER) must be lowercase",
    );
    assert_eq!(run.code(), 1);
    assert_store_unchanged(&cx, &before, "tag UPPER");
    cx.run(["tag", "busybox", "a::b"])
        .failure_with("invalid reference format");
    assert_store_unchanged(&cx, &before, "tag a::b");
    let tar = input(&cx, "rootfs.tar", &fixtures::busybox_rootfs_tar());
    cx.run(["import", &tar, "Bad:Name"])
        .failure_with("invalid reference format");
    assert_store_unchanged(&cx, &before, "import with a bad name");
    // A docker-archive whose RepoTags hold a bad reference.
    let layers = [fixtures::busybox_rootfs_tar()];
    let archive = docker_archive(&[ArchiveImage {
        tags: &["NOT::valid"],
        layers: &layers,
        comment: "bad tag",
    }]);
    let path = input(&cx, "badtag.tar", &archive);
    cx.run(["load", "-i", &path])
        .failure_with("invalid reference format");
    assert_store_unchanged(&cx, &before, "load with a bad RepoTag");

    let run = cx
        .run(["load", "-i", "/nonexistent/archive.tar"])
        .failure_with("/nonexistent/archive.tar");
    assert_eq!(run.code(), 1);
    assert_store_unchanged(&cx, &before, "load -i /nonexistent");
    cx.run(["import", "/nonexistent/rootfs.tar"])
        .failure_with("/nonexistent/rootfs.tar");
    assert_store_unchanged(&cx, &before, "import /nonexistent");
    // A file the user may not read.
    let secret = cx.dir.path().join("secret.tar");
    fs::write(&secret, fixtures::busybox_rootfs_tar()).unwrap();
    crate::support::set_mode(&secret, 0o600);
    let secret = secret.to_string_lossy().into_owned();
    cx.run(["load", "-i", &secret]).failure_with(&secret);
    cx.run(["import", &secret]).failure_with(&secret);
    assert_store_unchanged(&cx, &before, "unreadable files");
    // save of an unknown image writes nothing.
    let out = out_path(&cx, "nothing.tar");
    cx.run(["save", "-o", &out, "nosuch:image"])
        .failure_with("nosuch");
    assert!(!Path::new(&out).exists());
    assert!(
        dir_names(&cx.work()).iter().all(|n| !n.contains("nothing")),
        "{:?}",
        dir_names(&cx.work())
    );
    assert_eq!(listed_ids(&cx), BTreeSet::from([id]));
}

// ---------------------------------------------------------------------------------------------
// Concurrency

#[test]
fn concurrent_load_tag_rmi_leave_a_consistent_store() {
    // Issue 2: 8 processes looping over load, tag and rm for 30 s leave a consistent store.
    crate::require_users!();
    const WORKERS: usize = 8;
    const DURATION: Duration = Duration::from_secs(30);
    let cx = TestContext::new(User::Sub);
    // The store exists before the workers start (creating it is not what is tested here).
    cx.import_busybox("busybox:latest");
    let base = fixtures::busybox_rootfs_tar();
    let archives: Vec<(String, String)> = (0..WORKERS)
        .map(|i| {
            let own = TarBuilder::new()
                .file(&format!("worker-{i}"), 0o644, format!("{i}\n").as_bytes())
                .finish();
            let layers = [base.clone(), own];
            let tag = format!("worker{i}:latest");
            let archive = docker_archive(&[ArchiveImage {
                tags: &[&tag],
                layers: &layers,
                comment: &tag,
            }]);
            (
                input(&cx, &format!("worker-{i}.tar"), &archive),
                image_id(&layers, &tag),
            )
        })
        .collect();

    let start = Instant::now();
    let results: Vec<Result<(usize, bool), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = archives
            .iter()
            .enumerate()
            .map(|(i, (path, id))| {
                let cx = &cx;
                scope.spawn(move || -> Result<(usize, bool), String> {
                    let name = format!("worker{i}:latest");
                    let mut rounds = 0;
                    let mut present = false;
                    while start.elapsed() < DURATION {
                        let run = cx.run(["load", "-i", path]);
                        if !run.output.status.success()
                            || !run.stdout().contains(&format!("Loaded image: {name}"))
                        {
                            return Err(format!(
                                "worker {i} round {rounds}: load\n{}",
                                run.describe()
                            ));
                        }
                        let alias = format!("worker{i}:round{rounds}");
                        let run = cx.run(["tag", &name, &alias]);
                        if !run.output.status.success() {
                            return Err(format!(
                                "worker {i} round {rounds}: tag\n{}",
                                run.describe()
                            ));
                        }
                        let run = cx.run(["image", "inspect", &alias]);
                        if !run.output.status.success() || !run.stdout().contains(id.as_str()) {
                            return Err(format!(
                                "worker {i} round {rounds}: inspect\n{}",
                                run.describe()
                            ));
                        }
                        let run = cx.run(["rmi", &alias]);
                        if !run.output.status.success()
                            || !run.stdout().contains(&format!("Untagged: {alias}"))
                        {
                            return Err(format!(
                                "worker {i} round {rounds}: rmi\n{}",
                                run.describe()
                            ));
                        }
                        present = true;
                        if rounds % 2 == 1 {
                            let run = cx.run(["rmi", &name]);
                            if !run.output.status.success()
                                || !run.stdout().contains(&format!("Deleted: {id}"))
                            {
                                return Err(format!(
                                    "worker {i} round {rounds}: rmi {name}\n{}",
                                    run.describe()
                                ));
                            }
                            present = false;
                        }
                        rounds += 1;
                    }
                    Ok((rounds, present))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "the workers took {:?}",
        start.elapsed()
    );
    let mut expected = BTreeSet::from([inspect(&cx, "busybox")["Id"].as_str().unwrap().to_owned()]);
    for (i, result) in results.into_iter().enumerate() {
        let (rounds, present) = result.unwrap_or_else(|e| panic!("{e}"));
        assert!(rounds > 0, "worker {i} never ran a round");
        if present {
            expected.insert(archives[i].1.clone());
        }
    }

    cx.assert_store_clean();
    assert_eq!(listed_ids(&cx), expected);
    // Every listed image is whole, and the store holds exactly the layers they use.
    let mut used = BTreeSet::new();
    for id in &expected {
        for dir in lower_dirs(&cx, id) {
            assert!(dir.is_dir(), "{id}: {}", dir.display());
            used.insert(
                dir.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    assert_eq!(
        dir_names(&cx.root().join("layers")),
        used,
        "layers no image uses were left behind"
    );
    assert!(dir_names(&cx.root().join("tmp")).is_empty());
}
