//! Parsers for JSON lines, logfmt and plain `TIMESTAMP LEVEL message` lines, and format
//! detection.
//!
//! The parsers are written by hand over bytes rather than through a general JSON or logfmt
//! library: a log line is a flat object whose few interesting keys are known in advance, and
//! skipping the generic value tree (and borrowing every string that has no escapes) is what
//! lets a single thread parse millions of lines a second. Nested JSON values are kept as
//! their raw text.

use super::record::{Level, LogRecord, days_from_civil};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The textual layouts [`LogParser`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Jsonl,
    /// `key=value key2="quoted value"` pairs.
    Logfmt,
    /// `TIMESTAMP LEVEL [service] message`.
    Plain,
}

impl LogFormat {
    /// The name used on the command line (`jsonl`, `logfmt`, `plain`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Jsonl => "jsonl",
            LogFormat::Logfmt => "logfmt",
            LogFormat::Plain => "plain",
        }
    }

    /// Guesses the format from the first non-empty lines of `input` (up to 20): each line
    /// votes for every format that parses it, JSON lines first, then logfmt, then plain.
    /// `None` when no line parses in any format (or there are no lines).
    ///
    /// ```
    /// use oddsight_detectors::logs::LogFormat;
    /// let text = b"\n{\"level\":\"info\",\"msg\":\"started\"}\n{\"level\":\"warn\",\"msg\":\"slow\"}\n";
    /// assert_eq!(LogFormat::detect(text), Some(LogFormat::Jsonl));
    /// assert_eq!(LogFormat::detect(b"level=info msg=hello\n"), Some(LogFormat::Logfmt));
    /// assert_eq!(LogFormat::detect(b"2024-05-01T12:00:00Z INFO started\n"), Some(LogFormat::Plain));
    /// ```
    pub fn detect(input: &[u8]) -> Option<LogFormat> {
        let mut votes = [0usize; 3];
        let formats = [LogFormat::Jsonl, LogFormat::Logfmt, LogFormat::Plain];
        for (_, line) in Lines::new(input).filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace)).take(20) {
            for (vote, format) in votes.iter_mut().zip(formats) {
                if parse_line(format, line, false).is_ok() {
                    *vote += 1;
                }
            }
        }
        let best = votes.iter().copied().max().unwrap_or(0);
        if best == 0 {
            return None;
        }
        formats.into_iter().zip(votes).find(|&(_, v)| v == best).map(|(f, _)| f)
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LogFormat {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "json" | "ndjson" => Ok(LogFormat::Jsonl),
            "logfmt" => Ok(LogFormat::Logfmt),
            "plain" | "text" => Ok(LogFormat::Plain),
            _ => Err(crate::Error::Core(oddsight_core::Error::InvalidParameter {
                name: "format",
                reason: "must be jsonl, logfmt or plain",
                value: s.to_string(),
            })),
        }
    }
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MalformedReason {
    /// The line is not valid UTF-8.
    NotUtf8,
    /// A JSON line that is not one well-formed JSON object.
    InvalidJson,
    /// A logfmt line with no `key=value` pair, or an unterminated quoted value.
    InvalidLogfmt,
    /// A plain line that does not start with a timestamp.
    NoTimestamp,
    /// A plain line whose timestamp is not followed by a level.
    NoLevel,
}

impl MalformedReason {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            MalformedReason::NotUtf8 => "not UTF-8",
            MalformedReason::InvalidJson => "not a JSON object",
            MalformedReason::InvalidLogfmt => "no key=value pairs or an unterminated quote",
            MalformedReason::NoTimestamp => "no leading timestamp",
            MalformedReason::NoLevel => "no level after the timestamp",
        }
    }
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line that did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// Its 0-based line index in the input.
    pub line_index: usize,
    /// Why.
    pub reason: MalformedReason,
}

/// What a pass over an input found: how many lines, how many malformed, and the first
/// malformed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseReport {
    /// Lines seen, empty ones included.
    pub lines: usize,
    /// Lines that were empty or only whitespace (skipped, not malformed).
    pub empty: usize,
    /// Lines parsed into records.
    pub parsed: usize,
    /// Lines that did not parse.
    pub malformed: usize,
    /// The first [`ParseReport::MAX_EXAMPLES`] malformed lines.
    pub examples: Vec<Malformed>,
}

impl ParseReport {
    /// How many malformed lines are listed in `examples` at most.
    pub const MAX_EXAMPLES: usize = 100;

    /// Counts a malformed line.
    pub fn record_malformed(&mut self, line_index: usize, reason: MalformedReason) {
        self.malformed += 1;
        if self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(Malformed { line_index, reason });
        }
    }
}

/// Splits input into lines on `\n`, dropping a `\r` before it, yielding 0-based indices.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    rest: &'a [u8],
    index: usize,
    done: bool,
}

impl<'a> Lines<'a> {
    /// Lines of `input`. A final line without a newline counts; a trailing newline does not
    /// start another line.
    pub fn new(input: &'a [u8]) -> Self {
        Lines { rest: input, index: 0, done: input.is_empty() }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.rest) {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        if rest.is_empty() {
            self.done = true;
        }
        self.rest = rest;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let index = self.index;
        self.index += 1;
        Some((index, line))
    }
}

/// Parses log lines of one format (or detects it).
///
/// Field aliases (keys are matched exactly as written, first occurrence wins; in plain lines,
/// `key=value` pairs inside the message fill the numeric fields):
///
/// | record field | keys |
/// |---|---|
/// | `timestamp` | `timestamp`, `ts`, `time`, `@timestamp`, `@t`, `datetime`, `date`, `time_local` |
/// | `level` | `level`, `lvl`, `severity`, `loglevel`, `log_level`, `log.level`, `levelname`, `level_name`, `@l` |
/// | `message` | `message`, `msg`, `@m`, `text`, `log`, `event` |
/// | `service` | `service`, `service_name`, `service.name`, `svc`, `app`, `application`, `component` |
/// | `response_time_ms` | `response_time_ms`, `duration_ms`, `latency_ms`, `elapsed_ms`, `took_ms`, `request_time_ms`, `response_ms`, `rt_ms`, and without unit `response_time`, `duration`, `latency`, `elapsed`, `took`, `rt` (milliseconds); `response_time_s`, `duration_s`, `latency_s`, `elapsed_s`, `request_time` (seconds, as nginx writes it) |
/// | `memory_mb` | `memory_mb`, `mem_mb`, `memory`, `mem`, `memory_usage`, `memory_usage_mb`, `memory_used_mb`, `heap_mb`, `rss_mb` (mebibytes); `memory_bytes`, `mem_bytes`, `heap_bytes`, `rss_bytes` (bytes); `memory_gb`, `mem_gb` (gibibytes) |
///
/// Timestamps may be numbers (Unix seconds, milliseconds, microseconds or nanoseconds, told
/// apart by magnitude: below 10¹¹ seconds, below 10¹⁴ milliseconds, below 10¹⁷ microseconds)
/// or ISO 8601 text: `2024-05-01T12:00:00Z`, with a space instead of `T`, a fraction after a
/// `.` or `,`, and `Z`, `±HH:MM` or `±HHMM` (no zone is UTC). Durations and sizes may also be
/// text with a unit (`"250ms"`, `"1.5s"`, `"512MB"`, `"2GiB"`), which overrides the key's
/// unit. A value of a known key that does not read as its type (a response time of `"fast"`)
/// leaves the field unset and is kept as a free-form field instead; it does not make the line
/// malformed.
///
/// Plain lines: the timestamp is the first token (or the first two, date and time, when
/// separated by a space; it may be in square brackets), the level the next (`ERROR`,
/// `[error]`, `error:`), an optional `[service]` after it, and the rest is the message.
/// `key=value` tokens of the response-time and memory keys fill those fields; at the end of
/// the line they are taken off the message (`… done duration_ms=12` has the message `… done`).
///
/// ```
/// use oddsight_detectors::logs::{Level, LogFormat, LogParser};
/// let parser = LogParser::new(LogFormat::Logfmt);
/// let r = parser.parse_line(br#"ts=2024-05-01T12:00:00Z lvl=warn svc=checkout msg="slow call" duration=1.5s"#)?;
/// assert_eq!(r.timestamp, Some(1_714_564_800_000));
/// assert_eq!(r.level, Some(Level::Warn));
/// assert_eq!(r.service.as_deref(), Some("checkout"));
/// assert_eq!(r.message, "slow call");
/// assert_eq!(r.response_time_ms, Some(1500.0));
/// # Ok::<(), oddsight_detectors::logs::MalformedReason>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogParser {
    format: LogFormat,
    keep_fields: bool,
}

impl LogParser {
    /// A parser of `format` that keeps free-form fields.
    pub fn new(format: LogFormat) -> Self {
        LogParser { format, keep_fields: true }
    }

    /// A parser of the format [`LogFormat::detect`] finds in `input`, or plain when it finds
    /// none (every line will then be malformed, and counted).
    pub fn detect(input: &[u8]) -> Self {
        LogParser::new(LogFormat::detect(input).unwrap_or(LogFormat::Plain))
    }

    /// Whether free-form fields are collected into [`LogRecord::fields`] (default true).
    /// Turning it off saves an allocation per line when only the detector's features are needed.
    pub fn keep_fields(mut self, keep: bool) -> Self {
        self.keep_fields = keep;
        self
    }

    /// The format read.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Parses one line (without its newline).
    ///
    /// # Errors
    /// The [`MalformedReason`] when the line does not parse.
    pub fn parse_line<'a>(&self, line: &'a [u8]) -> Result<LogRecord<'a>, MalformedReason> {
        parse_line(self.format, line, self.keep_fields)
    }

    /// Parses every line of `input`, calling `each(line_index, record)` for each record;
    /// empty lines are skipped and malformed ones counted in the report, never fatal.
    pub fn for_each<'a>(&self, input: &'a [u8], mut each: impl FnMut(usize, LogRecord<'a>)) -> ParseReport {
        let mut report = ParseReport::default();
        for (index, line) in Lines::new(input) {
            report.lines += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                report.empty += 1;
                continue;
            }
            match self.parse_line(line) {
                Ok(record) => {
                    report.parsed += 1;
                    each(index, record);
                }
                Err(reason) => report.record_malformed(index, reason),
            }
        }
        report
    }

    /// Parses every line of `input` into `(line_index, record)` pairs.
    pub fn parse_all<'a>(&self, input: &'a [u8]) -> (Vec<(usize, LogRecord<'a>)>, ParseReport) {
        let mut records = Vec::new();
        let report = self.for_each(input, |i, r| records.push((i, r)));
        (records, report)
    }
}

fn parse_line(format: LogFormat, line: &[u8], keep_fields: bool) -> Result<LogRecord<'_>, MalformedReason> {
    let text = std::str::from_utf8(line).map_err(|_| MalformedReason::NotUtf8)?;
    let mut builder = Builder { record: LogRecord::default(), keep_fields, seen: 0 };
    match format {
        LogFormat::Jsonl => {
            json::parse_object(text, &mut builder).ok_or(MalformedReason::InvalidJson)?;
        }
        LogFormat::Logfmt => logfmt(text, &mut builder)?,
        LogFormat::Plain => plain(text, &mut builder)?,
    }
    Ok(builder.record)
}

/// The record field a key names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Timestamp,
    Level,
    Message,
    Service,
    /// A duration whose bare numbers are in this many milliseconds.
    Duration(f64),
    /// A size whose bare numbers are in this many mebibytes.
    Memory(f64),
    Other,
}

impl Slot {
    fn bit(self) -> u8 {
        match self {
            Slot::Timestamp => 1,
            Slot::Level => 2,
            Slot::Message => 4,
            Slot::Service => 8,
            Slot::Duration(_) => 16,
            Slot::Memory(_) => 32,
            Slot::Other => 0,
        }
    }
}

#[inline]
fn slot(key: &str) -> Slot {
    match key {
        "timestamp" | "ts" | "time" | "@timestamp" | "@t" | "datetime" | "date" | "time_local" => Slot::Timestamp,
        "level" | "lvl" | "severity" | "loglevel" | "log_level" | "log.level" | "levelname" | "level_name" | "@l" => {
            Slot::Level
        }
        "message" | "msg" | "@m" | "text" | "log" | "event" => Slot::Message,
        "service" | "service_name" | "service.name" | "svc" | "app" | "application" | "component" => Slot::Service,
        "response_time_ms" | "duration_ms" | "latency_ms" | "elapsed_ms" | "took_ms" | "request_time_ms"
        | "response_ms" | "rt_ms" | "response_time" | "duration" | "latency" | "elapsed" | "took" | "rt" => {
            Slot::Duration(1.0)
        }
        "response_time_s" | "duration_s" | "latency_s" | "elapsed_s" | "request_time" => Slot::Duration(1000.0),
        "memory_mb" | "mem_mb" | "memory" | "mem" | "memory_usage" | "memory_usage_mb" | "memory_used_mb"
        | "heap_mb" | "rss_mb" => Slot::Memory(1.0),
        "memory_bytes" | "mem_bytes" | "heap_bytes" | "rss_bytes" => Slot::Memory(1.0 / 1_048_576.0),
        "memory_gb" | "mem_gb" => Slot::Memory(1024.0),
        _ => Slot::Other,
    }
}

/// A parsed value of a known shape.
#[derive(Debug)]
enum Value<'a> {
    Str(Cow<'a, str>),
    /// A JSON number, its text and value.
    Num(&'a str, f64),
    /// `true`, `false`, `null`, or a nested object or array, as raw text.
    Raw(&'a str),
}

impl<'a> Value<'a> {
    fn into_text(self) -> Cow<'a, str> {
        match self {
            Value::Str(s) => s,
            Value::Num(t, _) | Value::Raw(t) => Cow::Borrowed(t),
        }
    }
}

struct Builder<'a> {
    record: LogRecord<'a>,
    keep_fields: bool,
    /// Slots already filled (first occurrence wins).
    seen: u8,
}

impl<'a> Builder<'a> {
    #[inline]
    fn set(&mut self, key: Cow<'a, str>, value: Value<'a>) {
        let slot = slot(&key);
        let bit = slot.bit();
        if bit != 0 && self.seen & bit == 0 && self.fill(slot, &value) {
            self.seen |= bit;
            return;
        }
        if self.keep_fields {
            self.record.fields.push((key, value.into_text()));
        }
    }

    /// Fills `slot` from `value`; false if the value does not read as the slot's type.
    #[inline]
    fn fill(&mut self, slot: Slot, value: &Value<'a>) -> bool {
        let r = &mut self.record;
        match (slot, value) {
            (Slot::Timestamp, Value::Num(_, n)) => {
                r.timestamp = epoch_number_ms(*n);
                r.timestamp.is_some()
            }
            (Slot::Timestamp, Value::Str(s)) => {
                r.timestamp = parse_timestamp(s);
                r.timestamp.is_some()
            }
            (Slot::Level, Value::Num(t, _)) | (Slot::Level, Value::Raw(t)) => {
                r.level = Level::parse(t);
                r.level.is_some()
            }
            (Slot::Level, Value::Str(s)) => {
                r.level = Level::parse(s);
                r.level.is_some()
            }
            (Slot::Message, Value::Str(s)) => {
                r.message = s.clone();
                true
            }
            (Slot::Message, Value::Num(t, _)) | (Slot::Message, Value::Raw(t)) => {
                r.message = Cow::Borrowed(t);
                true
            }
            (Slot::Service, Value::Str(s)) => {
                r.service = Some(s.clone());
                true
            }
            (Slot::Service, Value::Num(t, _)) => {
                r.service = Some(Cow::Borrowed(t));
                true
            }
            (Slot::Duration(unit), Value::Num(_, n)) => {
                r.response_time_ms = finite(n * unit);
                r.response_time_ms.is_some()
            }
            (Slot::Duration(unit), Value::Str(s)) => {
                r.response_time_ms = parse_with_unit(s, unit, duration_unit_ms);
                r.response_time_ms.is_some()
            }
            (Slot::Memory(unit), Value::Num(_, n)) => {
                r.memory_mb = finite(n * unit);
                r.memory_mb.is_some()
            }
            (Slot::Memory(unit), Value::Str(s)) => {
                r.memory_mb = parse_with_unit(s, unit, size_unit_mb);
                r.memory_mb.is_some()
            }
            _ => false,
        }
    }
}

#[inline]
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A number with an optional unit suffix; a bare number is in `default` units.
fn parse_with_unit(s: &str, default: f64, unit: fn(&str) -> Option<f64>) -> Option<f64> {
    let s = s.trim();
    let split = s.bytes().position(|b| !(b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')));
    let (number, suffix) = match split {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    };
    if number.is_empty() || !number.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let scale = if suffix.is_empty() { default } else { unit(suffix)? };
    finite(value * scale)
}

fn duration_unit_ms(u: &str) -> Option<f64> {
    Some(match u {
        "ns" => 1e-6,
        "us" | "µs" | "μs" => 1e-3,
        "ms" => 1.0,
        "s" | "sec" | "secs" => 1e3,
        "m" | "min" | "mins" => 6e4,
        "h" => 3.6e6,
        _ => return None,
    })
}

fn size_unit_mb(u: &str) -> Option<f64> {
    Some(match u {
        "B" | "b" => 1.0 / 1_048_576.0,
        "K" | "KB" | "KiB" | "kB" | "k" | "kb" => 1.0 / 1024.0,
        "M" | "MB" | "MiB" | "mb" | "m" => 1.0,
        "G" | "GB" | "GiB" | "gb" | "g" => 1024.0,
        "T" | "TB" | "TiB" => 1_048_576.0,
        _ => return None,
    })
}

/// Unix time given as a number, told apart by magnitude (see [`LogParser`]).
fn epoch_number_ms(n: f64) -> Option<i64> {
    let a = n.abs();
    let ms = if a < 1e11 {
        n * 1e3
    } else if a < 1e14 {
        n
    } else if a < 1e17 {
        n / 1e3
    } else {
        n / 1e6
    };
    // Years 0 to 9999: what ISO 8601 text holds in four digits, so a record written with
    // `LogRecord::write_json` reads back with its timestamp; beyond that is not a log timestamp.
    const FIRST: f64 = -62_167_219_200_000.0; // 0000-01-01T00:00:00Z
    const LAST: f64 = 253_402_300_799_999.0; // 9999-12-31T23:59:59.999Z
    (ms.is_finite() && (FIRST..=LAST).contains(&ms.round())).then(|| ms.round() as i64)
}

/// Parses a timestamp: a Unix time number or ISO 8601 text (see [`LogParser`]).
///
/// ```
/// use oddsight_detectors::logs::parse_timestamp;
/// assert_eq!(parse_timestamp("2024-05-01T12:00:00.250Z"), Some(1_714_564_800_250));
/// assert_eq!(parse_timestamp("2024-05-01 14:00:00,250+02:00"), Some(1_714_564_800_250));
/// assert_eq!(parse_timestamp("1714564800"), Some(1_714_564_800_000));
/// assert_eq!(parse_timestamp("yesterday"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return parse_iso8601(b);
    }
    if !b.is_empty() && b.iter().all(|&c| c.is_ascii_digit() || c == b'.') && b[0] != b'.' {
        return epoch_number_ms(text.parse().ok()?);
    }
    None
}

#[inline]
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn parse_iso8601(b: &[u8]) -> Option<i64> {
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let mut ms = days * 86_400_000;
    if b.len() == 10 {
        return Some(ms);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.get(13) != Some(&b':') {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = digits(b, 17, 2)?;
        i = 19;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    ms += i64::from(hour * 3_600_000 + minute * 60_000 + second * 1000);
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        let mut frac_ms = 0u32;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 3 {
                frac_ms = frac_ms * 10 + u32::from(c - b'0');
            }
            i += 1;
        }
        let len = i - start;
        if len == 0 {
            return None;
        }
        for _ in len..3 {
            frac_ms *= 10;
        }
        ms += i64::from(frac_ms);
    }
    match b.get(i) {
        None => Some(ms),
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(ms),
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let (om, end) = match b.get(i + 3) {
                Some(b':') => (digits(b, i + 4, 2)?, i + 6),
                Some(_) => (digits(b, i + 3, 2)?, i + 5),
                None => (0, i + 3),
            };
            if end != b.len() || oh > 23 || om > 59 {
                return None;
            }
            let offset = i64::from(oh * 3_600_000 + om * 60_000);
            Some(if sign == b'+' { ms - offset } else { ms + offset })
        }
        _ => None,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 31,
    }
}

mod json {
    //! A scanner for one flat JSON object per line.

    use super::{Builder, Value};
    use std::borrow::Cow;

    #[inline]
    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while let Some(c) = b.get(i) {
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                break;
            }
            i += 1;
        }
        i
    }

    /// Parses `text` as one JSON object, feeding every top-level member to `out`.
    pub(super) fn parse_object<'a>(text: &'a str, out: &mut Builder<'a>) -> Option<()> {
        let b = text.as_bytes();
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            return (skip_ws(b, i + 1) == b.len()).then_some(());
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (key, next) = string(text, i + 1)?;
            i = skip_ws(b, next);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1);
            let (value, next) = value(text, i)?;
            out.set(key, value);
            i = skip_ws(b, next);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => return (skip_ws(b, i + 1) == b.len()).then_some(()),
                _ => return None,
            }
        }
    }

    /// A string whose opening quote is just before `start`: its text and the index after the
    /// closing quote. Borrowed when it has no escapes.
    #[inline]
    fn string(text: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
        let b = text.as_bytes();
        let rest = b.get(start..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[end] == b'"' {
            return Some((Cow::Borrowed(text.get(start..start + end)?), start + end + 1));
        }
        let mut out = String::with_capacity(end + 16);
        let mut i = start;
        loop {
            let rest = b.get(i..)?;
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            out.push_str(text.get(i..i + at)?);
            i += at;
            if b[i] == b'"' {
                return Some((Cow::Owned(out), i + 1));
            }
            let esc = *b.get(i + 1)?;
            i += 2;
            match esc {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = hex4(b, i)?;
                    i += 4;
                    let c = if (0xD800..0xDC00).contains(&hi) {
                        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                            return None;
                        }
                        let lo = hex4(b, i + 2)?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return None;
                        }
                        i += 6;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                    } else {
                        char::from_u32(hi)?
                    };
                    out.push(c);
                }
                _ => return None,
            }
        }
    }

    fn hex4(b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at + 4)?;
        let mut v = 0u32;
        for &c in s {
            v = v * 16 + char::from(c).to_digit(16)?;
        }
        Some(v)
    }

    /// A value starting at `i`: the value and the index after it.
    #[inline]
    fn value(text: &str, i: usize) -> Option<(Value<'_>, usize)> {
        let b = text.as_bytes();
        match *b.get(i)? {
            b'"' => {
                let (s, next) = string(text, i + 1)?;
                Some((Value::Str(s), next))
            }
            b'-' | b'0'..=b'9' => {
                let mut end = i + 1;
                while let Some(c) = b.get(end) {
                    if !matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                        break;
                    }
                    end += 1;
                }
                let raw = text.get(i..end)?;
                if !valid_number(raw.as_bytes()) {
                    return None;
                }
                let n: f64 = raw.parse().ok()?;
                Some((Value::Num(raw, n), end))
            }
            b't' => literal(text, i, "true"),
            b'f' => literal(text, i, "false"),
            b'n' => literal(text, i, "null"),
            b'{' | b'[' => {
                let end = skip_nested(b, i)?;
                Some((Value::Raw(text.get(i..end)?), end))
            }
            _ => None,
        }
    }

    fn literal<'a>(text: &'a str, i: usize, word: &str) -> Option<(Value<'a>, usize)> {
        let end = i + word.len();
        (text.get(i..end)? == word).then(|| (Value::Raw(&text[i..end]), end))
    }

    /// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn valid_number(s: &[u8]) -> bool {
        let mut i = usize::from(s.first() == Some(&b'-'));
        let int_start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let int_len = i - int_start;
        if int_len == 0 || (int_len > 1 && s[int_start] == b'0') {
            return false;
        }
        if s.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let start = i;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
        i == s.len()
    }

    /// The index after the object or array starting at `i`, checking brackets balance and
    /// strings close (the members themselves are not validated further).
    fn skip_nested(b: &[u8], i: usize) -> Option<usize> {
        let mut stack: Vec<u8> = Vec::new();
        let mut j = i;
        while let Some(&c) = b.get(j) {
            match c {
                b'{' => stack.push(b'}'),
                b'[' => stack.push(b']'),
                b'}' | b']' => {
                    if stack.pop()? != c {
                        return None;
                    }
                    if stack.is_empty() {
                        return Some(j + 1);
                    }
                }
                b'"' => {
                    j += 1;
                    loop {
                        let at = memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
                        j += at;
                        if b[j] == b'"' {
                            break;
                        }
                        j += 2;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        None
    }
}

/// Parses a logfmt line into `out`.
fn logfmt<'a>(text: &'a str, out: &mut Builder<'a>) -> Result<(), MalformedReason> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut pairs = 0;
    while i < b.len() {
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while b.get(i).is_some_and(|&c| !c.is_ascii_whitespace() && c != b'=' && c != b'"') {
            i += 1;
        }
        let key = &text[start..i];
        match b.get(i) {
            Some(b'=') if !key.is_empty() => {
                i += 1;
                let value = if b.get(i) == Some(&b'"') {
                    let (v, next) = logfmt_quoted(text, i + 1).ok_or(MalformedReason::InvalidLogfmt)?;
                    i = next;
                    Value::Str(v)
                } else {
                    let vs = i;
                    while b.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                        i += 1;
                    }
                    let raw = &text[vs..i];
                    match raw.as_bytes().first() {
                        Some(b'0'..=b'9' | b'-' | b'.')
                            if raw.bytes().all(|c| {
                                c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'e' || c == b'E' || c == b'+'
                            }) =>
                        {
                            match raw.parse::<f64>() {
                                Ok(n) => Value::Num(raw, n),
                                Err(_) => Value::Str(Cow::Borrowed(raw)),
                            }
                        }
                        _ => Value::Str(Cow::Borrowed(raw)),
                    }
                };
                pairs += 1;
                out.set(Cow::Borrowed(key), value);
            }
            Some(b'"') | Some(b'=') => return Err(MalformedReason::InvalidLogfmt),
            _ => {
                // A bare key: a flag.
                if out.keep_fields {
                    out.record.fields.push((Cow::Borrowed(key), Cow::Borrowed("")));
                }
            }
        }
    }
    if pairs == 0 { Err(MalformedReason::InvalidLogfmt) } else { Ok(()) }
}

/// A quoted logfmt value starting after its opening quote: the unescaped text and the index
/// after the closing quote. Escapes are JSON's.
fn logfmt_quoted(text: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let b = text.as_bytes();
    let rest = b.get(start..)?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] == b'"' {
        return Some((Cow::Borrowed(&text[start..start + end]), start + end + 1));
    }
    let mut out = String::with_capacity(end + 16);
    let mut i = start;
    loop {
        let at = memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        out.push_str(text.get(i..i + at)?);
        i += at;
        if b[i] == b'"' {
            return Some((Cow::Owned(out), i + 1));
        }
        let esc = *b.get(i + 1)?;
        i += 2;
        match esc {
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let code = b
                    .get(i..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok())?;
                i += 4;
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            other => {
                // `\"`, `\\` and anything else: the character itself (it is ASCII, or the
                // backslash came before a multi-byte character, which is kept whole).
                if other.is_ascii() {
                    out.push(char::from(other));
                } else {
                    i -= 1;
                }
            }
        }
    }
}

/// Parses a plain `TIMESTAMP LEVEL [service] message` line into `out`.
fn plain<'a>(text: &'a str, out: &mut Builder<'a>) -> Result<(), MalformedReason> {
    let text = text.trim();
    let (first, mut rest) = split_token(text);
    let first_inner = first.strip_prefix('[').unwrap_or(first);
    let mut timestamp = None;
    // `[2024-05-01 12:00:00]` or `2024-05-01 12:00:00.123`: the date and time are two tokens.
    if first_inner.len() == 10 && first_inner.as_bytes().get(4) == Some(&b'-') {
        let (second, after) = split_token(rest);
        if second.as_bytes().get(2) == Some(&b':') {
            let joined_end = (second.as_ptr() as usize - text.as_ptr() as usize) + second.len();
            let joined = &text[..joined_end];
            let joined = joined.strip_prefix('[').unwrap_or(joined);
            let joined = joined.strip_suffix(']').unwrap_or(joined);
            timestamp = parse_timestamp(joined);
            if timestamp.is_some() {
                rest = after;
            }
        }
    }
    if timestamp.is_none() {
        let token = first_inner.strip_suffix(']').unwrap_or(first_inner);
        timestamp = parse_timestamp(token);
    }
    let timestamp = timestamp.ok_or(MalformedReason::NoTimestamp)?;
    let (level_token, mut rest) = split_token(rest);
    let level_text = level_token.trim_start_matches('[').trim_end_matches(':').trim_end_matches(']');
    let level = Level::parse(level_text).ok_or(MalformedReason::NoLevel)?;
    let r = &mut out.record;
    r.timestamp = Some(timestamp);
    r.level = Some(level);
    out.seen |= Slot::Timestamp.bit() | Slot::Level.bit();
    if rest.starts_with('[')
        && let Some(close) = rest.find(']')
        && close > 1
        && !rest[1..close].contains(char::is_whitespace)
    {
        out.record.service = Some(Cow::Borrowed(&rest[1..close]));
        out.seen |= Slot::Service.bit();
        rest = rest[close + 1..].trim_start();
    }
    if memchr::memchr(b'=', rest.as_bytes()).is_some() {
        // Trailing `key=value` pairs of known numeric keys are fields, not message text.
        while let Some(cut) = rest.rfind(|c: char| c.is_ascii_whitespace()) {
            if !numeric_pair(out, &rest[cut + 1..]) {
                break;
            }
            rest = rest[..cut].trim_end();
        }
        // Others inside the message fill the numeric fields too; the message stays whole.
        for token in rest.split_ascii_whitespace() {
            numeric_pair(out, token);
        }
    }
    out.record.message = Cow::Borrowed(rest);
    out.seen |= Slot::Message.bit();
    Ok(())
}

/// Fills a numeric field from a `key=value` token of a known duration or memory key not yet
/// filled; whether it did.
fn numeric_pair<'a>(out: &mut Builder<'a>, token: &'a str) -> bool {
    let Some((k, v)) = token.split_once('=') else { return false };
    let slot = slot(k);
    if !matches!(slot, Slot::Duration(_) | Slot::Memory(_)) || out.seen & slot.bit() != 0 {
        return false;
    }
    let numeric = v.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'e' | b'E' | b'+'));
    let value = match v.parse::<f64>() {
        Ok(n) if numeric => Value::Num(v, n),
        _ => Value::Str(Cow::Borrowed(v)),
    };
    let filled = out.fill(slot, &value);
    if filled {
        out.seen |= slot.bit();
    }
    filled
}

/// The first whitespace-separated token and the rest (leading whitespace trimmed).
#[inline]
fn split_token(s: &str) -> (&str, &str) {
    match s.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(line: &str) -> LogRecord<'_> {
        LogParser::new(LogFormat::Jsonl).parse_line(line.as_bytes()).expect("parses")
    }

    #[test]
    fn json_aliases_and_units() {
        let r = json(
            r#"{"@timestamp":"2024-05-01T12:00:00Z","severity":"ERROR","msg":"boom \"x\"","app":"api","latency":"1.5s","mem":"2GiB","user":{"id":7},"ok":true}"#,
        );
        assert_eq!(r.timestamp, Some(1_714_564_800_000));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.message, "boom \"x\"");
        assert_eq!(r.service.as_deref(), Some("api"));
        assert_eq!(r.response_time_ms, Some(1500.0));
        assert_eq!(r.memory_mb, Some(2048.0));
        assert_eq!(r.fields, vec![(Cow::from("user"), Cow::from("{\"id\":7}")), (Cow::from("ok"), Cow::from("true"))]);
    }

    #[test]
    fn json_numbers_and_bunyan_levels() {
        let r = json(r#"{"time":1714564800123,"level":50,"message":"x","duration_s":0.25,"memory_bytes":1048576}"#);
        assert_eq!(r.timestamp, Some(1_714_564_800_123));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.response_time_ms, Some(250.0));
        assert_eq!(r.memory_mb, Some(1.0));
    }

    #[test]
    fn json_rejects_broken_lines() {
        let p = LogParser::new(LogFormat::Jsonl);
        for bad in [
            "",
            "{",
            "[1]",
            r#"{"a":1"#,
            r#"{"a":01}"#,
            r#"{"a":1,}"#,
            r#"{"a":"x"} trailing"#,
            r#"{"a":tru}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":{"b":[1,2}}"#,
            "{'a':1}",
        ] {
            assert_eq!(p.parse_line(bad.as_bytes()), Err(MalformedReason::InvalidJson), "{bad}");
        }
        assert_eq!(p.parse_line(b"{\"a\":\"\xff\"}"), Err(MalformedReason::NotUtf8));
    }

    #[test]
    fn json_unicode_escapes() {
        let r = json(r#"{"msg":"caf\u00e9 \ud83d\ude00"}"#);
        assert_eq!(r.message, "café 😀");
    }

    #[test]
    fn wrong_types_are_kept_as_fields() {
        let r = json(r#"{"msg":"x","latency_ms":"fast","level":"chatty"}"#);
        assert_eq!(r.response_time_ms, None);
        assert_eq!(r.level, None);
        assert_eq!(r.fields.len(), 2);
    }

    #[test]
    fn first_occurrence_wins() {
        let r = json(r#"{"msg":"first","message":"second"}"#);
        assert_eq!(r.message, "first");
        assert_eq!(r.fields, vec![(Cow::from("message"), Cow::from("second"))]);
    }

    #[test]
    fn logfmt_quotes_and_flags() {
        let p = LogParser::new(LogFormat::Logfmt);
        let r = p.parse_line(br#"level=error msg="a \"quoted\" word" retry duration=12 svc=pay"#).expect("parses");
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.message, "a \"quoted\" word");
        assert_eq!(r.response_time_ms, Some(12.0));
        assert_eq!(r.service.as_deref(), Some("pay"));
        assert_eq!(r.fields, vec![(Cow::from("retry"), Cow::from(""))]);
        assert_eq!(p.parse_line(b"just words here"), Err(MalformedReason::InvalidLogfmt));
        assert_eq!(p.parse_line(br#"msg="unterminated"#), Err(MalformedReason::InvalidLogfmt));
    }

    #[test]
    fn plain_variants() {
        let p = LogParser::new(LogFormat::Plain);
        let r =
            p.parse_line(b"2024-05-01 12:00:00,500 [WARN] [checkout] slow payment duration_ms=900").expect("parses");
        assert_eq!(r.timestamp, Some(1_714_564_800_500));
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.service.as_deref(), Some("checkout"));
        assert_eq!(r.message, "slow payment");
        assert_eq!(r.response_time_ms, Some(900.0));
        let r = p.parse_line(b"[2024-05-01T12:00:00Z] error: disk full").expect("parses");
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.message, "disk full");
        let r = p.parse_line(b"1714564800 INFO ok").expect("parses");
        assert_eq!(r.timestamp, Some(1_714_564_800_000));
        assert_eq!(p.parse_line(b"   at com.example.Foo(Foo.java:12)"), Err(MalformedReason::NoTimestamp));
        assert_eq!(p.parse_line(b"2024-05-01T12:00:00Z hello world"), Err(MalformedReason::NoLevel));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        assert_eq!(parse_timestamp("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-05-01T12:00:00.123456+0000"), Some(1_714_564_800_123));
        assert_eq!(parse_timestamp("2024-05-01T12:00"), Some(1_714_564_800_000));
        assert_eq!(parse_timestamp("2024-05-01"), Some(1_714_521_600_000));
        assert_eq!(parse_timestamp("2024-05-01T25:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-05-01T12:00:00Zjunk"), None);
        assert_eq!(parse_timestamp("1714564800123456"), Some(1_714_564_800_123));
    }

    #[test]
    fn lines_and_report() {
        let input = b"{\"msg\":\"a\"}\r\n\nnot json\n{\"msg\":\"b\"}";
        let (records, report) = LogParser::new(LogFormat::Jsonl).parse_all(input);
        assert_eq!(records.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!((report.lines, report.empty, report.parsed, report.malformed), (4, 1, 2, 1));
        assert_eq!(report.examples, vec![Malformed { line_index: 2, reason: MalformedReason::InvalidJson }]);
    }
}
