//! Detector specifications (`oddsight_detectors::spec`), in the string grammar and the JSON
//! form, and the detectors `AnyDetector` builds from them.
//!
//! Invariants: nothing panics; a parsed specification prints to text that parses back to the
//! same specification, and its JSON form parses back to it too; a detector built from a
//! specification judges the points it accepts with verdicts in range and round-trips through its snapshot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_core::{Detector, Point};
use oddsight_detectors::AnyDetector;
use oddsight_detectors::spec::DetectorSpec;
use oddsight_fuzz::{check_verdict, same_state};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(spec) = DetectorSpec::parse(&text) {
        let printed = spec.to_string();
        let again = DetectorSpec::parse(&printed).unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
        assert_eq!(again, spec, "{text:?} printed as {printed:?} reads back differently");
    }
    let Ok(spec) = DetectorSpec::from_json(&text) else { return };
    let json = spec.to_json();
    let again = DetectorSpec::from_json(&json).unwrap_or_else(|e| panic!("{text:?} as JSON {json:?}: {e}"));
    assert_eq!(again, spec, "{text:?} as JSON {json:?} reads back differently");

    let Ok(mut d) = AnyDetector::from_spec(&spec) else { return };
    for i in 0..64i64 {
        let p = Point::new(i * 60_000, 100.0 + ((i * 7919) % 13) as f64 + if i == 60 { 80.0 } else { 0.0 });
        // A refusal is fine (an error ratio of 100 is out of range); a verdict must be in range.
        if let Ok(v) = d.observe(p) {
            check_verdict(&v, &text);
        }
    }
    let snap = d.snapshot().expect("a detector always serialises");
    let back = AnyDetector::restore(&snap).unwrap_or_else(|e| panic!("{text:?}: own snapshot refused: {e}"));
    assert!(same_state(&back, &d), "{text:?}: restored detector differs");
});
