//! `oddsight monitor`: a long-format CSV (`timestamp,series,value`) through a [`Monitor`] built
//! from a targets file, one JSON object per alert and incident event.

use crate::timestamp::{NumericUnit, TimestampParser};
use oddsight_detectors::monitor::{Monitor, MonitorConfig, MonitorEvent};
use serde_json::json;
use std::io::{BufRead, Write};

/// An example targets file, as `oddsight monitor --help` shows it.
pub const EXAMPLE_TARGETS: &str = r#"{
  "targets": [
    {"name": "latency", "selector": "latency_p95", "detector": "seasonal",
     "policy": {"trigger": {"type": "k_of_n", "k": 3, "n": 3}}, "interval": "1m"},
    {"name": "queries", "selector": "db_queries{service=\"checkout\"}", "detector": "ewma(warmup=30)",
     "interval": "5m", "min_severity": "medium"}
  ]
}"#;

/// One output line for an event.
pub fn event_json(event: &MonitorEvent) -> serde_json::Value {
    match event {
        MonitorEvent::Alert(a) => json!({
            "event": a.event,
            "alert_id": a.alert_id,
            "target": a.target,
            "series": a.series,
            "timestamp": a.timestamp,
            "severity": a.severity,
            "score": a.score,
            "value": a.value,
            "expected": a.expected,
            "incident_id": a.incident_id,
        }),
        MonitorEvent::Incident(n) => json!({
            "event": n.event,
            "incident_id": n.incident_id,
            "timestamp": n.timestamp,
            "service": n.incident.service,
            "signals": n.incident.signals.iter().map(|s| json!({
                "alert_id": s.alert_id,
                "target": s.target,
                "series": s.series,
                "metric": s.metric,
                "start": s.start,
                "peak_severity": s.peak_severity,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// Reads the CSV from `input`, runs it through a monitor built from `config` (JSON text), and
/// writes one JSON line per event to `out`. Ticks at every new timestamp and once at the end.
///
/// # Errors
/// A one-line message naming the line or the setting at fault.
pub fn monitor_csv(config: &str, input: impl BufRead, out: &mut dyn Write) -> Result<usize, String> {
    let config = MonitorConfig::from_json(config).map_err(|e| format!("targets file: {e}"))?;
    let mut monitor = Monitor::from_config(&config).map_err(|e| format!("targets file: {e}"))?;
    let mut parser = TimestampParser::new(NumericUnit::Auto);
    let mut last: Option<i64> = None;
    let mut events = 0usize;
    let mut emit = |monitor: &mut Monitor, now: i64, out: &mut dyn Write| -> Result<(), String> {
        for event in monitor.tick(now) {
            writeln!(out, "{}", event_json(&event)).map_err(|e| format!("writing output: {e}"))?;
            events += 1;
        }
        Ok(())
    };
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("reading input: {e}"))?;
        let n = i + 1;
        if n == 1 {
            let header: Vec<&str> = line.split(',').map(str::trim).collect();
            if header != ["timestamp", "series", "value"] {
                return Err(format!("line 1: the header must be `timestamp,series,value`, not `{line}`"));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        // The series may hold commas inside its labels: timestamp first, value last.
        let (ts, rest) = line.split_once(',').ok_or_else(|| format!("line {n}: expected `timestamp,series,value`"))?;
        let (series, value) =
            rest.rsplit_once(',').ok_or_else(|| format!("line {n}: expected `timestamp,series,value`"))?;
        let t = parser.parse(ts.trim().as_bytes()).map_err(|e| format!("line {n}: {e}"))?;
        let v: f64 = value.trim().parse().map_err(|_| format!("line {n}: `{}` is not a number", value.trim()))?;
        if let Some(prev) = last {
            if t < prev {
                return Err(format!("line {n}: timestamps must be sorted (this one is before the previous row's)"));
            }
            if t > prev {
                emit(&mut monitor, prev, out)?;
            }
        }
        last = Some(t);
        let series = series.trim();
        let series = match series.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => series.to_string(),
        };
        monitor.ingest(&series, t, v).map_err(|e| format!("line {n}: {e}"))?;
    }
    if let Some(prev) = last {
        // The last tick lets every target report, whatever its interval.
        let longest = config.targets.iter().map(|t| t.interval_ms).max().unwrap_or(0);
        emit(&mut monitor, prev.saturating_add(longest), out)?;
    }
    Ok(events)
}
