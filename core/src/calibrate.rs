//! A streaming calibrator: any raw score onto the common scale, with a false-alarm-rate knob.

use crate::baseline::{QuantileSketch, QuantileSketchParams};
use crate::error::{Error, Result, check, finite};
use crate::scale;
use crate::snapshot::Stateful;
use serde::{Deserialize, Serialize};

/// The two-sided tail probability at |z| = 3, the level every calibrated score is aligned to.
const P_AT_3: f64 = 0.002_699_796_063_260_191;

/// Parameters of a [`Calibrator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CalibratorParams {
    /// The fraction of normal points that should score at or above the alert level (anomaly
    /// score 0.5). Default 0.0027, the Gaussian rate at |z| = 3, which leaves the empirical tail
    /// as it is; 0.001 makes the detector one-in-a-thousand.
    pub false_alarm_rate: f64,
    /// Raw scores needed before calibrated scores are reported warm. Default 100.
    pub min_samples: u64,
    /// Resolution of the underlying quantile sketch. Default 0.01.
    pub relative_accuracy: f64,
}

impl Default for CalibratorParams {
    fn default() -> Self {
        CalibratorParams { false_alarm_rate: P_AT_3, min_samples: 100, relative_accuracy: 0.01 }
    }
}

impl CalibratorParams {
    /// Sets `false_alarm_rate`.
    pub fn false_alarm_rate(mut self, rate: f64) -> Self {
        self.false_alarm_rate = rate;
        self
    }
    /// Sets `min_samples`.
    pub fn min_samples(mut self, n: u64) -> Self {
        self.min_samples = n;
        self
    }
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        check::open_unit("false_alarm_rate", self.false_alarm_rate)?;
        if self.min_samples < 10 {
            return Err(Error::param("min_samples", "must be >= 10", self.min_samples));
        }
        QuantileSketchParams::default().relative_accuracy(self.relative_accuracy).validate()
    }
    /// # Errors
    /// As [`CalibratorParams::validate`].
    pub fn build(self) -> Result<Calibrator> {
        self.validate()?;
        let sketch = QuantileSketchParams::default().relative_accuracy(self.relative_accuracy).build()?;
        Ok(Calibrator { params: self, sketch })
    }
}

/// A raw score placed on the common scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibrated {
    /// Calibrated tail probability (after the false-alarm-rate adjustment).
    pub p_value: f64,
    /// z-equivalent (≥ 0: raw scores are one-sided, higher is worse).
    pub z: f64,
    /// Anomaly score in `[0, 1]`.
    pub anomaly_score: f64,
    /// Whether enough raw scores had been seen.
    pub warm: bool,
}

/// Maps raw scores (higher = more anomalous, any units: an isolation-forest path length, a
/// rate of change, a log-template rarity) to the common scale by their empirical exceedance
/// probability among the scores seen so far, so that detectors are comparable and a threshold
/// means the same false-alarm rate everywhere.
///
/// The exceedance is read from a quantile sketch (bounded memory, 1 % relative resolution) with
/// add-one smoothing; beyond the largest score seen it decays exponentially with the slope of
/// the p90–p99 tail, so a score far past anything seen is more anomalous than one just past it.
/// The `false_alarm_rate` knob rescales the probability so that the score exceeded by that
/// fraction of normal points lands exactly on anomaly score 0.5.
///
/// ```
/// use oddsight_core::CalibratorParams;
/// let mut c = CalibratorParams::default().false_alarm_rate(0.01).build()?;
/// for i in 0..1000 {
///     c.update((i % 100) as f64)?; // raw scores 0..99, uniformly
/// }
/// let at_p99 = c.calibrate(99.0);
/// assert!(at_p99.warm && (at_p99.anomaly_score - 0.5).abs() < 0.05);
/// assert!(c.calibrate(150.0).anomaly_score > 0.6);
/// assert!(c.calibrate(50.0).anomaly_score < 0.3);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrator {
    params: CalibratorParams,
    sketch: QuantileSketch,
}

impl Calibrator {
    /// Learns a raw score.
    ///
    /// # Errors
    /// [`Error::NonFinite`]; state unchanged.
    pub fn update(&mut self, raw: f64) -> Result<()> {
        self.sketch.add(finite("score", raw)?)
    }

    /// Raw scores learned.
    pub fn count(&self) -> u64 {
        self.sketch.count()
    }

    /// Empirical exceedance probability of `raw`, smoothed, with the exponential tail.
    fn exceedance(&self, raw: f64) -> f64 {
        let n = self.sketch.count() as f64;
        if n == 0.0 {
            return 1.0;
        }
        let max = self.sketch.max().unwrap_or(raw);
        if raw > max {
            let q90 = self.sketch.quantile(0.90).ok().flatten().unwrap_or(max);
            let q99 = self.sketch.quantile(0.99).ok().flatten().unwrap_or(max);
            // The tail's slope from p90..p99; a discrete or constant history has none there, so
            // fall back to the spread from the median to the maximum, then to the maximum's
            // magnitude: a score far past everything seen must keep growing.
            let q50 = self.sketch.quantile(0.50).ok().flatten().unwrap_or(max);
            let spread = [q99 - q90, max - q50, 0.1 * max.abs()].into_iter().find(|s| *s > 0.0).unwrap_or(1e-12);
            let beta = spread / std::f64::consts::LN_10;
            let floor = 1.0 / (n + 1.0);
            return floor * (-(raw - max) / beta).exp();
        }
        let at_or_above = self.sketch.exceedance(raw) * n;
        ((at_or_above + 1.0) / (n + 1.0)).min(1.0)
    }

    /// Places `raw` on the common scale. Pure. A non-finite `raw` scores as 0 (never NaN).
    pub fn calibrate(&self, raw: f64) -> Calibrated {
        let warm = self.sketch.count() >= self.params.min_samples;
        if !warm || !raw.is_finite() {
            return Calibrated { p_value: 1.0, z: 0.0, anomaly_score: 0.0, warm };
        }
        let p = (self.exceedance(raw) * P_AT_3 / self.params.false_alarm_rate).clamp(0.0, 1.0);
        let z = if p > 0.0 { scale::z_from_p(p) } else { scale::MAX_Z };
        Calibrated { p_value: p, z, anomaly_score: scale::anomaly_score(z), warm }
    }

    /// Calibrates, then learns.
    ///
    /// # Errors
    /// [`Error::NonFinite`]; state unchanged.
    pub fn observe(&mut self, raw: f64) -> Result<Calibrated> {
        finite("score", raw)?;
        let c = self.calibrate(raw);
        self.update(raw)?;
        Ok(c)
    }
}

impl Stateful for Calibrator {
    fn kind() -> String {
        "Calibrator".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        self.sketch.validate()
    }
}
