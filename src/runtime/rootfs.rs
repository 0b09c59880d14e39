//! The container's root filesystem: an overlay of the image's layers (read-only lower dirs,
//! top first) and the container's own upper dir. Native overlayfs in our user namespace,
//! fuse-overlayfs where the kernel refuses it.

use std::path::{Path, PathBuf};

use fs_err as fs;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::RuntimeError;
use crate::storage::Store;
use crate::storage::containers::ContainerRecord;
use crate::storage::driver;
use crate::util::process::FUSE_OVERLAYFS;

/// The directories of one container's root filesystem.
#[derive(Debug, Clone)]
pub struct RootfsPaths {
    /// The merged view: the container's `/`.
    pub merged: PathBuf,
    /// Writable layer.
    pub upper: PathBuf,
    /// overlayfs work dir.
    pub work: PathBuf,
    /// Read-only layers, top first.
    pub lower: Vec<PathBuf>,
}

/// The paths for `record` (nothing is created).
pub fn paths(store: &Store, record: &ContainerRecord) -> RootfsPaths {
    let dir = store.container_dir(&record.id);
    let mut lower: Vec<PathBuf> = record
        .layers
        .iter()
        .rev()
        .map(|chain| store.paths().layer_diff(chain))
        .collect();
    if lower.is_empty() {
        lower.push(dir.join("empty"));
    }
    RootfsPaths {
        merged: dir.join("merged"),
        upper: dir.join("upper"),
        work: dir.join("work"),
        lower,
    }
}

/// Mounts the overlay (in the caller's mount namespace). Returns whether fuse-overlayfs was
/// used.
///
/// `volatile` is for a writable layer that outlives no run (`run --rm`, a build's RUN):
/// overlayfs then skips every sync of the upper dir, the container's fsyncs included, and
/// unmounting no longer syncs the whole file system that holds the store (milliseconds at the
/// end of every run).
pub fn mount_rootfs(paths: &RootfsPaths, volatile: bool) -> Result<bool, RuntimeError> {
    for dir in [&paths.merged, &paths.upper, &paths.work]
        .into_iter()
        .chain(paths.lower.iter().filter(|p| p.ends_with("empty")))
    {
        fs::create_dir_all(dir).map_err(|e| RuntimeError::io("failed to create", dir, e))?;
    }
    for layer in &paths.lower {
        if !layer.is_dir() {
            return Err(RuntimeError::Invalid(format!(
                "layer `{}` is missing: run `berth system check`",
                layer.display()
            )));
        }
    }
    let lower: Vec<&Path> = paths.lower.iter().map(PathBuf::as_path).collect();
    let options = driver::overlay_options(&lower, &paths.upper, &paths.work);
    let native_options = if volatile {
        format!("{options},volatile")
    } else {
        options.clone()
    };
    let native = mount(
        Some("overlay"),
        &paths.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(native_options.as_str()),
    );
    match native {
        Ok(()) => Ok(false),
        Err(errno) => {
            tracing::debug!(%errno, "native overlay refused; trying fuse-overlayfs");
            let fuse_options = options.trim_end_matches(",userxattr").to_owned();
            FUSE_OVERLAYFS
                .run([
                    "-o".as_ref(),
                    fuse_options.as_ref(),
                    paths.merged.as_os_str(),
                ])
                .map_err(|error| {
                    RuntimeError::Rootfs(format!("native overlay failed ({errno}) and {error}"))
                })?;
            Ok(true)
        }
    }
}

/// Unmounts the overlay; a rootfs that is not mounted is not an error.
pub fn unmount_rootfs(paths: &RootfsPaths) {
    if let Err(errno) = umount2(&paths.merged, MntFlags::MNT_DETACH) {
        if errno != nix::errno::Errno::EINVAL && errno != nix::errno::Errno::ENOENT {
            tracing::debug!(%errno, path = %paths.merged.display(), "unmount failed");
        }
        return;
    }
    // A volatile mount leaves `work/incompat/volatile`, and overlayfs refuses to mount that
    // work dir again: after a crash its upper dir may be incomplete. This unmount was clean.
    let _ = fs::remove_dir_all(paths.work.join("work").join("incompat"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A volatile layer mounts again natively once cleanly unmounted (overlayfs would refuse
    /// it, and berth would fall back to fuse-overlayfs). Needs root for the mounts, made in a
    /// mount namespace of this test's thread only.
    #[test]
    fn a_volatile_layer_mounts_again_after_a_clean_unmount() {
        if !nix::unistd::geteuid().is_root()
            || nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_err()
        {
            return; // needs root: covered when the suite runs as root, as CI does
        }
        let _ = mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        );
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let paths = RootfsPaths {
            merged: dir.join("merged"),
            upper: dir.join("upper"),
            work: dir.join("work"),
            lower: vec![dir.join("empty")],
        };
        let fuse = mount_rootfs(&paths, true).expect("volatile mount");
        assert!(!fuse, "native overlay expected");
        fs::write(paths.merged.join("f"), b"x").unwrap();
        unmount_rootfs(&paths);
        let fuse = mount_rootfs(&paths, false).expect("second mount");
        unmount_rootfs(&paths);
        assert!(!fuse, "the second mount fell back to fuse-overlayfs");
    }
}
