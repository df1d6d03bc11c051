//! Which detector the command line builds from `--detector SPEC`.
//!
//! [`build_detector`] is the one place the `oddsight` program turns a specification into a
//! detector: any name of [`oddsight_detectors::NAMES`] with parameters, in the grammar of
//! [`oddsight_detectors::spec`] (`mad(window=720)`, `ensemble(seasonal, mad, cusum)`), or its JSON
//! form.

use oddsight_core::Detector;
use oddsight_detectors::AnyDetector;

/// The specification used when `--detector` is not given: the library's default detector.
pub const DEFAULT_SPEC: &str = "default";

/// Builds a fresh detector from a specification such as `mad` or `ewma(alpha=0.1)`.
///
/// # Errors
/// A one-line message naming the problem: unparsable specification, unknown detector,
/// unknown or out-of-range parameter.
pub fn build_detector(spec: &str) -> Result<Box<dyn Detector>, String> {
    AnyDetector::parse(spec).map(|d| Box::new(d) as Box<dyn Detector>).map_err(|e| e.to_string().replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oddsight_core::Point;

    #[test]
    fn builds_and_rejects() {
        for spec in ["ewma", "mad", "ewma(alpha=0.2, warmup=5)", "mad(window=60)", "ensemble(mad, cusum)", DEFAULT_SPEC]
        {
            let mut d = build_detector(spec).unwrap();
            // 400 points: past every detector's warm-up, the default's included.
            for i in 0..400 {
                d.observe(Point::new(i, (i % 7) as f64)).unwrap();
            }
            assert!(d.observe(Point::new(400, 1000.0)).unwrap().anomaly_score > 0.5, "{spec}");
        }
        for spec in ["", "nope", "ewma(alpha=2)", "ewma(beta=1)", "mad(window=0)", "mad(ewma)", "ewma("] {
            let e = build_detector(spec).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(build_detector("nope").unwrap_err().contains("ewma, window, mad"));
    }
}
