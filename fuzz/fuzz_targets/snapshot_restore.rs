//! Snapshot restore from arbitrary text, for every snapshot kind a user restores: any
//! detector, the monitor, an alert policy, and a detector watched by a policy.
//!
//! Invariants: nothing panics; whatever restores can be used (judges points with verdicts in
//! range, ticks) and snapshots again to text that restores to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_core::{AlertPolicy, Detector, Point, Stateful, StrikePolicy, Watch};
use oddsight_detectors::AnyDetector;
use oddsight_detectors::monitor::Monitor;
use oddsight_fuzz::{check_verdict, same_state};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(mut d) = AnyDetector::restore(text) {
        let again = AnyDetector::restore(&d.snapshot().expect("serialises")).expect("own snapshot restores");
        assert!(same_state(&again, &d), "snapshot round trip changed the detector");
        let start = d.last_timestamp().unwrap_or(0);
        for i in 0..16i64 {
            let p = Point::new(start.saturating_add(i * 60_000), 100.0 + i as f64);
            if let Ok(v) = d.observe(p) {
                check_verdict(&v, "restored detector");
            }
        }
    }
    if let Ok(mut m) = Monitor::from_snapshot(text) {
        let snap = m.to_snapshot().expect("serialises");
        let again = Monitor::from_snapshot(&snap).expect("own snapshot restores");
        assert_eq!(again.to_snapshot().expect("serialises"), snap, "snapshot round trip changed the monitor");
        for i in 0..8i64 {
            let _ = m.ingest("m{service=\"a\"}", i * 60_000, 1.0 + i as f64);
            let _ = m.tick(i * 60_000);
        }
    }
    if let Ok(mut p) = StrikePolicy::from_snapshot(text) {
        let again = StrikePolicy::from_snapshot(&p.to_snapshot().expect("serialises")).expect("own snapshot restores");
        assert_eq!(again, p, "snapshot round trip changed the policy");
        let _ = p.resolve(0);
    }
    if let Ok(mut w) = Watch::<AnyDetector, StrikePolicy>::from_snapshot(text) {
        let start = w.detector().last_timestamp().unwrap_or(0);
        for i in 0..16i64 {
            if let Ok(step) = w.push(Point::new(start.saturating_add(i * 60_000), 100.0 + i as f64)) {
                check_verdict(&step.verdict, "restored watch");
            }
        }
        let _ = w.policy().open_alert();
    }
});
