//! The Rust half of the Node suite's cross-language tests, run by `test/rust.js`.
//!
//! With no argument it prints test vectors made by the Rust library: inputs, the scores Rust
//! gives them, the snapshots Rust writes, and the verdict the detector gives next; the Node
//! tests check that the addon gives the same scores bit for bit and restores these snapshots.
//! With `restore T V` it restores a snapshot from standard input (one written by the addon),
//! scores the point (T, V) and prints the verdict and its own snapshot.

use oddsight_core::{Detector, Point};
use oddsight_detectors::AnyDetector;
use serde_json::{Value, json};

const SPECS: &[&str] = &[
    "default",
    "ewma(warmup=5)",
    "mad(window=30, warmup=10)",
    "seasonal(period=1d, bucket=1h, min_samples=2)",
    "ensemble(mad, cusum, combine=max)",
];

/// A seeded series: a daily-ish wave with noise, two spikes and a level shift; timestamps one
/// minute apart with a few repeats.
fn series(seed: u64, n: usize) -> (Vec<i64>, Vec<f64>) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut t = 1_700_000_000_000i64;
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for i in 0..n {
        if i % 37 != 5 {
            t += 60_000;
        }
        let wave = 10.0 * (i as f64 / 60.0 * std::f64::consts::TAU).sin();
        let spike = if i == n / 2 || i == n / 3 { 80.0 } else { 0.0 };
        let shift = if i > 3 * n / 4 { 25.0 } else { 0.0 };
        ts.push(t);
        vs.push(100.0 + wave + spike + shift + 4.0 * (next() - 0.5));
    }
    (ts, vs)
}

fn vectors() -> Value {
    let mut cases = Vec::new();
    for (k, spec) in SPECS.iter().enumerate() {
        let (ts, vs) = series(k as u64 + 1, 400);
        let mut d = AnyDetector::parse(spec).expect("spec");
        let scores: Vec<f64> =
            ts.iter().zip(&vs).map(|(&t, &v)| d.observe(Point::new(t, v)).expect("observe").anomaly_score).collect();
        let snapshot = d.snapshot().expect("snapshot");
        let next = Point::new(ts[ts.len() - 1] + 60_000, vs[vs.len() - 1] + 40.0);
        let verdict = d.score(next).expect("score");
        cases.push(json!({
            "spec": spec,
            "timestamps": ts,
            "values": vs,
            "scores": scores,
            "snapshot": snapshot,
            "next": { "timestamp": next.timestamp, "value": next.value, "verdict": verdict },
        }));
    }
    // A seasonal aggregate whose last interval was flushed: a later point that still falls in
    // that interval is a late event (flush is not part of the streaming verbs).
    let mut agg = AnyDetector::parse("seasonal_agg(interval=1m)").expect("spec");
    for i in 0..10i64 {
        agg.update(Point::new(i * 20_000, 1.0 + i as f64)).expect("update");
    }
    let AnyDetector::SeasonalAggregate(inner) = &mut agg else { panic!("seasonal_agg builds a SeasonalAggregate") };
    assert!(inner.flush().is_some(), "an open interval to flush");
    json!({
        "cases": cases,
        "late_event": { "snapshot": agg.snapshot().expect("snapshot"), "timestamp": 190_000, "value": 1.0 },
    })
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.as_slice() {
        [] => vectors(),
        [cmd, t, v] if cmd == "restore" => match restore(t, v) {
            Ok(out) => out,
            Err(e) => {
                eprintln!("vectors: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("usage: vectors                     print the test vectors as JSON");
            eprintln!("       vectors restore T V < SNAP  restore a snapshot, score (T, V), snapshot again");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{out}");
    std::process::ExitCode::SUCCESS
}

/// Restores the snapshot on standard input, scores one point with it, and writes the verdict
/// and the detector's own snapshot: the Rust half of a snapshot made in JavaScript.
fn restore(t: &str, v: &str) -> Result<Value, String> {
    let mut snapshot = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut snapshot).map_err(|e| e.to_string())?;
    let d = AnyDetector::restore(snapshot.trim_end()).map_err(|e| format!("{}: {e}", e.code()))?;
    let t: i64 = t.parse().map_err(|e| format!("timestamp: {e}"))?;
    let v: f64 = v.parse().map_err(|e| format!("value: {e}"))?;
    let verdict = d.score(Point::new(t, v)).map_err(|e| e.to_string())?;
    Ok(json!({ "verdict": verdict, "snapshot": d.snapshot().map_err(|e| e.to_string())? }))
}
