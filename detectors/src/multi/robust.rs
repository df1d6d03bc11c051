//! Robust location and scale that never divide by zero.

use serde::{Deserialize, Serialize};

/// `MAD × 1.4826` estimates a Gaussian standard deviation.
const MAD_TO_SD: f64 = 1.482_602_218_505_602;
/// `IQR / 1.349` estimates a Gaussian standard deviation.
const IQR_TO_SD: f64 = 1.0 / 1.348_979_500_392_163;
/// `mean |x - median| × √(π/2)` estimates a Gaussian standard deviation.
const MEAN_ABS_DEV_TO_SD: f64 = 1.253_314_137_315_500_3;

/// Which estimator produced a [`RobustScale`]: the first of the chain that is not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ScaleMethod {
    /// Median absolute deviation × 1.4826 (the usual case).
    Mad,
    /// Interquartile range ÷ 1.349: more than half the values equal the median.
    Iqr,
    /// Mean absolute deviation from the median × 1.2533: more than three quarters equal it
    /// (counts that are almost all zero).
    MeanAbsDev,
    /// The floor: every value equals the median, or the estimate fell below the floor.
    Floor,
}

/// A robust centre and spread of some values, in their units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RobustScale {
    /// The median.
    pub center: f64,
    /// A standard-deviation equivalent, always `> 0`.
    pub scale: f64,
    /// The estimator that gave `scale`.
    pub method: ScaleMethod,
}

impl RobustScale {
    /// The robust z-score of `value`: `(value - center) / scale`.
    pub fn z(&self, value: f64) -> f64 {
        (value - self.center) / self.scale
    }
}

/// Median and robust scale of `values` (finite, not empty; checked by the callers).
///
/// The scale is the MAD when it is not zero, else the IQR, else the mean absolute deviation
/// from the median, each converted to a Gaussian standard-deviation equivalent; it is never
/// below `min_scale` nor below `1e-9 × max(1, |median|)`, so it is always positive and a value
/// that differs from a constant crowd gets a large but finite z.
pub fn robust_scale(values: &[f64], min_scale: f64) -> RobustScale {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let center = quantile_sorted(&sorted, 0.5);
    let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - center).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let mad = quantile_sorted(&deviations, 0.5) * MAD_TO_SD;
    let (estimate, method) = if mad > 0.0 {
        (mad, ScaleMethod::Mad)
    } else {
        let iqr = (quantile_sorted(&sorted, 0.75) - quantile_sorted(&sorted, 0.25)) * IQR_TO_SD;
        if iqr > 0.0 {
            (iqr, ScaleMethod::Iqr)
        } else {
            let n = deviations.len().max(1) as f64;
            let mean_abs = deviations.iter().sum::<f64>() / n * MEAN_ABS_DEV_TO_SD;
            (mean_abs, ScaleMethod::MeanAbsDev)
        }
    };
    let floor = min_scale.max(1e-9 * center.abs().max(1.0));
    if estimate.is_finite() && estimate >= floor {
        RobustScale { center, scale: estimate, method }
    } else {
        RobustScale { center, scale: floor, method: ScaleMethod::Floor }
    }
}

/// Linearly interpolated quantile of sorted values (0 for none).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_chain() {
        let s = robust_scale(&[1.0, 2.0, 3.0, 4.0, 100.0], 0.0);
        assert_eq!((s.center, s.method), (3.0, ScaleMethod::Mad));
        assert!((s.scale - MAD_TO_SD).abs() < 1e-12);
        // more than half at the median: MAD is 0, IQR is not
        let s = robust_scale(&[0.0, 0.0, 0.0, 0.0, 0.0, 5.0, -5.0, 3.0], 0.0);
        assert_eq!(s.method, ScaleMethod::Iqr);
        // almost all zero: MAD and IQR are 0
        let s = robust_scale(&[0.0; 9].iter().chain(&[4.0]).copied().collect::<Vec<_>>(), 0.0);
        assert_eq!(s.method, ScaleMethod::MeanAbsDev);
        assert!((s.scale - 0.4 * MEAN_ABS_DEV_TO_SD).abs() < 1e-12);
        // all equal: the floor
        let s = robust_scale(&[0.0; 5], 0.0);
        assert_eq!((s.method, s.scale), (ScaleMethod::Floor, 1e-9));
        let s = robust_scale(&[7.0; 5], 0.5);
        assert_eq!((s.method, s.scale, s.z(7.0)), (ScaleMethod::Floor, 0.5, 0.0));
    }
}
