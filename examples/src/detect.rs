//! `oddsight detect`: stream a `timestamp,value` CSV through a detector and an alert policy, and
//! report the anomalies and the alerts.
//!
//! The input is read exactly as `oddsight score` reads it ([`crate::score_csv`]: the header
//! finds the columns, bad rows stop the run naming their line, out-of-order timestamps are
//! clamped). Each point is judged by the detector, handed to the alert policy, and learned only
//! when the policy lets it: what [`oddsight_core::Watch`] does, so the results are the ones a
//! `Watch` over the same points gives (a test pins that).
//!
//! An anomaly is a point whose anomaly score reaches the policy's `enter` level (a strike);
//! an alert is what the policy raised from the strikes, from its first strike to its
//! resolution (or still open at the end of the input).
//!
//! ```
//! use oddsight_examples::detect::{DetectOptions, detect_csv};
//! use oddsight_examples::detector_choice::build_detector;
//! let mut csv = String::from("timestamp,value\n");
//! for minute in 0..200 {
//!     let value = if minute == 150 { 500.0 } else { 100.0 + (minute % 5) as f64 };
//!     csv.push_str(&format!("{},{value}\n", 1_700_000_000 + 60 * minute));
//! }
//! let report = detect_csv(csv.as_bytes(), build_detector("mad")?, &DetectOptions::default(), None)?;
//! assert_eq!(report.rows, 200);
//! assert_eq!(report.anomalies.len(), 1);
//! assert_eq!(report.anomalies[0].timestamp, (1_700_000_000 + 60 * 150) * 1000);
//! assert!(report.alerts.is_empty()); // one strike is not three
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::progress::Progress;
use crate::score_csv::{ScoreError, ScoreOptions, score_csv};
use crate::svg::{ChartPoint, Span, TimeChart};
use crate::timestamp::NumericUnit;
use oddsight_core::{
    AlertEvent, AlertPolicy, Detector, Direction, Learn, Point, Resolution, Severity, StrikePolicy, StrikePolicyParams,
    Verdict,
};
use serde_json::json;
use std::borrow::Cow;
use std::io::{Read, Write};

/// Options of [`detect_csv`].
#[derive(Debug, Clone, Default)]
pub struct DetectOptions {
    /// How numeric timestamps are read.
    pub unit: NumericUnit,
    /// The alert policy (default: three strikes in a row at score 0.5).
    pub policy: StrikePolicyParams,
    /// Keep every point for a chart ([`DetectReport::series`]).
    pub keep_series: bool,
}

/// One anomalous point.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// Unix milliseconds (after clamping out-of-order rows).
    pub timestamp: i64,
    /// The value.
    pub value: f64,
    /// What was expected.
    pub expected: f64,
    /// The normal band, `(lower, upper)`.
    pub band: (f64, f64),
    /// Anomaly score in `[0, 1]`.
    pub score: f64,
    /// Signed z-equivalent.
    pub z: f64,
    /// Severity band.
    pub severity: Severity,
    /// Severity on a 0–10 scale.
    pub severity_score: f64,
    /// Which way it departed.
    pub direction: Direction,
    /// The component that judged it.
    pub component: String,
}

impl Anomaly {
    fn from_verdict(v: &Verdict) -> Self {
        Anomaly {
            timestamp: v.timestamp,
            value: v.value,
            expected: v.expected,
            band: (v.lower, v.upper),
            score: v.anomaly_score,
            z: v.z,
            severity: v.severity,
            severity_score: v.severity_score,
            direction: v.direction,
            component: v.component.to_string(),
        }
    }

    /// A short reason: how far from expected, which way, and which component said so.
    pub fn why(&self) -> String {
        let ratio = if self.expected.abs() > f64::EPSILON && (self.value / self.expected).is_finite() {
            format!("{:.2}x expected, ", self.value / self.expected)
        } else {
            String::new()
        };
        let way = match self.direction {
            Direction::Up => "above",
            Direction::Down => "below",
            Direction::Neutral => "off",
        };
        format!("{ratio}{:+.1}σ {way} the band ({})", self.z, self.component)
    }
}

/// One alert raised by the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSpan {
    /// The policy's alert id.
    pub id: u64,
    /// Its first strike, Unix milliseconds.
    pub start: i64,
    /// When it was resolved; `None` while still open at the end of the input.
    pub end: Option<i64>,
    /// Highest severity seen.
    pub peak_severity: Severity,
    /// Highest anomaly score seen.
    pub peak_score: f64,
    /// Direction of its first strike.
    pub direction: Direction,
    /// Anomalous points it absorbed.
    pub anomalous_points: u64,
    /// Why it ended.
    pub resolution: Option<Resolution>,
}

/// What [`detect_csv`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows whose timestamp went backwards and was clamped to the one before.
    pub clamped: u64,
    /// The anomalous points, in order.
    pub anomalies: Vec<Anomaly>,
    /// The alerts, in the order they fired.
    pub alerts: Vec<AlertSpan>,
    /// Every point with its expectation, when [`DetectOptions::keep_series`] asked for it.
    pub series: Vec<ChartPoint>,
}

/// Runs `detector` with the alert policy of `options` over the CSV `input`.
///
/// # Errors
/// [`ScoreError`] naming the line of the first bad row (the header is line 1), an invalid
/// policy (line 0), or a read failure.
pub fn detect_csv<R: Read + Send>(
    input: R,
    detector: Box<dyn Detector>,
    options: &DetectOptions,
    progress: Option<&mut Progress>,
) -> Result<DetectReport, ScoreError> {
    let policy = options.policy.clone().build().map_err(|e| ScoreError {
        line: 0,
        message: format!("alert policy: {e} (see --strikes, --within, --threshold)"),
    })?;
    let enter = options.policy.enter;
    let mut watch = Recording {
        detector,
        policy,
        enter,
        keep_series: options.keep_series,
        report: DetectReport::default(),
        progress,
    };
    let summary = score_csv(input, std::io::sink(), &mut watch, ScoreOptions { unit: options.unit })?;
    if let Some(p) = watch.progress.as_deref() {
        p.finish();
    }
    let mut report = watch.report;
    report.rows = summary.rows;
    report.clamped = summary.clamped;
    // An alert still open at the end: its figures as the policy has them now.
    if let Some(open) = watch.policy.open_alert()
        && let Some(span) = report.alerts.iter_mut().find(|a| a.id == open.id)
    {
        span.peak_severity = open.peak_severity;
        span.peak_score = open.peak_score;
        span.anomalous_points = open.anomalous_points;
    }
    Ok(report)
}

/// A detector and a policy wired as [`oddsight_core::Watch`] wires them, recording what they
/// find. It is a [`Detector`] so that [`score_csv`] can drive it: `observe` is the watch's
/// step (judge, decide, learn if allowed); the other verbs reach the inner detector.
#[derive(Debug)]
struct Recording<'p> {
    detector: Box<dyn Detector>,
    policy: StrikePolicy,
    enter: f64,
    keep_series: bool,
    report: DetectReport,
    progress: Option<&'p mut Progress>,
}

impl Recording<'_> {
    fn record(&mut self, verdict: &Verdict, events: Vec<AlertEvent>) {
        let anomaly = verdict.warm && verdict.anomaly_score >= self.enter;
        if anomaly {
            self.report.anomalies.push(Anomaly::from_verdict(verdict));
        }
        if self.keep_series {
            self.report.series.push(ChartPoint {
                timestamp: verdict.timestamp,
                value: verdict.value,
                band: verdict.warm.then_some((verdict.expected, verdict.lower, verdict.upper)),
                anomaly,
            });
        }
        for event in events {
            match event {
                AlertEvent::Fired { alert } => self.report.alerts.push(AlertSpan {
                    id: alert.id,
                    start: alert.start,
                    end: alert.end,
                    peak_severity: alert.peak_severity,
                    peak_score: alert.peak_score,
                    direction: alert.direction,
                    anomalous_points: alert.anomalous_points,
                    resolution: alert.resolution,
                }),
                AlertEvent::Escalated { id, to, verdict, .. } => {
                    if let Some(span) = self.report.alerts.iter_mut().rev().find(|a| a.id == id) {
                        span.peak_severity = span.peak_severity.max(to);
                        span.peak_score = span.peak_score.max(verdict.anomaly_score);
                    }
                }
                AlertEvent::Resolved { alert } => {
                    if let Some(span) = self.report.alerts.iter_mut().rev().find(|a| a.id == alert.id) {
                        span.end = alert.end;
                        span.resolution = alert.resolution;
                        span.peak_severity = alert.peak_severity;
                        span.peak_score = alert.peak_score;
                        span.anomalous_points = alert.anomalous_points;
                    }
                }
            }
        }
    }
}

impl Detector for Recording<'_> {
    fn score(&self, point: Point) -> oddsight_core::Result<Verdict> {
        self.detector.score(point)
    }

    fn update(&mut self, point: Point) -> oddsight_core::Result<()> {
        self.detector.update(point)
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.detector.last_timestamp()
    }

    fn rebaseline(&mut self, recent: &[Point]) -> oddsight_core::Result<()> {
        self.detector.rebaseline(recent)
    }

    fn reset(&mut self) {
        self.detector.reset();
        self.policy.reset();
    }

    fn snapshot(&self) -> oddsight_core::Result<String> {
        self.detector.snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        self.detector.name()
    }

    fn observe(&mut self, point: Point) -> oddsight_core::Result<Verdict> {
        let verdict = self.detector.score(point)?;
        let decision = self.policy.step(&verdict);
        // `score` accepted the point, so learning it cannot fail on the same checks.
        match &decision.learn {
            Learn::Learn => self.detector.update(point)?,
            Learn::Skip => {}
            Learn::Rebaseline { points } => self.detector.rebaseline(points)?,
        }
        self.record(&verdict, decision.events);
        if let Some(p) = self.progress.as_deref_mut() {
            p.tick();
        }
        Ok(verdict)
    }
}

/// A Unix-millisecond time as `YYYY-MM-DD HH:MM:SS` in UTC (with `.mmm` when it has
/// milliseconds).
pub fn utc_time(ms: i64) -> String {
    let Ok(t) = jiff::Timestamp::from_millisecond(ms) else { return ms.to_string() };
    if ms.rem_euclid(1000) == 0 {
        t.strftime("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        t.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()
    }
}

/// A number with about four significant digits, for tables.
pub fn short_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e7).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3.0 - a.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{v:.decimals$}")
}

/// Writes the anomalies and the alerts as aligned tables.
///
/// # Errors
/// Whatever writing to `out` reports.
pub fn write_table(report: &DetectReport, out: &mut dyn Write) -> std::io::Result<()> {
    if report.anomalies.is_empty() {
        writeln!(out, "no anomalies")?;
    } else {
        let header = ["time (UTC)", "value", "expected", "band", "score", "severity", "why"];
        let rows: Vec<[String; 7]> = report
            .anomalies
            .iter()
            .map(|a| {
                [
                    utc_time(a.timestamp),
                    short_number(a.value),
                    short_number(a.expected),
                    format!("{}..{}", short_number(a.band.0), short_number(a.band.1)),
                    format!("{:.3}", a.score),
                    format!("{} {:.1}", a.severity, a.severity_score),
                    a.why(),
                ]
            })
            .collect();
        // Numbers are right-aligned, text left-aligned; the last column is not padded.
        let right = [false, true, true, true, true, false, false];
        let mut widths = header.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    s.push_str("  ");
                }
                if right[i] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            s
        };
        writeln!(out, "anomalies ({}):", rows.len())?;
        writeln!(out, "{}", line(&header.map(String::from)))?;
        for row in &rows {
            writeln!(out, "{}", line(row))?;
        }
    }
    writeln!(out)?;
    if report.alerts.is_empty() {
        return writeln!(out, "no alerts");
    }
    writeln!(out, "alerts ({}):", report.alerts.len())?;
    let starts: Vec<String> = report.alerts.iter().map(|a| utc_time(a.start)).collect();
    let ends: Vec<String> =
        report.alerts.iter().map(|a| a.end.map(utc_time).unwrap_or_else(|| "(open)".into())).collect();
    let sw = starts.iter().map(String::len).max().unwrap_or(0).max("start".len());
    let ew = ends.iter().map(String::len).max().unwrap_or(0).max("end".len());
    writeln!(out, "{:>4}  {:<sw$}  {:<ew$}  {:<13}  {:>6}  points", "id", "start", "end", "peak severity", "score")?;
    for ((a, start), end) in report.alerts.iter().zip(&starts).zip(&ends) {
        writeln!(
            out,
            "{:>4}  {start:<sw$}  {end:<ew$}  {:<13}  {:>6.3}  {}",
            a.id,
            a.peak_severity.as_str(),
            a.peak_score,
            a.anomalous_points
        )?;
    }
    Ok(())
}

/// Writes one JSON object per line: every anomaly (`"kind": "anomaly"`), then every alert
/// (`"kind": "alert"`).
///
/// # Errors
/// Whatever writing to `out` reports.
pub fn write_json_lines(report: &DetectReport, out: &mut dyn Write) -> std::io::Result<()> {
    let direction = |d: Direction| match d {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Neutral => "neutral",
    };
    for a in &report.anomalies {
        let object = json!({
            "kind": "anomaly",
            "timestamp": a.timestamp,
            "time": utc_time(a.timestamp),
            "value": a.value,
            "expected": a.expected,
            "lower": a.band.0,
            "upper": a.band.1,
            "score": a.score,
            "z": a.z,
            "severity": a.severity.as_str(),
            "severity_score": a.severity_score,
            "direction": direction(a.direction),
            "component": a.component,
            "why": a.why(),
        });
        writeln!(out, "{object}")?;
    }
    for a in &report.alerts {
        let resolution = a.resolution.map(|r| match r {
            Resolution::Recovered => "recovered",
            Resolution::Rebaselined => "rebaselined",
            Resolution::Manual => "manual",
        });
        let object = json!({
            "kind": "alert",
            "id": a.id,
            "start": a.start,
            "start_time": utc_time(a.start),
            "end": a.end,
            "end_time": a.end.map(utc_time),
            "peak_severity": a.peak_severity.as_str(),
            "peak_score": a.peak_score,
            "direction": direction(a.direction),
            "anomalous_points": a.anomalous_points,
            "resolution": resolution,
        });
        writeln!(out, "{object}")?;
    }
    Ok(())
}

/// The report's chart: the series, its expected band, the anomalies and the alert spans (an
/// open alert runs to the last point). Needs [`DetectOptions::keep_series`].
pub fn plot(report: &DetectReport, title: &str) -> String {
    let last = report.series.last().map(|p| p.timestamp).unwrap_or(0);
    let mut chart = TimeChart::new(title, &report.series);
    for a in &report.alerts {
        chart.spans.push(Span {
            start: a.start,
            end: a.end.unwrap_or(last),
            label: format!("alert #{} ({})", a.id, a.peak_severity),
            color: "#d22".into(),
        });
    }
    chart.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector_choice::build_detector;
    use oddsight_core::Watch;
    use oddsight_detectors::AnyDetector;

    fn csv(values: &[f64]) -> String {
        let mut s = String::from("timestamp,value\n");
        for (i, v) in values.iter().enumerate() {
            s.push_str(&format!("{},{v}\n", 1_700_000_000 + 60 * i as i64));
        }
        s
    }

    /// A seeded series: noise around 100, a 10-point incident at 400..410.
    fn series() -> Vec<f64> {
        let mut state = 42u64;
        (0..600)
            .map(|i| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let noise = ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 6.0;
                100.0 + noise + if (400..410).contains(&i) { 80.0 } else { 0.0 }
            })
            .collect()
    }

    #[test]
    fn matches_a_watch_over_the_same_points() {
        let values = series();
        let options = DetectOptions { keep_series: true, ..DetectOptions::default() };
        let report = detect_csv(csv(&values).as_bytes(), build_detector("mad").unwrap(), &options, None).unwrap();
        let mut watch = Watch::new(AnyDetector::parse("mad").unwrap(), StrikePolicyParams::default().build().unwrap());
        let mut strikes = Vec::new();
        let mut fired = Vec::new();
        for (i, &v) in values.iter().enumerate() {
            let t = (1_700_000_000 + 60 * i as i64) * 1000;
            let step = watch.push(Point::new(t, v)).unwrap();
            if step.verdict.warm && step.verdict.anomaly_score >= 0.5 {
                strikes.push(t);
            }
            for e in step.events {
                if let AlertEvent::Fired { alert } = e {
                    fired.push(alert.start);
                }
            }
        }
        assert_eq!(report.anomalies.iter().map(|a| a.timestamp).collect::<Vec<_>>(), strikes);
        assert_eq!(report.alerts.iter().map(|a| a.start).collect::<Vec<_>>(), fired);
        assert_eq!(report.series.len(), 600);
        // The incident is found and its alert resolves after it.
        let alert = &report.alerts[0];
        assert_eq!(alert.start, (1_700_000_000 + 60 * 400) * 1000);
        assert!(alert.end.is_some_and(|e| e >= (1_700_000_000 + 60 * 410) * 1000), "{alert:?}");
        assert_eq!(alert.resolution, Some(Resolution::Recovered));
    }

    #[test]
    fn bad_policy_and_bad_rows_are_errors() {
        let options = DetectOptions { policy: StrikePolicyParams::strikes(0), ..DetectOptions::default() };
        let e = detect_csv(csv(&[1.0]).as_bytes(), build_detector("mad").unwrap(), &options, None).unwrap_err();
        assert!(e.message.contains("trigger.k"), "{e}");
        let e = detect_csv(
            "timestamp,value\n1700000000,1\n1700000060,nan\n".as_bytes(),
            build_detector("mad").unwrap(),
            &DetectOptions::default(),
            None,
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(short_number(123.456), "123.5");
        assert_eq!(short_number(0.012345), "0.01235");
        assert_eq!(short_number(-5.0), "-5.000");
        assert_eq!(short_number(2.5e9), "2.500e9");
        assert_eq!(utc_time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_time(1_700_000_000_250), "2023-11-14 22:13:20.250");
    }

    #[test]
    fn tables_align_and_json_lines_parse() {
        let values = series();
        let report =
            detect_csv(csv(&values).as_bytes(), build_detector("mad").unwrap(), &DetectOptions::default(), None)
                .unwrap();
        let mut table = Vec::new();
        write_table(&report, &mut table).unwrap();
        let table = String::from_utf8(table).unwrap();
        let lines: Vec<&str> = table.lines().skip(1).take_while(|l| !l.is_empty()).collect();
        // Every row puts the score column at the same place as the header.
        let at = lines[0].find("score").unwrap();
        for l in &lines[1..] {
            assert_eq!(l.as_bytes()[at + 1], b'.', "{l}"); // "0.xyz" sits under "score"
        }
        let mut json = Vec::new();
        write_json_lines(&report, &mut json).unwrap();
        let objects: Vec<serde_json::Value> =
            String::from_utf8(json).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(objects.len(), report.anomalies.len() + report.alerts.len());
        assert_eq!(objects.last().unwrap()["kind"], "alert");
    }
}
