//! berth: a daemonless, rootless container build-and-run tool that speaks Docker's CLI.
//!
//! Data flows one way: `cli` → `commands` → (`image` | `runtime` | …) → `storage`.
//! See `../shared/DESIGN.md` and `STYLE.md` for the layout and its rules.

#![cfg_attr(test, allow(clippy::unwrap_used, reason = "unit tests"))]

pub mod build;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod config;
pub mod context;
pub mod dockerfile;
pub mod env;
pub mod image;
pub mod kube;
pub mod oci;
pub mod output;
pub mod registry;
pub mod runtime;
pub mod storage;
pub mod systemd;
pub mod userns;
pub mod util;
