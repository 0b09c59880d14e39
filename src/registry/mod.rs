//! The only network I/O and the only tokio in berth. A runtime lives for one call and is gone
//! before any container work, so nothing ever forks while its threads exist.
//!
//! Uses: `storage`, `oci`, `util`, and `config` for the registries' settings.

pub mod auth;
pub mod client;
pub mod endpoint;
pub mod http;
pub mod pull;
pub mod push;
pub mod reporter;
pub mod short_name;
mod tls;

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::oci::Digest;
use crate::oci::reference::ReferenceError;
use crate::storage::StorageError;

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
    /// The registry could not be reached (refused, unresolvable, timed out).
    #[error("cannot reach the registry `{registry}`")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The registry wants credentials, or refused the ones it got.
    #[error("unauthorized: authentication required\nhint: run `berth login {registry}` first")]
    Unauthorized {
        /// The registry host.
        registry: String,
    },
    /// `login` with credentials the registry refused.
    #[error("login to `{registry}` failed: unauthorized: incorrect username or password")]
    BadCredentials {
        /// The registry host.
        registry: String,
    },
    /// No manifest under that tag or digest.
    #[error("manifest for `{reference}` not found: manifest unknown")]
    ManifestUnknown {
        /// The reference as asked for.
        reference: String,
    },
    /// A Docker schema1 manifest (deprecated, unsigned variants included).
    #[error(
        "`{reference}` is a Docker schema1 image, which berth does not support: push it again with a current tool (Docker schema2 or OCI)"
    )]
    Schema1 {
        /// The reference.
        reference: String,
    },
    /// A manifest that cannot be used.
    #[error("invalid manifest for `{reference}`: {reason}")]
    BadManifest {
        /// The reference.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// A manifest list without an entry for the wanted platform.
    #[error("no image for platform {platform} in `{reference}` (it has: {available})")]
    NoPlatform {
        /// The reference.
        reference: String,
        /// The wanted platform.
        platform: String,
        /// The platforms listed.
        available: String,
    },
    /// A blob whose content did not match its digest (or announced size).
    #[error("{kind} `{digest}` failed verification: {reason}")]
    Verification {
        /// `layer`, `config` or `manifest`.
        kind: &'static str,
        /// The digest it was announced with.
        digest: Digest,
        /// What was found instead.
        reason: String,
    },
    /// Any other error answer of the registry, with its own words.
    #[error("`{url}` answered {status}: {message}")]
    Api {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error code and message, or the body.
        message: String,
    },
    /// The registry's certificate is not trusted (or TLS failed otherwise).
    #[error(
        "cannot verify the TLS certificate of `{registry}`: {reason}\nhint: put its CA certificate in `{}/ca.crt`, or mark it `insecure = true` in registries.conf",
        certs_dir.display()
    )]
    Certificate {
        /// The registry host.
        registry: String,
        /// rustls's words.
        reason: String,
        /// Where a CA for it would be read from (the user's certs.d).
        certs_dir: PathBuf,
    },
    /// A certs.d file that cannot be used.
    #[error("invalid TLS file `{}`", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The reference's registry is `blocked = true`.
    #[error("`{name}` is blocked: registry `{prefix}` has `blocked = true` in `{}`", file.display())]
    Blocked {
        /// The image name.
        name: String,
        /// The matching `[[registry]]` prefix.
        prefix: String,
        /// The file that says so.
        file: PathBuf,
    },
    /// A registries.conf entry that cannot be applied to a name.
    #[error("invalid configuration file `{}`: {reason}", file.display())]
    BadConfig {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// registries.conf or berth.toml could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Every mirror failed, and then the registry itself.
    #[error("pulling `{reference}` failed from every mirror ({mirrors}) and from `{registry}`")]
    Mirrors {
        /// The reference.
        reference: String,
        /// Each mirror with its error.
        mirrors: String,
        /// The registry itself (its location).
        registry: String,
        /// Why the registry itself failed.
        #[source]
        source: Box<RegistryError>,
    },
    /// No search registry had the image a short name asked for.
    #[error(
        "short name `{name}` did not resolve to an image: tried {tried}\nhint: the registries searched are the `unqualified-search-registries` of `{}`",
        file.display()
    )]
    ShortName {
        /// The short name as written.
        name: String,
        /// Each name tried, with why it failed.
        tried: String,
        /// The file that set the search registries.
        file: PathBuf,
    },
    /// Not a valid image reference (Docker's messages).
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A local file could not be read (fs-err's message names it).
    #[error(transparent)]
    Io(std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A credentials file could not be read or written.
    #[error("credentials file `{}`: {reason}", path.display())]
    AuthFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}
