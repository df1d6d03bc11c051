//! [`NoveltyDetector`]: the default streaming detector, a self-calibrating mix of point,
//! level and subsequence novelty with onset emphasis.
//!
//! # What it measures
//!
//! Every point is judged by three kinds of evidence, each on its own raw scale:
//!
//! - **point**: the robust deviation `|x − median| / scale` against a sliding window (median
//!   and `1.4826 × MAD`, the scale floored by the mean absolute deviation so that a series that
//!   sits on one value most of the time still has a spread): spikes and dips;
//! - **level**: the mean of the last few deviations (each clipped, so one spike cannot pass for
//!   a shift): level shifts and drifts that no single point shows;
//! - **subsequence**: the distance of the latest stretch of the series, downsampled into block
//!   means, to its nearest neighbour among the stretches of a bounded history (a streaming left
//!   matrix profile, or discord score) at one or more scales: pattern anomalies, such as a
//!   daily cycle that skips its peak or spikes that come twice as often, where every single
//!   value is ordinary. Distances are taken on raw values, so a stretch at a new level is also
//!   new. A scale scores once per block, when a block completes.
//!
//! # One threshold for every series
//!
//! Each raw feature is turned into a surprise (`−log10 p`) by its empirical exceedance among
//! that feature's own history ([`Calibrator`]: a quantile sketch, with an exponential tail
//! beyond the largest value seen), so a noisy series and a quiet one alarm at the same rate.
//! The evidence is combined in surprise space as the largest surprise less `log10` of the
//! number of kinds (a Bonferroni correction), and reported on the common scale: anomaly score
//! 0.5 is a combined tail probability of 0.0027, the Gaussian rate at |z| = 3.
//!
//! # Onset emphasis
//!
//! An incident is news once. After a point reaches the alert threshold, the next `refractory`
//! points have their combined surprise multiplied by `damping`: the alarm marks the onset
//! instead of every point of the episode, while the damped scores keep their ranking. (The
//! Numenta Anomaly Benchmark rewards exactly this: only the first detection in an anomaly
//! window counts, and each false-positive point costs.)
//!
//! Time is counted in points, not milliseconds: the detector assumes regular sampling, and
//! timestamps are only required not to go backwards. Values are never rejected for being
//! anomalous; everything is learned, so a pattern that recurs becomes normal.
//!
//! # Cost
//!
//! Per point: a sliding-window median/MAD update (`O(window)` memory moves, a few hundred
//! bytes), two calibrator look-ups, and, per scale, one nearest-neighbour search of
//! `history / block` candidates of `blocks` values every `block` points (early abandoning).
//! With the defaults that is a few thousand flops per point. Memory: about `16 × window + 8 ×
//! history × Σ 1/block` bytes plus the calibrators' sketches.
//!
//! ```
//! use oddsight_core::{Detector, Point};
//! use oddsight_detectors::novelty::NoveltyParams;
//! let mut d = NoveltyParams::default().build()?;
//! for i in 0..2000 {
//!     let v = 10.0 + ((i % 50) as f64 / 50.0 * std::f64::consts::TAU).sin() + 0.01 * (i % 7) as f64;
//!     d.observe(Point::new(i * 60_000, v))?;
//! }
//! let v = d.observe(Point::new(2000 * 60_000, 40.0))?;
//! assert!(v.is_anomaly && v.warm);
//! # Ok::<(), oddsight_core::Error>(())
//! ```

use oddsight_core::detector::verdict_from_z;
use oddsight_core::{
    Calibrator, CalibratorParams, Detector, Error, Notes, Point, QuantileWindow, QuantileWindowParams, Result,
    Stateful, Verdict, scale,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::VecDeque;

/// Makes the mean absolute deviation a Gaussian standard deviation (`√(π/2)`).
const MEAN_AD_TO_SIGMA: f64 = 1.253_314_137_315_500_3;
/// `−log10 P(|Z| ≥ 3)`: the surprise at anomaly score 0.5.
const SURPRISE_AT_3: f64 = 2.568_669_040_265_387;
/// Surprises are capped here (z ≈ 37), so that scores stay spread below 1.
const MAX_SURPRISE: f64 = 300.0;
/// Points the sliding window needs before point and level evidence is scored.
const MIN_WINDOW_POINTS: u64 = 30;
/// The most subsequence scales a detector may have.
pub const MAX_SCALES: usize = 4;
/// The largest magnitude a value may have: far beyond any telemetry, and far enough from
/// `f64::MAX` that no sum, square or distance the detector keeps can overflow.
const VALUE_LIMIT: f64 = 1e150;

/// One scale of the subsequence evidence: stretches of `blocks` block means of `block` points
/// each, so `block × blocks` points long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubsequenceScale {
    /// Points averaged into one block mean (the downsampling factor).
    pub block: usize,
    /// Block means per stretch.
    pub blocks: usize,
}

impl SubsequenceScale {
    /// A scale of `blocks` block means of `block` points each.
    pub fn new(block: usize, blocks: usize) -> Self {
        SubsequenceScale { block, blocks }
    }

    /// The stretch length in points, `block × blocks`.
    pub fn len(&self) -> usize {
        self.block * self.blocks
    }

    /// Whether the stretch is empty (never, for a validated scale).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parameters of a [`NoveltyDetector`].
///
/// The defaults were chosen on the development half of the Numenta Anomaly Benchmark (29
/// series, one parameter set for all of them), where they score 64.75 (standard), 55.69
/// (reward low FP) and 70.06 (reward low FN); `cargo run --release -p oddsight-detectors
/// --example nab_lab` reproduces that. The subsequence scales assume series of a few thousand
/// points with a daily cycle at 5-minute sampling; the rest is unit-free.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NoveltyParams {
    /// Points in the sliding window of the point evidence (median and MAD). Default 300.
    pub window: usize,
    /// Points averaged by the level evidence. Default 10.
    pub level_span: usize,
    /// Deviations are clipped to `±z_clip` before the level evidence averages them. Default 8.
    pub z_clip: f64,
    /// The subsequence scales (at most [`MAX_SCALES`], may be empty). Default one day and a
    /// third of a day at 5-minute sampling: 36 blocks of 8 points and 24 blocks of 4.
    pub scales: Vec<SubsequenceScale>,
    /// Points of history searched for a stretch's nearest neighbour. Default 4096.
    pub history: usize,
    /// Points after an alert whose surprise is damped. Default 100.
    pub refractory: usize,
    /// Factor applied to the combined surprise during the refractory period, in `[0, 1]`.
    /// Default 0.3 (0 silences it; 1 turns onset emphasis off).
    pub damping: f64,
    /// Points learned before verdicts are warm (scores before that are 0). Default 150.
    pub warmup: usize,
    /// Raw values each calibrator needs before its evidence counts. Default 50.
    pub min_samples: u64,
    /// Anomaly-score threshold for `is_anomaly`, which also starts the refractory period.
    /// Default 0.5 (a combined tail probability of 0.0027).
    pub threshold: f64,
}

impl Default for NoveltyParams {
    fn default() -> Self {
        NoveltyParams {
            window: 300,
            level_span: 10,
            z_clip: 8.0,
            scales: vec![SubsequenceScale::new(8, 36), SubsequenceScale::new(4, 24)],
            history: 4096,
            refractory: 100,
            damping: 0.3,
            warmup: 150,
            min_samples: 50,
            threshold: 0.5,
        }
    }
}

impl NoveltyParams {
    /// Sets `window`.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }
    /// Sets `level_span`.
    pub fn level_span(mut self, level_span: usize) -> Self {
        self.level_span = level_span;
        self
    }
    /// Sets `z_clip`.
    pub fn z_clip(mut self, z_clip: f64) -> Self {
        self.z_clip = z_clip;
        self
    }
    /// Sets `scales`.
    pub fn scales(mut self, scales: Vec<SubsequenceScale>) -> Self {
        self.scales = scales;
        self
    }
    /// Sets `history`.
    pub fn history(mut self, history: usize) -> Self {
        self.history = history;
        self
    }
    /// Sets `refractory`.
    pub fn refractory(mut self, refractory: usize) -> Self {
        self.refractory = refractory;
        self
    }
    /// Sets `damping`.
    pub fn damping(mut self, damping: f64) -> Self {
        self.damping = damping;
        self
    }
    /// Sets `warmup`.
    pub fn warmup(mut self, warmup: usize) -> Self {
        self.warmup = warmup;
        self
    }
    /// Sets `min_samples`.
    pub fn min_samples(mut self, min_samples: u64) -> Self {
        self.min_samples = min_samples;
        self
    }
    /// Sets `threshold`.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        range_usize("window", self.window, 10, 1_000_000)?;
        range_usize("level_span", self.level_span, 1, self.window)?;
        if !(self.z_clip > 0.0 && self.z_clip.is_finite()) {
            return Err(param("z_clip", "must be finite and > 0", self.z_clip));
        }
        if self.scales.len() > MAX_SCALES {
            return Err(param("scales", "must hold at most 4 scales", self.scales.len()));
        }
        range_usize("history", self.history, 1, 10_000_000)?;
        for s in &self.scales {
            range_usize("scales.block", s.block, 1, 10_000)?;
            range_usize("scales.blocks", s.blocks, 2, 10_000)?;
            if self.history / s.block < 2 * s.blocks {
                return Err(param(
                    "history",
                    "must hold at least two stretches of every scale (history / block >= 2 blocks)",
                    self.history,
                ));
            }
        }
        range_usize("refractory", self.refractory, 0, 1 << 40)?;
        if !(0.0..=1.0).contains(&self.damping) {
            return Err(param("damping", "must be in [0, 1]", self.damping));
        }
        range_usize("warmup", self.warmup, 0, 1 << 40)?;
        self.calibrator().validate()?;
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(param("threshold", "must be in (0, 1)", self.threshold));
        }
        Ok(())
    }

    fn calibrator(&self) -> CalibratorParams {
        CalibratorParams::default().min_samples(self.min_samples)
    }

    /// Validates and builds the detector.
    ///
    /// # Errors
    /// As [`NoveltyParams::validate`].
    pub fn build(self) -> Result<NoveltyDetector> {
        self.validate()?;
        let window = QuantileWindowParams::default().window(self.window).build()?;
        let calibrator = self.calibrator().build()?;
        let subsequences = self
            .scales
            .iter()
            .map(|s| Subsequence {
                block: s.block,
                blocks: s.blocks,
                capacity: self.history / s.block,
                sum: 0.0,
                filled: 0,
                means: Vec::new(),
                profile: Vec::new(),
                since_exact: 0,
                calibrator: calibrator.clone(),
            })
            .collect();
        Ok(NoveltyDetector {
            window,
            spread: 0.0,
            recent: VecDeque::with_capacity(self.level_span),
            point: calibrator.clone(),
            level: calibrator,
            subsequences,
            seen: 0,
            hold_until: 0,
            last: None,
            params: self,
        })
    }
}

fn param(name: &'static str, reason: &'static str, value: impl std::fmt::Display) -> Error {
    Error::InvalidParameter { name, reason, value: value.to_string() }
}

fn range_usize(name: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name, reason: "is out of range", value: format!("{v} (allowed {lo}..={hi})") })
    }
}

fn snapshot_error(reason: impl Into<String>) -> Error {
    Error::Snapshot { reason: reason.into(), source: None }
}

/// `Σ (a − b)²` over two equal-length slices, with four independent accumulators so that the
/// sum is not one long dependency chain.
#[inline]
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let mut tail = 0.0;
    for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
        tail += (x - y) * (x - y);
    }
    let mut acc = [0.0f64; 4];
    for (x, y) in ac.zip(bc) {
        for k in 0..4 {
            let d = x[k] - y[k];
            acc[k] += d * d;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `−log10` of a calibrated tail probability, capped at [`MAX_SURPRISE`].
#[inline]
fn surprise_of(p: f64) -> f64 {
    if p > 0.0 { (-p.log10()).clamp(0.0, MAX_SURPRISE) } else { MAX_SURPRISE }
}

/// One scale of subsequence evidence: the block means of a bounded history and the
/// calibrator of nearest-neighbour distances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Subsequence {
    block: usize,
    blocks: usize,
    /// Block means searched for a neighbour.
    capacity: usize,
    /// Sum of the values of the block being filled.
    sum: f64,
    /// Values in the block being filled (`< block`).
    filled: usize,
    /// Completed block means, oldest first; trimmed to `capacity + blocks + 1` once twice that.
    means: Vec<f64>,
    /// Squared distances from the newest stretch to the stretches `blocks..` blocks before it.
    profile: Vec<f64>,
    /// Blocks since the profile was last summed in full.
    since_exact: usize,
    calibrator: Calibrator,
}

impl Subsequence {
    /// The mean of the block that `value` completes, if it completes one.
    #[inline]
    fn completing(&self, value: f64) -> Option<f64> {
        (self.filled + 1 == self.block).then(|| (self.sum + value) / self.block as f64)
    }

    /// Squared distance from the stretch ending with block mean `last` (not yet stored) to the
    /// stored stretch `lag` blocks before it, summed in full.
    fn exact(&self, last: f64, lag: usize) -> f64 {
        let (m, n) = (self.blocks, self.means.len());
        let end = n - lag;
        let d = last - self.means[end];
        d * d + squared_distance(&self.means[n + 1 - m..], &self.means[end + 1 - m..end])
    }

    /// Calls `f` with the squared distance from the stretch ending with block mean `last` (not
    /// yet stored) to every admissible earlier stretch, by lag (`blocks..`, so no overlap, up
    /// to `capacity`); returns whether the distances were summed in full.
    ///
    /// The stretch at each lag moves by one block when a block arrives, so its distance is
    /// the stored one less the pair that left plus the pair that came: `O(1)` per lag rather
    /// than `O(blocks)` (the incremental distance profile of STOMP-style matrix profiles). The
    /// distances are summed in full every `blocks` blocks, which bounds the rounding that
    /// adding and removing terms of very different size could accumulate.
    #[inline]
    fn distances(&self, last: f64, mut f: impl FnMut(f64)) -> bool {
        let (m, n) = (self.blocks, self.means.len());
        let exact = self.profile.is_empty() || self.since_exact + 1 >= m;
        if n + 1 < 2 * m {
            return exact;
        }
        let top = self.capacity.min(n + 1 - m);
        let old_top = m + self.profile.len();
        // The first value of the previous stretch, which leaves it now.
        let left = self.means[n - m];
        for lag in m..=top {
            let s = if exact || lag >= old_top {
                self.exact(last, lag)
            } else {
                let out = left - self.means[n - m - lag];
                let new = last - self.means[n - lag];
                (self.profile[lag - m] - out * out + new * new).max(0.0)
            };
            f(s);
        }
        exact
    }

    /// The distance profile of the stretch ending with block mean `last` (not yet stored),
    /// and the RMS distance to its nearest non-overlapping neighbour among the stored
    /// stretches (`None` until there is one).
    fn nearest(&self, last: f64) -> (Profile, Option<f64>) {
        let mut best = f64::INFINITY;
        let mut distances = Vec::with_capacity(self.profile.len() + 1);
        let exact = self.distances(last, |s| {
            best = best.min(s);
            distances.push(s);
        });
        // A neighbour is reported once there are two of them to choose from.
        let ready = best.is_finite() && self.means.len() >= 2 * self.blocks;
        (Profile { distances, exact }, ready.then(|| (best / self.blocks as f64).sqrt()))
    }

    fn learn(&mut self, value: f64, completed: Option<f64>, distance: Option<f64>, profile: Option<Profile>) {
        match completed {
            Some(mean) => {
                let Profile { distances, exact } = profile.unwrap_or_else(|| self.nearest(mean).0);
                self.profile = distances;
                self.since_exact = if exact { 0 } else { self.since_exact + 1 };
                self.means.push(mean);
                self.sum = 0.0;
                self.filled = 0;
                let keep = self.capacity + self.blocks + 1;
                if self.means.len() >= 2 * keep {
                    self.means.drain(..self.means.len() - keep);
                }
                if let Some(d) = distance {
                    // Finite by construction (values are bounded), so this cannot fail.
                    let _ = self.calibrator.update(d);
                }
            }
            None => {
                self.sum += value;
                self.filled += 1;
            }
        }
    }

    fn validate(&self, scale: &SubsequenceScale, history: usize) -> Result<()> {
        if self.block != scale.block || self.blocks != scale.blocks || self.capacity != history / scale.block {
            return Err(snapshot_error("subsequence state does not match its scale"));
        }
        if self.filled >= self.block {
            return Err(snapshot_error(format!("block holds {} values, more than {}", self.filled, self.block)));
        }
        if self.means.len() >= 2 * (self.capacity + self.blocks + 1) {
            return Err(snapshot_error("subsequence history is longer than its bound"));
        }
        let admissible = (self.capacity + 1).saturating_sub(self.blocks);
        if self.profile.len() > admissible
            || self.profile.len() > self.means.len()
            || self.since_exact >= self.blocks
            || !self.profile.iter().all(|d| d.is_finite() && *d >= 0.0)
        {
            return Err(snapshot_error("subsequence distance profile is inconsistent"));
        }
        let limit = 4.0 * VALUE_LIMIT * self.block as f64;
        if !(self.sum.abs() <= limit && self.means.iter().all(|m| m.abs() <= 4.0 * VALUE_LIMIT)) {
            return Err(snapshot_error("subsequence sums must be finite and within the value limit"));
        }
        self.calibrator.validate()
    }
}

/// A freshly computed distance profile, kept from judging a point to learning it.
#[derive(Debug, Clone, Default)]
struct Profile {
    distances: Vec<f64>,
    exact: bool,
}

/// Everything one point's judgement computes, so that `observe` computes it once and learns
/// from the same numbers it reported.
#[derive(Debug, Clone, Copy)]
struct Evaluation {
    /// Median and floored scale of the sliding window, with whether the floor was used.
    robust: Option<(f64, f64, bool)>,
    /// The signed robust deviation of the point.
    z: f64,
    /// Raw point and level features (scored once the window holds enough points).
    point: Option<f64>,
    level: Option<f64>,
    /// Per scale: the completed block mean and its nearest-neighbour distance.
    blocks: [(Option<f64>, Option<f64>); MAX_SCALES],
    /// Combined surprise before damping, and after it.
    surprise: f64,
    reported: f64,
    /// Which evidence was strongest.
    component: &'static str,
}

/// The default streaming detector: point, level and subsequence novelty, each calibrated
/// against its own history, combined in surprise space, with onset emphasis. See the
/// [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoveltyDetector {
    params: NoveltyParams,
    window: QuantileWindow,
    /// Running mean absolute deviation from the median (a floor for the MAD scale).
    spread: f64,
    /// The last `level_span` clipped deviations, oldest first.
    recent: VecDeque<f64>,
    point: Calibrator,
    level: Calibrator,
    subsequences: Vec<Subsequence>,
    /// Points learned.
    seen: u64,
    /// Points up to (not including) this count are in the refractory period.
    hold_until: u64,
    last: Option<i64>,
}

impl NoveltyDetector {
    /// The parameters.
    pub fn params(&self) -> &NoveltyParams {
        &self.params
    }

    /// Points learned so far.
    pub fn count(&self) -> u64 {
        self.seen
    }

    fn check(&self, point: Point) -> Result<()> {
        if !point.value.is_finite() {
            return Err(Error::NonFinite { what: "value", value: point.value });
        }
        if point.value.abs() > VALUE_LIMIT {
            return Err(Error::NonFinite { what: "value (magnitude above 1e150)", value: point.value });
        }
        match self.last {
            Some(last) if point.timestamp < last => Err(Error::OutOfOrder { timestamp: point.timestamp, last }),
            _ => Ok(()),
        }
    }

    /// Judges `value` against the current state. Pure.
    fn evaluate(&self, value: f64, profiles: &mut [Option<Profile>; MAX_SCALES]) -> Evaluation {
        let p = &self.params;
        let mut e = Evaluation {
            robust: None,
            z: 0.0,
            point: None,
            level: None,
            blocks: [(None, None); MAX_SCALES],
            surprise: 0.0,
            reported: 0.0,
            component: "novelty",
        };
        let mut best = (0.0f64, "novelty");
        if let Some((center, s, floored)) = self.window.robust() {
            let spread_floor = self.spread * MEAN_AD_TO_SIGMA;
            let (s, floored) = if spread_floor > s { (spread_floor, false) } else { (s, floored) };
            let s = s.max(1e-9);
            let z = scale::clamp_z((value - center) / s);
            e.robust = Some((center, s, floored));
            e.z = z;
            if self.seen >= MIN_WINDOW_POINTS {
                let clipped = z.clamp(-p.z_clip, p.z_clip);
                let kept = self.recent.len().min(p.level_span - 1);
                let sum: f64 = self.recent.iter().skip(self.recent.len() - kept).sum::<f64>() + clipped;
                let level = (sum / (kept + 1) as f64).abs();
                e.point = Some(z.abs());
                e.level = Some(level);
                let sp = surprise_of(self.point.calibrate(z.abs()).p_value);
                let sl = surprise_of(self.level.calibrate(level).p_value);
                if sp > best.0 {
                    best = (sp, "novelty/point");
                }
                if sl > best.0 {
                    best = (sl, "novelty/level");
                }
            }
        }
        let correction = (self.subsequences.len() as f64).log10();
        for ((slot, profile), sub) in e.blocks.iter_mut().zip(profiles.iter_mut()).zip(&self.subsequences) {
            let completed = sub.completing(value);
            let distance = completed.and_then(|mean| {
                let (p, d) = sub.nearest(mean);
                *profile = Some(p);
                d
            });
            *slot = (completed, distance);
            if let Some(d) = distance {
                let s = surprise_of(sub.calibrator.calibrate(d).p_value) - correction;
                if s > best.0 {
                    best = (s, "novelty/subsequence");
                }
            }
        }
        let kinds = 2.0 + f64::from(u8::from(!self.subsequences.is_empty()));
        let combined = (best.0 - kinds.log10()).max(0.0);
        e.surprise = combined;
        e.component = best.1;
        e.reported = if self.seen < self.hold_until { combined * p.damping } else { combined };
        e
    }

    /// The surprise at which the anomaly score reaches `threshold`.
    fn alert_surprise(&self) -> f64 {
        let t = self.params.threshold;
        t * SURPRISE_AT_3 / (1.0 - t)
    }

    fn verdict(&self, point: Point, e: &Evaluation) -> Verdict {
        let warm = self.seen >= self.params.warmup as u64;
        let Some((center, s, floored)) = e.robust else {
            return Verdict::neutral(point, point.value, Cow::Borrowed("novelty"), false);
        };
        if !warm {
            return Verdict::neutral(point, center, Cow::Borrowed(e.component), false);
        }
        let score = scale::score_from_surprise(e.reported);
        let z = scale::z_for_score(score).copysign(if e.z < 0.0 { -1.0 } else { 1.0 });
        let band_z = scale::z_for_score(self.params.threshold);
        let half = band_z * s;
        let band = ((center - half).max(-f64::MAX), (center + half).min(f64::MAX));
        let notes = Notes { scale_floored: floored, excluded: false, gap: false, fallback: false };
        let mut v = verdict_from_z(
            point,
            z,
            center,
            band,
            self.params.threshold,
            self.seen,
            self.params.warmup.max(1) as u64,
            Cow::Borrowed(e.component),
            notes,
        );
        // The score comes straight from the combined surprise, so that ranks survive the
        // round trip through a z-equivalent exactly.
        v.anomaly_score = score;
        v.is_anomaly = score >= self.params.threshold;
        v
    }

    /// Learns `value` with the evaluation made for it.
    fn learn(&mut self, value: f64, e: &Evaluation, profiles: &mut [Option<Profile>; MAX_SCALES]) {
        let p = &self.params;
        if let Some((center, _, _)) = e.robust {
            if self.seen >= MIN_WINDOW_POINTS {
                self.recent.push_back(e.z.clamp(-p.z_clip, p.z_clip));
                if self.recent.len() > p.level_span {
                    self.recent.pop_front();
                }
            }
            let n = self.seen.min(p.window as u64) + 1;
            self.spread += ((value - center).abs() - self.spread) / n as f64;
        }
        // Finite by construction (values are bounded and the window non-degenerate).
        if let Some(x) = e.point {
            let _ = self.point.update(x);
        }
        if let Some(x) = e.level {
            let _ = self.level.update(x);
        }
        for ((sub, &(completed, distance)), profile) in
            self.subsequences.iter_mut().zip(&e.blocks).zip(profiles.iter_mut())
        {
            sub.learn(value, completed, distance, profile.take());
        }
        if self.seen >= self.hold_until && e.surprise >= self.alert_surprise() {
            self.hold_until = self.seen + p.refractory as u64 + 1;
        }
        self.window.learn(value);
        self.seen += 1;
    }
}

impl Detector for NoveltyDetector {
    fn score(&self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let e = self.evaluate(point.value, &mut Default::default());
        Ok(self.verdict(point, &e))
    }

    fn update(&mut self, point: Point) -> Result<()> {
        self.check(point)?;
        let mut profiles = Default::default();
        let e = self.evaluate(point.value, &mut profiles);
        self.learn(point.value, &e, &mut profiles);
        self.last = Some(point.timestamp);
        Ok(())
    }

    fn observe(&mut self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let mut profiles = Default::default();
        let e = self.evaluate(point.value, &mut profiles);
        let verdict = self.verdict(point, &e);
        self.learn(point.value, &e, &mut profiles);
        self.last = Some(point.timestamp);
        Ok(verdict)
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    /// Moves the point evidence onto the new level: the sliding window is refilled with
    /// `recent`, so the median and spread are those of the shift. Subsequence history is kept
    /// (the stretches before the shift are still what the series has done).
    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        let Some(newest) = recent.last() else { return Ok(()) };
        let mut last = None::<i64>;
        for p in recent {
            if !p.value.is_finite() || p.value.abs() > VALUE_LIMIT {
                return Err(Error::NonFinite { what: "value", value: p.value });
            }
            if let Some(l) = last
                && p.timestamp < l
            {
                return Err(Error::OutOfOrder { timestamp: p.timestamp, last: l });
            }
            last = Some(p.timestamp);
        }
        let mut window = QuantileWindowParams::default().window(self.params.window).build()?;
        for p in recent.iter().skip(recent.len().saturating_sub(self.params.window)) {
            window.learn(p.value);
        }
        if let Some(center) = window.median() {
            let n = recent.len().min(self.params.window) as f64;
            self.spread =
                recent.iter().rev().take(self.params.window).map(|p| (p.value - center).abs()).sum::<f64>() / n;
        }
        self.window = window;
        self.recent.clear();
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        if let Ok(fresh) = self.params.clone().build() {
            *self = fresh;
        }
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("novelty")
    }
}

impl Stateful for NoveltyDetector {
    fn kind() -> String {
        "NoveltyDetector".into()
    }

    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        if self.window.len() > self.params.window {
            return Err(snapshot_error("the sliding window holds more points than `window`"));
        }
        self.window.validate()?;
        if !(self.spread.is_finite() && self.spread >= 0.0) {
            return Err(snapshot_error(format!("spread must be finite and >= 0, got {}", self.spread)));
        }
        if self.recent.len() > self.params.level_span
            || !self.recent.iter().all(|z| z.is_finite() && z.abs() <= self.params.z_clip)
        {
            return Err(snapshot_error("recent deviations exceed level_span or z_clip"));
        }
        self.point.validate()?;
        self.level.validate()?;
        if self.subsequences.len() != self.params.scales.len() {
            return Err(snapshot_error("one subsequence state per scale is required"));
        }
        for (sub, s) in self.subsequences.iter().zip(&self.params.scales) {
            sub.validate(s, self.params.history)?;
        }
        Ok(())
    }
}
