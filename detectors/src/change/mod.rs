//! Level shifts and change points: [`Cusum`] (two-sided CUSUM on robust residuals) and
//! [`Bocpd`] (Bayesian online change-point detection, Adams & MacKay 2007).
//!
//! Both are streaming [`Detector`](oddsight_core::Detector)s. When they decide that the level
//! has changed they say when the change began and by how much, in a [`ShiftReport`] kept by the
//! detector (`last_shift()`) and written into the verdict's `component`, so that
//! [`Verdict::explain`](oddsight_core::Verdict::explain) reads, for example,
//! `… up by cusum: level shift +2.0312 since 1700000060000 (12 points)`.
//!
//! # The common scale
//!
//! Neither statistic is a tail probability, so each is mapped to a z-equivalent that is
//! **anchored at its own alarm level** and grows with the **log-evidence** beyond it:
//!
//! ```text
//! surprise = surprise(3σ) + log10(evidence) − log10(evidence at the alarm level)
//! z        = the |z| whose two-sided tail probability is 10^-surprise, signed by direction
//! ```
//!
//! so the alarm level is exactly |z| = 3 (anomaly score 0.5), and the score keeps rising, well
//! spread near 1, as the evidence for a shift accumulates. For CUSUM the evidence is the
//! likelihood ratio of a shift of `2·drift` standard deviations, `exp(2·drift·S)`; for BOCPD it
//! is the posterior odds that the current run began after the current level was established.

mod bocpd;
mod cusum;

pub use bocpd::{Bocpd, BocpdParams};
pub use cusum::{Cusum, CusumParams};

use oddsight_core::{Direction, Error, Result, scale};
use serde::{Deserialize, Serialize};

/// A confirmed change of level: when it began, when it was confirmed, and its size.
///
/// ```
/// use oddsight_core::{Detector, Direction, Point};
/// use oddsight_detectors::change::CusumParams;
/// let mut d = CusumParams::default().build()?;
/// for i in 0..200 {
///     let level = if i < 150 { 10.0 } else { 4.0 };
///     d.observe(Point::new(i * 60_000, level + (i % 3) as f64 * 0.5))?;
/// }
/// let shift = d.last_shift().expect("a drop of 6 is confirmed");
/// assert_eq!(shift.direction, Direction::Down);
/// assert_eq!(shift.start, 150 * 60_000);
/// assert!(shift.describe("cusum").starts_with("cusum: level shift -6."));
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftReport {
    /// Timestamp of the first point of the new level (for CUSUM, where the cumulative sum last
    /// left zero; for BOCPD, the first point of the most likely new run).
    pub start: i64,
    /// Timestamp of the point at which the shift was confirmed.
    pub detected_at: i64,
    /// Estimated size of the shift, in the series' units (new level minus old level).
    pub size: f64,
    /// Which way the level moved.
    pub direction: Direction,
    /// Points from `start` to `detected_at`, both included.
    pub points: u64,
}

impl ShiftReport {
    /// The text written into a verdict's `component`: `"{detector}: level shift +2.0312 since
    /// 1700000060000 (12 points)"`.
    pub fn describe(&self, detector: &str) -> String {
        format!("{detector}: level shift {:+.4} since {} ({} points)", self.size, self.start, self.points)
    }
}

/// `-log10 P(|Z| ≥ 3)`: the surprise of the common alert level.
pub(crate) const SURPRISE_AT_3: f64 = 2.568_669_040_265_387;

/// Surprises are capped here (a z-equivalent of about 37), so that an overwhelming change
/// still ranks by its evidence up to that point and never overflows.
pub(crate) const MAX_SURPRISE: f64 = 300.0;

/// The |z| whose two-sided normal tail probability is `10^-surprise`. Exact (through the
/// normal quantile) while that probability is representable, by Newton steps on the
/// asymptotic tail beyond. Never NaN; 0 for a surprise ≤ 0.
pub(crate) fn z_from_surprise(surprise: f64) -> f64 {
    if surprise.is_nan() || surprise <= 0.0 {
        return 0.0;
    }
    let s = surprise.min(MAX_SURPRISE);
    if s < 290.0 {
        return scale::z_from_p(10f64.powf(-s));
    }
    // ln P(|Z| ≥ z) ≈ -z²/2 - ln z - ln √(π/2) for large z: solve surprise(z) = s.
    let target = s * std::f64::consts::LN_10;
    let half_ln_pi_2 = 0.5 * (std::f64::consts::PI / 2.0).ln();
    let mut z = (2.0 * target).sqrt();
    for _ in 0..8 {
        let f = 0.5 * z * z + z.ln() + half_ln_pi_2 - target;
        let df = z + 1.0 / z;
        z -= f / df;
    }
    scale::clamp_z(z)
}

/// The anchored z-equivalent: `evidence` is `log10(evidence) − log10(evidence at the alarm
/// level)`, so 0 maps to |z| = 3.
pub(crate) fn anchored_z(log10_evidence_over_alarm: f64) -> f64 {
    z_from_surprise(SURPRISE_AT_3 + log10_evidence_over_alarm)
}

/// `ln(exp(a) + exp(b))` without overflow; `-inf` is the identity.
#[inline]
pub(crate) fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

pub(crate) fn param(name: &'static str, reason: &'static str, value: impl std::fmt::Display) -> Error {
    Error::InvalidParameter { name, reason, value: value.to_string() }
}

pub(crate) fn snapshot_error(reason: impl Into<String>) -> Error {
    Error::Snapshot { reason: reason.into(), source: None }
}

/// The largest magnitude a value may have. Far beyond any telemetry; it guarantees that no
/// sum, square or spread the detectors keep can overflow, so every accepted value leaves a
/// state that snapshots and restores.
pub(crate) const VALUE_LIMIT: f64 = 1e150;

/// Checks a value: finite, and within ±[`VALUE_LIMIT`] (reported as
/// [`Error::NonFinite`], the nearest variant the core offers).
pub(crate) fn check_value(value: f64) -> Result<f64> {
    if !value.is_finite() {
        Err(Error::NonFinite { what: "value", value })
    } else if value.abs() > VALUE_LIMIT {
        Err(Error::NonFinite { what: "value (magnitude above 1e150)", value })
    } else {
        Ok(value)
    }
}

/// Whether a restored quantity derived from values (a level, a deviation) is within reach of
/// accepted values.
pub(crate) fn plausible(x: f64) -> bool {
    x.abs() <= 4.0 * VALUE_LIMIT
}

pub(crate) fn check_order(last: Option<i64>, timestamp: i64) -> Result<()> {
    match last {
        Some(last) if timestamp < last => Err(Error::OutOfOrder { timestamp, last }),
        _ => Ok(()),
    }
}

pub(crate) fn positive(name: &'static str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() { Ok(()) } else { Err(param(name, "must be finite and > 0", v)) }
}

/// Checks a band half-width, in standard deviations: finite, in (0, 100].
pub(crate) fn band_z(v: f64) -> Result<()> {
    if v > 0.0 && v <= 100.0 { Ok(()) } else { Err(param("band_z", "must be in (0, 100]", v)) }
}

/// The band `center ± half_width`, saturated at `±f64::MAX` so that a huge (floored) spread can
/// never make it infinite.
#[inline]
pub(crate) fn band(center: f64, half_width: f64) -> (f64, f64) {
    ((center - half_width).max(-f64::MAX), (center + half_width).min(f64::MAX))
}

pub(crate) fn range_usize(name: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name, reason: "is out of range", value: format!("{v} (allowed {lo}..={hi})") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surprise_constant_matches_the_core_scale() {
        assert!((scale::surprise(3.0) - SURPRISE_AT_3).abs() < 1e-9);
    }

    #[test]
    fn anchored_z_is_three_at_the_alarm_and_monotone() {
        assert!((anchored_z(0.0) - 3.0).abs() < 1e-9);
        let mut last = 0.0;
        for i in 0..4000 {
            let e = -5.0 + i as f64 * 0.1;
            let z = anchored_z(e);
            assert!(z.is_finite() && z >= last, "e={e} z={z} last={last}");
            last = z;
        }
        assert!(anchored_z(1e9) > 30.0 && anchored_z(1e9) < 40.0);
        assert_eq!(anchored_z(f64::NAN), 0.0);
    }

    #[test]
    fn z_from_surprise_inverts_surprise_across_the_switch() {
        for &z in &[0.5, 2.0, 3.0, 8.0, 20.0, 36.0, 36.9] {
            let back = z_from_surprise(scale::surprise(z));
            assert!((back - z).abs() < 1e-6 * z.max(1.0), "{z} -> {back}");
        }
        let below = z_from_surprise(289.999_999);
        let above = z_from_surprise(290.0);
        assert!((below - above).abs() < 1e-3, "{below} vs {above}");
    }

    #[test]
    fn state_sizes() {
        // The "state per series" figures in the detectors' docs quote these; change both
        // together.
        assert_eq!(std::mem::size_of::<Cusum>(), 352);
        assert_eq!(std::mem::size_of::<Bocpd>(), 344);
        assert_eq!(std::mem::size_of::<crate::trend::MannKendall>(), 192);
    }

    #[test]
    fn log_add_exp_is_stable() {
        assert!((log_add_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, -3.0), -3.0);
        assert!((log_add_exp(-1000.0, -1000.0) - (-1000.0 + 2f64.ln())).abs() < 1e-12);
    }
}
