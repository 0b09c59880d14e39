//! Images by name: resolve, list, tag, remove, prune, inspect, history, and archives
//! (save/load/import). Knows names and image documents; never the network or containers.
//!
//! Uses: `storage`, `oci`, `util`.

pub mod archive;
pub mod changes;
pub mod import;
pub mod ops;
pub mod resolve;

use std::path::PathBuf;

use crate::oci::Digest;
use crate::oci::reference::ReferenceError;
use crate::storage::StorageError;

pub use resolve::{ImageSummary, Resolved, list, resolve, resolve_or};

/// Errors of image operations, in Docker's words where Docker has words for them.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Nothing by that name or ID.
    #[error("No such image: {0}")]
    NotFound(String),
    /// A short ID matches several images.
    #[error("ambiguous image ID `{0}`: it matches more than one image")]
    Ambiguous(String),
    /// Removing by ID an image with names in several repositories.
    #[error(
        "conflict: unable to delete {0} (must be forced) - image is referenced in multiple repositories"
    )]
    MultipleRepositories(String),
    /// Removing by ID an image that a container uses.
    #[error(
        "conflict: unable to delete {image} (must be forced) - image is being used by {state} container {container}"
    )]
    InUse {
        /// Short image ID.
        image: String,
        /// `running` or `stopped`.
        state: &'static str,
        /// Short container ID.
        container: String,
    },
    /// Removing the last name of an image that a container uses.
    #[error(
        "conflict: unable to remove repository reference \"{name}\" (must force) - container {container} is using its referenced image {image}"
    )]
    ReferenceInUse {
        /// The name as given.
        name: String,
        /// Short container ID.
        container: String,
        /// Short image ID.
        image: String,
    },
    /// A malformed reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// An archive could not be read.
    #[error("invalid archive {source_name}: {reason}")]
    Archive {
        /// The file (or `-`).
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// An archive or input file could not be read.
    #[error("failed to read `{}`", path.display())]
    Read {
        /// The path (`-` for stdin).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("failed to write `{}`", path.display())]
    Write {
        /// The path (`-` for stdout).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `--change` instruction was not understood.
    #[error("invalid --change `{change}`: {reason}")]
    Change {
        /// The instruction as given.
        change: String,
        /// What is wrong.
        reason: String,
    },
    /// The image's documents are broken.
    #[error("image `{0}` is corrupt: {1}")]
    Corrupt(Digest, String),
}

/// Shorthand for this module's results.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;
