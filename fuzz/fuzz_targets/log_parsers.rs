//! The log parsers (`oddsight_detectors::logs`): JSON lines, logfmt and plain text, format
//! detection, timestamps, and message templates.
//!
//! The first byte picks the format (or detection); the rest is the log text. Invariants:
//! nothing panics; the report's counts add up and match the records; numeric fields are
//! finite; a record written as a JSON line parses back to the same record, and so does one
//! written as logfmt when its field keys are logfmt keys; a message's template id is the id
//! of its masked template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_detectors::logs::{
    LogFormat, LogParser, LogRecord, ParseReport, mask_template, parse_timestamp, template_id, template_id_of_template,
};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, input)) = data.split_first() else { return };
    let parser = match choice % 4 {
        0 => LogParser::new(LogFormat::Jsonl),
        1 => LogParser::new(LogFormat::Logfmt),
        2 => LogParser::new(LogFormat::Plain),
        _ => LogParser::detect(input),
    }
    .keep_fields(choice & 0x80 == 0);
    let (records, report) = parser.parse_all(input);
    assert_eq!(report.parsed, records.len(), "{report:?}");
    assert_eq!(report.lines, report.parsed + report.malformed + report.empty, "{report:?}");
    assert_eq!(report.examples.len(), report.malformed.min(ParseReport::MAX_EXAMPLES), "{report:?}");
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0), "line indices out of order");
    assert!(records.last().is_none_or(|r| r.0 < report.lines), "a line index past the end");

    let json = LogParser::new(LogFormat::Jsonl);
    let logfmt = LogParser::new(LogFormat::Logfmt);
    for (_, r) in records.iter().take(50) {
        assert!(r.response_time_ms.is_none_or(f64::is_finite), "{r:?}");
        assert!(r.memory_mb.is_none_or(f64::is_finite), "{r:?}");
        // A free-form field named like a record field (a bare logfmt `svc`, a JSON `"svc": null`)
        // comes back as that field: a known gap, see README.md, "Known findings".
        if r.fields.iter().any(|(k, _)| ALIASES.contains(&k.as_ref())) {
            continue;
        }
        let mut line = String::new();
        r.write_json(&mut line);
        let back = json.parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{r:?} as {line}: {e}"));
        assert_eq!(back, *r, "{line} reads back differently");
        if parser.format() == LogFormat::Logfmt || choice & 0x80 != 0 {
            check_logfmt(&logfmt, r);
        }
        let template = mask_template(&r.message);
        assert_eq!(
            template_id(&r.message),
            template_id_of_template(&template),
            "{:?} masks to {template:?}",
            r.message
        );
    }
    if let Ok(text) = std::str::from_utf8(input) {
        for line in text.lines().take(20) {
            let _ = parse_timestamp(line);
            let _ = parse_timestamp(line.trim());
        }
    }
});

/// The keys the parsers read into record fields (the table on `LogParser`).
const ALIASES: &[&str] = &[
    "timestamp",
    "ts",
    "time",
    "@timestamp",
    "@t",
    "datetime",
    "date",
    "time_local",
    "level",
    "lvl",
    "severity",
    "loglevel",
    "log_level",
    "log.level",
    "levelname",
    "level_name",
    "@l",
    "message",
    "msg",
    "@m",
    "text",
    "log",
    "event",
    "service",
    "service_name",
    "service.name",
    "svc",
    "app",
    "application",
    "component",
    "response_time_ms",
    "duration_ms",
    "latency_ms",
    "elapsed_ms",
    "took_ms",
    "request_time_ms",
    "response_ms",
    "rt_ms",
    "response_time",
    "duration",
    "latency",
    "elapsed",
    "took",
    "rt",
    "response_time_s",
    "duration_s",
    "latency_s",
    "elapsed_s",
    "request_time",
    "memory_mb",
    "mem_mb",
    "memory",
    "mem",
    "memory_usage",
    "memory_usage_mb",
    "memory_used_mb",
    "heap_mb",
    "rss_mb",
    "memory_bytes",
    "mem_bytes",
    "heap_bytes",
    "rss_bytes",
    "memory_gb",
    "mem_gb",
];

fn check_logfmt(logfmt: &LogParser, r: &LogRecord<'_>) {
    if r.fields.iter().any(|(k, _)| k.is_empty() || k.contains([' ', '=', '"']) || k.chars().any(char::is_control)) {
        return;
    }
    let mut line = String::new();
    r.write_logfmt(&mut line);
    let back = logfmt.parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{r:?} as {line}: {e}"));
    assert_eq!(back, *r, "{line} reads back differently");
}
