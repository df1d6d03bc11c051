//! Seasonality discovery: the dominant period(s) of a series, found from the data, so that a
//! user need not know that their metric has a daily or weekly cycle.
//!
//! [`PeriodParams::find`] (values, evenly spaced) and [`PeriodParams::find_timed`] (values with
//! timestamps, placed on a grid) return a [`Seasonality`]: candidate periods with their
//! strength, strongest first, or none for a series without a cycle.
//!
//! # Method
//!
//! 1. **Clean.** Missing points (NaN, or grid slots no timestamp fell in) are masked, a
//!    least-squares line is removed (a trend would otherwise dominate every lag), and values
//!    beyond 5 robust standard deviations of the median are clipped (a spike would otherwise
//!    dilute every lag).
//! 2. **Autocorrelate.** The autocorrelation at every lag up to half the series is computed with
//!    one FFT (O(n log n)) and normalised per lag by the pairs actually present, so gaps bias
//!    nothing.
//! 3. **Pick peaks.** A candidate is a local maximum at or above `min_strength` and three
//!    standard errors of a white-noise autocorrelation, that rises at least `min_prominence`
//!    above the trough between half its lag and itself, and is the highest within ±10 % of its
//!    lag.
//! 4. **Drop harmonics.** A multiple `m·P` of a kept period `P` is kept only if it is stronger
//!    than `P` *and* than its neighbouring multiples by 0.05: the weekly peak of an hourly
//!    series (168 = 7 × 24) survives because weekends differ, while 48, 72, … do not.
//! 5. **Snap.** With timestamps, a period within `snap_tolerance` of a minute, hour, day or
//!    week is moved onto it exactly (an autocorrelation peak at 1437 minutes is a day).

use crate::change::{check_value, param, range_usize};
use ndarray::ArrayView1;
use oddsight_core::{Error, Fit, Result};
use serde::{Deserialize, Serialize};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
const CALENDAR_MS: [i64; 4] = [MINUTE_MS, HOUR_MS, DAY_MS, WEEK_MS];

/// A multiple of a kept period must beat it, and its neighbouring multiples, by this much.
const HARMONIC_GAIN: f64 = 0.05;
/// Peaks within this fraction of a stronger peak's lag are the same peak.
const PEAK_NEIGHBOURHOOD: f64 = 0.10;
/// A period's autocorrelation must reach this many standard errors of an AR(1) null (four,
/// not three: every lag up to half the series is a test).
const AR_NULL_Z: f64 = 4.0;
/// Fewest points the analysis accepts, whatever the periods asked for.
const MIN_POINTS: usize = 8;

/// Parameters of seasonality discovery.
///
/// ```
/// use oddsight_detectors::period::PeriodParams;
/// // Hourly points for four weeks: a daily cycle, quieter weekends.
/// let hour = 3_600_000i64;
/// let t: Vec<i64> = (0..24 * 28).map(|h| h * hour).collect();
/// let v: Vec<f64> = (0..24 * 28)
///     .map(|h| {
///         let daily = (2.0 * std::f64::consts::PI * (h % 24) as f64 / 24.0).sin();
///         let weekend = if (h / 24) % 7 >= 5 { -2.0 } else { 0.0 };
///         10.0 + daily + weekend + ((h * 7919) % 13) as f64 / 26.0
///     })
///     .collect();
/// let s = PeriodParams::default().find_timed(&t, &v)?;
/// let periods: Vec<usize> = s.candidates.iter().map(|c| c.period).collect();
/// assert!(periods.contains(&24) && periods.contains(&168), "{periods:?}");
/// assert!(PeriodParams::default().find(&[1.0, 2.0]).is_err()); // too short to tell
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeriodParams {
    /// Shortest period considered, in points, ≥ 2. Default 2.
    pub min_period: usize,
    /// Longest period considered, in points; `None` for half the series (a period must be seen
    /// at least twice). Default `None`.
    pub max_period: Option<usize>,
    /// Most candidates returned. 1..=32. Default 3.
    pub max_candidates: usize,
    /// Smallest autocorrelation a period needs, in (0, 1). Default 0.2.
    pub min_strength: f64,
    /// How far a peak must rise above the trough before it, in `[0, 2]`. Default 0.1.
    pub min_prominence: f64,
    /// Snap periods onto a calendar minute, hour, day or week when timestamps are known.
    /// Default true.
    pub snap: bool,
    /// Relative distance within which a period snaps, in `[0, 0.2]`. Default 0.03.
    pub snap_tolerance: f64,
}

impl Default for PeriodParams {
    fn default() -> Self {
        PeriodParams {
            min_period: 2,
            max_period: None,
            max_candidates: 3,
            min_strength: 0.2,
            min_prominence: 0.1,
            snap: true,
            snap_tolerance: 0.03,
        }
    }
}

/// One candidate period.
///
/// ```
/// use oddsight_detectors::period::PeriodParams;
/// let v: Vec<f64> = (0..120).map(|i| [1.0, 5.0, 9.0, 5.0, 1.0, 0.0][i % 6]).collect();
/// let c = PeriodParams::default().find(&v)?.dominant().cloned().unwrap();
/// assert_eq!((c.period, c.period_ms, c.snapped), (6, None, false));
/// assert!(c.strength > 0.9);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodCandidate {
    /// The period, in points (grid steps for timed input).
    pub period: usize,
    /// The period in milliseconds, when timestamps were given.
    pub period_ms: Option<i64>,
    /// Autocorrelation of the detrended series at this lag, in (0, 1]: the share of the
    /// variance that repeats with this period.
    pub strength: f64,
    /// Whether the period was moved onto a calendar period.
    pub snapped: bool,
}

/// What seasonality discovery found.
///
/// ```
/// use oddsight_detectors::period::PeriodParams;
/// // Per-minute points with a daily cycle, a few missing, some timestamps a little late.
/// let t: Vec<i64> = (0..4 * 1440).filter(|i| i % 700 != 3).map(|i| i * 60_000 + (i % 9 == 0) as i64 * 3).collect();
/// let v: Vec<f64> = t.iter().map(|&t| ((t / 60_000) % 1440 < 600) as u8 as f64 * 10.0).collect();
/// let s = PeriodParams::default().find_timed(&t, &v)?;
/// assert_eq!(s.step_ms, Some(60_000));
/// assert!(s.is_seasonal() && s.missing > 0);
/// assert_eq!(s.dominant().unwrap().period_ms, Some(86_400_000));
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seasonality {
    /// Candidate periods, strongest first; empty when the series shows no cycle.
    pub candidates: Vec<PeriodCandidate>,
    /// Points analysed (grid slots for timed input).
    pub points: usize,
    /// Of which missing.
    pub missing: usize,
    /// Grid step in milliseconds (the median spacing of the timestamps), when timestamps were
    /// given.
    pub step_ms: Option<i64>,
}

impl Seasonality {
    /// The strongest period, if any.
    pub fn dominant(&self) -> Option<&PeriodCandidate> {
        self.candidates.first()
    }

    /// Whether any period was found.
    pub fn is_seasonal(&self) -> bool {
        !self.candidates.is_empty()
    }
}

impl PeriodParams {
    /// Sets `min_period`.
    pub fn min_period(mut self, points: usize) -> Self {
        self.min_period = points;
        self
    }
    /// Sets `max_period`.
    pub fn max_period(mut self, points: Option<usize>) -> Self {
        self.max_period = points;
        self
    }
    /// Sets `max_candidates`.
    pub fn max_candidates(mut self, n: usize) -> Self {
        self.max_candidates = n;
        self
    }
    /// Sets `min_strength`.
    pub fn min_strength(mut self, r: f64) -> Self {
        self.min_strength = r;
        self
    }
    /// Sets `min_prominence`.
    pub fn min_prominence(mut self, r: f64) -> Self {
        self.min_prominence = r;
        self
    }
    /// Sets `snap`.
    pub fn snap(mut self, snap: bool) -> Self {
        self.snap = snap;
        self
    }
    /// Sets `snap_tolerance`.
    pub fn snap_tolerance(mut self, tolerance: f64) -> Self {
        self.snap_tolerance = tolerance;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        range_usize("min_period", self.min_period, 2, 100_000_000)?;
        if let Some(max) = self.max_period {
            range_usize("max_period", max, self.min_period, 100_000_000)?;
        }
        range_usize("max_candidates", self.max_candidates, 1, 32)?;
        if !(self.min_strength > 0.0 && self.min_strength < 1.0) {
            return Err(param("min_strength", "must be in (0, 1)", self.min_strength));
        }
        if !(0.0..=2.0).contains(&self.min_prominence) {
            return Err(param("min_prominence", "must be in [0, 2]", self.min_prominence));
        }
        if !(0.0..=0.2).contains(&self.snap_tolerance) {
            return Err(param("snap_tolerance", "must be in [0, 0.2]", self.snap_tolerance));
        }
        Ok(())
    }

    /// Finds the periods of evenly spaced `values`; NaN marks a missing point.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad parameters, [`Error::Empty`] for no values,
    /// [`Error::NonFinite`] for ±inf, [`Error::Shape`] when the series is too short to see
    /// `min_period` twice (or has fewer than 8 present points).
    pub fn find(&self, values: &[f64]) -> Result<Seasonality> {
        self.validate()?;
        if values.is_empty() {
            return Err(Error::Empty { what: "values" });
        }
        for &v in values.iter().filter(|v| !v.is_nan()) {
            check_value(v)?;
        }
        self.analyse(values, None)
    }

    /// [`PeriodParams::find`] over an ndarray view (any stride).
    ///
    /// # Errors
    /// As [`PeriodParams::find`].
    pub fn find_view(&self, values: ArrayView1<'_, f64>) -> Result<Seasonality> {
        match values.as_slice() {
            Some(v) => self.find(v),
            None => self.find(&values.to_vec()),
        }
    }

    /// Finds the periods of `values` observed at `timestamps` (Unix ms, non-decreasing). The
    /// points are placed on a grid whose step is the median spacing; slots no point fell in
    /// are missing, several points in one slot are averaged, NaN values are missing. Periods
    /// are reported in grid steps and in milliseconds.
    ///
    /// # Errors
    /// As [`PeriodParams::find`], plus [`Error::Shape`] if the lengths differ,
    /// [`Error::OutOfOrder`] if timestamps go backwards, and [`Error::InvalidParameter`]
    /// (`timestamps`) if they are all equal or too irregular to grid (the grid would be more
    /// than 16 times longer than the series).
    pub fn find_timed(&self, timestamps: &[i64], values: &[f64]) -> Result<Seasonality> {
        self.validate()?;
        if timestamps.len() != values.len() {
            return Err(Error::Shape {
                what: "timestamps (one per value)",
                expected: values.len(),
                got: timestamps.len(),
            });
        }
        if values.is_empty() {
            return Err(Error::Empty { what: "values" });
        }
        for &v in values.iter().filter(|v| !v.is_nan()) {
            check_value(v)?;
        }
        let mut diffs = Vec::with_capacity(timestamps.len());
        for w in timestamps.windows(2) {
            if w[1] < w[0] {
                return Err(Error::OutOfOrder { timestamp: w[1], last: w[0] });
            }
            if w[1] > w[0] {
                diffs.push(w[1] - w[0]);
            }
        }
        if diffs.is_empty() {
            return Err(param("timestamps", "must span more than one instant", timestamps[0]));
        }
        let mid = diffs.len() / 2;
        let (_, &mut step, _) = diffs.select_nth_unstable(mid);
        let t0 = timestamps[0];
        let span = (timestamps[timestamps.len() - 1] - t0) as f64 / step as f64;
        if span > 16.0 * values.len() as f64 + 1024.0 {
            return Err(param("timestamps", "are too irregular to place on a grid", format!("median step {step} ms")));
        }
        let len = span.round() as usize + 1;
        let (mut sum, mut count) = (vec![0.0; len], vec![0u32; len]);
        for (&t, &v) in timestamps.iter().zip(values) {
            if v.is_nan() {
                continue;
            }
            let i = (((t - t0) as f64 / step as f64).round() as usize).min(len - 1);
            sum[i] += v;
            count[i] += 1;
        }
        let grid: Vec<f64> =
            sum.iter().zip(&count).map(|(&s, &c)| if c == 0 { f64::NAN } else { s / c as f64 }).collect();
        self.analyse(&grid, Some(step))
    }

    fn analyse(&self, x: &[f64], step_ms: Option<i64>) -> Result<Seasonality> {
        let n = x.len();
        let present = x.iter().filter(|v| v.is_finite()).count();
        let needed = (2 * self.min_period + 1).max(MIN_POINTS);
        if n < needed || present < MIN_POINTS {
            return Err(Error::Shape {
                what: "points at least (two cycles of min_period)",
                expected: needed,
                got: present,
            });
        }
        let mut out = Seasonality { candidates: Vec::new(), points: n, missing: n - present, step_ms };
        let Some(y) = clean(x) else { return Ok(out) };
        let max_lag = self.max_period.unwrap_or(usize::MAX).min(n / 2);
        let (r, pairs) = autocorrelation(&y, max_lag + 1);
        let at = |k: usize| r.get(k).copied().unwrap_or(0.0);

        // Local maxima that are strong and significant.
        let mut peaks: Vec<usize> = (self.min_period.max(2)..=max_lag)
            .filter(|&k| {
                let rk = at(k);
                let se = 1.0 / (pairs.get(k).copied().unwrap_or(0) as f64).max(1.0).sqrt();
                rk > at(k - 1) && rk >= at(k + 1) && rk >= self.min_strength && rk >= 3.0 * se
            })
            .collect();
        // Prominent peaks only (a bump on the shoulder of a broad peak is not a period), and
        // the highest within ±10 % of its lag wins.
        peaks.retain(|&k| prominence(&r[..=max_lag], k) >= self.min_prominence);
        peaks.sort_by(|&a, &b| at(b).total_cmp(&at(a)).then(a.cmp(&b)));
        let mut kept: Vec<usize> = Vec::new();
        for k in peaks {
            let near = |a: usize| (a.abs_diff(k) as f64) <= PEAK_NEIGHBOURHOOD * a.max(k) as f64;
            if !kept.iter().any(|&a| near(a)) {
                kept.push(k);
            }
        }
        // Harmonics: shortest first, a multiple must earn its place.
        kept.sort_unstable();
        let near_max = |k: usize| {
            let w = ((0.03 * k as f64) as usize).max(1);
            (k.saturating_sub(w)..=(k + w).min(max_lag)).map(at).fold(f64::NEG_INFINITY, f64::max)
        };
        let mut periods: Vec<usize> = Vec::new();
        for &q in &kept {
            // A multiple of any kept period must beat it and its neighbouring multiples.
            let keep = periods.iter().all(|&p| {
                let m = (q as f64 / p as f64).round();
                let multiple = m >= 2.0 && (q as f64 - m * p as f64).abs() <= (0.05 * q as f64).max(2.0);
                if !multiple {
                    return true;
                }
                let m = m as usize;
                let below = near_max((m - 1) * p);
                let above = if (m + 1) * p <= max_lag { near_max((m + 1) * p) } else { f64::NEG_INFINITY };
                at(q) >= at(p) + HARMONIC_GAIN && at(q) >= below.max(above) + HARMONIC_GAIN
            });
            if keep {
                periods.push(q);
            }
        }
        // Refine each period on the autocorrelation that a slower cycle cannot tilt.
        let periods: Vec<usize> = periods.iter().map(|&k| refine(&y, k, self.min_period.max(2), max_lag)).collect();
        for &k in &periods {
            let mut c = PeriodCandidate {
                period: k,
                period_ms: step_ms.map(|s| s * k as i64),
                strength: at(k),
                snapped: false,
            };
            if let (true, Some(step)) = (self.snap, step_ms) {
                for cal in CALENDAR_MS {
                    let lag = (cal / step) as usize;
                    let close = ((k as i64 * step - cal).abs() as f64) <= self.snap_tolerance * cal as f64;
                    if cal % step == 0 && close && lag >= 2 && lag <= max_lag {
                        c = PeriodCandidate { period: lag, period_ms: Some(cal), strength: at(lag), snapped: lag != k };
                    }
                }
            }
            let verified = c.strength >= self.min_strength
                && c.strength
                    >= AR_NULL_Z
                        * ar1_standard_error(&y, c.period, &periods, pairs.get(c.period).copied().unwrap_or(0))
                && seasonal_correlation(&y, c.period) >= self.min_strength;
            if verified && !out.candidates.iter().any(|o: &PeriodCandidate| o.period == c.period) {
                out.candidates.push(c);
            }
        }
        out.candidates.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(a.period.cmp(&b.period)));
        out.candidates.truncate(self.max_candidates);
        Ok(out)
    }
}

impl Fit<[f64]> for PeriodParams {
    type Fitted = Seasonality;

    /// [`PeriodParams::find`].
    fn fit(&self, values: &[f64]) -> Result<Seasonality> {
        self.find(values)
    }
}

/// Standard error of the autocorrelation at lag `p` under an AR(1) null fitted to what is left
/// of `y` once its mean per phase of `p`, then of each of the other `periods`, is removed:
/// `√((1 + φ²) / ((1 − φ²)·pairs))`. A real cycle leaves little autocorrelation behind (φ
/// small, the white-noise error); a series that merely wanders (a random walk, a strongly
/// autocorrelated process) keeps φ near 1, and the large error rejects the bumps its
/// autocorrelation shows at long lags. Removing the other periods too keeps a second real cycle
/// (weekends on top of days) from passing for wandering.
fn ar1_standard_error(y: &[f64], p: usize, periods: &[usize], pairs: usize) -> f64 {
    let mut resid = y.to_vec();
    // Two rounds of backfitting, phase means then a line: the line removed before the
    // autocorrelation is fitted to cycle and trend together, and its small error would
    // otherwise leave a staircase that looks like wandering.
    for _ in 0..2 {
        for q in std::iter::once(p).chain(periods.iter().copied().filter(|&q| q != p)) {
            let mut sum = vec![0.0; q];
            let mut cnt = vec![0usize; q];
            for (i, &v) in resid.iter().enumerate() {
                if v.is_finite() {
                    sum[i % q] += v;
                    cnt[i % q] += 1;
                }
            }
            for (i, v) in resid.iter_mut().enumerate() {
                if v.is_finite() {
                    *v -= sum[i % q] / cnt[i % q] as f64;
                }
            }
        }
        remove_line(&mut resid);
    }
    let (mut num, mut den) = (0.0, 0.0);
    for w in resid.windows(2) {
        if w[0].is_finite() && w[1].is_finite() {
            num += w[0] * w[1];
        }
    }
    for v in resid.iter().filter(|v| v.is_finite()) {
        den += v * v;
    }
    // A cycle that explains (nearly) everything leaves only rounding behind, whose
    // autocorrelation means nothing.
    let total: f64 = y.iter().filter(|v| v.is_finite()).map(|v| v * v).sum();
    let phi = if den > 1e-12 * total { (num / den).clamp(0.0, 0.999) } else { 0.0 };
    ((1.0 + phi * phi) / ((1.0 - phi * phi) * pairs.max(1) as f64)).sqrt()
}

/// The lag within a few steps of `k` (±5 %, at most ±3, inside `lo..=hi`) that maximises
/// [`seasonal_correlation`]: where a second, slower cycle adds a sloping background to the
/// autocorrelation (weekends under a daily cycle), the raw peak leans off the true period by a
/// step or two; once the moving average has taken the slow cycle out, it does not. The search
/// stays this narrow because the top of a long period's peak is flat, and a wider one would
/// wander on noise.
fn refine(y: &[f64], k: usize, lo: usize, hi: usize) -> usize {
    let w = ((0.05 * k as f64) as usize).clamp(1, 3);
    let (from, to) = (k.saturating_sub(w).max(lo), (k + w).min(hi));
    let mut best = (seasonal_correlation(y, k), k);
    for j in from..=to {
        let c = seasonal_correlation(y, j);
        if c > best.0 {
            best = (c, j);
        }
    }
    best.1
}

/// Topographic prominence of the peak at `k`: how far it stands above the higher of the two
/// lowest points met on the way, left and right, to a higher value (or the end).
fn prominence(r: &[f64], k: usize) -> f64 {
    let peak = r[k];
    let mut left = peak;
    for &v in r[..k].iter().rev() {
        if v > peak {
            break;
        }
        left = left.min(v);
    }
    let mut right = peak;
    for &v in &r[k + 1..] {
        if v > peak {
            break;
        }
        right = right.min(v);
    }
    peak - left.max(right)
}

/// Autocorrelation at lag `p` of `y` minus its centred moving average over `p` points. The
/// moving average of exactly one period holds no cycle of that period, so what is removed is
/// the slow wandering (a random walk, a long AR excursion) that can put a spurious peak in the
/// autocorrelation of a series without a cycle. Needs the period about 2.5 times; 0 when the
/// series is too short for that.
fn seasonal_correlation(y: &[f64], p: usize) -> f64 {
    let n = y.len();
    if p < 2 || n < 2 * p + 8 {
        return 0.0;
    }
    // Prefix sums of present values and counts.
    let (mut sum, mut cnt) = (vec![0.0; n + 1], vec![0usize; n + 1]);
    for (i, &v) in y.iter().enumerate() {
        let present = v.is_finite();
        sum[i + 1] = sum[i] + if present { v } else { 0.0 };
        cnt[i + 1] = cnt[i] + usize::from(present);
    }
    let (h_lo, h_hi) = (p / 2, p - 1 - p / 2);
    let resid: Vec<f64> = (0..n)
        .map(|i| {
            if i < h_lo || i + h_hi >= n || !y[i].is_finite() {
                return f64::NAN;
            }
            let (a, b) = (i - h_lo, i + h_hi + 1);
            let c = cnt[b] - cnt[a];
            if 2 * c < p { f64::NAN } else { y[i] - (sum[b] - sum[a]) / c as f64 }
        })
        .collect();
    let present: Vec<f64> = resid.iter().copied().filter(|v| v.is_finite()).collect();
    if present.len() < 8 {
        return 0.0;
    }
    let mean = present.iter().sum::<f64>() / present.len() as f64;
    let var = present.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / present.len() as f64;
    let (mut acc, mut pairs) = (0.0, 0usize);
    for i in 0..n - p {
        let (a, b) = (resid[i], resid[i + p]);
        if a.is_finite() && b.is_finite() {
            acc += (a - mean) * (b - mean);
            pairs += 1;
        }
    }
    if pairs < 8 || var <= 0.0 { 0.0 } else { (acc / pairs as f64 / var).clamp(-1.0, 1.0) }
}

/// Subtracts the least-squares line through the present points.
fn remove_line(y: &mut [f64]) {
    let (mut n, mut st, mut sx, mut stt, mut stx) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        if v.is_finite() {
            let t = i as f64;
            n += 1.0;
            st += t;
            sx += v;
            stt += t * t;
            stx += t * v;
        }
    }
    if n == 0.0 {
        return;
    }
    let denom = n * stt - st * st;
    let slope = if denom > 0.0 { (n * stx - st * sx) / denom } else { 0.0 };
    let intercept = (sx - slope * st) / n;
    for (i, v) in y.iter_mut().enumerate() {
        *v -= intercept + slope * i as f64;
    }
}

/// Detrended, clipped values with missing points as NaN; `None` when what is present is
/// constant (no cycle to find).
fn clean(x: &[f64]) -> Option<Vec<f64>> {
    // Least-squares line through the present points.
    let (mut n, mut st, mut sx, mut stt, mut stx) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        if v.is_finite() {
            let t = i as f64;
            n += 1.0;
            st += t;
            sx += v;
            stt += t * t;
            stx += t * v;
        }
    }
    let denom = n * stt - st * st;
    let slope = if denom > 0.0 { (n * stx - st * sx) / denom } else { 0.0 };
    let intercept = (sx - slope * st) / n;
    let mut y: Vec<f64> = x.iter().enumerate().map(|(i, &v)| v - intercept - slope * i as f64).collect();
    // Clip at 5 robust standard deviations.
    let mut present: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
    let median = median_in_place(&mut present);
    let mut dev: Vec<f64> = present.iter().map(|v| (v - median).abs()).collect();
    let mut sigma = 1.482_602_218_505_602 * median_in_place(&mut dev);
    if sigma <= 0.0 {
        let mean = present.iter().sum::<f64>() / present.len() as f64;
        sigma = (present.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / present.len() as f64).sqrt();
    }
    let scale = sigma.max(f64::MIN_POSITIVE);
    if sigma <= 1e-12 * (median.abs() + intercept.abs()).max(1e-300) {
        return None;
    }
    for v in y.iter_mut().filter(|v| v.is_finite()) {
        *v = v.clamp(median - 5.0 * scale, median + 5.0 * scale);
    }
    Some(y)
}

fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return hi;
    }
    let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    0.5 * (lo + hi)
}

/// Autocorrelation at lags `0..=max_lag` of `y` (NaN = missing), each lag normalised by the
/// pairs present at it, and those pair counts. One forward and one inverse FFT for the series,
/// and two more for the mask when points are missing.
fn autocorrelation(y: &[f64], max_lag: usize) -> (Vec<f64>, Vec<usize>) {
    let n = y.len();
    let max_lag = max_lag.min(n - 1);
    let present: Vec<bool> = y.iter().map(|v| v.is_finite()).collect();
    let count = present.iter().filter(|&&p| p).count().max(1);
    let mean = y.iter().filter(|v| v.is_finite()).sum::<f64>() / count as f64;
    let centred: Vec<f64> = y.iter().map(|&v| if v.is_finite() { v - mean } else { 0.0 }).collect();
    let sums = self_correlation(&centred, max_lag);
    let pairs: Vec<usize> = if count == n {
        (0..=max_lag).map(|k| n - k).collect()
    } else {
        let mask: Vec<f64> = present.iter().map(|&p| if p { 1.0 } else { 0.0 }).collect();
        self_correlation(&mask, max_lag).iter().map(|c| c.round().max(0.0) as usize).collect()
    };
    let c0 = sums[0] / pairs[0].max(1) as f64;
    let r = sums
        .iter()
        .zip(&pairs)
        .map(|(&s, &p)| if p >= 3 && c0 > 0.0 { (s / p as f64 / c0).clamp(-1.0, 1.0) } else { 0.0 })
        .collect();
    (r, pairs)
}

/// `Σ_i x_i x_{i+k}` for `k` in `0..=max_lag`, by FFT with zero padding (no wrap-around).
fn self_correlation(x: &[f64], max_lag: usize) -> Vec<f64> {
    let size = (x.len() + max_lag + 1).next_power_of_two();
    let mut re = vec![0.0; size];
    let mut im = vec![0.0; size];
    re[..x.len()].copy_from_slice(x);
    fft(&mut re, &mut im, false);
    for (r, i) in re.iter_mut().zip(im.iter_mut()) {
        *r = *r * *r + *i * *i;
        *i = 0.0;
    }
    fft(&mut re, &mut im, true);
    re.truncate(max_lag + 1);
    re
}

/// In-place iterative radix-2 FFT (`re.len()` a power of two); the inverse is scaled by `1/n`.
/// Written here because it is the only spectral kernel the crate needs.
fn fft(re: &mut [f64], im: &mut [f64], inverse: bool) {
    let n = re.len();
    if n < 2 {
        return;
    }
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    let mut len = 2;
    while len <= n {
        let angle = sign * 2.0 * std::f64::consts::PI / len as f64;
        let half = len / 2;
        // Twiddles from the exact angle each time: a recurrence would drift on long transforms.
        for k in 0..half {
            let (s, c) = (angle * k as f64).sin_cos();
            let mut i = k;
            while i < n {
                let j = i + half;
                let tr = re[j] * c - im[j] * s;
                let ti = re[j] * s + im[j] * c;
                re[j] = re[i] - tr;
                im[j] = im[i] - ti;
                re[i] += tr;
                im[i] += ti;
                i += len;
            }
        }
        len <<= 1;
    }
    if inverse {
        let scale = 1.0 / n as f64;
        re.iter_mut().for_each(|v| *v *= scale);
        im.iter_mut().for_each(|v| *v *= scale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_correlation_matches_direct_sums() {
        let x: Vec<f64> = (0..37).map(|i| ((i * 7919) % 23) as f64 - 11.0).collect();
        let fast = self_correlation(&x, 20);
        for k in 0..=20 {
            let direct: f64 = (0..x.len() - k).map(|i| x[i] * x[i + k]).sum();
            assert!((fast[k] - direct).abs() < 1e-8 * direct.abs().max(1.0), "lag {k}");
        }
    }

    #[test]
    fn finds_a_simple_cycle_and_rejects_short_series() {
        let x: Vec<f64> = (0..200).map(|i| ((i % 10) as f64 - 4.5).abs()).collect();
        let s = PeriodParams::default().find(&x).unwrap();
        assert_eq!(s.dominant().map(|c| c.period), Some(10), "{s:?}");
        assert!(matches!(PeriodParams::default().find(&[1.0; 5]), Err(Error::Shape { .. })));
        assert!(matches!(PeriodParams::default().min_period(50).find(&x[..60]), Err(Error::Shape { .. })));
        assert!(!PeriodParams::default().find(&[3.0; 50]).unwrap().is_seasonal());
        assert!(PeriodParams::default().find(&[f64::INFINITY; 50]).is_err());
        assert!(PeriodParams::default().min_strength(0.0).find(&x).is_err());
    }
}
