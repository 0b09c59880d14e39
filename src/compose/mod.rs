//! Compose file → validated project; never touches containers. Uses: nothing of ours (may use
//! `oci`). Must not start, create or inspect anything: the only I/O is reading the compose
//! files, `.env`/`--env-file` and the services' `env_file`s.
//!
//! [`load`] reads the files named by [`LoadOptions`] and returns a [`Project`]: services in
//! start order with every short syntax expanded, every `${VAR}` interpolated and every host
//! path made absolute. The stages, each in its own file:
//!
//! 1. `load.rs`: find the files, read `.env`, parse YAML (the only user of the YAML crate);
//! 2. `interpolate.rs`: `${VAR}` forms in every string value, per file;
//! 3. `validate.rs`: unknown, ignored and unsupported keys, per file (the list of accepted but
//!    ignored keys is there);
//! 4. `convert.rs` (with `syntax.rs`): typed partial services, per file, so value errors name
//!    their file and `locate.rs` can find the line;
//! 5. `merge.rs`: override files merged into the first, with Compose's rules;
//! 6. `plan.rs` and `validate.rs`: profiles, dependencies, cycles, host port conflicts, start
//!    order; `compose config` output.

mod convert;
mod dotenv;
mod error;
mod interpolate;
mod load;
mod locate;
mod merge;
mod model;
mod plan;
mod syntax;
mod validate;

#[cfg(test)]
mod tests;

pub use error::ComposeError;
pub use load::{DEFAULT_FILE_NAMES, LoadOptions, load};
pub use model::{
    Build, Condition, Dependency, Healthcheck, MountKind, Network, Port, Project, Service, Volume,
    VolumeMount, format_duration,
};
