//! Every detector of `oddsight_detectors::NAMES`, built through `AnyDetector` with arbitrary but
//! bounded parameters, fed an arbitrary sequence of operations on (timestamp, value) points.
//!
//! Invariants: nothing panics; every verdict's fields are in their documented ranges; `score`
//! never mutates; a refused point or batch leaves the state untouched; batches give what the
//! streaming loop gives; a snapshot restores to an equal detector that judges identically.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use oddsight_core::{Detector, Point};
use oddsight_detectors::AnyDetector;
use oddsight_fuzz::{check_verdict, next_timestamp, points, same_state, same_verdict, spec, value};

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let text = spec(u)?;
    let Ok(mut d) = AnyDetector::parse(&text) else { return Ok(()) };
    let mut last = 0i64;
    // Enough points to get past every warm-up now and then, without making one run slow.
    let ops = u.int_in_range(0..=400u16)?;
    for _ in 0..ops {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0..=15u8)? {
            0 => {
                let p = Point::new(next_timestamp(u, last)?, value(u)?);
                let before = d.clone();
                if let Ok(v) = d.score(p) {
                    check_verdict(&v, &text);
                }
                assert!(same_state(&d, &before), "{text}: score mutated the detector");
            }
            1 => {
                let p = Point::new(next_timestamp(u, last)?, value(u)?);
                let before = d.clone();
                match d.update(p) {
                    Ok(()) => last = last.max(p.timestamp),
                    Err(_) => assert!(same_state(&d, &before), "{text}: a refused update changed the detector"),
                }
            }
            2 => {
                let mut t = last;
                let batch = points(u, &mut t, 40)?;
                let (ts, vs): (Vec<i64>, Vec<f64>) = batch.iter().map(|p| (p.timestamp, p.value)).unzip();
                let before = d.clone();
                match d.observe_batch(&ts, &vs) {
                    Ok(verdicts) => {
                        let mut looped = before;
                        for (p, v) in batch.iter().zip(&verdicts) {
                            check_verdict(v, &text);
                            let w = looped.observe(*p).expect("a point the batch accepted");
                            assert!(same_verdict(v, &w), "{text}: batch and loop disagree at {p:?}: {v:?} vs {w:?}");
                        }
                        assert!(same_state(&d, &looped), "{text}: batch and loop end in different states");
                        if let Some(p) = batch.last() {
                            last = last.max(p.timestamp);
                        }
                    }
                    Err(_) => assert!(same_state(&d, &before), "{text}: a refused batch changed the detector"),
                }
            }
            3 => {
                let mut t = last;
                let batch = points(u, &mut t, 20)?;
                let before = d.clone();
                match d.rebaseline(&batch) {
                    Ok(()) => {
                        if let Some(l) = d.last_timestamp() {
                            last = last.max(l);
                        }
                    }
                    Err(_) => assert!(same_state(&d, &before), "{text}: a refused rebaseline changed the detector"),
                }
            }
            4 => {
                let snap = d.snapshot().expect("a detector always serialises");
                let back = AnyDetector::restore(&snap).unwrap_or_else(|e| panic!("{text}: own snapshot refused: {e}"));
                assert!(same_state(&back, &d), "{text}: restored detector differs");
                let p = Point::new(next_timestamp(u, last)?, value(u)?);
                match (d.score(p), back.score(p)) {
                    (Ok(a), Ok(b)) => assert!(same_verdict(&a, &b), "{text}: restored detector judges differently"),
                    (Err(_), Err(_)) => {}
                    (a, b) => panic!("{text}: restored detector disagrees: {a:?} vs {b:?}"),
                }
            }
            5 if u.ratio(1, 8)? => {
                d.reset();
                last = d.last_timestamp().unwrap_or(last);
            }
            _ => {
                let p = Point::new(next_timestamp(u, last)?, value(u)?);
                let before = d.clone();
                match d.observe(p) {
                    Ok(v) => {
                        check_verdict(&v, &text);
                        last = last.max(p.timestamp);
                    }
                    Err(_) => assert!(same_state(&d, &before), "{text}: a refused point changed the detector"),
                }
            }
        }
    }
    Ok(())
}
