//! berth's integration tests: one binary (`cargo test --test it`) that drives the real `berth`
//! as a user would, as root and as the unprivileged users that `contrib/ci/rootless-user.sh`
//! creates (`berth-sub` with subordinate IDs, `berth-nosub` without).
//!
//! Where new tests go: one module per area (images, archives, layers, system, cli). Tests that
//! need the unprivileged users start with `require_users!()`. Regression tests are named
//! `issue_N_…` and open with the issue number.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests"
)]

mod support;

mod architecture;
mod archives;
mod build;
mod build_mounts;
mod cli;
mod compose;
mod containers;
mod images;
mod kube;
mod layers;
mod network;
mod registry;
mod system;
mod systemd;
