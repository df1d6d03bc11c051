//! One CSV of metrics, several analysts at once, one combined verdict.
//!
//! The program writes a seeded CSV (`target/analysts.csv`, or the path given as the first
//! argument): eight hours of per-minute metrics of a `checkout` service and the `inventory`
//! service it calls, in the case layout (`time,<service>_<metric>,…`, Unix seconds). At 14:00
//! a cache on inventory stops working: its database queries per request jump, its latency
//! follows, then checkout's latency and error rate.
//!
//! The CSV is read back and examined by three analysts:
//!
//! - **statistical**: the robust median/MAD z-score (`mad`), point by point;
//! - **change-point**: CUSUM (`cusum`), which confirms level shifts and dates their start;
//! - **root cause**: the deterministic ranking of oddsight-investigate, run from the earliest
//!   confirmed change point, which weighs deviation, onset order and the call graph.
//!
//! The first two run together as one [`Ensemble`] per column, so every point gets one
//! combined verdict (its 0–10 severity) and each member's own verdict; the ranking's
//! confidence is computed from its support and margin as the investigation computes it. The
//! combined verdict lists every analyst's confidence and finding. It exits non-zero when the
//! analysts miss the story (no shift found, a cause other than inventory).
//!
//! Run with `cargo run --release -p oddsight-examples --example analysts`.

use oddsight_core::{Point, Verdict};
use oddsight_detectors::AnyDetector;
use oddsight_detectors::change::ShiftReport;
use oddsight_detectors::ensemble::{Ensemble, EnsembleParams};
use oddsight_investigate::case::parse_data_csv;
use oddsight_investigate::policy::{ConfidenceParams, ConfidenceTerms, compute_confidence};
use oddsight_investigate::{Case, RankingParams, Topology, rank};
use std::fmt::Write as _;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
/// Wednesday 2026-05-13 08:00 UTC.
const START: i64 = 1_778_659_200;
/// The cache stops working at 14:00.
const BREAK: i64 = START + 6 * HOUR;
/// Eight hours of minutes.
const ROWS: i64 = 8 * 60;

/// The columns, `(service, metric)`.
const COLUMNS: [(&str, &str); 6] = [
    ("checkout", "latency_p95"),
    ("checkout", "error_rate"),
    ("checkout", "requests"),
    ("inventory", "cpu"),
    ("inventory", "db_queries"),
    ("inventory", "latency_p95"),
];

/// splitmix64: a tiny seeded generator, so the data are the same every time.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn normal(&mut self) -> f64 {
        let u = ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64).max(f64::MIN_POSITIVE);
        let v = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The seeded CSV.
fn generate() -> String {
    let mut rng = Rng(11);
    let mut csv = String::from("time");
    for (service, metric) in COLUMNS {
        let _ = write!(csv, ",{service}_{metric}");
    }
    csv.push('\n');
    for i in 0..ROWS {
        let t = START + i * MINUTE;
        // Minutes since the cache broke (negative before).
        let after = (t - BREAK) / MINUTE;
        let mut noise = |sd: f64| (sd * rng.normal()).exp();
        let row = [
            210.0 * if after >= 2 { 1.6 } else { 1.0 } * noise(0.05),
            0.004 * if after >= 3 { 4.0 } else { 1.0 } * noise(0.15),
            1500.0 * noise(0.04),
            38.0 * if after >= 0 { 1.25 } else { 1.0 } * noise(0.04),
            4.0 * if after >= 0 { 5.0 } else { 1.0 } * noise(0.05),
            35.0 * if after >= 1 { 2.2 } else { 1.0 } * noise(0.06),
        ];
        let _ = write!(csv, "{t}");
        for v in row {
            let _ = write!(csv, ",{v:.5}");
        }
        csv.push('\n');
    }
    csv
}

fn clock(t: i64) -> String {
    let s = t.rem_euclid(24 * HOUR);
    format!("{:02}:{:02}", s / HOUR, s / MINUTE % 60)
}

/// What the two streaming analysts found in one column.
struct ColumnFindings {
    service: String,
    metric: String,
    /// The statistical member's most anomalous verdict.
    statistical: Option<Verdict>,
    /// The change-point member's first confirmed shift (its size as refined after it) and the
    /// member's verdict at confirmation.
    shift: Option<(ShiftReport, Verdict)>,
    /// The ensemble's most severe combined verdict, and the members' agreement on it.
    combined: Option<(Verdict, f64)>,
}

/// Streams one column through an ensemble of the statistical and change-point analysts.
fn examine(service: &str, metric: &str, times: &[i64], values: &[f64]) -> Res<ColumnFindings> {
    let members = vec![
        ("statistical".to_string(), AnyDetector::parse("mad(window=120)")?),
        ("change-point".to_string(), AnyDetector::parse("cusum")?),
    ];
    let mut ensemble = Ensemble::new(members, EnsembleParams::default())?;
    let mut found = ColumnFindings {
        service: service.into(),
        metric: metric.into(),
        statistical: None,
        shift: None,
        combined: None,
    };
    for (&t, &v) in times.iter().zip(values) {
        let explained = ensemble.observe_explained(Point::new(t * 1000, v))?;
        let stat = &explained.members[0].verdict;
        if stat.is_anomaly && found.statistical.as_ref().is_none_or(|b| stat.anomaly_score > b.anomaly_score) {
            found.statistical = Some(stat.clone());
        }
        // The first confirmed shift; its size is refined while CUSUM settles on the new level.
        if let Some(AnyDetector::Cusum(cusum)) = ensemble.members().get(1)
            && let Some(shift) = cusum.last_shift()
        {
            match &mut found.shift {
                None => found.shift = Some((shift.clone(), explained.members[1].verdict.clone())),
                Some((first, _)) if first.detected_at == shift.detected_at => *first = shift.clone(),
                Some(_) => {}
            }
        }
        let combined = &explained.verdict;
        if combined.is_anomaly
            && found.combined.as_ref().is_none_or(|(b, _)| combined.severity_score > b.severity_score)
        {
            found.combined = Some((combined.clone(), explained.agreement));
        }
    }
    Ok(found)
}

fn main() -> Res<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "target/analysts.csv".to_string());
    if let Some(dir) = std::path::Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, generate())?;
    let text = std::fs::read_to_string(&path)?;
    let (times, series) = parse_data_csv(&text, &path)?;
    println!(
        "{path}: {} columns x {} minutes ({} .. {})\n",
        series.len(),
        times.len(),
        clock(times[0]),
        clock(times[times.len() - 1])
    );

    // The statistical and change-point analysts, together, column by column.
    let mut findings = Vec::new();
    for s in &series {
        findings.push(examine(&s.service, &s.metric, &times, &s.values)?);
    }
    println!("{:<24} {:<44} {:<44}", "column", "statistical (mad)", "change-point (cusum)");
    for f in &findings {
        let stat = f.statistical.as_ref().map_or("nothing".to_string(), |v| {
            format!("{:.2}x expected at {}, {:+.1}σ", v.value / v.expected, clock(v.timestamp / 1000), v.z)
        });
        let shift = f
            .shift
            .as_ref()
            .map_or("no shift".to_string(), |(s, _)| format!("shift {:+.4} since {}", s.size, clock(s.start / 1000)));
        println!("{:<24} {stat:<44} {shift:<44}", format!("{}/{}", f.service, f.metric));
    }

    // The root-cause analyst starts from the earliest confirmed change point.
    let (onset, first) = findings
        .iter()
        .filter_map(|f| f.shift.as_ref().map(|(s, _)| (s.start / 1000, f)))
        .min_by_key(|(t, f)| (*t, f.service.clone(), f.metric.clone()))
        .ok_or("the change-point analyst found no shift")?;
    let case = Case {
        name: "analysts".into(),
        times: times.clone(),
        series: series.clone(),
        inject_time: onset,
        changes: vec![],
        logs: vec![],
        topology: Some(Topology { calls: vec![("checkout".into(), "inventory".into())] }),
        truth: None,
    };
    let ranking = rank(&case, &RankingParams::default(), &[])?;
    let top = ranking.root_cause().ok_or("the ranking judged no metric")?;
    let confidence_params = ConfidenceParams::default();
    let terms = ConfidenceTerms {
        support: top.score,
        margin: (ranking.margin() / confidence_params.decisive_margin).min(1.0),
        ..ConfidenceTerms::default()
    };
    let rca_confidence = compute_confidence(&terms, &confidence_params);

    // The combined verdict.
    let worst = findings
        .iter()
        .filter_map(|f| f.combined.as_ref().map(|(v, a)| (f, v, *a)))
        .max_by(|a, b| a.1.severity_score.total_cmp(&b.1.severity_score))
        .ok_or("no analyst found anything")?;
    let best_stat = findings
        .iter()
        .filter_map(|f| f.statistical.as_ref().map(|v| (f, v)))
        .max_by(|a, b| a.1.anomaly_score.total_cmp(&b.1.anomaly_score))
        .ok_or("the statistical analyst found nothing")?;
    let (first_shift, shift_verdict) = first.shift.as_ref().ok_or("no shift")?;
    let severity = worst.1.severity_score;
    println!(
        "\nVERDICT: incident, severity {severity:.1}/10 ({}), began {} on {}/{}",
        worst.1.severity,
        clock(onset),
        first.service,
        first.metric
    );
    println!("  {:<14} {:>10}  finding", "analyst", "confidence");
    println!(
        "  {:<14} {:>10.2}  {}/{} is the most surprising: {:.2}x expected at {} ({:+.1}σ, score {:.3})",
        "statistical",
        best_stat.1.confidence,
        best_stat.0.service,
        best_stat.0.metric,
        best_stat.1.value / best_stat.1.expected,
        clock(best_stat.1.timestamp / 1000),
        best_stat.1.z,
        best_stat.1.anomaly_score
    );
    println!(
        "  {:<14} {:>10.2}  the first level shift is {}/{}: {:+.4} since {}, confirmed at {} ({} points)",
        "change-point",
        shift_verdict.confidence,
        first.service,
        first.metric,
        first_shift.size,
        clock(first_shift.start / 1000),
        clock(first_shift.detected_at / 1000),
        first_shift.points
    );
    println!(
        "  {:<14} {:>10.2}  root cause {} ({}, {}): {}",
        "root cause",
        rca_confidence,
        top.service,
        top.metric,
        top.category,
        top.reasons.iter().take(2).cloned().collect::<Vec<_>>().join("; ")
    );
    println!(
        "  {:<14} {:>10.2}  most severe: {}/{} at {} ({} of the two streaming analysts agreed)",
        "combined",
        worst.1.confidence,
        worst.0.service,
        worst.0.metric,
        clock(worst.1.timestamp / 1000),
        if worst.2 >= 1.0 { "both" } else { "one" }
    );

    if top.service != "inventory" {
        return Err(format!("the root-cause analyst blamed {}", top.service).into());
    }
    // CUSUM dates a shift from where its sum last left zero: a few minutes early at most.
    if first.service != "inventory" || (onset - BREAK).abs() > 5 * MINUTE {
        return Err(format!("the first shift was {}/{} at {}", first.service, first.metric, clock(onset)).into());
    }
    if severity < 5.0 {
        return Err(format!("a fivefold jump in queries rated only {severity:.1}/10").into());
    }
    Ok(())
}
