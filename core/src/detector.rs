//! [`BaselineDetector`]: any baseline plus any scorer is a streaming detector.

use crate::error::{Error, Result, check, finite};
use crate::scale;
use crate::snapshot::Stateful;
use crate::traits::{Baseline, Detector, LevelShift, Scorer};
use crate::types::{Direction, Notes, Point, Verdict};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Parameters shared by detectors built on a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DetectorParams {
    /// Anomaly-score threshold for `is_anomaly`. Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band, in z-equivalents. Default 3.
    pub band_z: f64,
    /// A point more than this long after the previous one is flagged `gap` in its verdict.
    /// Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for DetectorParams {
    fn default() -> Self {
        DetectorParams { threshold: 0.5, band_z: 3.0, max_gap_ms: None }
    }
}

impl DetectorParams {
    /// Sets `threshold`.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
    /// Sets `band_z`.
    pub fn band_z(mut self, band_z: f64) -> Self {
        self.band_z = band_z;
        self
    }
    /// Sets `max_gap_ms`.
    pub fn max_gap_ms(mut self, max_gap_ms: Option<i64>) -> Self {
        self.max_gap_ms = max_gap_ms;
        self
    }
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        check::open_unit("threshold", self.threshold)?;
        check::positive("band_z", self.band_z)?;
        if let Some(g) = self.max_gap_ms {
            check::positive_ms("max_gap_ms", g)?;
        }
        Ok(())
    }
}

/// Confidence of a verdict: sample support times distance from the threshold, halved when the
/// spread was floored. In `[0, 1]`.
///
/// Support is `n / (n + n_warm)`: 0.5 when the baseline has just warmed up, 0.9 at nine times
/// that. Distance is 0.5 at the threshold and 1 far from it on either side.
pub fn confidence(count: u64, warmup: u64, anomaly_score: f64, threshold: f64, floored: bool) -> f64 {
    let n = count as f64;
    let support = n / (n + warmup.max(1) as f64);
    let distance = if anomaly_score >= threshold {
        (anomaly_score - threshold) / (1.0 - threshold)
    } else {
        (threshold - anomaly_score) / threshold
    };
    let c = support * (0.5 + 0.5 * distance.clamp(0.0, 1.0));
    if floored { 0.5 * c } else { c }
}

/// Builds a verdict from a z-equivalent and its context: the one place where the common scale,
/// severity and confidence are applied, so every detector reports them the same way.
#[allow(clippy::too_many_arguments)]
pub fn verdict_from_z(
    point: Point,
    z: f64,
    expected: f64,
    band: (f64, f64),
    threshold: f64,
    count: u64,
    warmup: u64,
    component: Cow<'static, str>,
    notes: Notes,
) -> Verdict {
    let z = scale::clamp_z(z);
    let (p_value, anomaly_score) = scale::p_and_score(z);
    let severity = scale::severity(anomaly_score);
    Verdict {
        timestamp: point.timestamp,
        value: point.value,
        expected,
        lower: band.0,
        upper: band.1,
        z,
        p_value,
        anomaly_score,
        is_anomaly: anomaly_score >= threshold,
        direction: Direction::of(z),
        severity,
        severity_score: scale::severity_score(anomaly_score),
        confidence: confidence(count, warmup, anomaly_score, threshold, notes.scale_floored),
        component,
        warm: true,
        notes,
    }
}

/// A streaming detector made of a [`Baseline`] and a [`Scorer`].
///
/// ```
/// use oddsight_core::{BaselineDetector, Detector, DetectorParams, EwmaParams, Point, ZScore};
/// let baseline = EwmaParams::default().warmup(10).build()?;
/// let mut d = BaselineDetector::new(baseline, ZScore, DetectorParams::default())?;
/// for i in 0..50 {
///     d.observe(Point::new(i * 1000, 100.0 + (i % 5) as f64))?;
/// }
/// let v = d.observe(Point::new(50_000, 160.0))?;
/// assert!(v.is_anomaly && v.warm);
/// assert!(v.expected > 100.0 && v.expected < 104.0);
/// assert!(d.observe(Point::new(10, 1.0)).is_err()); // timestamps must not go backwards
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineDetector<B, S> {
    params: DetectorParams,
    baseline: B,
    scorer: S,
    last: Option<i64>,
}

impl<B: Baseline + Clone, S: Scorer + Clone> BaselineDetector<B, S> {
    /// Combines a baseline and a scorer.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `params` are out of range.
    pub fn new(baseline: B, scorer: S, params: DetectorParams) -> Result<Self> {
        params.validate()?;
        Ok(BaselineDetector { params, baseline, scorer, last: None })
    }

    /// The baseline.
    pub fn baseline(&self) -> &B {
        &self.baseline
    }

    /// The parameters.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    fn check(&self, point: Point) -> Result<()> {
        finite("value", point.value)?;
        match self.last {
            Some(last) if point.timestamp < last => Err(Error::OutOfOrder { timestamp: point.timestamp, last }),
            _ => Ok(()),
        }
    }
}

impl<B, S> Detector for BaselineDetector<B, S>
where
    B: Baseline + Clone + Serialize + serde::de::DeserializeOwned + Stateful,
    S: Scorer + Clone + Serialize + serde::de::DeserializeOwned + Stateful,
{
    #[inline]
    fn score(&self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let e = self.baseline.expect(point.timestamp);
        if self.baseline.is_excluded(point.timestamp) {
            let mut v = Verdict::neutral(point, e.center, Cow::Borrowed("excluded"), e.warm);
            v.notes.excluded = true;
            return Ok(v);
        }
        let gap =
            matches!((self.params.max_gap_ms, self.last), (Some(g), Some(l)) if point.timestamp.saturating_sub(l) > g);
        if !e.warm {
            let mut v = Verdict::neutral(point, e.center, e.source, false);
            v.notes.gap = gap;
            return Ok(v);
        }
        let notes = Notes { scale_floored: e.floored, excluded: false, gap, fallback: e.fallback };
        let z = self.scorer.z(point.value, &e);
        let band = self.scorer.band(&e, self.params.band_z);
        Ok(verdict_from_z(point, z, e.center, band, self.params.threshold, e.count, e.min_count, e.source, notes))
    }

    #[inline]
    fn update(&mut self, point: Point) -> Result<()> {
        self.check(point)?;
        self.baseline.update(point)?;
        self.last = Some(point.timestamp);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        let Some(newest) = recent.last() else { return Ok(()) };
        for p in recent {
            finite("value", p.value)?;
        }
        // Move the level by the median ratio (positive series: latency, counts, where a
        // regression multiplies) or the median residual of the shift, so the time-of-week shape
        // survives; a mean would let the first, most extreme points of a shift dominate.
        let expected: Vec<f64> = recent.iter().map(|p| self.baseline.expect(p.timestamp).center).collect();
        let positive = recent.iter().zip(&expected).all(|(p, &e)| p.value > 0.0 && e > 0.0);
        let mut moves: Vec<f64> =
            recent.iter().zip(&expected).map(|(p, &e)| if positive { p.value / e } else { p.value - e }).collect();
        moves.sort_by(f64::total_cmp);
        let shift = match crate::baseline::quantiles_interpolated(&moves, 0.5) {
            Some(r) if positive => LevelShift::Scale(r),
            Some(d) => LevelShift::Add(d),
            None => LevelShift::Add(0.0),
        };
        if shift.apply(1.0).is_finite() {
            self.baseline.shift(shift);
        }
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        self.baseline.reset();
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("{}/{}", B::kind(), self.scorer.name()))
    }
}

impl<B, S> Stateful for BaselineDetector<B, S>
where
    B: Stateful,
    S: Stateful,
{
    fn kind() -> String {
        format!("BaselineDetector<{},{}>", B::kind(), S::kind())
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        self.baseline.validate()?;
        self.scorer.validate()
    }
}
