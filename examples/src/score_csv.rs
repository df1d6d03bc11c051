//! `oddsight score`: stream a `timestamp,value` CSV through a detector and write
//! `timestamp,value,anomaly_score`.
//!
//! Rules, all pinned by tests:
//! - The header names the columns; `timestamp` and `value` are found by name (any case), other
//!   columns are ignored and not copied. Every row must have as many fields as the header.
//! - Output rows are the input rows in the same order, the timestamp and value fields copied
//!   byte for byte (re-quoted only if they contain a comma, a quote or a line break).
//! - Each row is scored with [`Detector::observe`]: judged against the rows before it, then
//!   learned. The score is the verdict's `anomaly_score` (0 while the detector warms up).
//! - A timestamp earlier than the one before it (out-of-order rows) is clamped to it, so the
//!   detector always sees non-decreasing time; repeated timestamps are accepted as they are.
//!   The output still shows the timestamp as written.
//! - A value that is not a finite number, a timestamp that cannot be read, or a row of the
//!   wrong width stops the run with an error naming the line (the header is line 1).
//!
//! The work is split in two threads: one reads and parses rows in batches, the other runs the
//! detector over them in order and writes the output. The detector itself sees exactly the
//! sequence a single loop would give it, so the output does not depend on the split.
//!
//! Why the output is written by hand rather than with `csv::Writer`: the two echoed fields are
//! already valid CSV bytes almost always, so the writer only has to check for the rare field
//! that needs quoting; the score is formatted as the shortest decimal that reads back as the
//! same `f64`, so nothing that ranks scores loses precision.

use crate::timestamp::{NumericUnit, TimestampParser};
use oddsight_core::{Detector, Point};
use std::fmt;
use std::io::{Read, Write};

/// A problem with the input (or writing the output), with the line it happened on.
#[derive(Debug)]
pub struct ScoreError {
    /// 1-based line of the input (the header is line 1); 0 when it is not about a line.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 { f.write_str(&self.message) } else { write!(f, "line {}: {}", self.line, self.message) }
    }
}

impl std::error::Error for ScoreError {}

/// What a run of [`score_csv`] saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreSummary {
    /// Data rows scored.
    pub rows: u64,
    /// Rows whose timestamp went backwards and was clamped to the one before.
    pub clamped: u64,
    /// Rows with `anomaly_score >= 0.5` (|z| ≥ 3 on the common scale).
    pub anomalies: u64,
    /// The highest score.
    pub max_score: f64,
}

/// Options of [`score_csv`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoreOptions {
    /// How numeric timestamps are read.
    pub unit: NumericUnit,
}

/// Scores every row of `input` with `detector`, writing `timestamp,value,anomaly_score` to
/// `output`.
///
/// # Errors
/// [`ScoreError`] naming the line of the first bad row, or an I/O failure (line 0).
pub fn score_csv<R: Read + Send, W: Write>(
    input: R,
    mut output: W,
    detector: &mut dyn Detector,
    options: ScoreOptions,
) -> Result<ScoreSummary, ScoreError> {
    let mut records = Records::new(input);
    let mut fields = Fields::default();
    let Some(Record { bytes: header, quoted, .. }) = records.next()? else {
        return Err(ScoreError { line: 1, message: "empty input: expected a header timestamp,value".into() });
    };
    let header = header.strip_prefix("\u{feff}".as_bytes()).unwrap_or(header);
    fields.split(header, quoted);
    let column = |name: &str| {
        (0..fields.len()).position(|i| fields.get(header, i).trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
    };
    let (Some(tc), Some(vc)) = (column("timestamp"), column("value")) else {
        let found = String::from_utf8_lossy(header).into_owned();
        return Err(ScoreError {
            line: 1,
            message: format!("expected a header with columns timestamp and value, found {found:?}"),
        });
    };
    let layout = Layout { timestamp: tc, value: vc, width: fields.len() };
    let io = |e: std::io::Error| ScoreError { line: 0, message: format!("cannot write the output: {e}") };
    let mut out: Vec<u8> = Vec::with_capacity(OUT_CHUNK + 1024);
    out.extend_from_slice(b"timestamp,value,anomaly_score\n");

    // Two stages: a thread reads and parses batches of rows while this one scores and
    // writes the previous batch. The detector sees the rows in order, one at a time, exactly
    // as a plain loop would give them.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
    let parser = TimestampParser::new(options.unit);
    std::thread::scope(|scope| {
        scope.spawn(move || read_batches(records, fields, parser, layout, &full_tx, &empty_rx));
        let mut summary = ScoreSummary::default();
        let mut last = i64::MIN;
        let mut float = ryu::Buffer::new();
        // `full_rx` is dropped when this closure returns, early or not, which stops the reader.
        let full_rx = full_rx;
        for batch in full_rx.iter() {
            let mut from = 0;
            for (k, (&t, &value)) in batch.timestamps.iter().zip(&batch.values).enumerate() {
                if t < last {
                    summary.clamped += 1;
                } else {
                    last = t;
                }
                let verdict = detector
                    .observe(Point::new(last, value))
                    .map_err(|e| ScoreError { line: batch.lines[k], message: e.to_string() })?;
                let score = verdict.anomaly_score;
                summary.rows += 1;
                summary.anomalies += u64::from(score >= 0.5);
                summary.max_score = summary.max_score.max(score);

                out.extend_from_slice(&batch.echo[from..batch.ends[k]]);
                from = batch.ends[k];
                out.push(b',');
                push_score(&mut out, &mut float, score);
                out.push(b'\n');
                if out.len() >= OUT_CHUNK {
                    output.write_all(&out).map_err(io)?;
                    out.clear();
                }
            }
            if let Some(e) = batch.error {
                return Err(e);
            }
            // The reader may have finished; then the batch is simply dropped.
            let _ = empty_tx.send(batch);
        }
        output.write_all(&out).map_err(io)?;
        output.flush().map_err(io)?;
        Ok(summary)
    })
}

/// Where the two fields are, and how many a row has.
#[derive(Debug, Clone, Copy)]
struct Layout {
    timestamp: usize,
    value: usize,
    width: usize,
}

/// Rows per batch handed from the reading thread to the scoring one.
const BATCH: usize = 8192;

/// Parsed rows on their way to the detector.
#[derive(Debug, Default)]
struct Batch {
    /// `timestamp,value` of each row as it will be written, back to back.
    echo: Vec<u8>,
    /// End of each row's bytes in `echo`.
    ends: Vec<usize>,
    /// Input line of each row.
    lines: Vec<u64>,
    timestamps: Vec<i64>,
    values: Vec<f64>,
    /// Why reading stopped after these rows, if it stopped on an error.
    error: Option<ScoreError>,
}

impl Batch {
    fn clear(&mut self) {
        self.echo.clear();
        self.ends.clear();
        self.lines.clear();
        self.timestamps.clear();
        self.values.clear();
        self.error = None;
    }
}

/// The reading stage: fills batches (recycled from `empty` when the scorer has finished with
/// them) until the input ends or a row is bad; the last batch carries the error.
fn read_batches<R: Read>(
    mut records: Records<R>,
    mut fields: Fields,
    mut parser: TimestampParser,
    layout: Layout,
    full: &std::sync::mpsc::SyncSender<Batch>,
    empty: &std::sync::mpsc::Receiver<Batch>,
) {
    loop {
        let mut batch = empty.try_recv().unwrap_or_default();
        batch.clear();
        let mut done = false;
        while batch.timestamps.len() < BATCH {
            match read_row(&mut records, &mut fields, &mut parser, layout, &mut batch) {
                Ok(true) => {}
                Ok(false) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    batch.error = Some(e);
                    done = true;
                    break;
                }
            }
        }
        // A closed channel means the scorer stopped (an error of its own): stop too.
        if full.send(batch).is_err() || done {
            return;
        }
    }
}

/// Reads and parses one row into `batch`; `false` at the end of the input.
#[inline]
fn read_row<R: Read>(
    records: &mut Records<R>,
    fields: &mut Fields,
    parser: &mut TimestampParser,
    layout: Layout,
    batch: &mut Batch,
) -> Result<bool, ScoreError> {
    let Some(Record { line, bytes: record, quoted }) = records.next()? else { return Ok(false) };
    let bad = |message: String| ScoreError { line, message };
    fields.split(record, quoted);
    if fields.len() != layout.width {
        return Err(bad(format!("expected {} fields like the header, found {}", layout.width, fields.len())));
    }
    let (t_field, v_field) = (fields.get(record, layout.timestamp), fields.get(record, layout.value));
    let t = parser.parse(t_field).map_err(|e| bad(e.reason))?;
    let value = parse_value(v_field)
        .ok_or_else(|| bad(format!("value {:?} is not a finite number", String::from_utf8_lossy(v_field))))?;
    // A lone `\r` is a line break to CSV readers even outside quotes.
    if quoted || memchr::memchr(b'\r', record).is_some() {
        push_field(&mut batch.echo, t_field);
        batch.echo.push(b',');
        push_field(&mut batch.echo, v_field);
    } else {
        // Split on commas and newlines, an unquoted field holds neither: copy as is.
        batch.echo.extend_from_slice(t_field);
        batch.echo.push(b',');
        batch.echo.extend_from_slice(v_field);
    }
    batch.ends.push(batch.echo.len());
    batch.lines.push(line);
    batch.timestamps.push(t);
    batch.values.push(value);
    Ok(true)
}

/// Output is gathered in a buffer of about this size before each write.
const OUT_CHUNK: usize = 1 << 20;
/// Input is read in blocks of this size (the buffer grows for a longer record).
const IN_CHUNK: usize = 1 << 20;

/// Splits the input into CSV records: one per line, or several lines when a quoted field
/// holds a line break. Blank lines are skipped; a trailing `\r` is dropped.
///
/// Written by hand rather than with `csv::Reader` because the common case, a line with no
/// quote, needs only one `memchr` for the line end and one for a quote: that keeps reading
/// under 20 ns a row, a third of what the general state machine costs.
#[derive(Debug)]
struct Records<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Line number of the next unread line (1-based).
    line: u64,
}

impl<R: Read> Records<R> {
    fn new(reader: R) -> Self {
        Records { reader, buf: vec![0; IN_CHUNK], start: 0, end: 0, eof: false, line: 1 }
    }

    /// The next record, the line it starts on and whether it has a quote, or `None` at the end
    /// of the input.
    fn next(&mut self) -> Result<Option<Record<'_>>, ScoreError> {
        loop {
            let pending = &self.buf[self.start..self.end];
            let (a, b, quoted) = match record_end(pending) {
                Some((i, quoted)) => (self.start, self.start + i, quoted),
                None if self.eof && !pending.is_empty() => {
                    (self.start, self.end, memchr::memchr(b'"', pending).is_some())
                }
                None if self.eof => return Ok(None),
                None => {
                    self.fill()?;
                    continue;
                }
            };
            self.start = (b + 1).min(self.end);
            let line = self.line;
            let mut record = &self.buf[a..b];
            // Only a quoted field can hold a line break.
            self.line += 1;
            if quoted {
                self.line += memchr::memchr_iter(b'\n', record).count() as u64;
            }
            if let [rest @ .., b'\r'] = record {
                record = rest;
            }
            if record.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let len = record.len();
            return Ok(Some(Record { line, bytes: &self.buf[a..a + len], quoted }));
        }
    }

    /// Moves the unread bytes to the front and reads more, growing the buffer if one record
    /// fills it.
    fn fill(&mut self) -> Result<(), ScoreError> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(ScoreError { line: self.line, message: format!("cannot read the input: {e}") });
                }
            }
        }
    }
}

/// One record of the input.
#[derive(Debug)]
struct Record<'a> {
    /// The line it starts on (1-based).
    line: u64,
    /// Its bytes, without the line end.
    bytes: &'a [u8],
    /// Whether it has a quote anywhere.
    quoted: bool,
}

/// Index of the newline that ends the first record of `pending`, if it has been read, and
/// whether the record has a quote.
#[inline]
fn record_end(pending: &[u8]) -> Option<(usize, bool)> {
    let newline = memchr::memchr(b'\n', pending)?;
    if !pending[..newline].contains(&b'"') {
        return Some((newline, false));
    }
    // Slow path: a quote on the line; a newline inside quotes does not end the record.
    let mut quoted = false;
    pending.iter().enumerate().find_map(|(i, &c)| {
        match c {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return Some((i, true)),
            _ => {}
        }
        None
    })
}

/// The fields of one record, as ranges into it, or into an unquoted copy when it has quotes.
/// Reused from row to row, so splitting allocates nothing once warm.
#[derive(Debug, Default)]
struct Fields {
    ranges: Vec<(usize, usize)>,
    /// Whether the ranges point into `unquoted` rather than into the record.
    quoted: bool,
    unquoted: Vec<u8>,
}

impl Fields {
    /// Splits `record`; `quoted` says whether it has a quote at all.
    #[inline]
    fn split(&mut self, record: &[u8], quoted: bool) {
        self.ranges.clear();
        self.quoted = quoted;
        if !quoted {
            // Lines are short: a plain loop beats a vectorised search's set-up.
            let mut from = 0;
            for (i, &c) in record.iter().enumerate() {
                if c == b',' {
                    self.ranges.push((from, i));
                    from = i + 1;
                }
            }
            self.ranges.push((from, record.len()));
            return;
        }
        // RFC 4180: a field may be quoted; "" inside quotes is one quote. An unclosed quote
        // runs to the end of the record (and the field then fails to parse).
        self.unquoted.clear();
        let mut i = 0;
        loop {
            let from = self.unquoted.len();
            let mut quoted = false;
            loop {
                let Some(&c) = record.get(i) else {
                    self.ranges.push((from, self.unquoted.len()));
                    return;
                };
                i += 1;
                match c {
                    b'"' if quoted && record.get(i) == Some(&b'"') => {
                        self.unquoted.push(b'"');
                        i += 1;
                    }
                    b'"' => quoted = !quoted,
                    b',' if !quoted => {
                        self.ranges.push((from, self.unquoted.len()));
                        break;
                    }
                    _ => self.unquoted.push(c),
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Field `i` of `record` (the record last given to `split`).
    #[inline]
    fn get<'a>(&'a self, record: &'a [u8], i: usize) -> &'a [u8] {
        let (a, b) = self.ranges[i];
        if self.quoted { &self.unquoted[a..b] } else { &record[a..b] }
    }
}

/// `10^k` for `k` in `0..=22`: every one is exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// A finite `f64` from a field, surrounding whitespace allowed.
///
/// Plain decimals (`-12.345`) of at most 15 significant digits take Clinger's fast path:
/// the digits as an integer and the power of ten are both exact in an `f64`, so one IEEE
/// division gives the correctly rounded value, bit for bit what `str::parse` gives (a test
/// pins that). Anything else (exponents, long mantissas, `inf`) goes to `str::parse`.
#[inline]
fn parse_value(field: &[u8]) -> Option<f64> {
    let b = field.trim_ascii();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa: u64 = 0;
    let mut significant = 0;
    let mut fraction = None;
    let mut seen_digit = false;
    let mut simple = digits.len() <= 24;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                mantissa = mantissa * 10 + u64::from(c - b'0');
                if mantissa != 0 {
                    significant += 1;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(i),
            _ => {
                simple = false;
                break;
            }
        }
        if significant > 15 {
            simple = false;
            break;
        }
    }
    if simple && seen_digit {
        let scale = fraction.map_or(0, |i| digits.len() - i - 1);
        if scale < POW10.len() {
            let v = mantissa as f64 / POW10[scale];
            return Some(if negative { -v } else { v });
        }
    }
    parse_value_slow(field)
}

#[cold]
fn parse_value_slow(field: &[u8]) -> Option<f64> {
    // The field is ASCII when it is a number; from_utf8 on a short slice costs a few ns.
    let text = std::str::from_utf8(field.trim_ascii()).ok()?;
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Appends the shortest decimal that reads back as the same `f64` (`0` and `1` without a
/// fraction, as a person would write them).
#[inline]
fn push_score(buf: &mut Vec<u8>, float: &mut ryu::Buffer, score: f64) {
    if score == 0.0 {
        buf.push(b'0');
    } else if score == 1.0 {
        buf.push(b'1');
    } else {
        buf.extend_from_slice(float.format(score).as_bytes());
    }
}

/// Appends a field, quoting it only if CSV requires.
#[inline]
fn push_field(buf: &mut Vec<u8>, field: &[u8]) {
    if field.iter().any(|&c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for &c in field {
            if c == b'"' {
                buf.push(b'"');
            }
            buf.push(c);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector_choice::build_detector;

    fn run(input: &str) -> Result<(String, ScoreSummary), ScoreError> {
        let mut d = build_detector("ewma(warmup=3)").unwrap();
        let mut out = Vec::new();
        let s = score_csv(input.as_bytes(), &mut out, d.as_mut(), ScoreOptions::default())?;
        Ok((String::from_utf8(out).unwrap(), s))
    }

    #[test]
    fn echoes_rows_and_scores() {
        let input = "value,timestamp,extra\n1.0,2014-01-01 00:00:00,x\n2,2014-01-01 00:05:00,y\r\n\
                     1.5,2014-01-01 00:10:00,z\n1.25,2014-01-01 00:15:00,w\n100,\"2014-01-01 00:20:00\",v\n";
        let (out, s) = run(input).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "timestamp,value,anomaly_score");
        assert_eq!(lines.len(), 6);
        assert!(lines[1].starts_with("2014-01-01 00:00:00,1.0,0"));
        assert!(lines[2].starts_with("2014-01-01 00:05:00,2,"));
        let last: f64 = lines[5].rsplit(',').next().unwrap().parse().unwrap();
        assert!(last > 0.5, "{out}");
        assert_eq!(s.rows, 5);
        assert_eq!(s.anomalies, 1);
    }

    #[test]
    fn batches_give_what_a_plain_loop_gives() {
        let n = 3 * BATCH + 17;
        let mut input = String::from("timestamp,value\n");
        let mut expected = String::from("timestamp,value,anomaly_score\n");
        let mut d = build_detector("ewma(warmup=3)").unwrap();
        let mut float = ryu::Buffer::new();
        for i in 0..n {
            let v = ((i * 7919) % 101) as f64 / 10.0 + if i % 997 == 0 { 50.0 } else { 0.0 };
            input.push_str(&format!("{i},{v}\n"));
            let score = d.observe(Point::new(i as i64 * 1000, v)).unwrap().anomaly_score;
            let mut b = Vec::new();
            push_score(&mut b, &mut float, score);
            expected.push_str(&format!("{i},{v},{}\n", String::from_utf8(b).unwrap()));
        }
        let (out, s) = run(&input).unwrap();
        assert_eq!(s.rows, n as u64);
        assert!(out == expected, "the batched output differs from the plain loop");
        // An error in a later batch names its own line.
        let bad = input.replacen(&format!("\n{},", 2 * BATCH + 5), &format!("\n{}x,", 2 * BATCH + 5), 1);
        assert_eq!(run(&bad).unwrap_err().line, (2 * BATCH + 5 + 2) as u64);
    }

    #[test]
    fn clamps_backwards_time() {
        let input = "timestamp,value\n10,1\n20,1\n15,1\n20,1\n";
        let (out, s) = run(input).unwrap();
        assert_eq!(s.clamped, 1);
        assert!(out.contains("\n15,1,"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = run("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("line 3: value \"abc\""), "{e}");
        let e = run("timestamp,value\n2014-01-01 00:00:00,1\n2014-02-30 00:05:00,2\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = run("timestamp,value\n2014-01-01 00:00:00,1,3\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = run("time,v\n1,2\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = run("timestamp,value\n1,NaN\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(run("").unwrap_err().line, 1);
        let (out, s) = run("timestamp,value\n").unwrap();
        assert_eq!((out.as_str(), s.rows), ("timestamp,value,anomaly_score\n", 0));
    }

    /// A reader that hands out at most `n` bytes per call, to cross every buffer boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn records(input: &[u8], step: usize) -> Vec<(u64, String)> {
        let mut r = Records::new(Trickle(input, step));
        r.buf = vec![0; 4]; // tiny, so it has to grow and compact
        let mut out = Vec::new();
        while let Some(Record { line, bytes: rec, quoted }) = r.next().unwrap() {
            assert_eq!(quoted, rec.contains(&b'"'));
            out.push((line, String::from_utf8(rec.to_vec()).unwrap()));
        }
        out
    }

    #[test]
    fn records_and_fields() {
        let input = b"a,b\r\n\n1,2\n\"x\ny\",3\n  \n4,\"5\"\"\"\n6,7";
        for step in [1, 2, 3, 7, 1000] {
            let got = records(input, step);
            let want = [(1, "a,b"), (3, "1,2"), (4, "\"x\ny\",3"), (7, "4,\"5\"\"\""), (8, "6,7")];
            let want: Vec<(u64, String)> = want.iter().map(|&(l, s)| (l, s.to_string())).collect();
            assert_eq!(got, want, "step {step}");
        }
        let mut f = Fields::default();
        let split = |f: &mut Fields, rec: &[u8]| -> Vec<String> {
            f.split(rec, rec.contains(&b'"'));
            (0..f.len()).map(|i| String::from_utf8(f.get(rec, i).to_vec()).unwrap()).collect()
        };
        assert_eq!(split(&mut f, b"a,b,"), ["a", "b", ""]);
        assert_eq!(split(&mut f, b"\"a,b\",\"c\"\"d\",e"), ["a,b", "c\"d", "e"]);
        assert_eq!(split(&mut f, b"\"x\ny\","), ["x\ny", ""]);
        assert_eq!(split(&mut f, b""), [""]);
        // Quoted fields are read unquoted and written without quotes when none are needed.
        let (out, _) = run("\"timestamp\",value\n\"2014-01-01 00:00:00\",\"1.5\"\n").unwrap();
        assert_eq!(out, "timestamp,value,anomaly_score\n2014-01-01 00:00:00,1.5,0\n");
        // No newline at the end, CRLF line ends.
        let (out, s) = run("timestamp,value\r\n1,2\r\n2,3").unwrap();
        assert_eq!((out.as_str(), s.rows), ("timestamp,value,anomaly_score\n1,2,0\n2,3,0\n", 2));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Arbitrary bytes never panic: they score or give an error with a line.
        #[test]
        fn arbitrary_input_never_panics(body in proptest::collection::vec(
            proptest::sample::select(b"0123456789-:.,\"\n\r TZ+xe".to_vec()), 0..400)
        ) {
            let mut input = b"timestamp,value\n".to_vec();
            input.extend_from_slice(&body);
            let mut d = build_detector("ewma").unwrap();
            let mut out = Vec::new();
            if let Err(e) = score_csv(&input[..], &mut out, d.as_mut(), ScoreOptions::default()) {
                proptest::prop_assert!(e.line >= 2 && !e.message.contains('\n'));
            }
        }

        /// Valid rows come out one for one, in order, echoed.
        #[test]
        fn valid_rows_are_echoed(rows in proptest::collection::vec((0i64..4_000_000_000, -1e6f64..1e6), 0..300)) {
            let mut input = String::from("timestamp,value\n");
            for (t, v) in &rows {
                input.push_str(&format!("{t},{v}\n"));
            }
            let (out, s) = run(&input).unwrap();
            proptest::prop_assert_eq!(s.rows, rows.len() as u64);
            for (line, (t, v)) in out.lines().skip(1).zip(&rows) {
                let prefix = format!("{t},{v},");
                proptest::prop_assert!(line.starts_with(&prefix));
            }
        }
    }

    #[test]
    fn fast_value_parsing_is_exact() {
        let mut state = 9u64;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "1",
            "+1.5",
            "-2.25",
            "007",
            "1.",
            ".5",
            "123456789012345",
            "1234567890123456",
            "0.1",
            "0.30000000000000004",
            "9007199254740993",
            "1e3",
            "-1.5E-3",
            "inf",
            "NaN",
            "",
            "-",
            ".",
            "1.2.3",
            "1,5",
            " 42 ",
            "12345678.901234",
            "0.000000000000000000001",
            "99999999999999999999999",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..100_000 {
            let int = next() % 10_000_000_000;
            let decimals = (next() % 12) as usize;
            let frac = next() % 10u64.pow(decimals as u32).max(1);
            let sign = if next() % 2 == 0 { "" } else { "-" };
            texts.push(if decimals == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac:0decimals$}") });
        }
        for t in &texts {
            let want = t.trim().parse::<f64>().ok().filter(|v| v.is_finite());
            let got = parse_value(t.as_bytes());
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{t:?}");
        }
    }

    #[test]
    fn quotes_only_when_needed() {
        let mut buf = Vec::new();
        push_field(&mut buf, b"a,b");
        push_field(&mut buf, b"x\"y");
        push_field(&mut buf, b"plain");
        assert_eq!(buf, b"\"a,b\"\"x\"\"y\"plain");
        let mut buf = Vec::new();
        let mut float = ryu::Buffer::new();
        for s in [0.0, 1.0, 0.5, 0.999_999_999_7, 1e-300] {
            buf.clear();
            push_score(&mut buf, &mut float, s);
            assert_eq!(std::str::from_utf8(&buf).unwrap().parse::<f64>().unwrap(), s);
        }
    }
}
