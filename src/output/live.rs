//! A live region: the last lines of a terminal, redrawn in place as work moves on (Docker's
//! per-layer pull and push lines, BuildKit's build view). Lines printed above it stay put.
//!
//! Each redraw is one write of one frame, made of three ECMA-48 sequences that every terminal
//! emulator in use understands: `ESC [ n A` (cursor up n lines) to the region's first line,
//! then each line followed by `ESC [ K` (erase the rest of the line), then `ESC [ J` (erase
//! what is below, when the region shrank). No terminal mode is changed and the cursor is never
//! hidden, and every frame ends with the cursor at the start of the line below the region: a
//! process interrupted at any point (Ctrl-C) leaves the terminal clean, with its last frame.
//!
//! The region's lines are cut to the terminal's width (read at each frame, so a resized window
//! is followed), because a line that wraps would take two rows and the next `ESC [ n A` would
//! land in the wrong place; lines printed above it are never redrawn and may wrap. For the
//! same reason a region taller than the terminal freezes its top lines, which can no longer
//! be reached, and redraws only the rest. Control characters in the text (a RUN step's own
//! escape sequences, tabs, carriage returns) are dropped or turned into spaces so that they
//! cannot move the cursor. Every character is taken to be one column wide.
//!
//! Uses nothing else of the crate.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a region redraws at most, unless told to draw now: ten frames a second.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// The size assumed when the terminal does not say (a pseudo-terminal nobody sized).
const FALLBACK: Size = Size {
    columns: 80,
    rows: 24,
};

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Columns.
    pub columns: usize,
    /// Rows.
    pub rows: usize,
}

/// The standard stream a region draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// Whether the stream is a terminal.
    pub fn is_terminal(self) -> bool {
        match self {
            Stream::Stdout => io::stdout().is_terminal(),
            Stream::Stderr => io::stderr().is_terminal(),
        }
    }

    /// The terminal's size, if it says.
    fn size(self) -> Option<Size> {
        let size = match self {
            Stream::Stdout => rustix::termios::tcgetwinsize(io::stdout()),
            Stream::Stderr => rustix::termios::tcgetwinsize(io::stderr()),
        }
        .ok()?;
        (size.ws_col > 0 && size.ws_row > 0).then_some(Size {
            columns: usize::from(size.ws_col),
            rows: usize::from(size.ws_row),
        })
    }
}

/// Where a region writes and how it learns the terminal's size.
enum Target {
    /// A standard stream; the size is asked at each frame.
    Stream(Stream),
    /// Any writer with a fixed size (tests, and streams forced live that are no terminal).
    Fixed(Box<dyn Write>, Size),
}

/// Lines at the bottom of the terminal, redrawn in place (see the module docs).
pub struct LiveRegion {
    target: Target,
    /// What the region should show.
    lines: Vec<String>,
    /// Leading lines of `lines` that scrolled out of reach: drawn once, never again.
    frozen: usize,
    /// Rows the last frame drew (after the frozen ones); the cursor is just below them.
    drawn: usize,
    /// `lines` changed since the last frame.
    dirty: bool,
    last_frame: Option<Instant>,
    interval: Duration,
}

impl LiveRegion {
    /// A region on `stream`, which should be a terminal ([`Stream::is_terminal`]).
    pub fn new(stream: Stream) -> Self {
        Self::with_target(Target::Stream(stream))
    }

    /// A region writing to `out`, as if to a terminal of `size`.
    pub fn to_writer(out: Box<dyn Write>, size: Size) -> Self {
        Self::with_target(Target::Fixed(out, size))
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            lines: Vec::new(),
            frozen: 0,
            drawn: 0,
            dirty: false,
            last_frame: None,
            interval: FRAME_INTERVAL,
        }
    }

    /// Sets the shortest time between two frames drawn by [`LiveRegion::refresh`].
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The terminal's size now.
    pub fn size(&self) -> Size {
        match &self.target {
            Target::Stream(stream) => stream.size().unwrap_or(FALLBACK),
            Target::Fixed(_, size) => *size,
        }
    }

    /// Replaces what the region shows; nothing is drawn until [`LiveRegion::refresh`] or
    /// [`LiveRegion::draw`]. Callers append rather than reorder: once the region is taller
    /// than the terminal its first lines are frozen, and changes to them are not shown.
    pub fn set(&mut self, lines: Vec<String>) {
        if lines != self.lines {
            self.lines = lines;
            self.dirty = true;
        }
    }

    /// Draws if something changed and the last frame is at least the interval old.
    pub fn refresh(&mut self) {
        let due = self
            .last_frame
            .is_none_or(|last| last.elapsed() >= self.interval);
        if self.dirty && due {
            self.draw();
        }
    }

    /// Draws now if something changed (a status a user should see at once).
    pub fn draw(&mut self) {
        if self.dirty {
            let frame = self.frame(&[]);
            self.write(&frame);
        }
    }

    /// Prints `text` (one or more lines) above the region, for good, and redraws the region
    /// below it.
    pub fn print(&mut self, text: &str) {
        let above: Vec<&str> = text.lines().collect();
        let frame = self.frame(&above);
        self.write(&frame);
    }

    /// Draws the last frame and lets its lines stay as ordinary output; the region is then
    /// empty, and the next lines anyone prints come below it.
    pub fn finish(&mut self) {
        self.draw();
        self.lines.clear();
        self.frozen = 0;
        self.drawn = 0;
        self.dirty = false;
    }

    /// One frame: back to the region's first row, the lines printed above it, the region,
    /// and the rest of the screen erased.
    fn frame(&mut self, above: &[&str]) -> String {
        let size = self.size();
        // The last column stays empty: a line that fills it leaves some terminals in their
        // "wrap pending" state, and the next newline would then count twice.
        let width = size.columns.saturating_sub(1).max(1);
        let mut frame = String::new();
        if self.drawn > 0 {
            frame.push_str(&format!("\r\x1b[{}A", self.drawn));
        }
        // Lines above are never redrawn, so they may wrap: only their control characters go.
        for line in above {
            frame.push_str(&fit(line, usize::MAX));
            frame.push_str("\x1b[K\n");
        }
        self.frozen = self.frozen.min(self.lines.len());
        let visible = &self.lines[self.frozen..];
        // The cursor can go up at most rows - 1 lines: what is above that is frozen.
        let reachable = size.rows.saturating_sub(1).max(1);
        let overflow = visible.len().saturating_sub(reachable);
        for line in visible {
            frame.push_str(&fit(line, width));
            frame.push_str("\x1b[K\n");
        }
        frame.push_str("\x1b[J");
        self.frozen += overflow;
        self.drawn = visible.len() - overflow;
        self.dirty = false;
        self.last_frame = Some(Instant::now());
        frame
    }

    /// Writes a frame in one go. A closed stream is not an error: progress is optional.
    fn write(&mut self, frame: &str) {
        let _ = match &mut self.target {
            Target::Stream(Stream::Stdout) => write_all(&mut io::stdout().lock(), frame),
            Target::Stream(Stream::Stderr) => write_all(&mut io::stderr().lock(), frame),
            Target::Fixed(out, _) => write_all(out, frame),
        };
    }
}

/// The last frame stays on the screen when the region is dropped, also on an early return
/// with an error (which is then printed below it).
impl Drop for LiveRegion {
    fn drop(&mut self) {
        self.finish();
    }
}

fn write_all(out: &mut dyn Write, frame: &str) -> io::Result<()> {
    out.write_all(frame.as_bytes())?;
    out.flush()
}

/// `line` made safe to draw in `width` columns: tabs become spaces, other control characters
/// and escape sequences are dropped, and the text is cut at `width` characters.
pub fn fit(line: &str, width: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if count >= width {
            break;
        }
        match c {
            '\t' => {
                out.push(' ');
                count += 1;
            }
            // A CSI sequence: ESC [ parameters, then one final byte in @..~.
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            c if c.is_control() => {}
            c => {
                out.push(c);
                count += 1;
            }
        }
    }
    out
}

/// `left`, then `right` at the right edge of `width` columns (BuildKit's durations), with at
/// least one space between; `left` is cut when both do not fit.
pub fn justify(left: &str, right: &str, width: usize) -> String {
    let right_len = right.chars().count();
    let room = width.saturating_sub(right_len + 1);
    let left = fit(left, room);
    let pad = width.saturating_sub(left.chars().count() + right_len);
    format!("{left}{}{right}", " ".repeat(pad.max(1)))
}

/// What the views' tests draw into.
#[cfg(test)]
pub(crate) mod testing {
    use std::cell::RefCell;
    use std::io::{self, Write};
    use std::rc::Rc;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Rc<RefCell<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// Everything drawn since the last `take`.
        pub(crate) fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.borrow_mut())).unwrap()
        }

        /// Everything drawn so far.
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.borrow().clone()).unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Captured;
    use super::*;

    fn region(columns: usize, rows: usize) -> (LiveRegion, Captured) {
        let captured = Captured::default();
        let region = LiveRegion::to_writer(Box::new(captured.clone()), Size { columns, rows })
            .interval(Duration::ZERO);
        (region, captured)
    }

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_first_frame_draws_and_the_next_go_back_up() {
        let (mut region, out) = region(80, 24);
        region.set(lines(&["a: Waiting", "b: Waiting"]));
        region.draw();
        assert_eq!(out.take(), "a: Waiting\x1b[K\nb: Waiting\x1b[K\n\x1b[J");
        region.set(lines(&["a: Pull complete", "b: Waiting"]));
        region.draw();
        assert_eq!(
            out.take(),
            "\r\x1b[2Aa: Pull complete\x1b[K\nb: Waiting\x1b[K\n\x1b[J"
        );
        // Nothing changed: nothing drawn.
        region.draw();
        region.refresh();
        assert_eq!(out.take(), "");
    }

    #[test]
    fn printed_lines_go_above_and_stay() {
        let (mut region, out) = region(80, 24);
        region.set(lines(&["a: Downloading"]));
        region.draw();
        out.take();
        region.print("Digest: sha256:1");
        assert_eq!(
            out.take(),
            "\r\x1b[1ADigest: sha256:1\x1b[K\na: Downloading\x1b[K\n\x1b[J"
        );
        region.finish();
        region.print("Status: done");
        // After finish nothing is redrawn: the line comes below the last frame.
        assert_eq!(out.take(), "Status: done\x1b[K\n\x1b[J");
    }

    #[test]
    fn a_shrinking_region_erases_what_is_left_below() {
        let (mut region, out) = region(80, 24);
        region.set(lines(&["step", "log 1", "log 2"]));
        region.draw();
        out.take();
        region.set(lines(&["step done"]));
        region.draw();
        assert_eq!(out.take(), "\r\x1b[3Astep done\x1b[K\n\x1b[J");
        region.set(lines(&["step done", "next"]));
        region.draw();
        assert_eq!(out.take(), "\r\x1b[1Astep done\x1b[K\nnext\x1b[K\n\x1b[J");
    }

    #[test]
    fn lines_are_cut_to_the_width_and_cleaned() {
        let (mut region, out) = region(10, 24);
        region.set(lines(&["0123456789abcdef", "\x1b[31mred\x1b[0m\tx\r\x07"]));
        region.draw();
        assert_eq!(out.take(), "012345678\x1b[K\nred x\x1b[K\n\x1b[J");
        // What is printed above is never redrawn: it may wrap.
        region.finish();
        region.print("0123456789abcdef\x07");
        assert_eq!(out.take(), "0123456789abcdef\x1b[K\n\x1b[J");
    }

    #[test]
    fn a_region_taller_than_the_terminal_freezes_its_top() {
        let (mut region, out) = region(80, 3);
        region.set(lines(&["1", "2", "3", "4"]));
        region.draw();
        assert_eq!(out.take(), "1\x1b[K\n2\x1b[K\n3\x1b[K\n4\x1b[K\n\x1b[J");
        region.set(lines(&["1", "2", "3 done", "4 done"]));
        region.draw();
        // Two rows can be reached (rows - 1): "1" and "2" stay as they were.
        assert_eq!(out.take(), "\r\x1b[2A3 done\x1b[K\n4 done\x1b[K\n\x1b[J");
    }

    #[test]
    fn refresh_waits_for_the_interval() {
        let captured = Captured::default();
        let mut region = LiveRegion::to_writer(
            Box::new(captured.clone()),
            Size {
                columns: 80,
                rows: 24,
            },
        )
        .interval(Duration::from_secs(3600));
        region.set(lines(&["1%"]));
        region.refresh();
        assert_eq!(captured.take(), "1%\x1b[K\n\x1b[J");
        region.set(lines(&["2%"]));
        region.refresh();
        assert_eq!(captured.take(), "");
        region.draw();
        assert_eq!(captured.take(), "\r\x1b[1A2%\x1b[K\n\x1b[J");
    }

    #[test]
    fn dropping_draws_the_last_frame() {
        let (mut region, out) = region(80, 24);
        region.set(lines(&["a"]));
        drop(region);
        assert_eq!(out.take(), "a\x1b[K\n\x1b[J");
    }

    #[test]
    fn justify_puts_the_time_at_the_right_edge() {
        assert_eq!(justify("=> RUN x", "0.1s", 16), "=> RUN x    0.1s");
        assert_eq!(
            justify("=> RUN something long", "0.1s", 16),
            "=> RUN some 0.1s"
        );
    }
}
