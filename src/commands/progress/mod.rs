//! How commands show the progress the engines report: pulls and pushes as Docker does
//! (plain lines, or live per-layer lines on a terminal), builds as BuildKit does (numbered
//! plain steps, or a live collapsing view). The engines only call the reporter traits
//! (`registry::reporter`, `build::progress`); the drawing is `output::live`'s.

pub(crate) mod build;
mod layers;

use crate::env;
use crate::oci::{Digest, Reference};
use crate::output::Printer;
use crate::output::live::Stream;
use crate::registry::reporter::{PullEvent, PullReporter, PushEvent, PushReporter};

pub(crate) use layers::LayerView;

/// Whether progress on `stream` is drawn live: it is a terminal, and not a dumb one.
pub(crate) fn is_live(stream: Stream) -> bool {
    stream.is_terminal() && std::env::var_os(env::TERM).is_none_or(|term| term != "dumb")
}

/// Docker's first line of a pull: `latest: Pulling from library/busybox`.
fn pulling_from(reference: &Reference) -> String {
    format!(
        "{}: Pulling from {}",
        reference.pull_target(),
        reference.repository()
    )
}

/// Docker's first line of a push.
fn push_refers_to(destination: &Reference) -> String {
    format!("The push refers to repository [{}]", destination.name())
}

/// Docker's words for a pull event, in the plain lines and the live view alike.
fn pull_status(event: &PullEvent) -> &'static str {
    match event {
        PullEvent::AlreadyExists => "Already exists",
        PullEvent::Pulling => "Pulling fs layer",
        PullEvent::Downloading { .. } => "Downloading",
        PullEvent::DownloadComplete => "Download complete",
        PullEvent::Extracting => "Extracting",
        PullEvent::PullComplete => "Pull complete",
    }
}

/// Docker's words for a push event, in the plain lines and the live view alike.
fn push_status(event: &PushEvent) -> std::borrow::Cow<'static, str> {
    match event {
        PushEvent::Preparing => "Preparing".into(),
        PushEvent::AlreadyExists => "Layer already exists".into(),
        PushEvent::Pushing { .. } => "Pushing".into(),
        PushEvent::Pushed => "Pushed".into(),
        PushEvent::Mounted { from } => format!("Mounted from {from}").into(),
    }
}

/// The progress of a pull or push: Docker's live view when its stream is a terminal, plain
/// lines otherwise, nothing with `-q`.
pub(crate) enum LayerProgress<'a> {
    /// One line per event.
    Lines(Lines<'a>),
    /// One line per layer, redrawn.
    Live(LayerView),
}

impl<'a> LayerProgress<'a> {
    /// Progress on stderr (a pull inside `run`) or stdout (`pull`, `push`).
    pub(crate) fn new(printer: &'a Printer, to_stderr: bool, quiet: bool) -> Self {
        let stream = if to_stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        if !quiet && is_live(stream) {
            Self::Live(LayerView::new(stream))
        } else {
            Self::Lines(Lines {
                printer,
                to_stderr,
                quiet,
            })
        }
    }

    /// A line after the layers (`Digest:`, `Status:`); the layer lines stay as they are.
    pub(crate) fn emit(&mut self, text: &str) {
        match self {
            Self::Lines(lines) => lines.emit(text),
            Self::Live(view) => view.emit(text),
        }
    }

    fn pull(&mut self) -> &mut dyn PullReporter {
        match self {
            Self::Lines(lines) => lines,
            Self::Live(view) => view,
        }
    }

    fn push(&mut self) -> &mut dyn PushReporter {
        match self {
            Self::Lines(lines) => lines,
            Self::Live(view) => view,
        }
    }
}

impl PullReporter for LayerProgress<'_> {
    fn start(&mut self, reference: &Reference) {
        self.pull().start(reference);
    }

    fn layer(&mut self, layer: &Digest, event: PullEvent) {
        self.pull().layer(layer, event);
    }
}

impl PushReporter for LayerProgress<'_> {
    fn start(&mut self, destination: &Reference) {
        self.push().start(destination);
    }

    fn layer(&mut self, layer: &Digest, event: PushEvent) {
        self.push().layer(layer, event);
    }
}

/// Docker's plain progress: one line per layer event (`<short>: Pull complete`).
pub(crate) struct Lines<'a> {
    pub(crate) printer: &'a Printer,
    /// On stderr (a pull inside `run`), else stdout (`pull`, `push`).
    pub(crate) to_stderr: bool,
    pub(crate) quiet: bool,
}

impl Lines<'_> {
    pub(crate) fn emit(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.to_stderr {
            self.printer.info(text);
        } else {
            self.printer.line(text);
        }
    }
}

impl PullReporter for Lines<'_> {
    fn start(&mut self, reference: &Reference) {
        self.emit(&pulling_from(reference));
    }

    fn layer(&mut self, layer: &Digest, event: PullEvent) {
        // Off a terminal Docker prints neither the byte counts nor the extraction.
        if !matches!(event, PullEvent::Downloading { .. } | PullEvent::Extracting) {
            self.emit(&format!("{}: {}", layer.short(), pull_status(&event)));
        }
    }
}

impl PushReporter for Lines<'_> {
    fn start(&mut self, destination: &Reference) {
        self.emit(&push_refers_to(destination));
    }

    fn layer(&mut self, layer: &Digest, event: PushEvent) {
        if !matches!(event, PushEvent::Pushing { .. }) {
            self.emit(&format!("{}: {}", layer.short(), push_status(&event)));
        }
    }
}
