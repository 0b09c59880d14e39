//! What pulls and pushes tell their caller as they go. The engine never prints: `commands`
//! implements these traits on top of `output`.

use crate::oci::{Digest, Reference};

/// One step of one layer of a pull (Docker's words in the docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullEvent {
    /// The blob and its unpacked layer are already in the store ("Already exists").
    AlreadyExists,
    /// The blob will be downloaded ("Pulling fs layer").
    Pulling,
    /// Bytes arrived ("Downloading").
    Downloading {
        /// Bytes so far.
        current: u64,
        /// Bytes in all (from the manifest).
        total: u64,
    },
    /// The blob is stored and verified ("Download complete").
    DownloadComplete,
    /// The layer is being unpacked ("Extracting").
    Extracting,
    /// The layer is unpacked ("Pull complete").
    PullComplete,
}

/// Receives the progress of a pull.
pub trait PullReporter {
    /// The pull of `reference` starts (`<tag>: Pulling from <repository>`).
    fn start(&mut self, _reference: &Reference) {}
    /// Something happened to the layer blob `layer`.
    fn layer(&mut self, _layer: &Digest, _event: PullEvent) {}
}

/// One step of one blob of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// About to check the blob ("Preparing").
    Preparing,
    /// The registry has it ("Layer already exists").
    AlreadyExists,
    /// Bytes are being sent ("Pushing").
    Pushing {
        /// Bytes sent so far.
        current: u64,
        /// Bytes in all.
        total: u64,
    },
    /// The registry accepted it ("Pushed").
    Pushed,
    /// The registry linked it from another of its repositories ("Mounted from REPOSITORY").
    Mounted {
        /// The repository it came from.
        from: String,
    },
}

/// Receives the progress of a push.
pub trait PushReporter {
    /// The push to `destination` starts (`The push refers to repository [...]`).
    fn start(&mut self, _destination: &Reference) {}
    /// Something happened to the layer blob `layer`.
    fn layer(&mut self, _layer: &Digest, _event: PushEvent) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl PullReporter for Silent {}
impl PushReporter for Silent {}
