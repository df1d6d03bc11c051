//! [`Watch`]: one detector and one alert policy over one series.

use crate::error::{Error, Result};
use crate::snapshot::Stateful;
use crate::traits::{AlertPolicy, Detector, Learn};
use crate::types::{AlertEvent, Point, Verdict};
use serde::{Deserialize, Serialize};

/// What one point produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The detector's verdict.
    pub verdict: Verdict,
    /// Alert events it raised.
    pub events: Vec<AlertEvent>,
    /// What the policy let the detector learn.
    pub learned: Learned,
}

/// What happened to the baseline on one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Learned {
    /// Learned as usual.
    Learned,
    /// Kept out (anomalous or excluded).
    Skipped,
    /// A confirmed shift moved the baseline.
    Rebaselined,
}

/// A detector and an alert policy wired together: score, decide, learn (or not). Pure: no
/// clock, no I/O; time comes with the points.
///
/// ```
/// use oddsight_core::*;
/// let detector = BaselineDetector::new(EwmaParams::default().build()?, ZScore, DetectorParams::default())?;
/// let mut watch = Watch::new(detector, StrikePolicyParams::strikes(3).build()?);
/// let mut fired_at = None;
/// for i in 0..200i64 {
///     let v = if i < 150 { 100.0 + (i % 7) as f64 } else { 300.0 };
///     let step = watch.push(Point::new(i * 60_000, v))?;
///     if step.events.iter().any(|e| matches!(e, AlertEvent::Fired { .. })) {
///         fired_at.get_or_insert(i);
///     }
/// }
/// assert_eq!(fired_at, Some(152)); // the third strike
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch<D, P> {
    detector: D,
    policy: P,
    last: Option<i64>,
}

impl<D: Detector, P: AlertPolicy> Watch<D, P> {
    /// Wires `detector` to `policy`.
    pub fn new(detector: D, policy: P) -> Self {
        let last = detector.last_timestamp();
        Watch { detector, policy, last }
    }

    /// The detector.
    pub fn detector(&self) -> &D {
        &self.detector
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// Mutable access to the policy (to resolve or reset it).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// Takes one point.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfOrder`] (against every point pushed so far, learned
    /// or not); nothing changes.
    pub fn push(&mut self, point: Point) -> Result<Step> {
        if let Some(last) = self.last
            && point.timestamp < last
        {
            return Err(Error::OutOfOrder { timestamp: point.timestamp, last });
        }
        let verdict = self.detector.score(point)?;
        let decision = self.policy.step(&verdict);
        // `score` accepted the point, so `update` (same checks) cannot reject it.
        let learned = match &decision.learn {
            Learn::Learn => {
                self.detector.update(point)?;
                Learned::Learned
            }
            Learn::Skip => Learned::Skipped,
            Learn::Rebaseline { points } => {
                self.detector.rebaseline(points)?;
                Learned::Rebaselined
            }
        };
        self.last = Some(point.timestamp);
        Ok(Step { verdict, events: decision.events, learned })
    }

    /// [`Watch::push`] over a batch, all-or-nothing.
    ///
    /// # Errors
    /// As [`crate::check_batch`]; nothing changes.
    pub fn push_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Step>> {
        crate::traits::check_batch(self.last, timestamps, values)?;
        timestamps.iter().zip(values).map(|(&t, &v)| self.push(Point::new(t, v))).collect()
    }
}

impl<D: Stateful, P: Stateful> Stateful for Watch<D, P> {
    fn kind() -> String {
        format!("Watch<{},{}>", D::kind(), P::kind())
    }
    fn validate(&self) -> Result<()> {
        self.detector.validate()?;
        self.policy.validate()
    }
}
