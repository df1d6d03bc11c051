use super::ScaleFloor;
use crate::error::{Error, Result, check, finite};
use crate::snapshot::{Stateful, ensure, ensure_finite};
use crate::traits::{Baseline, Expectation, LevelShift};
use crate::types::Point;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::VecDeque;

/// Consistency constant that makes the MAD estimate a Gaussian standard deviation.
pub(crate) const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// Parameters of a [`QuantileWindow`].
///
/// ```
/// use oddsight_core::{Baseline, Point, QuantileWindowParams};
/// let mut w = QuantileWindowParams::default().window(5).warmup(5).build()?;
/// for (i, v) in [1.0, 2.0, 3.0, 4.0, 100.0].into_iter().enumerate() {
///     w.update(Point::new(i as i64, v))?;
/// }
/// assert_eq!(w.median(), Some(3.0));
/// assert_eq!(w.mad(), Some(1.0)); // |x - 3| = 2, 1, 0, 1, 97 -> median 1
/// assert_eq!(w.quantile(0.25)?, Some(2.0));
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuantileWindowParams {
    /// Window length in points, 1..=1,000,000. Default 1440 (a day of minutes).
    pub window: usize,
    /// Points needed before the baseline is warm. Default 30 (capped at `window`).
    pub warmup: usize,
    /// Spread floor, used when the MAD is zero (a series that is mostly constant).
    pub floor: ScaleFloor,
}

impl Default for QuantileWindowParams {
    fn default() -> Self {
        QuantileWindowParams { window: 1440, warmup: 30, floor: ScaleFloor::default() }
    }
}

impl QuantileWindowParams {
    /// Sets `window`.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }
    /// Sets `warmup`.
    pub fn warmup(mut self, warmup: usize) -> Self {
        self.warmup = warmup;
        self
    }
    /// Sets the spread floor.
    pub fn floor(mut self, floor: ScaleFloor) -> Self {
        self.floor = floor;
        self
    }
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        check::range_usize("window", self.window, 1, 1_000_000)?;
        self.floor.validate()
    }
    /// # Errors
    /// As [`QuantileWindowParams::validate`].
    pub fn build(self) -> Result<QuantileWindow> {
        self.validate()?;
        let cap = self.window;
        Ok(QuantileWindow { params: self, ring: VecDeque::with_capacity(cap), sorted: Vec::with_capacity(cap) })
    }
}

/// Exact sliding-window median, MAD and quantiles.
///
/// Keeps the window twice: in arrival order (to know what leaves) and sorted. Each point costs
/// two binary searches and one `copy_within` of the values between the leaving and the arriving
/// value's ranks, which is a single contiguous move in cache: for the windows telemetry uses
/// (minutes to a day) that beats tree and skip-list structures, whose pointer chasing costs more
/// than the move. The MAD is then found in O(log w) without building the deviations: they form
/// two sorted runs on either side of the median, and the k-th smallest of two sorted runs is a
/// binary search. Memory: 16 bytes per point of window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileWindow {
    params: QuantileWindowParams,
    ring: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl QuantileWindow {
    /// Points in the window.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The window's values in ascending order.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// Learns a value already known to be finite.
    #[inline]
    pub fn learn(&mut self, x: f64) {
        let s = &mut self.sorted;
        if self.ring.len() == self.params.window
            && let Some(old) = self.ring.pop_front()
        {
            // `old` is in `sorted` bit for bit, so the first element not below it is it.
            let i = s.partition_point(|&v| v < old);
            let j = s.partition_point(|&v| v < x);
            if j <= i {
                s.copy_within(j..i, j + 1);
                s[j] = x;
            } else {
                s.copy_within(i + 1..j, i);
                s[j - 1] = x;
            }
        } else {
            let j = s.partition_point(|&v| v < x);
            s.insert(j, x);
        }
        self.ring.push_back(x);
    }

    /// Median of the window, `None` when empty.
    #[inline]
    pub fn median(&self) -> Option<f64> {
        let s = &self.sorted;
        let n = s.len();
        if n == 0 {
            return None;
        }
        Some(if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) })
    }

    /// Median absolute deviation from the median (unscaled), `None` when empty.
    #[inline]
    pub fn mad(&self) -> Option<f64> {
        let m = self.median()?;
        let s = &self.sorted;
        let n = s.len();
        let split = s.partition_point(|&v| v < m);
        // Deviations below the median, ascending: m - s[split-1], m - s[split-2], …
        let below = |t: usize| m - s[split - 1 - t];
        // Deviations at or above it, ascending: s[split] - m, …
        let above = |t: usize| s[split + t] - m;
        let (nb, na) = (split, n - split);
        Some(if n % 2 == 1 {
            kth_of_two(&below, nb, &above, na, n / 2)
        } else {
            0.5 * (kth_of_two(&below, nb, &above, na, n / 2 - 1) + kth_of_two(&below, nb, &above, na, n / 2))
        })
    }

    /// The `q`-quantile with linear interpolation between order statistics (the "type 7"
    /// definition numpy and pandas use by default), `None` when empty.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `q` is in `[0, 1]`.
    pub fn quantile(&self, q: f64) -> Result<Option<f64>> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::param("q", "must be in [0, 1]", q));
        }
        Ok(interpolated_quantile(&self.sorted, q))
    }

    /// Interquartile range, `None` when empty.
    pub fn iqr(&self) -> Option<f64> {
        Some(interpolated_quantile(&self.sorted, 0.75)? - interpolated_quantile(&self.sorted, 0.25)?)
    }

    /// Median and floored robust scale (`1.4826 × MAD`) in one call, with whether the floor was
    /// used.
    #[inline]
    pub fn robust(&self) -> Option<(f64, f64, bool)> {
        let m = self.median()?;
        let mad = self.mad()?;
        let (s, floored) = self.params.floor.apply(MAD_TO_SIGMA * mad, m);
        Some((m, s, floored))
    }
}

/// Type-7 quantile of an ascending slice.
pub(crate) fn interpolated_quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// The k-th smallest (0-based) element of the union of two ascending sequences given by index
/// functions, in O(log k).
#[inline]
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

impl Baseline for QuantileWindow {
    fn update(&mut self, point: Point) -> Result<()> {
        self.learn(finite("value", point.value)?);
        Ok(())
    }

    fn expect(&self, _timestamp: i64) -> Expectation {
        let (center, scale, floored) = self.robust().unwrap_or((0.0, self.params.floor.absolute, true));
        Expectation {
            center,
            scale,
            count: self.ring.len() as u64,
            min_count: self.params.warmup.clamp(1, self.params.window) as u64,
            warm: self.ring.len() >= self.params.warmup.clamp(1, self.params.window),
            floored,
            fallback: false,
            source: Cow::Borrowed("median-mad"),
        }
    }

    fn shift(&mut self, shift: LevelShift) {
        // An additive shift or a positive factor keeps the order, so `sorted` stays sorted.
        self.ring.iter_mut().for_each(|x| *x = shift.apply(*x));
        self.sorted.iter_mut().for_each(|x| *x = shift.apply(*x));
    }

    fn reset(&mut self) {
        self.ring.clear();
        self.sorted.clear();
    }

    fn count(&self) -> u64 {
        self.ring.len() as u64
    }
}

impl Stateful for QuantileWindow {
    fn kind() -> String {
        "QuantileWindow".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        ensure(self.ring.len() <= self.params.window, || {
            format!("window holds {} points, more than {}", self.ring.len(), self.params.window)
        })?;
        ensure_finite("QuantileWindow", &self.ring)?;
        let mut check: Vec<f64> = self.ring.iter().copied().collect();
        check.sort_by(f64::total_cmp);
        ensure(check == self.sorted, || "sorted copy does not match the window".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(window: &[f64]) -> (f64, f64) {
        let mut s = window.to_vec();
        s.sort_by(f64::total_cmp);
        let med = |s: &[f64]| {
            let n = s.len();
            if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) }
        };
        let m = med(&s);
        let mut d: Vec<f64> = s.iter().map(|x| (x - m).abs()).collect();
        d.sort_by(f64::total_cmp);
        (m, med(&d))
    }

    #[test]
    fn matches_naive_median_and_mad() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for &w in &[1usize, 2, 3, 7, 64, 101] {
            let mut q = QuantileWindowParams::default().window(w).build().unwrap();
            let mut all = Vec::new();
            for _ in 0..500 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Few distinct values, so ties and zero MADs are exercised too.
                let x = (rng % 9) as f64 - 4.0;
                q.learn(x);
                all.push(x);
                let tail = &all[all.len().saturating_sub(w)..];
                let (m, mad) = naive(tail);
                assert_eq!(q.median(), Some(m));
                assert_eq!(q.mad(), Some(mad), "window {w}: {tail:?}");
            }
        }
    }
}
