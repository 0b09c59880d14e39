//! Layer unpacking is the security boundary (DESIGN.md §3): crafted layers go through the real
//! binary, both as `import` tarballs and inside docker-archives given to `load`, as the user with
//! subordinate IDs, the user without, and root.
//!
//! For every case: nothing is written outside the layer root (a canary directory beside the
//! store, the test directory, `/`, `/tmp`, `/etc` and host `/etc/passwd` are checked); a
//! refused archive fails with an error naming the problem and leaves the store as it was; an
//! accepted one keeps its files inside the layer directory.

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::archives::{
    ArchiveImage, assert_store_unchanged, dir_names, docker_archive, lower_dirs, sha256_hex,
    store_state,
};
use crate::support::fixtures::{self, TarBuilder};
use crate::support::{TestContext, User, chown_to};

/// Where a crafted layer is handed to berth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// `berth import FILE crafted:latest`.
    Import,
    /// `berth load -i FILE` of a docker-archive holding the layer (on top of nothing).
    Load,
}

/// What berth must do with a crafted layer.
enum Expect {
    /// Succeed; the check gets the unpacked layer directory.
    Accept(fn(&Canaries, &TestContext, &Path)),
    /// Fail with exit 1 and every needle in stderr.
    Refuse(&'static [&'static str]),
    /// Either refuse (with every needle) or accept and confine (with the check): both are safe.
    Either(&'static [&'static str], fn(&Canaries, &TestContext, &Path)),
}

/// One crafted layer.
struct Case {
    name: &'static str,
    layer: fn(&Canaries) -> Vec<u8>,
    expect: Expect,
}

/// Host state that a malicious layer would like to change.
struct Canaries {
    /// A file name no test creates legitimately; every payload uses it.
    token: String,
    /// The test's directory (holds store/, work/, canary/).
    top: PathBuf,
    /// A directory beside the store, writable by the test user.
    canary: PathBuf,
    /// The canary's listing (name, size, mtime).
    canary_listing: BTreeSet<(String, u64, i64)>,
    /// (dev, ino, nlink, size, mtime, sha256) of host /etc/passwd.
    passwd: (u64, u64, u64, u64, i64, String),
}

fn passwd_state() -> (u64, u64, u64, u64, i64, String) {
    let meta = fs::symlink_metadata("/etc/passwd").unwrap();
    let content = fs::read("/etc/passwd").unwrap();
    (
        meta.dev(),
        meta.ino(),
        meta.nlink(),
        meta.size(),
        meta.mtime(),
        sha256_hex(&content),
    )
}

fn listing(dir: &Path) -> BTreeSet<(String, u64, i64)> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = fs::symlink_metadata(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                meta.size(),
                meta.mtime(),
            )
        })
        .collect()
}

impl Canaries {
    fn new(cx: &TestContext) -> Self {
        let top = cx.dir.path().to_path_buf();
        let suffix = top
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("berth-it-", "");
        let token = format!("pwned-{suffix}");
        let canary = top.join("canary");
        fs::create_dir_all(&canary).unwrap();
        fs::write(canary.join("keep"), b"canary\n").unwrap();
        chown_to(&canary, cx.user);
        let canaries = Self {
            token,
            top,
            canary_listing: listing(&canary),
            canary,
            passwd: passwd_state(),
        };
        for path in canaries.outside_paths() {
            assert!(
                !fixtures::exists_nofollow(&path),
                "{} exists before the test",
                path.display()
            );
        }
        canaries
    }

    /// The test directory as a path relative to `/` (for payloads that climb to the root).
    fn top_relative(&self) -> String {
        self.top
            .to_string_lossy()
            .trim_start_matches('/')
            .to_owned()
    }

    /// Places an escaping payload would land.
    fn outside_paths(&self) -> Vec<PathBuf> {
        let t = &self.token;
        let mut paths: Vec<PathBuf> = ["/", "/tmp", "/etc", "/root"]
            .iter()
            .map(|d| Path::new(d).join(t))
            .collect();
        for dir in [
            "",
            "canary",
            "work",
            "home",
            "store",
            "store/tmp",
            "store/layers",
            "store/images",
        ] {
            paths.push(self.top.join(dir).join(t));
        }
        if let Some(parent) = self.top.parent() {
            paths.push(parent.join(t));
        }
        paths
    }

    /// Nothing outside the layers changed.
    fn assert_untouched(&self, what: &str) {
        for path in self.outside_paths() {
            assert!(
                !fixtures::exists_nofollow(&path),
                "{what}: {} was written",
                path.display()
            );
        }
        assert_eq!(
            listing(&self.canary),
            self.canary_listing,
            "{what}: the canary directory changed"
        );
        assert_eq!(
            passwd_state(),
            self.passwd,
            "{what}: host /etc/passwd changed"
        );
        // Anywhere in the test directory but inside an unpacked layer (or a layer being
        // unpacked, in tmp/): no payload file.
        let layers = self.top.join("store/layers");
        let tmp = self.top.join("store/tmp");
        let mut stack = vec![self.top.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                assert!(
                    !entry.file_name().to_string_lossy().contains(&self.token),
                    "{what}: payload found outside the layers: {}",
                    path.display()
                );
                let is_layer =
                    path.parent() == Some(layers.as_path()) || path.parent() == Some(tmp.as_path());
                if entry.file_type().unwrap().is_dir() && !is_layer {
                    stack.push(path);
                }
            }
        }
    }
}

/// Runs one case through `via` as `user`, in a store that already holds an image.
fn attempt(user: User, case: &Case, via: Via) {
    let what = format!("{} via {via:?} as {user:?}", case.name);
    let cx = TestContext::new(user);
    let canaries = Canaries::new(&cx);
    // Something in the store to keep (not busybox: a case may reuse its layer).
    let base = TarBuilder::new().file("base", 0o644, b"base\n").finish();
    let base = cx.write_file("base.tar", &base);
    cx.ok(["import".as_ref(), base.as_os_str(), "base:latest".as_ref()]);
    let before = store_state(&cx);
    let layer = (case.layer)(&canaries);
    let run = match via {
        Via::Import => {
            let path = cx.write_file("crafted-layer.tar", &layer);
            cx.run([
                "import".as_ref(),
                path.as_os_str(),
                "crafted:latest".as_ref(),
            ])
        }
        Via::Load => {
            let layers = [layer];
            let archive = docker_archive(&[ArchiveImage {
                tags: &["crafted:latest"],
                layers: &layers,
                comment: case.name,
            }]);
            let path = cx.write_file("crafted-archive.tar", &archive);
            cx.run(["load".as_ref(), "-i".as_ref(), path.as_os_str()])
        }
    };
    canaries.assert_untouched(&what);
    let accepted = run.output.status.success();
    let (needles, check) = match &case.expect {
        Expect::Accept(check) => {
            assert!(accepted, "{what}: expected success:\n{}", run.describe());
            (&[][..], Some(check))
        }
        Expect::Refuse(needles) => (*needles, None),
        Expect::Either(needles, check) => (*needles, accepted.then_some(check)),
    };
    match check {
        Some(check) => {
            let lower = lower_dirs(&cx, "crafted:latest");
            assert_eq!(lower.len(), 1, "{what}");
            let diff = &lower[0];
            assert!(
                diff.starts_with(cx.root().join("layers")),
                "{what}: {}",
                diff.display()
            );
            check(&canaries, &cx, diff);
            let new_layers: Vec<String> = dir_names(&cx.root().join("layers"))
                .difference(&before.layers)
                .cloned()
                .collect();
            assert_eq!(new_layers.len(), 1, "{what}: one new layer: {new_layers:?}");
            cx.assert_store_clean();
            assert!(
                dir_names(&cx.root().join("tmp")).is_empty(),
                "{what}: debris in tmp/"
            );
        }
        None => {
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
            assert!(run.stdout().is_empty(), "{what}: {}", run.describe());
            assert_store_unchanged(&cx, &before, &what);
        }
    }
    canaries.assert_untouched(&what);
}

/// Runs a case through import and load.
fn check_case(user: User, case: &Case) {
    for via in [Via::Import, Via::Load] {
        attempt(user, case, via);
    }
}

/// Reads a file of a layer (as real root).
fn read(diff: &Path, path: &str) -> Vec<u8> {
    fs::read(diff.join(path)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The cases.

const DOTDOT: Case = Case {
    name: "`..` paths",
    layer: |c| {
        let t = &c.token;
        TarBuilder::new()
            .file("inside", 0o644, b"inside\n")
            // From the unpack directory (store/tmp/layer-X/diff or store/layers/C/diff), four
            // levels up is the test directory.
            .raw(
                &format!("../../../../canary/{t}"),
                tar::EntryType::Regular,
                "",
                b"canary\n",
            )
            .raw(
                &format!("../../../../../../../../../../../../{t}"),
                tar::EntryType::Regular,
                "",
                b"root\n",
            )
            .raw(
                &format!("./../{t}-up"),
                tar::EntryType::Regular,
                "",
                b"up\n",
            )
            .raw(
                &format!("a/../../b/../../{t}-dir/"),
                tar::EntryType::Directory,
                "",
                b"",
            )
            .finish()
    },
    expect: Expect::Accept(|c, _, diff| {
        let t = &c.token;
        assert_eq!(read(diff, "inside"), b"inside\n");
        assert_eq!(read(diff, &format!("canary/{t}")), b"canary\n");
        assert_eq!(read(diff, t), b"root\n");
        assert_eq!(read(diff, &format!("{t}-up")), b"up\n");
        assert!(diff.join(format!("{t}-dir")).is_dir());
    }),
};

const ABSOLUTE: Case = Case {
    name: "absolute paths",
    layer: |c| {
        let t = &c.token;
        TarBuilder::new()
            .raw(&format!("/{t}"), tar::EntryType::Regular, "", b"root\n")
            .raw(&format!("/tmp/{t}"), tar::EntryType::Regular, "", b"tmp\n")
            .raw(&format!("/etc/{t}"), tar::EntryType::Regular, "", b"etc\n")
            .raw(
                &format!("{}/canary/{t}", c.top.display()),
                tar::EntryType::Regular,
                "",
                b"canary\n",
            )
            .raw(&format!("//{t}-dir/"), tar::EntryType::Directory, "", b"")
            .finish()
    },
    expect: Expect::Accept(|c, _, diff| {
        let t = &c.token;
        assert_eq!(read(diff, t), b"root\n");
        assert_eq!(read(diff, &format!("tmp/{t}")), b"tmp\n");
        assert_eq!(read(diff, &format!("etc/{t}")), b"etc\n");
        assert_eq!(
            read(diff, &format!("{}/canary/{t}", c.top_relative())),
            b"canary\n"
        );
        assert!(diff.join(format!("{t}-dir")).is_dir());
    }),
};

const SYMLINK_TO_ROOT: Case = Case {
    name: "a symlink to / and files written through it",
    layer: |c| {
        let t = &c.token;
        TarBuilder::new()
            .symlink("rootlink", "/")
            .file(&format!("rootlink/{t}"), 0o644, b"root\n")
            .file(&format!("rootlink/etc/{t}"), 0o644, b"etc\n")
            .file(
                &format!("rootlink/{}/canary/{t}", c.top_relative()),
                0o644,
                b"canary\n",
            )
            .dir("deep", 0o755)
            .symlink("deep/root", "/")
            .file(&format!("deep/root/tmp/{t}"), 0o644, b"tmp\n")
            .finish()
    },
    expect: Expect::Accept(|c, _, diff| {
        let t = &c.token;
        let link = fs::symlink_metadata(diff.join("rootlink")).unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(
            fs::read_link(diff.join("rootlink")).unwrap(),
            Path::new("/"),
            "kept verbatim"
        );
        assert_eq!(read(diff, t), b"root\n");
        assert_eq!(read(diff, &format!("etc/{t}")), b"etc\n");
        assert_eq!(
            read(diff, &format!("{}/canary/{t}", c.top_relative())),
            b"canary\n"
        );
        assert_eq!(read(diff, &format!("tmp/{t}")), b"tmp\n");
    }),
};

const SYMLINK_UP: Case = Case {
    name: "a symlink to ../.. and files written through it",
    layer: |c| {
        let t = &c.token;
        TarBuilder::new()
            .symlink("up", "../..")
            .file(&format!("up/{t}"), 0o644, b"up\n")
            .symlink("up4", "../../../..")
            .file(&format!("up4/canary/{t}"), 0o644, b"canary\n")
            .dir("sub", 0o755)
            .symlink("sub/far", "../../../../../../../../..")
            .file(&format!("sub/far/etc/{t}"), 0o644, b"etc\n")
            .finish()
    },
    expect: Expect::Accept(|c, _, diff| {
        let t = &c.token;
        assert_eq!(fs::read_link(diff.join("up")).unwrap(), Path::new("../.."));
        assert_eq!(read(diff, t), b"up\n");
        assert_eq!(read(diff, &format!("canary/{t}")), b"canary\n");
        assert_eq!(read(diff, &format!("etc/{t}")), b"etc\n");
    }),
};

const SYMLINK_TO_OUTSIDE_DIR: Case = Case {
    name: "a symlink to an existing host directory and a file written through it",
    layer: |c| {
        let t = &c.token;
        TarBuilder::new()
            .symlink("canarylink", &c.canary.to_string_lossy())
            .file(&format!("canarylink/{t}"), 0o644, b"canary\n")
            .finish()
    },
    // The directory does not exist in the layer: creating it through the dangling link is
    // refused, or done inside the layer.
    expect: Expect::Either(&["canarylink"], |c, _, diff| {
        let inside = diff
            .join(c.canary.strip_prefix("/").unwrap())
            .join(&c.token);
        assert_eq!(fs::read(inside).unwrap(), b"canary\n");
    }),
};

const SYMLINK_REPLACED: Case = Case {
    name: "a symlink to a host file replaced by a regular file",
    layer: |c| {
        TarBuilder::new()
            .symlink("passwd", "/etc/passwd")
            .file("passwd", 0o644, b"pwned\n")
            .symlink("keep", &c.canary.join("keep").to_string_lossy())
            .file("keep", 0o644, b"pwned\n")
            .symlink("up-keep", "../../../../canary/keep")
            .dir("up-keep", 0o755)
            .finish()
    },
    expect: Expect::Accept(|_, _, diff| {
        for name in ["passwd", "keep"] {
            let meta = fs::symlink_metadata(diff.join(name)).unwrap();
            assert!(meta.file_type().is_file(), "{name} is a regular file now");
            assert_eq!(meta.nlink(), 1);
            assert_eq!(read(diff, name), b"pwned\n");
        }
        assert!(fs::symlink_metadata(diff.join("up-keep")).unwrap().is_dir());
    }),
};

const HARDLINK_ABSOLUTE: Case = Case {
    name: "a hardlink to /etc/passwd",
    layer: |_| {
        TarBuilder::new()
            .file("inside", 0o644, b"x")
            .hardlink("passwd", "/etc/passwd")
            .finish()
    },
    expect: Expect::Refuse(&["passwd", "/etc/passwd", "not in the layer"]),
};

const HARDLINK_DOTDOT: Case = Case {
    name: "a hardlink to ../../../../etc/passwd",
    layer: |_| {
        TarBuilder::new()
            .file("inside", 0o644, b"x")
            .raw(
                "passwd",
                tar::EntryType::Link,
                "../../../../../../../../etc/passwd",
                b"",
            )
            .finish()
    },
    expect: Expect::Refuse(&[
        "passwd",
        "../../../../../../../../etc/passwd",
        "not in the layer",
    ]),
};

const HARDLINK_THROUGH_SYMLINK: Case = Case {
    name: "a hardlink through a symlink to /",
    layer: |c| {
        TarBuilder::new()
            .symlink("rootlink", "/")
            .hardlink("passwd", "rootlink/etc/passwd")
            .hardlink(
                "keep",
                &format!("rootlink/{}/canary/keep", c.top_relative()),
            )
            .finish()
    },
    expect: Expect::Refuse(&["passwd", "rootlink/etc/passwd", "not in the layer"]),
};

const HARDLINK_CONFINED: Case = Case {
    name: "hardlinks to /etc/passwd when the layer has its own",
    layer: |_| {
        TarBuilder::new()
            .dir("etc", 0o755)
            .file("etc/passwd", 0o644, b"layer passwd\n")
            .hardlink("abs", "/etc/passwd")
            .raw(
                "dotdot",
                tar::EntryType::Link,
                "../../../../etc/passwd",
                b"",
            )
            .symlink("rootlink", "/")
            .hardlink("through", "rootlink/etc/passwd")
            .finish()
    },
    expect: Expect::Accept(|_, _, diff| {
        let own = fs::symlink_metadata(diff.join("etc/passwd")).unwrap();
        assert_eq!(own.nlink(), 4, "etc/passwd and its three links");
        for name in ["abs", "dotdot", "through"] {
            let meta = fs::symlink_metadata(diff.join(name)).unwrap();
            assert_eq!((meta.dev(), meta.ino()), (own.dev(), own.ino()), "{name}");
            assert_eq!(read(diff, name), b"layer passwd\n");
        }
    }),
};

const TRUNCATED: Case = Case {
    name: "a truncated layer",
    layer: |c| {
        let t = &c.token;
        let whole = TarBuilder::new()
            .file(&format!("first-{t}"), 0o644, b"written before the cut\n")
            .file("big", 0o644, &vec![7u8; 64 * 1024])
            .finish();
        // Cut in the middle of big's data.
        whole[..whole.len() / 2].to_vec()
    },
    expect: Expect::Refuse(&["big"]),
};

const DEVICES: Case = Case {
    name: "device nodes",
    layer: |_| {
        let devices = TarBuilder::new()
            .dir("dev", 0o755)
            .char_device("dev/null", 1, 3)
            .finish();
        // TarBuilder has no block devices: append one (and the rest) with the tar crate.
        let mut builder = tar::Builder::new(Vec::new());
        let mut archive = tar::Archive::new(&devices[..]);
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header().clone();
            builder.append(&header, std::io::empty()).unwrap();
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Block);
        header.set_mode(0o660);
        header.set_size(0);
        header.set_mtime(1_700_000_000);
        header.set_device_major(7).unwrap();
        header.set_device_minor(0).unwrap();
        builder
            .append_data(&mut header, "dev/loop-ish", std::io::empty())
            .unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Link);
        header.set_mode(0o644);
        header.set_size(0);
        builder
            .append_link(&mut header, "dev/null-again", "dev/null")
            .unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(5);
        builder
            .append_data(&mut header, "dev/regular", &b"kept\n"[..])
            .unwrap();
        builder.into_inner().unwrap()
    },
    expect: Expect::Accept(|_, cx, diff| {
        assert_eq!(read(diff, "dev/regular"), b"kept\n");
        let null = fs::symlink_metadata(diff.join("dev/null"));
        if cx.user == User::Root {
            // Real root may create devices.
            let null = null.unwrap();
            assert!(null.file_type().is_char_device());
            assert_eq!(
                (
                    rustix::fs::major(null.rdev()),
                    rustix::fs::minor(null.rdev())
                ),
                (1, 3)
            );
            let block = fs::symlink_metadata(diff.join("dev/loop-ish")).unwrap();
            assert!(block.file_type().is_block_device());
            assert_eq!(
                (
                    rustix::fs::major(block.rdev()),
                    rustix::fs::minor(block.rdev())
                ),
                (7, 0)
            );
            let again = fs::symlink_metadata(diff.join("dev/null-again")).unwrap();
            assert_eq!(
                (again.dev(), again.ino()),
                (null.dev(), null.ino()),
                "a hardlink to the device"
            );
        } else {
            // Rootless: skipped, never a device (and never a regular file posing as one).
            for name in ["dev/null", "dev/loop-ish", "dev/null-again"] {
                assert!(
                    !fixtures::exists_nofollow(&diff.join(name)),
                    "{name} exists rootless"
                );
            }
            assert!(null.is_err());
        }
    }),
};

/// A tar header with fixed metadata.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(1_700_000_000);
    header
}

const PAX_RECORDS: Case = Case {
    name: "PAX paths and overlay xattrs",
    layer: |c| {
        let t = &c.token;
        let mut b = tar::Builder::new(Vec::new());
        // A PAX path climbing out of the root.
        let path = format!("../../../../canary/{t}-pax");
        b.append_pax_extensions([("path", path.as_bytes())])
            .unwrap();
        b.append_data(
            &mut header(tar::EntryType::Regular, 0o644, 4),
            "short",
            &b"pax\n"[..],
        )
        .unwrap();
        // A PAX linkpath to / for a symlink, then a file through it.
        b.append_pax_extensions([("linkpath", &b"/"[..])]).unwrap();
        b.append_link(
            &mut header(tar::EntryType::Symlink, 0o777, 0),
            "paxroot",
            "placeholder",
        )
        .unwrap();
        b.append_data(
            &mut header(tar::EntryType::Regular, 0o644, 4),
            format!("paxroot/etc/{t}"),
            &b"etc\n"[..],
        )
        .unwrap();
        // Xattrs overlayfs would obey: never set from a layer. A plain user xattr is kept.
        b.append_pax_extensions([
            ("SCHILY.xattr.user.overlay.opaque", &b"y"[..]),
            ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
            ("SCHILY.xattr.user.overlay.redirect", &b"/etc"[..]),
        ])
        .unwrap();
        b.append_data(
            &mut header(tar::EntryType::Directory, 0o755, 0),
            "fake-opaque/",
            std::io::empty(),
        )
        .unwrap();
        b.append_pax_extensions([
            ("SCHILY.xattr.user.overlay.metacopy", &b""[..]),
            ("SCHILY.xattr.user.berth", &b"kept"[..]),
        ])
        .unwrap();
        b.append_data(
            &mut header(tar::EntryType::Regular, 0o644, 2),
            "fake-metacopy",
            &b"m\n"[..],
        )
        .unwrap();
        b.into_inner().unwrap()
    },
    expect: Expect::Accept(|c, cx, diff| {
        let t = &c.token;
        assert_eq!(read(diff, &format!("canary/{t}-pax")), b"pax\n");
        assert!(
            !fixtures::exists_nofollow(&diff.join("short")),
            "the PAX path wins"
        );
        assert_eq!(fs::read_link(diff.join("paxroot")).unwrap(), Path::new("/"));
        assert_eq!(read(diff, &format!("etc/{t}")), b"etc\n");
        let dir = diff.join("fake-opaque");
        assert!(dir.is_dir());
        for name in [
            "user.overlay.opaque",
            "trusted.overlay.opaque",
            "user.overlay.redirect",
        ] {
            assert_eq!(xattr(&dir, name), None, "{name} was set from the layer");
        }
        let file = diff.join("fake-metacopy");
        assert_eq!(xattr(&file, "user.overlay.metacopy"), None);
        assert_eq!(read(diff, "fake-metacopy"), b"m\n");
        assert_eq!(
            xattr(&file, "user.berth").as_deref(),
            Some(&b"kept"[..]),
            "as {:?}",
            cx.user
        );
    }),
};

const BAD_WHITEOUT: Case = Case {
    name: "a whiteout naming `.`",
    layer: |_| {
        TarBuilder::new()
            .dir("a", 0o755)
            .file("a/.wh..", 0o644, b"")
            .finish()
    },
    expect: Expect::Refuse(&["a/.wh..", "whiteout names no file"]),
};

const ALL: [&Case; 15] = [
    &PAX_RECORDS,
    &BAD_WHITEOUT,
    &DOTDOT,
    &ABSOLUTE,
    &SYMLINK_TO_ROOT,
    &SYMLINK_UP,
    &SYMLINK_TO_OUTSIDE_DIR,
    &SYMLINK_REPLACED,
    &HARDLINK_ABSOLUTE,
    &HARDLINK_DOTDOT,
    &HARDLINK_THROUGH_SYMLINK,
    &HARDLINK_CONFINED,
    &TRUNCATED,
    &DEVICES,
    &OWNERS,
];

// ---------------------------------------------------------------------------------------------
// One test per case as the user with subordinate IDs, then every case as the others.

#[test]
fn dotdot_paths_are_confined() {
    crate::require_users!();
    check_case(User::Sub, &DOTDOT);
}

#[test]
fn absolute_paths_are_confined() {
    crate::require_users!();
    check_case(User::Sub, &ABSOLUTE);
}

#[test]
fn symlink_to_root_is_followed_only_inside_the_layer() {
    crate::require_users!();
    check_case(User::Sub, &SYMLINK_TO_ROOT);
}

#[test]
fn symlink_upwards_is_followed_only_inside_the_layer() {
    crate::require_users!();
    check_case(User::Sub, &SYMLINK_UP);
}

#[test]
fn symlink_to_a_host_directory_is_not_followed() {
    crate::require_users!();
    check_case(User::Sub, &SYMLINK_TO_OUTSIDE_DIR);
}

#[test]
fn symlinks_are_replaced_not_written_through() {
    crate::require_users!();
    check_case(User::Sub, &SYMLINK_REPLACED);
}

#[test]
fn hardlink_to_host_file_is_refused() {
    crate::require_users!();
    check_case(User::Sub, &HARDLINK_ABSOLUTE);
    check_case(User::Sub, &HARDLINK_DOTDOT);
    check_case(User::Sub, &HARDLINK_THROUGH_SYMLINK);
}

#[test]
fn hardlink_to_absolute_path_resolves_inside_the_layer() {
    crate::require_users!();
    check_case(User::Sub, &HARDLINK_CONFINED);
}

#[test]
fn truncated_layer_is_refused() {
    crate::require_users!();
    check_case(User::Sub, &TRUNCATED);
}

#[test]
fn pax_paths_are_confined_and_overlay_xattrs_dropped() {
    crate::require_users!();
    check_case(User::Sub, &PAX_RECORDS);
}

#[test]
fn whiteout_of_dot_is_refused() {
    crate::require_users!();
    check_case(User::Sub, &BAD_WHITEOUT);
}

#[test]
fn device_nodes_are_skipped_rootless() {
    crate::require_users!();
    check_case(User::Sub, &DEVICES);
}

#[test]
fn every_case_as_the_user_without_subordinate_ids() {
    crate::require_users!();
    for case in ALL {
        check_case(User::NoSub, case);
    }
}

#[test]
fn every_case_as_root() {
    crate::require_users!();
    for case in ALL {
        check_case(User::Root, case);
    }
}

/// DESIGN.md §3: "Device nodes are skipped rootless, with a note."
#[test]
fn skipped_device_nodes_are_reported() {
    crate::require_users!();
    let layer = TarBuilder::new()
        .dir("dev", 0o755)
        .char_device("dev/null", 1, 3)
        .finish();
    let cx = TestContext::new(User::Sub);
    let path = cx.write_file("devices.tar", &layer);
    let run = cx
        .run([
            "import".as_ref(),
            path.as_os_str(),
            "devices:latest".as_ref(),
        ])
        .success();
    assert!(
        run.stderr().contains("dev/null"),
        "a rootless import that skips a device node says so (naming it):\n{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Owners through the user namespace.

/// The owner of a layer file as seen inside berth's namespace.
fn owner_in_namespace(cx: &TestContext, path: &Path) -> String {
    cx.ok([
        "unshare".as_ref(),
        "stat".as_ref(),
        "-c".as_ref(),
        "%u:%g".as_ref(),
        path.as_os_str(),
    ])
    .trim()
    .to_owned()
}

const OWNERS: Case = Case {
    name: "files owned by uid 1000",
    layer: |_| fixtures::busybox_rootfs_tar(),
    expect: Expect::Accept(|_, cx, diff| {
        let owned = diff.join("home/user/owned");
        let busybox = diff.join("bin/busybox");
        match cx.user {
            User::Sub => {
                assert_eq!(owner_in_namespace(cx, &owned), "1000:1000");
                assert_eq!(owner_in_namespace(cx, &busybox), "0:0");
            }
            User::NoSub => {
                assert_eq!(
                    owner_in_namespace(cx, &owned),
                    "0:0",
                    "single-ID mapping: everything is root's"
                );
                assert_eq!(owner_in_namespace(cx, &busybox), "0:0");
            }
            User::Root => {
                let meta = fs::symlink_metadata(&owned).unwrap();
                assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
            }
        }
        let meta = fs::symlink_metadata(&owned).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600, "modes are kept");
        assert_eq!(read(diff, "home/user/owned"), b"mine\n");
    }),
};

#[test]
fn owners_are_kept_through_the_subordinate_mapping() {
    crate::require_users!();
    check_case(User::Sub, &OWNERS);
}

// ---------------------------------------------------------------------------------------------
// Whiteouts and opaque directories across layers.

/// The value of an xattr of a path (not following symlinks), if set.
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
        Ok(n) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("getxattr {name} on {}: {e}", path.display()),
    }
}

/// Asserts `path` is an overlay whiteout: a character device 0:0, owned by root of the
/// namespace.
fn assert_whiteout(cx: &TestContext, path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        meta.file_type().is_char_device(),
        "{} is not a character device",
        path.display()
    );
    assert_eq!(meta.rdev(), 0, "{} is not device 0:0", path.display());
    if cx.user == User::Root {
        assert_eq!((meta.uid(), meta.gid()), (0, 0));
    } else {
        assert_eq!(owner_in_namespace(cx, path), "0:0", "{}", path.display());
    }
}

fn whiteout_layers() -> [Vec<u8>; 3] {
    let lower = TarBuilder::new()
        .dir("a", 0o755)
        .file("a/x", 0o644, b"x\n")
        .file("a/y", 0o644, b"y\n")
        .dir("b", 0o755)
        .file("b/z", 0o644, b"z\n")
        .file("keep", 0o644, b"keep\n")
        .finish();
    let middle = TarBuilder::new()
        .dir("a", 0o755)
        .file("a/.wh.x", 0o644, b"")
        .dir("b", 0o755)
        .file("b/.wh..wh..opq", 0o644, b"")
        .file("b/new", 0o644, b"new\n")
        .finish();
    let upper = TarBuilder::new()
        .file("a/.wh.y", 0o644, b"")
        .file(".wh.keep", 0o644, b"")
        .file("c/.wh..wh..opq", 0o644, b"")
        .file("c/file", 0o644, b"c\n")
        .finish();
    [lower, middle, upper]
}

fn check_whiteouts(user: User) {
    let cx = TestContext::new(user);
    let canaries = Canaries::new(&cx);
    let layers = whiteout_layers();
    let archive = docker_archive(&[ArchiveImage {
        tags: &["wh:latest"],
        layers: &layers,
        comment: "whiteouts",
    }]);
    let path = cx.write_file("whiteouts.tar", &archive);
    let out = cx.ok(["load".as_ref(), "-i".as_ref(), path.as_os_str()]);
    assert_eq!(out, "Loaded image: wh:latest\n");
    let lower = lower_dirs(&cx, "wh:latest");
    assert_eq!(lower.len(), 3);
    let (upper, middle, bottom) = (&lower[0], &lower[1], &lower[2]);

    // The bottom layer is untouched by the whiteouts above it.
    for (file, content) in [
        ("a/x", "x\n"),
        ("a/y", "y\n"),
        ("b/z", "z\n"),
        ("keep", "keep\n"),
    ] {
        assert_eq!(read(bottom, file), content.as_bytes(), "{file}");
    }
    assert_eq!(xattr(&bottom.join("b"), "user.overlay.opaque"), None);

    // Middle: a/x is a whiteout, b is opaque, no .wh. file is left.
    assert_whiteout(&cx, &middle.join("a/x"));
    assert!(!fixtures::exists_nofollow(&middle.join("a/y")));
    assert_eq!(
        xattr(&middle.join("b"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(read(middle, "b/new"), b"new\n");
    assert!(!fixtures::exists_nofollow(&middle.join("b/z")));
    assert_eq!(xattr(&middle.join("a"), "user.overlay.opaque"), None);

    // Upper: whiteouts for a/y and keep, c opaque (created implicitly).
    assert_whiteout(&cx, &upper.join("a/y"));
    assert_whiteout(&cx, &upper.join("keep"));
    assert_eq!(
        xattr(&upper.join("c"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(read(upper, "c/file"), b"c\n");

    for dir in &lower {
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let entry = entry.unwrap();
                assert!(
                    !entry.file_name().to_string_lossy().starts_with(".wh."),
                    "{}",
                    entry.path().display()
                );
                if entry.file_type().unwrap().is_dir() {
                    stack.push(entry.path());
                }
            }
        }
    }
    cx.assert_store_clean();

    // The middle layer alone, imported: the same overlay form.
    let path = cx.write_file("middle.tar", &layers[1]);
    let id = cx
        .ok(["import".as_ref(), path.as_os_str()])
        .trim()
        .to_owned();
    let imported = &lower_dirs(&cx, &id)[0];
    assert_ne!(imported, middle, "on top of nothing, another chain");
    assert_whiteout(&cx, &imported.join("a/x"));
    assert_eq!(
        xattr(&imported.join("b"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(read(imported, "b/new"), b"new\n");
    cx.assert_store_clean();
    canaries.assert_untouched(&format!("whiteouts as {user:?}"));
}

#[test]
fn whiteouts_and_opaque_directories_become_overlay_form() {
    crate::require_users!();
    check_whiteouts(User::Sub);
}

#[test]
fn whiteouts_as_the_user_without_subordinate_ids_and_as_root() {
    crate::require_users!();
    check_whiteouts(User::NoSub);
    check_whiteouts(User::Root);
}

/// A whiteout or opaque marker cannot reach outside the layer either.
#[test]
fn whiteouts_do_not_escape() {
    crate::require_users!();
    let cx = TestContext::new(User::Sub);
    let canaries = Canaries::new(&cx);
    let layer = TarBuilder::new()
        .raw(
            "../../../../canary/.wh.keep",
            tar::EntryType::Regular,
            "",
            b"",
        )
        .raw("/etc/.wh.passwd", tar::EntryType::Regular, "", b"")
        .symlink("rootlink", "/")
        .file("rootlink/etc/.wh..wh..opq", 0o644, b"")
        .raw(
            "../../../../canary/.wh..wh..opq",
            tar::EntryType::Regular,
            "",
            b"",
        )
        .finish();
    let path = cx.write_file("whiteouts.tar", &layer);
    let id = cx
        .ok(["import".as_ref(), path.as_os_str()])
        .trim()
        .to_owned();
    canaries.assert_untouched("escaping whiteouts");
    assert_eq!(xattr(&canaries.canary, "user.overlay.opaque"), None);
    assert_eq!(xattr(Path::new("/etc"), "user.overlay.opaque"), None);
    let diff = &lower_dirs(&cx, &id)[0];
    assert_whiteout(&cx, &diff.join("canary/keep"));
    assert_whiteout(&cx, &diff.join("etc/passwd"));
    assert_eq!(
        xattr(&diff.join("etc"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        xattr(&diff.join("canary"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    cx.assert_store_clean();
}

/// The harness itself: an escaped payload is noticed (so a passing case means something).
#[test]
fn canaries_notice_an_escape() {
    let cx = TestContext::new(User::Root);
    let canaries = Canaries::new(&cx);
    canaries.assert_untouched("nothing written yet");
    let escapes = [
        canaries.canary.join(&canaries.token),
        cx.work().join(&canaries.token),
        canaries.top.join(format!("store/tmp/{}", canaries.token)),
    ];
    for escaped in escapes {
        fs::create_dir_all(escaped.parent().unwrap()).unwrap();
        fs::write(&escaped, b"escaped\n").unwrap();
        let noticed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            canaries.assert_untouched("self-test");
        }));
        assert!(noticed.is_err(), "{} was not noticed", escaped.display());
        fs::remove_file(&escaped).unwrap();
    }
    // A changed canary file is noticed too.
    fs::write(canaries.canary.join("keep"), b"changed!\n").unwrap();
    let noticed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        canaries.assert_untouched("self-test")
    }));
    assert!(noticed.is_err(), "a changed canary file was not noticed");
}
