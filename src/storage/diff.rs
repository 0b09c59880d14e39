//! Turning an overlayfs upper directory into an OCI layer tar, deterministically.
//!
//! The upper directory of a build step or a container is the set of changes it made on top
//! of its lower layers. [`write_diff`] walks it and writes it as an uncompressed layer tar;
//! [`write_layer`] does the same through gzip and also computes the layer's digests.
//!
//! # The tar written
//!
//! - Entries come depth-first, names sorted bytewise within each directory and every
//!   directory before its contents, the way `tar` archives a sorted tree. The upper directory
//!   itself is not an entry (so a change to the metadata of `/` alone is not recorded, as
//!   with Docker). Paths are relative, without `./`; directories end with `/`.
//! - Headers are POSIX ustar. Whatever does not fit (a path or link target over 100 bytes,
//!   an id, size or time over the octal fields, extended attributes) goes into a PAX
//!   extended header (`x`) right before the entry, named `././@PaxHeader`, with zero
//!   metadata: `path`, `linkpath`, `uid`, `gid`, `size`, `mtime` records first, in that
//!   order, then the attributes. No GNU extensions are used.
//! - Metadata is normalised: numeric uid and gid from the file, empty user and group
//!   names, `mode` is `st_mode & 0o7777`, `mtime` is in whole seconds (negative times become
//!   0), and there are no atime/ctime records. With [`DiffOptions::timestamp`] set, every
//!   mtime is clamped to `min(mtime, timestamp)`, like BuildKit's `rewrite-timestamp` with
//!   `SOURCE_DATE_EPOCH`: files older than the epoch keep their time, newer ones get it.
//! - File contents are streamed, never held in memory. A file must not shrink while it is
//!   read (the upper directory should be quiescent: the container stopped or the step
//!   finished); a file that grew is cut at the size `lstat` gave.
//! - Hard links: the second and later paths of an inode with `st_nlink > 1` become link
//!   entries to the first path written.
//! - Sockets are skipped and counted in [`DiffSummary::skipped_sockets`].
//!
//! # Overlay whiteouts
//!
//! - A character device 0:0 named `NAME` (a deletion) becomes an empty regular file
//!   `.wh.NAME` with mode 0600 and the device's owner and mtime, as Docker writes it. Since
//!   Linux 5.8 overlayfs may make whiteouts hard links of one shared device; they are still
//!   each written as a whiteout, never as a link entry.
//! - A directory whose `user.overlay.opaque` or `trusted.overlay.opaque` attribute is `y` is
//!   written, then an empty regular file `DIR/.wh..wh..opq` (the directory's owner, mtime
//!   and permission bits) right after it, before its contents.
//! - Overlay's own attributes (`user.overlay.*`, `trusted.overlay.*`) are never written.
//!   Every other extended attribute (`security.capability`, `user.*`, ...) is written as a
//!   PAX record `SCHILY.xattr.NAME`, sorted by name. Hard link entries, whiteouts and opaque
//!   markers carry none.
//!
//! berth mounts overlay without `redirect_dir` and without `metacopy`, so the upper
//! directory holds whole files and directories: a renamed directory is a new directory and
//! a changed file has all its data. The `overlay.redirect` and `overlay.metacopy`
//! attributes are therefore not interpreted (like all overlay attributes, they are just
//! dropped), and neither are the kernel 6.7+ xattr whiteouts, which overlay never writes
//! in an upper directory.
//!
//! # Reproducibility
//!
//! The same tree (names, contents, owners, modes, attributes, and mtimes after clamping)
//! gives the same tar bytes. [`write_layer`] compresses at [`GZIP_LEVEL`] with a fixed gzip
//! header (no file name, mtime 0, OS 255), so its digest is reproducible too, for a given
//! version of the compressor.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

/// The gzip level [`write_layer`] uses: the fastest. It is part of what makes a layer's
/// digest reproducible, so changing it changes the digests of all new layers.
pub const GZIP_LEVEL: u32 = 1;

/// Size of a tar block.
const BLOCK: u64 = 512;
/// Size of the buffers file contents are copied and written through.
const COPY_BUFFER: usize = 64 * 1024;
/// Longest path or link target the ustar `name`/`linkname` fields hold.
const USTAR_NAME_MAX: usize = 100;
/// Largest value of an 8-byte octal field (mode, uid, gid).
const OCTAL8_MAX: u64 = 0o7_777_777;
/// Largest value of a 12-byte octal field (size, mtime).
const OCTAL12_MAX: u64 = 0o77_777_777_777;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_MODE: u32 = 0o600;
const OVERLAY_XATTR_PREFIXES: [&[u8]; 2] = [b"user.overlay.", b"trusted.overlay."];
const OPAQUE_XATTRS: [&[u8]; 2] = [b"user.overlay.opaque", b"trusted.overlay.opaque"];
const PAX_XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";
/// How often reading an attribute list or value is retried when it grows between the size
/// query and the read.
const XATTR_RETRIES: usize = 8;

/// Name/value pairs of bytes: extended attributes, PAX records.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// How to write a diff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// `SOURCE_DATE_EPOCH`: when set, every mtime is clamped to `min(mtime, timestamp)`.
    pub timestamp: Option<u64>,
}

/// What [`write_diff`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffSummary {
    /// Tar entries written, whiteouts and opaque markers included, PAX headers not.
    pub entries: u64,
    /// Size of the whole tar stream, end-of-archive blocks included.
    pub uncompressed_size: u64,
    /// Sockets left out.
    pub skipped_sockets: u64,
    /// `sha256:<hex>` of the tar stream: the layer's DiffID.
    pub diff_id: String,
}

/// A compressed layer written by [`write_layer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:<hex>` of the uncompressed tar (the image config's `rootfs.diff_ids` entry).
    pub diff_id: String,
    /// `sha256:<hex>` of the gzip stream (the manifest's layer digest).
    pub digest: String,
    /// Size in bytes of the gzip stream.
    pub size: u64,
    /// The uncompressed tar.
    pub summary: DiffSummary,
}

/// Why a diff could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// Something in the upper directory could not be read.
    #[error("cannot {action} `{}` in the layer", .path.display())]
    Read {
        /// What was being done, e.g. "read" or "list".
        action: &'static str,
        /// The path relative to the upper directory (`.` for the directory itself).
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Something in the upper directory cannot be put in a tar.
    #[error("cannot put `{}` in the layer: {reason}", .path.display())]
    Unsupported {
        /// The path relative to the upper directory.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// The output could not be written.
    #[error("cannot write the layer")]
    Write(#[source] io::Error),
}

/// Writes the changes in `upper` as an uncompressed layer tar to `out`.
///
/// `out` is written through a buffer and flushed at the end. See the module documentation
/// for the format.
pub fn write_diff<W: Write>(
    upper: &Path,
    out: W,
    options: &DiffOptions,
) -> Result<DiffSummary, DiffError> {
    let mut walk = Walk {
        upper,
        clamp: options.timestamp,
        tar: TarWriter {
            out: HashingWriter::new(BufWriter::with_capacity(COPY_BUFFER, out)),
            entries: 0,
        },
        links: HashMap::new(),
        skipped_sockets: 0,
        buffer: vec![0; COPY_BUFFER],
    };
    walk.run()?;
    let Walk {
        tar,
        skipped_sockets,
        ..
    } = walk;
    let entries = tar.entries;
    let (_, diff_id, uncompressed_size) = tar.finish()?;
    Ok(DiffSummary {
        entries,
        uncompressed_size,
        skipped_sockets,
        diff_id,
    })
}

/// Writes the changes in `upper` as a gzip-compressed layer tar to `out`, computing its
/// DiffID (digest of the tar), digest and size (of the gzip stream) on the way.
pub fn write_layer<W: Write>(
    upper: &Path,
    out: W,
    options: &DiffOptions,
) -> Result<Layer, DiffError> {
    let mut gzip = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(HashingWriter::new(out), Compression::new(GZIP_LEVEL));
    let summary = write_diff(upper, &mut gzip, options)?;
    let mut compressed = gzip.finish().map_err(DiffError::Write)?;
    compressed.flush().map_err(DiffError::Write)?;
    let (_, digest, size) = compressed.finish();
    Ok(Layer {
        diff_id: summary.diff_id.clone(),
        digest,
        size,
        summary,
    })
}

/// Whether `upper` has no entries at all.
pub fn is_empty_diff(upper: &Path) -> io::Result<bool> {
    Ok(fs_err::read_dir(upper)?.next().is_none())
}

/// A writer passing everything on while hashing and counting it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, `sha256:<hex>` of what was written and its size.
    fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{:x}", self.hasher.finalize());
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One tar entry's header, before encoding.
struct EntryHeader<'a> {
    path: &'a [u8],
    kind: EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
    link: Option<&'a [u8]>,
    device: Option<(u32, u32)>,
    xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

impl<'a> EntryHeader<'a> {
    /// An entry without data, link, device or attributes.
    fn plain(path: &'a [u8], kind: EntryType, meta: &Metadata, mode: u32, mtime: u64) -> Self {
        Self {
            path,
            kind,
            mode,
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            mtime,
            size: 0,
            link: None,
            device: None,
            xattrs: &[],
        }
    }
}

/// The tar framing: headers, PAX records, data padding and the end of the archive.
struct TarWriter<W: Write> {
    out: HashingWriter<BufWriter<W>>,
    entries: u64,
}

impl<W: Write> TarWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), DiffError> {
        self.out.write_all(bytes).map_err(DiffError::Write)
    }

    /// Pads data of `size` bytes to a whole block.
    fn pad(&mut self, size: u64) -> Result<(), DiffError> {
        let used = size % BLOCK;
        if used != 0 {
            let zeros = [0u8; BLOCK as usize];
            self.write(&zeros[..(BLOCK - used) as usize])?;
        }
        Ok(())
    }

    /// Writes an entry's header (after a PAX header when needed); its data, if any, must
    /// follow, then [`Self::pad`].
    fn header(&mut self, entry: &EntryHeader<'_>) -> Result<(), DiffError> {
        let mut records = Pairs::new();
        let mut header = Header::new_ustar();
        {
            let old = header.as_old_mut();
            if put_name(&mut old.name, entry.path) {
                records.push((b"path".to_vec(), entry.path.to_vec()));
            }
            if let Some(link) = entry.link
                && put_name(&mut old.linkname, link)
            {
                records.push((b"linkpath".to_vec(), link.to_vec()));
            }
        }
        header.set_mode(entry.mode);
        header.set_uid(pax_number(&mut records, "uid", entry.uid, OCTAL8_MAX));
        header.set_gid(pax_number(&mut records, "gid", entry.gid, OCTAL8_MAX));
        header.set_size(pax_number(&mut records, "size", entry.size, OCTAL12_MAX));
        header.set_mtime(pax_number(&mut records, "mtime", entry.mtime, OCTAL12_MAX));
        header.set_entry_type(entry.kind);
        if let Some((major, minor)) = entry.device {
            header.set_device_major(major).map_err(DiffError::Write)?;
            header.set_device_minor(minor).map_err(DiffError::Write)?;
        }
        header.set_cksum();
        // The standard records first (in the fixed order above), then the attributes sorted
        // by name: a reader that wrongly splits records at '\n' (the tar crate does) still
        // gets the path and size right when an attribute value contains a newline byte.
        for (name, value) in entry.xattrs {
            records.push(([PAX_XATTR_PREFIX, name].concat(), value.clone()));
        }
        if !records.is_empty() {
            self.pax_header(&records)?;
        }
        self.write(header.as_bytes())?;
        self.entries += 1;
        Ok(())
    }

    /// Writes a PAX extended header holding `records`.
    fn pax_header(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), DiffError> {
        let mut data = Vec::new();
        for (key, value) in records {
            pax_record(&mut data, key, value);
        }
        let mut header = Header::new_ustar();
        put_name(&mut header.as_old_mut().name, PAX_HEADER_NAME);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        header.set_entry_type(EntryType::XHeader);
        header.set_cksum();
        self.write(header.as_bytes())?;
        self.write(&data)?;
        self.pad(data.len() as u64)
    }

    /// Ends the archive and flushes: the output, `sha256:<hex>` of the tar and its size.
    fn finish(mut self) -> Result<(W, String, u64), DiffError> {
        self.write(&[0; 2 * BLOCK as usize])?;
        self.out.flush().map_err(DiffError::Write)?;
        let (buffered, digest, size) = self.out.finish();
        let out = buffered
            .into_inner()
            .map_err(|e| DiffError::Write(e.into_error()))?;
        Ok((out, digest, size))
    }
}

/// Puts `value` in a ustar name field; when it is too long, puts its first bytes and
/// returns true (a PAX record must carry it).
fn put_name(field: &mut [u8], value: &[u8]) -> bool {
    let len = value.len().min(USTAR_NAME_MAX).min(field.len());
    field[..len].copy_from_slice(&value[..len]);
    value.len() > len
}

/// The value for a numeric header field: `value` if it fits under `max`, else 0 with a PAX
/// record `key` carrying it.
fn pax_number(records: &mut Pairs, key: &str, value: u64, max: u64) -> u64 {
    if value <= max {
        value
    } else {
        records.push((key.as_bytes().to_vec(), value.to_string().into_bytes()));
        0
    }
}

/// Appends the PAX record `"<len> <key>=<value>\n"`, `len` counting the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3; // ' ', '=' and '\n'
    let mut len = rest;
    loop {
        let next = rest + len.to_string().len();
        if next == len {
            break;
        }
        len = next;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The walk over the upper directory.
struct Walk<'a, W: Write> {
    upper: &'a Path,
    clamp: Option<u64>,
    tar: TarWriter<W>,
    /// First path written of each multiply-linked inode, by (dev, ino).
    links: HashMap<(u64, u64), Vec<u8>>,
    skipped_sockets: u64,
    buffer: Vec<u8>,
}

impl<W: Write> Walk<'_, W> {
    fn run(&mut self) -> Result<(), DiffError> {
        let root = PathBuf::new();
        let names = self.list(&root)?;
        let mut stack = vec![(root, names.into_iter())];
        while let Some((dir, names)) = stack.last_mut() {
            let Some(name) = names.next() else {
                stack.pop();
                continue;
            };
            let rel = dir.join(name);
            if self.entry(&rel)? {
                let names = self.list(&rel)?;
                stack.push((rel, names.into_iter()));
            }
        }
        Ok(())
    }

    /// The names in the directory `rel`, sorted bytewise.
    fn list(&self, rel: &Path) -> Result<Vec<OsString>, DiffError> {
        let failed = |source| read_error("list", rel, source);
        let mut names = Vec::new();
        for entry in fs_err::read_dir(self.upper.join(rel)).map_err(failed)? {
            names.push(entry.map_err(failed)?.file_name());
        }
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    /// Writes the entry (or entries) for `rel`; true when it is a directory to descend into.
    fn entry(&mut self, rel: &Path) -> Result<bool, DiffError> {
        let host = self.upper.join(rel);
        let meta = fs::symlink_metadata(&host).map_err(|e| read_error("inspect", rel, e))?;
        let kind = meta.file_type();
        let path = rel.as_os_str().as_bytes();
        let mode = meta.mode() & 0o7777;
        let mtime = self.mtime(&meta);

        if kind.is_socket() {
            self.skipped_sockets += 1;
            return Ok(false);
        }
        if kind.is_char_device() && meta.rdev() == 0 {
            let name = rel.file_name().map_or(&[][..], |name| name.as_bytes());
            let parent = rel
                .parent()
                .map_or(&[][..], |dir| dir.as_os_str().as_bytes());
            let mut whiteout = parent.to_vec();
            if !whiteout.is_empty() {
                whiteout.push(b'/');
            }
            whiteout.extend_from_slice(WHITEOUT_PREFIX);
            whiteout.extend_from_slice(name);
            let entry =
                EntryHeader::plain(&whiteout, EntryType::Regular, &meta, WHITEOUT_MODE, mtime);
            self.tar.header(&entry)?;
            return Ok(false);
        }

        let (xattrs, opaque) = read_xattrs(&host, rel)?;
        if kind.is_dir() {
            let mut dir = [path, b"/"].concat();
            let mut entry = EntryHeader::plain(&dir, EntryType::Directory, &meta, mode, mtime);
            entry.xattrs = &xattrs;
            self.tar.header(&entry)?;
            if opaque {
                dir.extend_from_slice(OPAQUE_MARKER);
                let marker_mode = mode & 0o777;
                let marker =
                    EntryHeader::plain(&dir, EntryType::Regular, &meta, marker_mode, mtime);
                self.tar.header(&marker)?;
            }
            return Ok(true);
        }

        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                let mut entry = EntryHeader::plain(path, EntryType::Link, &meta, mode, mtime);
                entry.link = Some(first);
                self.tar.header(&entry)?;
                return Ok(false);
            }
            self.links.insert(key, path.to_vec());
        }

        let mut entry = EntryHeader::plain(path, EntryType::Regular, &meta, mode, mtime);
        entry.xattrs = &xattrs;
        if kind.is_file() {
            let file = open_file(&host).map_err(|e| read_error("open", rel, e))?;
            entry.size = meta.len();
            self.tar.header(&entry)?;
            copy_data(&mut self.tar, &mut self.buffer, file, meta.len(), rel)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&host).map_err(|e| read_error("read the link", rel, e))?;
            entry.kind = EntryType::Symlink;
            entry.link = Some(target.as_os_str().as_bytes());
            self.tar.header(&entry)?;
        } else if kind.is_char_device() || kind.is_block_device() {
            let rdev = meta.rdev();
            entry.kind = if kind.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            };
            entry.device = Some((rustix::fs::major(rdev), rustix::fs::minor(rdev)));
            self.tar.header(&entry)?;
        } else if kind.is_fifo() {
            entry.kind = EntryType::Fifo;
            self.tar.header(&entry)?;
        } else {
            return Err(DiffError::Unsupported {
                path: rel.to_path_buf(),
                reason: "unknown file type",
            });
        }
        Ok(false)
    }

    /// The entry's mtime: whole seconds, not before the epoch, clamped to the timestamp.
    fn mtime(&self, meta: &Metadata) -> u64 {
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        self.clamp.map_or(mtime, |clamp| mtime.min(clamp))
    }
}

fn read_error(action: &'static str, rel: &Path, source: io::Error) -> DiffError {
    let path = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel.to_path_buf()
    };
    DiffError::Read {
        action,
        path,
        source,
    }
}

/// Opens a regular file for reading without following a symlink put in its place, nor
/// blocking on a FIFO.
fn open_file(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags | OFlags::NONBLOCK, Mode::empty())?;
    Ok(File::from(fd))
}

/// Streams exactly `size` bytes of `file` into the tar, then the padding.
fn copy_data<W: Write>(
    tar: &mut TarWriter<W>,
    buffer: &mut [u8],
    mut file: File,
    size: u64,
    rel: &Path,
) -> Result<(), DiffError> {
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).map_or(buffer.len(), |left| left.min(buffer.len()));
        let read = match file.read(&mut buffer[..want]) {
            Ok(0) => {
                let shrank = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while the layer was being written",
                );
                return Err(read_error("read", rel, shrank));
            }
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error("read", rel, e)),
        };
        tar.write(&buffer[..read])?;
        left -= read as u64;
    }
    tar.pad(size)
}

/// The attributes to write for `host` (overlay's left out, sorted by name) and whether it
/// is marked opaque.
fn read_xattrs(host: &Path, rel: &Path) -> Result<(Pairs, bool), DiffError> {
    let failed = |e: Errno| read_error("read the extended attributes of", rel, e.into());
    let names = match list_xattrs(host) {
        Ok(names) => names,
        Err(Errno::NOTSUP) => return Ok((Vec::new(), false)),
        Err(e) => return Err(failed(e)),
    };
    let mut xattrs = Vec::new();
    let mut opaque = false;
    for name in names
        .split(|&byte| byte == 0)
        .filter(|name| !name.is_empty())
    {
        let overlay = OVERLAY_XATTR_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix));
        if overlay && !OPAQUE_XATTRS.contains(&name) {
            continue;
        }
        // An attribute removed since the listing is simply not there.
        let Some(value) = get_xattr(host, name).map_err(failed)? else {
            continue;
        };
        if overlay {
            opaque |= value == b"y";
        } else if name.contains(&b'=') {
            let reason = "an extended attribute name contains `=`";
            return Err(DiffError::Unsupported {
                path: rel.to_path_buf(),
                reason,
            });
        } else {
            xattrs.push((name.to_vec(), value));
        }
    }
    xattrs.sort();
    Ok((xattrs, opaque))
}

/// The NUL-separated names of the attributes of `path` (not following a symlink).
fn list_xattrs(path: &Path) -> Result<Vec<u8>, Errno> {
    let mut attempts = 0;
    loop {
        let size = rustix::fs::llistxattr_query(path)?;
        if size == 0 {
            return Ok(Vec::new());
        }
        let mut names = vec![0; size];
        match rustix::fs::llistxattr(path, &mut names[..]) {
            Ok(len) => {
                names.truncate(len);
                return Ok(names);
            }
            Err(Errno::RANGE) if attempts < XATTR_RETRIES => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The value of the attribute `name` of `path` (not following a symlink), if it is there.
fn get_xattr(path: &Path, name: &[u8]) -> Result<Option<Vec<u8>>, Errno> {
    let mut attempts = 0;
    loop {
        let size = match rustix::fs::lgetxattr_query(path, name) {
            Ok(size) => size,
            Err(Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e),
        };
        if size == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut value = vec![0; size];
        match rustix::fs::lgetxattr(path, name, &mut value[..]) {
            Ok(len) => {
                value.truncate(len);
                return Ok(Some(value));
            }
            Err(Errno::NODATA) => return Ok(None),
            Err(Errno::RANGE) if attempts < XATTR_RETRIES => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::{PermissionsExt, chown, lchown, symlink};
    use std::time::{Duration, SystemTime};

    use rustix::fs::{CWD, FileType, makedev, mknodat};
    use tempfile::TempDir;

    /// An entry read back from a tar.
    #[derive(Debug)]
    struct Item {
        path: Vec<u8>,
        kind: EntryType,
        size: u64,
        link: Option<Vec<u8>>,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        device: Option<(u32, u32)>,
        pax: Vec<(String, Vec<u8>)>,
        data: Vec<u8>,
    }

    impl Item {
        fn path(&self) -> String {
            String::from_utf8(self.path.clone()).unwrap()
        }

        fn pax(&self, key: &str) -> Option<&[u8]> {
            self.pax.iter().find(|(k, _)| k == key).map(|(_, v)| &v[..])
        }
    }

    /// Splits PAX records by their lengths (not at newlines, as the tar crate does).
    fn parse_pax(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut records = Vec::new();
        while !data.is_empty() {
            let space = data.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&data[..space])
                .unwrap()
                .parse()
                .unwrap();
            let (record, rest) = data.split_at(len);
            assert_eq!(record.last(), Some(&b'\n'));
            let record = &record[space + 1..len - 1];
            let equals = record.iter().position(|&b| b == b'=').unwrap();
            let key = String::from_utf8(record[..equals].to_vec()).unwrap();
            records.push((key, record[equals + 1..].to_vec()));
            data = rest;
        }
        records
    }

    /// Reads a tar, applying PAX headers itself.
    fn read_tar(bytes: &[u8]) -> Vec<Item> {
        let mut archive = tar::Archive::new(bytes);
        let mut items = Vec::new();
        let mut pending = None;
        for entry in archive.entries().unwrap().raw(true) {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if header.entry_type() == EntryType::XHeader {
                assert!(pending.is_none(), "two PAX headers in a row");
                assert_eq!(&header.path_bytes()[..], PAX_HEADER_NAME);
                pending = Some(parse_pax(&data));
                continue;
            }
            let pax: Vec<(String, Vec<u8>)> = pending.take().unwrap_or_default();
            let record = |key: &str| pax.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let number = |key: &str, field: u64| {
                record(key).map_or(field, |v| String::from_utf8(v).unwrap().parse().unwrap())
            };
            let device = match header.entry_type() {
                EntryType::Char | EntryType::Block => Some((
                    header.device_major().unwrap().unwrap(),
                    header.device_minor().unwrap().unwrap(),
                )),
                _ => None,
            };
            items.push(Item {
                path: record("path").unwrap_or_else(|| header.path_bytes().into_owned()),
                kind: header.entry_type(),
                size: number("size", header.size().unwrap()),
                link: record("linkpath")
                    .or_else(|| header.link_name_bytes().map(|link| link.into_owned())),
                mode: header.mode().unwrap(),
                uid: number("uid", header.uid().unwrap()),
                gid: number("gid", header.gid().unwrap()),
                mtime: number("mtime", header.mtime().unwrap()),
                device,
                pax,
                data,
            });
        }
        assert!(pending.is_none(), "a PAX header at the end");
        items
    }

    /// (path, link) of each entry as the tar crate's own reader sees them.
    fn read_with_tar_crate(bytes: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut archive = tar::Archive::new(bytes);
        let entries = archive.entries().unwrap();
        entries
            .map(|entry| {
                let entry = entry.unwrap();
                let link = entry.link_name_bytes().map(|link| link.into_owned());
                (entry.path_bytes().into_owned(), link)
            })
            .collect()
    }

    fn paths_and_links(items: &[Item]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        items
            .iter()
            .map(|item| (item.path.clone(), item.link.clone()))
            .collect()
    }

    fn diff(upper: &Path, options: &DiffOptions) -> (Vec<u8>, DiffSummary) {
        let mut out = Vec::new();
        let summary = write_diff(upper, &mut out, options).unwrap();
        (out, summary)
    }

    fn items(upper: &Path) -> Vec<Item> {
        read_tar(&diff(upper, &DiffOptions::default()).0)
    }

    fn find<'a>(items: &'a [Item], path: &str) -> &'a Item {
        items
            .iter()
            .find(|item| item.path == path.as_bytes())
            .unwrap_or_else(|| panic!("no `{path}` in the tar"))
    }

    fn write(path: &Path, contents: &[u8]) {
        fs_err::write(path, contents).unwrap();
    }

    fn mkdir(path: &Path) {
        fs_err::create_dir_all(path).unwrap();
    }

    fn whiteout_device(path: &Path) {
        mknodat(
            CWD,
            path,
            FileType::CharacterDevice,
            Mode::empty(),
            makedev(0, 0),
        )
        .unwrap();
    }

    fn setx(path: PathBuf, name: &str, value: &[u8]) {
        rustix::fs::setxattr(&path, name, value, rustix::fs::XattrFlags::empty()).unwrap();
    }

    fn set_mtime(path: &Path, secs: u64) {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    fn sha256(bytes: &[u8]) -> String {
        format!("sha256:{:x}", Sha256::digest(bytes))
    }

    #[test]
    fn order_and_paths() {
        let upper = TempDir::new().unwrap();
        let root = upper.path();
        mkdir(&root.join("b/a"));
        write(&root.join("b/a/x"), b"x");
        write(&root.join("b/z"), b"zz");
        write(&root.join("b.txt"), b"b");
        write(&root.join("a.txt"), b"hello");
        write(&root.join("c"), b"");
        mkdir(&root.join("B"));

        let (bytes, summary) = diff(root, &DiffOptions::default());
        let items = read_tar(&bytes);
        let paths: Vec<String> = items.iter().map(Item::path).collect();
        assert_eq!(
            paths,
            ["B/", "a.txt", "b/", "b/a/", "b/a/x", "b/z", "b.txt", "c"]
        );
        assert_eq!(summary.entries, 8);
        assert_eq!(summary.skipped_sockets, 0);
        assert_eq!(summary.uncompressed_size, bytes.len() as u64);
        assert_eq!(summary.diff_id, sha256(&bytes));
        assert_eq!(find(&items, "b/").kind, EntryType::Directory);
        let hello = find(&items, "a.txt");
        assert_eq!(
            (hello.kind, hello.size, &hello.data[..]),
            (EntryType::Regular, 5, &b"hello"[..])
        );
        // Plain ustar, empty user and group names, no PAX header for short plain entries.
        let header = tar::Header::from_byte_slice(&bytes[..512]);
        assert!(header.as_ustar().is_some());
        assert_eq!(header.username_bytes(), Some(&b""[..]));
        assert_eq!(header.groupname_bytes(), Some(&b""[..]));
        assert!(items.iter().all(|item| item.pax.is_empty()));
    }

    #[test]
    fn whiteouts() {
        let upper = TempDir::new().unwrap();
        let root = upper.path();
        mkdir(&root.join("etc"));
        whiteout_device(&root.join("gone"));
        // Overlay shares one whiteout inode through hard links: still two whiteouts.
        fs_err::hard_link(root.join("gone"), root.join("etc/passwd")).unwrap();
        lchown(root.join("gone"), Some(7), Some(8)).unwrap();

        let items = items(root);
        let paths: Vec<String> = items.iter().map(Item::path).collect();
        assert_eq!(paths, ["etc/", "etc/.wh.passwd", ".wh.gone"]);
        for item in &items[1..] {
            assert_eq!(item.kind, EntryType::Regular);
            assert_eq!((item.size, item.mode, item.uid, item.gid), (0, 0o600, 7, 8));
            assert_eq!(item.link, None);
        }
    }

    #[test]
    fn opaque_directories_and_xattrs() {
        let upper = TempDir::new().unwrap();
        let root = upper.path();
        mkdir(&root.join("o"));
        write(&root.join("o/f"), b"f");
        setx(root.join("o"), "user.overlay.opaque", b"y");
        setx(root.join("o"), "user.foo", b"bar");
        mkdir(&root.join("t"));
        setx(root.join("t"), "trusted.overlay.opaque", b"y");
        // "x" marks a directory holding xattr whiteouts, not an opaque one.
        mkdir(&root.join("x"));
        setx(root.join("x"), "user.overlay.opaque", b"x");
        write(&root.join("file"), b"");
        for (name, value) in [
            ("user.b", &b"\0\x01binary\n"[..]),
            ("user.a", b""),
            ("trusted.t", b"1"),
        ] {
            setx(root.join("file"), name, value);
        }
        setx(root.join("file"), "user.overlay.origin", b"o");

        let items = items(root);
        let paths: Vec<String> = items.iter().map(Item::path).collect();
        assert_eq!(
            paths,
            [
                "file",
                "o/",
                "o/.wh..wh..opq",
                "o/f",
                "t/",
                "t/.wh..wh..opq",
                "x/"
            ]
        );
        let o = find(&items, "o/");
        assert_eq!(
            o.pax,
            [("SCHILY.xattr.user.foo".to_owned(), b"bar".to_vec())]
        );
        let marker = find(&items, "o/.wh..wh..opq");
        assert_eq!(
            (marker.kind, marker.size, marker.mode),
            (EntryType::Regular, 0, 0o755)
        );
        assert!(marker.pax.is_empty());
        assert!(find(&items, "t/").pax.is_empty());
        assert!(find(&items, "x/").pax.is_empty());
        let keys: Vec<&str> = find(&items, "file")
            .pax
            .iter()
            .map(|(k, _)| &k[..])
            .collect();
        assert_eq!(
            keys,
            [
                "SCHILY.xattr.trusted.t",
                "SCHILY.xattr.user.a",
                "SCHILY.xattr.user.b"
            ]
        );
        assert_eq!(
            find(&items, "file").pax("SCHILY.xattr.user.b"),
            Some(&b"\0\x01binary\n"[..])
        );
    }

    #[test]
    fn links_and_long_names() {
        let upper = TempDir::new().unwrap();
        let root = upper.path();
        write(&root.join("h1"), b"shared");
        mkdir(&root.join("sub"));
        fs_err::hard_link(root.join("h1"), root.join("h2")).unwrap();
        fs_err::hard_link(root.join("h1"), root.join("sub/h3")).unwrap();
        symlink("../odd//target/./", root.join("s")).unwrap();
        symlink("/abs", root.join("abs")).unwrap();
        let long_dir = format!("{}/{}", "d".repeat(60), "e".repeat(60));
        mkdir(&root.join(&long_dir));
        let long_file = format!("{long_dir}/{}", "f".repeat(30));
        write(&root.join(&long_file), b"long");
        assert!(long_file.len() >= 150);
        let long_target = format!("../{}", "t".repeat(117));
        assert_eq!(long_target.len(), 120);
        symlink(&long_target, root.join("long-link")).unwrap();
        fs_err::hard_link(root.join(&long_file), root.join("hard-to-long")).unwrap();

        let (bytes, _) = diff(root, &DiffOptions::default());
        let items = read_tar(&bytes);
        assert_eq!(read_with_tar_crate(&bytes), paths_and_links(&items));
        let h1 = find(&items, "h1");
        assert_eq!(
            (h1.kind, &h1.data[..]),
            (EntryType::Regular, &b"shared"[..])
        );
        for path in ["h2", "sub/h3"] {
            let link = find(&items, path);
            assert_eq!(link.kind, EntryType::Link);
            assert_eq!((link.link.as_deref(), link.size), (Some(&b"h1"[..]), 0));
        }
        // Sorted order puts `d…` first, so the long path is the first one written.
        let hard_long = find(&items, "hard-to-long");
        assert_eq!(hard_long.kind, EntryType::Link);
        assert_eq!(hard_long.link.as_deref(), Some(long_file.as_bytes()));
        let s = find(&items, "s");
        assert_eq!(s.kind, EntryType::Symlink);
        assert_eq!(s.link.as_deref(), Some(&b"../odd//target/./"[..]));
        assert_eq!(find(&items, "abs").link.as_deref(), Some(&b"/abs"[..]));
        let long = find(&items, &long_file);
        assert_eq!(&long.data[..], b"long");
        assert_eq!(long.pax("path"), Some(long_file.as_bytes()));
        assert!(find(&items, &format!("{long_dir}/")).pax("path").is_some());
        let long_link = find(&items, "long-link");
        assert_eq!(long_link.link.as_deref(), Some(long_target.as_bytes()));
    }

    #[test]
    fn newline_in_xattr_value() {
        let upper = TempDir::new().unwrap();
        let root = upper.path();
        let long = "n".repeat(130);
        write(&root.join(&long), b"data");
        // A capability set can hold 0x0a bytes, as this one does.
        setx(root.join(&long), "user.caps", b"\x02\0\0\x01\x0a\0\0\0\n");

        let (bytes, _) = diff(root, &DiffOptions::default());
        let items = read_tar(&bytes);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].path, long.as_bytes());
        let keys: Vec<&str> = items[0].pax.iter().map(|(k, _)| &k[..]).collect();
        assert_eq!(keys, ["path", "SCHILY.xattr.user.caps"]);
        assert_eq!(
            items[0].pax("SCHILY.xattr.user.caps"),
            Some(&b"\x02\0\0\x01\x0a\0\0\0\n"[..])
        );
        // The standard records come first, so even the tar crate gets the path.
        assert_eq!(read_with_tar_crate(&bytes), paths_and_links(&items));
    }

    #[test]
    fn ownership_mode_and_mtime() {
        let upper = TempDir::new().unwrap();
        let root = upper.path();
        write(&root.join("suid"), b"#!/bin/sh\n");
        chown(root.join("suid"), Some(1234), Some(5678)).unwrap();
        fs::set_permissions(root.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
        mkdir(&root.join("tmp"));
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        write(&root.join("big-ids"), b"");
        chown(root.join("big-ids"), Some(3_000_000), Some(4_000_000)).unwrap();
        set_mtime(&root.join("suid"), 1_000_000);

        let items = items(root);
        let suid = find(&items, "suid");
        assert_eq!(
            (suid.uid, suid.gid, suid.mode, suid.mtime),
            (1234, 5678, 0o4755, 1_000_000)
        );
        assert_eq!(find(&items, "tmp/").mode, 0o1777);
        let big = find(&items, "big-ids");
        assert_eq!((big.uid, big.gid), (3_000_000, 4_000_000));
        assert_eq!(big.pax("uid"), Some(&b"3000000"[..]));

        let clamped = |timestamp| {
            let (bytes, _) = diff(
                root,
                &DiffOptions {
                    timestamp: Some(timestamp),
                },
            );
            find(&read_tar(&bytes), "suid").mtime
        };
        assert_eq!(clamped(500), 500);
        assert_eq!(clamped(2_000_000), 1_000_000);
    }

    #[test]
    fn special_files() {
        let upper = TempDir::new().unwrap();
        let root = upper.path();
        mknodat(
            CWD,
            root.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o640),
            0,
        )
        .unwrap();
        mknodat(
            CWD,
            root.join("loop"),
            FileType::BlockDevice,
            Mode::empty(),
            makedev(7, 3),
        )
        .unwrap();
        mknodat(
            CWD,
            root.join("null"),
            FileType::CharacterDevice,
            Mode::empty(),
            makedev(1, 3),
        )
        .unwrap();
        let _listener = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();

        let (bytes, summary) = diff(root, &DiffOptions::default());
        let items = read_tar(&bytes);
        let paths: Vec<String> = items.iter().map(Item::path).collect();
        assert_eq!(paths, ["fifo", "loop", "null"]);
        assert_eq!((summary.entries, summary.skipped_sockets), (3, 1));
        assert_eq!((items[0].kind, items[0].mode), (EntryType::Fifo, 0o640));
        assert_eq!(
            (items[1].kind, items[1].device),
            (EntryType::Block, Some((7, 3)))
        );
        assert_eq!(
            (items[2].kind, items[2].device),
            (EntryType::Char, Some((1, 3)))
        );
    }

    /// A tree whose only differences between calls are inode numbers and times.
    fn make_tree(root: &Path, file_mtime: u64) {
        mkdir(&root.join("usr/bin"));
        write(&root.join("usr/bin/tool"), &[7u8; 3000]);
        fs_err::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool2")).unwrap();
        symlink("tool", root.join("usr/bin/alias")).unwrap();
        whiteout_device(&root.join("usr/old"));
        setx(root.join("usr"), "user.overlay.opaque", b"y");
        set_mtime(&root.join("usr/bin/tool"), file_mtime);
    }

    #[test]
    fn deterministic() {
        let first = TempDir::new().unwrap();
        make_tree(first.path(), 1_700_000_000);
        let (once, _) = diff(first.path(), &DiffOptions::default());
        let (twice, _) = diff(first.path(), &DiffOptions::default());
        assert_eq!(once, twice);

        let second = TempDir::new().unwrap();
        make_tree(second.path(), 1_600_000_000);
        let epoch = DiffOptions { timestamp: Some(0) };
        let a = write_layer(first.path(), Vec::new(), &epoch).unwrap();
        let b = write_layer(second.path(), Vec::new(), &epoch).unwrap();
        assert_eq!(a, b);
        // Without clamping the differing mtime shows.
        let a = write_layer(first.path(), Vec::new(), &DiffOptions::default()).unwrap();
        let b = write_layer(second.path(), Vec::new(), &DiffOptions::default()).unwrap();
        assert_ne!(a.diff_id, b.diff_id);
    }

    #[test]
    fn layer_digests() {
        let upper = TempDir::new().unwrap();
        make_tree(upper.path(), 1_234_567);
        let options = DiffOptions::default();
        let (tar, summary) = diff(upper.path(), &options);
        let mut gzip = Vec::new();
        let layer = write_layer(upper.path(), &mut gzip, &options).unwrap();
        assert_eq!(layer.summary, summary);
        assert_eq!(layer.diff_id, sha256(&tar));
        assert_eq!(layer.digest, sha256(&gzip));
        assert_eq!(layer.size, gzip.len() as u64);
        // A fixed gzip header: no name, mtime 0, unknown OS.
        assert_eq!(&gzip[3..8], &[0, 0, 0, 0, 0]);
        assert_eq!(gzip[9], 255);
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, tar);
    }

    #[test]
    fn large_file_streams() {
        const SIZE: u64 = 50 * 1024 * 1024 + 3;
        let upper = TempDir::new().unwrap();
        let path = upper.path().join("big");
        let mut file = fs_err::File::create(&path).unwrap();
        file.set_len(SIZE - 5).unwrap();
        std::io::Seek::seek(&mut file, io::SeekFrom::End(0)).unwrap();
        file.write_all(b"tail!").unwrap();
        drop(file);

        let out = tempfile::tempfile().unwrap();
        let summary = write_diff(upper.path(), &out, &DiffOptions::default()).unwrap();
        let padded = SIZE.div_ceil(512) * 512;
        assert_eq!(summary.uncompressed_size, 512 + padded + 1024);
        let mut out = out;
        std::io::Seek::rewind(&mut out).unwrap();
        let mut archive = tar::Archive::new(out);
        let mut entries = archive.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        assert_eq!(entry.size(), SIZE);
        let mut tail = [0u8; 5];
        io::copy(&mut (&mut entry).take(SIZE - 5), &mut io::sink()).unwrap();
        entry.read_exact(&mut tail).unwrap();
        assert_eq!(&tail, b"tail!");
        assert!(entries.next().is_none());
    }

    #[test]
    fn empty_and_missing() {
        let upper = TempDir::new().unwrap();
        assert!(is_empty_diff(upper.path()).unwrap());
        let (bytes, summary) = diff(upper.path(), &DiffOptions::default());
        assert_eq!(bytes, vec![0; 1024]);
        assert_eq!(summary.entries, 0);
        write(&upper.path().join("f"), b"");
        assert!(!is_empty_diff(upper.path()).unwrap());

        let missing = upper.path().join("missing");
        assert!(is_empty_diff(&missing).is_err());
        let err = write_diff(&missing, Vec::new(), &DiffOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "cannot list `.` in the layer");
        assert!(matches!(err, DiffError::Read { action: "list", .. }));
    }
}
