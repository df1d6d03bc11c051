//! The Rust side of `benches/compare/compare.py` for streaming univariate scoring: reads a
//! series the script wrote, observes it point by point with a detector built from a
//! specification, and reports how long that took.
//!
//! ```text
//! cargo run --release -p oddsight-benches --example compare_stream -- \
//!     SPEC VALUES.f64 TIMESTAMPS.i64 REPEATS SCORES.f64
//! ```
//!
//! `VALUES.f64` and `TIMESTAMPS.i64` hold the series as raw little-endian `f64` values and `i64`
//! Unix milliseconds. Each of `REPEATS` runs builds a fresh detector from `SPEC` and observes the
//! whole series point by point with `observe` (judge each point against the ones before it, then
//! learn it), keeping each verdict's anomaly score and decision, as a streaming caller does; only
//! that loop is timed, on the thread's CPU clock and on the wall clock. The last run's verdicts
//! go to `SCORES.f64`: `n` anomaly scores followed by `n` decisions (`1.0` where
//! `is_anomaly`, else `0.0`). Prints one JSON object: `{"cpu_s": [...], "wall_s": [...]}`.

use criterion::measurement::Measurement;
use oddsight_benches::ThreadTime;
use oddsight_core::{Detector, Point};
use oddsight_detectors::AnyDetector;
use std::process::ExitCode;
use std::time::Instant;

fn read_f64(path: &str) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if bytes.len() % 8 != 0 {
        return Err(format!("{path}: {} bytes is not a whole number of 8-byte values", bytes.len()));
    }
    Ok(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
}

fn read_i64(path: &str) -> Result<Vec<i64>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if bytes.len() % 8 != 0 {
        return Err(format!("{path}: {} bytes is not a whole number of 8-byte values", bytes.len()));
    }
    Ok(bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
}

fn run(args: &[String]) -> Result<(), String> {
    let [spec, values, timestamps, repeats, out] = args else {
        return Err("usage: compare_stream SPEC VALUES.f64 TIMESTAMPS.i64 REPEATS SCORES.f64".into());
    };
    let values = read_f64(values)?;
    let timestamps = read_i64(timestamps)?;
    if values.len() != timestamps.len() {
        return Err(format!("{} values but {} timestamps", values.len(), timestamps.len()));
    }
    let repeats: usize = repeats.parse().map_err(|_| format!("REPEATS must be a positive integer, got {repeats}"))?;
    if repeats == 0 {
        return Err("REPEATS must be a positive integer, got 0".into());
    }
    let clock = ThreadTime;
    let (mut cpu, mut wall) = (Vec::with_capacity(repeats), Vec::with_capacity(repeats));
    let mut last = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let mut detector = AnyDetector::parse(spec).map_err(|e| format!("{spec}: {e}"))?;
        let mut scores = Vec::with_capacity(values.len());
        let mut flags = Vec::with_capacity(values.len());
        let (cpu_start, wall_start) = (clock.start(), Instant::now());
        for (&t, &v) in timestamps.iter().zip(&values) {
            let verdict = detector.observe(Point::new(t, v)).map_err(|e| e.to_string())?;
            scores.push(verdict.anomaly_score);
            flags.push(verdict.is_anomaly);
        }
        cpu.push(clock.end(cpu_start).as_secs_f64());
        wall.push(wall_start.elapsed().as_secs_f64());
        last = (scores, flags);
    }
    let mut bytes = Vec::with_capacity(last.0.len() * 16);
    for s in &last.0 {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    for &f in &last.1 {
        bytes.extend_from_slice(&f64::from(u8::from(f)).to_le_bytes());
    }
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    let list = |xs: &[f64]| xs.iter().map(|x| format!("{x:.9}")).collect::<Vec<_>>().join(", ");
    println!("{{\"cpu_s\": [{}], \"wall_s\": [{}]}}", list(&cpu), list(&wall));
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare_stream: {e}");
            ExitCode::from(2)
        }
    }
}
