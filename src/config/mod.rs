//! Configuration: where things live, and which registries exist and how to reach them.
//!
//! Uses: `util`, `env`.

pub mod paths;
pub mod registries;

use std::path::PathBuf;

/// Errors reading configuration files, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (fs-err's message names it).
    #[error(transparent)]
    Read(std::io::Error),
    /// Not valid TOML, or a key of the wrong type.
    #[error("invalid configuration file `{}`", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// Valid TOML that says something impossible.
    #[error("invalid configuration file `{}`: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
