//! File-system helpers that the store's crash-safety rests on.
//!
//! Leaf module: uses nothing else of the crate.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fs_err as fs;

/// A unique temporary name next to `path` (same directory, so a rename is atomic).
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", super::ids::random_hex(8)))
}

/// Writes `data` to `path` so that readers see either the old or the new content, never a
/// mix: temp file, fsync, rename, fsync of the directory.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    write_via_temp(path, data, true)
}

/// [`atomic_write`] without the fsyncs: readers, and a writer killed midway, still see the
/// old or the new content, but after a power cut either may be there (or, on a file system
/// that does not order a rename after the data, an empty file). For state that does not
/// outlive a crash anyway.
pub fn atomic_write_unsynced(path: &Path, data: &[u8]) -> io::Result<()> {
    write_via_temp(path, data, false)
}

fn write_via_temp(path: &Path, data: &[u8], durable: bool) -> io::Result<()> {
    let temp = temp_sibling(path);
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(data)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(&temp, path)?;
        if durable {
            sync_parent(path)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// fsyncs the directory holding `path`, so a rename into it survives a crash.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => fs::File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

/// Removes a file or directory tree; a missing path is not an error.
pub fn remove_all(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            make_tree_writable(path);
            match fs::remove_dir_all(path) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
        Ok(_) => match fs::remove_file(path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Layers may hold read-only directories (mode 0555, or 0000): without CAP_DAC_OVERRIDE over
/// them (the single-ID fallback) their entries cannot be unlinked, so open them up first.
fn make_tree_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    if meta.permissions().mode() & 0o700 != 0o700 {
        let _ = fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
    }
    if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_tree_writable(&entry.path());
            }
        }
    }
}

/// Total size in bytes of the regular files below `path` (hard links counted once per entry).
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| tree_size(&entry.path()))
        .sum()
}

/// Copies the tree at `source` into the existing directory `target`, keeping modes, owners and
/// symlinks (for filling a new volume with the image's content).
pub fn copy_tree(source: &Path, target: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let from = entry.path();
        let to = target.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if kind.is_file() {
            fs::copy(&from, &to)?;
        } else {
            continue;
        }
        let _ = std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()));
        if !kind.is_symlink() {
            fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    let meta = fs::metadata(source)?;
    let _ = std::os::unix::fs::lchown(target, Some(meta.uid()), Some(meta.gid()));
    fs::set_permissions(
        target,
        std::fs::Permissions::from_mode(meta.mode() & 0o7777),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces() {
        for write in [atomic_write, atomic_write_unsynced] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("index.json");
            write(&path, b"one").unwrap();
            write(&path, b"two").unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"two");
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn a_failed_write_leaves_the_old_content_and_no_temp_file() {
        for write in [atomic_write, atomic_write_unsynced] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("record.json");
            write(&path, b"old").unwrap();
            // Renaming a file over a directory fails after the temp file was written.
            let blocked = dir.path().join("blocked");
            fs::create_dir(&blocked).unwrap();
            fs::write(blocked.join("inside"), b"x").unwrap();
            assert!(write(&blocked, b"new").is_err());
            assert_eq!(fs::read(&path).unwrap(), b"old");
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        }
    }

    #[test]
    fn remove_all_handles_readonly_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("t");
        fs::create_dir_all(tree.join("a/b")).unwrap();
        fs::write(tree.join("a/b/f"), b"x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tree.join("a"), std::fs::Permissions::from_mode(0o555)).unwrap();
        remove_all(&tree).unwrap();
        assert!(!tree.exists());
        remove_all(&tree).unwrap();
    }
}
