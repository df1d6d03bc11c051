//! The log record, its level, and the field aliases the parsers recognise.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// A log level, on the five-step scale the detector uses as its `level_severity` feature.
///
/// Parsing is case-insensitive and knows the usual spellings: `trace` and `debug` are
/// [`Level::Debug`]; `info`, `information`, `notice` are [`Level::Info`]; `warn`, `warning` are
/// [`Level::Warn`]; `error`, `err` are [`Level::Error`]; `critical`, `crit`, `fatal`, `panic`,
/// `emerg`, `emergency`, `alert` and `severe` are [`Level::Critical`]. Numeric levels are read as
/// bunyan/pino levels (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal) from 10 up and
/// as syslog severities (0 emergency … 7 debug) below 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Debugging and tracing output.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the service handled.
    Warn,
    /// A failed operation.
    Error,
    /// The service, or a large part of it, cannot work.
    Critical,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 5] = [Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Critical];

    /// The severity feature: DEBUG 1, INFO 2, WARN 3, ERROR 4, CRITICAL 5.
    pub fn severity(self) -> u8 {
        match self {
            Level::Debug => 1,
            Level::Info => 2,
            Level::Warn => 3,
            Level::Error => 4,
            Level::Critical => 5,
        }
    }

    /// The upper-case name written by the formatters (`DEBUG`, `INFO`, `WARN`, `ERROR`,
    /// `CRITICAL`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// Parses a level name (any case) or a numeric level; `None` for anything else.
    ///
    /// ```
    /// use oddsight_detectors::logs::Level;
    /// assert_eq!(Level::parse("Warning"), Some(Level::Warn));
    /// assert_eq!(Level::parse("50"), Some(Level::Error));
    /// assert_eq!(Level::parse("chatty"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Level> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.len() > 11 {
            return None;
        }
        if bytes.iter().all(u8::is_ascii_digit) {
            return text.parse::<u32>().ok().and_then(Level::from_number);
        }
        let mut buf = [0u8; 11];
        for (b, &c) in buf.iter_mut().zip(bytes) {
            *b = c.to_ascii_lowercase();
        }
        match &buf[..bytes.len()] {
            b"trace" | b"debug" | b"dbg" | b"trc" | b"fine" | b"finer" | b"finest" | b"verbose" => Some(Level::Debug),
            b"info" | b"information" | b"informational" | b"inf" | b"notice" => Some(Level::Info),
            b"warn" | b"warning" | b"wrn" => Some(Level::Warn),
            b"error" | b"err" | b"erro" | b"eror" => Some(Level::Error),
            b"critical" | b"crit" | b"fatal" | b"ftl" | b"panic" | b"emerg" | b"emergency" | b"alert" | b"severe" => {
                Some(Level::Critical)
            }
            _ => None,
        }
    }

    /// A numeric level: bunyan/pino from 10 up, syslog severity below 10.
    pub fn from_number(n: u32) -> Option<Level> {
        match n {
            0..=2 => Some(Level::Critical),
            3 => Some(Level::Error),
            4 => Some(Level::Warn),
            5 | 6 => Some(Level::Info),
            7 => Some(Level::Debug),
            8 | 9 => None,
            10..=29 => Some(Level::Debug),
            30..=39 => Some(Level::Info),
            40..=49 => Some(Level::Warn),
            50..=59 => Some(Level::Error),
            60..=100 => Some(Level::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log line, parsed. Text borrows from the input where it can (no escapes to undo), so
/// parsing a buffer allocates nothing for most lines; [`LogRecord::into_owned`] detaches it.
///
/// Every field but `message` is optional: a line says what it says. Missing numeric fields
/// are not zero; the detector imputes them (see [`crate::logs::LogDetector`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogRecord<'a> {
    /// When it was written, in Unix milliseconds.
    pub timestamp: Option<i64>,
    /// Its level.
    pub level: Option<Level>,
    /// The message text (empty when the line had none).
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    /// The service (or application, component) that wrote it.
    #[serde(borrow)]
    pub service: Option<Cow<'a, str>>,
    /// How long the request or operation took, in milliseconds.
    pub response_time_ms: Option<f64>,
    /// Memory in use, in mebibytes.
    pub memory_mb: Option<f64>,
    /// Every other field, in the order written, as text (a nested JSON value as its raw JSON).
    /// Parsers fill it only when asked to keep fields ([`crate::logs::LogParser::keep_fields`]).
    #[serde(borrow)]
    pub fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> LogRecord<'a> {
    /// A record with just a message.
    pub fn new(message: impl Into<Cow<'a, str>>) -> Self {
        LogRecord { message: message.into(), ..LogRecord::default() }
    }

    /// Sets `timestamp` (Unix milliseconds).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// Sets `level`.
    pub fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }

    /// Sets `service`.
    pub fn service(mut self, service: impl Into<Cow<'a, str>>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Sets `response_time_ms`.
    pub fn response_time_ms(mut self, ms: f64) -> Self {
        self.response_time_ms = Some(ms);
        self
    }

    /// Sets `memory_mb`.
    pub fn memory_mb(mut self, mb: f64) -> Self {
        self.memory_mb = Some(mb);
        self
    }

    /// Adds a free-form field.
    pub fn field(mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// The same record owning all its text.
    pub fn into_owned(self) -> LogRecord<'static> {
        LogRecord {
            timestamp: self.timestamp,
            level: self.level,
            message: Cow::Owned(self.message.into_owned()),
            service: self.service.map(|s| Cow::Owned(s.into_owned())),
            response_time_ms: self.response_time_ms,
            memory_mb: self.memory_mb,
            fields: self
                .fields
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        }
    }

    /// Appends the record as one JSON line (no newline) with the canonical keys `timestamp`
    /// (ISO 8601 UTC with milliseconds), `level`, `service`, `message`, `response_time_ms`,
    /// `memory_mb`, then the free-form fields as strings. Parsing it gives the record back
    /// (non-finite numbers are left out, since JSON cannot carry them).
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        let mut first = true;
        let mut key = |out: &mut String, k: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            write_json_string(out, k);
            out.push(':');
        };
        if let Some(ts) = self.timestamp {
            key(out, "timestamp");
            out.push('"');
            write_iso8601(out, ts);
            out.push('"');
        }
        if let Some(level) = self.level {
            key(out, "level");
            write_json_string(out, level.as_str());
        }
        if let Some(service) = &self.service {
            key(out, "service");
            write_json_string(out, service);
        }
        key(out, "message");
        write_json_string(out, &self.message);
        if let Some(rt) = self.response_time_ms.filter(|v| v.is_finite()) {
            key(out, "response_time_ms");
            let _ = write!(out, "{rt}");
        }
        if let Some(mem) = self.memory_mb.filter(|v| v.is_finite()) {
            key(out, "memory_mb");
            let _ = write!(out, "{mem}");
        }
        for (k, v) in &self.fields {
            key(out, k);
            write_json_string(out, v);
        }
        out.push('}');
    }

    /// Appends the record as one logfmt line (no newline): `ts=… level=… service=… msg="…"
    /// response_time_ms=… memory_mb=…` then the free-form fields, values quoted when they
    /// need it. Field keys must be logfmt keys (no space, `=` or `"`) for the line to parse
    /// back to the same record.
    pub fn write_logfmt(&self, out: &mut String) {
        let mut sep = "";
        if let Some(ts) = self.timestamp {
            out.push_str("ts=");
            write_iso8601(out, ts);
            sep = " ";
        }
        if let Some(level) = self.level {
            out.push_str(sep);
            out.push_str("level=");
            out.push_str(level.as_str());
            sep = " ";
        }
        if let Some(service) = &self.service {
            out.push_str(sep);
            out.push_str("service=");
            write_logfmt_value(out, service);
            sep = " ";
        }
        out.push_str(sep);
        out.push_str("msg=");
        write_logfmt_value(out, &self.message);
        if let Some(rt) = self.response_time_ms.filter(|v| v.is_finite()) {
            let _ = write!(out, " response_time_ms={rt}");
        }
        if let Some(mem) = self.memory_mb.filter(|v| v.is_finite()) {
            let _ = write!(out, " memory_mb={mem}");
        }
        for (k, v) in &self.fields {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            write_logfmt_value(out, v);
        }
    }

    /// Appends the record as one plain line (no newline): `TIMESTAMP LEVEL [service] message`
    /// followed by ` response_time_ms=…` and ` memory_mb=…` when set; free-form fields are not
    /// written. A record without a timestamp is written at the epoch and one without a level as
    /// `INFO`, since a plain line needs both.
    pub fn write_plain(&self, out: &mut String) {
        write_iso8601(out, self.timestamp.unwrap_or(0));
        out.push(' ');
        out.push_str(self.level.unwrap_or(Level::Info).as_str());
        if let Some(service) = &self.service {
            out.push_str(" [");
            out.push_str(service);
            out.push(']');
        }
        out.push(' ');
        out.push_str(&self.message);
        if let Some(rt) = self.response_time_ms.filter(|v| v.is_finite()) {
            let _ = write!(out, " response_time_ms={rt}");
        }
        if let Some(mem) = self.memory_mb.filter(|v| v.is_finite()) {
            let _ = write!(out, " memory_mb={mem}");
        }
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a logfmt value, quoted and escaped when it is empty or holds a space, `=`, `"`, a
/// backslash or a control character.
fn write_logfmt_value(out: &mut String, s: &str) {
    let plain = !s.is_empty() && s.bytes().all(|b| b > b' ' && b != b'=' && b != b'"' && b != b'\\' && b != 0x7f);
    if plain {
        out.push_str(s);
    } else {
        write_json_string(out, s);
    }
}

/// Appends Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (years outside 0..=9999 are written
/// with a sign and six digits, as ISO 8601 extended years).
pub(crate) fn write_iso8601(out: &mut String, ms: i64) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}");
    } else {
        let _ = write!(out, "{}{:06}", if y < 0 { '-' } else { '+' }, y.unsigned_abs());
    }
    let _ = write!(out, "-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z");
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
