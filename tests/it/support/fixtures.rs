//! Fixture images, built from this machine's files (Debian's `busybox-static`), never
//! downloaded.

use std::path::Path;

/// Where Debian's busybox-static puts the binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// A tar builder with deterministic headers.
pub struct TarBuilder {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TarBuilder {
    /// An empty archive.
    pub fn new() -> Self {
        Self {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header
    }

    /// A directory.
    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut header = Self::header(tar::EntryType::Directory, mode, 0);
        self.builder
            .append_data(&mut header, path, std::io::empty())
            .unwrap();
        self
    }

    /// A regular file.
    pub fn file(self, path: &str, mode: u32, data: &[u8]) -> Self {
        self.file_owned(path, mode, 0, 0, data)
    }

    /// A regular file with an owner.
    pub fn file_owned(mut self, path: &str, mode: u32, uid: u64, gid: u64, data: &[u8]) -> Self {
        let mut header = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        header.set_uid(uid);
        header.set_gid(gid);
        self.builder.append_data(&mut header, path, data).unwrap();
        self
    }

    /// A symlink.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    /// A hardlink.
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(tar::EntryType::Link, 0o644, 0);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    /// An entry whose name is written raw (for `../` and absolute paths, which the tar crate
    /// refuses to write through its safe API).
    pub fn raw(mut self, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> Self {
        let mut header = Self::header(kind, 0o644, data.len() as u64);
        {
            let old = header.as_old_mut();
            old.name = [0; 100];
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname = [0; 100];
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    /// A character device.
    pub fn char_device(mut self, path: &str, major: u32, minor: u32) -> Self {
        let mut header = Self::header(tar::EntryType::Char, 0o666, 0);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        self.builder
            .append_data(&mut header, path, std::io::empty())
            .unwrap();
        self
    }

    /// The archive bytes.
    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

/// A minimal root filesystem: /bin/busybox with applet links, /etc/passwd and /etc/group
/// (root and a user 1000), /tmp, and a file owned by uid 1000.
pub fn busybox_rootfs_tar() -> Vec<u8> {
    let busybox = fs_err::read(BUSYBOX)
        .expect("busybox-static is installed (apt-get install busybox-static)");
    let mut tar = TarBuilder::new()
        .dir("bin", 0o755)
        .file("bin/busybox", 0o755, &busybox)
        .dir("etc", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nuser:x:1000:\n")
        .dir("home", 0o755)
        .dir("home/user", 0o755)
        .file_owned("home/user/owned", 0o600, 1000, 1000, b"mine\n")
        .dir("tmp", 0o1777)
        .dir("root", 0o700);
    for applet in [
        "sh", "ls", "cat", "echo", "id", "true", "false", "sleep", "stat", "env",
    ] {
        tar = tar.symlink(&format!("bin/{applet}"), "busybox");
    }
    tar.finish()
}

/// Whether `path` exists without following a final symlink.
pub fn exists_nofollow(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok()
}
