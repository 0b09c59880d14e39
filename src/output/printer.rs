//! `Printer`: data to stdout, messages to stderr, and the y/N prompt.

use std::io::{self, BufRead, IsTerminal, Write};

/// Writes what commands report. Data goes to stdout; warnings, hints and errors to stderr.
#[derive(Debug, Default, Clone)]
pub struct Printer {
    quiet: bool,
}

impl Printer {
    /// A printer; `quiet` hides informational messages (never data or errors).
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// Writes `text` to stdout as is. A closed pipe (`berth images | head -1`) is not an error.
    pub fn out(&self, text: &str) {
        let mut stdout = io::stdout().lock();
        let _ = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
    }

    /// Writes one line to stdout.
    pub fn line(&self, text: &str) {
        self.out(&format!("{text}\n"));
    }

    /// Writes one line to stderr (informational; hidden when quiet).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A warning the user should act on: printed at every level.
    pub fn warn(&self, text: &str) {
        eprintln!("WARNING: {text}");
    }

    /// An error line: `Error: …`.
    pub fn error(&self, text: &str) {
        eprintln!("Error: {text}");
    }

    /// Asks `question [y/N] ` on stdout and reads one line from stdin. No answer, a closed
    /// stdin or anything but y/yes means no.
    pub fn confirm(&self, question: &str) -> bool {
        self.out(&format!("{question} [y/N] "));
        let mut answer = String::new();
        let read = io::stdin().lock().read_line(&mut answer);
        if read.is_err() || read.is_ok_and(|n| n == 0) {
            self.out("\n");
            return false;
        }
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }

    /// Whether stdout is a terminal.
    pub fn stdout_is_terminal(&self) -> bool {
        io::stdout().is_terminal()
    }
}
