//! Content-addressed blobs: written to a temporary file while hashing, verified, fsynced and
//! renamed into `blobs/sha256/<hex>`.

use std::io::{self, Write};
use std::path::PathBuf;

use fs_err as fs;

use super::{Result, StorageError, Store, WriteLock, io_error};
use crate::oci::Digest;
use crate::oci::digest::Hasher;
use crate::util;

/// A blob being written. `commit` moves it into place; dropping it discards it.
pub struct BlobWriter {
    temp: PathBuf,
    file: Option<Hasher<io::BufWriter<fs::File>>>,
    target_dir: PathBuf,
}

impl Store {
    /// Starts writing a blob.
    pub fn blob_writer(&self, _lock: &WriteLock) -> Result<BlobWriter> {
        let temp = self
            .paths
            .tmp()
            .join(format!("blob-{}", util::ids::random_hex(8)));
        let file = fs::File::create(&temp).map_err(io_error("failed to create", &temp))?;
        Ok(BlobWriter {
            temp,
            file: Some(Hasher::new(io::BufWriter::with_capacity(256 * 1024, file))),
            target_dir: self.paths.blobs(),
        })
    }

    /// Writes a whole blob held in memory.
    pub fn write_blob(&self, lock: &WriteLock, data: &[u8]) -> Result<Digest> {
        let mut writer = self.blob_writer(lock)?;
        writer
            .write_all(data)
            .map_err(io_error("failed to write", &writer.temp))?;
        Ok(writer.commit(None)?.0)
    }

    /// Whether a blob is present.
    pub fn blob_exists(&self, digest: &Digest) -> bool {
        self.paths.blob(digest).exists()
    }

    /// Reads a whole blob.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.paths.blob(digest);
        fs::read(&path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => StorageError::BlobMissing(digest.clone()),
            _ => StorageError::Io {
                action: "failed to read",
                path,
                source,
            },
        })
    }

    /// Opens a blob for streaming.
    pub fn open_blob(&self, digest: &Digest) -> Result<fs::File> {
        let path = self.paths.blob(digest);
        fs::File::open(&path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => StorageError::BlobMissing(digest.clone()),
            _ => StorageError::Io {
                action: "failed to open",
                path,
                source,
            },
        })
    }

    /// A blob's size on disk.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        let path = self.paths.blob(digest);
        fs::metadata(&path)
            .map(|meta| meta.len())
            .map_err(|_| StorageError::BlobMissing(digest.clone()))
    }

    /// Deletes a blob.
    pub fn remove_blob(&self, _lock: &WriteLock, digest: &Digest) -> Result<()> {
        let path = self.paths.blob(digest);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(StorageError::Io {
                action: "failed to remove",
                path,
                source: error,
            }),
            _ => Ok(()),
        }
    }

    /// Every blob digest present (files with other names are ignored).
    pub fn list_blobs(&self) -> Result<Vec<Digest>> {
        let dir = self.paths.blobs();
        let entries = fs::read_dir(&dir).map_err(io_error("failed to read", &dir))?;
        Ok(entries
            .flatten()
            .filter_map(|entry| Digest::from_hex(&entry.file_name().to_string_lossy()).ok())
            .collect())
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.file.as_ref().map_or(0, Hasher::bytes)
    }

    /// Finishes the blob: verifies `expected` if given, fsyncs and renames it into place.
    /// Returns the digest and size.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let Some(hasher) = self.file.take() else {
            return Err(StorageError::Io {
                action: "failed to write",
                path: self.temp.clone(),
                source: io::Error::other("blob writer already finished"),
            });
        };
        let (digest, size, writer) = hasher.finish();
        if let Some(expected) = expected {
            if *expected != digest {
                return Err(StorageError::DigestMismatch {
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        let file = writer.into_inner().map_err(|error| StorageError::Io {
            action: "failed to write",
            path: self.temp.clone(),
            source: error.into_error(),
        })?;
        file.sync_all()
            .map_err(io_error("failed to sync", &self.temp))?;
        let target = self.target_dir.join(digest.hex());
        fs::rename(&self.temp, &target).map_err(io_error("failed to store", &target))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(buf),
            None => Err(io::Error::other("blob writer already finished")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
