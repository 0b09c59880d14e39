//! The parts of `ADD` that `COPY` lacks: remote URLs, git repositories, and local tar archives
//! extracted into the destination.
//!
//! Tree line (STYLE.md §2): `build/add.rs`, used by `executor::copy` for `ADD` from the build
//! context. It uses `super::{context, copy}`, `registry::http` (downloads), `storage::unpack`
//! (the confined tar extractor), `util` and external crates.
//!
//! Docker's rules, as BuildKit implements them:
//! - **URL** (`http://`, `https://`): downloaded, mode 0600, named after the last segment of the
//!   URL's path (`__unnamed__` when there is none), then copied like a file from the context
//!   (`dest` ending in `/` or naming a directory receives `<dest>/<name>`, otherwise the file is
//!   `dest`). Not extracted, unless `--unpack=true`. `--checksum=sha256:<hex>` (or `sha384:`,
//!   `sha512:`) is verified; the cache key is then the checksum and a cache hit downloads
//!   nothing. Without a checksum the file is downloaded on every build and its content digest
//!   is the key. The mtime is the download time: BuildKit takes `Last-Modified`, but
//!   `registry::http::download` does not hand headers back.
//! - **Git** (`https://host/repo.git`, `git@host:repo.git`, `git://`, `ssh://`, and for local
//!   repositories `file:///path/repo.git`, each with an optional `#ref` or `#ref:subdir`):
//!   resolved to a commit with `git ls-remote` (the cache key), cloned with `git clone --depth 1
//!   --branch <ref>` (a commit SHA needs a full clone and a checkout), and the working tree
//!   (or `subdir` of it) is copied into `dest` as a directory. `.git` is dropped unless
//!   `--keep-git-dir`. `--checksum` must then be (a prefix of) the commit. Git never prompts
//!   (`GIT_TERMINAL_PROMPT=0`).
//! - **Local archive**: a source file from the context that is a tar archive, plain or
//!   compressed with gzip, bzip2, xz or zstd, is extracted into `dest` (always a directory)
//!   instead of being copied. Detection is by content as in Docker: the compression by its
//!   magic bytes, then the first 512 bytes of the (decompressed) stream must be a tar header
//!   with a valid checksum (this accepts old v7 archives without the `ustar` magic; a gzipped
//!   text file is copied as it is). Owners in the archive are kept unless `--chown`; `--chmod`
//!   does not apply to extracted entries. `--unpack=false` copies archives as files.
//!
//! Extraction is confined in two steps. The archive is first unpacked into a staging directory
//! by `storage::unpack::unpack_layer`, the secure layer unpacker (`..` stays at the root,
//! absolute names become relative, every parent is opened with `openat2(RESOLVE_IN_ROOT)`, so a
//! symlink `link -> /` followed by `link/etc/y` lands in the staging dir). The staged tree is
//! then copied into the image with `copy::copy_into` (also `openat2`-confined) keeping owners.
//! Reusing the layer unpacker has one visible difference with Docker: entries named `.wh.NAME`
//! are OCI whiteouts to it, so they remove `NAME` from the extracted set instead of becoming
//! files (and `.wh..wh.*` entries are skipped, as Docker does). Device nodes are not created.
//!
//! Staging directories live in `<store root>/build-staging/`, not in the store's `tmp/`: that
//! directory is emptied every time the store lock is taken, which the executor does between
//! fetching and copying. They are removed when the [`AddSources`] is dropped; ones left by a
//! killed process are recognised by the pid and start time in their name and removed by the
//! next `ADD`.

use std::error::Error as _;
use std::fs::Permissions;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt as _;

use fs_err::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Sha256, Sha384, Sha512};

use super::context::{BuildContext, ContextError, Source, SourceKind, clean_path};
use super::copy::{self, CopyError, CopyOptions};
use super::eval::CopyStep;
use crate::registry::{RegistryError, http};
use crate::storage::unpack::{UnpackError, UnpackOptions, unpack_layer};
use crate::util;
use crate::util::process::{GIT, ProcessError};

/// The directory under the store root that holds `ADD` staging directories.
pub const STAGING_DIR: &str = "build-staging";
/// Name of a downloaded file whose URL has no usable last path segment (BuildKit's).
const UNNAMED: &str = "__unnamed__";
/// Size of a tar header block.
const TAR_BLOCK: usize = 512;
/// Mode of downloaded files (BuildKit's HTTP source).
const DOWNLOAD_MODE: u32 = 0o600;
/// Mode of the directory an archive is extracted into (and of a `dest` created for it).
const EXTRACT_DIR_MODE: u32 = 0o755;

/// Why an `ADD` source could not be fetched, extracted or copied.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The download failed.
    #[error("failed to download `{url}`")]
    Download {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: RegistryError,
    },
    /// The download does not match `--checksum` (BuildKit's wording: actual, then expected).
    #[error("failed to download `{url}`: digest mismatch {actual}: {expected}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// The digest of what was downloaded.
        actual: String,
        /// The `--checksum` value.
        expected: String,
    },
    /// `--checksum` is not `<algorithm>:<hex>` with a supported algorithm.
    #[error(
        "invalid checksum `{0}`: expected `sha256:<hex>`, `sha384:<hex>` or `sha512:<hex>` with the full digest"
    )]
    InvalidChecksum(String),
    /// A git command failed.
    #[error("failed to {action} git repository `{url}`")]
    Git {
        /// The repository URL.
        url: String,
        /// What was being done ("list the refs of", "clone" …).
        action: &'static str,
        /// The cause (names `git` and, when it is missing, its package).
        #[source]
        source: ProcessError,
    },
    /// The ref is neither a branch, a tag nor a commit.
    #[error("git repository `{url}` has no branch or tag `{reference}`")]
    GitRef {
        /// The repository URL.
        url: String,
        /// The ref as written after `#`.
        reference: String,
    },
    /// The commit does not match `--checksum`.
    #[error("git repository `{url}`: expected checksum to match {expected}, got {actual}")]
    GitChecksum {
        /// The repository URL.
        url: String,
        /// The resolved commit.
        actual: String,
        /// The `--checksum` value.
        expected: String,
    },
    /// The `#ref:subdir` is not a directory of the repository.
    #[error("git repository `{url}` has no directory `{subdir}`")]
    GitSubdir {
        /// The repository URL.
        url: String,
        /// The subdirectory as written.
        subdir: String,
    },
    /// An archive could not be extracted.
    #[error("failed to extract archive `{}`", .path.display())]
    Extract {
        /// The archive (in the context, or downloaded).
        path: PathBuf,
        /// The cause.
        #[source]
        source: UnpackError,
    },
    /// A file could not be read or written.
    #[error("failed to {action} `{}`", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A context source could not be resolved.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Copying into the image failed.
    #[error(transparent)]
    Copy(#[from] CopyError),
}

type Result<T, E = AddError> = std::result::Result<T, E>;

/// The error and its causes on one line (`a: b: c`), for callers that keep only text.
#[must_use]
pub fn describe(error: &AddError) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> AddError {
    let path = path.to_path_buf();
    move |source| AddError::Io {
        action,
        path,
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

/// What one `ADD` source argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddSource {
    /// A path in the build context.
    Local(String),
    /// A file to download.
    Url(String),
    /// A git repository.
    Git(GitRef),
}

/// A git source: the repository, and what of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRef {
    /// The repository URL, without the fragment.
    pub url: String,
    /// The branch, tag or commit after `#`; `None` for the remote's HEAD.
    pub reference: Option<String>,
    /// The directory after `#ref:`, relative to the repository root.
    pub subdir: Option<String>,
}

/// Classifies an `ADD` source argument: git repositories first (`.git` URLs, `git@`, `git://`,
/// `ssh://`), then `http(s)://` downloads; anything else is a context path (a local directory
/// called `x.git` included).
#[must_use]
pub fn classify(source: &str) -> AddSource {
    if let Some(git) = parse_git(source) {
        return AddSource::Git(git);
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        return AddSource::Url(source.to_owned());
    }
    AddSource::Local(source.to_owned())
}

/// Whether a COPY/ADD source names something outside the context (a URL or git repository).
#[must_use]
pub fn is_remote(source: &str) -> bool {
    !matches!(classify(source), AddSource::Local(_))
}

/// Parses a git source, or `None` when `source` is not one.
#[must_use]
pub fn parse_git(source: &str) -> Option<GitRef> {
    let (url, fragment) = match source.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (source, None),
    };
    let scheme_git = ["git://", "ssh://", "git@"]
        .iter()
        .any(|p| url.starts_with(p));
    let dot_git = ["http://", "https://", "file://"]
        .iter()
        .any(|p| url.starts_with(p))
        && url.trim_end_matches('/').ends_with(".git");
    if !(scheme_git || dot_git) {
        return None;
    }
    let (reference, subdir) = match fragment {
        None => (None, None),
        Some(fragment) => {
            let (reference, subdir) = match fragment.split_once(':') {
                Some((r, s)) => (r, Some(s)),
                None => (fragment, None),
            };
            let subdir = subdir
                .map(|s| clean_path(s.trim_start_matches('/')))
                .filter(|s| s != ".");
            (
                (!reference.is_empty()).then(|| reference.to_owned()),
                subdir,
            )
        }
    };
    Some(GitRef {
        url: url.to_owned(),
        reference,
        subdir,
    })
}

/// The file name BuildKit gives a download: the last segment of the URL's path, percent-
/// decoded; [`UNNAMED`] when there is none.
#[must_use]
pub fn url_file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['#', '?']).next().unwrap_or_default();
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let last = path.split('/').rev().find(|s| !s.is_empty()).unwrap_or("");
    let decoded = percent_decode(last);
    match decoded.as_deref() {
        Some(name) if !name.is_empty() && name != "." && name != ".." && !name.contains('/') => {
            name.to_owned()
        }
        _ => UNNAMED.to_owned(),
    }
}

/// `%XX` decoding; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// Checksums and downloads
// ---------------------------------------------------------------------------------------------

/// A `--checksum` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// `sha256`, `sha384` or `sha512`.
    algorithm: &'static str,
    /// Lowercase hex.
    hex: String,
}

impl Checksum {
    /// Parses `sha256:<64 hex>` (or sha384, sha512).
    ///
    /// # Errors
    ///
    /// [`AddError::InvalidChecksum`].
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || AddError::InvalidChecksum(text.to_owned());
        let (algorithm, hex) = text.split_once(':').ok_or_else(invalid)?;
        let (algorithm, len) = match algorithm {
            "sha256" => ("sha256", 64),
            "sha384" => ("sha384", 96),
            "sha512" => ("sha512", 128),
            _ => return Err(invalid()),
        };
        if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        Ok(Self {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The digest of the file at `path` with this checksum's algorithm.
    fn of_file(&self, path: &Path) -> Result<Self> {
        let hex = match self.algorithm {
            "sha384" => hash_file::<Sha384>(path)?,
            "sha512" => hash_file::<Sha512>(path)?,
            _ => hash_file::<Sha256>(path)?,
        };
        Ok(Self {
            algorithm: self.algorithm,
            hex,
        })
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

/// Hex digest of a file's content.
fn hash_file<D: sha2::Digest + Write>(path: &Path) -> Result<String> {
    let mut file = fs_err::File::open(path).map_err(io_error("read", path))?;
    let mut hasher = D::new();
    io::copy(&mut file, &mut hasher).map_err(io_error("read", path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Downloads `url` into the directory `dir` as a file named after the URL, mode 0600, and
/// verifies `checksum` if given. Returns the file's path.
///
/// # Errors
///
/// The download fails (a non-2xx answer included), the file cannot be written, or the content
/// does not match the checksum ([`AddError::DigestMismatch`]).
pub fn download(url: &str, dir: &Path, checksum: Option<&Checksum>) -> Result<PathBuf> {
    let path = dir.join(url_file_name(url));
    let file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(DOWNLOAD_MODE)
        .open(&path)
        .map_err(io_error("create", &path))?;
    let mut writer = io::BufWriter::new(file);
    http::download(url, &mut writer).map_err(|source| AddError::Download {
        url: url.to_owned(),
        source,
    })?;
    drop(writer);
    if let Some(expected) = checksum {
        let actual = expected.of_file(&path)?;
        if actual != *expected {
            return Err(AddError::DigestMismatch {
                url: url.to_owned(),
                actual: actual.to_string(),
                expected: expected.to_string(),
            });
        }
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// Archives
// ---------------------------------------------------------------------------------------------

/// The compression of a stream, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed (or not a format we know).
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// Recognises the magic bytes at the start of `head`.
    #[must_use]
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if head.starts_with(b"BZh") {
            Self::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Self::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else {
            Self::None
        }
    }
}

/// What an archive file is: its compression, or `None` when it is not a tar archive.
///
/// # Errors
///
/// The file cannot be opened or read (a stream that fails to decompress is simply not an
/// archive, as in Docker).
pub fn archive_kind(path: &Path) -> Result<Option<Compression>> {
    let file = fs_err::File::open(path).map_err(io_error("read", path))?;
    let mut reader = BufReader::new(file);
    let compression = Compression::sniff(reader.fill_buf().map_err(io_error("read", path))?);
    let Ok(mut stream) = decompress(reader, compression) else {
        return Ok(None);
    };
    let mut block = [0u8; TAR_BLOCK];
    let mut filled = 0;
    while filled < TAR_BLOCK {
        match stream.read(&mut block[filled..]) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => filled += n,
        }
    }
    Ok(is_tar_header(&block).then_some(compression))
}

/// Wraps `reader` in the decoder for `compression`.
fn decompress<'a, R: BufRead + 'a>(
    reader: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    })
}

/// Whether a 512-byte block is a tar header: its checksum field (octal, at 148) equals the sum
/// of its bytes with that field counted as spaces. An all-zero block (an empty archive's end)
/// is not.
fn is_tar_header(block: &[u8; TAR_BLOCK]) -> bool {
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    let field = &block[148..156];
    let digits: String = field
        .iter()
        .map(|&b| b as char)
        .skip_while(|c| *c == ' ')
        .take_while(char::is_ascii_digit)
        .collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else {
        return false;
    };
    let unsigned: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    // Some old writers summed signed bytes.
    let signed: i64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(b as i8)
            }
        })
        .sum();
    stored == unsigned || i64::from(stored) == signed
}

/// Extracts the archive at `path` into the existing directory `dest`, confined to it.
///
/// # Errors
///
/// The archive cannot be read, is corrupt, or an entry cannot be created.
pub fn extract(path: &Path, dest: &Path) -> Result<()> {
    let file = fs_err::File::open(path).map_err(io_error("read", path))?;
    let mut reader = BufReader::new(file);
    let compression = Compression::sniff(reader.fill_buf().map_err(io_error("read", path))?);
    let stream = decompress(reader, compression).map_err(io_error("decompress", path))?;
    unpack_layer(stream, dest, &UnpackOptions::default()).map_err(|source| AddError::Extract {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Git
// ---------------------------------------------------------------------------------------------

/// Runs git with `args` (never prompting), in `dir` if given.
fn git(args: &[&str], dir: Option<&Path>) -> Result<Output, ProcessError> {
    GIT.run_with(|command| {
        command
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
    })
}

/// Whether `text` could be a commit ID (abbreviated or full).
fn is_commit_like(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl GitRef {
    fn fail(&self, action: &'static str) -> impl FnOnce(ProcessError) -> AddError {
        let url = self.url.clone();
        move |source| AddError::Git {
            url,
            action,
            source,
        }
    }

    /// The commit the source names, asking the remote (`git ls-remote`): a tag (peeled), a
    /// branch, a full ref, or HEAD. A ref that the remote does not list but looks like a commit
    /// ID is taken as one.
    ///
    /// # Errors
    ///
    /// git is missing or fails, or the ref does not exist.
    pub fn resolve(&self) -> Result<String> {
        let reference = self.reference.as_deref().unwrap_or("HEAD");
        let peeled = format!("{reference}^{{}}");
        let output = git(&["ls-remote", "--", &self.url, reference, &peeled], None)
            .map_err(self.fail("list the refs of"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let refs: Vec<(&str, &str)> = text
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .collect();
        let find = |name: &str| {
            refs.iter()
                .find(|(_, r)| *r == name)
                .map(|(sha, _)| (*sha).to_owned())
        };
        let candidates = if reference == "HEAD" {
            vec!["HEAD".to_owned()]
        } else {
            vec![
                format!("refs/tags/{reference}^{{}}"),
                format!("refs/tags/{reference}"),
                format!("refs/heads/{reference}"),
                format!("{reference}^{{}}"),
                reference.to_owned(),
            ]
        };
        if let Some(sha) = candidates.iter().find_map(|c| find(c)) {
            return Ok(sha);
        }
        if is_commit_like(reference) {
            return Ok(reference.to_ascii_lowercase());
        }
        Err(AddError::GitRef {
            url: self.url.clone(),
            reference: reference.to_owned(),
        })
    }

    /// Clones the repository into `dest` (which must not exist) at `commit` (from
    /// [`GitRef::resolve`]), drops `.git` unless `keep_git_dir`, and returns the directory to
    /// copy (`dest`, or its `subdir`).
    ///
    /// # Errors
    ///
    /// git is missing or fails, the checkout is not `commit`, or `subdir` is missing.
    pub fn clone_into(&self, commit: &str, dest: &Path, keep_git_dir: bool) -> Result<PathBuf> {
        let dest_text = dest.to_string_lossy();
        let by_name = self
            .reference
            .as_deref()
            .is_some_and(|r| !r.eq_ignore_ascii_case(commit) && !r.starts_with("refs/"));
        if self.reference.is_none() || by_name {
            let mut args = vec!["clone", "--depth", "1", "--recurse-submodules"];
            args.push("--shallow-submodules");
            if let Some(reference) = &self.reference {
                args.extend(["--branch", reference]);
            }
            args.extend(["--", &self.url, &dest_text]);
            git(&args, None).map_err(self.fail("clone"))?;
        } else {
            // A commit (or a full ref): a full clone, then a checkout.
            git(
                &["clone", "--no-checkout", "--", &self.url, &dest_text],
                None,
            )
            .map_err(self.fail("clone"))?;
            git(&["checkout", "--detach", commit], Some(dest)).map_err(self.fail("check out"))?;
            git(
                &["submodule", "update", "--init", "--recursive"],
                Some(dest),
            )
            .map_err(self.fail("check out the submodules of"))?;
        }
        let head = git(&["rev-parse", "HEAD"], Some(dest)).map_err(self.fail("read"))?;
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        if !head.starts_with(&commit.to_ascii_lowercase()) {
            return Err(AddError::GitChecksum {
                url: self.url.clone(),
                actual: head,
                expected: commit.to_owned(),
            });
        }
        if !keep_git_dir {
            let dot_git = dest.join(".git");
            util::fs::remove_all(&dot_git).map_err(io_error("remove", &dot_git))?;
        }
        let Some(subdir) = &self.subdir else {
            return Ok(dest.to_path_buf());
        };
        // Symlinks in the repository must not lead the copy out of the clone.
        let tree = fs_err::canonicalize(dest.join(subdir)).ok();
        let top = fs_err::canonicalize(dest).map_err(io_error("read", dest))?;
        match tree {
            Some(tree) if tree.starts_with(&top) && tree.is_dir() => Ok(tree),
            _ => Err(AddError::GitSubdir {
                url: self.url.clone(),
                subdir: subdir.clone(),
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Staging
// ---------------------------------------------------------------------------------------------

/// A private directory for downloads, clones and extracted archives, removed on drop.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    next: usize,
}

impl Staging {
    /// A fresh directory under `base` (created if missing). Directories there left by dead
    /// processes are removed first.
    ///
    /// # Errors
    ///
    /// `base` or the directory cannot be created.
    pub fn new(base: &Path) -> Result<Self> {
        fs_err::create_dir_all(base).map_err(io_error("create", base))?;
        remove_stale(base);
        let pid = std::process::id();
        let start = i32::try_from(pid)
            .ok()
            .and_then(util::process::start_time)
            .unwrap_or(0);
        let dir = base.join(format!("add-{pid}-{start}-{}", util::ids::random_hex(8)));
        fs_err::create_dir(&dir).map_err(io_error("create", &dir))?;
        fs_err::set_permissions(&dir, Permissions::from_mode(0o700))
            .map_err(io_error("set the mode of", &dir))?;
        Ok(Self { dir, next: 0 })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where the next download, clone or extraction goes (`create`: made, mode 0755).
    fn slot(&mut self, what: &str, create: bool) -> Result<PathBuf> {
        self.next += 1;
        let path = self.dir.join(format!("{what}-{}", self.next));
        if create {
            fs_err::create_dir(&path).map_err(io_error("create", &path))?;
            fs_err::set_permissions(&path, Permissions::from_mode(EXTRACT_DIR_MODE))
                .map_err(io_error("set the mode of", &path))?;
        }
        Ok(path)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(error) = util::fs::remove_all(&self.dir) {
            tracing::warn!(path = %self.dir.display(), %error, "cannot remove ADD staging directory");
        }
    }
}

/// Removes `add-<pid>-<start time>-*` directories whose process is gone.
fn remove_stale(base: &Path) {
    let Ok(entries) = fs_err::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("add-")) else {
            continue;
        };
        let mut parts = rest.splitn(3, '-');
        let (Some(Ok(pid)), Some(Ok(start))) = (
            parts.next().map(str::parse::<i32>),
            parts.next().map(str::parse::<u64>),
        ) else {
            continue;
        };
        if !util::process::is_same_process(pid, Some(start)) {
            let _ = util::fs::remove_all(&entry.path());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One ADD
// ---------------------------------------------------------------------------------------------

/// One source argument, resolved.
#[derive(Debug)]
enum Item {
    /// Context entries (several for a wildcard).
    Local(Vec<Source>),
    /// A URL and, once fetched, the downloaded file.
    Url {
        url: String,
        checksum: Option<Checksum>,
        file: Option<PathBuf>,
    },
    /// A repository at a commit and, once fetched, the tree to copy.
    Git {
        git: GitRef,
        commit: String,
        tree: Option<PathBuf>,
    },
}

/// The sources of one `ADD` from the build context: resolved (cheaply, for the cache key),
/// then fetched (on a cache miss), then copied into the image.
#[derive(Debug)]
pub struct AddSources {
    items: Vec<Item>,
    /// Identifies the sources' content: context digests, checksums, download digests, commits.
    pub digest: String,
    /// Extract local archives.
    unpack_local: bool,
    /// Extract downloaded archives (`--unpack=true`).
    unpack_urls: bool,
    keep_git_dir: bool,
    staging: Staging,
}

impl AddSources {
    /// Resolves `step`'s sources. URLs with `--checksum` and git repositories are not fetched
    /// yet (the checksum and the commit are their keys); URLs without one are downloaded now,
    /// since their content is their key. Staging goes under `staging_base`.
    ///
    /// # Errors
    ///
    /// A context source is missing, the checksum is malformed, a download or `git ls-remote`
    /// fails, or the commit does not match the checksum.
    pub fn resolve(context: &BuildContext, step: &CopyStep, staging_base: &Path) -> Result<Self> {
        let mut staging = Staging::new(staging_base)?;
        let mut items = Vec::new();
        let mut keys = Vec::new();
        for text in &step.sources {
            match classify(text) {
                AddSource::Local(path) => {
                    let sources = context.resolve(&path)?;
                    keys.push(format!("context {}", context.digest(&sources)?));
                    items.push(Item::Local(sources));
                }
                AddSource::Url(url) => {
                    let checksum = step.checksum.as_deref().map(Checksum::parse).transpose()?;
                    let file = match &checksum {
                        Some(sum) => {
                            keys.push(format!("url {url} {sum}"));
                            None
                        }
                        None => {
                            let dir = staging.slot("download", true)?;
                            let file = download(&url, &dir, None)?;
                            keys.push(format!("url {url} sha256:{}", hash_file::<Sha256>(&file)?));
                            Some(file)
                        }
                    };
                    items.push(Item::Url {
                        url,
                        checksum,
                        file,
                    });
                }
                AddSource::Git(git) => {
                    let commit = git.resolve()?;
                    if let Some(expected) = step.checksum.as_deref()
                        && !commit.starts_with(&expected.to_ascii_lowercase())
                    {
                        return Err(AddError::GitChecksum {
                            url: git.url.clone(),
                            actual: commit,
                            expected: expected.to_owned(),
                        });
                    }
                    keys.push(format!(
                        "git {} {commit} {}",
                        git.url,
                        git.subdir.as_deref().unwrap_or("")
                    ));
                    items.push(Item::Git {
                        git,
                        commit,
                        tree: None,
                    });
                }
            }
        }
        Ok(Self {
            items,
            digest: keys.join("\n"),
            unpack_local: step.unpack != Some(false),
            unpack_urls: step.unpack == Some(true),
            keep_git_dir: step.keep_git_dir,
            staging,
        })
    }

    /// Downloads and clones what [`AddSources::resolve`] left for a cache miss.
    ///
    /// # Errors
    ///
    /// A download, checksum or clone fails.
    pub fn fetch(&mut self) -> Result<()> {
        for item in &mut self.items {
            match item {
                Item::Local(_) => {}
                Item::Url {
                    url,
                    checksum,
                    file,
                } => {
                    if file.is_none() {
                        let dir = self.staging.slot("download", true)?;
                        *file = Some(download(url, &dir, checksum.as_ref())?);
                    }
                }
                Item::Git { git, commit, tree } => {
                    if tree.is_none() {
                        let dir = self.staging.slot("git", false)?;
                        *tree = Some(git.clone_into(commit, &dir, self.keep_git_dir)?);
                    }
                }
            }
        }
        Ok(())
    }

    /// Copies the fetched sources into the root filesystem `root` at `dest` (relative to
    /// `workdir`), with COPY's rules for files and directories and archives extracted.
    ///
    /// # Errors
    ///
    /// Several sources and a `dest` without a trailing `/`, a source not fetched, an archive
    /// that cannot be extracted, or a failing copy.
    pub fn copy_into(
        &mut self,
        root: &Path,
        dest: &str,
        workdir: &str,
        options: &CopyOptions,
    ) -> Result<()> {
        let dest_is_dir =
            dest.is_empty() || dest == "." || dest.ends_with('/') || dest.ends_with("/.");
        if self.items.len() > 1 && !dest_is_dir {
            return Err(CopyError::NeedDirectory.into());
        }
        let total: usize = self
            .items
            .iter()
            .map(|item| match item {
                Item::Local(sources) => sources.len(),
                _ => 1,
            })
            .sum();
        // Copied one group at a time, so say "directory" for all when there are several.
        let dest = if total > 1 && !dest_is_dir {
            format!("{dest}/")
        } else {
            dest.to_owned()
        };
        let items = std::mem::take(&mut self.items);
        let outcome = self.copy_items(&items, root, &dest, workdir, options);
        self.items = items;
        outcome
    }

    fn copy_items(
        &mut self,
        items: &[Item],
        root: &Path,
        dest: &str,
        workdir: &str,
        options: &CopyOptions,
    ) -> Result<()> {
        for item in items {
            match item {
                Item::Local(sources) => {
                    let mut plain = Vec::new();
                    for source in sources {
                        if self.unpack_local
                            && source.kind == SourceKind::File
                            && archive_kind(&source.path)?.is_some()
                        {
                            self.extract_into(&source.path, root, dest, workdir, options)?;
                        } else {
                            plain.push(source.clone());
                        }
                    }
                    if !plain.is_empty() {
                        copy::copy_into(root, &plain, dest, workdir, options)?;
                    }
                }
                Item::Url { url, file, .. } => {
                    let file = file.as_ref().ok_or_else(|| AddError::Io {
                        action: "read the download of",
                        path: PathBuf::from(url),
                        source: io::ErrorKind::NotFound.into(),
                    })?;
                    if self.unpack_urls && archive_kind(file)?.is_some() {
                        self.extract_into(file, root, dest, workdir, options)?;
                    } else {
                        let name = url_file_name(url);
                        let source = Source::new(name, file.clone(), SourceKind::File);
                        copy::copy_into(root, &[source], dest, workdir, options)?;
                    }
                }
                Item::Git { git, tree, .. } => {
                    let tree = tree.as_ref().ok_or_else(|| AddError::Io {
                        action: "read the clone of",
                        path: PathBuf::from(&git.url),
                        source: io::ErrorKind::NotFound.into(),
                    })?;
                    let source = Source::new("", tree.clone(), SourceKind::Dir);
                    copy::copy_into(root, &[source], dest, workdir, options)?;
                }
            }
        }
        Ok(())
    }

    /// Extracts `archive` into staging, then copies the tree into `dest` keeping its owners
    /// (unless `--chown`) and modes.
    fn extract_into(
        &mut self,
        archive: &Path,
        root: &Path,
        dest: &str,
        workdir: &str,
        options: &CopyOptions,
    ) -> Result<()> {
        let dir = self.staging.slot("unpacked", true)?;
        extract(archive, &dir)?;
        let tree = Source::new("", dir.clone(), SourceKind::Dir);
        let options = CopyOptions {
            chmod: None,
            parents: false,
            keep_owners: true,
            ..options.clone()
        };
        copy::copy_into(root, &[tree], dest, workdir, &options)?;
        // Free the space early: a build may add several large archives.
        util::fs::remove_all(&dir).map_err(io_error("remove", &dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::TcpListener;
    use std::os::unix::fs::{MetadataExt, symlink};
    use std::thread::JoinHandle;

    use sha2::Digest as _;

    use super::*;

    /// A tar archive built by hand, so that entries may have any name.
    struct Tar(Vec<u8>);

    impl Tar {
        fn new() -> Self {
            Self(Vec::new())
        }

        fn entry(mut self, name: &str, kind: u8, data: &[u8], link: &str, owner: u32) -> Self {
            let mut header = [0u8; TAR_BLOCK];
            header[..name.len()].copy_from_slice(name.as_bytes());
            let mode = if kind == b'5' {
                "0000755\0"
            } else {
                "0000644\0"
            };
            header[100..108].copy_from_slice(mode.as_bytes());
            let id = format!("{owner:07o}\0");
            header[108..116].copy_from_slice(id.as_bytes());
            header[116..124].copy_from_slice(id.as_bytes());
            let size = format!("{:011o}\0", data.len());
            header[124..136].copy_from_slice(size.as_bytes());
            header[136..148].copy_from_slice(b"14500000000\0");
            header[156] = kind;
            header[157..157 + link.len()].copy_from_slice(link.as_bytes());
            header[257..263].copy_from_slice(b"ustar\0");
            header[263..265].copy_from_slice(b"00");
            header[148..156].copy_from_slice(b"        ");
            let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
            header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            self.0.extend_from_slice(&header);
            self.0.extend_from_slice(data);
            let pad = (TAR_BLOCK - data.len() % TAR_BLOCK) % TAR_BLOCK;
            self.0.extend(std::iter::repeat_n(0, pad));
            self
        }

        fn file(self, name: &str, data: &str) -> Self {
            self.entry(name, b'0', data.as_bytes(), "", 0)
        }

        fn finish(mut self) -> Vec<u8> {
            self.0.extend(std::iter::repeat_n(0, 2 * TAR_BLOCK));
            self.0
        }
    }

    fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
        match compression {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
        }
    }

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ];

    fn sample() -> Vec<u8> {
        Tar::new()
            .entry("dir/", b'5', b"", "", 0)
            .entry("dir/owned.txt", b'0', b"owned\n", "", 1234)
            .file("top.txt", "top\n")
            .entry("dir/link", b'2', b"", "../top.txt", 0)
            .finish()
    }

    #[test]
    fn archives_are_detected_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let tar = sample();
        for compression in ALL {
            let path = dir.path().join(format!("a-{compression:?}.bin"));
            fs_err::write(&path, compress(&tar, compression)).unwrap();
            assert_eq!(archive_kind(&path).unwrap(), Some(compression), "{path:?}");
        }
        // Not archives: text, gzipped text, an empty tar (only zero blocks), a short file.
        let cases: [(&str, Vec<u8>); 4] = [
            ("text.tar", b"just text\n".repeat(100)),
            (
                "text.gz",
                compress(&b"hello\n".repeat(200), Compression::Gzip),
            ),
            ("empty.tar", vec![0; 2 * TAR_BLOCK]),
            ("short", b"BZh".to_vec()),
        ];
        for (name, content) in cases {
            let path = dir.path().join(name);
            fs_err::write(&path, content).unwrap();
            assert_eq!(archive_kind(&path).unwrap(), None, "{name}");
        }
        // A v7 archive (no `ustar` magic) still counts.
        let mut v7 = sample();
        v7[257..265].fill(0);
        v7[148..156].copy_from_slice(b"        ");
        let sum: u32 = v7[..TAR_BLOCK].iter().map(|&b| u32::from(b)).sum();
        v7[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let path = dir.path().join("v7.tar");
        fs_err::write(&path, v7).unwrap();
        assert_eq!(archive_kind(&path).unwrap(), Some(Compression::None));
    }

    #[test]
    fn every_format_extracts_and_copies_with_owners() {
        let dir = tempfile::tempdir().unwrap();
        for compression in ALL {
            let archive = dir.path().join(format!("a-{compression:?}"));
            fs_err::write(&archive, compress(&sample(), compression)).unwrap();
            let staged = dir.path().join(format!("staged-{compression:?}"));
            fs_err::create_dir(&staged).unwrap();
            extract(&archive, &staged).unwrap();
            assert_eq!(
                fs_err::read_to_string(staged.join("dir/owned.txt")).unwrap(),
                "owned\n"
            );
            assert_eq!(
                fs_err::read_link(staged.join("dir/link")).unwrap(),
                Path::new("../top.txt")
            );
        }
        // Through a staging dir into an image root, owners kept unless --chown.
        let root = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a-Gzip");
        let mut add = AddSources {
            items: vec![Item::Local(vec![Source::new(
                "a.tgz",
                archive.clone(),
                SourceKind::File,
            )])],
            digest: String::new(),
            unpack_local: true,
            unpack_urls: false,
            keep_git_dir: false,
            staging: Staging::new(&dir.path().join("staging")).unwrap(),
        };
        add.copy_into(root.path(), "/x", "/", &CopyOptions::default())
            .unwrap();
        let owned = fs_err::metadata(root.path().join("x/dir/owned.txt")).unwrap();
        assert_eq!((owned.uid(), owned.gid()), (1234, 1234));
        assert_eq!(owned.mode() & 0o7777, 0o644);
        assert_eq!(owned.mtime(), 0o14_500_000_000);
        assert_eq!(
            fs_err::metadata(root.path().join("x")).unwrap().mode() & 0o7777,
            0o755
        );
        let chown = CopyOptions {
            chown: Some((7, 8)),
            ..CopyOptions::default()
        };
        add.copy_into(root.path(), "/y/", "/", &chown).unwrap();
        let owned = fs_err::metadata(root.path().join("y/dir/owned.txt")).unwrap();
        assert_eq!((owned.uid(), owned.gid()), (7, 8));
        // --unpack=false copies the archive itself.
        add.unpack_local = false;
        add.copy_into(root.path(), "/z/", "/", &CopyOptions::default())
            .unwrap();
        assert!(
            fs_err::metadata(root.path().join("z/a.tgz"))
                .unwrap()
                .is_file()
        );
        // Staging is emptied as it goes and removed on drop.
        let staging = add.staging.path().to_path_buf();
        assert_eq!(fs_err::read_dir(&staging).unwrap().count(), 0);
        drop(add);
        assert!(!staging.exists());
    }

    #[test]
    fn malicious_archives_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let canary = tempfile::tempdir().unwrap();
        let canary_path = canary.path().to_str().unwrap().trim_start_matches('/');
        let tar = Tar::new()
            .file("../escape", "dotdot\n")
            .file("../../../../../../../../escape2", "dotdot\n")
            .file(&format!("/{canary_path}/abs"), "absolute\n")
            .entry("link", b'2', b"", "/", 0)
            .file(&format!("link/{canary_path}/through-link"), "link\n")
            .entry("rel", b'2', b"", "../../../../../../..", 0)
            .file(&format!("rel/{canary_path}/through-rel"), "rel\n")
            .entry(
                "hard",
                b'1',
                b"",
                &format!("/{canary_path}/../../etc/passwd"),
                0,
            )
            .finish();
        for compression in [Compression::None, Compression::Zstd] {
            let archive = dir.path().join(format!("evil-{compression:?}"));
            fs_err::write(&archive, compress(&tar, compression)).unwrap();
            let root = tempfile::tempdir().unwrap();
            // The image has its own symlink to the canary's path (which exists in the image).
            symlink(canary.path(), root.path().join("out")).unwrap();
            fs_err::create_dir_all(root.path().join(canary_path)).unwrap();
            let mut add = AddSources {
                items: vec![Item::Local(vec![Source::new(
                    "evil",
                    archive,
                    SourceKind::File,
                )])],
                digest: String::new(),
                unpack_local: true,
                unpack_urls: false,
                keep_git_dir: false,
                staging: Staging::new(&dir.path().join("staging")).unwrap(),
            };
            // The hardlink to a file outside is refused; everything before it landed inside.
            let error = add
                .copy_into(root.path(), "/x/", "/", &CopyOptions::default())
                .unwrap_err();
            assert!(
                describe(&error).contains("hardlink"),
                "{}",
                describe(&error)
            );
            assert_eq!(fs_err::read_dir(canary.path()).unwrap().count(), 0);
            assert!(!dir.path().join("escape").exists());
            assert!(!Path::new("/escape2").exists());
            // Without the hardlink, the rest is extracted inside the root.
            let clean = dir.path().join("clean.tar");
            let cut = tar.len() - 3 * TAR_BLOCK;
            let mut body = tar[..cut].to_vec();
            body.extend(std::iter::repeat_n(0, 2 * TAR_BLOCK));
            fs_err::write(&clean, body).unwrap();
            add.items = vec![Item::Local(vec![Source::new(
                "clean.tar",
                clean,
                SourceKind::File,
            )])];
            // `/out` is the image's symlink to the canary: resolved inside the root too.
            add.copy_into(root.path(), "/out/", "/", &CopyOptions::default())
                .unwrap();
            assert_eq!(fs_err::read_dir(canary.path()).unwrap().count(), 0);
            let out = root.path().join(canary_path);
            assert_eq!(
                fs_err::read_to_string(out.join("escape")).unwrap(),
                "dotdot\n"
            );
            assert!(out.join("escape2").is_file());
            assert_eq!(fs_err::read_link(out.join("link")).unwrap(), Path::new("/"));
            for name in ["abs", "through-link", "through-rel"] {
                assert!(out.join(canary_path).join(name).is_file(), "{name}");
            }
        }
    }

    /// Serves one GET with `body`; returns the URL base and the thread (which yields the
    /// request line).
    fn serve_once(body: Vec<u8>) -> (String, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                if stream.read(&mut byte).unwrap() == 0 {
                    break;
                }
                request.push(byte[0]);
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
            String::from_utf8_lossy(&request)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        (base, handle)
    }

    #[test]
    fn url_names() {
        assert_eq!(
            url_file_name("https://example.com/a/b/tool.tar.gz"),
            "tool.tar.gz"
        );
        assert_eq!(url_file_name("https://example.com/a/dir/?x=1#y"), "dir");
        assert_eq!(url_file_name("https://example.com/my%20file"), "my file");
        assert_eq!(url_file_name("https://example.com"), UNNAMED);
        assert_eq!(url_file_name("https://example.com/"), UNNAMED);
        assert_eq!(url_file_name("https://example.com/a/%2F"), UNNAMED);
        assert_eq!(url_file_name("https://example.com/.."), UNNAMED);
    }

    #[test]
    fn downloads_are_named_0600_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"downloaded\n".to_vec();
        let good =
            Checksum::parse(&format!("sha256:{}", hex::encode(Sha256::digest(&body)))).unwrap();
        let (base, server) = serve_once(body.clone());
        let path = download(
            &format!("{base}/files/data.txt?v=2"),
            dir.path(),
            Some(&good),
        )
        .unwrap();
        assert_eq!(server.join().unwrap(), "GET /files/data.txt?v=2 HTTP/1.1");
        assert_eq!(path, dir.path().join("data.txt"));
        assert_eq!(fs_err::read(&path).unwrap(), body);
        assert_eq!(fs_err::metadata(&path).unwrap().mode() & 0o7777, 0o600);

        let wrong = Checksum::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
        let other = tempfile::tempdir().unwrap();
        let (base, server) = serve_once(body.clone());
        let url = format!("{base}/data.txt");
        let error = download(&url, other.path(), Some(&wrong)).unwrap_err();
        server.join().unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "failed to download `{url}`: digest mismatch {good}: sha256:{}",
                "0".repeat(64)
            )
        );
        assert!(matches!(
            Checksum::parse("md5:abc"),
            Err(AddError::InvalidChecksum(_))
        ));
        assert!(Checksum::parse("sha256:abc").is_err());

        // Into an image root: dest rules, mode 0600 kept, not extracted.
        let tar = compress(&sample(), Compression::Gzip);
        let (base, server) = serve_once(tar.clone());
        let root = tempfile::tempdir().unwrap();
        let step = CopyStep {
            is_add: true,
            sources: vec![format!("{base}/pkg.tgz")],
            dest: "/opt/".to_owned(),
            from: super::super::plan::CopySource::Context,
            chown: None,
            chmod: None,
            link: false,
            parents: false,
            excludes: Vec::new(),
            checksum: None,
            keep_git_dir: false,
            unpack: None,
            heredocs: Vec::new(),
            created_by: String::new(),
            cache_text: String::new(),
        };
        let context_dir = tempfile::tempdir().unwrap();
        let context =
            BuildContext::open(context_dir.path(), &context_dir.path().join("Dockerfile")).unwrap();
        let mut add = AddSources::resolve(&context, &step, &dir.path().join("staging")).unwrap();
        server.join().unwrap();
        let digest = hex::encode(Sha256::digest(&tar));
        assert!(
            add.digest.ends_with(&format!("sha256:{digest}")),
            "{}",
            add.digest
        );
        add.fetch().unwrap();
        add.copy_into(root.path(), "/opt/", "/", &CopyOptions::default())
            .unwrap();
        let copied = root.path().join("opt/pkg.tgz");
        assert_eq!(fs_err::read(&copied).unwrap(), tar);
        assert_eq!(fs_err::metadata(&copied).unwrap().mode() & 0o7777, 0o600);
        // With a checksum, resolving downloads nothing (no server is listening).
        let step = CopyStep {
            checksum: Some(format!("sha256:{digest}")),
            sources: vec!["http://127.0.0.1:9/never.tgz".to_owned()],
            ..step
        };
        let add = AddSources::resolve(&context, &step, &dir.path().join("staging")).unwrap();
        assert_eq!(
            add.digest,
            format!("url http://127.0.0.1:9/never.tgz sha256:{digest}")
        );
    }

    #[test]
    fn sources_are_classified() {
        let git = |url: &str, r: Option<&str>, s: Option<&str>| {
            AddSource::Git(GitRef {
                url: url.to_owned(),
                reference: r.map(str::to_owned),
                subdir: s.map(str::to_owned),
            })
        };
        assert_eq!(
            classify("https://github.com/moby/buildkit.git#v0.10.1"),
            git(
                "https://github.com/moby/buildkit.git",
                Some("v0.10.1"),
                None
            )
        );
        assert_eq!(
            classify("git@github.com:o/r.git#main:docs/"),
            git("git@github.com:o/r.git", Some("main"), Some("docs"))
        );
        assert_eq!(
            classify("file:///srv/repo.git"),
            git("file:///srv/repo.git", None, None)
        );
        assert_eq!(
            classify("https://example.com/x.tgz"),
            AddSource::Url("https://example.com/x.tgz".to_owned())
        );
        assert_eq!(
            classify("local.git"),
            AddSource::Local("local.git".to_owned())
        );
        assert!(!is_remote("dir/x.git"));
        assert!(is_remote("http://example.com/x"));
    }

    fn run_git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A bare repository with two commits on `main`: the first tagged `v1` (annotated), the
    /// second adding `sub/new.txt`.
    fn repository(dir: &Path) -> (String, String, String) {
        run_git(dir, &["init", "-q", "--bare", "repo.git"]);
        run_git(dir, &["init", "-q", "work"]);
        let work = dir.join("work");
        fs_err::write(work.join("hello.txt"), "v1\n").unwrap();
        run_git(&work, &["add", "."]);
        run_git(&work, &["commit", "-qm", "one"]);
        run_git(&work, &["tag", "-a", "v1", "-m", "v1"]);
        let first = run_git(&work, &["rev-parse", "HEAD"]);
        fs_err::create_dir(work.join("sub")).unwrap();
        fs_err::write(work.join("sub/new.txt"), "v2\n").unwrap();
        run_git(&work, &["add", "."]);
        run_git(&work, &["commit", "-qm", "two"]);
        let second = run_git(&work, &["rev-parse", "HEAD"]);
        run_git(&work, &["push", "-q", "--tags", "../repo.git", "main"]);
        let url = format!("file://{}", dir.join("repo.git").display());
        (url, first, second)
    }

    #[test]
    fn git_sources_clone_at_refs() {
        if GIT.find().is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (url, first, second) = repository(dir.path());
        let staging = dir.path().join("staging");
        fs_err::create_dir(&staging).unwrap();

        let head = parse_git(&url).unwrap();
        assert_eq!(head.resolve().unwrap(), second);
        let tree = head.clone_into(&second, &staging.join("a"), false).unwrap();
        assert_eq!(
            fs_err::read_to_string(tree.join("sub/new.txt")).unwrap(),
            "v2\n"
        );
        assert!(!tree.join(".git").exists());

        let tag = parse_git(&format!("{url}#v1")).unwrap();
        assert_eq!(tag.resolve().unwrap(), first);
        let tree = tag.clone_into(&first, &staging.join("b"), true).unwrap();
        assert_eq!(
            fs_err::read_to_string(tree.join("hello.txt")).unwrap(),
            "v1\n"
        );
        assert!(!tree.join("sub").exists());
        assert!(tree.join(".git").is_dir());

        let by_commit = parse_git(&format!("{url}#{}", &first[..12])).unwrap();
        assert_eq!(by_commit.resolve().unwrap(), first[..12]);
        let tree = by_commit
            .clone_into(&first[..12], &staging.join("c"), false)
            .unwrap();
        assert!(tree.join("hello.txt").is_file() && !tree.join("sub").exists());

        let subdir = parse_git(&format!("{url}#main:sub")).unwrap();
        let tree = subdir
            .clone_into(&second, &staging.join("d"), false)
            .unwrap();
        assert_eq!(tree, staging.join("d/sub"));

        let missing = parse_git(&format!("{url}#nope")).unwrap();
        assert_eq!(
            missing.resolve().unwrap_err().to_string(),
            format!("git repository `{url}` has no branch or tag `nope`")
        );
        let gone = parse_git("file:///nonexistent/repo.git").unwrap();
        let error = describe(&gone.resolve().unwrap_err());
        assert!(
            error.starts_with("failed to list the refs of git repository"),
            "{error}"
        );
        assert!(error.contains("`git` failed"), "{error}");
    }
}
