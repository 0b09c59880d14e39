//! `COPY`/`ADD` from the build context (or any [`Source`]) into the root filesystem of the
//! image being built, with Docker's destination rules.
//!
//! Tree line (STYLE.md §2): `build/copy.rs`, the write side of COPY/ADD. It uses only
//! `super::context` and external crates.
//!
//! The destination root is an overlay mount of an image, and the image may hold symlinks that
//! point anywhere (`/etc -> /x`, `link -> ../../..`). Every destination path is therefore
//! resolved with `openat2(2)` and `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` relative to a
//! directory fd of the root, so symlinks in the image are followed the way they would be inside
//! the container and never lead out of it; the final component of each copied entry is only
//! touched with `*at` calls that do not follow symlinks (`O_NOFOLLOW | O_EXCL`,
//! `AT_SYMLINK_NOFOLLOW`). No `std::fs` call ever sees a path below the root.
//!
//! Docker rules implemented (BuildKit behaviour where the two builders differ):
//! - a relative `dest` is relative to the WORKDIR; `dest` ending in `/` (or `.`), several
//!   sources, several wildcard matches, or `--parents` make it a directory, created if missing;
//!   several source *arguments* need the trailing `/`;
//! - a directory source copies its contents (with `--parents`, the directory at its context
//!   path, or at its path below the `/./` pivot: `COPY --parents x/./y/z /d/` writes
//!   `/d/y/z`); a file source goes into `dest` if that resolves to a directory, else becomes `dest`;
//! - the top-level `dest` is resolved following symlinks in the image (`COPY x /bin/` with
//!   `/bin -> usr/bin` writes to `/usr/bin`); entries *below* it are not: a directory of the
//!   source meeting a non-directory (including a symlink) in the image is an error, as in
//!   BuildKit ("cannot copy to non-directory"), and a non-directory meeting a directory is one
//!   too; non-directories replace non-directories; directories merge, keeping the existing
//!   directory's metadata;
//! - owner 0:0 unless `--chown` (or the source's, with [`CopyOptions::keep_owners`]); the
//!   source's permission bits unless `--chmod` (files and directories); modification times
//!   kept; missing parents are created 0755 with the copy's owner;
//! - symlinks are copied as symlinks, target verbatim; hard links inside the copied set become
//!   separate files (BuildKit keeps them linked; the layer is a bit larger, nothing else
//!   changes); FIFOs, sockets and devices in the context are skipped.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt as _;
use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid,
};
use rustix::io::Errno;

use super::context::{
    ContextError, DockerIgnore, ExtraFilter, Source, SourceKind, WalkEntry, walk,
};

/// How often an `openat2` failing with `EAGAIN` (a concurrent rename somewhere) is retried.
const OPENAT2_RETRIES: u32 = 64;
/// Most dangling symlinks followed while creating one destination directory.
const MAX_SYMLINKS: u32 = 40;
/// Mode of directories created because they are missing parents.
const PARENT_DIR_MODE: u32 = 0o755;

/// Options of [`copy_into`] (the flags of `COPY`/`ADD`, already resolved).
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--chown`, resolved to numeric ids by the caller; `None` is 0:0.
    pub chown: Option<(u32, u32)>,
    /// `--chmod` permission bits for copied files and directories; `None` keeps the source's.
    pub chmod: Option<u32>,
    /// `--parents`: keep each source's path relative to the context (or, for a source from
    /// [`super::context::BuildContext::resolve_parents`], below its `/./` pivot) below `dest`,
    /// which is created even when there is nothing to copy.
    pub parents: bool,
    /// `--exclude` patterns (`.dockerignore` syntax). They are matched against paths relative
    /// to each source: for a directory named directly, paths below it (`sub/x.txt`); for a
    /// wildcard match, paths starting with the matched name (`home.txt`, `homedir/x.txt`), so
    /// `COPY --exclude=*.txt hom* /d/` skips `home.txt`. A file named directly is never
    /// excluded.
    pub excludes: Vec<String>,
    /// Keep each entry's owner (from its source) when `chown` is `None`, instead of 0:0 (ADD
    /// of a local archive, extracted into a staging directory first). Missing parents are still
    /// created 0:0.
    pub keep_owners: bool,
}

/// What [`copy_into`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files and symlinks written.
    pub files: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Why a copy failed. Paths are inside the image (`/usr/bin/x`). On error the root is left
/// partially written; the caller discards the layer.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The root filesystem directory could not be opened.
    #[error("cannot open the image root filesystem `{}`", .path.display())]
    OpenRoot {
        /// The root directory on the host.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The kernel lacks `openat2(2)`, which confines path resolution to the root.
    #[error(
        "cannot copy safely: `openat2` is not available (linux 5.6 or newer is required, and a seccomp filter must allow it)"
    )]
    Openat2Unsupported {
        /// `ENOSYS`, or `EPERM` from a seccomp filter.
        #[source]
        source: io::Error,
    },
    /// Several source arguments and a destination without a trailing `/` (Docker's wording).
    #[error(
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    )]
    NeedDirectory,
    /// An `--exclude` pattern is malformed.
    #[error("invalid `--exclude` pattern")]
    Exclude(#[source] ContextError),
    /// A source could not be read.
    #[error("cannot read source `{rel}`")]
    Source {
        /// The source as named.
        rel: String,
        /// The underlying error.
        #[source]
        source: ContextError,
    },
    /// A directory would have to be created or entered where the image has a non-directory.
    #[error("cannot copy to non-directory: `{path}`")]
    NotADirectory {
        /// The path in the image.
        path: String,
    },
    /// A non-directory would replace a directory of the image.
    #[error("cannot replace directory `{path}` with a non-directory")]
    IsADirectory {
        /// The path in the image.
        path: String,
    },
    /// A heredoc name is not a single path component.
    #[error("invalid file name `{0}` for a heredoc")]
    InvalidName(String),
    /// A filesystem operation in the image failed.
    #[error("cannot {op} `{path}` in the image")]
    Io {
        /// The path in the image.
        path: String,
        /// What was being done, e.g. "create file".
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

type Result<T, E = CopyError> = std::result::Result<T, E>;

/// A path inside the image, as normalised components (empty = `/`).
type Components = Vec<Vec<u8>>;

/// Copies `sources` (from [`super::context::BuildContext::resolve`], or [`Source::new`] for
/// other roots) into the root filesystem `root` at `dest` (relative to `workdir`, the image's
/// WORKDIR, `/` by default), with Docker's rules described in the module docs. Entries the
/// context's `.dockerignore` excludes are skipped through the rules each [`Source`] carries.
///
/// # Errors
///
/// See [`CopyError`]; the first failure stops the copy.
pub fn copy_into(
    root: &Path,
    sources: &[Source],
    dest: &str,
    workdir: &str,
    options: &CopyOptions,
) -> Result<CopyStats> {
    let target = Destination::parse(dest, workdir);
    let mut origins: Vec<&str> = sources.iter().map(|s| s.origin.as_str()).collect();
    origins.sort_unstable();
    origins.dedup();
    if origins.len() > 1 && !target.is_dir {
        return Err(CopyError::NeedDirectory);
    }
    let excludes = DockerIgnore::from_patterns(&options.excludes).map_err(CopyError::Exclude)?;
    let mut copier = Copier::new(root, options.chown.unwrap_or((0, 0)))?;
    copier.keep_owners = options.keep_owners && options.chown.is_none();
    let into_dir = target.is_dir || options.parents || sources.len() > 1;
    if options.parents {
        // BuildKit creates the destination even when the patterns match nothing.
        copier.ensure_dir(&target.components)?;
    }
    for source in sources {
        copier.copy_source(source, &target.components, into_dir, &excludes, options)?;
    }
    copier.apply_dir_times()?;
    Ok(copier.stats)
}

/// Writes `content` as a new file for `COPY <<name dest`: `dest` ending in `/` (or naming an
/// existing directory) receives a file called `name`, otherwise `dest` is the file. Missing
/// parents are created 0755 with `owner`.
///
/// # Errors
///
/// `name` is not a plain file name, or a filesystem operation fails (see [`CopyError`]).
pub fn write_file_into(
    root: &Path,
    dest: &str,
    workdir: &str,
    name: &str,
    content: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> Result<CopyStats> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(CopyError::InvalidName(name.to_owned()));
    }
    let target = Destination::parse(dest, workdir);
    let mut copier = Copier::new(root, owner)?;
    let path = copier.file_target(&target.components, target.is_dir, name.as_bytes())?;
    let (parent, leaf) = copier.parent_of(&path)?;
    let shown = show(&path);
    let mut file = Copier::create_file(&parent, &leaf, &shown)?;
    file.write_all(content)
        .map_err(io_err(&shown, "write file data"))?;
    copier.finish_node(file.as_fd(), &shown, mode & 0o7777)?;
    copier.stats.files += 1;
    copier.stats.bytes += content.len() as u64;
    Ok(copier.stats)
}

/// `WORKDIR`: creates `path` and its missing parents (0755, owned by `owner`) inside `root`.
///
/// # Errors
///
/// A component exists and is not a directory, or a filesystem operation fails.
pub fn make_dirs_into(root: &Path, path: &str, owner: (u32, u32)) -> Result<()> {
    let mut copier = Copier::new(root, owner)?;
    copier.ensure_dir(&normalize(path.as_bytes()))?;
    Ok(())
}

/// A parsed `dest` argument.
struct Destination {
    /// Absolute path in the image, normalised.
    components: Components,
    /// Whether it names a directory (trailing `/`, `.`).
    is_dir: bool,
}

impl Destination {
    /// Applies WORKDIR and normalises like a chroot (`..` stops at `/`).
    fn parse(dest: &str, workdir: &str) -> Self {
        let is_dir = dest.is_empty() || dest == "." || dest.ends_with('/') || dest.ends_with("/.");
        let full = if dest.starts_with('/') {
            dest.to_owned()
        } else {
            format!("{workdir}/{dest}")
        };
        Self {
            components: normalize(full.as_bytes()),
            is_dir,
        }
    }
}

/// Normalises a path like a chroot would: strips `/` and `.`, resolves `..` lexically without
/// going above the root.
fn normalize(raw: &[u8]) -> Components {
    let mut out: Components = Vec::new();
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

/// The components of a relative host path.
fn relative_components(rel: &Path) -> Components {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.as_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

/// `/a/b` for display.
fn show(components: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for c in components {
        out.push('/');
        out.push_str(&String::from_utf8_lossy(c));
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Builds the `Io` error mapper for an image path.
fn io_err<E: Into<io::Error>>(path: &str, op: &'static str) -> impl FnOnce(E) -> CopyError {
    let path = path.to_owned();
    move |e| CopyError::Io {
        path,
        op,
        source: e.into(),
    }
}

/// Timestamps with atime = mtime = the entry's mtime.
fn mtime_of(entry: &WalkEntry) -> Timestamps {
    let t = Timespec {
        tv_sec: entry.metadata.mtime(),
        tv_nsec: entry.metadata.mtime_nsec(),
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Opens `path` (relative, normalised components; empty = the root) as an `O_PATH` fd,
/// resolving every symlink as if `root` were `/`.
fn resolve_in_root(root: BorrowedFd<'_>, path: &[Vec<u8>], directory: bool) -> io::Result<OwnedFd> {
    let joined = if path.is_empty() {
        b".".to_vec()
    } else {
        path.join(&b'/')
    };
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if directory {
        flags |= OFlags::DIRECTORY;
    }
    let mut tries = 0;
    loop {
        match rfs::openat2(
            root,
            joined.as_slice(),
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            // EAGAIN: a rename elsewhere raced with `..` resolution; EINTR: a signal.
            Err(Errno::AGAIN | Errno::INTR) if tries < OPENAT2_RETRIES => tries += 1,
            result => return result.map_err(io::Error::from),
        }
    }
}

/// Whether an errno means "not there".
fn is_missing(error: &io::Error) -> bool {
    error.raw_os_error() == Some(Errno::NOENT.raw_os_error())
}

/// Whether an errno means "a component is not a directory".
fn is_not_dir(error: &io::Error) -> bool {
    error.raw_os_error() == Some(Errno::NOTDIR.raw_os_error())
}

/// State of one copy.
struct Copier {
    /// Directory fd of the root filesystem.
    root: OwnedFd,
    /// Owner of everything written.
    owner: (Uid, Gid),
    /// Copied entries keep their source's owner instead ([`CopyOptions::keep_owners`]).
    keep_owners: bool,
    /// `--chmod`, if any.
    chmod: Option<u32>,
    /// What was written.
    stats: CopyStats,
    /// Directories created, with the times to set once their content is written.
    dir_times: Vec<(Components, Timestamps)>,
    /// The last parent directory resolved, to avoid one `openat2` per file.
    parent_cache: Option<(Components, OwnedFd)>,
}

impl Copier {
    /// Opens the root and checks that `openat2` works.
    fn new(root: &Path, owner: (u32, u32)) -> Result<Self> {
        let open_error = |source: io::Error| CopyError::OpenRoot {
            path: root.to_path_buf(),
            source,
        };
        let fd = rfs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| open_error(e.into()))?;
        match resolve_in_root(fd.as_fd(), &[], true) {
            Ok(_) => {}
            Err(e)
                if e.raw_os_error() == Some(Errno::NOSYS.raw_os_error())
                    || e.raw_os_error() == Some(Errno::PERM.raw_os_error()) =>
            {
                return Err(CopyError::Openat2Unsupported { source: e });
            }
            Err(e) => return Err(open_error(e)),
        }
        Ok(Self {
            root: fd,
            owner: (Uid::from_raw(owner.0), Gid::from_raw(owner.1)),
            keep_owners: false,
            chmod: None,
            stats: CopyStats::default(),
            dir_times: Vec::new(),
            parent_cache: None,
        })
    }

    /// Copies one source.
    fn copy_source(
        &mut self,
        source: &Source,
        dest: &[Vec<u8>],
        into_dir: bool,
        excludes: &DockerIgnore,
        options: &CopyOptions,
    ) -> Result<()> {
        self.chmod = options.chmod;
        let name = source_name(source);
        let base: Components = if options.parents {
            let kept = source
                .rel
                .strip_prefix(&source.pivot)
                .unwrap_or(&source.rel);
            let mut base = dest.to_vec();
            base.extend(normalize(kept.as_bytes()));
            base
        } else if source.kind == SourceKind::Dir {
            dest.to_vec()
        } else {
            self.file_target(dest, into_dir, &name)?
        };
        let prefix = if source.wildcard {
            String::from_utf8_lossy(&name).into_owned()
        } else {
            String::new()
        };
        let extra = (!excludes.is_empty()).then_some(ExtraFilter {
            patterns: excludes,
            prefix: &prefix,
        });
        for entry in walk(source, extra) {
            let entry = entry.map_err(|e| CopyError::Source {
                rel: source.rel.clone(),
                source: e,
            })?;
            let mut path = base.clone();
            path.extend(relative_components(&entry.rel));
            if entry.rel.as_os_str().is_empty() && entry.kind == SourceKind::Dir {
                self.top_dir(&path, &entry)?;
            } else {
                self.entry(&path, &entry)?;
            }
        }
        Ok(())
    }

    /// Where a single non-directory called `name` goes for `dest`.
    fn file_target(&mut self, dest: &[Vec<u8>], into_dir: bool, name: &[u8]) -> Result<Components> {
        let mut target = dest.to_vec();
        if into_dir {
            self.ensure_dir(dest)?;
            target.push(name.to_vec());
        } else if self.is_dir(dest)? {
            target.push(name.to_vec());
        }
        Ok(target)
    }

    /// Whether `path` resolves (following symlinks in the root) to a directory.
    fn is_dir(&self, path: &[Vec<u8>]) -> Result<bool> {
        match resolve_in_root(self.root.as_fd(), path, false) {
            Ok(fd) => {
                let st = rfs::fstat(&fd).map_err(io_err(&show(path), "stat"))?;
                Ok(FileType::from_raw_mode(st.st_mode) == FileType::Directory)
            }
            Err(e) if is_missing(&e) || is_not_dir(&e) => Ok(false),
            Err(e) => Err(io_err(&show(path), "resolve")(e)),
        }
    }

    /// The directory a directory source's content goes into (or, with `--parents`, the
    /// directory itself): resolved following symlinks; created with the source's metadata if
    /// missing, left as it is if present.
    fn top_dir(&mut self, path: &[Vec<u8>], entry: &WalkEntry) -> Result<()> {
        match resolve_in_root(self.root.as_fd(), path, false) {
            Ok(fd) => {
                let st = rfs::fstat(&fd).map_err(io_err(&show(path), "stat"))?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    return Ok(());
                }
                Err(CopyError::NotADirectory { path: show(path) })
            }
            Err(e) if is_missing(&e) => self.entry(path, entry),
            Err(e) if is_not_dir(&e) => Err(CopyError::NotADirectory { path: show(path) }),
            Err(e) => Err(io_err(&show(path), "resolve")(e)),
        }
    }

    /// Resolves the parent of `path`, creating missing directories. Returns it and the name.
    fn parent_of(&mut self, path: &[Vec<u8>]) -> Result<(OwnedFd, Vec<u8>)> {
        let Some((name, parent)) = path.split_last() else {
            return Err(CopyError::IsADirectory { path: show(path) });
        };
        if let Some((cached, fd)) = &self.parent_cache
            && cached.as_slice() == parent
        {
            let fd = fd.try_clone().map_err(io_err(&show(parent), "resolve"))?;
            return Ok((fd, name.clone()));
        }
        let fd = self.ensure_dir(parent)?;
        let copy = fd.try_clone().map_err(io_err(&show(parent), "resolve"))?;
        self.parent_cache = Some((parent.to_vec(), copy));
        Ok((fd, name.clone()))
    }

    /// Opens the directory `path`, creating missing ones (mode 0755, the copy's owner), each
    /// step resolved in the root. A dangling symlink on the way is followed (inside the root)
    /// and its target created, as BuildKit's `MkdirAll` on a root-scoped path does.
    fn ensure_dir(&mut self, path: &[Vec<u8>]) -> Result<OwnedFd> {
        match resolve_in_root(self.root.as_fd(), path, true) {
            Ok(fd) => return Ok(fd),
            Err(e) if is_missing(&e) || is_not_dir(&e) => {}
            Err(e) => return Err(io_err(&show(path), "resolve")(e)),
        }
        let root = || resolve_in_root(self.root.as_fd(), &[], true).map_err(io_err("/", "resolve"));
        // `components` may gain `..` from symlink targets: only `openat2` interprets them.
        let mut components = path.to_vec();
        let mut current = root()?;
        let mut links = 0;
        let mut i = 0;
        while i < components.len() {
            let shown = show(&components[..=i]);
            let name = components[i].as_slice();
            match resolve_in_root(self.root.as_fd(), &components[..=i], true) {
                Ok(fd) => current = fd,
                Err(e) if is_missing(&e) => {
                    match rfs::mkdirat(&current, name, Mode::from_raw_mode(0o700)) {
                        Ok(()) => {}
                        Err(Errno::EXIST) if links < MAX_SYMLINKS => {
                            let target = rfs::readlinkat(&current, name, Vec::new())
                                .map_err(io_err(&shown, "create directory"))?;
                            links += 1;
                            let target = target.as_bytes();
                            let mut spliced: Components = if target.starts_with(b"/") {
                                Vec::new()
                            } else {
                                components[..i].to_vec()
                            };
                            spliced.extend(
                                target
                                    .split(|&b| b == b'/')
                                    .filter(|c| !c.is_empty())
                                    .map(<[u8]>::to_vec),
                            );
                            spliced.extend_from_slice(&components[i + 1..]);
                            components = spliced;
                            current = root()?;
                            i = 0;
                            continue;
                        }
                        Err(e) => return Err(io_err(&shown, "create directory")(e)),
                    }
                    let dir = open_dir_nofollow(&current, name)
                        .map_err(io_err(&shown, "open directory"))?;
                    self.finish_node(dir.as_fd(), &shown, PARENT_DIR_MODE)?;
                    current = dir;
                }
                Err(e) if is_not_dir(&e) => return Err(CopyError::NotADirectory { path: shown }),
                Err(e) => return Err(io_err(&shown, "resolve")(e)),
            }
            i += 1;
        }
        Ok(current)
    }

    /// Sets owner then mode (chown clears setuid bits, so it goes first).
    fn finish_node(&self, fd: BorrowedFd<'_>, shown: &str, mode: u32) -> Result<()> {
        self.finish_as(fd, shown, mode, self.owner)
    }

    /// [`Copier::finish_node`] for a copied entry, whose owner may be its own.
    fn finish_entry(
        &self,
        fd: BorrowedFd<'_>,
        shown: &str,
        mode: u32,
        entry: &WalkEntry,
    ) -> Result<()> {
        self.finish_as(fd, shown, mode, self.owner_for(entry))
    }

    fn finish_as(
        &self,
        fd: BorrowedFd<'_>,
        shown: &str,
        mode: u32,
        owner: (Uid, Gid),
    ) -> Result<()> {
        rfs::fchown(fd, Some(owner.0), Some(owner.1)).map_err(io_err(shown, "set owner of"))?;
        rfs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(io_err(shown, "set mode of"))
    }

    /// The owner a copied entry gets.
    fn owner_for(&self, entry: &WalkEntry) -> (Uid, Gid) {
        if self.keep_owners {
            (
                Uid::from_raw(entry.metadata.uid()),
                Gid::from_raw(entry.metadata.gid()),
            )
        } else {
            self.owner
        }
    }

    /// The mode for a copied file or directory.
    fn mode_for(&self, entry: &WalkEntry) -> u32 {
        self.chmod.unwrap_or(entry.metadata.mode()) & 0o7777
    }

    /// Writes one entry at `path` (whose parent is resolved in the root; the last component is
    /// never followed).
    fn entry(&mut self, path: &[Vec<u8>], entry: &WalkEntry) -> Result<()> {
        let (parent, name) = self.parent_of(path)?;
        let shown = show(path);
        let existing = match rfs::statat(&parent, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(FileType::from_raw_mode(st.st_mode)),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(io_err(&shown, "stat")(e)),
        };
        match (entry.kind, existing) {
            (SourceKind::Dir, Some(FileType::Directory)) => Ok(()),
            (SourceKind::Dir, Some(_)) => Err(CopyError::NotADirectory { path: shown }),
            (SourceKind::Dir, None) => {
                rfs::mkdirat(&parent, name.as_slice(), Mode::from_raw_mode(0o700))
                    .map_err(io_err(&shown, "create directory"))?;
                let dir =
                    open_dir_nofollow(&parent, &name).map_err(io_err(&shown, "open directory"))?;
                self.finish_entry(dir.as_fd(), &shown, self.mode_for(entry), entry)?;
                self.dir_times.push((path.to_vec(), mtime_of(entry)));
                Ok(())
            }
            (_, Some(FileType::Directory)) => Err(CopyError::IsADirectory { path: shown }),
            (kind, existing) => {
                if existing.is_some() {
                    rfs::unlinkat(&parent, name.as_slice(), AtFlags::empty())
                        .map_err(io_err(&shown, "remove the existing"))?;
                }
                if kind == SourceKind::Symlink {
                    self.symlink(&parent, &name, &shown, entry)
                } else {
                    self.file(&parent, &name, &shown, entry)
                }
            }
        }
    }

    /// Creates an empty file for writing; the name must be free.
    fn create_file(parent: &OwnedFd, name: &[u8], shown: &str) -> Result<File> {
        match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                return Err(CopyError::IsADirectory {
                    path: shown.to_owned(),
                });
            }
            Ok(_) => rfs::unlinkat(parent, name, AtFlags::empty())
                .map_err(io_err(shown, "remove the existing"))?,
            Err(Errno::NOENT) => {}
            Err(e) => return Err(io_err(shown, "stat")(e)),
        }
        let fd = rfs::openat(
            parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(io_err(shown, "create file"))?;
        Ok(File::from(fd))
    }

    /// Copies a regular file, streaming (`copy_file_range` where the kernel can).
    fn file(
        &mut self,
        parent: &OwnedFd,
        name: &[u8],
        shown: &str,
        entry: &WalkEntry,
    ) -> Result<()> {
        // The walk saw a regular file; never follow a symlink that replaced it since.
        let mut source = fs_err::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&entry.path)
            .map_err(|e| CopyError::Source {
                rel: entry.path.display().to_string(),
                source: ContextError::Read(e),
            })?;
        let mut file = Self::create_file(parent, name, shown)?;
        let copied = io::copy(&mut source, &mut file).map_err(io_err(shown, "write file data"))?;
        self.finish_entry(file.as_fd(), shown, self.mode_for(entry), entry)?;
        rfs::futimens(&file, &mtime_of(entry)).map_err(io_err(shown, "set times of"))?;
        self.stats.files += 1;
        self.stats.bytes += copied;
        Ok(())
    }

    /// Creates a symlink with the source's target, verbatim.
    fn symlink(
        &mut self,
        parent: &OwnedFd,
        name: &[u8],
        shown: &str,
        entry: &WalkEntry,
    ) -> Result<()> {
        let target = entry.link_target.as_deref().unwrap_or(Path::new(""));
        rfs::symlinkat(target, parent, name).map_err(io_err(shown, "create symlink"))?;
        let owner = self.owner_for(entry);
        rfs::chownat(
            parent,
            name,
            Some(owner.0),
            Some(owner.1),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_err(shown, "set owner of"))?;
        rfs::utimensat(parent, name, &mtime_of(entry), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_err(shown, "set times of"))?;
        self.stats.files += 1;
        Ok(())
    }

    /// Sets the recorded directory times, after all content is written, innermost first.
    fn apply_dir_times(&mut self) -> Result<()> {
        self.parent_cache = None;
        let times = std::mem::take(&mut self.dir_times);
        for (path, time) in times.iter().rev() {
            let shown = show(path);
            let (parent, name) = self.parent_of(path)?;
            let dir =
                open_dir_nofollow(&parent, &name).map_err(io_err(&shown, "open directory"))?;
            rfs::futimens(&dir, time).map_err(io_err(&shown, "set times of"))?;
        }
        Ok(())
    }
}

/// Opens a directory entry of `parent` without following a symlink.
fn open_dir_nofollow(parent: &OwnedFd, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The last component of a source's named path (its host file name for the context root).
fn source_name(source: &Source) -> Vec<u8> {
    match source.rel.rsplit('/').next() {
        Some(name) if !name.is_empty() => name.as_bytes().to_vec(),
        _ => source
            .path
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::super::context::BuildContext;
    use super::*;
    use fs_err as fs;
    use sha2::{Digest as _, Sha256};
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// A build context and an image root, plus a canary directory outside both.
    struct Sandbox {
        context: tempfile::TempDir,
        root: tempfile::TempDir,
        canary: tempfile::TempDir,
    }

    impl Sandbox {
        fn new(files: &[(&str, &str)]) -> Self {
            let sb = Self {
                context: tempfile::tempdir().unwrap(),
                root: tempfile::tempdir().unwrap(),
                canary: tempfile::tempdir().unwrap(),
            };
            for (path, content) in files {
                let full = sb.context.path().join(path);
                if path.ends_with('/') {
                    fs::create_dir_all(&full).unwrap();
                } else {
                    fs::create_dir_all(full.parent().unwrap()).unwrap();
                    fs::write(&full, content).unwrap();
                }
            }
            sb
        }

        fn ctx(&self) -> BuildContext {
            BuildContext::open(self.context.path(), &self.context.path().join("Dockerfile"))
                .unwrap()
        }

        fn sources(&self, written: &[&str]) -> Vec<Source> {
            let ctx = self.ctx();
            written
                .iter()
                .flat_map(|w| ctx.resolve(w).unwrap())
                .collect()
        }

        fn copy(&self, written: &[&str], dest: &str, options: &CopyOptions) -> Result<CopyStats> {
            copy_into(self.root.path(), &self.sources(written), dest, "/", options)
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.root.path().join(rel.trim_start_matches('/'))
        }

        fn read(&self, rel: &str) -> String {
            fs::read_to_string(self.path(rel)).unwrap()
        }

        fn exists(&self, rel: &str) -> bool {
            fs::symlink_metadata(self.path(rel)).is_ok()
        }

        fn meta(&self, rel: &str) -> std::fs::Metadata {
            fs::symlink_metadata(self.path(rel)).unwrap()
        }

        fn assert_canary_empty(&self) {
            assert_eq!(fs::read_dir(self.canary.path()).unwrap().count(), 0);
        }
    }

    fn default() -> CopyOptions {
        CopyOptions::default()
    }

    #[test]
    fn directory_contents_are_copied() {
        let sb = Sandbox::new(&[("dir/a", "a"), ("dir/sub/b", "b"), ("dir/empty/", "")]);
        let stats = sb.copy(&["dir"], "/dst", &default()).unwrap();
        assert_eq!(sb.read("dst/a"), "a");
        assert_eq!(sb.read("dst/sub/b"), "b");
        assert!(sb.meta("dst/empty").is_dir());
        assert!(!sb.exists("dst/dir"));
        assert_eq!(stats, CopyStats { files: 2, bytes: 2 });
        // Merging into an existing directory replaces files.
        fs::write(sb.context.path().join("dir/a"), "new").unwrap();
        fs::write(sb.path("dst/other"), "kept").unwrap();
        sb.copy(&["dir/"], "/dst/", &default()).unwrap();
        assert_eq!(sb.read("dst/a"), "new");
        assert_eq!(sb.read("dst/other"), "kept");
    }

    #[test]
    fn file_destinations() {
        let sb = Sandbox::new(&[("a.txt", "a"), ("b.txt", "b")]);
        sb.copy(&["a.txt"], "/new.txt", &default()).unwrap();
        assert_eq!(sb.read("new.txt"), "a");
        fs::create_dir(sb.path("existing")).unwrap();
        sb.copy(&["a.txt"], "/existing", &default()).unwrap();
        assert_eq!(sb.read("existing/a.txt"), "a");
        sb.copy(&["a.txt"], "/made/dir/", &default()).unwrap();
        assert_eq!(sb.read("made/dir/a.txt"), "a");
        // An existing file is replaced.
        sb.copy(&["b.txt"], "/new.txt", &default()).unwrap();
        assert_eq!(sb.read("new.txt"), "b");
        // Relative to WORKDIR, and `.`.
        let sources = sb.sources(&["a.txt"]);
        copy_into(sb.root.path(), &sources, "rel.txt", "/work/dir", &default()).unwrap();
        assert_eq!(sb.read("work/dir/rel.txt"), "a");
        copy_into(sb.root.path(), &sources, ".", "/work", &default()).unwrap();
        assert_eq!(sb.read("work/a.txt"), "a");
    }

    #[test]
    fn several_sources_need_a_directory() {
        let sb = Sandbox::new(&[("a.txt", "a"), ("b.txt", "b"), ("c.md", "c")]);
        let err = sb
            .copy(&["a.txt", "b.txt"], "/out", &default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "When using COPY with more than one source file, the destination must be a directory and end with a /"
        );
        sb.copy(&["a.txt", "b.txt"], "/out/", &default()).unwrap();
        assert_eq!(sb.read("out/a.txt"), "a");
        assert_eq!(sb.read("out/b.txt"), "b");
        // One wildcard with several matches makes a directory; with one match, a file.
        sb.copy(&["*.txt"], "/wild", &default()).unwrap();
        assert_eq!(sb.read("wild/b.txt"), "b");
        sb.copy(&["*.md"], "/single", &default()).unwrap();
        assert_eq!(sb.read("single"), "c");
    }

    #[test]
    fn parents_keep_context_paths() {
        let sb = Sandbox::new(&[
            ("x/a.txt", "a"),
            ("y/b.txt", "b"),
            ("y/c.md", "c"),
            ("z/d/e", "e"),
        ]);
        let parents = CopyOptions {
            parents: true,
            ..default()
        };
        sb.copy(&["x/a.txt", "y/*.txt", "z/d"], "/p/", &parents)
            .unwrap();
        assert_eq!(sb.read("p/x/a.txt"), "a");
        assert_eq!(sb.read("p/y/b.txt"), "b");
        assert!(!sb.exists("p/y/c.md"));
        assert_eq!(sb.read("p/z/d/e"), "e");
        sb.copy(&["./x/a.txt"], "/q", &parents).unwrap();
        assert_eq!(sb.read("q/x/a.txt"), "a");
    }

    /// BuildKit's `testCopyRelativeParents` and `testCopyParentsMissingDirectory` cases.
    #[test]
    fn parents_pivot_keeps_the_path_below_it() {
        let sb = Sandbox::new(&[
            ("test/a/b/c/d/foo", "foo"),
            ("test/a/b/c/d/e/bay", "bay"),
            ("test/a/b2/c/d/e/bar", "bar"),
            ("test/a/b/c2/d/e/baz", "baz"),
            ("test/a/b/c2/d/e2/baz", "baz2"),
            ("src/main.go", "m"),
            ("src/pkg/util/u.go", "u"),
            ("src/pkg/README", "r"),
        ]);
        let parents = CopyOptions {
            parents: true,
            ..default()
        };
        let copy = |written: &[&str], dest: &str| {
            let ctx = sb.ctx();
            let mut sources = Vec::new();
            for text in written {
                sources.extend(ctx.resolve_parents(text).unwrap());
            }
            copy_into(sb.root.path(), &sources, dest, "/", &parents).unwrap();
        };
        copy(&["/test/a/b/./c/d"], "/middle/");
        assert_eq!(sb.read("middle/c/d/foo"), "foo");
        assert!(sb.meta("middle/c/d/e").is_dir());
        assert!(!sb.exists("middle/test") && !sb.exists("middle/a"));
        // `/.` at the end is no pivot.
        copy(&["/test/a/b/c/d/."], "/end/");
        assert_eq!(sb.read("end/test/a/b/c/d/foo"), "foo");
        copy(&["./test/a/b/c/d"], "/start/");
        assert_eq!(sb.read("start/test/a/b/c/d/e/bay"), "bay");
        // Only the first `/./` is the pivot.
        copy(&["/test/a/./b/./c"], "/double/");
        assert_eq!(sb.read("double/b/c/d/foo"), "foo");
        copy(&["/test/a/./*/c"], "/wildcard/");
        assert!(sb.meta("wildcard/b/c/d/e").is_dir());
        assert_eq!(sb.read("wildcard/b2/c/d/e/bar"), "bar");
        copy(&["/test/a/b*/./c/**/e"], "/doublewildcard/");
        assert_eq!(sb.read("doublewildcard/c/d/e/bay"), "bay");
        assert_eq!(sb.read("doublewildcard/c/d/e/bar"), "bar");
        copy(
            &["/test/a/b/c*/./d/**/baz", "/test/a/b*/./c/**/bar"],
            "/doubleinputs/",
        );
        assert_eq!(sb.read("doubleinputs/d/e/baz"), "baz");
        assert_eq!(sb.read("doubleinputs/d/e2/baz"), "baz2");
        assert!(!sb.exists("doubleinputs/d/e/bay"));
        assert_eq!(sb.read("doubleinputs/c/d/e/bar"), "bar");
        // `**` matches no directory too.
        copy(&["src/./**/*.go"], "/app/");
        assert_eq!(sb.read("app/main.go"), "m");
        assert_eq!(sb.read("app/pkg/util/u.go"), "u");
        assert!(!sb.exists("app/pkg/README"));
        assert!(!sb.exists("app/src"));
        copy(&["src/**/*.go"], "/keep/");
        assert_eq!(sb.read("keep/src/pkg/util/u.go"), "u");
        // Wildcards may match nothing; the destination is still made.
        copy(&["/test/a/b2*/c2", "/test/a/b/./c3*"], "/none/");
        assert!(sb.meta("none").is_dir());
        assert_eq!(fs::read_dir(sb.path("none")).unwrap().count(), 0);
        // A plain path must exist.
        let ctx = sb.ctx();
        assert!(matches!(
            ctx.resolve_parents("/test/./missing"),
            Err(ContextError::NotFound(_))
        ));
        assert!(matches!(
            ctx.resolve_parents("../x/./y"),
            Err(ContextError::OutsideContext(_))
        ));
    }

    #[test]
    fn excludes_and_dockerignore() {
        let sb = Sandbox::new(&[
            (".dockerignore", "dir/secret\n"),
            ("dir/a.txt", ""),
            ("dir/b.log", ""),
            ("dir/sub/c.log", ""),
            ("dir/secret", ""),
            ("home.txt", ""),
            ("homedir/x.txt", ""),
            ("homedir/y.md", ""),
        ]);
        let excludes = CopyOptions {
            excludes: vec!["*.log".into(), "sub".into()],
            ..default()
        };
        sb.copy(&["dir"], "/d/", &excludes).unwrap();
        assert!(sb.exists("d/a.txt"));
        assert!(!sb.exists("d/b.log"));
        assert!(!sb.exists("d/sub"));
        assert!(!sb.exists("d/secret"), ".dockerignore applies to COPY");
        let txt = CopyOptions {
            excludes: vec!["*.txt".into(), "*/x.txt".into()],
            ..default()
        };
        sb.copy(&["hom*"], "/h/", &txt).unwrap();
        assert!(!sb.exists("h/home.txt"));
        assert!(!sb.exists("h/x.txt"));
        assert!(sb.exists("h/y.md"));
        assert!(matches!(
            sb.copy(
                &["dir"],
                "/e/",
                &CopyOptions {
                    excludes: vec!["[".into()],
                    ..default()
                }
            ),
            Err(CopyError::Exclude(_))
        ));
    }

    #[test]
    fn chown_chmod_and_times() {
        let sb = Sandbox::new(&[("dir/f", "f"), ("dir/sub/g", "g")]);
        let ctx = sb.context.path();
        fs::set_permissions(ctx.join("dir/f"), std::fs::Permissions::from_mode(0o4750)).unwrap();
        fs::set_permissions(ctx.join("dir/sub"), std::fs::Permissions::from_mode(0o711)).unwrap();
        symlink("f", ctx.join("dir/link")).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_234_567);
        fs::File::open(ctx.join("dir/f"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        fs::File::open(ctx.join("dir/sub"))
            .unwrap()
            .set_modified(old)
            .unwrap();

        sb.copy(&["dir"], "/plain/deep/", &default()).unwrap();
        let f = sb.meta("plain/deep/f");
        assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777), (0, 0, 0o4750));
        assert_eq!(f.mtime(), 1_234_567);
        assert_eq!(sb.meta("plain/deep/sub").mode() & 0o7777, 0o711);
        assert_eq!(sb.meta("plain/deep/sub").mtime(), 1_234_567);
        assert_eq!(sb.meta("plain").mode() & 0o7777, 0o755);

        let options = CopyOptions {
            chown: Some((1000, 1001)),
            chmod: Some(0o640),
            ..default()
        };
        sb.copy(&["dir"], "/owned/deep/", &options).unwrap();
        let m = sb.meta("owned");
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1000, 1001, 0o755));
        // The directory receiving the contents is created like the source directory.
        for path in [
            "owned/deep",
            "owned/deep/f",
            "owned/deep/sub",
            "owned/deep/sub/g",
        ] {
            let m = sb.meta(path);
            assert_eq!(
                (m.uid(), m.gid(), m.mode() & 0o7777),
                (1000, 1001, 0o640),
                "{path}"
            );
        }
        let link = sb.meta("owned/deep/link");
        assert!(link.file_type().is_symlink());
        assert_eq!((link.uid(), link.gid()), (1000, 1001));
        assert_eq!(
            fs::read_link(sb.path("owned/deep/link")).unwrap(),
            Path::new("f")
        );
    }

    #[test]
    fn context_symlinks_are_copied_as_symlinks() {
        let sb = Sandbox::new(&[("d/target", "t")]);
        symlink("/etc/passwd", sb.context.path().join("d/abs")).unwrap();
        symlink("target", sb.context.path().join("d/rel")).unwrap();
        symlink("d/target", sb.context.path().join("named")).unwrap();
        sb.copy(&["d"], "/out/", &default()).unwrap();
        assert_eq!(
            fs::read_link(sb.path("out/abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            fs::read_link(sb.path("out/rel")).unwrap(),
            Path::new("target")
        );
        // A symlink named as the source is followed, and keeps its name.
        sb.copy(&["named"], "/n/", &default()).unwrap();
        assert!(sb.meta("n/named").is_file());
        assert_eq!(sb.read("n/named"), "t");
    }

    #[test]
    fn image_symlinks_never_lead_outside() {
        let sb = Sandbox::new(&[("a.txt", "a"), ("dir/x", "x"), ("tree/etc/y", "y")]);
        let canary = sb.canary.path();
        symlink(canary, sb.path("etc")).unwrap();
        symlink("../../..", sb.path("link")).unwrap();
        symlink(canary.join("file"), sb.path("out-file")).unwrap();
        sb.copy(&["a.txt"], "/etc/x", &default()).unwrap();
        sb.copy(&["a.txt"], "/etc/sub/", &default()).unwrap();
        sb.copy(&["dir"], "/link/", &default()).unwrap();
        sb.copy(&["dir"], "/link/etc/", &default()).unwrap();
        sb.copy(&["a.txt"], "/link/../../z", &default()).unwrap();
        write_file_into(sb.root.path(), "/etc/", "/", "heredoc", b"h", 0o644, (0, 0)).unwrap();
        write_file_into(sb.root.path(), "f", "/link/etc", "n", b"h", 0o644, (0, 0)).unwrap();
        // A file over a symlink replaces the symlink itself.
        sb.copy(&["a.txt"], "/out-file", &default()).unwrap();
        assert!(sb.meta("out-file").is_file());
        // A source directory meeting an image symlink is refused (BuildKit's rule).
        let err = sb.copy(&["tree"], "/", &default()).unwrap_err();
        assert!(
            matches!(err, CopyError::NotADirectory { ref path } if path == "/etc"),
            "{err}"
        );
        sb.assert_canary_empty();
        // Everything landed inside the root.
        let inside = sb.path(&canary.to_string_lossy());
        // `/etc/x` was written by the first copy, then replaced through `/link/etc/`.
        assert_eq!(fs::read_to_string(inside.join("x")).unwrap(), "x");
        assert_eq!(fs::read_to_string(inside.join("sub/a.txt")).unwrap(), "a");
        assert_eq!(fs::read_to_string(inside.join("heredoc")).unwrap(), "h");
        assert_eq!(fs::read_to_string(inside.join("f")).unwrap(), "h");
        assert_eq!(sb.read("x"), "x");
        assert_eq!(sb.read("z"), "a");
    }

    #[test]
    fn replacing_rules() {
        let sb = Sandbox::new(&[("dir/sub/f", "f"), ("file", "x")]);
        fs::create_dir_all(sb.path("a")).unwrap();
        fs::write(sb.path("a/sub"), "in the way").unwrap();
        let err = sb.copy(&["dir"], "/a/", &default()).unwrap_err();
        assert_eq!(err.to_string(), "cannot copy to non-directory: `/a/sub`");
        fs::write(sb.path("plain"), "file").unwrap();
        let err = sb.copy(&["dir"], "/plain/", &default()).unwrap_err();
        assert!(
            matches!(err, CopyError::NotADirectory { ref path } if path == "/plain"),
            "{err}"
        );
        fs::create_dir_all(sb.path("b/sub/f")).unwrap();
        let err = sb.copy(&["dir"], "/b/", &default()).unwrap_err();
        assert!(
            matches!(err, CopyError::IsADirectory { ref path } if path == "/b/sub/f"),
            "{err}"
        );
    }

    #[test]
    fn heredoc_files() {
        let sb = Sandbox::new(&[]);
        let stats = write_file_into(
            sb.root.path(),
            "/etc/app/",
            "/",
            "conf",
            b"x=1\n",
            0o600,
            (7, 8),
        )
        .unwrap();
        assert_eq!(stats, CopyStats { files: 1, bytes: 4 });
        let m = sb.meta("etc/app/conf");
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (7, 8, 0o600));
        assert_eq!(sb.meta("etc").mode() & 0o7777, 0o755);
        assert_eq!(sb.meta("etc").uid(), 7);
        write_file_into(
            sb.root.path(),
            "run.sh",
            "/w",
            "EOF",
            b"#!/bin/sh\n",
            0o755,
            (0, 0),
        )
        .unwrap();
        assert_eq!(sb.read("w/run.sh"), "#!/bin/sh\n");
        write_file_into(sb.root.path(), "/w", "/", "EOF", b"", 0o644, (0, 0)).unwrap();
        assert!(sb.exists("w/EOF"));
        assert!(matches!(
            write_file_into(sb.root.path(), "/", "/", "../x", b"", 0o644, (0, 0)),
            Err(CopyError::InvalidName(_))
        ));
    }

    fn sha256_of(path: &Path) -> Vec<u8> {
        let mut hasher = Sha256::new();
        io::copy(&mut fs::File::open(path).unwrap(), &mut hasher).unwrap();
        hasher.finalize().to_vec()
    }

    #[test]
    fn large_files_are_streamed() {
        const SIZE: u64 = 100 * 1024 * 1024;
        let sb = Sandbox::new(&[]);
        let source = sb.context.path().join("big");
        {
            let mut file = fs::File::create(&source).unwrap();
            let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
            for _ in 0..SIZE / chunk.len() as u64 {
                file.write_all(&chunk).unwrap();
            }
        }
        let stats = sb.copy(&["big"], "/big", &default()).unwrap();
        assert_eq!(
            stats,
            CopyStats {
                files: 1,
                bytes: SIZE
            }
        );
        assert_eq!(sb.meta("big").len(), SIZE);
        assert_eq!(sha256_of(&sb.path("big")), sha256_of(&source));
        let ctx = sb.ctx();
        assert!(ctx.digest(&ctx.resolve("big").unwrap()).is_ok());
        // Peak RSS is not checked here: the test process runs other tests on other threads.
        // The build benchmark measures a build's peak RSS with a large context instead.
    }

    #[test]
    fn reincluded_files_of_an_ignored_directory_are_copied() {
        let sb = Sandbox::new(&[
            (".dockerignore", "conf\n!conf/keep\n"),
            ("conf/drop", ""),
            ("conf/keep", "k"),
            ("conf/sub/drop", ""),
        ]);
        sb.copy(&["."], "/app/", &default()).unwrap();
        assert_eq!(sb.read("app/conf/keep"), "k");
        assert!(!sb.exists("app/conf/drop"));
        assert!(!sb.exists("app/conf/sub"));
        sb.copy(&["conf"], "/only/", &default()).unwrap();
        assert_eq!(sb.read("only/keep"), "k");
        assert!(!sb.exists("only/drop"));
    }
}
