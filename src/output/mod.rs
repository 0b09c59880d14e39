//! The only writer to stdout and stderr: the printer, tables, `--format`, and the live
//! region that progress views redraw in place.
//!
//! Uses nothing else of the crate.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "output/ is where printing lives"
)]

pub mod format;
pub mod live;
mod printer;
pub mod table;

pub use printer::Printer;
