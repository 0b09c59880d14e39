//! Unpacked layers, shared by every image that has them: `layers/<chain-id>/diff` is one
//! overlay lowerdir, `meta.json` says what it is. A layer appears only by rename after its
//! unpack completed, so a killed unpack leaves nothing but debris in `tmp/`.

use std::io::{self, BufReader, Read};

use fs_err as fs;
use serde::{Deserialize, Serialize};

use super::unpack::{self, UnpackOptions};
use super::{Result, StorageError, Store, WriteLock, io_error};
use crate::oci::Digest;
use crate::oci::digest::Hasher;
use crate::oci::media_type::Compression;
use crate::util;

/// What the store knows of one unpacked layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMeta {
    /// Chain ID: the layer's identity in this position of a stack.
    pub chain_id: Digest,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// The chain ID of the layer below, if any.
    pub parent: Option<Digest>,
    /// Bytes of regular-file content (Docker's layer size).
    pub size: u64,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    /// Device nodes that were skipped (rootless).
    #[serde(default)]
    pub skipped_devices: u64,
}

impl Store {
    /// Whether a layer with this chain ID is unpacked.
    pub fn layer_exists(&self, chain_id: &Digest) -> bool {
        self.paths.layer_meta(chain_id).exists()
    }

    /// Reads a layer's metadata.
    pub fn load_layer_meta(&self, chain_id: &Digest) -> Result<LayerMeta> {
        let path = self.paths.layer_meta(chain_id);
        let text = fs::read(&path).map_err(io_error("failed to read", &path))?;
        serde_json::from_slice(&text).map_err(|source| StorageError::Corrupt { path, source })
    }

    /// Every unpacked layer (directories whose name is a chain ID).
    pub fn list_layers(&self) -> Result<Vec<Digest>> {
        let dir = self.paths.layers();
        let entries = fs::read_dir(&dir).map_err(io_error("failed to read", &dir))?;
        Ok(entries
            .flatten()
            .filter_map(|entry| Digest::from_hex(&entry.file_name().to_string_lossy()).ok())
            .collect())
    }

    /// Unpacks the layer blob `blob` on top of `parent` unless that chain is already there.
    /// The decompressed stream must hash to `diff_id` when one is given.
    pub fn unpack_layer(
        &self,
        lock: &WriteLock,
        blob: &Digest,
        parent: Option<&Digest>,
        diff_id: Option<&Digest>,
        options: &UnpackOptions,
    ) -> Result<LayerMeta> {
        if let Some(diff_id) = diff_id {
            let chain_id = Digest::chain(parent, diff_id);
            if self.layer_exists(&chain_id) {
                // Already unpacked, but this blob must still be that layer: an archive could
                // claim a known diff ID for different content.
                self.verify_diff_id(blob, diff_id)?;
                return self.load_layer_meta(&chain_id);
            }
        }
        let work = self.temp_dir(lock, "layer")?;
        let diff = work.join("diff");
        fs::create_dir(&diff).map_err(io_error("failed to create", &diff))?;

        let file = self.open_blob(blob)?;
        let read_error = |source| StorageError::LayerRead {
            digest: blob.clone(),
            source,
        };
        // Decompressing and hashing on a thread of their own while this one writes the files:
        // the two take about as long as each other, and overlap.
        let (unpacked, streamed) = std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::sync_channel(STREAM_CHUNKS);
            let producer = scope.spawn(move || stream_layer(file, &sender));
            let mut reader = ChunkReader::new(receiver);
            let unpacked = unpack::unpack_layer(&mut reader, &diff, options);
            // The tar's end-of-archive padding is part of the diff ID.
            let drained = match &unpacked {
                Ok(_) => io::copy(&mut reader, &mut io::sink()).map(drop),
                Err(_) => Ok(()),
            };
            // Dropping the receiver stops a producer that is still sending.
            drop(reader);
            // The producer ends with a digest unless it sent an error, which the reading above
            // returned.
            let streamed = producer
                .join()
                .ok()
                .flatten()
                .ok_or_else(|| io::Error::other("the layer's stream ended before its digest"));
            (unpacked, drained.and(streamed))
        });
        let stats = unpacked.map_err(|source| StorageError::Unpack {
            digest: blob.clone(),
            source,
        })?;
        let (actual, tar_size) = streamed.map_err(read_error)?;
        if let Some(expected) = diff_id {
            if *expected != actual {
                return Err(StorageError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let chain_id = Digest::chain(parent, &actual);
        let meta = LayerMeta {
            chain_id: chain_id.clone(),
            diff_id: actual,
            parent: parent.cloned(),
            size: stats.content_bytes,
            tar_size,
            skipped_devices: stats.skipped_devices.len() as u64,
        };
        for device in &stats.skipped_devices {
            tracing::warn!(
                "device node `/{}` in layer `{blob}` skipped: device nodes cannot be created rootless",
                device.display()
            );
        }
        let meta_path = work.join("meta.json");
        let text = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        util::fs::atomic_write(&meta_path, &text)
            .map_err(io_error("failed to write", &meta_path))?;
        let target = self.paths.layer(&chain_id);
        if self.layer_exists(&chain_id) {
            let _ = util::fs::remove_all(&work);
            return Ok(meta);
        }
        // A directory without meta.json is a broken leftover: replace it.
        util::fs::remove_all(&target).map_err(io_error("failed to remove", &target))?;
        fs::rename(&work, &target).map_err(io_error("failed to store", &target))?;
        Ok(meta)
    }

    /// Takes `dir` (an overlay upper directory, already in the form unpacked layers have:
    /// whiteouts as 0:0 devices, `user.overlay.opaque` directories) as the layer `diff_id`
    /// on top of `parent`, by renaming it: a build step's layer is not unpacked a second time.
    /// `dir` must be on the store's filesystem.
    pub fn adopt_layer(
        &self,
        lock: &WriteLock,
        dir: &std::path::Path,
        parent: Option<&Digest>,
        diff_id: &Digest,
        tar_size: u64,
    ) -> Result<LayerMeta> {
        let chain_id = Digest::chain(parent, diff_id);
        if self.layer_exists(&chain_id) {
            return self.load_layer_meta(&chain_id);
        }
        let work = self.temp_dir(lock, "layer")?;
        let diff = work.join("diff");
        fs::rename(dir, &diff).map_err(io_error("failed to move", dir))?;
        let meta = LayerMeta {
            chain_id: chain_id.clone(),
            diff_id: diff_id.clone(),
            parent: parent.cloned(),
            size: util::fs::tree_size(&diff),
            tar_size,
            skipped_devices: 0,
        };
        let meta_path = work.join("meta.json");
        let text = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        util::fs::atomic_write(&meta_path, &text)
            .map_err(io_error("failed to write", &meta_path))?;
        let target = self.paths.layer(&chain_id);
        util::fs::remove_all(&target).map_err(io_error("failed to remove", &target))?;
        fs::rename(&work, &target).map_err(io_error("failed to store", &target))?;
        Ok(meta)
    }

    /// A layer blob's uncompressed tar stream, hashed as it is read (the hash is its diff ID).
    fn open_layer_stream(&self, blob: &Digest) -> Result<Hasher<Box<dyn Read>>> {
        hashed_layer(self.open_blob(blob)?).map_err(|source| StorageError::LayerRead {
            digest: blob.clone(),
            source,
        })
    }

    /// Checks that a layer blob decompresses to `diff_id`. Free for uncompressed blobs: their
    /// name was verified when they were stored.
    fn verify_diff_id(&self, blob: &Digest, diff_id: &Digest) -> Result<()> {
        if blob == diff_id {
            return Ok(());
        }
        let mut hasher = self.open_layer_stream(blob)?;
        io::copy(&mut hasher, &mut io::sink()).map_err(|source| StorageError::LayerRead {
            digest: blob.clone(),
            source,
        })?;
        let (actual, _, _) = hasher.finish();
        if actual == *diff_id {
            Ok(())
        } else {
            Err(StorageError::DigestMismatch {
                expected: diff_id.clone(),
                actual,
            })
        }
    }

    /// Removes an unpacked layer.
    pub fn remove_layer(&self, lock: &WriteLock, chain_id: &Digest) -> Result<()> {
        self.remove_tree(lock, &self.paths.layer(chain_id))
    }
}

/// Chunks of decompressed layer in flight between the decompressing thread and the unpacker.
const STREAM_CHUNKS: usize = 8;
/// Size of one such chunk.
const STREAM_CHUNK_SIZE: usize = 128 * 1024;

/// The layer blob `file` decompressed, hashed as it is read (the hash is its diff ID).
fn hashed_layer(file: fs::File) -> io::Result<Hasher<Box<dyn Read>>> {
    Ok(Hasher::new(decompress(BufReader::with_capacity(
        256 * 1024,
        file,
    ))?))
}

/// Decompresses and hashes the layer blob `file`, sending it on in chunks; returns the diff ID
/// and the tar's size. An error goes to the receiver, which reports it; `None` then, or when
/// the receiver is gone.
fn stream_layer(
    file: fs::File,
    sender: &std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
) -> Option<(Digest, u64)> {
    let mut hasher = match hashed_layer(file) {
        Ok(hasher) => hasher,
        Err(error) => {
            let _ = sender.send(Err(error));
            return None;
        }
    };
    loop {
        let mut chunk = vec![0; STREAM_CHUNK_SIZE];
        let filled = loop {
            match hasher.read(&mut chunk) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    let _ = sender.send(Err(error));
                    return None;
                }
                Ok(filled) => break filled,
            }
        };
        if filled == 0 {
            let (digest, size, _) = hasher.finish();
            return Some((digest, size));
        }
        chunk.truncate(filled);
        sender.send(Ok(chunk)).ok()?;
    }
}

/// Reads what [`stream_layer`] sends; its end is the end of the stream.
struct ChunkReader {
    receiver: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    position: usize,
}

impl ChunkReader {
    fn new(receiver: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>) -> Self {
        Self {
            receiver,
            chunk: Vec::new(),
            position: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.position = 0;
                }
                // The producer finished: the end of the stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.position);
        buf[..n].copy_from_slice(&self.chunk[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Wraps a layer stream in the decompressor its first bytes call for.
pub fn decompress<'a, R: io::BufRead + 'a>(mut reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let head = reader.fill_buf()?;
    Ok(match Compression::sniff(head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        Compression::None => Box::new(reader),
    })
}
