//! Log anomalies for an incident: a few thousand seeded log lines of a shop (checkout,
//! payment, inventory and cart services) through which a slow-down, an error burst, a memory
//! climb and some odd messages pass. The log detector learns from the lines themselves and
//! prints each anomaly with its type, confidence and the features that drove it, then how
//! the findings compare with what was injected.
//!
//! Run: `cargo run --release -p oddsight-examples --example logs`

use oddsight_detectors::logs::synth::{IncidentLogParams, label_counts, short};
use oddsight_detectors::logs::{AnomalyType, LogDetectorParams, LogFormat, LogParser, LogRecord};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let logs = IncidentLogParams::default().lines(5000).seed(42).generate()?;
    let started = Instant::now();
    let format = LogFormat::detect(logs.text.as_bytes()).ok_or("unknown format")?;
    let (indexed, report) = LogParser::new(format).parse_all(logs.text.as_bytes());
    let records: Vec<LogRecord<'_>> = indexed.iter().map(|(_, r)| r.clone()).collect();
    let detector = LogDetectorParams::default().fit(&records)?;
    let verdicts = detector.score_records(&records)?;
    let took = started.elapsed();
    println!(
        "{} lines ({format}), {} malformed; learned and judged in {:.1} ms\n",
        report.lines,
        report.malformed,
        took.as_secs_f64() * 1e3
    );
    println!("{:>5}  {:<11} {:>5}  {:<9} {:<58} drivers (robust z)", "line", "type", "conf", "service", "message");
    let mut found = [0usize; 4];
    let mut hits = [0usize; 4];
    for ((index, record), verdict) in indexed.iter().zip(&verdicts) {
        let Some(kind) = verdict.anomaly_type else { continue };
        found[kind as usize] += 1;
        if logs.labels[*index] == Some(kind) {
            hits[kind as usize] += 1;
        }
        let drivers: Vec<String> =
            verdict.drivers(2.0).iter().take(3).map(|e| format!("{} {:+.1}", e.feature, e.z)).collect();
        println!(
            "{index:>5}  {:<11} {:>5.2}  {:<9} {:<58} {}",
            kind.as_str(),
            verdict.confidence,
            record.service.as_deref().unwrap_or("-"),
            short(&record.message, 56),
            drivers.join(", ")
        );
    }
    let injected = label_counts(&logs.labels);
    println!("\ntype         injected  reported  of them injected as that type");
    for t in [AnomalyType::Performance, AnomalyType::Memory, AnomalyType::Error, AnomalyType::Pattern] {
        let k = t as usize;
        println!("{:<12} {:>8}  {:>8}  {:>8}", t.as_str(), injected[k], found[k], hits[k]);
    }
    Ok(())
}
