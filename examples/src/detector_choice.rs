//! Which detector the command line builds from `--detector SPEC`.
//!
//! **Integration point.** [`build_detector`] is the one place the `oddsight` program turns a
//! specification into a detector. Until the detectors crate's own builder lands, it knows two
//! detectors itself, reading their parameters through the shared specification grammar
//! ([`oddsight_detectors::spec::DetectorSpec`]):
//!
//! | spec | detector | parameters (defaults) |
//! |---|---|---|
//! | `ewma` | EWMA mean and variance, plain z-score | `alpha` (0.05), `warmup` (30) |
//! | `mad` | sliding median and MAD, robust z-score | `window` (1440 points), `warmup` (30) |
//!
//! Switching to the full catalogue is a change to this function's body only.

use oddsight_core::{BaselineDetector, Detector, DetectorParams, EwmaParams, QuantileWindowParams, ZScore};
use oddsight_detectors::spec::DetectorSpec;

/// The specification used when `--detector` is not given. Until the library's default
/// detector lands this is the EWMA z-score, which of the two scores better on NAB (27.3
/// standard against 0.0 for `mad`, whose MAD collapses on quantised series).
pub const DEFAULT_SPEC: &str = "ewma";

/// The names [`build_detector`] accepts, for help texts.
pub const KNOWN: &[&str] = &["ewma", "mad"];

/// Builds a fresh detector from a specification such as `mad` or `ewma(alpha=0.1)`.
///
/// # Errors
/// A one-line message naming the problem: unparsable specification, unknown detector,
/// unknown or out-of-range parameter.
pub fn build_detector(spec: &str) -> Result<Box<dyn Detector>, String> {
    let parsed = DetectorSpec::parse(spec).map_err(|e| e.to_string())?;
    let bad = |e: &dyn std::fmt::Display| format!("invalid detector spec {spec:?}: {e}");
    parsed.no_members().map_err(|e| bad(&e))?;
    match parsed.name.as_str() {
        "ewma" => {
            parsed.only(&["alpha", "warmup"]).map_err(|e| bad(&e))?;
            let alpha = parsed.number("alpha", 0.05).map_err(|e| bad(&e))?;
            let warmup = parsed.integer("warmup", 30).map_err(|e| bad(&e))?;
            let baseline = EwmaParams::default().alpha(alpha).warmup(warmup).build().map_err(|e| bad(&e))?;
            let detector = BaselineDetector::new(baseline, ZScore, DetectorParams::default()).map_err(|e| bad(&e))?;
            Ok(Box::new(detector))
        }
        "mad" => {
            parsed.only(&["window", "warmup"]).map_err(|e| bad(&e))?;
            let window = parsed.integer("window", 1440).map_err(|e| bad(&e))?;
            let warmup = parsed.integer("warmup", 30).map_err(|e| bad(&e))?;
            let to_usize = |name: &str, v: u64| usize::try_from(v).map_err(|_| bad(&format!("{name} too large")));
            let baseline = QuantileWindowParams::default()
                .window(to_usize("window", window)?)
                .warmup(to_usize("warmup", warmup)?)
                .build()
                .map_err(|e| bad(&e))?;
            let detector = BaselineDetector::new(baseline, ZScore, DetectorParams::default()).map_err(|e| bad(&e))?;
            Ok(Box::new(detector))
        }
        other => Err(format!("unknown detector {other:?} in spec {spec:?}: known detectors are {}", KNOWN.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oddsight_core::Point;

    #[test]
    fn builds_and_rejects() {
        for spec in ["ewma", "mad", "ewma(alpha=0.2, warmup=5)", "mad(window=60)", DEFAULT_SPEC] {
            let mut d = build_detector(spec).unwrap();
            for i in 0..100 {
                d.observe(Point::new(i, (i % 7) as f64)).unwrap();
            }
            assert!(d.observe(Point::new(100, 1000.0)).unwrap().anomaly_score > 0.5, "{spec}");
        }
        for spec in ["", "nope", "ewma(alpha=2)", "ewma(beta=1)", "mad(window=0)", "mad(ewma)", "ewma("] {
            let e = build_detector(spec).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(build_detector("nope").unwrap_err().contains("ewma, mad"));
    }
}
