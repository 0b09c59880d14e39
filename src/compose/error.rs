//! Errors of this module: [`ComposeError`], the only error type `compose` returns, and the
//! small internal pieces ([`KeyPath`], [`ValueError`]) that carry the key path of a bad value
//! until the file (and the line, when it can be found) is known.

use std::fmt;
use std::path::PathBuf;

/// Why a compose project could not be loaded. Every variant that concerns a value in a file
/// names that file, and the key path inside it, so the user can go straight to the spot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// No `-f` was given and the working directory holds none of the default file names.
    #[error(
        "no compose file found in `{}`: looked for compose.yaml, compose.yml, docker-compose.yml and docker-compose.yaml",
        directory.display()
    )]
    NoComposeFile {
        /// The directory that was searched.
        directory: PathBuf,
    },
    /// A compose, `.env` or `env_file` file could not be read.
    #[error("failed to read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A bad line in a `.env` or `env_file` file.
    #[error("{}:{line}: {message}", path.display())]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// 1-based line where the bad entry starts.
        line: usize,
        /// What is wrong, lower case.
        message: String,
    },
    /// The file is not valid YAML (or uses a YAML feature Compose rejects).
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file as the user named it.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The YAML parser's message, without its location.
        message: String,
    },
    /// A bad key or value: unknown key, wrong type, bad port, volume, duration, restart policy,
    /// a required variable without a value, and so on.
    #[error("{file}{}: {path}: {message}", render_location(*location))]
    Invalid {
        /// The file as the user named it.
        file: String,
        /// 1-based line and column of the key, when it could be found in the source text.
        location: Option<(usize, usize)>,
        /// The key path, e.g. `services.web.ports[0]`.
        path: String,
        /// What is wrong, lower case.
        message: String,
    },
    /// A problem with the project as a whole (missing image and build, unknown or disabled
    /// dependency, undeclared volume or network, conflicting host ports); it names the file that
    /// defines the service concerned.
    #[error("{file}: {message}")]
    Project {
        /// The file that defines the service concerned (the first file when several do).
        file: String,
        /// What is wrong, lower case.
        message: String,
    },
    /// `depends_on` links that form a loop; `cycle` starts and ends with the same service.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The services on the loop, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// The project name (from `-p`, `COMPOSE_PROJECT_NAME`, `name:` or the directory) is empty
    /// once normalised.
    #[error(
        "invalid project name `{name}`: it must contain at least one lowercase letter, digit, dash or underscore, and start with a letter or digit"
    )]
    ProjectName {
        /// The name before normalisation.
        name: String,
    },
    /// [`Project::select`](super::Project::select) was given a name that is not an enabled service.
    #[error("no such service: {name}")]
    NoSuchService {
        /// The name given.
        name: String,
    },
}

/// Alias used throughout the module.
pub(super) type Result<T, E = ComposeError> = std::result::Result<T, E>;

fn render_location(location: Option<(usize, usize)>) -> String {
    location.map_or_else(String::new, |(line, column)| format!(":{line}:{column}"))
}

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

/// Where a value sits in a compose file, e.g. `services.web.ports[0]`; kept as segments so the
/// key can be looked up in the source text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyPath(pub(super) Vec<Segment>);

impl KeyPath {
    pub(super) fn root() -> Self {
        Self(Vec::new())
    }

    /// The path of `key` inside this mapping.
    pub(super) fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    /// The path of item `index` of this sequence.
    pub(super) fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    /// A [`ValueError`] at this path.
    pub(super) fn error(&self, message: impl Into<String>) -> ValueError {
        ValueError {
            path: self.clone(),
            message: message.into(),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A bad value before the file it came from is attached (see `load::SourceFile::invalid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ValueError {
    pub(super) path: KeyPath,
    pub(super) message: String,
}
