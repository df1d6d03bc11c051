//! The small, object-safe traits every oddsight component implements.

use crate::error::{Error, Result, finite};
use crate::types::{AlertEvent, Point, Verdict};
use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// What a baseline considers normal at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Expected value (mean, median, bucket mean…).
    pub center: f64,
    /// Spread as a standard-deviation equivalent (`1.4826 × MAD` for robust baselines), never
    /// below the baseline's floor, so always `> 0`.
    pub scale: f64,
    /// Samples behind this expectation.
    pub count: u64,
    /// Samples needed before the baseline is warm.
    pub min_count: u64,
    /// Whether there were enough samples to judge.
    pub warm: bool,
    /// Whether `scale` is the configured floor rather than the measured spread.
    pub floored: bool,
    /// Whether it came from a coarser level than asked for (seasonal cold start).
    pub fallback: bool,
    /// The component that produced it.
    pub source: Cow<'static, str>,
}

/// How a confirmed level shift moves a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "by", rename_all = "snake_case")]
pub enum LevelShift {
    /// Everything moves up (or down) by this much.
    Add(f64),
    /// Everything is multiplied by this positive factor (levels and spreads alike): the shape of
    /// a latency regression, where a slow dependency triples every request.
    Scale(f64),
}

impl LevelShift {
    /// Applies the shift to one value.
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            LevelShift::Add(d) => x + d,
            LevelShift::Scale(r) => x * r,
        }
    }
}

/// A streaming model of what is normal.
///
/// Baselines accept points in any time order (the detector that owns one enforces ordering);
/// they reject non-finite values with [`Error::NonFinite`] and leave their state untouched.
pub trait Baseline: Send + Sync + std::fmt::Debug {
    /// Learns one point.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for NaN or ±inf; state is unchanged.
    fn update(&mut self, point: Point) -> Result<()>;

    /// What is normal at `timestamp`. Pure: never mutates.
    fn expect(&self, timestamp: i64) -> Expectation;

    /// Moves the baseline onto a new level after a confirmed shift, keeping its time-of-week
    /// shape (and, for an additive shift, its spread).
    fn shift(&mut self, shift: LevelShift);

    /// Forgets everything learned (parameters stay).
    fn reset(&mut self);

    /// Whether `timestamp` lies in an exclusion window: such points are neither learned nor
    /// judged. Baselines without exclusion windows return `false`.
    fn is_excluded(&self, _timestamp: i64) -> bool {
        false
    }

    /// Samples learned so far.
    fn count(&self) -> u64;
}

/// How surprising a value is against an expectation, on the common z-equivalent scale.
pub trait Scorer: Send + Sync + std::fmt::Debug {
    /// Signed z-equivalent of `value` against `expected` (positive: above). Never NaN.
    fn z(&self, value: f64, expected: &Expectation) -> f64;

    /// The normal band at `band_z` z-equivalents around the expectation.
    fn band(&self, expected: &Expectation, band_z: f64) -> (f64, f64) {
        (expected.center - band_z * expected.scale, expected.center + band_z * expected.scale)
    }

    /// Short name used in verdicts (`"z"`, `"ratio"`, `"student-t"`).
    fn name(&self) -> &'static str;
}

/// A streaming anomaly detector over one univariate series.
///
/// The three verbs are the same in every language oddsight speaks:
/// [`score`](Detector::score) judges without learning, [`update`](Detector::update) learns
/// without judging, [`observe`](Detector::observe) does both, prequentially. Batch forms give
/// exactly the results of the streaming loop (a test pins that).
///
/// Timestamps must not go backwards: an earlier timestamp is [`Error::OutOfOrder`]. Equal
/// timestamps are accepted (several samples in one millisecond).
pub trait Detector: Send + Sync + std::fmt::Debug {
    /// Judges `point` against what has been learned. Never mutates.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfOrder`].
    fn score(&self, point: Point) -> Result<Verdict>;

    /// Learns `point`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfOrder`]; state is unchanged.
    fn update(&mut self, point: Point) -> Result<()>;

    /// Newest timestamp learned, if any.
    fn last_timestamp(&self) -> Option<i64>;

    /// Moves the detector onto a new level after a confirmed shift, given the points that
    /// showed it (oldest first).
    ///
    /// # Errors
    /// As [`Detector::update`] for any of `recent`.
    fn rebaseline(&mut self, recent: &[Point]) -> Result<()>;

    /// Forgets everything learned.
    fn reset(&mut self);

    /// The detector's whole state as a versioned JSON snapshot.
    ///
    /// # Errors
    /// [`Error::Snapshot`] if serialisation fails.
    fn snapshot(&self) -> Result<String>;

    /// Short name used in verdicts and logs.
    fn name(&self) -> Cow<'static, str>;

    /// Judges then learns.
    ///
    /// # Errors
    /// As [`Detector::score`]; on error nothing is learned.
    fn observe(&mut self, point: Point) -> Result<Verdict> {
        let verdict = self.score(point)?;
        self.update(point)?;
        Ok(verdict)
    }

    /// [`observe`](Detector::observe) over a batch, all-or-nothing: the whole batch is checked
    /// first, so a bad point anywhere leaves the detector untouched.
    ///
    /// # Errors
    /// [`Error::Shape`] if lengths differ, [`Error::NonFinite`] / [`Error::OutOfOrder`] for the
    /// first bad point.
    fn observe_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last_timestamp(), timestamps, values)?;
        timestamps.iter().zip(values).map(|(&t, &v)| self.observe(Point::new(t, v))).collect()
    }

    /// [`score`](Detector::score) over a batch, every point judged against the current state.
    ///
    /// # Errors
    /// As [`Detector::observe_batch`].
    fn score_batch(&self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last_timestamp(), timestamps, values)?;
        timestamps.iter().zip(values).map(|(&t, &v)| self.score(Point::new(t, v))).collect()
    }

    /// [`update`](Detector::update) over a batch, all-or-nothing.
    ///
    /// # Errors
    /// As [`Detector::observe_batch`].
    fn update_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<()> {
        check_batch(self.last_timestamp(), timestamps, values)?;
        timestamps.iter().zip(values).try_for_each(|(&t, &v)| self.update(Point::new(t, v)))
    }

    /// [`observe_batch`](Detector::observe_batch) over ndarray views (any stride).
    ///
    /// # Errors
    /// As [`Detector::observe_batch`].
    fn observe_view(&mut self, timestamps: ArrayView1<'_, i64>, values: ArrayView1<'_, f64>) -> Result<Vec<Verdict>> {
        match (timestamps.as_slice(), values.as_slice()) {
            (Some(t), Some(v)) => self.observe_batch(t, v),
            _ => self.observe_batch(&timestamps.to_vec(), &values.to_vec()),
        }
    }

    /// [`score_batch`](Detector::score_batch) over ndarray views (any stride).
    ///
    /// # Errors
    /// As [`Detector::observe_batch`].
    fn score_view(&self, timestamps: ArrayView1<'_, i64>, values: ArrayView1<'_, f64>) -> Result<Vec<Verdict>> {
        match (timestamps.as_slice(), values.as_slice()) {
            (Some(t), Some(v)) => self.score_batch(t, v),
            _ => self.score_batch(&timestamps.to_vec(), &values.to_vec()),
        }
    }
}

/// Checks a batch before any of it is applied: equal lengths, finite values, timestamps that do
/// not go backwards (from `last` on).
///
/// # Errors
/// [`Error::Shape`], [`Error::NonFinite`] or [`Error::OutOfOrder`] for the first offence.
pub fn check_batch(last: Option<i64>, timestamps: &[i64], values: &[f64]) -> Result<()> {
    if timestamps.len() != values.len() {
        return Err(Error::Shape { what: "timestamps (one per value)", expected: values.len(), got: timestamps.len() });
    }
    let mut last = last;
    for (&t, &v) in timestamps.iter().zip(values) {
        finite("value", v)?;
        if let Some(l) = last
            && t < l
        {
            return Err(Error::OutOfOrder { timestamp: t, last: l });
        }
        last = Some(t);
    }
    Ok(())
}

/// Batch training: validated parameters are fitted to data and give a fitted model. Models
/// that cannot learn online implement only this path, so calling `update` on one is a compile
/// error rather than a runtime surprise.
pub trait Fit<Input: ?Sized> {
    /// The fitted model.
    type Fitted;

    /// Fits the model.
    ///
    /// # Errors
    /// Invalid parameters, empty or non-finite input.
    fn fit(&self, data: &Input) -> Result<Self::Fitted>;
}

/// What an alert policy allows the detector to learn from a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "learn", rename_all = "snake_case")]
pub enum Learn {
    /// Learn the point.
    Learn,
    /// Keep it out of the baseline (anomalous, or excluded).
    Skip,
    /// A sustained shift was confirmed: move the baseline onto these points (oldest first).
    Rebaseline {
        /// The points of the shift.
        points: Vec<Point>,
    },
}

/// An alert policy's answer to one verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Alert events raised by this verdict (usually none).
    pub events: Vec<AlertEvent>,
    /// Whether the point may be learned.
    pub learn: Learn,
}

/// Turns a stream of verdicts into alert events, and guards the baseline.
pub trait AlertPolicy: Send + Sync + std::fmt::Debug {
    /// Takes the next verdict.
    fn step(&mut self, verdict: &Verdict) -> Decision;

    /// The alert currently open, if any.
    fn open_alert(&self) -> Option<&crate::types::Alert>;

    /// Forgets all state (open alert, strikes, cooldown).
    fn reset(&mut self);

    /// The policy's whole state as a versioned JSON snapshot.
    ///
    /// # Errors
    /// [`Error::Snapshot`] if serialisation fails.
    fn snapshot(&self) -> Result<String>;
}
