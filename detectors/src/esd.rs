//! Batch outlier tests: the generalized ESD test (Rosner 1983) and seasonal-hybrid ESD.
//!
//! [`EsdParams`] tests a sample for up to `max_anomalies` outliers at level `alpha`, with mean
//! and standard deviation (the textbook test) or median and MAD (`robust`, the "hybrid" form).
//! [`SeasonalEsdParams`] first removes a seasonal profile (per-phase medians, the period given or
//! discovered with [`crate::period`]) and a level, then runs the robust test on what is left, so
//! that the daily peak is not an outlier but a spike at 3 am is.
//!
//! Both follow the [`Fit`] shape (parameters → `fit` → result) over slices and ndarray views,
//! and `detect` takes timestamps as well. Results carry the anomaly indices, the test's steps
//! and one [`Verdict`] per point on the common scale.
//!
//! # The common scale
//!
//! Step `i` of the test compares its statistic `R_i` (the largest standardised deviation among
//! the `N = n − i + 1` points left) with the critical value `λ_i`, which is a two-sided
//! Student-t tail of `α / N` (one-sided: `α / N` in one tail). A point's deviation `R` among `N`
//! points is turned back into its t-value and tail probability `p`; its **family** probability
//! `N·p` is what the test compares with `α`. The z-equivalent is anchored there:
//! `surprise = surprise(3σ) + log10 α − log10(N·p)`, so `R = λ` is exactly |z| = 3 and a point
//! ten times less likely than the critical one gains one decimal order of surprise. The test's
//! sequential decision is authoritative: outliers have |z| ≥ 3 and every other point |z| < 3
//! (clamped at the boundary in the rare cases, masking among them, where the two disagree).

use crate::change::{anchored_z, band, band_z, check_value, param, range_usize};
use crate::period::PeriodParams;
use ndarray::ArrayView1;
use oddsight_core::detector::verdict_from_z;
use oddsight_core::{Error, Fit, Notes, Point, Result, Verdict, check_batch};
use serde::{Deserialize, Serialize};
use statrs::distribution::{Continuous, ContinuousCDF, StudentsT};
use std::borrow::Cow;

/// Consistency constant that makes the MAD a Gaussian standard deviation.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;
/// Makes the mean absolute deviation a Gaussian standard deviation (`√(π/2)`).
const MEAN_AD_TO_SIGMA: f64 = 1.253_314_137_315_500_3;
/// Points behind a verdict at which its confidence support reaches one half (Rosner advises
/// at least 25 points for the test).
const SUPPORT_POINTS: u64 = 25;

/// Which side of the distribution may hold outliers.
///
/// ```
/// use oddsight_core::Fit;
/// use oddsight_detectors::esd::{EsdParams, Tail};
/// let mut x: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
/// x[5] = 40.0;
/// x[9] = -40.0;
/// assert_eq!(EsdParams::default().fit(&x[..])?.anomalies, vec![5, 9]);
/// assert_eq!(EsdParams::default().tail(Tail::Upper).fit(&x[..])?.anomalies, vec![5]);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Tail {
    /// Both: spikes and dips.
    #[default]
    Both,
    /// Only values above the centre (spikes).
    Upper,
    /// Only values below the centre (dips).
    Lower,
}

/// How many outliers the test may find at most.
///
/// ```
/// use oddsight_core::Fit;
/// use oddsight_detectors::esd::{AnomalyCap, EsdParams};
/// let x = [1.0, 2.0, 1.5, 2.5, 1.0, 2.0, 30.0, 31.0, 1.5, 2.0];
/// // Testing for a single outlier, the pair masks each other; testing for up to 3 finds both.
/// assert!(EsdParams::default().max_anomalies(AnomalyCap::Count(1)).fit(&x[..])?.anomalies.is_empty());
/// assert_eq!(EsdParams::default().max_anomalies(AnomalyCap::Count(3)).fit(&x[..])?.anomalies, vec![6, 7]);
/// assert!(EsdParams::default().max_anomalies(AnomalyCap::Count(5)).fit(&x[..]).is_err()); // half of 10
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AnomalyCap {
    /// At most this many, ≥ 1, and fewer than half the points.
    Count(usize),
    /// At most this fraction of the points, in (0, 0.5) (at least one is always tested).
    Fraction(f64),
}

impl AnomalyCap {
    fn validate(&self) -> Result<()> {
        match *self {
            AnomalyCap::Count(c) => range_usize("max_anomalies", c, 1, usize::MAX / 2),
            AnomalyCap::Fraction(f) if f > 0.0 && f < 0.5 => Ok(()),
            AnomalyCap::Fraction(f) => Err(param("max_anomalies", "fraction must be in (0, 0.5)", f)),
        }
    }

    /// The cap for `n` points.
    fn resolve(&self, n: usize) -> Result<usize> {
        let most = (n - 1) / 2;
        match *self {
            AnomalyCap::Count(c) if c > most => Err(Error::InvalidParameter {
                name: "max_anomalies",
                reason: "must leave more than half of the points",
                value: format!("{c} (n = {n})"),
            }),
            AnomalyCap::Count(c) => Ok(c),
            AnomalyCap::Fraction(f) => Ok(((f * n as f64).floor() as usize).clamp(1, most.max(1))),
        }
    }
}

/// Parameters of the generalized ESD test.
///
/// ```
/// use oddsight_core::Fit;
/// use oddsight_detectors::esd::{AnomalyCap, EsdParams};
/// // Rosner's example (NIST/SEMATECH e-Handbook, 1.3.5.17.3): 54 values, up to 10 outliers.
/// let x = [
///     -0.25, 0.68, 0.94, 1.15, 1.20, 1.26, 1.26, 1.34, 1.38, 1.43, 1.49, 1.49, 1.55, 1.56, 1.58,
///     1.65, 1.69, 1.70, 1.76, 1.77, 1.81, 1.91, 1.94, 1.96, 1.99, 2.06, 2.09, 2.10, 2.14, 2.15,
///     2.23, 2.24, 2.26, 2.35, 2.37, 2.40, 2.47, 2.54, 2.62, 2.64, 2.90, 2.92, 2.92, 2.93, 3.21,
///     3.26, 3.30, 3.59, 3.68, 4.30, 4.64, 5.34, 5.42, 6.01,
/// ];
/// let out = EsdParams::default().max_anomalies(AnomalyCap::Count(10)).alpha(0.05).fit(&x[..])?;
/// assert_eq!(out.anomalies, vec![51, 52, 53]); // 5.34, 5.42, 6.01
/// assert!((out.steps[0].statistic - 3.118).abs() < 1e-3 && (out.steps[0].critical - 3.158).abs() < 1e-3);
/// assert!(out.verdicts[53].is_anomaly && !out.verdicts[0].is_anomaly);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EsdParams {
    /// Most outliers to test for. Default `Fraction(0.1)`.
    pub max_anomalies: AnomalyCap,
    /// Significance level of the whole test, in (0, 0.5). Default 0.05.
    pub alpha: f64,
    /// Median and `1.4826 × MAD` instead of mean and standard deviation. Default false.
    pub robust: bool,
    /// Which side may hold outliers. Default both.
    pub tail: Tail,
    /// Half-width of the reported band, in (robust) standard deviations, (0, 100]. Default 3.
    pub band_z: f64,
}

impl Default for EsdParams {
    fn default() -> Self {
        EsdParams {
            max_anomalies: AnomalyCap::Fraction(0.1),
            alpha: 0.05,
            robust: false,
            tail: Tail::Both,
            band_z: 3.0,
        }
    }
}

/// One step of the sequential test.
///
/// ```
/// use oddsight_core::Fit;
/// use oddsight_detectors::esd::EsdParams;
/// let x = [3.0, 4.0, 3.5, 4.5, 3.0, 4.0, 3.5, 20.0, 4.0, 3.0, 3.5, 4.5];
/// let step = &EsdParams::default().fit(&x[..])?.steps[0];
/// assert_eq!((step.index, step.value), (7, 20.0));
/// assert!(step.statistic > step.critical);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EsdStep {
    /// Index (into the input) of the most extreme point left at this step.
    pub index: usize,
    /// Its value (for seasonal ESD, its residual).
    pub value: f64,
    /// `R_i`: its deviation from the centre of the points left, in their standard deviations.
    pub statistic: f64,
    /// `λ_i`: the critical value at this step.
    pub critical: f64,
}

/// The result of an ESD test.
///
/// ```
/// use oddsight_detectors::esd::EsdParams;
/// let t: Vec<i64> = (0..40).map(|i| i * 60_000).collect();
/// let mut v: Vec<f64> = (0..40).map(|i| 100.0 + (i % 5) as f64).collect();
/// v[30] = 160.0;
/// let out = EsdParams::default().robust(true).detect(&t, &v)?;
/// assert_eq!(out.anomalies, vec![30]);
/// assert_eq!(out.center, 102.0);
/// let verdict = &out.verdicts[30];
/// assert!(verdict.is_anomaly && verdict.timestamp == 1_800_000 && verdict.expected == 102.0);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EsdOutcome {
    /// Indices of the outliers, ascending.
    pub anomalies: Vec<usize>,
    /// Every step tested, in order (the outliers are the points of the first
    /// `anomalies.len()` steps).
    pub steps: Vec<EsdStep>,
    /// Centre of the points that are not outliers (mean, or median when robust; of the
    /// residuals for seasonal ESD).
    pub center: f64,
    /// Their spread (standard deviation, or `1.4826 × MAD`).
    pub scale: f64,
    /// One verdict per input point, in input order.
    pub verdicts: Vec<Verdict>,
}

impl EsdParams {
    /// Sets `max_anomalies`.
    pub fn max_anomalies(mut self, cap: AnomalyCap) -> Self {
        self.max_anomalies = cap;
        self
    }
    /// Sets `alpha`.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Sets `robust`.
    pub fn robust(mut self, robust: bool) -> Self {
        self.robust = robust;
        self
    }
    /// Sets `tail`.
    pub fn tail(mut self, tail: Tail) -> Self {
        self.tail = tail;
        self
    }
    /// Sets `band_z`.
    pub fn band_z(mut self, band_z: f64) -> Self {
        self.band_z = band_z;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        self.max_anomalies.validate()?;
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            return Err(param("alpha", "must be in (0, 0.5)", self.alpha));
        }
        band_z(self.band_z)
    }

    /// Tests `values` observed at `timestamps` (Unix ms, non-decreasing).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad parameters (including a `Count` cap that is not
    /// below half the points), [`Error::Shape`] if the lengths differ or there are fewer than
    /// 3 points, [`Error::Empty`], [`Error::NonFinite`], [`Error::OutOfOrder`].
    pub fn detect(&self, timestamps: &[i64], values: &[f64]) -> Result<EsdOutcome> {
        self.validate()?;
        check_input(timestamps, values)?;
        let core = gesd(values, self)?;
        let verdicts = verdicts(&core, self, timestamps, values, values, |_| 0.0, "gesd");
        Ok(core.into_outcome(verdicts))
    }

    /// [`EsdParams::detect`] over ndarray views (any stride).
    ///
    /// # Errors
    /// As [`EsdParams::detect`].
    pub fn detect_view(&self, timestamps: ArrayView1<'_, i64>, values: ArrayView1<'_, f64>) -> Result<EsdOutcome> {
        match (timestamps.as_slice(), values.as_slice()) {
            (Some(t), Some(v)) => self.detect(t, v),
            _ => self.detect(&timestamps.to_vec(), &values.to_vec()),
        }
    }
}

impl Fit<[f64]> for EsdParams {
    type Fitted = EsdOutcome;

    /// [`EsdParams::detect`] with the indices as timestamps.
    fn fit(&self, values: &[f64]) -> Result<EsdOutcome> {
        let t: Vec<i64> = (0..values.len() as i64).collect();
        self.detect(&t, values)
    }
}

impl<'a> Fit<ArrayView1<'a, f64>> for EsdParams {
    type Fitted = EsdOutcome;

    /// [`EsdParams::detect`] with the indices as timestamps.
    fn fit(&self, values: &ArrayView1<'a, f64>) -> Result<EsdOutcome> {
        match values.as_slice() {
            Some(v) => self.fit(v),
            None => self.fit(&values.to_vec()[..]),
        }
    }
}

fn check_input(timestamps: &[i64], values: &[f64]) -> Result<()> {
    check_batch(None, timestamps, values)?;
    for &v in values {
        check_value(v)?;
    }
    if values.is_empty() {
        return Err(Error::Empty { what: "values" });
    }
    if values.len() < 3 {
        return Err(Error::Shape { what: "points at least", expected: 3, got: values.len() });
    }
    Ok(())
}

/// What the sequential test found, before verdicts.
#[derive(Debug)]
struct Gesd {
    steps: Vec<EsdStep>,
    /// Points remaining before each step.
    remaining: Vec<usize>,
    anomalies: usize,
    center: f64,
    scale: f64,
    n: usize,
}

impl Gesd {
    fn into_outcome(self, verdicts: Vec<Verdict>) -> EsdOutcome {
        let mut anomalies: Vec<usize> = self.steps[..self.anomalies].iter().map(|s| s.index).collect();
        anomalies.sort_unstable();
        EsdOutcome { anomalies, steps: self.steps, center: self.center, scale: self.scale, verdicts }
    }
}

/// The remaining points, sorted: every step removes the lowest or the highest, so centre and
/// spread are cheap to keep (O(1) for the mean, O(log n) for median and MAD).
struct Remaining<'a> {
    sorted: &'a [f64],
    lo: usize,
    hi: usize,
    /// Removals since the mean and sum of squares were last recomputed exactly.
    since_exact: usize,
    mean: f64,
    m2: f64,
}

impl<'a> Remaining<'a> {
    fn new(sorted: &'a [f64]) -> Self {
        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let m2 = sorted.iter().map(|x| (x - mean) * (x - mean)).sum();
        Remaining { sorted, lo: 0, hi: sorted.len(), since_exact: 0, mean, m2 }
    }

    fn len(&self) -> usize {
        self.hi - self.lo
    }

    fn slice(&self) -> &'a [f64] {
        &self.sorted[self.lo..self.hi]
    }

    /// Removes one end, with Welford's update of the mean and sum of squares.
    fn remove(&mut self, low: bool) {
        let x = if low { self.sorted[self.lo] } else { self.sorted[self.hi - 1] };
        if low {
            self.lo += 1
        } else {
            self.hi -= 1
        }
        let n = self.len() as f64;
        if n == 0.0 {
            (self.mean, self.m2) = (0.0, 0.0);
            return;
        }
        let d = x - self.mean;
        self.mean -= d / n;
        self.m2 = (self.m2 - d * (x - self.mean)).max(0.0);
        self.since_exact += 1;
        // Recompute now and then so that rounding cannot build up over many removals.
        if self.since_exact >= 64 {
            let s = self.slice();
            self.mean = s.iter().sum::<f64>() / s.len() as f64;
            self.m2 = s.iter().map(|v| (v - self.mean) * (v - self.mean)).sum();
            self.since_exact = 0;
        }
    }

    /// Centre and spread (0 when all remaining values are equal).
    fn center_scale(&self, robust: bool) -> (f64, f64) {
        let s = self.slice();
        let n = s.len();
        if !robust {
            return (self.mean, (self.m2 / (n as f64 - 1.0).max(1.0)).sqrt());
        }
        let med = median_sorted(s);
        let split = s.partition_point(|&v| v < med);
        let below = |t: usize| med - s[split - 1 - t];
        let above = |t: usize| s[split + t] - med;
        let (nb, na) = (split, n - split);
        let mad = if n % 2 == 1 {
            kth_of_two(&below, nb, &above, na, n / 2)
        } else {
            0.5 * (kth_of_two(&below, nb, &above, na, n / 2 - 1) + kth_of_two(&below, nb, &above, na, n / 2))
        };
        let mut scale = MAD_TO_SIGMA * mad;
        if scale <= 0.0 {
            // More than half the values are equal: fall back to the mean absolute deviation.
            scale = MEAN_AD_TO_SIGMA * s.iter().map(|v| (v - med).abs()).sum::<f64>() / n as f64;
        }
        (med, scale)
    }
}

fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) }
}

/// The k-th smallest (0-based) of the union of two ascending sequences given by index
/// functions, in O(log k).
fn kth_of_two(a: &dyn Fn(usize) -> f64, na: usize, b: &dyn Fn(usize) -> f64, nb: usize, k: usize) -> f64 {
    let (mut ao, mut bo, mut k) = (0usize, 0usize, k);
    loop {
        if ao == na {
            return b(bo + k);
        }
        if bo == nb {
            return a(ao + k);
        }
        if k == 0 {
            return a(ao).min(b(bo));
        }
        let half = k.div_ceil(2);
        let ia = (ao + half).min(na) - 1;
        let ib = (bo + half).min(nb) - 1;
        if a(ia) <= b(ib) {
            k -= ia - ao + 1;
            ao = ia + 1;
        } else {
            k -= ib - bo + 1;
            bo = ib + 1;
        }
    }
}

/// Two-sided (or one-sided) per-point tail level for `n` points left.
fn per_point_level(alpha: f64, n: usize, tail: Tail) -> f64 {
    match tail {
        Tail::Both => alpha / (2.0 * n as f64),
        Tail::Upper | Tail::Lower => alpha / n as f64,
    }
}

/// Rosner's critical value `λ` for `n` points left.
fn critical(alpha: f64, n: usize, tail: Tail) -> f64 {
    let nf = n as f64;
    let p = 1.0 - per_point_level(alpha, n, tail);
    let t = StudentsT::new(0.0, 1.0, nf - 2.0).map_or(f64::INFINITY, |d| d.inverse_cdf(p));
    (nf - 1.0) * t / ((nf - 2.0 + t * t) * nf).sqrt()
}

/// The generalized ESD test of `values` (any order).
fn gesd(values: &[f64], p: &EsdParams) -> Result<Gesd> {
    let n = values.len();
    let k_max = p.max_anomalies.resolve(n)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    let sorted: Vec<f64> = order.iter().map(|&i| values[i]).collect();
    let mut rem = Remaining::new(&sorted);
    let (mut steps, mut remaining, mut anomalies) = (Vec::with_capacity(k_max), Vec::with_capacity(k_max), 0);
    let mut lows = Vec::with_capacity(k_max);
    for i in 0..k_max {
        let left = rem.len();
        if left < 3 {
            break;
        }
        let (c, s) = rem.center_scale(p.robust);
        let (low, high) = (sorted[rem.lo], sorted[rem.hi - 1]);
        let dev = |x: f64| if s > 0.0 { (x - c).abs() / s } else { 0.0 };
        let take_low = match p.tail {
            Tail::Both => dev(low) > dev(high),
            Tail::Upper => false,
            Tail::Lower => true,
        };
        let (pos, x) = if take_low { (rem.lo, low) } else { (rem.hi - 1, high) };
        let signed = if s > 0.0 { (x - c) / s } else { 0.0 };
        let statistic = match p.tail {
            Tail::Both => signed.abs(),
            Tail::Upper => signed.max(0.0),
            Tail::Lower => (-signed).max(0.0),
        };
        let crit = critical(p.alpha, left, p.tail);
        if statistic > crit {
            anomalies = i + 1;
        }
        steps.push(EsdStep { index: order[pos], value: x, statistic, critical: crit });
        remaining.push(left);
        lows.push(take_low);
        rem.remove(take_low);
    }
    // Centre and spread of the points that are not outliers.
    let mut clean = Remaining::new(&sorted);
    for &low in &lows[..anomalies] {
        clean.remove(low);
    }
    let (center, scale) = clean.center_scale(p.robust);
    Ok(Gesd { steps, remaining, anomalies, center, scale, n })
}

/// `ln P(T_ν > t)`, through the asymptotic tail `f(t)·t/ν` once the probability underflows.
fn ln_t_sf(t: f64, nu: f64) -> f64 {
    let Ok(d) = StudentsT::new(0.0, 1.0, nu) else { return 0.0 };
    if !t.is_finite() {
        return f64::NEG_INFINITY;
    }
    let sf = d.sf(t);
    if sf > 1e-290 { sf.ln() } else { d.ln_pdf(t) + (t / nu).ln() }
}

/// The anchored z-equivalent of a deviation `r` (in standard deviations, ≥ 0) among `n`
/// points: see the module docs.
fn esd_z(r: f64, n: usize, alpha: f64, tail: Tail) -> f64 {
    let nf = n as f64;
    if n < 3 || r <= 0.0 {
        return 0.0;
    }
    let denom = (nf - 1.0) * (nf - 1.0) - nf * r * r;
    let t = if denom > 0.0 { (r * r * nf * (nf - 2.0) / denom).sqrt() } else { f64::INFINITY };
    let sides = if tail == Tail::Both { 2f64.ln() } else { 0.0 };
    // log10 of the family probability N·p.
    let log10_family = (nf.ln() + sides + ln_t_sf(t, nf - 2.0)) / std::f64::consts::LN_10;
    if log10_family == f64::NEG_INFINITY {
        return anchored_z(f64::INFINITY);
    }
    anchored_z(alpha.log10() - log10_family)
}

/// The largest z-equivalent still below the alert level.
const BELOW_ALERT: f64 = 3.0 - 1e-9;

/// One verdict per point: `resid` is what the test saw, `values` what is reported, and
/// `offset(i)` what is added to the residual centre to give the expected value.
fn verdicts(
    g: &Gesd,
    p: &EsdParams,
    timestamps: &[i64],
    values: &[f64],
    resid: &[f64],
    offset: impl Fn(usize) -> f64,
    name: &'static str,
) -> Vec<Verdict> {
    let clean_n = g.n - g.anomalies;
    let mut rank = vec![0usize; g.n];
    for (j, step) in g.steps[..g.anomalies].iter().enumerate() {
        rank[step.index] = j + 1;
    }
    (0..g.n)
        .map(|i| {
            let point = Point::new(timestamps[i], values[i]);
            let expected = offset(i) + g.center;
            let band = band(expected, p.band_z * g.scale);
            let signed = if g.scale > 0.0 { (resid[i] - g.center) / g.scale } else { 0.0 };
            let sign = if signed < 0.0 { -1.0 } else { 1.0 };
            let (z, component) = match rank[i] {
                0 => {
                    let r = match p.tail {
                        Tail::Both => signed.abs(),
                        Tail::Upper => signed.max(0.0),
                        Tail::Lower => (-signed).max(0.0),
                    };
                    let z = esd_z(r, clean_n, p.alpha, p.tail).min(BELOW_ALERT);
                    (sign * z, Cow::Borrowed(name))
                }
                j => {
                    let step = &g.steps[j - 1];
                    let z = esd_z(step.statistic, g.remaining[j - 1], p.alpha, p.tail).max(3.0);
                    let text = format!(
                        "{name}: outlier {j} of {} (R={:.3} vs critical {:.3})",
                        g.anomalies, step.statistic, step.critical
                    );
                    (sign * z, Cow::Owned(text))
                }
            };
            let mut v =
                verdict_from_z(point, z, expected, band, 0.5, g.n as u64, SUPPORT_POINTS, component, Notes::default());
            v.is_anomaly = rank[i] > 0;
            v
        })
        .collect()
}

/// Parameters of the seasonal-hybrid ESD test (S-H-ESD).
///
/// The series is split into a seasonal profile (the median of each phase of the period, centred
/// on zero), a level (the median of what is left, over the whole series or piecewise over
/// `trend_window` points) and a residual; the robust generalized ESD test then runs on the
/// residual. Values are taken as evenly spaced: phase `i mod period`.
///
/// ```
/// use oddsight_detectors::esd::SeasonalEsdParams;
/// // Two weeks of hourly points with a daily cycle, and three spikes at night.
/// let v: Vec<f64> = (0..24 * 14)
///     .map(|h| {
///         let daily = if (9..18).contains(&(h % 24)) { 100.0 } else { 20.0 };
///         let spike = if [50, 123, 290].contains(&h) { 60.0 } else { 0.0 };
///         daily + spike + ((h * 7919) % 11) as f64
///     })
///     .collect();
/// let t: Vec<i64> = (0..v.len() as i64).map(|h| h * 3_600_000).collect();
/// let out = SeasonalEsdParams::default().detect(&t, &v)?;
/// assert_eq!(out.period, Some(24)); // discovered
/// assert_eq!(out.esd.anomalies, vec![50, 123, 290]);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeasonalEsdParams {
    /// The period in points; `None` discovers it (the dominant period found by `discovery`, or
    /// no seasonal profile if there is none). Default `None`.
    pub period: Option<usize>,
    /// The test on the residual. Default: robust, `Fraction(0.1)`, `alpha` 0.05, both tails.
    pub esd: EsdParams,
    /// Piecewise level: the median of each block of this many points (the last short block
    /// joins the one before). `None` for one level. Default `None`.
    pub trend_window: Option<usize>,
    /// How the period is discovered when not given.
    pub discovery: PeriodParams,
}

impl Default for SeasonalEsdParams {
    fn default() -> Self {
        SeasonalEsdParams {
            period: None,
            esd: EsdParams::default().robust(true),
            trend_window: None,
            discovery: PeriodParams::default(),
        }
    }
}

/// The result of a seasonal-hybrid ESD test.
///
/// ```
/// use oddsight_core::Fit;
/// use oddsight_detectors::esd::SeasonalEsdParams;
/// let mut v: Vec<f64> = (0..60).map(|i| [10.0, 20.0, 30.0, 20.0][i % 4] + (i % 3) as f64 * 0.1).collect();
/// v[41] = 29.0; // the phase of 20: nine above its seasonal value
/// let out = SeasonalEsdParams::default().period(Some(4)).fit(&v[..])?;
/// assert_eq!(out.seasonal.len(), 4);
/// assert_eq!(out.esd.anomalies, vec![41]);
/// assert!((out.residuals[41] - 9.0).abs() < 0.3);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalEsdOutcome {
    /// The period used (given or discovered); `None` when no seasonal profile was removed.
    pub period: Option<usize>,
    /// The seasonal profile, one value per phase, centred on zero (empty without a period).
    pub seasonal: Vec<f64>,
    /// The residual of each point (value − seasonal − level).
    pub residuals: Vec<f64>,
    /// The robust ESD test of the residuals; its verdicts carry the original values, and
    /// expected values that include the seasonal profile and the level.
    pub esd: EsdOutcome,
}

impl SeasonalEsdParams {
    /// Sets `period`.
    pub fn period(mut self, period: Option<usize>) -> Self {
        self.period = period;
        self
    }
    /// Sets the residual test's parameters.
    pub fn esd(mut self, esd: EsdParams) -> Self {
        self.esd = esd;
        self
    }
    /// Sets `trend_window`.
    pub fn trend_window(mut self, points: Option<usize>) -> Self {
        self.trend_window = points;
        self
    }
    /// Sets the discovery parameters.
    pub fn discovery(mut self, discovery: PeriodParams) -> Self {
        self.discovery = discovery;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = self.period {
            range_usize("period", p, 1, 100_000_000)?;
        }
        if let Some(w) = self.trend_window {
            range_usize("trend_window", w, 3, 100_000_000)?;
        }
        self.esd.validate()?;
        self.discovery.validate()
    }

    /// Runs the test on `values` observed at `timestamps` (Unix ms, non-decreasing, evenly
    /// spaced for the phases to mean anything).
    ///
    /// # Errors
    /// As [`EsdParams::detect`], plus [`Error::Shape`] when the series holds fewer than two
    /// full periods.
    pub fn detect(&self, timestamps: &[i64], values: &[f64]) -> Result<SeasonalEsdOutcome> {
        self.validate()?;
        check_input(timestamps, values)?;
        let n = values.len();
        let period = match self.period {
            Some(p) => Some(p),
            None => match self.discovery.find_timed(timestamps, values) {
                Ok(s) => s.dominant().map(|c| c.period),
                // Too short or too irregular to discover a period: test without one.
                Err(_) => None,
            },
        }
        .filter(|&p| p > 1);
        if let Some(p) = period
            && n < 2 * p
        {
            return Err(Error::Shape { what: "points at least (two full periods)", expected: 2 * p, got: n });
        }
        let seasonal = match period {
            Some(p) => {
                let mut phases: Vec<Vec<f64>> = vec![Vec::with_capacity(n / p + 1); p];
                for (i, &v) in values.iter().enumerate() {
                    phases[i % p].push(v);
                }
                let medians: Vec<f64> = phases
                    .iter_mut()
                    .map(|ph| {
                        ph.sort_by(f64::total_cmp);
                        median_sorted(ph)
                    })
                    .collect();
                let mut sorted = medians.clone();
                sorted.sort_by(f64::total_cmp);
                let mid = median_sorted(&sorted);
                medians.iter().map(|m| m - mid).collect()
            }
            None => Vec::new(),
        };
        let season = |i: usize| if seasonal.is_empty() { 0.0 } else { seasonal[i % seasonal.len()] };
        let deseasoned: Vec<f64> = values.iter().enumerate().map(|(i, &v)| v - season(i)).collect();
        let level = piecewise_median(&deseasoned, self.trend_window.unwrap_or(n));
        let residuals: Vec<f64> = deseasoned.iter().zip(&level).map(|(d, l)| d - l).collect();
        let core = gesd(&residuals, &self.esd)?;
        let name = if period.is_some() { "seasonal-esd" } else { "gesd" };
        let verdicts = verdicts(&core, &self.esd, timestamps, values, &residuals, |i| season(i) + level[i], name);
        Ok(SeasonalEsdOutcome { period, seasonal, residuals, esd: core.into_outcome(verdicts) })
    }

    /// [`SeasonalEsdParams::detect`] over ndarray views (any stride).
    ///
    /// # Errors
    /// As [`SeasonalEsdParams::detect`].
    pub fn detect_view(
        &self,
        timestamps: ArrayView1<'_, i64>,
        values: ArrayView1<'_, f64>,
    ) -> Result<SeasonalEsdOutcome> {
        match (timestamps.as_slice(), values.as_slice()) {
            (Some(t), Some(v)) => self.detect(t, v),
            _ => self.detect(&timestamps.to_vec(), &values.to_vec()),
        }
    }
}

impl Fit<[f64]> for SeasonalEsdParams {
    type Fitted = SeasonalEsdOutcome;

    /// [`SeasonalEsdParams::detect`] with the indices as timestamps (no calendar snapping when
    /// discovering the period).
    fn fit(&self, values: &[f64]) -> Result<SeasonalEsdOutcome> {
        let t: Vec<i64> = (0..values.len() as i64).collect();
        self.detect(&t, values)
    }
}

impl<'a> Fit<ArrayView1<'a, f64>> for SeasonalEsdParams {
    type Fitted = SeasonalEsdOutcome;

    /// As the slice form.
    fn fit(&self, values: &ArrayView1<'a, f64>) -> Result<SeasonalEsdOutcome> {
        match values.as_slice() {
            Some(v) => self.fit(v),
            None => self.fit(&values.to_vec()[..]),
        }
    }
}

/// The median of each block of `w` points, repeated over the block; a last block shorter than
/// half of `w` joins the one before.
fn piecewise_median(x: &[f64], w: usize) -> Vec<f64> {
    let n = x.len();
    let w = w.clamp(1, n.max(1));
    let mut bounds: Vec<(usize, usize)> = (0..n).step_by(w).map(|s| (s, (s + w).min(n))).collect();
    if bounds.len() > 1
        && let Some(&(s, e)) = bounds.last()
        && 2 * (e - s) < w
    {
        bounds.pop();
        if let Some(last) = bounds.last_mut() {
            last.1 = n;
        }
    }
    let mut out = vec![0.0; n];
    for (s, e) in bounds {
        let mut block = x[s..e].to_vec();
        block.sort_by(f64::total_cmp);
        let m = median_sorted(&block);
        out[s..e].iter_mut().for_each(|o| *o = m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROSNER: [f64; 54] = [
        -0.25, 0.68, 0.94, 1.15, 1.20, 1.26, 1.26, 1.34, 1.38, 1.43, 1.49, 1.49, 1.55, 1.56, 1.58, 1.65, 1.69, 1.70,
        1.76, 1.77, 1.81, 1.91, 1.94, 1.96, 1.99, 2.06, 2.09, 2.10, 2.14, 2.15, 2.23, 2.24, 2.26, 2.35, 2.37, 2.40,
        2.47, 2.54, 2.62, 2.64, 2.90, 2.92, 2.92, 2.93, 3.21, 3.26, 3.30, 3.59, 3.68, 4.30, 4.64, 5.34, 5.42, 6.01,
    ];

    #[test]
    fn reproduces_the_nist_table() {
        // NIST/SEMATECH e-Handbook 1.3.5.17.3: R_i and λ_i to three decimals.
        let r = [3.118, 2.942, 3.179, 2.810, 2.815, 2.848, 2.279, 2.310, 2.101, 2.067];
        let l = [3.158, 3.151, 3.143, 3.136, 3.128, 3.120, 3.111, 3.103, 3.094, 3.085];
        let out = EsdParams::default().max_anomalies(AnomalyCap::Count(10)).fit(&ROSNER[..]).unwrap();
        assert_eq!(out.steps.len(), 10);
        for (i, s) in out.steps.iter().enumerate() {
            assert!((s.statistic - r[i]).abs() < 1e-3, "R{} = {}", i + 1, s.statistic);
            assert!((s.critical - l[i]).abs() < 1e-3, "λ{} = {}", i + 1, s.critical);
        }
        assert_eq!(out.anomalies, vec![51, 52, 53]);
        // Masking: step 1 alone is not significant, yet its point is an outlier with |z| >= 3.
        assert!(out.verdicts[53].z >= 3.0 && out.verdicts[53].is_anomaly);
        assert!(out.verdicts.iter().filter(|v| !v.is_anomaly).all(|v| v.z.abs() < 3.0 && v.anomaly_score < 0.5));
        assert!(out.verdicts.iter().all(|v| v.z.is_finite() && v.anomaly_score.is_finite()));
    }

    #[test]
    fn anchored_scale_is_three_at_the_critical_value() {
        for &(n, tail) in &[(54usize, Tail::Both), (200, Tail::Upper), (12, Tail::Lower)] {
            let lambda = critical(0.05, n, tail);
            let z = esd_z(lambda, n, 0.05, tail);
            assert!((z - 3.0).abs() < 1e-6, "n={n}: {z}");
            assert!(esd_z(lambda * 1.1, n, 0.05, tail) > 3.0);
        }
        // Beyond the largest possible R for the sample mean the tail is zero: capped, finite.
        assert!(esd_z(1e9, 20, 0.05, Tail::Both).is_finite());
    }

    #[test]
    fn one_sided_and_robust_variants() {
        let mut x: Vec<f64> = (0..100).map(|i| ((i * 37) % 17) as f64).collect();
        x[10] = 200.0;
        x[20] = -200.0;
        let both = EsdParams::default().fit(&x[..]).unwrap();
        assert_eq!(both.anomalies, vec![10, 20]);
        let up = EsdParams::default().tail(Tail::Upper).fit(&x[..]).unwrap();
        assert_eq!(up.anomalies, vec![10]);
        let down = EsdParams::default().tail(Tail::Lower).robust(true).fit(&x[..]).unwrap();
        assert_eq!(down.anomalies, vec![20]);
        assert!(EsdParams::default().max_anomalies(AnomalyCap::Count(50)).fit(&x[..]).is_err());
        assert!(EsdParams::default().fit(&[1.0, 2.0][..]).is_err());
        assert!(EsdParams::default().fit(&[1.0, f64::NAN, 3.0][..]).is_err());
        assert!(EsdParams::default().alpha(0.0).fit(&x[..]).is_err());
        // All equal: nothing to find, no NaN.
        let flat = EsdParams::default().robust(true).fit(&[5.0; 30][..]).unwrap();
        assert!(flat.anomalies.is_empty() && flat.verdicts.iter().all(|v| v.z == 0.0));
    }

    #[test]
    fn piecewise_level_joins_a_short_tail() {
        let x: Vec<f64> = (0..9).map(|i| i as f64).collect();
        assert_eq!(piecewise_median(&x, 4), vec![1.5, 1.5, 1.5, 1.5, 6.0, 6.0, 6.0, 6.0, 6.0]);
        assert_eq!(piecewise_median(&x, 100), vec![4.0; 9]);
    }
}
