//! Time-aware detectors: "2 pm on a Tuesday is not 2 am on a Sunday".
//!
//! All three judge against a core [`SeasonalBaseline`] (by default 168 hour-of-week buckets,
//! with an hour-of-day and a global level for cold start, a time-zone offset and exclusion
//! windows):
//!
//! | detector | input | z-equivalent | state per series |
//! |---|---|---|---|
//! | [`SeasonalZScore`] | one value per point | `(x − bucket mean) / bucket sd` | 248 + 9,264 bytes by default |
//! | [`RatioToBaseline`] | one positive value per point | `3 · ln(x / bucket mean) / ln(multiple)` | 256 + 9,264 bytes by default |
//! | [`SeasonalAggregateDetector`] | raw events | Student-t of the interval's mean / p95 / max / count / sum against its bucket | 672 + 9,264 bytes + 8 per event of the open interval |
//!
//! (Sizes are `size_of` plus the heap each series holds: 48 bytes per bucket, 193 buckets by
//! default; pinned by a test.)

use crate::stat::{all_finite, check_point, detector_params, invalid, is_gap, level_shift, setters, verdict_setters};
use oddsight_core::detector::verdict_from_z;
use oddsight_core::{
    Aggregate, Aggregator, AggregatorParams, Baseline, BaselineDetector, Detector, DetectorParams, Error, Notes, Point,
    RatioScorer, Result, Scorer, SeasonalBaseline, SeasonalParams, Stateful, StudentT, Verdict, ZScore, check_batch,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

// ---------------------------------------------------------------------------------------------
// Point-level seasonal z-score
// ---------------------------------------------------------------------------------------------

/// Each point judged against the statistics of its own time-of-week bucket: a z-score whose
/// mean and spread depend on when the point was seen.
///
/// A [`BaselineDetector`] of a [`SeasonalBaseline`] and [`ZScore`]; build it with
/// [`SeasonalZScoreParams::build`] (weekly, hourly buckets) or from
/// [`SeasonalZScoreParams::daily`]. State: 248 bytes + 9,264 bytes of buckets by default (48
/// per bucket; 25 buckets, 1,200 bytes, with `daily`). Snapshot kind `BaselineDetector<SeasonalBaseline,ZScore>`.
///
/// ```
/// use oddsight_core::{Detector, Point};
/// use oddsight_detectors::seasonal::SeasonalZScoreParams;
/// const H: i64 = 3_600_000;
/// let mut d = SeasonalZScoreParams::daily().min_samples(3).build()?;
/// for day in 0..7 {
///     for hour in 0..24 {
///         // Busy afternoons, quiet nights.
///         let v = if (12..18).contains(&hour) { 900.0 } else { 100.0 } + (day % 3) as f64 * 5.0;
///         d.observe(Point::new(day * 24 * H + hour * H, v))?;
///     }
/// }
/// // 900 is normal at 2 pm, and a glaring anomaly at 2 am.
/// assert!(!d.score(Point::new(7 * 24 * H + 14 * H, 900.0))?.is_anomaly);
/// assert!(d.score(Point::new(7 * 24 * H + 2 * H, 900.0))?.is_anomaly);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
pub type SeasonalZScore = BaselineDetector<SeasonalBaseline, ZScore>;

/// Parameters of a [`SeasonalZScore`]: the seasonal baseline's own parameters plus the
/// verdict's.
///
/// ```
/// use oddsight_core::SeasonalParams;
/// use oddsight_detectors::seasonal::SeasonalZScoreParams;
/// let d = SeasonalZScoreParams::default()
///     .seasonal(SeasonalParams::default().tz_offset_ms(-5 * 3_600_000)) // US Eastern
///     .threshold(0.6)
///     .build()?;
/// assert_eq!(d.params().threshold, 0.6);
/// assert!(SeasonalZScoreParams::default().seasonal(SeasonalParams::default().bucket_ms(0)).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SeasonalZScoreParams {
    /// The seasonal baseline: period, buckets, time zone, cold start, exclusion windows.
    /// Default: a week of hourly buckets, UTC.
    pub seasonal: SeasonalParams,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents. Default 3.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for SeasonalZScoreParams {
    fn default() -> Self {
        let d = DetectorParams::default();
        SeasonalZScoreParams {
            seasonal: SeasonalParams::default(),
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl SeasonalZScoreParams {
    /// A daily cycle of hourly buckets (no day-of-week distinction, no coarse level): for
    /// series that look the same every day of the week, and that warm up seven times faster.
    pub fn daily() -> Self {
        SeasonalZScoreParams::default().seasonal(daily_seasonal())
    }

    setters! {
        /// Sets the seasonal baseline's parameters.
        seasonal: SeasonalParams;
    }
    verdict_setters!();

    /// Sets the samples a bucket needs before it is trusted (a shortcut into `seasonal`).
    #[must_use]
    pub fn min_samples(mut self, min_samples: u64) -> Self {
        self.seasonal = self.seasonal.min_samples(min_samples);
        self
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first parameter out of range.
    pub fn build(self) -> Result<SeasonalZScore> {
        let dp = detector_params(self.threshold, self.band_z, self.max_gap_ms)?;
        BaselineDetector::new(self.seasonal.build()?, ZScore, dp)
    }
}

fn daily_seasonal() -> SeasonalParams {
    SeasonalParams::default().period_ms(DAY_MS).bucket_ms(HOUR_MS).coarse_period_ms(None)
}

// ---------------------------------------------------------------------------------------------
// Ratio to baseline
// ---------------------------------------------------------------------------------------------

/// Current value ÷ what is normal for this time of week, firing at a multiple (3× by default)
/// or at its inverse: "latency is 3× its Tuesday-afternoon normal", "query count fell to a
/// third". For positive metrics whose noise grows with their level, where a z-score would
/// either page on every busy hour or sleep through a quiet one.
///
/// A [`BaselineDetector`] of a [`SeasonalBaseline`] and the core [`RatioScorer`], whose
/// z-equivalent is `3 · ln(x / expected) / ln(multiple)`: exactly `multiple` × expected (or
/// expected ÷ `multiple`) scores z = 3, anomaly score 0.5, the default threshold. Non-positive
/// values or expectations fall back to the plain z-score. Build it with
/// [`RatioToBaselineParams::build`]. State as [`SeasonalZScore`]. Snapshot kind
/// `BaselineDetector<SeasonalBaseline,RatioScorer>`.
///
/// ```
/// use oddsight_core::{Detector, Point, SeasonalParams};
/// use oddsight_detectors::seasonal::RatioToBaselineParams;
/// let mut d = RatioToBaselineParams::default()
///     .seasonal(SeasonalParams::default().min_samples(5))
///     .build()?;
/// for i in 0..100 {
///     d.observe(Point::new(i * 60_000, 120.0 + (i % 7) as f64))?; // latency, ms
/// }
/// let v = d.score(Point::new(100 * 60_000, 3.5 * 123.0))?; // 3.5× the usual ~123 ms
/// assert!(v.is_anomaly && v.z > 3.0, "{}", v.explain());
/// assert!(!d.score(Point::new(100 * 60_000, 2.0 * 123.0))?.is_anomaly);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
pub type RatioToBaseline = BaselineDetector<SeasonalBaseline, RatioScorer>;

/// Parameters of a [`RatioToBaseline`].
///
/// ```
/// use oddsight_detectors::seasonal::RatioToBaselineParams;
/// assert!(RatioToBaselineParams::default().multiple(2.0).build().is_ok());
/// assert!(RatioToBaselineParams::default().multiple(1.0).build().is_err()); // must be > 1
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RatioToBaselineParams {
    /// The ratio that scores z = 3 (the alert level at the default threshold), finite and > 1.
    /// Default 3.0.
    pub multiple: f64,
    /// The seasonal baseline. Default: a week of hourly buckets, UTC.
    pub seasonal: SeasonalParams,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (at `multiple`).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents: the default 3 reports
    /// `[expected / multiple, expected × multiple]`.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for RatioToBaselineParams {
    fn default() -> Self {
        let d = DetectorParams::default();
        RatioToBaselineParams {
            multiple: 3.0,
            seasonal: SeasonalParams::default(),
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl RatioToBaselineParams {
    setters! {
        /// Sets `multiple`.
        multiple: f64;
        /// Sets the seasonal baseline's parameters.
        seasonal: SeasonalParams;
    }
    verdict_setters!();

    /// Builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first parameter out of range.
    pub fn build(self) -> Result<RatioToBaseline> {
        let scorer = RatioScorer::new(self.multiple)?;
        let dp = detector_params(self.threshold, self.band_z, self.max_gap_ms)?;
        BaselineDetector::new(self.seasonal.build()?, scorer, dp)
    }
}

// ---------------------------------------------------------------------------------------------
// Seasonal interval aggregate
// ---------------------------------------------------------------------------------------------

/// The per-interval statistic a [`SeasonalAggregateDetector`] judges.
///
/// ```
/// use oddsight_detectors::seasonal::Statistic;
/// assert_eq!(serde_json::to_string(&Statistic::P95)?, r#""p95""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Statistic {
    /// Mean of the interval's values (empty intervals are not judged).
    #[default]
    Mean,
    /// 95th percentile (exact up to 10,000 events per interval, within 1 % beyond).
    P95,
    /// Largest value.
    Max,
    /// Number of events (an empty interval counts 0: no traffic is itself a signal).
    Count,
    /// Sum of the values (0 for an empty interval).
    Sum,
}

impl Statistic {
    /// The statistic of one closed interval, `None` when it has none (an empty interval's mean).
    pub fn of(self, a: &Aggregate) -> Option<f64> {
        match self {
            Statistic::Mean => a.mean,
            Statistic::P95 => a.p95,
            Statistic::Max => a.max,
            Statistic::Count => Some(a.count as f64),
            Statistic::Sum => Some(a.sum),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Statistic::Mean => "mean",
            Statistic::P95 => "p95",
            Statistic::Max => "max",
            Statistic::Count => "count",
            Statistic::Sum => "sum",
        }
    }
}

/// Parameters of a [`SeasonalAggregateDetector`].
///
/// ```
/// use oddsight_detectors::seasonal::{SeasonalAggregateParams, Statistic};
/// let d = SeasonalAggregateParams::default().interval_ms(300_000).statistic(Statistic::P95).build()?;
/// assert_eq!(d.params().statistic, Statistic::P95);
/// assert!(SeasonalAggregateParams::default().interval_ms(0).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SeasonalAggregateParams {
    /// Width of one interval, aligned to the Unix epoch (whole minutes, whole hours…), at most
    /// one week. Default 60 s.
    pub interval_ms: i64,
    /// What is judged per interval. Default the mean.
    pub statistic: Statistic,
    /// The seasonal baseline, which learns one sample per interval (at the interval's start).
    /// Default: a week of hourly buckets, UTC.
    pub seasonal: SeasonalParams,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents. Default 3.
    pub band_z: f64,
    /// Events more than this long after the previous one flag the verdicts they produce `gap`.
    /// Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for SeasonalAggregateParams {
    fn default() -> Self {
        let d = DetectorParams::default();
        SeasonalAggregateParams {
            interval_ms: 60_000,
            statistic: Statistic::Mean,
            seasonal: SeasonalParams::default(),
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl SeasonalAggregateParams {
    setters! {
        /// Sets `interval_ms`.
        interval_ms: i64;
        /// Sets `statistic`.
        statistic: Statistic;
        /// Sets the seasonal baseline's parameters.
        seasonal: SeasonalParams;
    }
    verdict_setters!();

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if !(self.interval_ms > 0 && self.interval_ms <= 7 * DAY_MS) {
            return Err(invalid("interval_ms", "must be in 1..=604800000 ms", self.interval_ms));
        }
        self.seasonal.validate()?;
        detector_params(self.threshold, self.band_z, self.max_gap_ms).map(|_| ())
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// As [`SeasonalAggregateParams::validate`].
    pub fn build(self) -> Result<SeasonalAggregateDetector> {
        self.validate()?;
        let aggregator = AggregatorParams::default().width_ms(self.interval_ms).build()?;
        let baseline = self.seasonal.clone().build()?;
        Ok(SeasonalAggregateDetector {
            params: self,
            aggregator,
            baseline,
            open: None,
            flushed_until: None,
            last: None,
        })
    }
}

/// Raw events (one per request, per query, per log line) aggregated into fixed intervals, and
/// each interval's statistic (mean, p95, max, count or sum, via [`Aggregator`]) judged against
/// its time-of-week bucket of a [`SeasonalBaseline`]: the p95 latency of 14:00–14:01 on a
/// Tuesday is compared with the p95 of Tuesday 14:00–15:00 in past weeks, not with 2 am on a
/// Sunday. The z-equivalent comes from the core [`StudentT`] scorer (a Student-t prediction
/// tail with the bucket's sample count), which is the z-score once a bucket has a few dozen
/// samples and more cautious before.
///
/// **Streaming API.** [`push`](Self::push) takes one event and returns the verdicts of the
/// intervals it closed (usually none; one when it is the first event of a new interval; more
/// after a gap, whose empty intervals are judged too when the statistic is a count or a sum).
/// [`flush`](Self::flush) closes the open interval. A verdict's timestamp is its interval's
/// start, its value the statistic, its expected value and band the bucket's. Each interval is
/// judged, then learned.
///
/// **[`Detector`] integration.** Through the trait a point is one event, and its verdict is
/// the judgement of the interval that event closed (the most anomalous one if it closed
/// several), or a neutral verdict (the event itself, component `seasonal-aggregate:open`) when
/// it closed none. So a stream of events through `observe` gives one verdict per event, and an
/// alert policy sees each interval once; `rebaseline` expects the interval verdicts' points
/// (interval start, statistic), which is what a policy collects.
///
/// Events must be finite and in time order; an event for an interval already closed by
/// [`flush`](Self::flush) is [`Error::LateEvent`]. State: 672 bytes + the baseline's buckets
/// (9,264 bytes by default) + 8 bytes per event of the open interval. Snapshot kind
/// `SeasonalAggregateDetector`.
///
/// ```
/// use oddsight_core::Point;
/// use oddsight_core::SeasonalParams;
/// use oddsight_detectors::seasonal::{SeasonalAggregateParams, Statistic};
/// const MIN: i64 = 60_000;
/// let mut d = SeasonalAggregateParams::default()
///     .statistic(Statistic::P95)
///     .seasonal(SeasonalParams::default().min_samples(20))
///     .build()?;
/// let mut verdicts = Vec::new();
/// for minute in 0..120 {
///     for request in 0..50 {
///         // Latencies of 50 requests a minute: 20–69 ms, then a slow minute at 100.
///         let slow = if minute == 100 { 10.0 } else { 1.0 };
///         let latency = slow * (20.0 + request as f64);
///         verdicts.extend(d.push(minute * MIN + request * 1000, latency)?);
///     }
/// }
/// let flagged: Vec<i64> = verdicts.iter().filter(|v| v.is_anomaly).map(|v| v.timestamp / MIN).collect();
/// assert_eq!(flagged, vec![100]);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalAggregateDetector {
    params: SeasonalAggregateParams,
    aggregator: Aggregator,
    baseline: SeasonalBaseline,
    /// Start of the open interval.
    open: Option<i64>,
    /// End of the interval closed by the last `flush`: events before it are late.
    flushed_until: Option<i64>,
    last: Option<i64>,
}

impl SeasonalAggregateDetector {
    /// The parameters it was built with.
    pub fn params(&self) -> &SeasonalAggregateParams {
        &self.params
    }

    /// The seasonal baseline.
    pub fn baseline(&self) -> &SeasonalBaseline {
        &self.baseline
    }

    /// Start of the interval `timestamp` falls in.
    pub fn interval_start(&self, timestamp: i64) -> i64 {
        // As the core aggregator computes it (in i128, so timestamps near i64::MIN cannot
        // overflow), so that the two always agree on which interval is open.
        let w = i128::from(self.params.interval_ms);
        (i128::from(timestamp).div_euclid(w) * w).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    fn check(&self, point: Point) -> Result<()> {
        check_point(self.last, point)?;
        match self.flushed_until {
            Some(closed_at) if self.interval_start(point.timestamp) < closed_at => {
                Err(Error::LateEvent { timestamp: point.timestamp, closed_at })
            }
            _ => Ok(()),
        }
    }

    /// Adds one event; returns the verdicts of the intervals it closed, each judged and then
    /// learned.
    ///
    /// # Errors
    /// [`Error::NonFinite`], [`Error::OutOfOrder`] or [`Error::LateEvent`]; nothing changes.
    pub fn push(&mut self, timestamp: i64, value: f64) -> Result<Vec<Verdict>> {
        let point = Point::new(timestamp, value);
        self.check(point)?;
        let gap = is_gap(self.params.max_gap_ms, self.last, timestamp);
        self.ingest(point, gap, true)
    }

    /// [`push`](Self::push) over a batch, all-or-nothing.
    ///
    /// # Errors
    /// [`Error::Shape`] if lengths differ, else as [`push`](Self::push) for the first bad event.
    pub fn push_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last, timestamps, values)?;
        // Timestamps do not go backwards, so if any event is late the first one is.
        if let (Some(&t), Some(&v)) = (timestamps.first(), values.first()) {
            self.check(Point::new(t, v))?;
        }
        let mut out = Vec::new();
        for (&t, &v) in timestamps.iter().zip(values) {
            out.extend(self.push(t, v)?);
        }
        Ok(out)
    }

    /// Closes the open interval, judges and learns it. `None` when no interval was open or it
    /// has no statistic.
    pub fn flush(&mut self) -> Option<Verdict> {
        let a = self.aggregator.flush()?;
        self.open = None;
        self.flushed_until = Some(a.end);
        let x = self.params.statistic.of(&a)?;
        let v = self.judge(&self.baseline, a.start, x, false);
        self.baseline.learn(a.start, x);
        Some(v)
    }

    /// Feeds a checked event to the aggregator and learns what it closed, judging each interval
    /// first when asked.
    fn ingest(&mut self, point: Point, gap: bool, judge: bool) -> Result<Vec<Verdict>> {
        let closed = self.aggregator.push(point.timestamp, point.value)?;
        self.open = Some(self.interval_start(point.timestamp));
        self.last = Some(point.timestamp);
        let mut out = Vec::new();
        for a in &closed {
            let Some(x) = self.params.statistic.of(a) else { continue };
            if judge {
                out.push(self.judge(&self.baseline, a.start, x, gap));
            }
            self.baseline.learn(a.start, x);
        }
        Ok(out)
    }

    fn judge(&self, baseline: &SeasonalBaseline, start: i64, x: f64, gap: bool) -> Verdict {
        let point = Point::new(start, x);
        let e = baseline.expect(start);
        if baseline.is_excluded(start) {
            let mut v = Verdict::neutral(point, e.center, Cow::Borrowed("excluded"), e.warm);
            v.notes.excluded = true;
            return v;
        }
        if !e.warm {
            let mut v = Verdict::neutral(point, e.center, e.source, false);
            v.notes.gap = gap;
            return v;
        }
        let notes = Notes { scale_floored: e.floored, excluded: false, gap, fallback: e.fallback };
        // Student-t: a bucket judged after ten samples knows its spread only roughly, and a
        // z-score would treat that rough spread as exact.
        let z = StudentT.z(x, &e);
        let band = StudentT.band(&e, self.params.band_z);
        verdict_from_z(point, z, e.center, band, self.params.threshold, e.count, e.min_count, e.source, notes)
    }

    /// The verdict for an event that closes no interval: not a judgement, the open interval's
    /// expectation for reference.
    fn pending(&self, point: Point, gap: bool) -> Verdict {
        let e = self.baseline.expect(self.interval_start(point.timestamp));
        let mut v = Verdict::neutral(point, e.center, Cow::Borrowed("seasonal-aggregate:open"), e.warm);
        v.notes.gap = gap;
        v
    }

    /// The most anomalous of several interval verdicts (the first among equals).
    fn most_anomalous(verdicts: Vec<Verdict>) -> Option<Verdict> {
        verdicts.into_iter().reduce(|best, v| if v.anomaly_score > best.anomaly_score { v } else { best })
    }
}

impl Detector for SeasonalAggregateDetector {
    fn score(&self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let gap = is_gap(self.params.max_gap_ms, self.last, point.timestamp);
        let closes = matches!(self.open, Some(open) if self.interval_start(point.timestamp) > open);
        if !closes {
            return Ok(self.pending(point, gap));
        }
        // Replay what `observe` would do on copies: the aggregator (once per interval, so its
        // cost is amortised over the interval's events) and, only after a gap closes several
        // intervals, the baseline.
        let closed = self.aggregator.clone().push(point.timestamp, point.value)?;
        let mut replay: Option<SeasonalBaseline> = None;
        let mut verdicts = Vec::new();
        let last_index = closed.len().saturating_sub(1);
        for (i, a) in closed.iter().enumerate() {
            let Some(x) = self.params.statistic.of(a) else { continue };
            verdicts.push(self.judge(replay.as_ref().unwrap_or(&self.baseline), a.start, x, gap));
            if i < last_index {
                replay.get_or_insert_with(|| self.baseline.clone()).learn(a.start, x);
            }
        }
        Ok(Self::most_anomalous(verdicts).unwrap_or_else(|| self.pending(point, gap)))
    }

    fn update(&mut self, point: Point) -> Result<()> {
        self.check(point)?;
        self.ingest(point, false, false).map(|_| ())
    }

    fn observe(&mut self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let gap = is_gap(self.params.max_gap_ms, self.last, point.timestamp);
        // An event that closes nothing leaves the baseline as it was, so judging it before or
        // after ingesting is the same.
        let verdicts = self.ingest(point, gap, true)?;
        Ok(Self::most_anomalous(verdicts).unwrap_or_else(|| self.pending(point, gap)))
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        all_finite(recent)?;
        let Some(newest) = recent.last() else { return Ok(()) };
        if let Some(shift) = level_shift(recent, |t| self.baseline.expect(t).center) {
            self.baseline.shift(shift);
        }
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        if let Ok(a) = AggregatorParams::default().width_ms(self.params.interval_ms).build() {
            self.aggregator = a;
        }
        self.baseline.reset();
        self.open = None;
        self.flushed_until = None;
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("seasonal-aggregate({})", self.params.statistic.name()))
    }
}

impl Stateful for SeasonalAggregateDetector {
    fn kind() -> String {
        "SeasonalAggregateDetector".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        Stateful::validate(&self.aggregator)?;
        Stateful::validate(&self.baseline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oddsight_core::SeasonalParams;

    const MIN: i64 = 60_000;
    /// Monday 2026-11-23 00:00 UTC.
    const MONDAY: i64 = 1_795_392_000_000;

    fn noise(i: i64) -> f64 {
        let mut x = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    #[test]
    fn state_sizes() {
        // The module docs quote these; change both together.
        use std::mem::size_of;
        assert_eq!(size_of::<SeasonalZScore>(), 248);
        assert_eq!(size_of::<RatioToBaseline>(), 256);
        assert_eq!(size_of::<SeasonalAggregateDetector>(), 672);
        assert_eq!(SeasonalZScoreParams::default().build().unwrap().baseline().state_bytes(), 9_264);
        assert_eq!(SeasonalZScoreParams::daily().build().unwrap().baseline().state_bytes(), 25 * 48);
    }

    #[test]
    fn weekly_zscore_knows_tuesday_from_sunday() {
        let mut d = SeasonalZScoreParams::default().min_samples(3).build().unwrap();
        for h in 0..(4 * 7 * 24) {
            let ts = MONDAY + h * 3_600_000;
            let weekday = (h / 24) % 7;
            let hour = h % 24;
            let busy = weekday < 5 && (9..18).contains(&hour);
            d.observe(Point::new(ts, if busy { 1000.0 } else { 100.0 } + 10.0 * noise(h))).unwrap();
        }
        let next_week = MONDAY + 4 * 7 * 24 * 3_600_000;
        let tuesday_2pm = next_week + 24 * 3_600_000 + 14 * 3_600_000;
        let sunday_2pm = next_week + 6 * 24 * 3_600_000 + 14 * 3_600_000;
        assert!(!d.score(Point::new(tuesday_2pm, 1000.0)).unwrap().is_anomaly);
        let v = d.score(Point::new(sunday_2pm, 1000.0)).unwrap();
        assert!(v.is_anomaly && v.component == "seasonal:bucket", "{}", v.explain());
    }

    #[test]
    fn ratio_fires_at_the_multiple() {
        let mut d = RatioToBaselineParams::default()
            .multiple(2.0)
            .seasonal(SeasonalParams::default().min_samples(5))
            .build()
            .unwrap();
        for i in 0..50 {
            d.observe(Point::new(i * MIN, 100.0)).unwrap();
        }
        let at = |x| d.score(Point::new(50 * MIN, x)).unwrap();
        assert!((at(200.0).z - 3.0).abs() < 1e-9 && at(200.0).is_anomaly);
        assert!((at(50.0).z + 3.0).abs() < 1e-9);
        assert!(!at(180.0).is_anomaly);
        assert!(RatioToBaselineParams::default().multiple(f64::NAN).build().is_err());
        assert_eq!(d.name(), "SeasonalBaseline/ratio");
    }

    fn latency_events(d: &mut SeasonalAggregateDetector, minutes: std::ops::Range<i64>) -> Vec<Verdict> {
        let mut out = Vec::new();
        for m in minutes {
            for r in 0..20 {
                out.extend(d.push(MONDAY + m * MIN + r * 2000, 50.0 + 5.0 * noise(m * 100 + r)).unwrap());
            }
        }
        out
    }

    #[test]
    fn aggregate_judges_each_interval_once() {
        let mut d =
            SeasonalAggregateParams::default().seasonal(SeasonalParams::default().min_samples(10)).build().unwrap();
        let verdicts = latency_events(&mut d, 0..60);
        assert_eq!(verdicts.len(), 59); // the 60th minute is still open
        for v in &verdicts {
            assert!(!v.is_anomaly && v.timestamp % MIN == 0, "{}", v.explain());
        }
        assert_eq!(verdicts.iter().filter(|v| v.warm).count(), 59 - 10);
        let last = d.flush().unwrap();
        assert_eq!(last.timestamp, MONDAY + 59 * MIN);
        // The flushed minute is closed: a late event for it is refused.
        let late = d.push(MONDAY + 59 * MIN + 59_000, 1.0);
        assert!(matches!(late, Err(Error::LateEvent { .. })));
        assert!(d.push(MONDAY + 60 * MIN, 1.0).unwrap().is_empty());
    }

    #[test]
    fn aggregate_counts_judge_empty_intervals() {
        let mut d = SeasonalAggregateParams::default()
            .statistic(Statistic::Count)
            .seasonal(SeasonalParams::default().min_samples(10))
            .build()
            .unwrap();
        latency_events(&mut d, 0..60);
        // Ten silent minutes, then traffic again: the silence is judged and flagged.
        let v = d.push(MONDAY + 70 * MIN, 50.0).unwrap();
        assert_eq!(v.len(), 11); // minute 59 (20 events), then ten empty minutes
        assert!(!v[0].is_anomaly && v[1..].iter().all(|v| v.is_anomaly && v.value == 0.0));
    }

    #[test]
    fn aggregate_detector_trait_matches_push() {
        let mut a = SeasonalAggregateParams::default()
            .statistic(Statistic::Max)
            .seasonal(SeasonalParams::default().min_samples(5))
            .build()
            .unwrap();
        let mut b = a.clone();
        let mut from_push = Vec::new();
        let mut from_trait = Vec::new();
        for i in 0..3000i64 {
            let t = MONDAY + i * 1500 + if i > 2000 { 600_000 } else { 0 };
            let x = if i == 1500 { 500.0 } else { 40.0 + 10.0 * noise(i) };
            from_push.extend(a.push(t, x).unwrap());
            let s = b.score(Point::new(t, x)).unwrap();
            let o = b.observe(Point::new(t, x)).unwrap();
            assert_eq!(s, o, "event {i}");
            if o.component != "seasonal-aggregate:open" {
                from_trait.push(o);
            }
        }
        // Each event closes at most one interval with a maximum (empty ones have none), so the
        // two paths see the same verdicts.
        assert_eq!(from_push, from_trait);
        assert!(from_push.iter().any(|v| v.is_anomaly && v.value == 500.0));
        assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
    }

    #[test]
    fn aggregate_rejects_bad_events_and_keeps_state() {
        let mut d = SeasonalAggregateParams::default().build().unwrap();
        latency_events(&mut d, 0..3);
        let before = d.clone();
        assert!(matches!(d.push(MONDAY, 1.0), Err(Error::OutOfOrder { .. })));
        assert!(matches!(d.push(MONDAY + 10 * MIN, f64::NAN), Err(Error::NonFinite { .. })));
        assert!(d.push_batch(&[MONDAY + 10 * MIN, MONDAY + 11 * MIN], &[1.0, f64::INFINITY]).is_err());
        assert!(d.observe_batch(&[MONDAY + 10 * MIN], &[1.0, 2.0]).is_err());
        assert!(d.rebaseline(&[Point::new(MONDAY, f64::NAN)]).is_err());
        assert_eq!(d, before);
    }

    #[test]
    fn aggregate_rebaseline_and_reset() {
        let mut d =
            SeasonalAggregateParams::default().seasonal(SeasonalParams::default().min_samples(5)).build().unwrap();
        latency_events(&mut d, 0..30);
        let shifted: Vec<Point> = (30..35).map(|m| Point::new(MONDAY + m * MIN, 150.0)).collect();
        d.rebaseline(&shifted).unwrap();
        let e = d.baseline().expect(MONDAY + 40 * MIN);
        assert!((e.center - 150.0).abs() < 5.0, "{}", e.center);
        d.reset();
        assert_eq!(d.last_timestamp(), None);
        assert_eq!(d.baseline().count(), 0);
        assert!(d.push(0, 1.0).unwrap().is_empty());
    }

    #[test]
    fn aggregate_snapshot_round_trip_mid_interval() {
        let mut d = SeasonalAggregateParams::default().statistic(Statistic::P95).build().unwrap();
        latency_events(&mut d, 0..40);
        d.push(MONDAY + 40 * MIN, 70.0).unwrap();
        let s = d.snapshot().unwrap();
        let mut r = SeasonalAggregateDetector::from_snapshot(&s).unwrap();
        assert_eq!(r.snapshot().unwrap(), s);
        let a: Vec<Verdict> = latency_events(&mut d, 41..60);
        let b: Vec<Verdict> = latency_events(&mut r, 41..60);
        assert_eq!(a, b);
        assert!(s.contains(r#""kind":"SeasonalAggregateDetector""#));
    }
}
