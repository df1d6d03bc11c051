//! Verification after an action: is a signal back inside its normal band?
//!
//! "Normal" is what the core detectors call normal: a
//! [`BaselineDetector`]`<`[`QuantileWindow`]`, `[`ZScore`]`>` learns the signal's pre-incident
//! window (median and `1.4826 × MAD`, with the core's wider fallbacks and floor for
//! near-constant series; the floor is the ranking's relative floor and the data's resolution),
//! then judges every value of the verification window without learning it. The signal has
//! recovered when the 75th percentile of those `|z|` is below the ranking's `anomalous_z` —
//! the same statistic, on the same scale, that made the ranking call it anomalous — over at
//! least `min_samples` values. No data is not a recovery.
//!
//! ```
//! use oddsight_investigate::verify::check_signal;
//! let baseline: Vec<f64> = (0..60).map(|i| 100.0 + (i % 7) as f64).collect();
//! let fine = check_signal("cart", "latency_p95", &baseline, &[101.0, 104.0, 103.0, 99.0], 3.0, 0.01, 3);
//! assert!(fine.recovered);
//! let still_bad = check_signal("cart", "latency_p95", &baseline, &[150.0, 160.0, 103.0, 155.0], 3.0, 0.01, 3);
//! assert!(!still_bad.recovered);
//! assert_eq!(still_bad.outside, 3);
//! ```

use oddsight_core::{
    Baseline, BaselineDetector, Detector, DetectorParams, Point, QuantileWindow, QuantileWindowParams, ScaleFloor,
    Scorer, ZScore, scale,
};
use serde::{Deserialize, Serialize};

/// The verdict on one signal over a verification window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalCheck {
    /// The service.
    pub service: String,
    /// The metric.
    pub metric: String,
    /// Finite values judged.
    pub samples: usize,
    /// The pre-incident median (the detector's expectation).
    pub normal_median: f64,
    /// The pre-incident robust scale (the detector's expectation).
    pub normal_scale: f64,
    /// The normal band: `normal_median ± band_z × normal_scale`.
    pub band: (f64, f64),
    /// 75th percentile of `|z|` over the window; `None` without samples.
    pub z_p75: Option<f64>,
    /// Values outside the band.
    pub outside: usize,
    /// Whether the signal is back to normal.
    pub recovered: bool,
}

/// A detector that has learned `baseline` (non-finite values skipped), or `None` when it has
/// no finite value. `relative_floor` is the spread floor relative to the median; the data's
/// resolution (the smallest gap between distinct values) is the absolute floor.
pub fn baseline_detector(
    baseline: &[f64],
    relative_floor: f64,
    band_z: f64,
) -> Option<BaselineDetector<QuantileWindow, ZScore>> {
    let mut finite: Vec<f64> = baseline.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    let mut sorted = finite.clone();
    sorted.sort_by(f64::total_cmp);
    let quantum = sorted.windows(2).map(|p| p[1] - p[0]).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min);
    let absolute = if quantum.is_finite() { quantum.max(1e-9) } else { 1e-9 };
    let window = QuantileWindowParams::default()
        .window(finite.len().clamp(1, 1_000_000))
        .warmup(1)
        .floor(ScaleFloor::new(absolute, relative_floor.max(0.0)))
        .build()
        .ok()?;
    let band_z = if band_z.is_finite() && band_z > 0.0 { band_z } else { 3.0 };
    let threshold = scale::anomaly_score(band_z).clamp(1e-6, 1.0 - 1e-6);
    let params = DetectorParams::default().band_z(band_z).threshold(threshold);
    let mut d = BaselineDetector::new(window, ZScore, params).ok()?;
    finite.truncate(1_000_000);
    for v in finite {
        d.update(Point::new(0, v)).ok()?;
    }
    Some(d)
}

/// Judges `window` against a detector trained on `baseline` (see the [module docs](self)).
pub fn check_signal(
    service: &str,
    metric: &str,
    baseline: &[f64],
    window: &[f64],
    anomalous_z: f64,
    relative_floor: f64,
    min_samples: usize,
) -> SignalCheck {
    let mut check = SignalCheck {
        service: service.into(),
        metric: metric.into(),
        samples: 0,
        normal_median: f64::NAN,
        normal_scale: f64::NAN,
        band: (f64::NAN, f64::NAN),
        z_p75: None,
        outside: 0,
        recovered: false,
    };
    let Some(detector) = baseline_detector(baseline, relative_floor, anomalous_z) else { return check };
    let expected = detector.baseline().expect(0);
    check.normal_median = expected.center;
    check.normal_scale = expected.scale;
    check.band = ZScore.band(&expected, detector.params().band_z);
    let mut absz = Vec::new();
    for &v in window.iter().filter(|v| v.is_finite()) {
        let Ok(verdict) = detector.score(Point::new(0, v)) else { continue };
        check.outside += usize::from(v < verdict.lower || v > verdict.upper);
        absz.push(verdict.z.abs());
    }
    check.samples = absz.len();
    if !absz.is_empty() {
        absz.sort_by(f64::total_cmp);
        let h = (absz.len() - 1) as f64 * 0.75;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(absz.len() - 1);
        check.z_p75 = Some(absz[lo] + (h - lo as f64) * (absz[hi] - absz[lo]));
    }
    check.recovered = check.samples >= min_samples.max(1) && check.z_p75.is_some_and(|z| z < anomalous_z);
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(n: usize) -> Vec<f64> {
        // Deterministic noise around 100 with a robust scale of about 1.5.
        (0..n).map(|i| 100.0 + ((i * 37) % 11) as f64 * 0.5 - 2.5).collect()
    }

    #[test]
    fn the_band_is_the_detectors() {
        let base = noisy(120);
        let c = check_signal("s", "m", &base, &[100.0], 3.0, 0.01, 1);
        let mut sorted = base.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        assert!((c.normal_median - median).abs() < 1e-9);
        assert!((c.band.0 - (c.normal_median - 3.0 * c.normal_scale)).abs() < 1e-9);
        assert!((c.band.1 - (c.normal_median + 3.0 * c.normal_scale)).abs() < 1e-9);
        // Just inside and just outside the band, by the detector's own scale.
        let s = c.normal_scale;
        let inside = vec![median + 2.5 * s; 10];
        let outside = vec![median + 3.5 * s; 10];
        assert!(check_signal("s", "m", &base, &inside, 3.0, 0.01, 3).recovered);
        let bad = check_signal("s", "m", &base, &outside, 3.0, 0.01, 3);
        assert!(!bad.recovered);
        assert_eq!(bad.outside, 10);
        assert!((bad.z_p75.unwrap() - 3.5).abs() < 1e-6);
        // Downward deviations count as much as upward ones.
        assert!(!check_signal("s", "m", &base, &[median - 3.5 * s; 10], 3.0, 0.01, 3).recovered);
    }

    #[test]
    fn a_few_stragglers_do_not_fail_a_recovery_but_a_quarter_does() {
        let base = noisy(120);
        let c = check_signal("s", "m", &base, &[100.0], 3.0, 0.01, 1);
        let far = c.normal_median + 10.0 * c.normal_scale;
        let mut w = vec![100.0; 20];
        w[..4].fill(far); // 20 %
        assert!(check_signal("s", "m", &base, &w, 3.0, 0.01, 3).recovered);
        w[..6].fill(far); // 30 %
        assert!(!check_signal("s", "m", &base, &w, 3.0, 0.01, 3).recovered);
    }

    #[test]
    fn no_data_is_not_a_recovery() {
        let base = noisy(60);
        let c = check_signal("s", "m", &base, &[], 3.0, 0.01, 3);
        assert!(!c.recovered && c.samples == 0 && c.z_p75.is_none());
        assert!(!check_signal("s", "m", &base, &[100.0, f64::NAN, 100.0], 3.0, 0.01, 3).recovered, "two finite values");
        assert!(!check_signal("s", "m", &[], &[100.0; 5], 3.0, 0.01, 3).recovered, "no baseline");
        assert!(!check_signal("s", "m", &[f64::NAN], &[100.0; 5], 3.0, 0.01, 3).recovered);
    }

    #[test]
    fn integer_gauges_use_their_resolution() {
        // A connection pool that sat at 10 with the odd 11: the MAD is zero.
        let base: Vec<f64> = (0..60).map(|i| if i % 10 == 0 { 11.0 } else { 10.0 }).collect();
        let back = check_signal("db", "conn_pool", &base, &[10.0, 11.0, 10.0, 10.0], 3.0, 0.01, 3);
        assert!(back.recovered, "{back:?}");
        assert!(back.normal_scale >= 1.0 - 1e-9, "{back:?}");
        assert!(!check_signal("db", "conn_pool", &base, &[50.0; 4], 3.0, 0.01, 3).recovered);
    }
}
