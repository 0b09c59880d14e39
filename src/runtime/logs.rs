//! The container log file, in the format of Docker's `json-file` log driver: one JSON object per
//! line, `{"log":"text\n","stream":"stdout","time":"2024-01-02T15:04:05.123456789Z"}`.
//!
//! [`LogWriter`] is used by the (single-threaded) monitor process that copies the container's
//! stdout and stderr pipes into the file; [`read`] serves `berth logs`, including `--follow`,
//! `--tail`, `--since` and `--until` ([`parse_time`]) and `--timestamps` ([`timestamp_prefix`]).
//!
//! Leaf module: uses nothing else of the crate.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{
    DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeDelta,
    TimeZone, Utc,
};
use serde::{Deserialize, Serialize};

/// Largest `log` text of one record, in bytes (newline included): longer lines are split into
/// several records like Docker does.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// Permissions of a newly created log file (Docker's).
const FILE_MODE: u32 = 0o640;

/// How long a following reader sleeps when it has caught up with the writer.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Size of the blocks read, forwards and (for `--tail`) backwards.
const BLOCK_SIZE: usize = 64 * 1024;

/// Why the log file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log file could not be opened (or created).
    #[error("cannot open log file `{}`", .path.display())]
    Open {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Appending to the log file failed.
    #[error("cannot write log file `{}`", .path.display())]
    Write {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Reading the log file failed.
    #[error("cannot read log file `{}`", .path.display())]
    Read {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The `emit` callback of [`read`] failed (for example with a broken pipe).
    #[error("cannot output logs of `{}`", .path.display())]
    Emit {
        /// The log file being read.
        path: PathBuf,
        /// The error returned by the callback.
        #[source]
        source: io::Error,
    },
    /// A `--since`/`--until` value is neither a time nor a duration.
    #[error("failed to parse value as time or duration: {0:?}")]
    InvalidTime(String),
}

/// Which output of the container a record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`, as in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One record of the log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The stream the text was written to.
    pub stream: Stream,
    /// When the monitor read the text.
    pub time: DateTime<Utc>,
    /// The text, with its trailing `\n` unless the record is a partial line.
    pub text: String,
}

/// A record as written to the file (field order and time format as Docker's `json-file`).
#[derive(Serialize)]
struct RecordOut<'a> {
    log: &'a str,
    stream: Stream,
    time: &'a str,
}

/// A record as read from the file; unknown fields (Docker's `attrs`) are ignored.
#[derive(Deserialize)]
struct RecordIn {
    log: String,
    stream: Stream,
    time: DateTime<Utc>,
}

/// Appends records to a container's log file.
///
/// Each call appends its complete records with one `write(2)` on a file opened `O_APPEND`, so a
/// concurrent reader never sees half a record (other than a torn last line, which it waits
/// for). Unterminated output is kept per stream until its line is completed by a later chunk,
/// reaches [`MAX_RECORD_BYTES`], or is flushed by [`LogWriter::flush_partial`] or on drop.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    stdout_partial: Vec<u8>,
    stderr_partial: Vec<u8>,
    out: Vec<u8>,
}

impl LogWriter {
    /// Opens `path` for appending, creating it (mode 0640) if missing. If the file ends in a
    /// torn record (a previous writer died mid-write), a newline is appended first so that new
    /// records start on a line of their own.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        let open_error = |source| LogError::Open {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(FILE_MODE)
            .open(path)
            .map_err(open_error)?;
        let mut writer = LogWriter {
            path: path.to_owned(),
            file,
            stdout_partial: Vec::new(),
            stderr_partial: Vec::new(),
            out: Vec::new(),
        };
        let len = writer.file.metadata().map_err(open_error)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            writer
                .file
                .read_exact_at(&mut last, len - 1)
                .map_err(open_error)?;
            if last[0] != b'\n' {
                writer.append(b"\n")?;
            }
        }
        Ok(writer)
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `data`, a chunk read from the container's `stream` pipe: each completed line
    /// becomes a record (keeping its `\n`), lines longer than [`MAX_RECORD_BYTES`] are split, and
    /// an unterminated tail is kept for the next chunk. Invalid UTF-8 is replaced by U+FFFD.
    pub fn write_chunk(&mut self, stream: Stream, data: &[u8]) -> Result<(), LogError> {
        let time = format_time(&Utc::now());
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let partial = match stream {
            Stream::Stdout => &mut self.stdout_partial,
            Stream::Stderr => &mut self.stderr_partial,
        };
        partial.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &partial[start..];
            let taken = match rest.iter().position(|&b| b == b'\n') {
                Some(newline) if newline < MAX_RECORD_BYTES => newline + 1,
                _ if rest.len() >= MAX_RECORD_BYTES => split_point(rest),
                _ => break,
            };
            encode(&rest[..taken], stream, &time, &mut out).map_err(|source| LogError::Write {
                path: self.path.clone(),
                source,
            })?;
            start += taken;
        }
        partial.drain(..start);
        let result = self.append(&out);
        self.out = out;
        result
    }

    /// Writes the unterminated output of both streams, if any, as records without newline.
    pub fn flush_partial(&mut self) -> Result<(), LogError> {
        let time = format_time(&Utc::now());
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        for (stream, partial) in [
            (Stream::Stdout, &mut self.stdout_partial),
            (Stream::Stderr, &mut self.stderr_partial),
        ] {
            if !partial.is_empty() {
                encode(partial, stream, &time, &mut out).map_err(|source| LogError::Write {
                    path: self.path.clone(),
                    source,
                })?;
                partial.clear();
            }
        }
        let result = self.append(&out);
        self.out = out;
        result
    }

    /// Appends `bytes` with one `write(2)` (looping only if the kernel writes less).
    fn append(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(bytes)
            .map_err(|source| LogError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // Nowhere to report a failure from here.
        let _ = self.flush_partial();
    }
}

/// Where to cut `rest` (at least [`MAX_RECORD_BYTES`] long, no newline before that) so that the
/// piece is at most [`MAX_RECORD_BYTES`] and, when possible, does not split a UTF-8 sequence.
fn split_point(rest: &[u8]) -> usize {
    let is_continuation = |b: u8| b & 0xC0 == 0x80;
    (MAX_RECORD_BYTES - 3..=MAX_RECORD_BYTES)
        .rev()
        .find(|&cut| rest.get(cut).is_none_or(|&b| !is_continuation(b)))
        .unwrap_or(MAX_RECORD_BYTES)
}

/// Appends the JSON line of one record to `out`.
fn encode(text: &[u8], stream: Stream, time: &str, out: &mut Vec<u8>) -> io::Result<()> {
    let log = String::from_utf8_lossy(text);
    let record = RecordOut {
        log: &log,
        stream,
        time,
    };
    serde_json::to_writer(&mut *out, &record)?;
    out.push(b'\n');
    Ok(())
}

/// RFC 3339 in UTC with exactly nine fractional digits, Docker's `RFC3339NanoFixed`.
fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The `-t`/`--timestamps` prefix of a line: `2024-01-02T15:04:05.123456789Z ` (with the
/// trailing space), exactly as Docker prints it.
pub fn timestamp_prefix(time: &DateTime<Utc>) -> String {
    let mut prefix = format_time(time);
    prefix.push(' ');
    prefix
}

/// What [`read`] returns of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Only the last N records of the file (`--tail N`), before `since`/`until` filtering
    /// like Docker; `None` for all of them.
    pub tail: Option<usize>,
    /// Skip records older than this (`--since`, inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Stop at the first record newer than this (`--until`, inclusive); when following, also
    /// stop once this time has passed.
    pub until: Option<DateTime<Utc>>,
    /// Keep waiting for new records (`--follow`).
    pub follow: bool,
}

/// Reads records; with `follow`, keeps polling the file for new records (sleep ~50 ms between
/// polls) until `stop()` returns true, then drains what is left and returns. Calls `emit` for
/// each record in order. A torn last line (no newline yet) is not emitted until complete.
///
/// Lines that are not valid records (such as the remains of a writer that died mid-write) are
/// skipped. `tail` reads the file backwards from its end, so it costs the size of the last
/// records, not of the file. A file that shrinks while followed is read again from its start.
pub fn read(
    path: &Path,
    options: &ReadOptions,
    stop: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(&LogRecord) -> io::Result<()>,
) -> Result<(), LogError> {
    let read_error = |source| LogError::Read {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .open(path)
        .map_err(|source| LogError::Open {
            path: path.to_owned(),
            source,
        })?;
    let mut reader = Reader {
        path,
        options,
        emit,
        file,
        pos: 0,
        pending: Vec::new(),
        block: vec![0; BLOCK_SIZE],
    };
    let mut limit = None;
    if let Some(count) = options.tail {
        let (start, end) = tail_range(&reader.file, count).map_err(read_error)?;
        reader
            .file
            .seek(SeekFrom::Start(start))
            .map_err(read_error)?;
        reader.pos = start;
        if !options.follow {
            limit = Some(end);
        }
    }
    if reader.pump(limit)?.is_break() || !options.follow {
        return Ok(());
    }
    loop {
        let finished = stop() || options.until.is_some_and(|until| Utc::now() > until);
        if reader.pump(None)?.is_break() || finished {
            return Ok(());
        }
        reader.restart_if_truncated()?;
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// The state of [`read`].
struct Reader<'a> {
    path: &'a Path,
    options: &'a ReadOptions,
    emit: &'a mut dyn FnMut(&LogRecord) -> io::Result<()>,
    file: File,
    /// Offset in the file of the next byte to read.
    pos: u64,
    /// Bytes read after the last complete line.
    pending: Vec<u8>,
    block: Vec<u8>,
}

impl Reader<'_> {
    /// Reads until the end of the file (or offset `limit`) and handles every complete line.
    /// Breaks when a record is newer than `until`.
    fn pump(&mut self, limit: Option<u64>) -> Result<ControlFlow<()>, LogError> {
        loop {
            let want = match limit {
                Some(limit) => {
                    let left = limit.saturating_sub(self.pos);
                    usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.block.len())
                }
                None => self.block.len(),
            };
            if want == 0 {
                return Ok(ControlFlow::Continue(()));
            }
            let count = match self.file.read(&mut self.block[..want]) {
                Ok(0) => return Ok(ControlFlow::Continue(())),
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(LogError::Read {
                        path: self.path.to_owned(),
                        source,
                    });
                }
            };
            self.pos += count as u64;
            self.pending.extend_from_slice(&self.block[..count]);
            let mut start = 0;
            while let Some(newline) = self.pending[start..].iter().position(|&b| b == b'\n') {
                let end = start + newline;
                let flow = self.handle_line(start, end)?;
                start = end + 1;
                if flow.is_break() {
                    return Ok(flow);
                }
            }
            self.pending.drain(..start);
        }
    }

    /// Filters and emits the record on `pending[start..end]`.
    fn handle_line(&mut self, start: usize, end: usize) -> Result<ControlFlow<()>, LogError> {
        let Ok(record) = serde_json::from_slice::<RecordIn>(&self.pending[start..end]) else {
            return Ok(ControlFlow::Continue(()));
        };
        if self.options.since.is_some_and(|since| record.time < since) {
            return Ok(ControlFlow::Continue(()));
        }
        if self.options.until.is_some_and(|until| record.time > until) {
            return Ok(ControlFlow::Break(()));
        }
        let record = LogRecord {
            stream: record.stream,
            time: record.time,
            text: record.log,
        };
        (self.emit)(&record).map_err(|source| LogError::Emit {
            path: self.path.to_owned(),
            source,
        })?;
        Ok(ControlFlow::Continue(()))
    }

    /// Starts over from the beginning if the file became shorter than what was read.
    fn restart_if_truncated(&mut self) -> Result<(), LogError> {
        let read_error = |source| LogError::Read {
            path: self.path.to_owned(),
            source,
        };
        let len = self.file.metadata().map_err(read_error)?.len();
        if len < self.pos {
            self.file.seek(SeekFrom::Start(0)).map_err(read_error)?;
            self.pos = 0;
            self.pending.clear();
        }
        Ok(())
    }
}

/// The byte range `[start, end)` of the last `count` complete lines of `file`, found by reading
/// backwards in blocks; `end` is just past the last newline (a torn last line is left out).
fn tail_range(file: &File, count: usize) -> io::Result<(u64, u64)> {
    let mut block = vec![0u8; BLOCK_SIZE];
    let mut block_end = file.metadata()?.len();
    let mut end = None;
    let mut found = 0;
    while block_end > 0 {
        let size = block_end.min(BLOCK_SIZE as u64);
        let block_start = block_end - size;
        let bytes = &mut block[..size as usize];
        file.read_exact_at(bytes, block_start)?;
        for (index, &byte) in bytes.iter().enumerate().rev() {
            if byte != b'\n' {
                continue;
            }
            let after = block_start + index as u64 + 1;
            match end {
                None => end = Some(after),
                Some(_) => found += 1,
            }
            if end.is_some() && found == count {
                return Ok((after, end.unwrap_or(after)));
            }
        }
        block_end = block_start;
    }
    Ok((0, end.unwrap_or(0)))
}

/// Parses a `--since`/`--until` value as Docker accepts them: RFC 3339 (with or without
/// fractional seconds, seconds, minutes or timezone; without a timezone it is local time, and a
/// date alone means its midnight), a Unix timestamp (`1700000000` or `1700000000.5`), or a Go
/// duration (`10m`, `1h30m`, `42s`, `1.5h`, `300ms`) counted back from `now`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, LogError> {
    let invalid = || LogError::InvalidTime(text.to_owned());
    // Docker reads a lone `0` as the Unix epoch, not as a zero duration.
    if let Some(duration) = crate::util::human::parse_go_duration(text)
        .filter(|_| text != "0")
        .map(TimeDelta::nanoseconds)
    {
        return now.checked_sub_signed(duration).ok_or_else(invalid);
    }
    if text.contains('-') || text.contains('T') || text.contains(':') {
        return parse_rfc3339ish(text).ok_or_else(invalid);
    }
    parse_unix(text).ok_or_else(invalid)
}

/// `YYYY-MM-DD[THH[:MM[:SS[.fraction]]]][Z|±HH:MM]`; local time without a zone.
fn parse_rfc3339ish(text: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    let mut rest = &text[10..];
    let mut time = NaiveTime::MIN;
    if let Some(after_t) = rest.strip_prefix('T') {
        let clock_len = after_t
            .find(|c: char| !c.is_ascii_digit() && c != ':' && c != '.')
            .unwrap_or(after_t.len());
        let clock = &after_t[..clock_len];
        rest = &after_t[clock_len..];
        let (hms, fraction) = match clock.split_once('.') {
            Some((hms, fraction)) => (hms, Some(fraction)),
            None => (clock, None),
        };
        let fields: Vec<&str> = hms.split(':').collect();
        if fields.len() > 3
            || fields
                .iter()
                .any(|f| f.len() != 2 || !f.bytes().all(|b| b.is_ascii_digit()))
            || fraction.is_some() && fields.len() != 3
        {
            return None;
        }
        let field = |index: usize| fields.get(index).map_or(Some(0), |f| f.parse::<u32>().ok());
        let nanos = match fraction {
            Some(digits) => {
                if digits.is_empty()
                    || digits.len() > 9
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32)
            }
            None => 0,
        };
        time = NaiveTime::from_hms_nano_opt(field(0)?, field(1)?, field(2)?, nanos)?;
    }
    let naive = NaiveDateTime::new(date, time);
    let zoned = match rest {
        "" => Local
            .from_local_datetime(&naive)
            .earliest()?
            .with_timezone(&Utc),
        "Z" | "z" => Utc.from_utc_datetime(&naive),
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = rest[1..].split_once(':')?;
            if hours.len() != 2 || minutes.len() != 2 {
                return None;
            }
            let seconds = hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60;
            let offset = FixedOffset::east_opt(sign * seconds)?;
            offset
                .from_local_datetime(&naive)
                .single()?
                .with_timezone(&Utc)
        }
    };
    Some(zoned)
}

/// `SECONDS[.FRACTION]` since the Unix epoch.
fn parse_unix(text: &str) -> Option<DateTime<Utc>> {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let (seconds, fraction) = match text.split_once('.') {
        Some((seconds, fraction)) => (seconds, Some(fraction)),
        None => (text, None),
    };
    if !digits(seconds) {
        return None;
    }
    let nanos = match fraction {
        Some(fraction) if digits(fraction) && fraction.len() <= 9 => {
            fraction.parse::<u32>().ok()? * 10u32.pow(9 - fraction.len() as u32)
        }
        Some(_) => return None,
        None => 0,
    };
    DateTime::from_timestamp(seconds.parse().ok()?, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn collect(path: &Path, options: &ReadOptions) -> Vec<LogRecord> {
        let mut records = Vec::new();
        read(path, options, &|| true, &mut |record| {
            records.push(record.clone());
            Ok(())
        })
        .unwrap();
        records
    }

    fn texts(records: &[LogRecord]) -> Vec<(Stream, String)> {
        records.iter().map(|r| (r.stream, r.text.clone())).collect()
    }

    fn all() -> ReadOptions {
        ReadOptions::default()
    }

    #[test]
    fn round_trip_with_partial_lines_and_both_streams() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut writer = LogWriter::open(&path).unwrap();
        writer.write_chunk(Stream::Stdout, b"hello\nwor").unwrap();
        writer.write_chunk(Stream::Stderr, b"oops").unwrap();
        writer
            .write_chunk(Stream::Stdout, b"ld\n\nbad \xff byte\n\"quo")
            .unwrap();
        writer.write_chunk(Stream::Stderr, b"!\n").unwrap();
        writer
            .write_chunk(Stream::Stdout, b"ted\"\t\\\ntail")
            .unwrap();
        writer.flush_partial().unwrap();
        writer.flush_partial().unwrap(); // nothing left: no empty records
        writer.write_chunk(Stream::Stderr, b"on drop").unwrap();
        drop(writer);

        let records = collect(&path, &all());
        assert_eq!(
            texts(&records),
            vec![
                (Stream::Stdout, "hello\n".to_owned()),
                (Stream::Stdout, "world\n".to_owned()),
                (Stream::Stdout, "\n".to_owned()),
                (Stream::Stdout, "bad \u{fffd} byte\n".to_owned()),
                (Stream::Stderr, "oops!\n".to_owned()),
                (Stream::Stdout, "\"quoted\"\t\\\n".to_owned()),
                (Stream::Stdout, "tail".to_owned()),
                (Stream::Stderr, "on drop".to_owned()),
            ]
        );
        assert!(records.windows(2).all(|pair| pair[0].time <= pair[1].time));

        // The file is exactly Docker's format.
        let content = fs_err::read_to_string(&path).unwrap();
        let first = content.lines().next().unwrap();
        assert!(
            first.starts_with(r#"{"log":"hello\n","stream":"stdout","time":""#),
            "{first}"
        );
        let time = &first[first.len() - 32..first.len() - 2];
        assert_eq!(time.len(), 30);
        assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
        assert!(content.ends_with("}\n"));
    }

    #[test]
    fn reopening_after_a_torn_record_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut writer = LogWriter::open(&path).unwrap();
        writer.write_chunk(Stream::Stdout, b"one\n").unwrap();
        drop(writer);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"log":"torn"#).unwrap();
        // A reader never emits the torn line.
        assert_eq!(
            texts(&collect(&path, &all())),
            vec![(Stream::Stdout, "one\n".to_owned())]
        );
        let mut writer = LogWriter::open(&path).unwrap();
        writer.write_chunk(Stream::Stdout, b"two\n").unwrap();
        drop(writer);
        assert_eq!(
            texts(&collect(&path, &all())),
            vec![
                (Stream::Stdout, "one\n".to_owned()),
                (Stream::Stdout, "two\n".to_owned())
            ]
        );
    }

    #[test]
    fn long_lines_are_split_at_16_kib() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut writer = LogWriter::open(&path).unwrap();
        let mut line = "x".repeat(40_000);
        line.push('\n');
        // Fed in small chunks, like a pipe would.
        for chunk in line.as_bytes().chunks(1000) {
            writer.write_chunk(Stream::Stdout, chunk).unwrap();
        }
        // Exactly 16 KiB with its newline fits one record.
        let mut exact = "y".repeat(MAX_RECORD_BYTES - 1);
        exact.push('\n');
        writer
            .write_chunk(Stream::Stdout, exact.as_bytes())
            .unwrap();
        // Multi-byte characters are not cut in half.
        let mut wide = String::from("a");
        wide.push_str(&"é".repeat(MAX_RECORD_BYTES));
        wide.push('\n');
        writer.write_chunk(Stream::Stderr, wide.as_bytes()).unwrap();
        drop(writer);

        let records = collect(&path, &all());
        let lengths: Vec<usize> = records.iter().map(|r| r.text.len()).collect();
        assert_eq!(
            lengths[..4],
            [16_384, 16_384, 40_001 - 32_768, MAX_RECORD_BYTES]
        );
        assert_eq!(
            records[..3]
                .iter()
                .map(|r| r.text.as_str())
                .collect::<String>(),
            line
        );
        assert_eq!(records[3].text, exact);
        let stderr: Vec<&LogRecord> = records
            .iter()
            .filter(|r| r.stream == Stream::Stderr)
            .collect();
        assert!(
            stderr
                .iter()
                .all(|r| r.text.len() <= MAX_RECORD_BYTES && !r.text.contains('\u{fffd}'))
        );
        assert_eq!(
            stderr.iter().map(|r| r.text.as_str()).collect::<String>(),
            wide
        );
    }

    #[test]
    fn tail_reads_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut writer = LogWriter::open(&path).unwrap();
        for i in 0..10_000 {
            writer
                .write_chunk(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(writer);
        // A torn record at the end (the writer is mid-write) does not count.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"log":"half"#).unwrap();

        let tail = |count| {
            collect(
                &path,
                &ReadOptions {
                    tail: Some(count),
                    ..all()
                },
            )
        };
        let last: Vec<String> = tail(3).into_iter().map(|r| r.text).collect();
        assert_eq!(last, ["line 9997\n", "line 9998\n", "line 9999\n"]);
        assert!(tail(0).is_empty());
        assert_eq!(tail(1)[0].text, "line 9999\n");
        let many = tail(5000);
        assert_eq!(many.len(), 5000);
        assert_eq!(many[0].text, "line 5000\n");
        assert_eq!(tail(20_000).len(), 10_000);
        assert_eq!(collect(&path, &all()).len(), 10_000);

        let empty = dir.path().join("empty.log");
        drop(LogWriter::open(&empty).unwrap());
        assert!(
            collect(
                &empty,
                &ReadOptions {
                    tail: Some(5),
                    ..all()
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn since_and_until_filter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut content = String::new();
        for (second, text) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
            content.push_str(&format!(
                "{{\"log\":\"{text}\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T15:04:0{second}.5Z\"}}\n"
            ));
        }
        content.push_str("not json\n");
        fs_err::write(&path, content).unwrap();
        let at =
            |second| parse_time(&format!("2024-01-02T15:04:0{second}.5Z"), Utc::now()).unwrap();
        let read_texts = |options: ReadOptions| -> Vec<String> {
            collect(&path, &options)
                .into_iter()
                .map(|r| r.text)
                .collect()
        };
        assert_eq!(read_texts(all()), ["a\n", "b\n", "c\n", "d\n"]);
        assert_eq!(
            read_texts(ReadOptions {
                since: Some(at(2)),
                ..all()
            }),
            ["b\n", "c\n", "d\n"]
        );
        assert_eq!(
            read_texts(ReadOptions {
                until: Some(at(3)),
                ..all()
            }),
            ["a\n", "b\n", "c\n"]
        );
        assert_eq!(
            read_texts(ReadOptions {
                since: Some(at(2)),
                until: Some(at(3)),
                ..all()
            }),
            ["b\n", "c\n"]
        );
        // `tail` applies before `since`, like Docker.
        assert_eq!(
            read_texts(ReadOptions {
                tail: Some(2),
                since: Some(at(1)),
                ..all()
            }),
            ["d\n"]
        );
        assert_eq!(
            read_texts(ReadOptions {
                tail: Some(3),
                since: Some(at(3)),
                ..all()
            }),
            ["c\n", "d\n"]
        );
    }

    #[test]
    fn follow_sees_records_appended_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut writer = LogWriter::open(&path).unwrap();
        writer
            .write_chunk(Stream::Stdout, b"before 1\nbefore 2\n")
            .unwrap();
        let started = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let writer_thread = {
            let started = Arc::clone(&started);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                // Start once the reader has done its `--tail 1`.
                while !started.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                for i in 0..20 {
                    // Lines arrive in pieces: the reader must wait for the rest.
                    writer
                        .write_chunk(Stream::Stderr, format!("line {i}").as_bytes())
                        .unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                    writer.write_chunk(Stream::Stderr, b"\n").unwrap();
                }
                writer.write_chunk(Stream::Stdout, b"last").unwrap();
                drop(writer);
                done.store(true, Ordering::SeqCst);
            })
        };
        let mut records = Vec::new();
        let options = ReadOptions {
            tail: Some(1),
            follow: true,
            ..all()
        };
        read(
            &path,
            &options,
            &|| done.load(Ordering::SeqCst),
            &mut |record| {
                records.push(record.clone());
                started.store(true, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
        writer_thread.join().unwrap();
        let mut expected = vec![(Stream::Stdout, "before 2\n".to_owned())];
        expected.extend((0..20).map(|i| (Stream::Stderr, format!("line {i}\n"))));
        expected.push((Stream::Stdout, "last".to_owned()));
        assert_eq!(texts(&records), expected);
    }

    #[test]
    fn follow_stops_once_until_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        drop(LogWriter::open(&path).unwrap());
        let options = ReadOptions {
            until: Some(Utc::now() + TimeDelta::milliseconds(100)),
            follow: true,
            ..all()
        };
        // `stop` never returns true: `until` ends the wait.
        read(&path, &options, &|| false, &mut |_| Ok(())).unwrap();
    }

    #[test]
    fn emit_errors_and_missing_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut writer = LogWriter::open(&path).unwrap();
        writer.write_chunk(Stream::Stdout, b"x\n").unwrap();
        let error = read(&path, &all(), &|| true, &mut |_| {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        })
        .unwrap_err();
        assert!(
            matches!(&error, LogError::Emit { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
        );
        let missing = dir.path().join("missing.log");
        let error = read(&missing, &all(), &|| true, &mut |_| Ok(())).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("cannot open log file `{}`", missing.display())
        );
    }

    #[test]
    fn timestamps_have_nine_digits_and_z() {
        let time = Utc.with_ymd_and_hms(2024, 1, 2, 15, 4, 5).unwrap();
        assert_eq!(timestamp_prefix(&time), "2024-01-02T15:04:05.000000000Z ");
        let time = time + TimeDelta::nanoseconds(123_456_789);
        assert_eq!(timestamp_prefix(&time), "2024-01-02T15:04:05.123456789Z ");
        let time = time + TimeDelta::nanoseconds(1_000 - 789);
        assert_eq!(timestamp_prefix(&time), "2024-01-02T15:04:05.123457000Z ");
    }

    #[test]
    fn parse_time_variants() {
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 15, 4, 5).unwrap();
        let utc = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        let parse = |text: &str| parse_time(text, now).unwrap();

        // Durations back from now.
        assert_eq!(parse("10m"), now - TimeDelta::minutes(10));
        assert_eq!(parse("1h30m"), now - TimeDelta::minutes(90));
        assert_eq!(parse("42s"), now - TimeDelta::seconds(42));
        assert_eq!(parse("1.5h"), now - TimeDelta::minutes(90));
        assert_eq!(parse("300ms"), now - TimeDelta::milliseconds(300));
        assert_eq!(
            parse("2h45m10s5us"),
            now - TimeDelta::seconds(9910) - TimeDelta::microseconds(5)
        );
        assert_eq!(parse("-5m"), now + TimeDelta::minutes(5));

        // Unix timestamps.
        assert_eq!(
            parse("1700000000"),
            DateTime::from_timestamp(1_700_000_000, 0).unwrap()
        );
        assert_eq!(
            parse("1700000000.5"),
            DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap()
        );
        assert_eq!(
            parse("1700000000.000000001"),
            DateTime::from_timestamp(1_700_000_000, 1).unwrap()
        );
        assert_eq!(parse("0"), DateTime::UNIX_EPOCH);

        // RFC 3339 and shortened forms.
        assert_eq!(parse("2024-01-02T15:04:05Z"), utc(2024, 1, 2, 15, 4, 5));
        assert_eq!(
            parse("2024-01-02T15:04:05.123456789Z"),
            utc(2024, 1, 2, 15, 4, 5) + TimeDelta::nanoseconds(123_456_789)
        );
        assert_eq!(
            parse("2024-01-02T15:04:05.5+02:00"),
            utc(2024, 1, 2, 13, 4, 5) + TimeDelta::milliseconds(500)
        );
        assert_eq!(
            parse("2024-01-02T15:04:05-01:30"),
            utc(2024, 1, 2, 16, 34, 5)
        );
        assert_eq!(parse("2024-01-02T15:04Z"), utc(2024, 1, 2, 15, 4, 0));
        assert_eq!(parse("2024-01-02T15Z"), utc(2024, 1, 2, 15, 0, 0));
        assert_eq!(parse("2024-01-02Z"), utc(2024, 1, 2, 0, 0, 0));
        assert_eq!(parse("2024-01-02+01:00"), utc(2024, 1, 1, 23, 0, 0));

        // Without a zone: local time.
        let local = |text: &str, naive: &str| {
            let naive = NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f").unwrap();
            assert_eq!(
                parse(text),
                Local
                    .from_local_datetime(&naive)
                    .earliest()
                    .unwrap()
                    .with_timezone(&Utc),
                "{text}"
            );
        };
        local("2024-01-02T15:04:05", "2024-01-02 15:04:05");
        local("2024-01-02T15:04:05.25", "2024-01-02 15:04:05.25");
        local("2024-01-02T15:04", "2024-01-02 15:04:00");
        local("2024-01-02", "2024-01-02 00:00:00");

        for bad in [
            "",
            "abc",
            "10x",
            "1h30",
            "2024-13-01",
            "2024-01-02T25:00Z",
            "2024-01-02T15:04:05.Z",
            "2024-01-02 15:04:05",
            "1700000000.",
            "-1700000000",
            "1.2.3",
            "2024-01-02T1",
            "2024-01-02T15:04:05+0200",
        ] {
            let error = parse_time(bad, now).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("failed to parse value as time or duration: {bad:?}"),
                "{bad}"
            );
        }
    }
}
