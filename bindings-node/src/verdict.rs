//! The verdict as a plain JavaScript object, camelCase.

use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;
use oddsight_core::{Direction, Severity};

/// Flags that qualify a verdict: why it may be less certain than it looks, or why it was not
/// judged at all.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct VerdictNotes {
    /// The baseline's spread was zero (or tiny) and the configured floor was used instead, so
    /// the z-equivalent is an upper bound. Confidence is halved.
    pub scale_floored: bool,
    /// The point fell in an exclusion window (maintenance, holiday): not judged, not learned.
    pub excluded: bool,
    /// The point came after a gap longer than the detector's `max_gap_ms`.
    pub gap: bool,
    /// The expectation came from a coarser level than asked for (cold-start fallback).
    pub fallback: bool,
}

/// What a detector concluded about one point, with everything needed to explain it. Scores
/// from different detectors share one scale: `anomalyScore` is 0.5 at |z| = 3.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Timestamp of the judged point (Unix ms).
    pub timestamp: i64,
    /// The judged value.
    pub value: f64,
    /// What was expected at this time.
    pub expected: f64,
    /// Lower edge of the normal band.
    pub lower: f64,
    /// Upper edge of the normal band.
    pub upper: f64,
    /// Signed z-equivalent (positive: above expected), clamped to ±1e6.
    pub z: f64,
    /// Two-sided tail probability of a deviation at least this large.
    pub p_value: f64,
    /// Anomaly score in `[0, 1]`; 0.5 at |z| = 3, spread out near 1.
    pub anomaly_score: f64,
    /// Whether the score crossed the detector's threshold.
    pub is_anomaly: bool,
    /// Which way the value departed.
    #[napi(ts_type = "Direction")]
    pub direction: String,
    /// Severity band.
    #[napi(ts_type = "Severity")]
    pub severity: String,
    /// Severity on a 0–10 scale.
    pub severity_score: f64,
    /// How far to trust this verdict, in `[0, 1]`.
    pub confidence: f64,
    /// Which component produced the verdict (`"ewma"`, `"seasonal:bucket"`, …).
    pub component: String,
    /// Whether the detector had seen enough data to judge.
    pub warm: bool,
    /// Qualifications.
    pub notes: VerdictNotes,
}

/// `"up"`, `"down"` or `"neutral"`.
pub(crate) fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Neutral => "neutral",
    }
}

/// `"normal"`, `"low"`, `"medium"`, `"high"` or `"critical"`.
pub(crate) fn severity(s: Severity) -> &'static str {
    s.as_str()
}

impl From<oddsight_core::Verdict> for Verdict {
    fn from(v: oddsight_core::Verdict) -> Self {
        Verdict {
            timestamp: v.timestamp,
            value: v.value,
            expected: v.expected,
            lower: v.lower,
            upper: v.upper,
            z: v.z,
            p_value: v.p_value,
            anomaly_score: v.anomaly_score,
            is_anomaly: v.is_anomaly,
            direction: direction(v.direction).to_string(),
            severity: severity(v.severity).to_string(),
            severity_score: v.severity_score,
            confidence: v.confidence,
            component: v.component.into_owned(),
            warm: v.warm,
            notes: VerdictNotes {
                scale_floored: v.notes.scale_floored,
                excluded: v.notes.excluded,
                gap: v.notes.gap,
                fallback: v.notes.fallback,
            },
        }
    }
}

/// Many verdicts as columns, one entry per point: what `Detector.verdictsBatch` returns.
#[napi(object, object_from_js = false)]
pub struct VerdictColumns {
    /// Timestamps (Unix ms).
    pub timestamp: Float64Array,
    /// The judged values.
    pub value: Float64Array,
    /// Expected values.
    pub expected: Float64Array,
    /// Lower band edges.
    pub lower: Float64Array,
    /// Upper band edges.
    pub upper: Float64Array,
    /// Signed z-equivalents.
    pub z: Float64Array,
    /// Two-sided tail probabilities.
    pub p_value: Float64Array,
    /// Anomaly scores in `[0, 1]`.
    pub anomaly_score: Float64Array,
    /// Whether each crossed the threshold.
    pub is_anomaly: Vec<bool>,
    /// Directions.
    #[napi(ts_type = "Direction[]")]
    pub direction: Vec<String>,
    /// Severity bands.
    #[napi(ts_type = "Severity[]")]
    pub severity: Vec<String>,
    /// Severities on a 0–10 scale.
    pub severity_score: Float64Array,
    /// Confidences in `[0, 1]`.
    pub confidence: Float64Array,
    /// Components that produced each verdict.
    pub component: Vec<String>,
    /// Whether the detector was warm for each.
    pub warm: Vec<bool>,
}

impl std::fmt::Debug for VerdictColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictColumns").field("len", &self.warm.len()).finish_non_exhaustive()
    }
}

impl VerdictColumns {
    pub(crate) fn from_verdicts(verdicts: &[oddsight_core::Verdict]) -> Self {
        let col = |f: fn(&oddsight_core::Verdict) -> f64| Float64Array::new(verdicts.iter().map(f).collect());
        VerdictColumns {
            timestamp: col(|v| v.timestamp as f64),
            value: col(|v| v.value),
            expected: col(|v| v.expected),
            lower: col(|v| v.lower),
            upper: col(|v| v.upper),
            z: col(|v| v.z),
            p_value: col(|v| v.p_value),
            anomaly_score: col(|v| v.anomaly_score),
            is_anomaly: verdicts.iter().map(|v| v.is_anomaly).collect(),
            direction: verdicts.iter().map(|v| direction(v.direction).to_string()).collect(),
            severity: verdicts.iter().map(|v| severity(v.severity).to_string()).collect(),
            severity_score: col(|v| v.severity_score),
            confidence: col(|v| v.confidence),
            component: verdicts.iter().map(|v| v.component.to_string()).collect(),
            warm: verdicts.iter().map(|v| v.warm).collect(),
        }
    }
}
