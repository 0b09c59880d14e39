//! The only network I/O and the only tokio in berth. A runtime lives for one call and is gone
//! before any container work, so nothing ever forks while its threads exist.
//!
//! Uses: `storage`, `oci`, `util`.

pub mod http;

/// Errors of network operations, naming the URL.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request failed (DNS, connection, TLS, HTTP status).
    #[error("failed to fetch `{url}`")]
    Request {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The body could not be stored.
    #[error("failed to save the download of `{url}`")]
    Write {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("failed to start the network runtime")]
    Runtime(#[source] std::io::Error),
}
