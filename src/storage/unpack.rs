//! Unpacking of one OCI/Docker image layer into an overlayfs lower directory.
//!
//! This module is the security boundary between untrusted layer tarballs and the host
//! filesystem: whatever an archive contains (absolute paths, `..` components, symlinks to `/`
//! followed by entries "through" them, hardlinks to host files, device nodes), nothing is ever
//! created, modified, chowned or chmodded outside the destination directory.
//!
//! How it is enforced:
//! - entry paths are normalised lexically as in a chroot (`..` at the root stays at the root);
//! - the parent directory of every entry is opened with `openat2(2)` and
//!   `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` relative to a directory fd of the destination, so
//!   symlinks created by the layer are followed but can never leave it;
//! - the final component is only ever touched with `*at` calls that do not follow symlinks
//!   (`O_NOFOLLOW`, `O_EXCL`, `AT_SYMLINK_NOFOLLOW`, `linkat` without `AT_SYMLINK_FOLLOW`).
//!
//! OCI whiteouts are converted to the overlayfs form used with the `userxattr` mount option
//! (`0:0` character devices and the `user.overlay.opaque` xattr).
//!
//! The `tar` crate is used only as a parser. This module uses nothing else of the crate, only
//! the external crates `tar`, `rustix`, `nix`, `thiserror`, `tracing` and `fs-err` (tests:
//! `tempfile`).

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{
    self as rfs, AtFlags, Dir, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps,
    Uid, XattrFlags,
};
use rustix::io::Errno;

/// Prefix of an OCI whiteout entry name (`.wh.NAME` deletes `NAME` of lower layers).
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Prefix of AUFS metadata entries, which are not files of the image and are skipped.
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
/// Name of the OCI opaque-directory marker.
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
/// Xattr marking a directory opaque for overlayfs mounted with `userxattr`.
const OPAQUE_XATTR: &str = "user.overlay.opaque";
/// Xattr namespaces that overlayfs interprets; layers may not set them directly.
const OVERLAY_XATTR_PREFIXES: [&[u8]; 2] = [b"user.overlay.", b"trusted.overlay."];
/// PAX record prefix carrying extended attributes.
const PAX_XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";
/// Size of the buffer used to copy file contents.
const COPY_BUFFER_SIZE: usize = 128 * 1024;
/// How often an `openat2` failing with `EAGAIN` (a concurrent rename somewhere) is retried.
const OPENAT2_RETRIES: u32 = 64;
/// Deepest directory tree that is removed when a directory is replaced by a non-directory.
const MAX_REMOVE_DEPTH: usize = 4096;

/// Options for [`unpack_layer`].
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// Create character and block device nodes. Set this only when running as real root outside
    /// a user namespace; otherwise device entries are skipped and listed in
    /// [`UnpackStats::skipped_devices`].
    pub allow_devices: bool,
}

/// What [`unpack_layer`] did.
#[derive(Debug, Default)]
pub struct UnpackStats {
    /// Number of archive entries processed (PAX global headers are not counted).
    pub entries: u64,
    /// Sum of the sizes of regular files (Docker's layer size); hardlinks count once.
    pub content_bytes: u64,
    /// Device entries that were not created, as paths relative to the layer root.
    pub skipped_devices: Vec<PathBuf>,
    /// Entries whose owner could not be set (an id not mapped in the user namespace); they are
    /// left owned by uid/gid 0 (or by whichever of the two ids could be set).
    pub unmapped_owners: u64,
}

/// Why a layer could not be unpacked. On any error the destination is left partially written
/// and must be deleted by the caller.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The destination directory could not be opened.
    #[error("cannot open layer destination `{}`", .path.display())]
    OpenDestination {
        /// The destination directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The kernel lacks `openat2(2)`, which confines path resolution to the layer root.
    #[error(
        "cannot unpack layers safely: `openat2` is not available (linux 5.6 or newer is required, and a seccomp filter must allow it)"
    )]
    Openat2Unsupported {
        /// The underlying error (`ENOSYS`, or `EPERM` from a seccomp filter).
        #[source]
        source: io::Error,
    },
    /// The archive itself could not be read: not a tar archive, a corrupt header, or a stream
    /// that ends in the middle of a header or of an entry's data.
    #[error("cannot read layer archive{}", describe_after(.after.as_deref()))]
    Archive {
        /// The last entry read successfully before the failure, if any.
        after: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A header field of an entry (mode, owner, time, device number) is malformed.
    #[error("layer entry `{}`: corrupt header", .path.display())]
    Header {
        /// The entry path as written in the archive.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The archive ended before all of an entry's data was read.
    #[error("layer entry `{}`: archive ends after {actual} of {expected} bytes of data", .path.display())]
    Truncated {
        /// The entry path as written in the archive.
        path: PathBuf,
        /// The size announced by the header.
        expected: u64,
        /// The number of bytes actually present.
        actual: u64,
    },
    /// Reading an entry's data from the archive failed.
    #[error("layer entry `{}`: cannot read data from the archive", .path.display())]
    EntryData {
        /// The entry path as written in the archive.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A filesystem operation for an entry failed.
    #[error("layer entry `{}`: cannot {op}", .path.display())]
    Io {
        /// The entry path as written in the archive.
        path: PathBuf,
        /// What was being done, e.g. "create regular file".
        op: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A hardlink points to something that does not exist inside the layer root.
    #[error("layer entry `{}`: hardlink target `{}` is not in the layer", .path.display(), .target.display())]
    HardlinkTarget {
        /// The entry path as written in the archive.
        path: PathBuf,
        /// The link target as written in the archive.
        target: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The entry has a type this module does not unpack (GNU sparse files, volume labels, ...).
    #[error("layer entry `{}`: unsupported entry type `{kind}` (typeflag `{typeflag}`)", .path.display())]
    UnsupportedType {
        /// The entry path as written in the archive.
        path: PathBuf,
        /// A description of the entry type, e.g. `gnu sparse file`.
        kind: String,
        /// The raw typeflag byte, escaped.
        typeflag: String,
    },
    /// The entry is well-formed tar but makes no sense in a layer.
    #[error("layer entry `{}`: {reason}", .path.display())]
    InvalidEntry {
        /// The entry path as written in the archive.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Formats the " after entry `x`" suffix of [`UnpackError::Archive`].
fn describe_after(after: Option<&Path>) -> String {
    after.map_or_else(String::new, |p| format!(" after entry `{}`", p.display()))
}

/// Unpacks one uncompressed layer tar stream into `dest`, a fresh empty directory that will be
/// used as an overlayfs lower directory (mounted with `userxattr`).
///
/// Runs as real root or as uid 0 of a user namespace. Owners that cannot be set (ids not mapped
/// in the namespace) are left as 0 and counted in [`UnpackStats::unmapped_owners`].
///
/// # Errors
///
/// Fails on the first problem: an unreadable, corrupt, truncated or non-tar archive, an
/// unsupported entry type, a hardlink whose target is not in the layer, a kernel without
/// `openat2`, or any failing filesystem operation. `dest` is then left partially written and the
/// caller must delete it.
pub fn unpack_layer<R: Read>(
    reader: R,
    dest: &Path,
    options: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| UnpackError::OpenDestination {
        path: dest.to_path_buf(),
        source: e.into(),
    })?;
    match resolve_in_root(root.as_fd(), b"") {
        Ok(_) => {}
        // ENOSYS: kernel older than 5.6; EPERM: a seccomp filter that predates openat2.
        Err(e)
            if e.raw_os_error() == Some(Errno::NOSYS.raw_os_error())
                || e.raw_os_error() == Some(Errno::PERM.raw_os_error()) =>
        {
            return Err(UnpackError::Openat2Unsupported { source: e });
        }
        Err(e) => {
            return Err(UnpackError::OpenDestination {
                path: dest.to_path_buf(),
                source: e,
            });
        }
    }

    let mut unpacker = Unpacker {
        root,
        options,
        stats: UnpackStats::default(),
        dir_times: Vec::new(),
        buffer: vec![0; COPY_BUFFER_SIZE],
        skipped: HashSet::new(),
        last_parent: None,
        creator: Creator::current(),
    };
    let mut archive = tar::Archive::new(reader);
    let mut last: Option<PathBuf> = None;
    let entries = archive.entries().map_err(|source| UnpackError::Archive {
        after: None,
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| UnpackError::Archive {
            after: last.take(),
            source,
        })?;
        last = Some(unpacker.unpack_entry(&mut entry)?);
    }
    unpacker.apply_dir_times()?;
    Ok(unpacker.stats)
}

/// A modification time: seconds since the epoch and nanoseconds.
type MTime = (i64, u32);

/// Metadata of an entry, taken from its header and PAX records.
struct Meta {
    /// Permission bits including setuid, setgid and sticky.
    mode: u32,
    /// Owner uid (PAX `uid` already applied by the `tar` crate).
    uid: u64,
    /// Owner gid.
    gid: u64,
    /// Modification time (seconds, nanoseconds); also used as access time.
    mtime: MTime,
    /// Extended attributes from `SCHILY.xattr.*` records, in archive order.
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    /// The timestamps to set: atime = mtime.
    fn timestamps(&self) -> Timestamps {
        timestamps(self.mtime)
    }
}

/// Builds timestamps with atime = mtime = `t`.
fn timestamps(t: MTime) -> Timestamps {
    let ts = Timespec {
        tv_sec: t.0,
        tv_nsec: t.1.into(),
    };
    Timestamps {
        last_access: ts,
        last_modification: ts,
    }
}

/// State of one unpack run.
struct Unpacker<'o> {
    /// Directory fd of the destination, the root all paths are resolved in.
    root: OwnedFd,
    /// Caller's options.
    options: &'o UnpackOptions,
    /// Statistics being collected.
    stats: UnpackStats,
    /// Directory modification times, applied once all entries are written.
    dir_times: Vec<(Vec<Vec<u8>>, MTime)>,
    /// Buffer for copying file data.
    buffer: Vec<u8>,
    /// Normalised paths of device nodes that were skipped (hardlinks to them are skipped too).
    skipped: HashSet<Vec<Vec<u8>>>,
    /// The parent directory last resolved, kept while entries are regular files in it (as
    /// tarballs list them): a regular file cannot change how a path resolves, any other entry
    /// drops it. Saves an `openat2` per file.
    last_parent: Option<(Vec<Vec<u8>>, Rc<OwnedFd>)>,
    /// Our own ids and umask: a fresh file whose owner and mode they already give needs no
    /// `fchown`/`fchmod`. `None` when the umask is unknown.
    creator: Option<Creator>,
}

/// Who creates files in this process, and with which umask.
#[derive(Debug, Clone, Copy)]
struct Creator {
    uid: u64,
    gid: u64,
    umask: u32,
}

impl Creator {
    /// Reads the process's umask from `/proc/self/status` (Linux 4.7+; never changes it, so
    /// no other thread is disturbed).
    fn current() -> Option<Self> {
        let status = fs_err::read_to_string("/proc/self/status").ok()?;
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())?;
        Some(Creator {
            uid: rustix::process::geteuid().as_raw().into(),
            gid: rustix::process::getegid().as_raw().into(),
            umask,
        })
    }

    /// Whether what this process creates already has `meta`'s owner.
    fn owns(&self, meta: &Meta) -> bool {
        meta.uid == self.uid && meta.gid == self.gid
    }

    /// Whether a file this process creates with `meta`'s mode already has its owner and mode.
    fn gives(&self, meta: &Meta) -> bool {
        self.owns(meta) && meta.mode & 0o7000 == 0 && meta.mode & self.umask == 0
    }
}

/// An entry's identity for error messages and resolution.
struct Target<'a> {
    /// Path as written in the archive (for messages).
    shown: &'a Path,
    /// Normalised components; never empty here.
    parent: &'a [Vec<u8>],
    /// Final component.
    name: &'a [u8],
}

impl Target<'_> {
    /// Wraps an I/O error with the entry path and an operation description.
    fn err(&self, op: impl Into<String>) -> impl FnOnce(io::Error) -> UnpackError + '_ {
        let op = op.into();
        move |source| UnpackError::Io {
            path: self.shown.to_path_buf(),
            op,
            source,
        }
    }

    /// Wraps a rustix errno with the entry path and an operation description.
    fn errno(&self, op: impl Into<String>) -> impl FnOnce(Errno) -> UnpackError + '_ {
        let f = self.err(op);
        move |e| f(e.into())
    }

    /// The normalised path relative to the layer root, for display.
    fn relative(&self) -> String {
        let mut p = join(self.parent);
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(self.name);
        String::from_utf8_lossy(&p).into_owned()
    }
}

impl Unpacker<'_> {
    /// Unpacks one entry and returns its archive path.
    fn unpack_entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<PathBuf, UnpackError> {
        let raw_path = entry.path_bytes().into_owned();
        let shown = PathBuf::from(OsStr::from_bytes(&raw_path));
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            tracing::debug!(path = %shown.display(), "skipping pax global header");
            return Ok(shown);
        }
        self.stats.entries += 1;
        let typeflag = entry.header().as_old().linkflag[0];
        // Pre-POSIX archives mark directories with a regular typeflag and a trailing slash.
        let is_dir = kind.is_dir() || (typeflag == 0 && raw_path.ends_with(b"/"));
        let meta = read_meta(entry).map_err(|source| UnpackError::Header {
            path: shown.clone(),
            source,
        })?;

        let comps = normalize(&raw_path);
        let Some((name, parent)) = comps.split_last() else {
            if is_dir {
                self.update_root(&shown, &meta)?;
                return Ok(shown);
            }
            return Err(UnpackError::InvalidEntry {
                path: shown,
                reason: "a non-directory entry cannot replace the layer root",
            });
        };
        let target = Target {
            shown: &shown,
            parent,
            name,
        };

        let regular = kind.is_file() || kind.is_contiguous();
        if !regular || is_dir || name.starts_with(WHITEOUT_PREFIX) {
            self.last_parent = None;
        }
        if name.starts_with(WHITEOUT_PREFIX) {
            self.whiteout(&target)?;
        } else if is_dir {
            self.directory(&target, &meta)?;
        } else if regular {
            self.regular_file(&target, &meta, entry)?;
        } else if kind.is_hard_link() {
            let link = entry.link_name_bytes().map(std::borrow::Cow::into_owned);
            self.hardlink(&target, link.as_deref())?;
        } else if kind.is_symlink() {
            let link = entry.link_name_bytes().map(std::borrow::Cow::into_owned);
            self.symlink(&target, &meta, link.as_deref().unwrap_or_default())?;
        } else if kind.is_fifo() {
            self.fifo(&target, &meta)?;
        } else if kind.is_character_special() || kind.is_block_special() {
            self.device(&target, &meta, entry.header(), kind.is_block_special())?;
        } else {
            return Err(UnpackError::UnsupportedType {
                path: shown.clone(),
                kind: type_name(kind).to_owned(),
                typeflag: typeflag.escape_ascii().to_string(),
            });
        }
        Ok(shown)
    }

    /// Applies a directory entry for the layer root (`./`) to the destination itself.
    fn update_root(&mut self, shown: &Path, meta: &Meta) -> Result<(), UnpackError> {
        let root = self.root.try_clone().map_err(|source| UnpackError::Io {
            path: shown.to_path_buf(),
            op: "duplicate the layer root descriptor".into(),
            source,
        })?;
        let target = Target {
            shown,
            parent: &[],
            name: b".",
        };
        self.apply_fd_meta(&target, &root, meta, true)?;
        self.dir_times.push((Vec::new(), meta.mtime));
        Ok(())
    }

    /// Resolves (creating missing directories) the parent of an entry.
    fn parent(&mut self, target: &Target<'_>) -> Result<Rc<OwnedFd>, UnpackError> {
        if let Some((comps, fd)) = &self.last_parent
            && comps.as_slice() == target.parent
        {
            return Ok(Rc::clone(fd));
        }
        let fd =
            open_parent(self.root.as_fd(), target.parent, true).map_err(target.err(format!(
                "resolve or create parent directory `{}`",
                String::from_utf8_lossy(&join(target.parent))
            )))?;
        let fd = Rc::new(fd);
        self.last_parent = Some((target.parent.to_vec(), Rc::clone(&fd)));
        Ok(fd)
    }

    /// Unpacks a regular file.
    fn regular_file<R: Read>(
        &mut self,
        target: &Target<'_>,
        meta: &Meta,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), UnpackError> {
        let parent = self.parent(target)?;
        // Created with its final mode when the umask keeps it so; then no fchmod is needed.
        let given = self.creator.is_some_and(|c| c.gives(meta));
        let mode = Mode::from_raw_mode(if given { meta.mode } else { 0o600 });
        let create = || {
            rfs::openat(
                &*parent,
                target.name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                mode,
            )
        };
        // Most layers write into fresh directories: try first, make room only on EEXIST.
        let fd = match create() {
            Err(Errno::EXIST) => {
                replace_existing(&parent, target.name, false)
                    .map_err(target.err("remove the existing entry"))?;
                create()
            }
            other => other,
        }
        .map_err(target.errno("create regular file"))?;
        let mut file = File::from(fd);
        let expected = entry.size();
        let mut written: u64 = 0;
        loop {
            let n = match entry.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(UnpackError::EntryData {
                        path: target.shown.to_path_buf(),
                        source,
                    });
                }
            };
            file.write_all(&self.buffer[..n])
                .map_err(target.err("write file data"))?;
            written += n as u64;
        }
        if written != expected {
            return Err(UnpackError::Truncated {
                path: target.shown.to_path_buf(),
                expected,
                actual: written,
            });
        }
        self.stats.content_bytes += written;
        if !given || !meta.xattrs.is_empty() {
            self.apply_fd_meta(target, &file, meta, false)?;
        }
        rfs::futimens(&file, &meta.timestamps()).map_err(target.errno("set modification time"))
    }

    /// Creates or updates a directory; its mtime is applied at the end.
    fn directory(&mut self, target: &Target<'_>, meta: &Meta) -> Result<(), UnpackError> {
        let parent = self.parent(target)?;
        let kept = replace_existing(&parent, target.name, true)
            .map_err(target.err("remove the existing entry"))?;
        if !kept {
            rfs::mkdirat(&parent, target.name, Mode::from_raw_mode(0o700))
                .map_err(target.errno("create directory"))?;
        }
        let dir = rfs::openat(
            &parent,
            target.name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(target.errno("open directory"))?;
        self.apply_fd_meta(target, &dir, meta, true)?;
        let mut comps = target.parent.to_vec();
        comps.push(target.name.to_vec());
        self.dir_times.push((comps, meta.mtime));
        Ok(())
    }

    /// Creates a symlink; its target is stored verbatim and never followed.
    fn symlink(
        &mut self,
        target: &Target<'_>,
        meta: &Meta,
        link: &[u8],
    ) -> Result<(), UnpackError> {
        let parent = self.parent(target)?;
        replace_existing(&parent, target.name, false)
            .map_err(target.err("remove the existing entry"))?;
        rfs::symlinkat(link, &parent, target.name).map_err(target.errno(format!(
            "create symlink to `{}`",
            String::from_utf8_lossy(link)
        )))?;
        if !self.creator.is_some_and(|c| c.owns(meta)) {
            self.set_owner(target, meta, |uid, gid| {
                rfs::chownat(&parent, target.name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            })?;
        }
        rfs::utimensat(
            &parent,
            target.name,
            &meta.timestamps(),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(target.errno("set modification time"))
    }

    /// Creates a hardlink to another entry of the layer.
    fn hardlink(&mut self, target: &Target<'_>, link: Option<&[u8]>) -> Result<(), UnpackError> {
        let link = link.unwrap_or_default();
        let not_in_layer = |source: io::Error| UnpackError::HardlinkTarget {
            path: target.shown.to_path_buf(),
            target: PathBuf::from(OsStr::from_bytes(link)),
            source,
        };
        let link_comps = normalize(link);
        let Some((link_name, link_parent)) = link_comps.split_last() else {
            return Err(not_in_layer(io::Error::other(
                "the target is the layer root directory",
            )));
        };
        let lookup = open_parent(self.root.as_fd(), link_parent, false).and_then(|dir| {
            let st = rfs::statat(&dir, link_name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)?;
            Ok((dir, st))
        });
        let (source_dir, st) = match lookup {
            Ok(found) => found,
            Err(_) if self.skipped.contains(&link_comps) => {
                // A hardlink to a device node that was not created: skip it the same way.
                let relative = target.relative();
                tracing::debug!(path = %relative, "skipping hardlink to a skipped device node");
                self.stats.skipped_devices.push(PathBuf::from(relative));
                return Ok(());
            }
            Err(e) => return Err(not_in_layer(e)),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(not_in_layer(io::Error::other("the target is a directory")));
        }
        if link_parent == target.parent && link_name.as_slice() == target.name {
            // A link to itself: the file is already there.
            return Ok(());
        }
        let parent = self.parent(target)?;
        replace_existing(&parent, target.name, false)
            .map_err(target.err("remove the existing entry"))?;
        rfs::linkat(
            &source_dir,
            link_name.as_slice(),
            &parent,
            target.name,
            AtFlags::empty(),
        )
        .map_err(|e| match e {
            Errno::NOENT => not_in_layer(e.into()),
            e => target.errno(format!(
                "create hardlink to `{}`",
                String::from_utf8_lossy(link)
            ))(e),
        })
    }

    /// Creates a FIFO.
    fn fifo(&mut self, target: &Target<'_>, meta: &Meta) -> Result<(), UnpackError> {
        let parent = self.parent(target)?;
        replace_existing(&parent, target.name, false)
            .map_err(target.err("remove the existing entry"))?;
        rfs::mknodat(
            &parent,
            target.name,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .map_err(target.errno("create fifo"))?;
        // Opening the read end of a FIFO without blocking has no side effect and gives an fd
        // for the metadata calls (no path-based chmod needed).
        let fd = rfs::openat(
            &parent,
            target.name,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(target.errno("open fifo"))?;
        self.apply_fd_meta(target, &fd, meta, false)?;
        rfs::futimens(&fd, &meta.timestamps()).map_err(target.errno("set modification time"))
    }

    /// Creates a character or block device, or skips it when devices are not allowed.
    fn device(
        &mut self,
        target: &Target<'_>,
        meta: &Meta,
        header: &tar::Header,
        block: bool,
    ) -> Result<(), UnpackError> {
        if !self.options.allow_devices {
            let relative = target.relative();
            tracing::debug!(path = %relative, "skipping device node");
            self.stats.skipped_devices.push(PathBuf::from(relative));
            let mut comps = target.parent.to_vec();
            comps.push(target.name.to_vec());
            self.skipped.insert(comps);
            return Ok(());
        }
        let header_err = |source| UnpackError::Header {
            path: target.shown.to_path_buf(),
            source,
        };
        let major = header.device_major().map_err(header_err)?.unwrap_or(0);
        let minor = header.device_minor().map_err(header_err)?.unwrap_or(0);
        let parent = self.parent(target)?;
        replace_existing(&parent, target.name, false)
            .map_err(target.err("remove the existing entry"))?;
        let file_type = if block {
            FileType::BlockDevice
        } else {
            FileType::CharacterDevice
        };
        rfs::mknodat(
            &parent,
            target.name,
            file_type,
            Mode::from_raw_mode(0o600),
            rfs::makedev(major, minor),
        )
        .map_err(target.errno(format!("create device {major}:{minor}")))?;
        self.set_owner(target, meta, |uid, gid| {
            rfs::chownat(&parent, target.name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
        })?;
        chmod_nofollow(&parent, target.name, meta.mode, file_type)
            .map_err(target.err("set permissions"))?;
        rfs::utimensat(
            &parent,
            target.name,
            &meta.timestamps(),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(target.errno("set modification time"))
    }

    /// Converts an OCI whiteout entry to its overlayfs form.
    fn whiteout(&mut self, target: &Target<'_>) -> Result<(), UnpackError> {
        if target.name == WHITEOUT_OPAQUE {
            return self.opaque(target);
        }
        if target.name.starts_with(WHITEOUT_META_PREFIX) {
            tracing::debug!(path = %target.shown.display(), "skipping aufs metadata entry");
            return Ok(());
        }
        let hidden = &target.name[WHITEOUT_PREFIX.len()..];
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(UnpackError::InvalidEntry {
                path: target.shown.to_path_buf(),
                reason: "whiteout names no file",
            });
        }
        let parent = self.parent(target)?;
        replace_existing(&parent, hidden, false)
            .map_err(target.err("remove the whited-out entry"))?;
        rfs::mknodat(
            &parent,
            hidden,
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )
        .map_err(target.errno(format!(
            "create whiteout device `{}` (needs linux 5.8 or newer in a user namespace)",
            String::from_utf8_lossy(hidden)
        )))
    }

    /// Marks the directory containing a `.wh..wh..opq` entry opaque.
    fn opaque(&mut self, target: &Target<'_>) -> Result<(), UnpackError> {
        let op = "mark the directory opaque";
        let dir = match target.parent.split_last() {
            None => self.root.try_clone().map_err(target.err(op))?,
            Some((dir_name, grandparent)) => {
                let gp = open_parent(self.root.as_fd(), grandparent, true).map_err(target.err(
                    format!(
                        "resolve or create parent directory `{}`",
                        String::from_utf8_lossy(&join(grandparent))
                    ),
                ))?;
                let created =
                    match rfs::mkdirat(&gp, dir_name.as_slice(), Mode::from_raw_mode(0o755)) {
                        Ok(()) => true,
                        Err(Errno::EXIST) => false,
                        Err(e) => return Err(target.errno("create the opaque directory")(e)),
                    };
                let dir = rfs::openat(
                    &gp,
                    dir_name.as_slice(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(target.errno("open the opaque directory"))?;
                if created {
                    // Independent of the process umask.
                    rfs::fchmod(&dir, Mode::from_raw_mode(0o755))
                        .map_err(target.errno("set mode 755"))?;
                }
                dir
            }
        };
        rfs::fsetxattr(&dir, OPAQUE_XATTR, b"y", XattrFlags::empty())
            .map_err(target.errno(format!("set xattr `{OPAQUE_XATTR}`")))
    }

    /// Sets owner, full mode and xattrs through an open fd (not its times).
    fn apply_fd_meta(
        &mut self,
        target: &Target<'_>,
        fd: &impl AsFd,
        meta: &Meta,
        is_dir: bool,
    ) -> Result<(), UnpackError> {
        let fd = fd.as_fd();
        // chown first: it clears setuid/setgid (and security.capability).
        self.set_owner(target, meta, |uid, gid| rfs::fchown(fd, uid, gid))?;
        rfs::fchmod(fd, Mode::from_raw_mode(meta.mode))
            .map_err(target.errno(format!("set mode {:o}", meta.mode)))?;
        set_xattrs(target, fd, &meta.xattrs, is_dir)
    }

    /// Sets the owner with `chown`, tolerating ids that are not mapped in the user namespace.
    fn set_owner(
        &mut self,
        target: &Target<'_>,
        meta: &Meta,
        chown: impl Fn(Option<Uid>, Option<Gid>) -> rustix::io::Result<()>,
    ) -> Result<(), UnpackError> {
        let tolerable = |e: Errno| e == Errno::INVAL || e == Errno::PERM;
        let uid = u32::try_from(meta.uid)
            .ok()
            .filter(|&u| u != u32::MAX)
            .map(Uid::from_raw);
        let gid = u32::try_from(meta.gid)
            .ok()
            .filter(|&g| g != u32::MAX)
            .map(Gid::from_raw);
        let mut unmapped = uid.is_none() || gid.is_none();
        if uid.is_some() || gid.is_some() {
            match chown(uid, gid) {
                Ok(()) => {}
                Err(e) if tolerable(e) => {
                    unmapped = true;
                    // One of the two may still be settable.
                    for (u, g) in [(uid, None), (None, gid)] {
                        if u.is_none() && g.is_none() {
                            continue;
                        }
                        match chown(u, g) {
                            Ok(()) => {}
                            Err(e) if tolerable(e) => {}
                            Err(e) => return Err(target.errno("set owner")(e)),
                        }
                    }
                }
                Err(e) => return Err(target.errno("set owner")(e)),
            }
        }
        if unmapped {
            tracing::debug!(
                path = %target.shown.display(),
                uid = meta.uid,
                gid = meta.gid,
                "owner not mapped in this user namespace"
            );
            self.stats.unmapped_owners += 1;
        }
        Ok(())
    }

    /// Applies the recorded directory mtimes, resolving each directory in the root again.
    fn apply_dir_times(&mut self) -> Result<(), UnpackError> {
        for (comps, mtime) in &self.dir_times {
            let times = timestamps(*mtime);
            let shown = PathBuf::from(OsStr::from_bytes(&join(comps)));
            let err = |source: io::Error| UnpackError::Io {
                path: shown.clone(),
                op: "set directory modification time".into(),
                source,
            };
            let Some((name, parent)) = comps.split_last() else {
                rfs::futimens(&self.root, &times).map_err(|e| err(e.into()))?;
                continue;
            };
            // The directory may have been replaced or whited out by a later entry.
            let gone = |e: &io::Error| {
                [Errno::NOENT, Errno::NOTDIR, Errno::LOOP]
                    .iter()
                    .any(|g| e.raw_os_error() == Some(g.raw_os_error()))
            };
            let parent = match open_parent(self.root.as_fd(), parent, false) {
                Ok(p) => p,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(err(e)),
            };
            let dir = match rfs::openat(
                &parent,
                name.as_slice(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(d) => d,
                Err(e) if gone(&e.into()) => continue,
                Err(e) => return Err(err(e.into())),
            };
            rfs::futimens(&dir, &times).map_err(|e| err(e.into()))?;
        }
        Ok(())
    }
}

/// Sets PAX xattrs on an open regular file, directory or FIFO; failures for lack of permission
/// or support are logged and ignored. Overlayfs' own namespaces are never set from a layer.
fn set_xattrs(
    target: &Target<'_>,
    fd: BorrowedFd<'_>,
    xattrs: &[(Vec<u8>, Vec<u8>)],
    is_dir: bool,
) -> Result<(), UnpackError> {
    for (name, value) in xattrs {
        let shown_name = String::from_utf8_lossy(name);
        if OVERLAY_XATTR_PREFIXES.iter().any(|p| name.starts_with(p)) {
            tracing::debug!(
                path = %target.shown.display(),
                xattr = %shown_name,
                "ignoring overlayfs xattr in layer"
            );
            continue;
        }
        match rfs::fsetxattr(fd, name.as_slice(), value, XattrFlags::empty()) {
            Ok(()) => {}
            Err(e) if e == Errno::PERM || e == Errno::OPNOTSUPP => {
                tracing::debug!(
                    path = %target.shown.display(),
                    xattr = %shown_name,
                    is_dir,
                    error = %e,
                    "cannot set xattr, ignoring it"
                );
            }
            Err(e) => return Err(target.errno(format!("set xattr `{shown_name}`"))(e)),
        }
    }
    Ok(())
}

/// Sets the mode of a just-created device node without following a symlink in its place.
fn chmod_nofollow(parent: &OwnedFd, name: &[u8], mode: u32, expected: FileType) -> io::Result<()> {
    let nix_mode = nix::sys::stat::Mode::from_bits_truncate(mode);
    match nix::sys::stat::fchmodat(
        Some(parent.as_raw_fd()),
        name,
        nix_mode,
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    ) {
        Ok(()) => return Ok(()),
        // Older kernels and C libraries cannot do a no-follow chmod (no fchmodat2, no /proc).
        Err(nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::ENOSYS) => {}
        Err(e) => return Err(e.into()),
    }
    // Fallback: the node was just created by mknodat (which never follows symlinks); check
    // that it is still that node before the path-based chmod.
    let st = rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(st.st_mode) != expected {
        return Err(io::Error::other("device node was replaced while unpacking"));
    }
    rfs::chmodat(parent, name, Mode::from_raw_mode(mode), AtFlags::empty())?;
    Ok(())
}

/// A name for entry types that are not unpacked.
fn type_name(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::GNUSparse => "gnu sparse file",
        tar::EntryType::GNULongName => "gnu long name",
        tar::EntryType::GNULongLink => "gnu long link name",
        tar::EntryType::XHeader => "pax extended header",
        tar::EntryType::XGlobalHeader => "pax global header",
        _ => "unknown",
    }
}

/// Reads mode, owner, mtime (with PAX sub-second precision) and PAX xattrs of an entry.
fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
    let header = entry.header();
    let old = header.as_old();
    let mode = blank_is_zero(header.mode().map(u64::from), &old.mode)? & 0o7777;
    let mode = u32::try_from(mode).unwrap_or_default();
    let uid = blank_is_zero(header.uid(), &old.uid)?;
    let gid = blank_is_zero(header.gid(), &old.gid)?;
    let mtime = blank_is_zero(header.mtime(), &old.mtime)?;
    let mut mtime = (i64::try_from(mtime).unwrap_or(i64::MAX), 0);
    let mut xattrs = Vec::new();
    if let Some(extensions) = entry.pax_extensions()? {
        for extension in extensions {
            let extension = extension?;
            let key = extension.key_bytes();
            if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                xattrs.push((name.to_vec(), extension.value_bytes().to_vec()));
            } else if key == b"mtime" {
                if let Some(t) = parse_pax_time(extension.value_bytes()) {
                    mtime = t;
                }
            }
        }
    }
    Ok(Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs,
    })
}

/// Like Go's `archive/tar` (and so Docker), reads an empty numeric header field (all NUL or
/// spaces) as 0; the `tar` crate rejects it. The PAX `uid`/`gid` records, already applied to the
/// header by the `tar` crate, win over the field.
fn blank_is_zero(value: io::Result<u64>, field: &[u8]) -> io::Result<u64> {
    match value {
        Err(_) if field.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}

/// Parses a PAX time such as `1700000000.123456789` or `-1.5` into (seconds, nanoseconds).
fn parse_pax_time(value: &[u8]) -> Option<MTime> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut secs: i64 = secs.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, digit) in frac.bytes().take(9).enumerate() {
        let exponent = u32::try_from(8 - i).ok()?;
        nanos += u32::from(digit - b'0') * 10u32.pow(exponent);
    }
    if negative {
        secs = -secs;
        if nanos > 0 {
            secs -= 1;
            nanos = 1_000_000_000 - nanos;
        }
    }
    Some((secs, nanos))
}

/// Normalises an entry path like a chroot would: strips `/` and `.`, resolves `..` lexically
/// without ever going above the root. An empty result means the root itself.
fn normalize(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c.to_vec()),
        }
    }
    out
}

/// Joins normalised components with `/`.
fn join(components: &[Vec<u8>]) -> Vec<u8> {
    components.join(&b'/')
}

/// Opens `path` (relative, already normalised; empty = the root) as an `O_PATH` directory fd,
/// resolving every symlink as if `root` were `/`.
fn resolve_in_root(root: BorrowedFd<'_>, path: &[u8]) -> io::Result<OwnedFd> {
    let path: &[u8] = if path.is_empty() { b"." } else { path };
    let mut tries = 0;
    loop {
        match rfs::openat2(
            root,
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            // EAGAIN: a rename elsewhere raced with `..` resolution; EINTR: a signal.
            Err(Errno::AGAIN | Errno::INTR) if tries < OPENAT2_RETRIES => tries += 1,
            result => return result.map_err(io::Error::from),
        }
    }
}

/// Opens the directory `components` (resolved in root). When `create` is set, missing
/// directories are created one at a time with mode 0755, each step resolved in root.
fn open_parent(root: BorrowedFd<'_>, components: &[Vec<u8>], create: bool) -> io::Result<OwnedFd> {
    let enoent = Some(Errno::NOENT.raw_os_error());
    match resolve_in_root(root, &join(components)) {
        Ok(fd) => return Ok(fd),
        Err(e) if create && e.raw_os_error() == enoent => {}
        Err(e) => return Err(e),
    }
    let mut current = resolve_in_root(root, b"")?;
    for (i, component) in components.iter().enumerate() {
        match resolve_in_root(root, &join(&components[..=i])) {
            Ok(fd) => current = fd,
            Err(e) if e.raw_os_error() == enoent => {
                // `current` is the resolved parent; a dangling symlink in `component`'s place
                // makes mkdirat fail with EEXIST, which is reported.
                rfs::mkdirat(&current, component.as_slice(), Mode::from_raw_mode(0o755))?;
                let dir = rfs::openat(
                    &current,
                    component.as_slice(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                // Independent of the process umask.
                rfs::fchmod(&dir, Mode::from_raw_mode(0o755))?;
                current = dir;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(current)
}

/// Makes room for a new entry `name` in `parent`: a non-directory is unlinked; a directory is
/// kept when `keep_dir` is set (returns `true`), otherwise removed recursively. Never follows a
/// symlink.
fn replace_existing(parent: &OwnedFd, name: &[u8], keep_dir: bool) -> io::Result<bool> {
    let st = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        if keep_dir {
            return Ok(true);
        }
        remove_tree(parent.as_fd(), name, 0)?;
    } else {
        rfs::unlinkat(parent, name, AtFlags::empty())?;
    }
    Ok(false)
}

/// Removes the directory `name` in `parent` and everything below it, without following
/// symlinks and without leaving `parent`.
fn remove_tree(parent: BorrowedFd<'_>, name: &[u8], depth: usize) -> io::Result<()> {
    if depth > MAX_REMOVE_DEPTH {
        return Err(io::Error::other("directory tree too deep to remove"));
    }
    let dir = rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut children: Vec<CString> = Vec::new();
    {
        let mut listing = Dir::read_from(&dir)?;
        while let Some(child) = listing.read() {
            let child = child?;
            let child_name = child.file_name();
            if child_name.to_bytes() != b"." && child_name.to_bytes() != b".." {
                children.push(child_name.to_owned());
            }
        }
    }
    for child in children {
        match rfs::statat(&dir, child.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                remove_tree(dir.as_fd(), child.to_bytes(), depth + 1)?;
            }
            Ok(_) => rfs::unlinkat(&dir, child.as_c_str(), AtFlags::empty())?,
            Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::print_stderr,
        clippy::many_single_char_names
    )]

    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use tar::{Builder, EntryType, Header};

    const CANARY: &[u8] = b"canary: must never change\n";
    const MTIME: i64 = 1_600_000_000;

    /// An in-memory layer built from raw headers.
    struct Layer {
        builder: Builder<Vec<u8>>,
    }

    impl Layer {
        fn new() -> Self {
            Self {
                builder: Builder::new(Vec::new()),
            }
        }

        /// A GNU header whose name bytes are written verbatim (no `..`/absolute checks).
        fn header(name: &[u8], kind: EntryType, size: u64, mode: u32) -> Header {
            let mut h = Header::new_gnu();
            let field = &mut h.as_old_mut().name;
            assert!(name.len() <= field.len(), "name too long for a raw header");
            field.fill(0);
            field[..name.len()].copy_from_slice(name);
            h.set_entry_type(kind);
            h.set_size(size);
            h.set_mode(mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(MTIME.unsigned_abs());
            h
        }

        fn set_link(h: &mut Header, link: &[u8]) {
            let field = &mut h.as_old_mut().linkname;
            assert!(link.len() <= field.len(), "link too long for a raw header");
            field.fill(0);
            field[..link.len()].copy_from_slice(link);
        }

        fn append(&mut self, mut h: Header, data: &[u8]) -> &mut Self {
            h.set_cksum();
            self.builder.append(&h, data).unwrap();
            self
        }

        fn file(&mut self, name: &[u8], data: &[u8]) -> &mut Self {
            let h = Self::header(name, EntryType::Regular, data.len() as u64, 0o644);
            self.append(h, data)
        }

        fn dir(&mut self, name: &[u8], mode: u32) -> &mut Self {
            let h = Self::header(name, EntryType::Directory, 0, mode);
            self.append(h, b"")
        }

        fn symlink(&mut self, name: &[u8], target: &[u8]) -> &mut Self {
            let mut h = Self::header(name, EntryType::Symlink, 0, 0o777);
            Self::set_link(&mut h, target);
            self.append(h, b"")
        }

        fn hardlink(&mut self, name: &[u8], target: &[u8]) -> &mut Self {
            let mut h = Self::header(name, EntryType::Link, 0, 0o644);
            Self::set_link(&mut h, target);
            self.append(h, b"")
        }

        fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
            self.builder
                .append_pax_extensions(records.iter().copied())
                .unwrap();
            self
        }

        fn finish(self) -> Vec<u8> {
            self.builder.into_inner().unwrap()
        }
    }

    /// `outer/dest` plus a canary file in an unrelated directory.
    struct Sandbox {
        // Field order = drop order: dest before outer.
        dest: tempfile::TempDir,
        outer: tempfile::TempDir,
        elsewhere: tempfile::TempDir,
    }

    impl Sandbox {
        fn new() -> Self {
            let outer = tempfile::tempdir().unwrap();
            let dest = tempfile::tempdir_in(outer.path()).unwrap();
            let elsewhere = tempfile::tempdir().unwrap();
            let canary = elsewhere.path().join("canary");
            fs_err::write(&canary, CANARY).unwrap();
            fs_err::set_permissions(&canary, std::fs::Permissions::from_mode(0o644)).unwrap();
            fs_err::set_permissions(elsewhere.path(), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            Self {
                dest,
                outer,
                elsewhere,
            }
        }

        fn dest(&self) -> &Path {
            self.dest.path()
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dest().join(rel)
        }

        fn canary(&self) -> PathBuf {
            self.elsewhere.path().join("canary")
        }

        fn unpack(&self, tar: &[u8]) -> Result<UnpackStats, UnpackError> {
            self.unpack_with(tar, &UnpackOptions::default())
        }

        fn unpack_with(
            &self,
            tar: &[u8],
            options: &UnpackOptions,
        ) -> Result<UnpackStats, UnpackError> {
            unpack_layer(tar, self.dest(), options)
        }

        /// Nothing appeared next to dest, the canary and its directory are untouched.
        fn assert_confined(&self) {
            let names = |dir: &Path| -> Vec<_> {
                let mut v: Vec<_> = fs_err::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                names(self.outer.path()),
                [self.dest().file_name().unwrap().to_owned()],
                "something was created next to dest"
            );
            assert_eq!(names(self.elsewhere.path()), ["canary"]);
            let canary = self.canary();
            let meta = fs_err::symlink_metadata(&canary).unwrap();
            assert!(meta.file_type().is_file());
            assert_eq!(meta.mode() & 0o7777, 0o644, "canary chmodded");
            assert_eq!((meta.uid(), meta.gid()), (0, 0), "canary chowned");
            assert_eq!(meta.nlink(), 1, "canary hardlinked");
            assert_eq!(fs_err::read(&canary).unwrap(), CANARY, "canary modified");
            let dir_meta = fs_err::symlink_metadata(self.elsewhere.path()).unwrap();
            assert_eq!(dir_meta.mode() & 0o7777, 0o755, "canary directory chmodded");
        }
    }

    /// Whether anything (even a dangling symlink) is at `p`.
    fn exists(p: &Path) -> bool {
        fs_err::symlink_metadata(p).is_ok()
    }

    /// The content of `p`.
    fn read(p: &Path) -> Vec<u8> {
        fs_err::read(p).unwrap()
    }

    /// True when running as root of the initial user namespace (all ids can be set).
    fn full_root() -> bool {
        rustix::process::geteuid().is_root()
            && fs_err::read_to_string("/proc/self/uid_map")
                .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
    }

    /// True when running as uid 0 of a user namespace that maps only that one id.
    fn single_id_map() -> bool {
        rustix::process::geteuid().is_root()
            && fs_err::read_to_string("/proc/self/uid_map")
                .is_ok_and(|m| m.split_whitespace().nth(2) == Some("1") && m.lines().count() == 1)
    }

    /// Whether the filesystem of `dir` accepts `user.*` xattrs.
    fn user_xattrs_supported(dir: &Path) -> bool {
        let fd = rfs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        match rfs::fsetxattr(&fd, "user.berth-probe", b"1", XattrFlags::empty()) {
            Ok(()) => {
                rfs::fremovexattr(&fd, "user.berth-probe").unwrap();
                true
            }
            Err(e) => {
                eprintln!("note: {} refuses user.* xattrs ({e})", dir.display());
                false
            }
        }
    }

    /// The value of xattr `name` of `p` (not following symlinks).
    fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
        let mut buf = [0u8; 256];
        rfs::lgetxattr(p, name, &mut buf[..])
            .ok()
            .map(|n| buf[..n].to_vec())
    }

    /// `..`, absolute and `./a/../../b` paths are confined to dest like in a chroot.
    #[test]
    fn dotdot_and_absolute_paths_stay_inside() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.file(b"../escape", b"1")
            .file(b"../../x", b"2")
            .file(b"/berth-unpack-test-abs/file", b"3")
            .file(b"./a/../../b", b"4")
            .dir(b"../", 0o755)
            .file(b"c/../../../../d", b"5");
        let stats = sb.unpack(&l.finish()).unwrap();
        assert_eq!(read(&sb.path("escape")), b"1");
        assert_eq!(read(&sb.path("x")), b"2");
        assert_eq!(read(&sb.path("berth-unpack-test-abs/file")), b"3");
        assert_eq!(read(&sb.path("b")), b"4");
        assert_eq!(read(&sb.path("d")), b"5");
        assert!(
            !exists(&sb.path("a")),
            "lexically removed component was created"
        );
        assert!(!exists(Path::new("/berth-unpack-test-abs")));
        assert_eq!(stats.entries, 6);
        assert_eq!(stats.content_bytes, 5);
        sb.assert_confined();
    }

    /// Entries through symlinks to `/` or `../..` land inside dest, never on the host.
    #[test]
    fn symlinks_to_root_are_followed_inside_dest() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.symlink(b"evil", b"/")
            .file(b"evil/berth-unpack-test-pwned-root", b"1")
            .file(b"evil/berth-unpack-test-newdir/f", b"2")
            .symlink(b"evil2", b"../..")
            .file(b"evil2/berth-unpack-test-pwned-dotdot", b"3")
            .symlink(b"sub/evil3", b"../../../..")
            .file(b"sub/evil3/pwned3", b"4");
        sb.unpack(&l.finish()).unwrap();
        assert_eq!(read(&sb.path("berth-unpack-test-pwned-root")), b"1");
        assert_eq!(read(&sb.path("berth-unpack-test-newdir/f")), b"2");
        assert_eq!(read(&sb.path("berth-unpack-test-pwned-dotdot")), b"3");
        assert_eq!(read(&sb.path("pwned3")), b"4");
        assert_eq!(fs_err::read_link(sb.path("evil")).unwrap(), Path::new("/"));
        for host in [
            "/berth-unpack-test-pwned-root",
            "/berth-unpack-test-newdir",
            "/berth-unpack-test-pwned-dotdot",
            "/pwned3",
        ] {
            assert!(!exists(Path::new(host)), "{host} created on the host");
        }
        sb.assert_confined();
    }

    /// A directory replaced by a symlink between two files in it: the second file follows the
    /// symlink (resolved in dest), not the directory the first file went into.
    #[test]
    fn a_directory_replaced_by_a_symlink_redirects_later_files() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.dir(b"b/", 0o755)
            .dir(b"a/", 0o755)
            .file(b"a/one", b"1")
            .symlink(b"a", b"/b")
            .file(b"a/two", b"2")
            .file(b"a/three", b"3");
        sb.unpack(&l.finish()).unwrap();
        assert_eq!(fs_err::read_link(sb.path("a")).unwrap(), Path::new("/b"));
        assert_eq!(read(&sb.path("b/two")), b"2");
        assert_eq!(read(&sb.path("b/three")), b"3");
        assert!(!exists(&sb.path("b/one")));
        sb.assert_confined();
    }

    /// Files are created with their final mode whatever the umask, and an existing file is
    /// replaced.
    #[test]
    fn modes_survive_the_umask_and_files_are_replaced() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.append(Layer::header(b"open", EntryType::Regular, 1, 0o666), b"x")
            .append(Layer::header(b"plain", EntryType::Regular, 1, 0o644), b"y")
            .append(Layer::header(b"ro", EntryType::Regular, 1, 0o400), b"z")
            .append(Layer::header(b"suid", EntryType::Regular, 1, 0o4755), b"s")
            .file(b"plain", b"again");
        sb.unpack(&l.finish()).unwrap();
        for (name, mode) in [
            ("open", 0o666),
            ("plain", 0o644),
            ("ro", 0o400),
            ("suid", 0o4755),
        ] {
            let m = fs_err::symlink_metadata(sb.path(name)).unwrap();
            assert_eq!(m.mode() & 0o7777, mode, "{name}");
        }
        assert_eq!(read(&sb.path("plain")), b"again");
    }

    /// Absolute symlinks to real host directories (the outer tempdir, the canary's) are resolved in dest.
    #[test]
    fn absolute_symlink_to_outer_dir_does_not_escape() {
        // The symlink's target does not exist inside dest: error (or a file inside dest).
        let sb = Sandbox::new();
        let outer = sb.outer.path().as_os_str().as_bytes().to_vec();
        let mut l = Layer::new();
        l.symlink(b"evil", &outer).file(b"evil/pwned", b"x");
        let result = sb.unpack(&l.finish());
        assert!(!exists(&sb.outer.path().join("pwned")));
        if result.is_ok() {
            let inside = sb.dest().join(sb.outer.path().strip_prefix("/").unwrap());
            assert_eq!(read(&inside.join("pwned")), b"x");
        }
        sb.assert_confined();

        // The same path exists inside dest: the file lands there.
        let sb = Sandbox::new();
        let outer = sb.outer.path().as_os_str().as_bytes().to_vec();
        let mut l = Layer::new();
        l.dir(&outer, 0o755)
            .symlink(b"evil", &outer)
            .file(b"evil/pwned", b"y");
        sb.unpack(&l.finish()).unwrap();
        let inside = sb.dest().join(sb.outer.path().strip_prefix("/").unwrap());
        assert_eq!(read(&inside.join("pwned")), b"y");
        sb.assert_confined();

        // A symlink to the canary's directory, then entries through it.
        let sb = Sandbox::new();
        let elsewhere = sb.elsewhere.path().as_os_str().as_bytes().to_vec();
        let mut l = Layer::new();
        l.symlink(b"evil", &elsewhere)
            .file(b"evil/canary", b"overwritten")
            .dir(b"evil/", 0o700);
        let _ = sb.unpack(&l.finish());
        sb.assert_confined();
    }

    /// Hardlink targets and hardlink paths are resolved in dest, through layer symlinks.
    #[test]
    fn hardlinks_resolve_inside_dest() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.file(b"real/target", b"data")
            .symlink(b"lnk", b"/real")
            .hardlink(b"via", b"lnk/target")
            .hardlink(b"lnk/second", b"real/target")
            .hardlink(b"third", b"/../real/./target");
        let stats = sb.unpack(&l.finish()).unwrap();
        let ino = |p: &str| fs_err::symlink_metadata(sb.path(p)).unwrap().ino();
        assert_eq!(ino("via"), ino("real/target"));
        assert_eq!(ino("real/second"), ino("real/target"));
        assert_eq!(ino("third"), ino("real/target"));
        assert_eq!(
            fs_err::symlink_metadata(sb.path("real/target"))
                .unwrap()
                .nlink(),
            4
        );
        assert_eq!(stats.content_bytes, 4, "hardlinked content counts once");
        sb.assert_confined();
    }

    /// Hardlinks to `/etc/passwd` (directly, via `..` or a symlink) never link the host file.
    #[test]
    fn hardlinks_to_host_files_are_refused() {
        let host = fs_err::metadata("/etc/passwd").unwrap();
        for target in [
            &b"/etc/passwd"[..],
            b"../../../etc/passwd",
            b"etc/passwd",
            b"hostetc/passwd",
        ] {
            let sb = Sandbox::new();
            let mut l = Layer::new();
            l.symlink(b"hostetc", b"/etc").hardlink(b"pw", target);
            let err = sb.unpack(&l.finish()).unwrap_err();
            assert!(
                matches!(err, UnpackError::HardlinkTarget { .. }),
                "unexpected error {err}"
            );
            assert!(err.to_string().contains("is not in the layer"), "{err}");
            if let Ok(m) = fs_err::symlink_metadata(sb.path("pw")) {
                assert_ne!((m.dev(), m.ino()), (host.dev(), host.ino()));
            }
            sb.assert_confined();
        }
        assert_eq!(
            host.nlink(),
            fs_err::metadata("/etc/passwd").unwrap().nlink()
        );

        // With the layer's own /etc/passwd the link goes to that one.
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.file(b"etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
            .hardlink(b"pw", b"/etc/passwd")
            .hardlink(b"pw2", b"../../../etc/passwd");
        sb.unpack(&l.finish()).unwrap();
        for p in ["pw", "pw2"] {
            let m = fs_err::symlink_metadata(sb.path(p)).unwrap();
            assert_ne!((m.dev(), m.ino()), (host.dev(), host.ino()));
            assert_eq!(
                m.ino(),
                fs_err::symlink_metadata(sb.path("etc/passwd"))
                    .unwrap()
                    .ino()
            );
        }
        sb.assert_confined();
    }

    /// A layer with a character device, a block device and a hardlink to the first.
    fn device_layer() -> Vec<u8> {
        let mut l = Layer::new();
        let mut h = Layer::header(b"dev/null", EntryType::Char, 0, 0o666);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        l.append(h, b"");
        let mut h = Layer::header(b"dev/loop9", EntryType::Block, 0, 0o660);
        h.set_device_major(7).unwrap();
        h.set_device_minor(9).unwrap();
        l.append(h, b"");
        l.hardlink(b"dev/null-link", b"/dev/null");
        l.finish()
    }

    /// Device nodes (and hardlinks to them) are skipped and listed, or created when allowed.
    #[test]
    fn devices_are_skipped_unless_allowed() {
        let sb = Sandbox::new();
        let stats = sb.unpack(&device_layer()).unwrap();
        assert_eq!(
            stats.skipped_devices,
            [
                PathBuf::from("dev/null"),
                PathBuf::from("dev/loop9"),
                PathBuf::from("dev/null-link")
            ]
        );
        assert!(!exists(&sb.path("dev")));
        assert_eq!(stats.entries, 3);
        sb.assert_confined();

        if !full_root() {
            eprintln!("note: not root of the initial user namespace, not creating devices");
            return;
        }
        let sb = Sandbox::new();
        let options = UnpackOptions {
            allow_devices: true,
        };
        let stats = sb.unpack_with(&device_layer(), &options).unwrap();
        assert!(stats.skipped_devices.is_empty());
        let m = fs_err::symlink_metadata(sb.path("dev/null")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), rfs::makedev(1, 3));
        assert_eq!(m.mode() & 0o7777, 0o666);
        assert_eq!(m.nlink(), 2);
        let m = fs_err::symlink_metadata(sb.path("dev/loop9")).unwrap();
        assert!(m.file_type().is_block_device());
        assert_eq!(m.rdev(), rfs::makedev(7, 9));
        assert_eq!(m.mode() & 0o7777, 0o660);
        assert_eq!(m.mtime(), MTIME);
        sb.assert_confined();
    }

    /// Truncated archives, corrupt headers and non-tar input are errors.
    #[test]
    fn truncated_and_garbage_archives_are_errors() {
        let mut l = Layer::new();
        let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        l.file(b"big", &big).file(b"after", b"after");
        let tar = l.finish();

        // Cut in the middle of the file data.
        let sb = Sandbox::new();
        let err = sb.unpack(&tar[..512 + 3000]).unwrap_err();
        assert!(
            matches!(
                err,
                UnpackError::Truncated { .. }
                    | UnpackError::EntryData { .. }
                    | UnpackError::Archive { .. }
            ),
            "{err}"
        );
        sb.assert_confined();

        // Cut in the middle of the second header.
        let sb = Sandbox::new();
        let second_header = 512 + 10_240;
        let err = sb.unpack(&tar[..second_header + 100]).unwrap_err();
        assert!(matches!(err, UnpackError::Archive { .. }), "{err}");
        sb.assert_confined();

        // Cut in the middle of the last data block's padding.
        let sb = Sandbox::new();
        assert!(sb.unpack(&tar[..second_header + 512 + 2]).is_err());

        // Not a tar at all.
        let sb = Sandbox::new();
        let garbage = b"this is definitely not a tar archive\n".repeat(100);
        let err = sb.unpack(&garbage).unwrap_err();
        assert!(matches!(err, UnpackError::Archive { .. }), "{err}");
        assert!(err.to_string().starts_with("cannot read layer archive"));
        assert_eq!(fs_err::read_dir(sb.dest()).unwrap().count(), 0);
        sb.assert_confined();

        // A header with a bad checksum after a good entry names the good entry.
        let mut bad = Layer::new();
        bad.file(b"good", b"ok");
        let mut bad = bad.finish();
        bad[1024] = b'x';
        bad[1024 + 148..1024 + 156].copy_from_slice(b"0000000\0");
        let sb = Sandbox::new();
        let err = sb.unpack(&bad).unwrap_err();
        assert!(err.to_string().contains("after entry `good`"), "{err}");
    }

    /// `.wh.NAME` becomes a 0:0 character device; aufs metadata entries are skipped.
    #[test]
    fn whiteouts_become_overlay_char_devices() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.file(b"foo", b"lower copy")
            .file(b".wh.foo", b"")
            .file(b"sub/.wh.bar", b"")
            .dir(b"gone/", 0o755)
            .file(b"gone/child", b"c")
            .file(b".wh.gone", b"")
            .file(b".wh..wh.plnk", b"")
            .file(b".wh..wh..wh.aufs", b"");
        let stats = sb.unpack(&l.finish()).unwrap();
        for p in ["foo", "sub/bar", "gone"] {
            let m = fs_err::symlink_metadata(sb.path(p)).unwrap();
            assert!(m.file_type().is_char_device(), "{p} is not a whiteout");
            assert_eq!(m.rdev(), 0, "{p}");
            assert_eq!(m.mode() & 0o7777, 0, "{p}");
        }
        for p in [
            ".wh.foo",
            "sub/.wh.bar",
            ".wh.gone",
            ".wh..wh.plnk",
            ".wh..wh..wh.aufs",
        ] {
            assert!(!exists(&sb.path(p)), "{p} was created");
        }
        assert_eq!(stats.entries, 8);
        sb.assert_confined();

        // A whiteout with no name is rejected.
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.file(b"d/.wh.", b"");
        assert!(matches!(
            sb.unpack(&l.finish()),
            Err(UnpackError::InvalidEntry { .. })
        ));
    }

    /// `.wh..wh..opq` sets `user.overlay.opaque=y` on its directory (created if missing).
    #[test]
    fn opaque_whiteouts_set_the_overlay_xattr() {
        let sb = Sandbox::new();
        if !user_xattrs_supported(sb.dest()) {
            eprintln!("note: skipping the opaque xattr assertions");
            return;
        }
        let mut l = Layer::new();
        l.dir(b"dir/", 0o750)
            .file(b"dir/keep", b"k")
            .file(b"dir/.wh..wh..opq", b"")
            .file(b"later/.wh..wh..opq", b"")
            .dir(b"later/", 0o700)
            .file(b"implicit/deeper/.wh..wh..opq", b"");
        sb.unpack(&l.finish()).unwrap();
        for d in ["dir", "later", "implicit/deeper"] {
            assert_eq!(
                xattr(&sb.path(d), "user.overlay.opaque").as_deref(),
                Some(&b"y"[..]),
                "{d}"
            );
            assert!(!exists(&sb.path(&format!("{d}/.wh..wh..opq"))));
        }
        assert_eq!(read(&sb.path("dir/keep")), b"k");
        let mode = |p: &str| fs_err::metadata(sb.path(p)).unwrap().mode() & 0o7777;
        assert_eq!(mode("dir"), 0o750);
        assert_eq!(mode("later"), 0o700);
        assert_eq!(mode("implicit/deeper"), 0o755);
        assert_eq!(mode("implicit"), 0o755);
        sb.assert_confined();

        // An opaque marker in a directory that is a symlink is an error, not followed.
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.symlink(b"s", sb.elsewhere.path().as_os_str().as_bytes())
            .file(b"s/.wh..wh..opq", b"");
        assert!(sb.unpack(&l.finish()).is_err());
        assert_eq!(xattr(sb.elsewhere.path(), "user.overlay.opaque"), None);
        sb.assert_confined();
    }

    /// Modes incl. setuid/setgid/sticky, owners, mtimes (directories last, PAX sub-second), xattrs.
    #[test]
    fn modes_owners_and_times() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        let mut root = Layer::header(b"./", EntryType::Directory, 0, 0o750);
        root.set_mtime(1_200_000_000);
        l.append(root, b"");
        let mut h = Layer::header(b"bin/suid", EntryType::Regular, 3, 0o4755);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_mtime(1_234_567_890);
        l.append(h, b"abc");
        let mut h = Layer::header(b"bin/sgid", EntryType::Regular, 0, 0o2711);
        h.set_gid(1001);
        l.append(h, b"");
        let mut h = Layer::header(b"tmp/", EntryType::Directory, 0, 0o1777);
        h.set_uid(1002);
        h.set_mtime(1_000_000_000);
        l.append(h, b"");
        l.file(b"tmp/child", b"written after the directory");
        let mut h = Layer::header(b"link", EntryType::Symlink, 0, 0o777);
        Layer::set_link(&mut h, b"bin/suid");
        h.set_uid(1003);
        h.set_gid(1004);
        h.set_mtime(1_111_111_111);
        l.append(h, b"");
        let h = Layer::header(b"pipe", EntryType::Fifo, 0, 0o640);
        l.append(h, b"");
        l.pax(&[
            ("mtime", b"1500000000.25"),
            ("SCHILY.xattr.user.berth", b"value"),
            ("SCHILY.xattr.user.overlay.redirect", b"/etc"),
        ]);
        l.file(b"precise", b"p");
        let mut h = Layer::header(b"bigid", EntryType::Regular, 0, 0o600);
        h.set_uid(0o7_777_777);
        l.append(h, b"");
        let stats = sb.unpack(&l.finish()).unwrap();

        let meta = |p: &str| fs_err::symlink_metadata(sb.path(p)).unwrap();
        let m = meta("bin/suid");
        assert_eq!(m.mode() & 0o7777, 0o4755, "setuid kept after chown");
        assert_eq!(m.mtime(), 1_234_567_890);
        assert_eq!(meta("bin/sgid").mode() & 0o7777, 0o2711);
        let t = meta("tmp");
        assert!(t.is_dir());
        assert_eq!(t.mode() & 0o7777, 0o1777);
        assert_eq!(t.mtime(), 1_000_000_000, "directory mtime applied last");
        let root = fs_err::metadata(sb.dest()).unwrap();
        assert_eq!(root.mode() & 0o7777, 0o750);
        assert_eq!(root.mtime(), 1_200_000_000);
        let s = meta("link");
        assert!(s.file_type().is_symlink());
        assert_eq!(s.mtime(), 1_111_111_111);
        assert_eq!(
            fs_err::read_link(sb.path("link")).unwrap(),
            Path::new("bin/suid")
        );
        let p = meta("pipe");
        assert!(p.file_type().is_fifo());
        assert_eq!(p.mode() & 0o7777, 0o640);
        assert_eq!(p.mtime(), MTIME);
        let precise = meta("precise");
        assert_eq!(
            (precise.mtime(), precise.mtime_nsec()),
            (1_500_000_000, 250_000_000)
        );
        assert_eq!(meta("bin").mode() & 0o7777, 0o755, "implicit parent mode");
        assert_eq!(read(&sb.path("bin/suid")), b"abc");

        if full_root() {
            assert_eq!(stats.unmapped_owners, 0);
            assert_eq!((m.uid(), m.gid()), (1000, 1000));
            assert_eq!(meta("bin/sgid").gid(), 1001);
            assert_eq!(t.uid(), 1002);
            assert_eq!((s.uid(), s.gid()), (1003, 1004));
            assert_eq!(meta("bigid").uid(), 0o7_777_777);
        } else if single_id_map() {
            // Mapped to one id: every other owner is tolerated and left as 0.
            assert_eq!(stats.unmapped_owners, 5);
            assert_eq!((m.uid(), m.gid()), (0, 0));
            assert_eq!((s.uid(), s.gid()), (0, 0));
        } else {
            eprintln!("note: unusual uid map, owners not checked");
        }
        if user_xattrs_supported(sb.outer.path()) {
            assert_eq!(
                xattr(&sb.path("precise"), "user.berth").as_deref(),
                Some(&b"value"[..])
            );
            assert_eq!(xattr(&sb.path("precise"), "user.overlay.redirect"), None);
        }
        sb.assert_confined();
    }

    /// An existing symlink is replaced, never followed, by a file, directory, FIFO or symlink.
    #[test]
    fn symlinks_are_not_followed_when_replaced() {
        let sb = Sandbox::new();
        let canary = sb.canary().as_os_str().as_bytes().to_vec();
        let elsewhere = sb.elsewhere.path().as_os_str().as_bytes().to_vec();
        let mut l = Layer::new();
        l.symlink(b"f", &canary);
        let mut h = Layer::header(b"f", EntryType::Regular, 3, 0o777);
        h.set_uid(1234);
        l.append(h, b"new");
        l.symlink(b"g", &canary).dir(b"g/", 0o700);
        l.symlink(b"h", &canary)
            .append(Layer::header(b"h", EntryType::Fifo, 0, 0o600), b"");
        l.symlink(b"d", &elsewhere).dir(b"d/", 0o700);
        l.symlink(b"k", &canary).symlink(b"k", b"/elsewhere");
        sb.unpack(&l.finish()).unwrap();
        let m = fs_err::symlink_metadata(sb.path("f")).unwrap();
        assert!(m.file_type().is_file());
        assert_eq!(m.mode() & 0o7777, 0o777);
        assert_eq!(read(&sb.path("f")), b"new");
        assert!(fs_err::symlink_metadata(sb.path("g")).unwrap().is_dir());
        assert!(
            fs_err::symlink_metadata(sb.path("h"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert!(fs_err::symlink_metadata(sb.path("d")).unwrap().is_dir());
        assert_eq!(
            fs_err::read_link(sb.path("k")).unwrap(),
            Path::new("/elsewhere")
        );
        sb.assert_confined();
    }

    /// A directory tree is replaced by a file, a file by a directory; a directory entry keeps children.
    #[test]
    fn directories_and_files_replace_each_other() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.dir(b"d/", 0o755)
            .dir(b"d/sub/", 0o755)
            .file(b"d/sub/f", b"f")
            .symlink(b"d/sub/root", b"/")
            .symlink(b"d/sub/canary", sb.canary().as_os_str().as_bytes())
            .dir(b"d/sub/locked/", 0o000)
            .file(b"d/sub/locked/x", b"x")
            .file(b"d", b"now a file")
            .file(b"e", b"was a file")
            .dir(b"e/", 0o711)
            .file(b"e/inner", b"i")
            .dir(b"k/", 0o755)
            .file(b"k/child", b"kept")
            .dir(b"k/", 0o700);
        sb.unpack(&l.finish()).unwrap();
        assert_eq!(read(&sb.path("d")), b"now a file");
        let e = fs_err::symlink_metadata(sb.path("e")).unwrap();
        assert!(e.is_dir());
        assert_eq!(e.mode() & 0o7777, 0o711);
        assert_eq!(read(&sb.path("e/inner")), b"i");
        assert_eq!(read(&sb.path("k/child")), b"kept");
        assert_eq!(
            fs_err::metadata(sb.path("k")).unwrap().mode() & 0o7777,
            0o700
        );
        sb.assert_confined();

        // A regular file cannot serve as a parent directory.
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.file(b"f", b"x").file(b"f/g", b"y");
        assert!(matches!(
            sb.unpack(&l.finish()),
            Err(UnpackError::Io { .. })
        ));
        sb.assert_confined();

        // A symlink loop as a parent is an error.
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.symlink(b"loop", b"loop").file(b"loop/x", b"y");
        assert!(sb.unpack(&l.finish()).is_err());
        sb.assert_confined();
    }

    /// GNU long names, PAX paths, long link names and non-UTF-8 names.
    #[test]
    fn long_and_non_utf8_paths() {
        let sb = Sandbox::new();
        let long = format!("{}/{}/{}", "a".repeat(60), "b".repeat(60), "c".repeat(50));
        assert!(long.len() > 100);
        let mut l = Layer::new();
        // GNU long name (set by Builder::append_data).
        let mut h = Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_entry_type(EntryType::Regular);
        l.builder.append_data(&mut h, &long, &b"long"[..]).unwrap();
        // PAX path.
        let pax_path = format!("{}/pax-file", "p".repeat(120));
        l.pax(&[("path", pax_path.as_bytes())]);
        l.file(b"short-name-ignored", b"pax");
        // GNU long link name.
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        l.builder
            .append_link(&mut h, "longlink", format!("/{long}"))
            .unwrap();
        l.file(b"caf\xe9", b"latin1");
        sb.unpack(&l.finish()).unwrap();
        assert_eq!(read(&sb.path(&long)), b"long");
        assert_eq!(read(&sb.path(&pax_path)), b"pax");
        assert!(!exists(&sb.path("short-name-ignored")));
        assert_eq!(
            fs_err::read_link(sb.path("longlink")).unwrap(),
            PathBuf::from(format!("/{long}"))
        );
        let latin1 = sb.dest().join(OsStr::from_bytes(b"caf\xe9"));
        assert_eq!(read(&latin1), b"latin1");
        sb.assert_confined();
    }

    /// `entries` and `content_bytes` (hardlinks once); PAX global headers are skipped.
    #[test]
    fn stats_count_entries_and_content() {
        let sb = Sandbox::new();
        let mut l = Layer::new();
        // A pax global header is skipped and not counted.
        l.append(
            Layer::header(b"pax_global_header", EntryType::XGlobalHeader, 15, 0o644),
            b"15 comment=abc\n",
        );
        l.dir(b"d/", 0o755)
            .file(b"d/five", b"12345")
            .file(b"seven", b"1234567")
            .hardlink(b"d/seven-again", b"seven")
            .symlink(b"d/s", b"../seven");
        let stats = sb.unpack(&l.finish()).unwrap();
        assert_eq!(stats.entries, 5);
        assert_eq!(stats.content_bytes, 12);
        assert!(stats.skipped_devices.is_empty());
        assert!(!exists(&sb.path("pax_global_header")));
        sb.assert_confined();

        // An empty layer (just the end-of-archive blocks).
        let sb = Sandbox::new();
        let stats = sb.unpack(&Layer::new().finish()).unwrap();
        assert_eq!((stats.entries, stats.content_bytes), (0, 0));
    }

    /// Volume labels, multivolume, unknown and GNU sparse entries are errors.
    #[test]
    fn unusual_entry_types_are_errors() {
        for flag in [b'V', b'M', b'Z'] {
            let sb = Sandbox::new();
            let mut l = Layer::new();
            l.append(Layer::header(b"odd", EntryType::new(flag), 0, 0o644), b"");
            let err = sb.unpack(&l.finish()).unwrap_err();
            assert!(
                matches!(err, UnpackError::UnsupportedType { .. }),
                "{}: {err}",
                flag as char
            );
            assert!(err.to_string().contains("`odd`"), "{err}");
            sb.assert_confined();
        }
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.append(
            Layer::header(b"sparse", EntryType::GNUSparse, 0, 0o644),
            b"",
        );
        assert!(sb.unpack(&l.finish()).is_err());
        assert!(!exists(&sb.path("sparse")));

        // A non-directory entry for the root itself.
        let sb = Sandbox::new();
        let mut l = Layer::new();
        l.file(b"./", b"");
        assert!(matches!(
            sb.unpack(&l.finish()),
            Err(UnpackError::InvalidEntry { .. })
        ));
    }

    /// A missing destination is reported as such.
    #[test]
    fn missing_destination_is_an_error() {
        let sb = Sandbox::new();
        let missing = sb.path("missing");
        let err = unpack_layer(
            &Layer::new().finish()[..],
            &missing,
            &UnpackOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, UnpackError::OpenDestination { .. }), "{err}");
    }

    /// PAX time values with fractions and signs.
    #[test]
    fn pax_times_parse() {
        assert_eq!(
            parse_pax_time(b"1500000000.25"),
            Some((1_500_000_000, 250_000_000))
        );
        assert_eq!(parse_pax_time(b"12"), Some((12, 0)));
        assert_eq!(parse_pax_time(b"-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_pax_time(b"1.1234567891"), Some((1, 123_456_789)));
        assert_eq!(parse_pax_time(b"x"), None);
        assert_eq!(parse_pax_time(b""), None);
        assert_eq!(parse_pax_time(b"1.2e3"), None);
    }

    /// Lexical path normalisation never goes above the root.
    #[test]
    fn normalization_is_chroot_like() {
        let n = |p: &[u8]| {
            normalize(p)
                .iter()
                .map(|c| String::from_utf8(c.clone()).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(n(b"../../x"), ["x"]);
        assert_eq!(n(b"/abs//file/"), ["abs", "file"]);
        assert_eq!(n(b"./a/../../b"), ["b"]);
        assert_eq!(n(b"a/./b/../c"), ["a", "c"]);
        assert!(n(b"./").is_empty());
        assert!(n(b"").is_empty());
        assert!(n(b"/..").is_empty());
    }
}
