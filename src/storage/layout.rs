//! Every path under the storage root. Nothing else in berth builds a store path by hand.

use std::path::{Path, PathBuf};

use crate::oci::Digest;

/// The paths of one store.
#[derive(Debug, Clone)]
pub struct StorePaths {
    root: PathBuf,
}

impl StorePaths {
    /// Paths below `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The OCI image layout.
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }

    /// `images/oci-layout`.
    pub fn oci_layout(&self) -> PathBuf {
        self.images().join("oci-layout")
    }

    /// `images/index.json`: the names.
    pub fn index(&self) -> PathBuf {
        self.images().join("index.json")
    }

    /// `images/blobs/sha256`.
    pub fn blobs(&self) -> PathBuf {
        self.images().join("blobs").join("sha256")
    }

    /// One blob.
    pub fn blob(&self, digest: &Digest) -> PathBuf {
        self.blobs().join(digest.hex())
    }

    /// `layers/`: unpacked layer trees by chain ID.
    pub fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// One unpacked layer's directory (holding `diff/` and `meta.json`).
    pub fn layer(&self, chain_id: &Digest) -> PathBuf {
        self.layers().join(chain_id.hex())
    }

    /// The tree of one layer: an overlay lowerdir.
    pub fn layer_diff(&self, chain_id: &Digest) -> PathBuf {
        self.layer(chain_id).join("diff")
    }

    /// The metadata of one layer.
    pub fn layer_meta(&self, chain_id: &Digest) -> PathBuf {
        self.layer(chain_id).join("meta.json")
    }

    /// `containers/`.
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `volumes/`.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// `seccomp/`: compiled seccomp programs, by profile (a cache: any of them may go).
    pub fn seccomp(&self) -> PathBuf {
        self.root.join("seccomp")
    }

    /// `tmp/`: work in progress; anything here when the write lock is taken is debris.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The lock file.
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }
}
