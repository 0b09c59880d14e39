//! The only writer to stdout and stderr: the printer, tables, `--format`.
//!
//! Uses nothing else of the crate.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "output/ is where printing lives"
)]

pub mod format;
mod printer;
pub mod table;

pub use printer::Printer;
