//! Docker's live pull and push view on a terminal: one line per layer, in the order the
//! layers were first named, redrawn in place as they move on
//! (`a1b2c3d4e5f6: Downloading [=====>     ]  12.35MB/45.6MB 3s`, then `Pull complete`).
//! The wording is Docker's; the bar is Docker's (`JSONProgress.String` in moby's
//! `pkg/jsonmessage`) where the terminal is wider than 110 columns, and shorter, or left out,
//! where it is narrower.

use std::time::{Duration, Instant};

use crate::oci::{Digest, Reference};
use crate::output::live::{LiveRegion, Stream};
use crate::registry::reporter::{PullEvent, PullReporter, PushEvent, PushReporter};
use crate::util::human;

/// The view (see the module docs).
pub(crate) struct LayerView {
    region: LiveRegion,
    layers: Vec<Layer>,
}

struct Layer {
    digest: Digest,
    status: String,
    bytes: Option<Bytes>,
}

/// Download progress of a layer.
struct Bytes {
    current: u64,
    total: u64,
    started: Instant,
}

impl LayerView {
    /// A view on `stream`, a terminal.
    pub(crate) fn new(stream: Stream) -> Self {
        Self::on(LiveRegion::new(stream))
    }

    /// A view drawing in `region`.
    pub(crate) fn on(region: LiveRegion) -> Self {
        Self {
            region,
            layers: Vec::new(),
        }
    }

    /// Prints `text` below the layer lines, which stay as they are from now on (the
    /// `Digest:` and `Status:` lines after a pull).
    pub(crate) fn emit(&mut self, text: &str) {
        self.region.finish();
        self.layers.clear();
        self.region.print(text);
    }

    /// Sets a layer's status; a new status, or `now`, draws at once, anything else at the
    /// next frame that is due.
    fn update(&mut self, digest: &Digest, status: &str, progress: Option<(u64, u64)>, now: bool) {
        let index = match self.layers.iter().position(|l| &l.digest == digest) {
            Some(index) => index,
            None => {
                self.layers.push(Layer {
                    digest: digest.clone(),
                    status: String::new(),
                    bytes: None,
                });
                self.layers.len() - 1
            }
        };
        let layer = &mut self.layers[index];
        let now = now || layer.status != status;
        layer.status = status.to_owned();
        layer.bytes = progress.map(|(current, total)| Bytes {
            current,
            total,
            started: layer
                .bytes
                .as_ref()
                .map_or_else(Instant::now, |b| b.started),
        });
        let columns = self.region.size().columns;
        let lines = self.layers.iter().map(|l| l.line(columns)).collect();
        self.region.set(lines);
        if now {
            self.region.draw();
        } else {
            self.region.refresh();
        }
    }
}

impl Layer {
    fn line(&self, columns: usize) -> String {
        let head = format!("{}: {}", self.digest.short(), self.status);
        match &self.bytes {
            Some(bytes) => {
                let progress = progress(
                    bytes.current,
                    bytes.total,
                    bytes.started.elapsed(),
                    columns,
                    head.len() + 1,
                );
                format!("{head} {progress}")
            }
            None => head,
        }
    }
}

/// Docker's `JSONProgress.String()`: `[=====>    ]  12.35MB/45.6MB 3s`, for a line of
/// `columns` whose first `used` are taken: the 50-wide bar where Docker shows it (a terminal
/// over 110 columns), a shorter one where that fits, none where it does not.
fn progress(current: u64, total: u64, elapsed: Duration, columns: usize, used: usize) -> String {
    if total == 0 {
        return format!("{:>8}", human::size_precise(current));
    }
    let percentage = u64::try_from(u128::from(current) * 100 / u128::from(total) / 2)
        .unwrap_or(50)
        .min(50);
    let numbers = if current > total {
        format!("{:>8}", human::size_precise(current))
    } else {
        format!(
            "{:>8}/{}",
            human::size_precise(current),
            human::size_precise(total)
        )
    };
    // Time left at the pace so far, in whole seconds (Docker's integer arithmetic).
    let left = if current > 0 && percentage < 50 {
        let per_byte = elapsed.as_nanos() / u128::from(current);
        let left = u128::from(total - current) * per_byte / 1_000_000_000;
        format!(
            " {}",
            human::go_seconds(u64::try_from(left).unwrap_or(u64::MAX))
        )
    } else {
        String::new()
    };
    // "[", ">", "] " around the bar's inside; the last column stays free (output::live).
    let fits = columns
        .saturating_sub(1 + used + numbers.len() + left.len() + 4)
        .min(50);
    let width = if columns > 110 { 50 } else { fits };
    let bar = if width >= 10 {
        let filled = usize::try_from(percentage).unwrap_or(50) * width / 50;
        format!(
            "[{}>{}] ",
            "=".repeat(filled),
            " ".repeat(width.saturating_sub(filled))
        )
    } else {
        String::new()
    };
    format!("{bar}{numbers}{left}")
}

impl PullReporter for LayerView {
    fn start(&mut self, reference: &Reference) {
        self.emit(&super::pulling_from(reference));
    }

    fn layer(&mut self, layer: &Digest, event: PullEvent) {
        match event {
            PullEvent::Downloading { current, total } => {
                self.update(
                    layer,
                    super::pull_status(&event),
                    Some((current, total)),
                    false,
                );
            }
            _ => self.update(layer, super::pull_status(&event), None, true),
        }
    }
}

impl PushReporter for LayerView {
    fn start(&mut self, destination: &Reference) {
        self.emit(&super::push_refers_to(destination));
    }

    fn layer(&mut self, layer: &Digest, event: PushEvent) {
        let bytes = match event {
            PushEvent::Pushing { current, total } => Some((current, total)),
            _ => None,
        };
        self.update(layer, &super::push_status(&event), bytes, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::live::Size;
    use crate::output::live::testing::Captured;

    fn view(columns: usize) -> (LayerView, Captured) {
        let out = Captured::default();
        let region = LiveRegion::to_writer(Box::new(out.clone()), Size { columns, rows: 24 })
            .interval(Duration::ZERO);
        (LayerView::on(region), out)
    }

    fn digest(byte: u8) -> Digest {
        Digest::of(&[byte])
    }

    #[test]
    fn a_pull_redraws_each_layer_in_place_and_ends_with_docker_lines() {
        let (mut view, out) = view(120);
        let reference = Reference::parse("busybox").unwrap();
        let (a, b) = (digest(1), digest(2));
        PullReporter::start(&mut view, &reference);
        PullReporter::layer(&mut view, &a, PullEvent::AlreadyExists);
        PullReporter::layer(&mut view, &b, PullEvent::Pulling);
        let half = PullEvent::Downloading {
            current: 1_000_000,
            total: 2_000_000,
        };
        PullReporter::layer(&mut view, &b, half);
        PullReporter::layer(&mut view, &b, PullEvent::DownloadComplete);
        PullReporter::layer(&mut view, &b, PullEvent::Extracting);
        PullReporter::layer(&mut view, &b, PullEvent::PullComplete);
        view.emit("Digest: sha256:0");
        view.emit("Status: Downloaded newer image for busybox:latest");
        let text = out.text();
        let (a, b) = (a.short().to_owned(), b.short().to_owned());
        assert!(
            text.starts_with("latest: Pulling from library/busybox\x1b[K\n"),
            "{text:?}"
        );
        let bar = format!(
            "\r\x1b[2A{a}: Already exists\x1b[K\n{b}: Downloading [{}>{}]      1MB/2MB 0s\x1b[K\n",
            "=".repeat(25),
            " ".repeat(25)
        );
        assert!(text.contains(&bar), "{text:?}");
        assert!(
            text.ends_with(&format!(
                "\r\x1b[2A{a}: Already exists\x1b[K\n{b}: Pull complete\x1b[K\n\x1b[J\
                 Digest: sha256:0\x1b[K\n\x1b[J\
                 Status: Downloaded newer image for busybox:latest\x1b[K\n\x1b[J"
            )),
            "{text:?}"
        );
    }

    #[test]
    fn the_bar_shrinks_with_the_terminal_and_goes_when_there_is_no_room() {
        let wide = progress(500, 1000, Duration::ZERO, 111, 30);
        assert_eq!(wide.find(']'), Some(52), "{wide}");
        let narrow = progress(500, 1000, Duration::ZERO, 50, 20);
        assert_eq!(narrow, "[=====>     ]     500B/1kB 0s");
        assert_eq!(
            progress(500, 1000, Duration::ZERO, 50, 30),
            "    500B/1kB 0s"
        );
        // Unknown total, or more than announced: the count alone.
        assert_eq!(progress(500, 0, Duration::ZERO, 80, 20), "    500B");
        assert_eq!(progress(1500, 1000, Duration::ZERO, 30, 10), "   1.5kB");
    }

    #[test]
    fn a_push_shows_each_layer_s_last_status() {
        let (mut view, out) = view(80);
        let destination = Reference::parse("localhost:5000/test/busybox:1").unwrap();
        let a = digest(1);
        PushReporter::start(&mut view, &destination);
        PushReporter::layer(&mut view, &a, PushEvent::Preparing);
        let pushing = PushEvent::Pushing {
            current: 1500,
            total: 3000,
        };
        PushReporter::layer(&mut view, &a, pushing);
        PushReporter::layer(&mut view, &a, PushEvent::Pushed);
        drop(view);
        let text = out.text();
        assert!(
            text.contains(&format!(
                "\r\x1b[1A{}: Pushing [{}>{}]    1.5kB/3kB 0s\x1b[K\n",
                a.short(),
                "=".repeat(19),
                " ".repeat(19)
            )),
            "{text:?}"
        );
        assert!(
            text.starts_with("The push refers to repository [localhost:5000/test/busybox]"),
            "{text:?}"
        );
        assert!(
            text.ends_with(&format!("\r\x1b[1A{}: Pushed\x1b[K\n\x1b[J", a.short())),
            "{text:?}"
        );
    }
}
