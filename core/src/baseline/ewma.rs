use super::ScaleFloor;
use crate::error::{Result, check, finite};
use crate::snapshot::{Stateful, ensure, ensure_finite};
use crate::traits::{Baseline, Expectation, LevelShift};
use crate::types::Point;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Parameters of an [`EwmaBaseline`].
///
/// ```
/// use oddsight_core::{Baseline, EwmaParams, Point};
/// let mut b = EwmaParams::default().alpha(0.1).warmup(5).build()?;
/// for (i, v) in [10.0, 11.0, 9.0, 10.0, 10.5, 9.5].into_iter().enumerate() {
///     b.update(Point::new(i as i64 * 60_000, v))?;
/// }
/// let e = b.expect(6 * 60_000);
/// assert!(e.warm && (e.center - 10.0).abs() < 0.5);
/// assert!(EwmaParams::default().alpha(1.5).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EwmaParams {
    /// Smoothing factor in (0, 1]: weight of the newest point. Default 0.05 (≈ the last 40 points).
    pub alpha: f64,
    /// Points needed before the baseline is warm. Default 30.
    pub warmup: u64,
    /// Spread floor.
    pub floor: ScaleFloor,
}

impl Default for EwmaParams {
    fn default() -> Self {
        EwmaParams { alpha: 0.05, warmup: 30, floor: ScaleFloor::default() }
    }
}

impl EwmaParams {
    /// Sets `alpha`.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Sets `warmup`.
    pub fn warmup(mut self, warmup: u64) -> Self {
        self.warmup = warmup;
        self
    }
    /// Sets the spread floor.
    pub fn floor(mut self, floor: ScaleFloor) -> Self {
        self.floor = floor;
        self
    }
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        check::half_open_unit("alpha", self.alpha)?;
        self.floor.validate()
    }
    /// Builds the baseline.
    ///
    /// # Errors
    /// As [`EwmaParams::validate`].
    pub fn build(self) -> Result<EwmaBaseline> {
        self.validate()?;
        Ok(EwmaBaseline { params: self, mean: 0.0, var: 0.0, n: 0 })
    }
}

/// Exponentially weighted mean and variance. O(1) time, 56 bytes.
///
/// The first `1/alpha` points are averaged with equal weights (so early estimates are not
/// biased toward the first point), after which weights decay by `1 - alpha` per point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EwmaBaseline {
    params: EwmaParams,
    mean: f64,
    var: f64,
    n: u64,
}

impl EwmaBaseline {
    /// Current mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }
    /// Current (unfloored) standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.var.sqrt()
    }
    /// The parameters it was built with.
    pub fn params(&self) -> &EwmaParams {
        &self.params
    }

    /// Learns a value already known to be finite. The hot loop of every EWMA detector.
    #[inline]
    pub fn learn(&mut self, x: f64) {
        let a = weight(self.params.alpha, self.n);
        let d = x - self.mean;
        let inc = a * d;
        self.mean += inc;
        self.var = (1.0 - a) * (self.var + d * inc);
        self.n += 1;
    }

    /// The z-score of `x` against the current state, floored spread. The other half of the hot
    /// loop.
    #[inline]
    pub fn z(&self, x: f64) -> f64 {
        let (s, _) = self.params.floor.apply(self.var.sqrt(), self.mean);
        (x - self.mean) / s
    }
}

/// The weight of the next point after `n`: `max(alpha, 1 / (n + 1))`.
///
/// Once `(n + 1) · alpha` clears 1 by a few ulps, `1 / (n + 1)` rounds below `alpha` and the
/// answer is `alpha`; testing that with a product spares the hot loop a division (the margin
/// covers the product's rounding, so the shortcut never changes the result).
#[inline]
pub(crate) fn weight(alpha: f64, n: u64) -> f64 {
    let next = n as f64 + 1.0;
    if next * alpha >= 1.0 + 4.0 * f64::EPSILON { alpha } else { alpha.max(1.0 / next) }
}

impl Baseline for EwmaBaseline {
    fn update(&mut self, point: Point) -> Result<()> {
        self.learn(finite("value", point.value)?);
        Ok(())
    }

    fn expect(&self, _timestamp: i64) -> Expectation {
        let (scale, floored) = self.params.floor.apply(self.var.sqrt(), self.mean);
        Expectation {
            center: self.mean,
            scale,
            count: self.n,
            min_count: self.params.warmup.max(1),
            warm: self.n >= self.params.warmup.max(1),
            floored,
            fallback: false,
            source: Cow::Borrowed("ewma"),
        }
    }

    fn shift(&mut self, shift: LevelShift) {
        self.mean = shift.apply(self.mean);
        if let LevelShift::Scale(r) = shift {
            self.var *= r * r;
        }
    }

    fn reset(&mut self) {
        self.mean = 0.0;
        self.var = 0.0;
        self.n = 0;
    }

    fn count(&self) -> u64 {
        self.n
    }
}

impl Stateful for EwmaBaseline {
    fn kind() -> String {
        "EwmaBaseline".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        ensure_finite("EwmaBaseline", [&self.mean, &self.var])?;
        ensure(self.var >= 0.0, || format!("variance must be >= 0, got {}", self.var))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_shortcut_is_exact() {
        let mut alphas = vec![1.0, 0.5, 0.3, 0.1, 0.05, 0.01, 1e-3, 1.0 / 3.0, 1.0 / 7.0, 0.999_999, 1e-6];
        alphas.extend((1..200).map(|k| 1.0 / k as f64));
        alphas.extend((1..200).map(|k| 1.0 / k as f64 + f64::EPSILON));
        alphas.extend((2..200).map(|k| 1.0 / k as f64 - f64::EPSILON / 4.0));
        for &alpha in &alphas {
            let horizon = (4.0 / alpha) as u64 + 10;
            for n in (0..horizon).chain([u64::MAX / 2, u64::MAX - 1]) {
                let want = alpha.max(1.0 / (n as f64 + 1.0));
                assert_eq!(weight(alpha, n).to_bits(), want.to_bits(), "alpha {alpha}, n {n}");
            }
        }
    }
}
