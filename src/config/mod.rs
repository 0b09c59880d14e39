//! Configuration: where things live. (Registries, mirrors and network defaults arrive with
//! the features that need them.)
//!
//! Uses: `util`, `env`.

pub mod paths;
