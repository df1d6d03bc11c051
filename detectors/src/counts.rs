//! Count- and ratio-aware detectors: a Poisson detector for (low) event counts and a binomial
//! detector for error ratios with a minimum-volume floor.
//!
//! A z-score treats a count of 3 after a run of zeros as a 10σ event, and an error ratio of
//! 1/2 at 3 am like 500/1000 at noon. The detectors here judge counts as counts: the verdict's
//! z-equivalent comes from the exact tail probability of the observation under the learned
//! rate (via statrs' regularized incomplete gamma and beta functions), converted with
//! [`oddsight_core::scale::z_from_p`], so scores are on the same scale as every other
//! detector's. Far tails are computed in log space, so a burst a hundred times the usual count
//! still ranks above one ten times the usual count instead of both saturating.
//!
//! | detector | input | distribution | state per series |
//! |---|---|---|---|
//! | [`PoissonDetector`] | counts per interval | Poisson, or a negative binomial when the series is overdispersed | 112 bytes |
//! | [`ErrorRatioDetector`] | `(errors, requests)` per interval | binomial, or beta-binomial when overdispersed | 136 bytes |

use crate::stat::{all_finite, check_point, detector_params, invalid, is_gap, median_of, setters, verdict_setters};
use oddsight_core::detector::verdict_from_z;
use oddsight_core::scale::{self, z_from_p};
use oddsight_core::{Detector, DetectorParams, Error, Notes, Point, Result, Stateful, Verdict, check_batch};
use serde::{Deserialize, Serialize};
use statrs::function::beta::checked_beta_reg;
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur, ln_gamma};
use std::borrow::Cow;

/// Which deviations a count detector reports.
///
/// ```
/// use oddsight_detectors::counts::{ErrorRatioParams, Sides};
/// // Error ratios only matter when they rise; an error ratio that falls is good news.
/// assert_eq!(ErrorRatioParams::default().sides, Sides::Upper);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Sides {
    /// Both rises and drops (a drop to zero requests is an outage).
    #[default]
    Both,
    /// Only rises; a drop scores z = 0.
    Upper,
    /// Only drops; a rise scores z = 0.
    Lower,
}

impl Sides {
    #[inline]
    fn keep(self, z: f64) -> f64 {
        match self {
            Sides::Both => z,
            Sides::Upper => z.max(0.0),
            Sides::Lower => z.min(0.0),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tail probabilities, in log space where they underflow
// ---------------------------------------------------------------------------------------------

/// Below this a probability is handled through its logarithm.
const TINY: f64 = 1e-300;

/// The signed z-equivalent of a one-sided tail probability given as its logarithm: the
/// two-sided probability is twice the tail (capped at 1). Past `1e-300` it goes through the
/// core's surprise scale (`-log10 p`), which has no lower limit.
fn z_from_ln_tail(ln_tail: f64, upper: bool) -> f64 {
    if ln_tail.is_nan() {
        // The log-space terms broke down; `or_normal` takes over.
        return f64::NAN;
    }
    let ln_p = (ln_tail + std::f64::consts::LN_2).min(0.0);
    let z = if ln_p == f64::NEG_INFINITY {
        scale::MAX_Z
    } else if ln_p > TINY.ln() {
        z_from_p(ln_p.exp())
    } else {
        let s = -ln_p / std::f64::consts::LN_10;
        let s3 = scale::surprise(3.0);
        scale::z_for_score(s / (s + s3))
    };
    if upper { z } else { -z }
}

/// `ln` of a tail computed directly when it is representable, else from the log-probability of
/// its first term and a geometric bound on the rest (`ratio` is the next term over this one).
fn ln_tail(direct: Option<f64>, ln_first: f64, ratio: f64) -> f64 {
    match direct {
        Some(p) if p > TINY && p <= 1.0 => p.ln(),
        Some(p) if p > 1.0 => 0.0,
        _ => ln_first - (1.0 - ratio.clamp(0.0, 1.0 - 1e-12)).ln(),
    }
}

/// When both the count and the mean exceed this, the Poisson tail comes from the
/// Wilson–Hilferty approximation: accurate to ~0.01 in z there, where the exact series would
/// cost O(√λ) terms. (With one of them small the exact forms converge fast.)
const POISSON_EXACT_LIMIT: f64 = 1000.0;

/// The z of a tail computation, or, if it broke down (counts so large that the log-gamma
/// terms overflow), the normal approximation `(k − mean) / sd`, which is excellent there.
fn or_normal(z: f64, k: f64, mean: f64, var: f64) -> f64 {
    if !z.is_nan() {
        return z;
    }
    let z = (k - mean) / var.sqrt();
    if z.is_nan() { 0.0 } else { z }
}

/// Signed z-equivalent of observing `k` events under a Poisson with mean `lambda > 0`.
fn poisson_z(k: f64, lambda: f64) -> f64 {
    or_normal(poisson_tail_z(k, lambda), k, lambda, lambda)
}

fn poisson_tail_z(k: f64, lambda: f64) -> f64 {
    let upper = k >= lambda;
    if (k + 1.0).min(lambda) > POISSON_EXACT_LIMIT {
        // P(X ≥ k) = P(Gamma(k) ≤ λ) and P(X ≤ k) = P(Gamma(k + 1) ≥ λ); Wilson–Hilferty makes
        // (Gamma(a)/a)^(1/3) normal with mean 1 − 1/(9a) and variance 1/(9a).
        let wh = |a: f64| 3.0 * a.sqrt() * (1.0 - 1.0 / (9.0 * a) - (lambda / a).cbrt());
        return if upper { wh(k.max(1.0)).max(0.0) } else { wh(k + 1.0).min(0.0) };
    }
    let ln_pmf = |k: f64| -lambda + k * lambda.ln() - ln_gamma(k + 1.0);
    if upper {
        if k <= 0.0 {
            return 0.0;
        }
        let direct = checked_gamma_lr(k, lambda).ok();
        z_from_ln_tail(ln_tail(direct, ln_pmf(k), lambda / (k + 1.0)), true)
    } else {
        let direct = checked_gamma_ur(k + 1.0, lambda).ok();
        z_from_ln_tail(ln_tail(direct, ln_pmf(k), k / lambda), false)
    }
}

/// Signed z-equivalent of observing `k` under a negative binomial with `r > 0` and success
/// probability `p` in (0, 1) (mean `r(1 − p)/p`).
fn negative_binomial_z(k: f64, r: f64, p: f64) -> f64 {
    let mean = r * (1.0 - p) / p;
    or_normal(negative_binomial_tail_z(k, r, p, mean), k, mean, mean / p)
}

fn negative_binomial_tail_z(k: f64, r: f64, p: f64, mean: f64) -> f64 {
    let ln_pmf = |k: f64| ln_gamma(k + r) - ln_gamma(r) - ln_gamma(k + 1.0) + r * p.ln() + k * (1.0 - p).ln();
    if k >= mean {
        if k <= 0.0 {
            return 0.0;
        }
        // P(X ≥ k) = I_{1−p}(k, r)
        let direct = checked_beta_reg(k, r, 1.0 - p).ok();
        z_from_ln_tail(ln_tail(direct, ln_pmf(k), (k + r) * (1.0 - p) / (k + 1.0)), true)
    } else {
        // P(X ≤ k) = I_p(r, k + 1)
        let direct = checked_beta_reg(r, k + 1.0, p).ok();
        let ratio = if k + r > 1.0 { k / ((k - 1.0 + r) * (1.0 - p)) } else { 1.0 };
        z_from_ln_tail(ln_tail(direct, ln_pmf(k), ratio), false)
    }
}

/// Signed z-equivalent of `k` successes in `n > 0` trials with probability `p` in (0, 1);
/// `k` and `n` may be fractional (effective counts after an overdispersion correction).
fn binomial_z(k: f64, n: f64, p: f64) -> f64 {
    or_normal(binomial_tail_z(k, n, p), k, n * p, n * p * (1.0 - p))
}

fn binomial_tail_z(k: f64, n: f64, p: f64) -> f64 {
    let ln_pmf =
        |k: f64| ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0) + k * p.ln() + (n - k) * (1.0 - p).ln();
    if k >= n * p {
        if k <= 0.0 {
            return 0.0;
        }
        // P(X ≥ k) = I_p(k, n − k + 1)
        let direct = checked_beta_reg(k, n - k + 1.0, p).ok();
        z_from_ln_tail(ln_tail(direct, ln_pmf(k), (n - k) / (k + 1.0) * p / (1.0 - p)), true)
    } else {
        if k >= n {
            return 0.0;
        }
        // P(X ≤ k) = I_{1−p}(n − k, k + 1)
        let direct = checked_beta_reg(n - k, k + 1.0, 1.0 - p).ok();
        z_from_ln_tail(ln_tail(direct, ln_pmf(k), k / (n - k + 1.0) * (1.0 - p) / p), false)
    }
}

/// Pseudo-events added to a learned rate: half an event spread over one extra interval (a
/// Jeffreys-style prior), so a run of zeros gives a small positive rate instead of zero.
const PRIOR_EVENTS: f64 = 0.5;

fn count_value(what: &'static str, x: f64) -> Result<f64> {
    if !x.is_finite() {
        return Err(Error::NonFinite { what, value: x });
    }
    if x < 0.0 {
        return Err(invalid(what, "a count must be >= 0", x));
    }
    Ok(x)
}

fn check_clip(clip_z: f64) -> Result<()> {
    if clip_z >= 1.0 && clip_z.is_finite() { Ok(()) } else { Err(invalid("clip_z", "must be finite and >= 1", clip_z)) }
}

fn check_alpha(alpha: f64) -> Result<()> {
    if alpha > 0.0 && alpha <= 1.0 { Ok(()) } else { Err(invalid("alpha", "must be in (0, 1]", alpha)) }
}

// ---------------------------------------------------------------------------------------------
// Poisson
// ---------------------------------------------------------------------------------------------

/// Parameters of a [`PoissonDetector`].
///
/// ```
/// use oddsight_detectors::counts::{PoissonParams, Sides};
/// let d = PoissonParams::default().alpha(0.01).sides(Sides::Upper).build()?;
/// assert_eq!(d.params().alpha, 0.01);
/// assert!(PoissonParams::default().alpha(2.0).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PoissonParams {
    /// Forgetting per interval, in (0, 1]: the rate is an exponentially weighted mean whose
    /// first `1/alpha` intervals weigh the same. Default 0.02 (about the last 50 intervals).
    pub alpha: f64,
    /// Intervals needed before judging. Default 30.
    pub warmup: u64,
    /// When the counts vary more than a Poisson would (the usual case for busy telemetry), take
    /// tails from a negative binomial with the observed mean and variance (a Poisson whose rate
    /// itself varies), so a noisy high-volume series does not alarm on every wiggle.
    /// Default true.
    pub overdispersion: bool,
    /// Once warm, a count further than `clip_z` standard deviations from the rate is learned as
    /// if it sat there (plus one event), so one burst cannot drag the rate. Finite, ≥ 1.
    /// Default 4.
    pub clip_z: f64,
    /// Which deviations to report. Default both (a drop to zero is an outage).
    pub sides: Sides,
    /// Fewest events that can be a rise: a count below it scores z = 0 upward however rare it
    /// is, so two errors in a minute of a series that is almost always zero (a 1-in-1,000
    /// event, statistically) do not page anyone. Drops are not affected. Finite, ≥ 0; 0
    /// disables it. Default 3.
    pub min_count: f64,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents (a normal approximation). Default 3.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for PoissonParams {
    fn default() -> Self {
        let d = DetectorParams::default();
        PoissonParams {
            alpha: 0.02,
            warmup: 30,
            overdispersion: true,
            clip_z: 4.0,
            sides: Sides::Both,
            min_count: 3.0,
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl PoissonParams {
    setters! {
        /// Sets `alpha`.
        alpha: f64;
        /// Sets `warmup`.
        warmup: u64;
        /// Sets `overdispersion`.
        overdispersion: bool;
        /// Sets `clip_z`.
        clip_z: f64;
        /// Sets `sides`.
        sides: Sides;
        /// Sets `min_count`.
        min_count: f64;
    }
    verdict_setters!();

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        check_alpha(self.alpha)?;
        check_clip(self.clip_z)?;
        if !(self.min_count >= 0.0 && self.min_count.is_finite()) {
            return Err(invalid("min_count", "must be finite and >= 0", self.min_count));
        }
        detector_params(self.threshold, self.band_z, self.max_gap_ms).map(|_| ())
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// As [`PoissonParams::validate`].
    pub fn build(self) -> Result<PoissonDetector> {
        self.validate()?;
        Ok(PoissonDetector { params: self, mean: 0.0, var: 0.0, n: 0, last: None })
    }
}

/// Event counts per interval (errors per minute, logins per hour, jobs failed per run), judged
/// by the tail probability of the count under the learned rate.
///
/// The rate is the exponentially weighted mean of past counts, smoothed with half an event of
/// prior over one extra interval: `λ = (N·mean + 0.5) / (N + 1)`, `N = min(n, 1/alpha)`. So a
/// zero-heavy series has a small positive rate, nothing divides by zero, and one lone event in a
/// series of zeros is not an incident (with the defaults its z is at most 2.6) while a burst is;
/// and no count below `min_count` (default 3) is ever a rise.
/// A count `k ≥ λ` scores the upper tail `P(X ≥ k)`, a count below it the lower tail
/// `P(X ≤ k)`; either tail, doubled, is the two-sided probability behind the z-equivalent. With
/// `overdispersion` the distribution is a negative binomial of the same mean and the observed
/// variance whenever that variance exceeds the mean by 5 % or more.
///
/// Values must be finite and ≥ 0 (fractional counts are accepted: tails use the continuous
/// extensions of the distribution functions). The band is a normal approximation,
/// `λ ± band_z · sd`, floored at 0. State: 112 bytes, no heap. Snapshot kind `PoissonDetector`.
///
/// ```
/// use oddsight_core::{Detector, Point};
/// use oddsight_detectors::counts::PoissonParams;
/// let mut d = PoissonParams::default().build()?;
/// for i in 0..200 {
///     // Mostly zeros, an occasional single event.
///     let v = d.observe(Point::new(i * 60_000, if i % 40 == 7 { 1.0 } else { 0.0 }))?;
///     assert!(!v.is_anomaly);
/// }
/// let burst = d.observe(Point::new(200 * 60_000, 6.0))?;
/// assert!(burst.is_anomaly && burst.z > 5.0, "{}", burst.explain());
/// assert!(d.observe(Point::new(201 * 60_000, -1.0)).is_err()); // counts are never negative
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoissonDetector {
    params: PoissonParams,
    mean: f64,
    var: f64,
    n: u64,
    last: Option<i64>,
}

impl PoissonDetector {
    /// The parameters it was built with.
    pub fn params(&self) -> &PoissonParams {
        &self.params
    }

    /// The learned rate λ (events per interval), smoothed as described above; `0.5` before
    /// the first count.
    pub fn rate(&self) -> f64 {
        let w = (self.n as f64).min(1.0 / self.params.alpha);
        (w * self.mean + PRIOR_EVENTS) / (w + 1.0)
    }

    /// The variance of counts the tails use: λ for a Poisson, larger when overdispersed.
    pub fn variance(&self) -> f64 {
        let lambda = self.rate();
        if self.overdispersed(lambda) { self.var } else { lambda }
    }

    fn overdispersed(&self, lambda: f64) -> bool {
        self.params.overdispersion && self.n >= 2 && self.var > 1.05 * lambda
    }

    fn warm(&self) -> bool {
        self.n >= self.params.warmup.max(1)
    }

    fn check(&self, point: Point) -> Result<()> {
        check_point(self.last, point)?;
        count_value("value", point.value).map(|_| ())
    }
}

impl Detector for PoissonDetector {
    fn score(&self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let gap = is_gap(self.params.max_gap_ms, self.last, point.timestamp);
        let lambda = self.rate();
        if !self.warm() {
            let expected = if self.n == 0 { point.value } else { lambda };
            let mut v = Verdict::neutral(point, expected, Cow::Borrowed("poisson"), false);
            v.notes.gap = gap;
            return Ok(v);
        }
        let k = point.value;
        let (z, var, component) = if self.overdispersed(lambda) {
            let v = self.var;
            (negative_binomial_z(k, lambda * lambda / (v - lambda), lambda / v), v, "negative-binomial")
        } else {
            (poisson_z(k, lambda), lambda, "poisson")
        };
        let z = if z > 0.0 && k < self.params.min_count { 0.0 } else { self.params.sides.keep(z) };
        let half = self.params.band_z * var.sqrt();
        Ok(verdict_from_z(
            point,
            z,
            lambda,
            ((lambda - half).max(0.0), lambda + half),
            self.params.threshold,
            self.n,
            self.params.warmup.max(1),
            Cow::Borrowed(component),
            Notes { gap, ..Notes::default() },
        ))
    }

    fn update(&mut self, point: Point) -> Result<()> {
        self.check(point)?;
        let mut x = point.value;
        if self.warm() {
            let lambda = self.rate();
            let reach = self.params.clip_z * self.variance().sqrt() + 1.0;
            x = x.clamp((lambda - reach).max(0.0), lambda + reach);
        }
        let a = self.params.alpha.max(1.0 / (self.n as f64 + 1.0));
        let d = x - self.mean;
        let inc = a * d;
        self.mean += inc;
        self.var = (1.0 - a) * (self.var + d * inc);
        self.n += 1;
        self.last = Some(point.timestamp);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        all_finite(recent)?;
        recent.iter().try_for_each(|p| count_value("value", p.value).map(|_| ()))?;
        let Some(newest) = recent.last() else { return Ok(()) };
        let mut values: Vec<f64> = recent.iter().map(|p| p.value).collect();
        if let Some(level) = median_of(&mut values) {
            // The new rate is the median count of the shift; the variance moves in proportion,
            // as a Poisson's would.
            self.var = if self.mean > 0.0 { self.var * level / self.mean } else { level };
            self.mean = level;
            self.n = self.n.max(1);
        }
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        self.mean = 0.0;
        self.var = 0.0;
        self.n = 0;
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("poisson")
    }

    // The batch forms check every count up front, so a negative count anywhere leaves the
    // detector untouched (all-or-nothing, as the trait promises).
    fn observe_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last, timestamps, values)?;
        values.iter().try_for_each(|&v| count_value("value", v).map(|_| ()))?;
        timestamps.iter().zip(values).map(|(&t, &v)| self.observe(Point::new(t, v))).collect()
    }

    fn score_batch(&self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last, timestamps, values)?;
        values.iter().try_for_each(|&v| count_value("value", v).map(|_| ()))?;
        timestamps.iter().zip(values).map(|(&t, &v)| self.score(Point::new(t, v))).collect()
    }

    fn update_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<()> {
        check_batch(self.last, timestamps, values)?;
        values.iter().try_for_each(|&v| count_value("value", v).map(|_| ()))?;
        timestamps.iter().zip(values).try_for_each(|(&t, &v)| self.update(Point::new(t, v)))
    }
}

impl Stateful for PoissonDetector {
    fn kind() -> String {
        "PoissonDetector".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        if !(self.mean.is_finite() && self.mean >= 0.0 && self.var.is_finite() && self.var >= 0.0) {
            return Err(crate::stat::bad_snapshot(format!(
                "poisson state needs a finite mean and variance >= 0, got {} and {}",
                self.mean, self.var
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Error ratio (binomial)
// ---------------------------------------------------------------------------------------------

/// Parameters of an [`ErrorRatioDetector`].
///
/// ```
/// use oddsight_detectors::counts::ErrorRatioParams;
/// let d = ErrorRatioParams::default().min_requests(100.0).build()?;
/// assert_eq!(d.params().min_requests, 100.0);
/// assert!(ErrorRatioParams::default().min_requests(0.0).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ErrorRatioParams {
    /// Forgetting per interval, in (0, 1]: the error rate is the ratio of exponentially
    /// weighted sums of errors and requests. Default 0.02 (about the last 50 intervals).
    pub alpha: f64,
    /// Intervals needed before judging. Default 30.
    pub warmup: u64,
    /// The volume floor: intervals with fewer requests are not judged (their verdict is
    /// neutral, with confidence 0), so 1 error in 2 requests at 3 am is not an incident. They
    /// are still learned. Finite, ≥ 1. Default 20.
    pub min_requests: f64,
    /// When error counts vary more than a binomial would (errors come in correlated clumps, as
    /// they do), widen the tails as a beta-binomial with the learned intra-interval
    /// correlation. Default true.
    pub overdispersion: bool,
    /// Once warm, an error count further than `clip_z` standard deviations from the expected
    /// count is learned as if it sat there (plus one error). Finite, ≥ 1. Default 4.
    pub clip_z: f64,
    /// Which deviations to report. Default upper: a falling error ratio is good news.
    pub sides: Sides,
    /// Requests each point stands for when the detector is driven through the one-value
    /// [`Detector`] trait (whose values are error ratios). Finite, > 0. Default 100.
    pub requests_per_point: f64,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band (in ratio units, a normal approximation), in
    /// z-equivalents. Default 3.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for ErrorRatioParams {
    fn default() -> Self {
        let d = DetectorParams::default();
        ErrorRatioParams {
            alpha: 0.02,
            warmup: 30,
            min_requests: 20.0,
            overdispersion: true,
            clip_z: 4.0,
            sides: Sides::Upper,
            requests_per_point: 100.0,
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl ErrorRatioParams {
    setters! {
        /// Sets `alpha`.
        alpha: f64;
        /// Sets `warmup`.
        warmup: u64;
        /// Sets `min_requests`.
        min_requests: f64;
        /// Sets `overdispersion`.
        overdispersion: bool;
        /// Sets `clip_z`.
        clip_z: f64;
        /// Sets `sides`.
        sides: Sides;
        /// Sets `requests_per_point`.
        requests_per_point: f64;
    }
    verdict_setters!();

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        check_alpha(self.alpha)?;
        if !(self.min_requests >= 1.0 && self.min_requests.is_finite()) {
            return Err(invalid("min_requests", "must be finite and >= 1", self.min_requests));
        }
        check_clip(self.clip_z)?;
        if !(self.requests_per_point > 0.0 && self.requests_per_point.is_finite()) {
            return Err(invalid("requests_per_point", "must be finite and > 0", self.requests_per_point));
        }
        detector_params(self.threshold, self.band_z, self.max_gap_ms).map(|_| ())
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// As [`ErrorRatioParams::validate`].
    pub fn build(self) -> Result<ErrorRatioDetector> {
        self.validate()?;
        Ok(ErrorRatioDetector { params: self, errors: 0.0, requests: 0.0, rho: 0.0, rho_n: 0, n: 0, last: None })
    }
}

/// Error ratios (errors ÷ requests per interval) judged by the binomial tail of the error count
/// at that interval's volume, with a minimum-volume floor.
///
/// The same ratio means different things at different volumes: 50 errors in 1,000 requests when
/// 1 in 1,000 is normal is overwhelming evidence; 1 error in 2 requests at 3 am is none.
/// The detector learns the error rate `p = (E + 0.5) / (R + 1)` from exponentially weighted
/// sums of errors `E` and requests `R`, and scores an interval of `e` errors in `n` requests by
/// `P(X ≥ e)` for `X ~ Binomial(n, p)` (or the lower tail, with [`Sides::Both`]/[`Sides::Lower`]).
/// Intervals below `min_requests` are not judged. Real error counts are clumpier than a
/// binomial; with `overdispersion` the detector learns the intra-interval correlation `ρ` from
/// the Pearson residuals of past intervals and scores at the effective sample size `n / D`,
/// `D = 1 + (n − 1)(ρ + 1/(R + 2))` (a beta-binomial's variance; the `1/(R + 2)` term is the
/// uncertainty of the learned rate, always included), so a service that normally wobbles
/// between 0.1 % and 0.5 % errors does not page at 0.6 %.
///
/// **Streaming API.** [`observe_counts`](Self::observe_counts) (and `score_counts`,
/// `update_counts`, the batch forms) take `(timestamp, errors, requests)`; the verdict's value
/// is the ratio, its expected value the learned rate.
///
/// **[`Detector`] integration.** The trait carries one value per point, so through it a
/// point's value is the *error ratio* in `[0, 1]` and stands for `requests_per_point` requests
/// (default 100). That lets the detector sit in an ensemble, a `Watch` or the bindings next to
/// the others when only the ratio series is at hand; the volume floor then applies to
/// `requests_per_point`. With volumes available, prefer the counts API. Both paths share one
/// state.
///
/// Bad input (non-finite, negative, `errors > requests`, a ratio outside `[0, 1]`, timestamps
/// going backwards) is an error and changes nothing. State: 136 bytes, no heap. Snapshot kind
/// `ErrorRatioDetector`.
///
/// ```
/// use oddsight_detectors::counts::ErrorRatioParams;
/// let mut d = ErrorRatioParams::default().build()?;
/// for i in 0..100 {
///     // About 1 error per 1,000 requests.
///     d.observe_counts(i * 60_000, (i % 2) as f64, 1000.0)?;
/// }
/// let night = d.observe_counts(100 * 60_000, 1.0, 2.0)?; // 50 %, but two requests
/// assert!(!night.is_anomaly);
/// let incident = d.observe_counts(101 * 60_000, 50.0, 1000.0)?; // 5 %
/// assert!(incident.is_anomaly && incident.value == 0.05, "{}", incident.explain());
/// assert!(d.observe_counts(102 * 60_000, 5.0, 4.0).is_err()); // more errors than requests
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRatioDetector {
    params: ErrorRatioParams,
    /// Exponentially weighted sum of errors.
    errors: f64,
    /// Exponentially weighted sum of requests.
    requests: f64,
    /// Intra-interval correlation (overdispersion), learned.
    rho: f64,
    /// Intervals behind `rho`.
    rho_n: u64,
    /// Intervals learned.
    n: u64,
    last: Option<i64>,
}

impl ErrorRatioDetector {
    /// The parameters it was built with.
    pub fn params(&self) -> &ErrorRatioParams {
        &self.params
    }

    /// The learned error rate, in (0, 1); `0.5` before anything is learned.
    pub fn rate(&self) -> f64 {
        (self.errors + PRIOR_EVENTS) / (self.requests + 1.0)
    }

    /// The learned intra-interval correlation `ρ` (0 for a binomial series).
    pub fn overdispersion(&self) -> f64 {
        if self.params.overdispersion { self.rho.max(0.0) } else { 0.0 }
    }

    /// Variance of an interval's error count relative to a binomial's: `1 + (n − 1)(ρ + 1/(R + 2))`.
    /// The `1/(R + 2)` term is the uncertainty of the learned rate itself (the beta-binomial
    /// posterior predictive): negligible once `R` dwarfs `n`, and honest when a busy interval
    /// follows a quiet night that left little volume behind the rate.
    fn design_effect(&self, requests: f64) -> f64 {
        1.0 + (requests - 1.0).max(0.0) * (self.overdispersion() + 1.0 / (self.requests + 2.0))
    }

    fn warm(&self) -> bool {
        self.n >= self.params.warmup.max(1)
    }

    fn check_counts(&self, timestamp: i64, errors: f64, requests: f64) -> Result<()> {
        if let Some(last) = self.last
            && timestamp < last
        {
            return Err(Error::OutOfOrder { timestamp, last });
        }
        check_counts(errors, requests)
    }

    /// Judges one interval without learning it.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a NaN or infinite count, [`Error::InvalidParameter`] naming
    /// `errors` or `requests` when a count is negative or `errors > requests`,
    /// [`Error::OutOfOrder`] when `timestamp` is before the last one learned.
    pub fn score_counts(&self, timestamp: i64, errors: f64, requests: f64) -> Result<Verdict> {
        self.check_counts(timestamp, errors, requests)?;
        let ratio = if requests > 0.0 { errors / requests } else { 0.0 };
        Ok(self.judge(Point::new(timestamp, ratio), errors, requests))
    }

    /// Learns one interval.
    ///
    /// # Errors
    /// As [`score_counts`](Self::score_counts); nothing is learned on error.
    pub fn update_counts(&mut self, timestamp: i64, errors: f64, requests: f64) -> Result<()> {
        self.check_counts(timestamp, errors, requests)?;
        self.learn(errors, requests);
        self.last = Some(timestamp);
        Ok(())
    }

    /// Judges one interval, then learns it.
    ///
    /// # Errors
    /// As [`score_counts`](Self::score_counts); nothing is learned on error.
    pub fn observe_counts(&mut self, timestamp: i64, errors: f64, requests: f64) -> Result<Verdict> {
        let v = self.score_counts(timestamp, errors, requests)?;
        self.learn(errors, requests);
        self.last = Some(timestamp);
        Ok(v)
    }

    /// [`observe_counts`](Self::observe_counts) over a batch, all-or-nothing: every interval
    /// is checked before any is learned.
    ///
    /// # Errors
    /// [`Error::Shape`] if the three slices differ in length, else as
    /// [`score_counts`](Self::score_counts) for the first bad interval.
    pub fn observe_counts_batch(
        &mut self,
        timestamps: &[i64],
        errors: &[f64],
        requests: &[f64],
    ) -> Result<Vec<Verdict>> {
        self.check_counts_batch(timestamps, errors, requests)?;
        let mut out = Vec::with_capacity(timestamps.len());
        for ((&t, &e), &n) in timestamps.iter().zip(errors).zip(requests) {
            out.push(self.observe_counts(t, e, n)?);
        }
        Ok(out)
    }

    /// [`score_counts`](Self::score_counts) over a batch, every interval judged against the
    /// current state.
    ///
    /// # Errors
    /// As [`observe_counts_batch`](Self::observe_counts_batch).
    pub fn score_counts_batch(&self, timestamps: &[i64], errors: &[f64], requests: &[f64]) -> Result<Vec<Verdict>> {
        self.check_counts_batch(timestamps, errors, requests)?;
        timestamps.iter().zip(errors).zip(requests).map(|((&t, &e), &n)| self.score_counts(t, e, n)).collect()
    }

    fn check_counts_batch(&self, timestamps: &[i64], errors: &[f64], requests: &[f64]) -> Result<()> {
        for (what, len) in
            [("errors (one per timestamp)", errors.len()), ("requests (one per timestamp)", requests.len())]
        {
            if len != timestamps.len() {
                return Err(Error::Shape { what, expected: timestamps.len(), got: len });
            }
        }
        let mut last = self.last;
        for ((&t, &e), &n) in timestamps.iter().zip(errors).zip(requests) {
            if let Some(l) = last
                && t < l
            {
                return Err(Error::OutOfOrder { timestamp: t, last: l });
            }
            check_counts(e, n)?;
            last = Some(t);
        }
        Ok(())
    }

    fn judge(&self, point: Point, errors: f64, requests: f64) -> Verdict {
        let gap = is_gap(self.params.max_gap_ms, self.last, point.timestamp);
        let p = self.rate();
        if !self.warm() {
            let mut v = Verdict::neutral(point, p, Cow::Borrowed("binomial"), false);
            v.notes.gap = gap;
            return v;
        }
        if requests < self.params.min_requests {
            let mut v = Verdict::neutral(point, p, Cow::Borrowed("binomial:below-volume-floor"), true);
            v.notes.gap = gap;
            return v;
        }
        let d = self.design_effect(requests);
        let z = binomial_z(errors / d, requests / d, p);
        let half = self.params.band_z * (p * (1.0 - p) * d / requests).sqrt();
        verdict_from_z(
            point,
            self.params.sides.keep(z),
            p,
            ((p - half).max(0.0), (p + half).min(1.0)),
            self.params.threshold,
            self.n,
            self.params.warmup.max(1),
            Cow::Borrowed(if self.overdispersion() > 0.0 { "beta-binomial" } else { "binomial" }),
            Notes { gap, ..Notes::default() },
        )
    }

    fn learn(&mut self, errors: f64, requests: f64) {
        let p = self.rate();
        let mut e = errors;
        // The first interval is judged against the prior alone; its residual says nothing about
        // overdispersion.
        if requests >= self.params.min_requests && requests >= 2.0 && self.n > 0 {
            let d = self.design_effect(requests);
            let expected = requests * p;
            let sd = (expected * (1.0 - p)).sqrt();
            if self.warm() {
                let reach = self.params.clip_z * sd * d.sqrt() + 1.0;
                e = e.clamp((expected - reach).max(0.0), (expected + reach).min(requests));
            }
            // Overdispersion from the squared Pearson residual: E[r²] = 1 + (n − 1)(ρ + 1/(R + 2))
            // (see `design_effect`), so each interval gives an estimate of ρ. Winsorised, so one
            // incident cannot make the detector deaf for weeks.
            let r = ((errors - expected) / sd).clamp(-self.params.clip_z * d.sqrt(), self.params.clip_z * d.sqrt());
            let rho_obs = ((r * r - 1.0) / (requests - 1.0) - 1.0 / (self.requests + 2.0)).clamp(-1.0, 1.0);
            let a = self.params.alpha.max(1.0 / (self.rho_n as f64 + 1.0));
            self.rho += a * (rho_obs - self.rho);
            self.rho_n += 1;
        }
        let keep = 1.0 - self.params.alpha;
        self.errors = keep * self.errors + e;
        self.requests = keep * self.requests + requests;
        self.n += 1;
    }

    fn check_ratio(&self, point: Point) -> Result<()> {
        check_point(self.last, point)?;
        check_ratio(point.value)
    }
}

fn check_counts(errors: f64, requests: f64) -> Result<()> {
    count_value("errors", errors)?;
    count_value("requests", requests)?;
    if errors > requests {
        return Err(invalid("errors", "must not exceed requests", format!("{errors} errors in {requests} requests")));
    }
    Ok(())
}

fn check_ratio(ratio: f64) -> Result<()> {
    if (0.0..=1.0).contains(&ratio) { Ok(()) } else { Err(invalid("value", "an error ratio must be in [0, 1]", ratio)) }
}

impl Detector for ErrorRatioDetector {
    fn score(&self, point: Point) -> Result<Verdict> {
        self.check_ratio(point)?;
        let n = self.params.requests_per_point;
        Ok(self.judge(point, point.value * n, n))
    }

    fn update(&mut self, point: Point) -> Result<()> {
        self.check_ratio(point)?;
        let n = self.params.requests_per_point;
        self.learn(point.value * n, n);
        self.last = Some(point.timestamp);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        all_finite(recent)?;
        recent.iter().try_for_each(|p| check_ratio(p.value))?;
        let Some(newest) = recent.last() else { return Ok(()) };
        let mut ratios: Vec<f64> = recent.iter().map(|p| p.value).collect();
        if let Some(level) = median_of(&mut ratios) {
            // The new error rate is the median ratio of the shift, over the volume learned so far.
            if self.requests <= 0.0 {
                self.requests = self.params.requests_per_point;
            }
            self.errors = level * self.requests;
            self.n = self.n.max(1);
        }
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        self.errors = 0.0;
        self.requests = 0.0;
        self.rho = 0.0;
        self.rho_n = 0;
        self.n = 0;
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("error-ratio")
    }

    fn observe_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last, timestamps, values)?;
        values.iter().try_for_each(|&v| check_ratio(v))?;
        timestamps.iter().zip(values).map(|(&t, &v)| self.observe(Point::new(t, v))).collect()
    }

    fn score_batch(&self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last, timestamps, values)?;
        values.iter().try_for_each(|&v| check_ratio(v))?;
        timestamps.iter().zip(values).map(|(&t, &v)| self.score(Point::new(t, v))).collect()
    }

    fn update_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<()> {
        check_batch(self.last, timestamps, values)?;
        values.iter().try_for_each(|&v| check_ratio(v))?;
        timestamps.iter().zip(values).try_for_each(|(&t, &v)| self.update(Point::new(t, v)))
    }
}

impl Stateful for ErrorRatioDetector {
    fn kind() -> String {
        "ErrorRatioDetector".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        let ok = self.errors.is_finite()
            && self.requests.is_finite()
            && self.errors >= 0.0
            && self.errors <= self.requests
            && self.rho.is_finite()
            && (-1.0..=1.0).contains(&self.rho);
        if !ok {
            return Err(crate::stat::bad_snapshot(format!(
                "error-ratio state needs 0 <= errors <= requests and rho in [-1, 1], got {}, {}, {}",
                self.errors, self.requests, self.rho
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{Binomial, DiscreteCDF, Poisson};

    fn two_sided_z(tail: f64, upper: bool) -> f64 {
        let z = z_from_p((2.0 * tail).min(1.0));
        if upper { z } else { -z }
    }

    #[test]
    fn state_sizes() {
        // The module docs quote these; change both together.
        assert_eq!(std::mem::size_of::<PoissonDetector>(), 112);
        assert_eq!(std::mem::size_of::<ErrorRatioDetector>(), 136);
    }

    #[test]
    fn poisson_tails_match_statrs_at_integers() {
        for &lambda in &[0.01, 0.5, 3.0, 40.0, 900.0] {
            let dist = Poisson::new(lambda).unwrap();
            for k in [0u64, 1, 2, 5, 10, 30, 60, 100, 1000] {
                let kf = k as f64;
                let expect = if kf >= lambda {
                    if k == 0 { 0.0 } else { two_sided_z(dist.sf(k - 1), true) }
                } else {
                    two_sided_z(dist.cdf(k), false)
                };
                let got = poisson_z(kf, lambda);
                if expect.abs() < 37.0 {
                    assert!((got - expect).abs() < 1e-6 * (1.0 + expect.abs()), "λ={lambda} k={k}: {got} vs {expect}");
                } else {
                    assert!(got.abs() >= 37.0 && got.signum() == expect.signum(), "λ={lambda} k={k}: {got}");
                }
            }
        }
    }

    #[test]
    fn binomial_tails_match_statrs_at_integers() {
        for &(n, p) in &[(10u64, 0.3), (1000, 0.001), (1000, 0.2), (50, 0.9)] {
            let dist = Binomial::new(p, n).unwrap();
            for k in [0u64, 1, 2, 3, 5, 50, 200, 500, 1000] {
                if k > n {
                    continue;
                }
                let kf = k as f64;
                let expect = if kf >= n as f64 * p {
                    if k == 0 { 0.0 } else { two_sided_z(dist.sf(k - 1), true) }
                } else {
                    two_sided_z(dist.cdf(k), false)
                };
                let got = binomial_z(kf, n as f64, p);
                if expect.abs() < 37.0 {
                    assert!((got - expect).abs() < 1e-6 * (1.0 + expect.abs()), "n={n} p={p} k={k}: {got} vs {expect}");
                }
            }
        }
    }

    #[test]
    fn far_tails_keep_ranking() {
        // Past 1e-300 the z keeps growing instead of saturating.
        let a = poisson_z(200.0, 1.0);
        let b = poisson_z(400.0, 1.0);
        assert!(a > 37.0 && b > a, "{a} {b}");
        let c = binomial_z(500.0, 1000.0, 0.001);
        let d = binomial_z(900.0, 1000.0, 0.001);
        assert!(c > 37.0 && d > c, "{c} {d}");
        let e = negative_binomial_z(5000.0, 2.0, 0.5);
        assert!(e > 37.0 && e.is_finite());
        assert!(poisson_z(0.0, 2000.0) < -37.0);
    }

    #[test]
    fn absurd_counts_saturate_instead_of_breaking() {
        for z in [
            poisson_z(f64::MAX, 5.0),
            poisson_z(1e300, 1e3),
            poisson_z(1e300, 1e290),
            binomial_z(1e300, 1e300, 0.001),
            negative_binomial_z(1e300, 2.0, 0.5),
            negative_binomial_z(f64::MAX, 1e6, 0.5),
        ] {
            assert!(z > 30.0 && !z.is_nan(), "{z}");
        }
        assert!(poisson_z(0.0, 1e300) < -30.0);
        assert!(binomial_z(0.0, 1e300, 0.5) < -30.0);
    }

    #[test]
    fn wilson_hilferty_agrees_with_the_exact_tail() {
        for &k in &[900.0, 950.0, 1000.0, 1050.0, 1100.0, 1150.0] {
            let lambda = 999.0;
            let exact = poisson_z(k, lambda);
            // Just past the limit the approximation takes over; compare at the same distance.
            let wh = poisson_z(k + 2.0, lambda + 2.0);
            assert!((exact - wh).abs() < 0.05, "k={k}: {exact} vs {wh}");
        }
    }

    #[test]
    fn negative_binomial_matches_poisson_as_r_grows() {
        let lambda = 5.0;
        let r = 1e7;
        let p = r / (r + lambda);
        for k in [0.0, 1.0, 5.0, 12.0, 20.0] {
            assert!((negative_binomial_z(k, r, p) - poisson_z(k, lambda)).abs() < 1e-3, "k={k}");
        }
    }

    #[test]
    fn poisson_zero_heavy_series_never_breaks() {
        let mut d = PoissonParams::default().build().unwrap();
        for i in 0..500 {
            let v = d.observe(Point::new(i, 0.0)).unwrap();
            assert!(!v.is_anomaly && v.z.is_finite() && v.expected >= 0.0);
        }
        let one = d.score(Point::new(500, 1.0)).unwrap();
        assert!(!one.is_anomaly, "{}", one.explain());
        let burst = d.score(Point::new(500, 4.0)).unwrap();
        assert!(burst.is_anomaly && burst.direction == oddsight_core::Direction::Up);
        // Two events are rare here (z > 4) but below min_count; without the floor they page.
        assert_eq!(d.score(Point::new(500, 2.0)).unwrap().z, 0.0);
        let mut strict = PoissonParams::default().min_count(0.0).build().unwrap();
        for i in 0..500 {
            strict.update(Point::new(i, 0.0)).unwrap();
        }
        assert!(strict.score(Point::new(500, 2.0)).unwrap().is_anomaly);
        assert!(PoissonParams::default().min_count(-1.0).build().is_err());
    }

    #[test]
    fn poisson_detects_drops_and_respects_sides() {
        let mut both = PoissonParams::default().build().unwrap();
        let mut up = PoissonParams::default().sides(Sides::Upper).build().unwrap();
        for i in 0..100 {
            let v = 50.0 + ((i * 7) % 11) as f64 - 5.0;
            both.update(Point::new(i, v)).unwrap();
            up.update(Point::new(i, v)).unwrap();
        }
        let zero = Point::new(100, 0.0);
        assert!(both.score(zero).unwrap().is_anomaly);
        let v = up.score(zero).unwrap();
        assert!(!v.is_anomaly && v.z == 0.0);
    }

    #[test]
    fn poisson_overdispersion_widens_the_tails() {
        let mut od = PoissonParams::default().build().unwrap();
        let mut plain = PoissonParams::default().overdispersion(false).build().unwrap();
        for i in 0..200 {
            // Mean 100, sd ~20: far noisier than a Poisson(100) (sd 10).
            let v = 100.0 + 20.0 * (((i * 37) % 17) as f64 - 8.0) / 5.0;
            od.update(Point::new(i, v)).unwrap();
            plain.update(Point::new(i, v)).unwrap();
        }
        let p = Point::new(200, 150.0);
        let (a, b) = (od.score(p).unwrap(), plain.score(p).unwrap());
        assert_eq!(a.component, "negative-binomial");
        assert_eq!(b.component, "poisson");
        assert!(!a.is_anomaly && b.is_anomaly, "{} / {}", a.explain(), b.explain());
    }

    #[test]
    fn poisson_rejects_bad_counts_and_keeps_state() {
        let mut d = PoissonParams::default().build().unwrap();
        d.update(Point::new(10, 3.0)).unwrap();
        let before = d.clone();
        assert!(matches!(d.update(Point::new(11, -1.0)), Err(Error::InvalidParameter { name: "value", .. })));
        assert!(matches!(d.update(Point::new(11, f64::NAN)), Err(Error::NonFinite { .. })));
        assert!(matches!(d.update(Point::new(9, 1.0)), Err(Error::OutOfOrder { .. })));
        assert!(d.observe_batch(&[11, 12], &[1.0, -2.0]).is_err());
        assert!(d.rebaseline(&[Point::new(12, -3.0)]).is_err());
        assert_eq!(d, before);
    }

    #[test]
    fn poisson_rebaseline_moves_the_rate() {
        let mut d = PoissonParams::default().build().unwrap();
        for i in 0..100 {
            d.update(Point::new(i, (i % 3) as f64)).unwrap();
        }
        let recent: Vec<Point> = (100..110).map(|i| Point::new(i, 30.0 + (i % 3) as f64)).collect();
        assert!(d.score(recent[0]).unwrap().is_anomaly);
        d.rebaseline(&recent).unwrap();
        assert!((d.rate() - 31.0).abs() < 1.0);
        assert!(!d.score(Point::new(110, 31.0)).unwrap().is_anomaly);
    }

    fn quiet_service(d: &mut ErrorRatioDetector, intervals: i64) {
        for i in 0..intervals {
            // 0, 1 or 2 errors in 1,000 requests: about 1 in 1,000.
            d.observe_counts(i * 60_000, ((i * 5) % 3) as f64, 1000.0).unwrap();
        }
    }

    #[test]
    fn error_ratio_floor_and_incident() {
        let mut d = ErrorRatioParams::default().build().unwrap();
        quiet_service(&mut d, 200);
        assert!((d.rate() - 0.001).abs() < 0.0005, "{}", d.rate());
        let night = d.score_counts(200 * 60_000, 1.0, 2.0).unwrap();
        assert!(!night.is_anomaly && night.warm && night.component == "binomial:below-volume-floor");
        assert_eq!(night.confidence, 0.0);
        let v = d.score_counts(200 * 60_000, 50.0, 1000.0).unwrap();
        assert!(v.is_anomaly && v.z > 10.0 && v.severity >= oddsight_core::Severity::High, "{}", v.explain());
        let fine = d.score_counts(200 * 60_000, 3.0, 1000.0).unwrap();
        assert!(!fine.is_anomaly, "{}", fine.explain());
        let good_news = d.score_counts(200 * 60_000, 0.0, 5000.0).unwrap();
        assert_eq!(good_news.z, 0.0);
    }

    #[test]
    fn error_ratio_learns_overdispersion() {
        let mut d = ErrorRatioParams::default().build().unwrap();
        let mut plain = ErrorRatioParams::default().overdispersion(false).build().unwrap();
        for i in 0..300 {
            // The rate itself wobbles between 0.1 % and 0.5 % at 10,000 requests per interval.
            let e = [10.0, 50.0, 20.0, 40.0, 30.0][(i % 5) as usize];
            d.observe_counts(i, e, 10_000.0).unwrap();
            plain.observe_counts(i, e, 10_000.0).unwrap();
        }
        assert!(d.overdispersion() > 0.0);
        let v = d.score_counts(300, 60.0, 10_000.0).unwrap();
        assert!(!v.is_anomaly && v.component == "beta-binomial", "{}", v.explain());
        assert!(plain.score_counts(300, 60.0, 10_000.0).unwrap().is_anomaly);
        assert!(d.score_counts(300, 400.0, 10_000.0).unwrap().is_anomaly);
    }

    #[test]
    fn error_ratio_rejects_bad_counts_and_keeps_state() {
        let mut d = ErrorRatioParams::default().build().unwrap();
        quiet_service(&mut d, 5);
        let before = d.clone();
        let t = 10 * 60_000;
        assert!(matches!(d.observe_counts(t, 3.0, 2.0), Err(Error::InvalidParameter { name: "errors", .. })));
        assert!(matches!(d.observe_counts(t, -1.0, 2.0), Err(Error::InvalidParameter { name: "errors", .. })));
        assert!(matches!(d.observe_counts(t, 1.0, -2.0), Err(Error::InvalidParameter { name: "requests", .. })));
        assert!(matches!(d.observe_counts(t, f64::NAN, 2.0), Err(Error::NonFinite { .. })));
        assert!(matches!(d.observe_counts(t, 1.0, f64::INFINITY), Err(Error::NonFinite { .. })));
        assert!(matches!(d.observe_counts(0, 1.0, 2.0), Err(Error::OutOfOrder { .. })));
        assert!(matches!(d.observe(Point::new(t, 1.5)), Err(Error::InvalidParameter { name: "value", .. })));
        assert!(d.observe_counts_batch(&[t, t + 1], &[1.0, 5.0], &[10.0, 4.0]).is_err());
        assert!(matches!(d.observe_counts_batch(&[t], &[1.0, 5.0], &[10.0]), Err(Error::Shape { .. })));
        assert!(d.observe_batch(&[t, t + 1], &[0.1, -0.1]).is_err());
        assert_eq!(d, before);
    }

    #[test]
    fn error_ratio_through_the_detector_trait() {
        let mut d = ErrorRatioParams::default().requests_per_point(1000.0).build().unwrap();
        for i in 0..100 {
            d.observe(Point::new(i, ((i % 3) as f64) / 1000.0)).unwrap();
        }
        let v = d.observe(Point::new(100, 0.05)).unwrap();
        assert!(v.is_anomaly && v.value == 0.05);
        let mut recent = Vec::new();
        for i in 101..111 {
            recent.push(Point::new(i, 0.05));
        }
        d.rebaseline(&recent).unwrap();
        assert!((d.rate() - 0.05).abs() < 1e-3);
        assert!(!d.score(Point::new(111, 0.05)).unwrap().is_anomaly);
        assert_eq!(d.name(), "error-ratio");
    }

    #[test]
    fn snapshots_round_trip_and_refuse_bad_state() {
        let mut d = ErrorRatioParams::default().build().unwrap();
        quiet_service(&mut d, 50);
        let s = d.snapshot().unwrap();
        assert_eq!(ErrorRatioDetector::from_snapshot(&s).unwrap(), d);
        let mut p = PoissonParams::default().build().unwrap();
        p.update(Point::new(0, 4.0)).unwrap();
        let s = p.snapshot().unwrap();
        assert_eq!(PoissonDetector::from_snapshot(&s).unwrap(), p);
        let bad = s.replace(r#""mean":4.0"#, r#""mean":-4.0"#);
        assert!(PoissonDetector::from_snapshot(&bad).is_err());
    }
}
