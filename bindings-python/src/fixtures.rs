//! Snapshots made in Rust for the Python tests (`tests/data/rust_snapshots.json`), and the
//! check that Rust still makes exactly them: `tests/test_interop.py` restores each in Python,
//! continues it, and checks that a detector fed the same points in Python writes the same
//! snapshot, byte for byte (so each side restores what the other writes).
//!
//! The file is written when missing, or rewritten with `ODDSIGHT_BLESS=1 cargo test -p
//! oddsight-python` after a deliberate change to a detector's state or behaviour.

use oddsight_core::{Detector, Point};
use oddsight_detectors::AnyDetector;
use serde::{Deserialize, Serialize};

/// One detector's fixture.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Fixture {
    spec: String,
    /// Points fed before the snapshot (the series of `rust_vector` in `tests/conftest.py`).
    n: usize,
    snapshot: String,
    /// Anomaly scores of the continuation after the snapshot (`continuation` below).
    next: Vec<f64>,
}

const SPECS: &[&str] = &["ewma(alpha=0.1, warmup=5)", "mad(window=60, warmup=10)"];
const N: usize = 400;

fn series(n: usize) -> impl Iterator<Item = Point> {
    (0..n).map(|i| {
        let v = 50.0 + (i % 17) as f64 * 0.5 + if i % 97 == 0 { 30.0 } else { 0.0 };
        Point::new(i as i64 * 60_000, v)
    })
}

fn continuation() -> impl Iterator<Item = Point> {
    (0..20).map(|j| Point::new((N + j) as i64 * 60_000, 55.0 + (j % 5) as f64 + if j == 13 { 40.0 } else { 0.0 }))
}

fn make(spec: &str) -> Fixture {
    let mut d = AnyDetector::parse(spec).expect("fixture spec");
    for p in series(N) {
        d.observe(p).expect("fixture point");
    }
    let snapshot = d.snapshot().expect("snapshot");
    let next = continuation().map(|p| d.observe(p).expect("continuation").anomaly_score).collect();
    Fixture { spec: spec.to_string(), n: N, snapshot, next }
}

#[test]
fn rust_snapshots_for_python() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rust_snapshots.json");
    let fresh: Vec<Fixture> = SPECS.iter().map(|s| make(s)).collect();
    let bless = std::env::var_os("ODDSIGHT_BLESS").is_some();
    if bless || !path.exists() {
        let text = serde_json::to_string_pretty(&fresh).expect("json") + "\n";
        std::fs::write(&path, text).expect("write the fixture");
        return;
    }
    let text = std::fs::read_to_string(&path).expect("read the fixture");
    let stored: Vec<Fixture> = serde_json::from_str(&text).expect("fixture json");
    for (s, f) in stored.iter().zip(&fresh) {
        // The stored snapshot still restores, to the state Rust reaches today.
        let restored = AnyDetector::restore(&s.snapshot).unwrap_or_else(|e| {
            panic!(
                "{}: the stored snapshot no longer restores ({e}); if deliberate, rerun with ODDSIGHT_BLESS=1",
                s.spec
            )
        });
        let live = AnyDetector::restore(&f.snapshot).expect("fresh snapshot");
        assert!(
            restored == live && s == f,
            "{}: Rust now writes another snapshot or scores; if deliberate, rerun with ODDSIGHT_BLESS=1",
            s.spec
        );
    }
    assert_eq!(stored.len(), fresh.len(), "fixture list changed; rerun with ODDSIGHT_BLESS=1");
}
