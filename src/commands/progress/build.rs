//! How `build` shows its progress (`--progress`): BuildKit's plain numbered steps, its live
//! collapsing view, or nothing.
//!
//! The live view redraws, under a `[+] Building 2.3s (3/5)` header, one line per step: the
//! running one with its clock and its last lines of output (`=> => # …`) under it, the
//! finished ones collapsed to `=> [2/5] RUN make   1.2s` or `=> CACHED [3/5] COPY . .`. A
//! base image being pulled shows its layers under its FROM step. When a step fails its last
//! lines of output are printed after the view, between BuildKit's `------` rules.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::build::progress::{BuildReporter, OutputMode, StageOutline};
use crate::oci::Digest;
use crate::output::Printer;
use crate::output::live::{self, LiveRegion, Stream};
use crate::registry::reporter::{PullEvent, PullReporter};

/// Output lines shown under the running step.
const LIVE_LOG_LINES: usize = 6;
/// Output lines kept for the report of a failed step.
const KEPT_LOG_LINES: usize = 10;

/// BuildKit's plain progress (`--progress plain`, and `auto` off a terminal): `#N [stage-S]
/// INSTRUCTION`, then `#N CACHED` or the step's output and `#N DONE 1.2s`.
pub(crate) struct Plain<'a> {
    pub(crate) printer: &'a Printer,
}

impl BuildReporter for Plain<'_> {
    fn step(&mut self, number: usize, stage: usize, label: &str) {
        self.printer
            .info(&format!("#{number} [stage-{stage}] {label}"));
    }

    fn metadata(&mut self, number: usize, stage: usize, label: &str) {
        self.step(number, stage, label);
    }

    fn cached(&mut self, number: usize) {
        self.printer.info(&format!("#{number} CACHED"));
    }

    fn done(&mut self, number: usize, elapsed: Duration) {
        self.printer
            .info(&format!("#{number} DONE {:.1}s", elapsed.as_secs_f64()));
    }

    fn output_mode(&self) -> OutputMode {
        OutputMode::Inherit
    }
}

/// BuildKit's live view (`--progress tty`, and `auto` on a terminal).
pub(crate) struct Live {
    region: LiveRegion,
    started: Instant,
    stages: Vec<StageOutline>,
    /// Per stage, the steps started so far.
    counters: Vec<usize>,
    steps: Vec<Step>,
    /// The step running now, the last one of `steps`.
    running: bool,
}

struct Step {
    title: String,
    started: Instant,
    state: State,
    /// Complete lines of output, the last [`KEPT_LOG_LINES`].
    log: VecDeque<String>,
    /// Output after the last newline.
    partial: String,
    /// Layers of a base image being pulled: short digest and status.
    layers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Running,
    Cached,
    Done(Duration),
    Failed(Duration),
}

impl Live {
    /// A view on stderr, drawn with escape codes even when stderr is not a terminal (the
    /// user asked for `--progress tty`); its size is then taken to be 80 by 24.
    pub(crate) fn new() -> Self {
        Self::on(LiveRegion::new(Stream::Stderr))
    }

    /// A view drawing in `region`.
    pub(crate) fn on(region: LiveRegion) -> Self {
        Self {
            region,
            started: Instant::now(),
            stages: Vec::new(),
            counters: Vec::new(),
            steps: Vec::new(),
            running: false,
        }
    }

    /// Ends the view: the running step ends as done, or as failed when the build did not
    /// succeed (its last output is then printed below the view).
    pub(crate) fn finish(&mut self, succeeded: bool) {
        if succeeded {
            self.end_running();
        } else if self.running {
            self.running = false;
            if let Some(step) = self.steps.last_mut() {
                step.state = State::Failed(step.started.elapsed());
            }
        }
        self.render(true, true);
        self.region.finish();
        let failed = self
            .steps
            .iter()
            .find(|s| matches!(s.state, State::Failed(_)));
        if let Some(step) = failed {
            let mut report = format!("------\n > {}:\n", step.title);
            let partial = (!step.partial.is_empty()).then_some(&step.partial);
            for line in step.log.iter().chain(partial) {
                report.push_str(line);
                report.push('\n');
            }
            report.push_str("------");
            self.region.print(&report);
        }
    }

    fn end_running(&mut self) {
        if self.running {
            self.running = false;
            if let Some(step) = self.steps.last_mut() {
                if step.state == State::Running {
                    step.state = State::Done(step.started.elapsed());
                }
            }
        }
    }

    /// A step of `stage` starts: `[2/5] RUN …`, or `[builder 2/5] RUN …` in a file of many
    /// stages.
    fn start(&mut self, stage: usize, label: &str) {
        self.end_running();
        if self.counters.len() <= stage {
            self.counters.resize(stage + 1, 0);
        }
        self.counters[stage] += 1;
        let number = self.counters[stage];
        let total = self.stages.get(stage).map_or(0, |s| s.steps).max(number);
        let prefix = if self.stages.len() <= 1 {
            format!("[{number}/{total}]")
        } else {
            let name = self
                .stages
                .get(stage)
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| format!("stage-{stage}"));
            format!("[{name} {number}/{total}]")
        };
        // The history text's marker and default shell say nothing to a reader: BuildKit
        // names the step `RUN make`.
        let label = label.strip_suffix(" # buildkit").unwrap_or(label);
        let label = match label.strip_prefix("RUN /bin/sh -c ") {
            Some(command) => format!("RUN {command}"),
            None => label.to_owned(),
        };
        self.steps.push(Step {
            title: format!("{prefix} {label}"),
            started: Instant::now(),
            state: State::Running,
            log: VecDeque::new(),
            partial: String::new(),
            layers: Vec::new(),
        });
        self.running = true;
        self.render(true, false);
    }

    fn running_step(&mut self) -> Option<&mut Step> {
        if self.running {
            self.steps.last_mut()
        } else {
            None
        }
    }

    /// Redraws: at once when `now`, else when a frame is due.
    fn render(&mut self, now: bool, finished: bool) {
        let width = self.region.size().columns.saturating_sub(1);
        let done = self
            .steps
            .iter()
            .filter(|s| s.state != State::Running)
            .count();
        let mut header = format!(
            "[+] Building {:.1}s ({done}/{})",
            self.started.elapsed().as_secs_f64(),
            self.steps.len()
        );
        if finished {
            header.push_str(" FINISHED");
        }
        let mut lines = vec![header];
        for step in &self.steps {
            let (text, time) = match step.state {
                State::Running => (format!(" => {}", step.title), step.started.elapsed()),
                State::Cached => (format!(" => CACHED {}", step.title), Duration::ZERO),
                State::Done(elapsed) => (format!(" => {}", step.title), elapsed),
                State::Failed(elapsed) => (format!(" => ERROR {}", step.title), elapsed),
            };
            lines.push(live::justify(
                &text,
                &format!("{:.1}s", time.as_secs_f64()),
                width,
            ));
            if step.state == State::Running {
                for (digest, status) in &step.layers {
                    lines.push(format!(" => => {digest}: {status}"));
                }
                let partial = (!step.partial.is_empty()).then_some(&step.partial);
                let log: Vec<&String> = step.log.iter().chain(partial).collect();
                let skip = log.len().saturating_sub(LIVE_LOG_LINES);
                for line in &log[skip..] {
                    lines.push(format!(" => => # {line}"));
                }
            }
        }
        self.region.set(lines);
        if now {
            self.region.draw();
        } else {
            self.region.refresh();
        }
    }
}

/// The text a terminal would leave of a line written with carriage returns (a progress bar
/// of the step's own): what follows the last one.
fn last_overwrite(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.rsplit('\r').next().unwrap_or(line)
}

impl BuildReporter for Live {
    fn plan(&mut self, stages: &[StageOutline]) {
        self.stages = stages.to_vec();
    }

    fn base(&mut self, stage: usize, name: &str) {
        self.start(stage, &format!("FROM {name}"));
    }

    fn step(&mut self, _number: usize, stage: usize, label: &str) {
        self.start(stage, label);
    }

    fn metadata(&mut self, _number: usize, _stage: usize, _label: &str) {
        // BuildKit shows no step for ENV, CMD and the like; the step before them is over.
        self.end_running();
        self.render(true, false);
    }

    fn cached(&mut self, _number: usize) {
        if let Some(step) = self.running_step() {
            step.state = State::Cached;
        }
        self.running = false;
        self.render(true, false);
    }

    fn done(&mut self, _number: usize, elapsed: Duration) {
        if let Some(step) = self.running_step() {
            step.state = State::Done(elapsed);
        }
        self.running = false;
        self.render(true, false);
    }

    fn output_mode(&self) -> OutputMode {
        OutputMode::Capture
    }

    fn output(&mut self, bytes: &[u8]) {
        if let Some(step) = self.running_step() {
            step.partial.push_str(&String::from_utf8_lossy(bytes));
            while let Some(end) = step.partial.find('\n') {
                let line = last_overwrite(&step.partial[..end]).to_owned();
                step.partial.drain(..=end);
                if step.log.len() == KEPT_LOG_LINES {
                    step.log.pop_front();
                }
                step.log.push_back(line);
            }
            step.partial = last_overwrite(&step.partial).to_owned();
        }
        self.render(false, false);
    }

    fn pull_reporter(&mut self) -> Option<&mut dyn PullReporter> {
        Some(self)
    }
}

/// A base image's pull, under its FROM step.
impl PullReporter for Live {
    fn layer(&mut self, layer: &Digest, event: PullEvent) {
        let status = match event {
            PullEvent::Downloading { current, total } => format!(
                "{} {} / {}",
                super::pull_status(&event),
                crate::util::human::size_precise(current),
                crate::util::human::size_precise(total)
            ),
            _ => super::pull_status(&event).to_owned(),
        };
        let now = !matches!(event, PullEvent::Downloading { .. });
        if let Some(step) = self.running_step() {
            let short = layer.short().to_owned();
            match step.layers.iter_mut().find(|(d, _)| *d == short) {
                Some(entry) => entry.1 = status,
                None => step.layers.push((short, status)),
            }
        }
        self.render(now, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::live::Size;
    use crate::output::live::testing::Captured;

    fn view(columns: usize) -> (Live, Captured) {
        let out = Captured::default();
        let region = LiveRegion::to_writer(Box::new(out.clone()), Size { columns, rows: 24 })
            .interval(Duration::ZERO);
        (Live::on(region), out)
    }

    /// The lines the last frame drew (after its last `ESC [ n A`, or from the start).
    fn last_frame(text: &str) -> Vec<String> {
        let frame = match text.rfind("\r\x1b[") {
            Some(at) => {
                let rest = &text[at + 3..];
                &rest[rest.find('A').unwrap() + 1..]
            }
            None => text,
        };
        frame
            .split("\x1b[K\n")
            .filter(|l| !l.starts_with("\x1b[J"))
            .map(|l| l.trim_end().to_owned())
            .collect()
    }

    fn outline(steps: usize) -> Vec<StageOutline> {
        vec![StageOutline { name: None, steps }]
    }

    #[test]
    fn the_running_step_shows_its_last_lines_and_collapses_when_done() {
        let (mut view, out) = view(60);
        view.plan(&outline(3));
        view.base(0, "busybox");
        view.step(1, 0, "COPY a b");
        view.cached(1);
        view.step(2, 0, "RUN /bin/sh -c make # buildkit");
        view.output(b"one\ntwo\nthr");
        let frame = last_frame(&out.text());
        assert!(frame[0].starts_with("[+] Building "), "{frame:?}");
        assert!(frame[0].ends_with("s (2/3)"), "{frame:?}");
        assert!(frame[1].starts_with(" => [1/3] FROM busybox"), "{frame:?}");
        assert!(frame[1].ends_with("0.0s"), "{frame:?}");
        assert!(
            frame[2].starts_with(" => CACHED [2/3] COPY a b"),
            "{frame:?}"
        );
        assert!(frame[3].starts_with(" => [3/3] RUN make  "), "{frame:?}");
        assert_eq!(
            &frame[4..],
            [" => => # one", " => => # two", " => => # thr"],
            "{frame:?}"
        );
        assert_eq!(frame[1].len(), 59, "justified to the width: {frame:?}");
        view.output(b"ee\n");
        view.done(2, Duration::from_millis(1234));
        view.finish(true);
        let frame = last_frame(&out.text());
        assert_eq!(frame.len(), 4, "{frame:?}");
        assert!(frame[0].ends_with("(3/3) FINISHED"), "{frame:?}");
        assert!(frame[3].starts_with(" => [3/3] RUN make "), "{frame:?}");
        assert!(frame[3].ends_with(" 1.2s"), "{frame:?}");
    }

    #[test]
    fn only_the_last_lines_show_and_carriage_returns_overwrite() {
        let (mut view, out) = view(80);
        view.plan(&outline(1));
        view.step(1, 0, "RUN x");
        for n in 0..10 {
            view.output(format!("line {n}\n").as_bytes());
        }
        view.output(b"10%\r50%\r100%\n");
        let frame = last_frame(&out.text());
        let logs: Vec<&str> = frame[2..].iter().map(String::as_str).collect();
        assert_eq!(
            logs,
            [
                " => => # line 5",
                " => => # line 6",
                " => => # line 7",
                " => => # line 8",
                " => => # line 9",
                " => => # 100%"
            ]
        );
    }

    #[test]
    fn a_failed_step_is_marked_and_its_output_printed_after_the_view() {
        let (mut view, out) = view(80);
        view.plan(&[
            StageOutline {
                name: Some("builder".to_owned()),
                steps: 2,
            },
            StageOutline {
                name: None,
                steps: 1,
            },
        ]);
        view.step(1, 0, "RUN false");
        view.output(b"oops\n");
        view.finish(false);
        let text = out.text();
        assert!(
            text.contains(" => ERROR [builder 1/2] RUN false"),
            "{text:?}"
        );
        assert!(
            text.ends_with(
                "------\x1b[K\n > [builder 1/2] RUN false:\x1b[K\noops\x1b[K\n------\x1b[K\n\x1b[J"
            ),
            "{text:?}"
        );
    }

    #[test]
    fn a_base_pull_shows_its_layers_under_from() {
        let (mut view, out) = view(80);
        view.plan(&outline(1));
        view.base(0, "busybox");
        let layer = Digest::of(b"x");
        view.layer(&layer, PullEvent::Pulling);
        let frame = last_frame(&out.text());
        assert_eq!(
            frame[2],
            format!(" => => {}: Pulling fs layer", layer.short())
        );
        view.finish(true);
        let frame = last_frame(&out.text());
        assert_eq!(frame.len(), 2, "collapsed: {frame:?}");
    }
}
