//! Which overlay the store can use here, found by trying: native overlayfs in our user
//! namespace (Linux ≥ 5.11 with `userxattr`), else fuse-overlayfs.

use std::path::Path;

use fs_err as fs;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::util;

/// The overlay implementation in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// Kernel overlayfs.
    Overlay,
    /// fuse-overlayfs (fallback).
    FuseOverlayfs,
    /// Neither works.
    None,
}

impl Driver {
    /// Its name, as `system info` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::FuseOverlayfs => "fuse-overlayfs",
            Driver::None => "none",
        }
    }
}

/// Mount options for an overlay of `lower` (top first) with `upper` and `work`.
pub fn overlay_options(lower: &[&Path], upper: &Path, work: &Path) -> String {
    let lower: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
    format!(
        "lowerdir={},upperdir={},workdir={},userxattr",
        lower.join(":"),
        upper.display(),
        work.display()
    )
}

/// Tries a native overlay mount in a scratch directory under `dir`. Must run inside berth's
/// mount namespace (the mount never reaches the host).
pub fn probe(dir: &Path) -> Driver {
    let scratch = dir.join(format!(".overlay-probe-{}", util::ids::random_hex(6)));
    let native = (|| -> std::io::Result<bool> {
        for sub in ["lower", "upper", "work", "merged"] {
            fs::create_dir_all(scratch.join(sub))?;
        }
        let options = overlay_options(
            &[&scratch.join("lower")],
            &scratch.join("upper"),
            &scratch.join("work"),
        );
        let merged = scratch.join("merged");
        let mounted = mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        );
        if mounted.is_ok() {
            let _ = umount2(&merged, MntFlags::MNT_DETACH);
        }
        Ok(mounted.is_ok())
    })()
    .unwrap_or(false);
    let _ = util::fs::remove_all(&scratch);
    if native {
        Driver::Overlay
    } else if util::process::FUSE_OVERLAYFS.find().is_some() && fuse_device_usable() {
        Driver::FuseOverlayfs
    } else {
        Driver::None
    }
}

/// Whether /dev/fuse can be opened read-write by us.
pub fn fuse_device_usable() -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok()
}
