use super::ScaleFloor;
use crate::error::{Error, Result, check, finite};
use crate::snapshot::{Stateful, ensure, ensure_finite};
use crate::traits::{Baseline, Expectation, LevelShift};
use crate::types::Point;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
/// 1970-01-05T00:00:00Z, the first Monday of the Unix epoch.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;

/// What a seasonal baseline does while a time-of-week bucket has too few samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ColdStart {
    /// Fall back to the coarse level (hour of day across all days), then to the global level.
    #[default]
    Fallback,
    /// Fall back straight to the global level.
    Global,
    /// Report not-warm until the bucket itself has enough samples.
    Strict,
}

/// A half-open interval of time `[start, end)` in Unix ms: an exclusion window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First excluded millisecond.
    pub start: i64,
    /// First millisecond after the window.
    pub end: i64,
}

/// Parameters of a [`SeasonalBaseline`].
///
/// The default is hour-of-day × day-of-week: a one-week period of 168 one-hour buckets whose
/// first bucket is Monday 00:00 at `tz_offset_ms` from UTC, with an hour-of-day coarse level for
/// cold start.
///
/// ```
/// use oddsight_core::{Baseline, Point, SeasonalParams};
/// const H: i64 = 3_600_000;
/// // Daily period, hourly buckets, no coarse level, UTC+2.
/// let mut b = SeasonalParams::default()
///     .period_ms(24 * H)
///     .bucket_ms(H)
///     .coarse_period_ms(None)
///     .tz_offset_ms(2 * H)
///     .min_samples(3)
///     .build()?;
/// for day in 0..5 {
///     for hour in 0..24 {
///         // Busy at 14:00 local time (12:00 UTC), quiet otherwise.
///         let v = if hour == 12 { 500.0 } else { 50.0 } + day as f64;
///         b.update(Point::new(day * 24 * H + hour * H, v))?;
///     }
/// }
/// let at_two_pm_local = b.expect(5 * 24 * H + 12 * H);
/// let at_two_am_local = b.expect(5 * 24 * H);
/// assert!(at_two_pm_local.center > 400.0 && at_two_am_local.center < 100.0);
/// assert_eq!(at_two_pm_local.source, "seasonal:bucket");
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeasonalParams {
    /// Length of the seasonal cycle. Default one week.
    pub period_ms: i64,
    /// Width of one bucket; must divide `period_ms`. Default one hour.
    pub bucket_ms: i64,
    /// Where the cycle starts, as a Unix ms instant (in local time). Default Monday
    /// 1970-01-05 00:00, so bucket 0 is Monday 00:00–01:00.
    pub anchor_ms: i64,
    /// Offset of local time from UTC (e.g. `-5 h` for US Eastern standard time), within ±1 day.
    pub tz_offset_ms: i64,
    /// A shorter cycle used while fine buckets are cold (one day by default: hour of day
    /// across all days). Must divide `period_ms` and be a multiple of `bucket_ms`; `None`
    /// disables the level.
    pub coarse_period_ms: Option<i64>,
    /// Forgetting per cycle, in (0, 1]: each time a bucket is visited in a new cycle (a new
    /// week, by default), what it learned before weighs `1 - alpha` as much; samples within one
    /// visit weigh the same. Default 0.3 (the last three or four weeks dominate).
    pub alpha: f64,
    /// Samples a bucket needs before it is trusted. Default 10.
    pub min_samples: u64,
    /// What to do while a bucket is cold.
    pub cold_start: ColdStart,
    /// Robust learning: a sample further than `clip_z` standard deviations from its bucket's
    /// mean is learned as if it sat at `clip_z`. Default 4.
    pub clip_z: f64,
    /// Exclusion windows: neither learned nor judged.
    pub exclusions: Vec<TimeWindow>,
    /// Spread floor.
    pub floor: ScaleFloor,
}

impl Default for SeasonalParams {
    fn default() -> Self {
        SeasonalParams {
            period_ms: WEEK_MS,
            bucket_ms: HOUR_MS,
            anchor_ms: FIRST_MONDAY_MS,
            tz_offset_ms: 0,
            coarse_period_ms: Some(DAY_MS),
            alpha: 0.3,
            min_samples: 10,
            cold_start: ColdStart::Fallback,
            clip_z: 4.0,
            exclusions: Vec::new(),
            floor: ScaleFloor::default(),
        }
    }
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident: $t:ty) => {
        $(#[$m])*
        pub fn $name(mut self, $name: $t) -> Self {
            self.$name = $name;
            self
        }
    };
}

impl SeasonalParams {
    setter!(/// Sets `period_ms`.
        period_ms: i64);
    setter!(/// Sets `bucket_ms`.
        bucket_ms: i64);
    setter!(/// Sets `anchor_ms`.
        anchor_ms: i64);
    setter!(/// Sets `tz_offset_ms`.
        tz_offset_ms: i64);
    setter!(/// Sets `coarse_period_ms`.
        coarse_period_ms: Option<i64>);
    setter!(/// Sets `alpha`.
        alpha: f64);
    setter!(/// Sets `min_samples`.
        min_samples: u64);
    setter!(/// Sets `cold_start`.
        cold_start: ColdStart);
    setter!(/// Sets `clip_z`.
        clip_z: f64);
    setter!(/// Sets the spread floor.
        floor: ScaleFloor);

    /// Adds an exclusion window `[start, end)`.
    pub fn exclude(mut self, start: i64, end: i64) -> Self {
        self.exclusions.push(TimeWindow { start, end });
        self
    }

    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        check::positive_ms("period_ms", self.period_ms)?;
        check::positive_ms("bucket_ms", self.bucket_ms)?;
        if self.period_ms % self.bucket_ms != 0 {
            return Err(Error::param("bucket_ms", "must divide period_ms", self.bucket_ms));
        }
        let buckets = self.period_ms / self.bucket_ms;
        if buckets > 100_000 {
            return Err(Error::param("bucket_ms", "gives more than 100,000 buckets per period", self.bucket_ms));
        }
        if self.tz_offset_ms.abs() > DAY_MS {
            return Err(Error::param("tz_offset_ms", "must be within ±1 day", self.tz_offset_ms));
        }
        if let Some(c) = self.coarse_period_ms
            && (c <= 0 || self.period_ms % c != 0 || c % self.bucket_ms != 0)
        {
            return Err(Error::param("coarse_period_ms", "must divide period_ms and be a multiple of bucket_ms", c));
        }
        check::half_open_unit("alpha", self.alpha)?;
        if self.min_samples == 0 {
            return Err(Error::param("min_samples", "must be >= 1", 0));
        }
        if !(self.clip_z >= 1.0 && self.clip_z.is_finite()) {
            return Err(Error::param("clip_z", "must be finite and >= 1", self.clip_z));
        }
        for w in &self.exclusions {
            if w.end <= w.start {
                return Err(Error::param(
                    "exclusions",
                    "each window needs end > start",
                    format!("{}..{}", w.start, w.end),
                ));
            }
        }
        self.floor.validate()
    }

    /// # Errors
    /// As [`SeasonalParams::validate`].
    pub fn build(mut self) -> Result<SeasonalBaseline> {
        self.validate()?;
        self.exclusions = merge_windows(std::mem::take(&mut self.exclusions));
        let fine = (self.period_ms / self.bucket_ms) as usize;
        let coarse = self.coarse_period_ms.map_or(0, |c| (c / self.bucket_ms) as usize);
        Ok(SeasonalBaseline {
            params: self,
            fine,
            levels: vec![BucketStats::default(); fine + coarse + 1],
            cache: Cache::EMPTY,
        })
    }
}

fn merge_windows(mut w: Vec<TimeWindow>) -> Vec<TimeWindow> {
    w.sort_by_key(|x| x.start);
    let mut out: Vec<TimeWindow> = Vec::with_capacity(w.len());
    for x in w {
        match out.last_mut() {
            Some(last) if x.start <= last.end => last.end = last.end.max(x.end),
            _ => out.push(x),
        }
    }
    out
}

/// Robust statistics of one bucket, weighted by cycle. 48 bytes.
///
/// Samples within one visit of the bucket (one hour of one week) weigh the same; each new cycle
/// multiplies the weight of everything before by `1 - alpha`. Weighting by cycle rather than by
/// sample matters: with per-sample decay, a bucket fed sixty per-minute samples in a row would
/// remember only the last minutes of the hour.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct BucketStats {
    n: u64,
    cycle: i64,
    weight: f64,
    mean: f64,
    /// Weighted sum of squared deviations.
    ss: f64,
    p95: f64,
}

impl BucketStats {
    #[inline]
    fn var(&self) -> f64 {
        if self.weight > 0.0 { (self.ss / self.weight).max(0.0) } else { 0.0 }
    }

    #[inline]
    fn learn(&mut self, x: f64, cycle: i64, keep: f64, clip_z: f64) {
        if self.n == 0 {
            *self = BucketStats { n: 1, cycle, weight: 1.0, mean: x, ss: 0.0, p95: x };
            return;
        }
        if cycle > self.cycle {
            let f = keep.powi(cycle.saturating_sub(self.cycle).min(1024) as i32);
            self.weight *= f;
            self.ss *= f;
            self.cycle = cycle;
        }
        // Most samples sit well inside `mean ± clip_z·sd`, where winsorising is the identity;
        // `surely_inside` says so without the division and the square root, which would
        // otherwise sit on the chain from one sample to the next.
        let x = if self.n >= 3 && !self.surely_inside(x, clip_z) {
            let sd = self.var().sqrt();
            if sd > 0.0 { x.max(self.mean - clip_z * sd).min(self.mean + clip_z * sd) } else { x }
        } else {
            x
        };
        self.weight += 1.0;
        // One reciprocal serves the mean, the variance and the p95 step. It depends only on the
        // weight, not on the running mean, so it is off the chain from one sample to the next.
        let r = 1.0 / self.weight;
        let d = x - self.mean;
        self.mean += d * r;
        self.ss += d * (x - self.mean);
        // p95 by Robbins–Monro on the pinball loss; a step of ~10 sd / weight suits the
        // density of a Gaussian near its 95th percentile.
        let sd = (self.ss * r).max(0.0).sqrt();
        let step = 10.0 * sd.max(d.abs() * 0.1) * r;
        self.p95 += if x > self.p95 { 0.95 * step } else { -0.05 * step };
        self.n += 1;
    }

    /// Whether `x` certainly lies strictly between the winsorising bounds
    /// `mean ± clip_z · sqrt(ss / weight)` as `learn` rounds them, tested on squares:
    /// `(|x − mean| + 1e-15·|mean|)² · weight < clip_z² · ss · (1 − 1e-9)`. The `1e-15·|mean|`
    /// covers the rounding of `mean ± w`, and the 1e-9 margin the dozen roundings of either side
    /// (each within 1.2e-16), so `true` is never wrong; the range checks keep every quantity
    /// normal, where those bounds hold. When unsure it says `false` and `learn` does it exactly.
    #[inline]
    fn surely_inside(&self, x: f64, clip_z: f64) -> bool {
        let e = (x - self.mean).abs() + 1e-15 * self.mean.abs();
        let lhs = e * e * self.weight;
        let rhs = clip_z * clip_z * self.ss;
        lhs < rhs * (1.0 - 1e-9) && rhs < 1e300 && rhs > 1e-250 * self.weight
    }

    fn apply(&mut self, shift: LevelShift) {
        if self.n == 0 {
            return;
        }
        match shift {
            LevelShift::Add(d) => {
                self.mean += d;
                self.p95 += d;
            }
            LevelShift::Scale(r) => {
                self.mean *= r;
                self.p95 *= r;
                self.ss *= r * r;
            }
        }
    }
}

/// Bucket range of the newest learned point, so a sequential stream skips the divisions.
#[derive(Debug, Clone, Copy)]
struct Cache {
    start: i64,
    end: i64,
    fine: usize,
    coarse: usize,
    cycle: i64,
    coarse_cycle: i64,
}

impl Cache {
    const EMPTY: Cache = Cache { start: 1, end: 0, fine: 0, coarse: 0, cycle: 0, coarse_cycle: 0 };
}

/// The cache is derived from the timestamp alone (it is not serialised): two baselines that differ
/// only in what they have cached behave identically, so they compare equal.
impl PartialEq for Cache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Default for Cache {
    fn default() -> Self {
        Cache::EMPTY
    }
}

/// The statistics of one time-of-week bucket, as reported by [`SeasonalBaseline::bucket`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BucketSummary {
    /// Samples learned.
    pub count: u64,
    /// Robust exponentially weighted mean.
    pub mean: f64,
    /// Standard deviation.
    pub std_dev: f64,
    /// Tracked 95th percentile.
    pub p95: f64,
}

/// Time-aware baseline: "2 pm on a Tuesday is not 2 am on a Sunday".
///
/// Statistics are kept per time-of-week bucket (by default 168: hour of day × day of week), per
/// coarse bucket (hour of day) and globally. Each level keeps a robust exponentially weighted
/// mean, variance and tracked p95 (weighted by cycle, see [`SeasonalParams::alpha`]), and learns
/// winsorised samples so a single outlier cannot drag a bucket. The coarse level serves cold
/// start only, so it learns only from points whose own bucket is still cold: once the buckets
/// are warm a point updates two levels. O(1) per point, 48 bytes per bucket (193
/// buckets, 9,264 bytes, by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalBaseline {
    params: SeasonalParams,
    /// Number of fine buckets; `levels` holds fine, then coarse, then one global bucket.
    fine: usize,
    levels: Vec<BucketStats>,
    #[serde(skip)]
    cache: Cache,
}

impl SeasonalBaseline {
    /// The parameters it was built with (exclusion windows sorted and merged).
    pub fn params(&self) -> &SeasonalParams {
        &self.params
    }

    /// Total buckets across the three levels.
    pub fn bucket_count(&self) -> usize {
        self.levels.len()
    }

    /// Bytes of per-bucket state.
    pub fn state_bytes(&self) -> usize {
        self.levels.len() * std::mem::size_of::<BucketStats>()
    }

    /// Index of the fine bucket `timestamp` falls in (0 = the first bucket after the anchor).
    pub fn bucket_index(&self, timestamp: i64) -> usize {
        self.slot(timestamp).fine
    }

    /// The statistics of fine bucket `index`, if it exists.
    pub fn bucket(&self, index: usize) -> Option<BucketSummary> {
        (index < self.fine).then(|| {
            let b = self.levels[index];
            BucketSummary { count: b.n, mean: b.mean, std_dev: b.var().sqrt(), p95: b.p95 }
        })
    }

    #[inline]
    fn slot(&self, ts: i64) -> Cache {
        let c = self.cache;
        if ts >= c.start && ts < c.end {
            return c;
        }
        let p = &self.params;
        let local = ts.saturating_add(p.tz_offset_ms).saturating_sub(p.anchor_ms);
        let pos = local.rem_euclid(p.period_ms);
        let within = pos % p.bucket_ms;
        let fine = (pos / p.bucket_ms) as usize;
        let coarse = p.coarse_period_ms.map_or(0, |cp| self.fine + ((pos % cp) / p.bucket_ms) as usize);
        let cycle = local.div_euclid(p.period_ms);
        let coarse_cycle = p.coarse_period_ms.map_or(cycle, |cp| local.div_euclid(cp));
        let start = ts.saturating_sub(within);
        Cache { start, end: start.saturating_add(p.bucket_ms), fine, coarse, cycle, coarse_cycle }
    }

    /// Learns a finite value at `timestamp`, skipping exclusion windows.
    #[inline]
    pub fn learn(&mut self, timestamp: i64, x: f64) {
        if !self.params.exclusions.is_empty() && self.is_excluded(timestamp) {
            return;
        }
        let slot = self.slot(timestamp);
        self.cache = slot;
        let (keep, clip) = (1.0 - self.params.alpha, self.params.clip_z);
        let fine = &mut self.levels[slot.fine];
        let fine_was_warm = fine.n >= self.params.min_samples;
        fine.learn(x, slot.cycle, keep, clip);
        // The coarse level exists for cold start: it learns only from points whose own bucket
        // is still cold, so once the buckets are warm a point costs two levels, not three. The
        // global level, the fallback of last resort, learns everything.
        if !fine_was_warm && self.params.coarse_period_ms.is_some() {
            self.levels[slot.coarse].learn(x, slot.coarse_cycle, keep, clip);
        }
        let g = self.levels.len() - 1;
        self.levels[g].learn(x, slot.coarse_cycle, keep, clip);
    }

    #[inline]
    fn expectation_from(&self, b: &BucketStats, source: &'static str, warm: bool, fallback: bool) -> Expectation {
        let (scale, floored) = self.params.floor.apply(b.var().sqrt(), b.mean);
        Expectation {
            center: b.mean,
            scale,
            count: b.n,
            min_count: self.params.min_samples,
            warm,
            floored,
            fallback,
            source: Cow::Borrowed(source),
        }
    }

    /// The tracked p95 of the bucket `timestamp` falls in (with the same cold-start fallback as
    /// [`Baseline::expect`]), `None` when nothing has been learned.
    pub fn p95(&self, timestamp: i64) -> Option<f64> {
        let (b, _, _) = self.pick(timestamp);
        (b.n > 0).then_some(b.p95)
    }

    #[inline]
    fn pick(&self, timestamp: i64) -> (&BucketStats, &'static str, bool) {
        let slot = self.slot(timestamp);
        let min = self.params.min_samples;
        let fine = &self.levels[slot.fine];
        if fine.n >= min {
            return (fine, "seasonal:bucket", false);
        }
        let global = &self.levels[self.levels.len() - 1];
        match self.params.cold_start {
            ColdStart::Strict => (fine, "seasonal:bucket", false),
            ColdStart::Fallback if self.params.coarse_period_ms.is_some() && self.levels[slot.coarse].n >= min => {
                (&self.levels[slot.coarse], "seasonal:coarse", true)
            }
            _ if global.n >= min => (global, "seasonal:global", true),
            _ => (fine, "seasonal:bucket", false),
        }
    }
}

impl Baseline for SeasonalBaseline {
    fn update(&mut self, point: Point) -> Result<()> {
        self.learn(point.timestamp, finite("value", point.value)?);
        Ok(())
    }

    #[inline]
    fn expect(&self, timestamp: i64) -> Expectation {
        let (b, source, fallback) = self.pick(timestamp);
        let warm = b.n >= self.params.min_samples;
        self.expectation_from(b, source, warm, fallback)
    }

    fn shift(&mut self, shift: LevelShift) {
        self.levels.iter_mut().for_each(|b| b.apply(shift));
    }

    fn reset(&mut self) {
        self.levels.iter_mut().for_each(|b| *b = BucketStats::default());
        self.cache = Cache::EMPTY;
    }

    fn is_excluded(&self, timestamp: i64) -> bool {
        let w = &self.params.exclusions;
        let i = w.partition_point(|x| x.start <= timestamp);
        i > 0 && timestamp < w[i - 1].end
    }

    fn count(&self) -> u64 {
        self.levels.last().map_or(0, |g| g.n)
    }
}

/// Batch training: parameters fitted to a history give a warm baseline in one call.
///
/// ```
/// use oddsight_core::{Baseline, Fit, Point, SeasonalParams};
/// const H: i64 = 3_600_000;
/// let history: Vec<Point> = (0..14 * 24).map(|h| Point::new(h * H, if h % 24 == 9 { 90.0 } else { 10.0 })).collect();
/// let baseline = SeasonalParams::default().min_samples(2).fit(&history[..])?;
/// assert_eq!(baseline.count(), 14 * 24);
/// assert!(baseline.expect(14 * 24 * H + 9 * H).center > 80.0);
/// assert!(SeasonalParams::default().fit(&[Point::new(0, f64::NAN)][..]).is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
impl crate::traits::Fit<[Point]> for SeasonalParams {
    type Fitted = SeasonalBaseline;

    fn fit(&self, data: &[Point]) -> Result<SeasonalBaseline> {
        if data.is_empty() {
            return Err(Error::Empty { what: "history" });
        }
        for p in data {
            finite("value", p.value)?;
        }
        let mut b = self.clone().build()?;
        for p in data {
            b.learn(p.timestamp, p.value);
        }
        Ok(b)
    }
}

impl Stateful for SeasonalBaseline {
    fn kind() -> String {
        "SeasonalBaseline".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        let fine = (self.params.period_ms / self.params.bucket_ms) as usize;
        let coarse = self.params.coarse_period_ms.map_or(0, |c| (c / self.params.bucket_ms) as usize);
        ensure(self.fine == fine && self.levels.len() == fine + coarse + 1, || {
            format!("{} buckets do not match the parameters ({} expected)", self.levels.len(), fine + coarse + 1)
        })?;
        ensure_finite("SeasonalBaseline", self.levels.iter().flat_map(|b| [&b.mean, &b.ss, &b.p95, &b.weight]))?;
        ensure(self.levels.iter().all(|b| b.ss >= 0.0 && b.weight >= 0.0), || "negative variance or weight".into())?;
        ensure(self.params.exclusions.windows(2).all(|w| w[0].end < w[1].start), || {
            "exclusion windows must be sorted and disjoint".into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `BucketStats::learn` as first written: winsorising with the division and the root.
    fn reference_learn(b: &mut BucketStats, x: f64, cycle: i64, keep: f64, clip_z: f64) {
        if b.n == 0 {
            *b = BucketStats { n: 1, cycle, weight: 1.0, mean: x, ss: 0.0, p95: x };
            return;
        }
        if cycle > b.cycle {
            let f = keep.powi(cycle.saturating_sub(b.cycle).min(1024) as i32);
            b.weight *= f;
            b.ss *= f;
            b.cycle = cycle;
        }
        let sd = b.var().sqrt();
        let x = if b.n >= 3 && sd > 0.0 { x.max(b.mean - clip_z * sd).min(b.mean + clip_z * sd) } else { x };
        b.weight += 1.0;
        let r = 1.0 / b.weight;
        let d = x - b.mean;
        b.mean += d * r;
        b.ss += d * (x - b.mean);
        let step = 10.0 * (b.ss * r).max(0.0).sqrt().max(d.abs() * 0.1) * r;
        b.p95 += if x > b.p95 { 0.95 * step } else { -0.05 * step };
        b.n += 1;
    }

    #[test]
    fn learn_matches_the_plain_winsorising_bit_for_bit() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let unit = |r: u64| (r >> 11) as f64 / (1u64 << 53) as f64;
        let (mut clamped, mut shortcut) = (0, 0);
        for scale in [1e-300, 1e-160, 1e-12, 1.0, 1e9, 1e150, 1e300] {
            for offset in [0.0, 1.0, 1e6, -1e12] {
                for &(keep, clip_z) in &[(0.7, 4.0), (0.0, 1.0), (0.999, 1.0 + 1e-12), (0.5, 1e160)] {
                    let (mut fast, mut slow) = (BucketStats::default(), BucketStats::default());
                    let mut cycle = 0;
                    for i in 0..3000 {
                        let r = next();
                        // Gaussian-ish noise, outliers on and near the bounds, repeats, and
                        // constant stretches (zero spread).
                        let z = (unit(r) + unit(next()) + unit(next()) - 1.5) * 2.0;
                        let x = match r % 16 {
                            0 => offset * scale + 40.0 * scale * z,
                            1 => offset * scale + clip_z * slow.var().sqrt() * (1.0 + (z * 1e-15)),
                            2 => slow.mean,
                            _ if (i / 500) % 3 == 2 => offset * scale,
                            _ => offset * scale + scale * z,
                        };
                        if r % 97 == 0 {
                            cycle += 1 + (r % 3) as i64;
                        }
                        let sd = slow.var().sqrt();
                        let (lo, hi) = (slow.mean - clip_z * sd, slow.mean + clip_z * sd);
                        clamped += usize::from(slow.n >= 3 && sd > 0.0 && !(lo..=hi).contains(&x));
                        shortcut += usize::from(fast.n >= 3 && fast.surely_inside(x, clip_z));
                        fast.learn(x, cycle, keep, clip_z);
                        reference_learn(&mut slow, x, cycle, keep, clip_z);
                        let bits = |b: &BucketStats| {
                            [b.n, b.cycle as u64, b.weight.to_bits(), b.mean.to_bits(), b.ss.to_bits(), b.p95.to_bits()]
                        };
                        assert_eq!(bits(&fast), bits(&slow), "scale {scale}, offset {offset}, step {i}, x {x}");
                    }
                }
            }
        }
        // Both paths were taken, many times.
        assert!(clamped > 10_000 && shortcut > 50_000, "{clamped} clamped, {shortcut} shortcuts");
    }

    #[test]
    fn monday_is_bucket_zero_and_offsets_move_it() {
        let b = SeasonalParams::default().build().unwrap();
        // 2026-11-23 is a Monday; 00:30 UTC.
        let monday = 1_795_393_800_000;
        assert_eq!(b.bucket_index(monday), 0);
        assert_eq!(b.bucket_index(monday + 13 * HOUR_MS), 13);
        assert_eq!(b.bucket_index(monday - HOUR_MS), 167); // Sunday 23:30
        let east = SeasonalParams::default().tz_offset_ms(3 * HOUR_MS).build().unwrap();
        assert_eq!(east.bucket_index(monday), 3);
        assert_eq!(b.bucket_index(-1), 2 * 24 + 23); // Wed 1969-12-31 23:59:59.999
    }

    #[test]
    fn exclusions_are_merged_and_skipped() {
        let mut b = SeasonalParams::default().exclude(100, 200).exclude(150, 300).exclude(500, 600).build().unwrap();
        assert_eq!(b.params().exclusions.len(), 2);
        assert!(
            b.is_excluded(100) && b.is_excluded(299) && !b.is_excluded(300) && b.is_excluded(550) && !b.is_excluded(99)
        );
        b.update(Point::new(120, 5.0)).unwrap();
        assert_eq!(b.count(), 0);
        b.update(Point::new(320, 5.0)).unwrap();
        assert_eq!(b.count(), 1);
    }

    #[test]
    fn cold_start_falls_back_then_uses_the_bucket() {
        let mut b = SeasonalParams::default().min_samples(3).build().unwrap();
        // Three samples at 10:00 on Monday only: the coarse (10:00 any day) level is warm for
        // Tuesday 10:00 before its own bucket is.
        for i in 0..3 {
            b.update(Point::new(FIRST_MONDAY_MS + 10 * HOUR_MS + i * 60_000, 7.0)).unwrap();
        }
        let tue = b.expect(FIRST_MONDAY_MS + DAY_MS + 10 * HOUR_MS);
        assert!(tue.warm && tue.fallback && tue.source == "seasonal:coarse");
        let wed_noon = b.expect(FIRST_MONDAY_MS + 2 * DAY_MS + 12 * HOUR_MS);
        assert_eq!(wed_noon.source, "seasonal:global");
        let strict = SeasonalParams::default().cold_start(ColdStart::Strict).min_samples(3).build().unwrap();
        assert!(!strict.expect(0).warm);
    }
}
