//! What a build tells its caller as it goes. The engine never prints: `commands` implements
//! [`BuildReporter`] on top of `output` (BuildKit's plain numbered steps, or its live view).

use std::time::Duration;

use crate::registry::reporter::PullReporter;

/// One stage as a progress view numbers it (`[2/5]`), known before the build starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageOutline {
    /// The `AS` name.
    pub name: Option<String>,
    /// Its numbered steps, as BuildKit counts them: FROM an image, then every RUN, COPY,
    /// ADD and WORKDIR (ONBUILD triggers may add more).
    pub steps: usize,
}

/// What becomes of the output of a RUN step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Straight to our stderr, as it comes.
    Inherit,
    /// Nowhere.
    Discard,
    /// To [`BuildReporter::output`].
    Capture,
}

/// Receives the progress of a build. Steps come one at a time: a step ends when the next
/// one (or the stage's base, or the end of the build) starts; [`BuildReporter::done`] and
/// [`BuildReporter::cached`] tell how, where the executor knows.
pub trait BuildReporter {
    /// The stages of the file, before anything runs.
    fn plan(&mut self, _stages: &[StageOutline]) {}
    /// Stage `stage` starts from the image `name` (resolved, or pulled through
    /// [`BuildReporter::pull_reporter`]).
    fn base(&mut self, _stage: usize, _name: &str) {}
    /// Step `number` (counted over the whole build) of stage `stage` starts: a RUN, COPY,
    /// ADD or WORKDIR, shown as `label` (its history text).
    fn step(&mut self, _number: usize, _stage: usize, _label: &str) {}
    /// A metadata-only instruction (ENV, CMD, …): a step that starts and ends at once.
    fn metadata(&mut self, _number: usize, _stage: usize, _label: &str) {}
    /// Step `number` was found in the build cache.
    fn cached(&mut self, _number: usize) {}
    /// Step `number` ran and is committed, in `elapsed`.
    fn done(&mut self, _number: usize, _elapsed: Duration) {}
    /// Where the output of RUN steps goes.
    fn output_mode(&self) -> OutputMode {
        OutputMode::Discard
    }
    /// Output of the running step (with [`OutputMode::Capture`]), in the pieces it came in;
    /// empty when the step has been silent for a while (time to redraw a clock).
    fn output(&mut self, _bytes: &[u8]) {}
    /// Where the progress of pulling a base image goes, if anywhere.
    fn pull_reporter(&mut self) -> Option<&mut dyn PullReporter> {
        None
    }
}

/// Reports nothing and discards the output of RUN steps (`build -q`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl BuildReporter for Silent {}
