//! `oddsight logs`: find the anomalous lines of a log file (JSON lines, logfmt or plain text)
//! with [`LogDetector`], one JSON object per anomaly.
//!
//! The detector learns what is normal from the input itself (an isolation forest expects a
//! minority of outliers in its training data: `--contamination`), then judges every line.

use oddsight_detectors::logs::{
    LogDetector, LogDetectorParams, LogFormat, LogParser, LogRecord, LogVerdict, Malformed, ParseReport,
};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

/// The text after `oddsight logs --help`'s options.
pub const LOGS_HELP: &str = r#"INPUT holds one log record per line, as JSON lines ({"ts": ..., "level": ..., "msg": ...}),
logfmt (ts=... level=... msg="...") or plain text (2024-05-01T12:00:00Z ERROR [service]
message). --format auto decides from the first lines. Common field names are understood
(timestamp/ts/time/@timestamp, level/severity/lvl, msg/message, service/app,
response_time_ms/duration_ms/latency_ms, memory_mb/mem, ...; the full list is in the docs of
oddsight_detectors::logs::LogParser). Lines that do not parse are counted and listed on
standard error, never fatal.

The detector learns from INPUT itself: six features per line (message length, error keywords,
level severity, response time and memory against the line's own service, template rarity)
go into an isolation forest. A line is an anomaly when its score is above the forest's
contamination threshold (the top --contamination of the input) and its confidence, how deep
into that top it is, is at least --threshold; so about contamination x (1 - threshold) of the
lines (3 % by default) are reported.

Standard output gets one JSON object per anomalous line:
  {"log_index": 0-based line number, "timestamp": Unix ms or null, "level", "message",
   "service", "confidence", "anomaly_type": "performance"|"memory"|"error"|"pattern",
   "score", "features": {"response_time_ms": {"value": 2310.5, "z": 41.2}, ...},
   "drivers": [features with |z| >= 2, largest first]}
Standard error gets a summary: lines, anomalies, malformed lines, lines/s.

Examples:
  oddsight logs app.jsonl
  oddsight logs --format logfmt --contamination 0.05 --threshold 0.9 service.log
  kubectl logs deploy/checkout | oddsight logs - | jq 'select(.anomaly_type == "error")'"#;

/// Options of `oddsight logs`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsOptions {
    /// The forest's contamination.
    pub contamination: f64,
    /// The least confidence of a reported line.
    pub threshold: f64,
    /// The format, or `None` to detect it.
    pub format: Option<LogFormat>,
}

impl Default for LogsOptions {
    fn default() -> Self {
        LogsOptions { contamination: 0.1, threshold: 0.7, format: None }
    }
}

/// What a run found.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsSummary {
    /// The format read.
    pub format: LogFormat,
    /// Line accounting.
    pub report: ParseReport,
    /// Anomalous lines reported.
    pub anomalies: usize,
}

/// Reads `format` from its command-line name (`auto`, `jsonl`, `logfmt`, `plain`).
///
/// # Errors
/// A message naming the accepted values.
pub fn parse_format(name: &str) -> Result<Option<LogFormat>, String> {
    if name == "auto" {
        return Ok(None);
    }
    name.parse::<LogFormat>()
        .map(Some)
        .map_err(|_| format!("unknown format {name:?}: use auto, jsonl, logfmt or plain"))
}

/// The output object of one anomalous line.
pub fn anomaly_json(log_index: usize, record: &LogRecord<'_>, verdict: &LogVerdict, driver_z: f64) -> Value {
    let mut features = Map::new();
    for e in verdict.evidence() {
        features.insert(e.feature.name().to_string(), json!({"value": e.value, "z": round(e.z)}));
    }
    let drivers: Vec<&str> = verdict.drivers(driver_z).iter().map(|e| e.feature.name()).collect();
    json!({
        "log_index": log_index,
        "timestamp": record.timestamp,
        "level": record.level.map(|l| l.as_str()),
        "message": record.message,
        "service": record.service,
        "confidence": round(verdict.confidence),
        "anomaly_type": verdict.anomaly_type.map(|t| t.as_str()),
        "score": round(verdict.score),
        "features": features,
        "drivers": drivers,
    })
}

/// Four decimals: plenty for a z-score or a confidence, and easy to read.
fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Finds the anomalous lines of `input` and writes one JSON line for each to `out`.
///
/// # Errors
/// A one-line message: bad options, an undetectable format, fewer than 2 parseable lines, or
/// a write failure.
pub fn find_log_anomalies(input: &[u8], options: &LogsOptions, out: &mut impl Write) -> Result<LogsSummary, String> {
    let params =
        LogDetectorParams::default().contamination(options.contamination).confidence_threshold(options.threshold);
    params.validate().map_err(|e| e.to_string())?;
    let format = match options.format {
        Some(f) => f,
        None => LogFormat::detect(input).ok_or(
            "cannot tell the log format from the first lines (none reads as JSON lines, logfmt or plain); \
             give --format",
        )?,
    };
    let parser = LogParser::new(format).keep_fields(false);
    let (indexed, report) = parser.parse_all(input);
    if indexed.len() < 2 {
        return Err(format!(
            "{} parseable {format} line(s) of {}; at least 2 are needed to learn what is normal",
            indexed.len(),
            report.lines
        ));
    }
    let records: Vec<LogRecord<'_>> = indexed.iter().map(|(_, r)| r.clone()).collect();
    let detector: LogDetector = params.fit(&records).map_err(|e| e.to_string())?;
    let verdicts = detector.score_records(&records).map_err(|e| e.to_string())?;
    let mut anomalies = 0;
    let driver_z = detector.params().driver_z;
    for ((index, record), verdict) in indexed.iter().zip(&verdicts) {
        if verdict.is_anomaly {
            anomalies += 1;
            let line = anomaly_json(*index, record, verdict, driver_z);
            writeln!(out, "{line}").map_err(|e| format!("cannot write the output: {e}"))?;
        }
    }
    Ok(LogsSummary { format, report, anomalies })
}

fn malformed_list(examples: &[Malformed], total: usize) -> String {
    let shown: Vec<String> = examples.iter().take(10).map(|m| format!("{} ({})", m.line_index, m.reason)).collect();
    let more = if total > shown.len() { format!(", … {} more", total - shown.len()) } else { String::new() };
    format!(" at log_index {}{more}", shown.join(", "))
}

/// `oddsight logs`: reads `input` (a path, or `-` for standard input), prints the anomalies
/// to standard output and a summary to standard error.
///
/// # Errors
/// A one-line message for an unreadable input or as [`find_log_anomalies`].
pub fn run(input: &Path, format: &str, contamination: f64, threshold: f64) -> Result<(), String> {
    let options = LogsOptions { contamination, threshold, format: parse_format(format)? };
    let started = Instant::now();
    let mut bytes = Vec::new();
    let shown = if input.as_os_str() == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes).map_err(|e| format!("cannot read standard input: {e}"))?;
        "<stdin>".to_string()
    } else {
        bytes = std::fs::read(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
        input.display().to_string()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = find_log_anomalies(&bytes, &options, &mut out).map_err(|e| format!("{shown}: {e}"))?;
    out.flush().map_err(|e| format!("cannot write the output: {e}"))?;
    let took = started.elapsed().as_secs_f64();
    let r = &summary.report;
    let malformed = if r.malformed > 0 { malformed_list(&r.examples, r.malformed) } else { String::new() };
    eprintln!(
        "oddsight: {} lines ({}) in {took:.3} s, {:.0} lines/s: {} anomalies, {} malformed{malformed}, {} empty",
        r.lines,
        summary.format,
        r.lines as f64 / took.max(1e-9),
        summary.anomalies,
        r.malformed,
        r.empty,
    );
    Ok(())
}
