//! The common scale every oddsight score lives on.
//!
//! Every detector, whatever it measures, reports a signed **z-equivalent**: the number of
//! standard deviations a Gaussian value would have to sit from its mean to be as surprising.
//! From it follow the two-sided **tail probability** `p = P(|Z| ≥ |z|)` and the
//! **anomaly score** in `[0, 1]`:
//!
//! ```text
//! surprise = -log10(p)            anomaly_score = surprise / (surprise + surprise(3σ))
//! ```
//!
//! so `anomaly_score = 0.5` exactly at `|z| = 3` (p ≈ 0.0027). Because the score is built on the
//! *log* of the tail probability it stays well spread near 1: 6σ ≈ 0.77, 10σ ≈ 0.90, 20σ ≈ 0.97,
//! where `1 - p` would already read 1.0 for all three. z-equivalents saturate at ±[`MAX_Z`].
//!
//! ```
//! use oddsight_core::scale;
//! assert!((scale::anomaly_score(3.0) - 0.5).abs() < 1e-9);
//! assert!(scale::anomaly_score(10.0) > scale::anomaly_score(6.0));
//! assert!((scale::p_value(1.959963984540054) - 0.05).abs() < 1e-9);
//! assert!((scale::z_from_p(0.05) - 1.959963984540054).abs() < 1e-6);
//! ```

use crate::Severity;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::erf::erfc;

/// z-equivalents are clamped to `±MAX_Z`, so that scores stay finite however large a deviation
/// (or however small a floored scale) is.
pub const MAX_Z: f64 = 1.0e6;

const LN_10: f64 = std::f64::consts::LN_10;
/// `-log10(P(|Z| ≥ 3))`, the surprise that maps to an anomaly score of 0.5.
const SURPRISE_AT_3: f64 = 2.568_669_040_265_387;

/// Clamps a raw z to `±MAX_Z`, mapping NaN to 0.
#[inline]
pub fn clamp_z(z: f64) -> f64 {
    if z.is_nan() { 0.0 } else { z.clamp(-MAX_Z, MAX_Z) }
}

/// Two-sided tail probability `P(|Z| ≥ |z|)` of a standard normal. Underflows to 0 past |z| ≈ 38.
#[inline]
pub fn p_value(z: f64) -> f64 {
    erfc(clamp_z(z).abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// `-log10` of the two-sided tail probability, exact where `p` is representable and from the
/// asymptotic expansion of the normal tail beyond, so it never becomes infinite.
#[inline]
pub fn surprise(z: f64) -> f64 {
    let a = clamp_z(z).abs();
    if a < 30.0 { surprise_of_p(p_value(a)) } else { tail_surprise(a) }
}

#[inline]
fn surprise_of_p(p: f64) -> f64 {
    if p > 0.0 { -p.log10() } else { 0.0 }
}

/// `-log10 P(|Z| ≥ a)` from the asymptotic expansion `2 φ(a) / a · (1 - 1/a²)`, for large `a`.
#[inline]
fn tail_surprise(a: f64) -> f64 {
    let ln_p = -0.5 * a * a - a.ln() - 0.5 * (std::f64::consts::PI / 2.0).ln() + (1.0 - 1.0 / (a * a)).ln();
    -ln_p / LN_10
}

/// [`p_value`] and [`anomaly_score`] of one z-equivalent together, computing the tail
/// probability once; bit for bit the same as calling both.
///
/// ```
/// use oddsight_core::scale;
/// for z in [0.0, -1.5, 3.0, 8.0, -35.0, f64::NAN] {
///     assert_eq!(scale::p_and_score(z), (scale::p_value(z), scale::anomaly_score(z)));
/// }
/// ```
#[inline]
pub fn p_and_score(z: f64) -> (f64, f64) {
    let p = p_value(z);
    let a = clamp_z(z).abs();
    let s = if a < 30.0 { surprise_of_p(p) } else { tail_surprise(a) };
    (p, s / (s + SURPRISE_AT_3))
}

/// The anomaly score in `[0, 1]` for a z-equivalent; 0.5 at |z| = 3.
#[inline]
pub fn anomaly_score(z: f64) -> f64 {
    let s = surprise(z);
    s / (s + SURPRISE_AT_3)
}

/// The anomaly score for a surprise (`-log10 p`) directly: `s / (s + surprise(3σ))`.
#[inline]
pub fn score_from_surprise(surprise: f64) -> f64 {
    let s = if surprise.is_nan() { 0.0 } else { surprise.max(0.0) };
    s / (s + SURPRISE_AT_3)
}

/// The |z| at which [`anomaly_score`] reaches `score` (the inverse of the score map), for
/// `score` in `[0, 1)`. Used to draw bands at a given score threshold.
pub fn z_for_score(score: f64) -> f64 {
    if score <= 0.0 {
        return 0.0;
    }
    if score >= 1.0 {
        return MAX_Z;
    }
    let s = score * SURPRISE_AT_3 / (1.0 - score);
    let p = 10f64.powf(-s);
    if p > 1e-300 { z_from_p(p) } else { bisect_surprise(s) }
}

fn bisect_surprise(target: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, MAX_Z);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if surprise(mid) < target { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// The |z| whose two-sided tail probability is `p` (`p` clamped to `[1e-300, 1]`).
pub fn z_from_p(p: f64) -> f64 {
    let p = if p.is_nan() { 1.0 } else { p.clamp(1e-300, 1.0) };
    if p >= 1.0 {
        return 0.0;
    }
    match Normal::new(0.0, 1.0) {
        // The lower tail keeps its precision for tiny p, where 1 - p/2 would round to 1.
        Ok(n) => clamp_z(-n.inverse_cdf(p / 2.0)),
        Err(_) => 0.0,
    }
}

/// Severity band for an anomaly score: below 0.5 is [`Severity::Normal`]; then low (|z| ≥ 3),
/// medium (score ≥ 0.65, |z| ≈ 4.2), high (≥ 0.8, |z| ≈ 6.6) and critical (≥ 0.9, |z| ≈ 10).
#[inline]
pub fn severity(score: f64) -> Severity {
    if score >= 0.9 {
        Severity::Critical
    } else if score >= 0.8 {
        Severity::High
    } else if score >= 0.65 {
        Severity::Medium
    } else if score >= 0.5 {
        Severity::Low
    } else {
        Severity::Normal
    }
}

/// The 0–10 severity scale: the anomaly score times ten, to one decimal.
#[inline]
pub fn severity_score(score: f64) -> f64 {
    (score.clamp(0.0, 1.0) * 100.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surprise_is_continuous_at_the_asymptotic_switch() {
        let below = surprise(29.999_999);
        let above = surprise(30.0);
        assert!((below - above).abs() / above < 1e-3, "{below} vs {above}");
    }

    #[test]
    fn score_is_monotone_and_spread() {
        let mut last = -1.0;
        for i in 0..2000 {
            let z = i as f64 * 0.05;
            let s = anomaly_score(z);
            assert!(s >= last && (0.0..1.0).contains(&s), "z={z} s={s}");
            last = s;
        }
        assert!(anomaly_score(20.0) < 0.98 && anomaly_score(20.0) > 0.96);
        assert!(anomaly_score(MAX_Z) < 1.0);
        assert_eq!(anomaly_score(f64::NAN), 0.0);
    }

    #[test]
    fn z_for_score_inverts_the_score() {
        for &z in &[0.5, 1.0, 3.0, 5.0, 12.0, 40.0, 200.0] {
            let back = z_for_score(anomaly_score(z));
            assert!((back - z).abs() / z < 1e-6, "{z} -> {back}");
        }
    }

    #[test]
    fn severity_bands() {
        assert_eq!(severity(anomaly_score(2.9)), Severity::Normal);
        assert_eq!(severity(anomaly_score(3.1)), Severity::Low);
        assert_eq!(severity(anomaly_score(5.0)), Severity::Medium);
        assert_eq!(severity(anomaly_score(8.0)), Severity::High);
        assert_eq!(severity(anomaly_score(12.0)), Severity::Critical);
        assert_eq!(severity_score(0.934), 9.3);
    }
}
