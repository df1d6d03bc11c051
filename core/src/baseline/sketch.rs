use crate::error::{Error, Result, check, finite};
use crate::snapshot::{Stateful, ensure, ensure_finite};
use serde::{Deserialize, Serialize};

/// Parameters of a [`QuantileSketch`].
///
/// ```
/// use oddsight_core::QuantileSketchParams;
/// let mut s = QuantileSketchParams::default().build()?;
/// for i in 1..=10_000 {
///     s.add(i as f64)?;
/// }
/// let p99 = s.quantile(0.99)?.unwrap();
/// assert!((p99 - 9_900.0).abs() / 9_900.0 <= 0.01); // within the 1 % relative accuracy
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuantileSketchParams {
    /// Relative accuracy α in (0, 0.5): every reported quantile is within `α × |true value|` of
    /// a value whose rank is the requested one. Default 0.01.
    pub relative_accuracy: f64,
    /// Most bins per sign, 16..=65,536. Default 2048, which spans 18 orders of magnitude at
    /// α = 0.01 before the bins nearest zero start to merge. Default 2048.
    pub max_bins: usize,
    /// Values with magnitude below this count as zero. Default 1e-9.
    pub min_magnitude: f64,
}

impl Default for QuantileSketchParams {
    fn default() -> Self {
        QuantileSketchParams { relative_accuracy: 0.01, max_bins: 2048, min_magnitude: 1e-9 }
    }
}

impl QuantileSketchParams {
    /// Sets `relative_accuracy`.
    pub fn relative_accuracy(mut self, alpha: f64) -> Self {
        self.relative_accuracy = alpha;
        self
    }
    /// Sets `max_bins`.
    pub fn max_bins(mut self, bins: usize) -> Self {
        self.max_bins = bins;
        self
    }
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        if !(self.relative_accuracy > 0.0 && self.relative_accuracy < 0.5) {
            return Err(Error::param("relative_accuracy", "must be in (0, 0.5)", self.relative_accuracy));
        }
        check::range_usize("max_bins", self.max_bins, 16, 65_536)?;
        check::positive("min_magnitude", self.min_magnitude)
    }
    /// # Errors
    /// As [`QuantileSketchParams::validate`].
    pub fn build(self) -> Result<QuantileSketch> {
        self.validate()?;
        let gamma = (1.0 + self.relative_accuracy) / (1.0 - self.relative_accuracy);
        Ok(QuantileSketch {
            inv_ln_gamma: 1.0 / gamma.ln(),
            gamma,
            params: self,
            pos: Store::default(),
            neg: Store::default(),
            zeros: 0,
            count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
        })
    }
}

/// Contiguous bins `offset..offset + bins.len()`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Store {
    offset: i32,
    bins: Vec<u64>,
}

impl Store {
    #[inline]
    fn add(&mut self, index: i32, n: u64, max_bins: usize) {
        if self.bins.is_empty() {
            self.offset = index;
            self.bins.push(n);
            return;
        }
        let top = self.offset + self.bins.len() as i32;
        if index >= self.offset && index < top {
            self.bins[(index - self.offset) as usize] += n;
        } else if index >= top {
            let grow = (index - top + 1) as usize;
            self.bins.resize(self.bins.len() + grow, 0);
            if let Some(last) = self.bins.last_mut() {
                *last += n;
            }
            if self.bins.len() > max_bins {
                // Merge the bins nearest zero: the tails (p95, p99) keep their accuracy.
                let excess = self.bins.len() - max_bins;
                let merged: u64 = self.bins.drain(..excess).sum();
                self.bins[0] += merged;
                self.offset += excess as i32;
            }
        } else {
            let room = max_bins.saturating_sub(self.bins.len());
            let need = (self.offset - index) as usize;
            let grow = need.min(room);
            if grow > 0 {
                self.bins.splice(0..0, std::iter::repeat_n(0, grow));
                self.offset -= grow as i32;
            }
            self.bins[0] += n;
        }
    }
    fn total(&self) -> u64 {
        self.bins.iter().sum()
    }
}

/// A mergeable quantile sketch for unbounded streams (p50/p95/p99 of latency since start).
///
/// Values are binned on a logarithmic grid with ratio `γ = (1 + α)/(1 − α)`; a bin's
/// representative value is within relative error α of everything in it, so every quantile is
/// within `α × |value|` of a value of the requested rank, whatever the distribution. Memory is
/// bounded by `max_bins` per sign (8 bytes each): once exceeded, the bins nearest zero merge,
/// which only costs accuracy at the low quantiles. Update is O(1): one logarithm and one
/// increment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileSketch {
    params: QuantileSketchParams,
    gamma: f64,
    inv_ln_gamma: f64,
    pos: Store,
    neg: Store,
    zeros: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl QuantileSketch {
    #[inline]
    fn index(&self, magnitude: f64) -> i32 {
        (magnitude.ln() * self.inv_ln_gamma).ceil() as i32
    }

    #[inline]
    fn value_of(&self, index: i32) -> f64 {
        2.0 * self.gamma.powi(index) / (1.0 + self.gamma)
    }

    /// Adds a value.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for NaN or ±inf; the sketch is unchanged.
    #[inline]
    pub fn add(&mut self, x: f64) -> Result<()> {
        finite("value", x)?;
        let m = x.abs();
        if m < self.params.min_magnitude {
            self.zeros += 1;
        } else {
            let i = self.index(m);
            if x > 0.0 { self.pos.add(i, 1, self.params.max_bins) } else { self.neg.add(i, 1, self.params.max_bins) }
        }
        if self.count == 0 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.count += 1;
        self.sum += x;
        Ok(())
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Exact minimum, `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }
    /// Exact maximum, `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }
    /// Exact mean, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
    /// Bytes of bin storage in use.
    pub fn bin_bytes(&self) -> usize {
        8 * (self.pos.bins.len() + self.neg.bins.len())
    }

    /// The `q`-quantile (lower rank `⌊q·(n−1)⌋`), `None` when empty.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `q` is in `[0, 1]`.
    pub fn quantile(&self, q: f64) -> Result<Option<f64>> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::param("q", "must be in [0, 1]", q));
        }
        if self.count == 0 {
            return Ok(None);
        }
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        // Most negative first: the negative store from its largest magnitude down.
        for (k, &c) in self.neg.bins.iter().enumerate().rev() {
            seen += c;
            if seen > rank {
                return Ok(Some((-self.value_of(self.neg.offset + k as i32)).clamp(self.min, self.max)));
            }
        }
        seen += self.zeros;
        if seen > rank {
            return Ok(Some(0.0f64.clamp(self.min, self.max)));
        }
        for (k, &c) in self.pos.bins.iter().enumerate() {
            seen += c;
            if seen > rank {
                return Ok(Some(self.value_of(self.pos.offset + k as i32).clamp(self.min, self.max)));
            }
        }
        Ok(Some(self.max))
    }

    /// Fraction of values at or below `x` (to the sketch's resolution): the empirical CDF.
    pub fn cdf(&self, x: f64) -> f64 {
        self.fraction_below(x, true)
    }

    /// Fraction of values at or above `x` (to the sketch's resolution): the exceedance.
    pub fn exceedance(&self, x: f64) -> f64 {
        if self.count == 0 || x.is_nan() { 0.0 } else { 1.0 - self.fraction_below(x, false) }
    }

    /// Fraction of values below `x`, counting the bin `x` falls in when `inclusive`.
    fn fraction_below(&self, x: f64, inclusive: bool) -> f64 {
        if self.count == 0 || x.is_nan() {
            return 0.0;
        }
        let m = self.params.min_magnitude;
        let below: u64 = if x >= m {
            let i = self.index(x);
            let pos: u64 = self
                .pos
                .bins
                .iter()
                .enumerate()
                .filter(|(k, _)| {
                    let idx = self.pos.offset + *k as i32;
                    idx < i || (inclusive && idx == i)
                })
                .map(|(_, c)| c)
                .sum();
            self.neg.total() + self.zeros + pos
        } else if x > -m {
            self.neg.total() + if inclusive { self.zeros } else { 0 }
        } else {
            let i = self.index(-x);
            self.neg
                .bins
                .iter()
                .enumerate()
                .filter(|(k, _)| {
                    let idx = self.neg.offset + *k as i32;
                    idx > i || (inclusive && idx == i)
                })
                .map(|(_, c)| c)
                .sum()
        };
        below as f64 / self.count as f64
    }

    /// Merges another sketch built with the same parameters into this one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the parameters differ; `self` is unchanged.
    pub fn merge(&mut self, other: &QuantileSketch) -> Result<()> {
        if self.params != other.params {
            return Err(Error::param("other", "must be built with the same parameters", format!("{:?}", other.params)));
        }
        for (store, theirs) in [(&mut self.pos, &other.pos), (&mut self.neg, &other.neg)] {
            for (k, &c) in theirs.bins.iter().enumerate() {
                if c > 0 {
                    store.add(theirs.offset + k as i32, c, self.params.max_bins);
                }
            }
        }
        if other.count > 0 {
            self.min = if self.count > 0 { self.min.min(other.min) } else { other.min };
            self.max = if self.count > 0 { self.max.max(other.max) } else { other.max };
        }
        self.zeros += other.zeros;
        self.count += other.count;
        self.sum += other.sum;
        Ok(())
    }
}

impl Stateful for QuantileSketch {
    fn kind() -> String {
        "QuantileSketch".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        ensure_finite("QuantileSketch", [&self.sum, &self.min, &self.max])?;
        ensure(self.pos.bins.len() <= self.params.max_bins && self.neg.bins.len() <= self.params.max_bins, || {
            "more bins than max_bins".into()
        })?;
        let total = self.pos.total() + self.neg.total() + self.zeros;
        ensure(total == self.count, || format!("bins hold {total} values but count is {}", self.count))?;
        let fresh = self.params.clone().build()?;
        ensure(fresh.gamma == self.gamma && fresh.inv_ln_gamma == self.inv_ln_gamma, || {
            "bin ratio does not match relative_accuracy".into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_holds_on_a_heavy_tail() {
        let mut s = QuantileSketchParams::default().build().unwrap();
        let mut xs: Vec<f64> = (1..=20_000).map(|i| (i as f64 / 20_000.0 * 12.0).exp()).collect();
        for &x in &xs {
            s.add(x).unwrap();
        }
        xs.sort_by(f64::total_cmp);
        for &q in &[0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let truth = xs[(q * (xs.len() - 1) as f64).floor() as usize];
            let got = s.quantile(q).unwrap().unwrap();
            assert!((got - truth).abs() <= 0.01 * truth * 1.000_001, "q={q}: {got} vs {truth}");
        }
    }

    #[test]
    fn signs_zeros_merge_and_bounded_bins() {
        let p = QuantileSketchParams::default().max_bins(64);
        let mut a = p.clone().build().unwrap();
        let mut b = p.build().unwrap();
        for i in -500..=500 {
            a.add(i as f64).unwrap();
            b.add(i as f64 * 1e6).unwrap();
        }
        assert_eq!(a.quantile(0.5).unwrap(), Some(0.0));
        let lowest = a.quantile(0.0).unwrap().unwrap();
        assert!((lowest + 500.0).abs() <= 5.0, "{lowest}");
        assert!((a.cdf(0.0) - 501.0 / 1001.0).abs() < 1e-12);
        a.merge(&b).unwrap();
        assert_eq!(a.count(), 2002);
        assert!(a.bin_bytes() <= 2 * 64 * 8);
        assert!(a.add(f64::NAN).is_err());
        assert_eq!(a.count(), 2002);
        let top = a.quantile(1.0).unwrap().unwrap();
        assert_eq!(top, 5e8);
    }
}
