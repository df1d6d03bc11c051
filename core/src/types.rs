//! Value types: points, verdicts, alerts.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One observation: a timestamp in Unix milliseconds and a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Unix time in milliseconds (UTC).
    pub timestamp: i64,
    /// The observed value. Must be finite to be accepted.
    pub value: f64,
}

impl Point {
    /// A point at `timestamp` (Unix ms) with `value`.
    pub const fn new(timestamp: i64, value: f64) -> Self {
        Point { timestamp, value }
    }
}

/// Which way a value departed from what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Above the expected value.
    Up,
    /// Below the expected value.
    Down,
    /// Exactly as expected (or no judgement was possible).
    #[default]
    Neutral,
}

impl Direction {
    /// The direction of a signed deviation.
    #[inline]
    pub fn of(deviation: f64) -> Self {
        if deviation > 0.0 {
            Direction::Up
        } else if deviation < 0.0 {
            Direction::Down
        } else {
            Direction::Neutral
        }
    }
}

/// How bad an anomaly is. Ordered: `Normal < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Not anomalous.
    #[default]
    Normal,
    /// Anomalous, |z| ≥ 3 equivalent.
    Low,
    /// |z| ≳ 4.2 equivalent.
    Medium,
    /// |z| ≳ 6.6 equivalent.
    High,
    /// |z| ≳ 10 equivalent.
    Critical,
}

impl Severity {
    /// Lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Normal => "normal",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flags that qualify a verdict: why it may be less certain than it looks, or why it was not
/// judged at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Notes {
    /// The baseline's spread was zero (or tiny) and the configured floor was used instead, so
    /// the z-equivalent is an upper bound. Confidence is halved.
    pub scale_floored: bool,
    /// The point fell in an exclusion window (maintenance, holiday): not judged, not learned.
    pub excluded: bool,
    /// The point came after a gap longer than the detector's `max_gap_ms`.
    pub gap: bool,
    /// The expectation came from a coarser level than asked for (cold start fallback).
    pub fallback: bool,
}

/// What a detector concluded about one point, with everything needed to explain it.
///
/// Scores from different detectors are comparable: all share the scale described in
/// [`crate::scale`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Signed z-equivalent (positive: above expected), clamped to ±[`crate::scale::MAX_Z`].
    pub z: f64,
    /// Two-sided tail probability of a deviation at least this large.
    pub p_value: f64,
    /// Anomaly score in `[0, 1]`; 0.5 at |z| = 3, spread out near 1.
    pub anomaly_score: f64,
    /// Whether the score crossed the detector's threshold.
    pub is_anomaly: bool,
    /// Which way the value departed.
    pub direction: Direction,
    /// Severity band.
    pub severity: Severity,
    /// Severity on a 0–10 scale.
    pub severity_score: f64,
    /// How far to trust this verdict, in `[0, 1]`: grows with the number of samples behind the
    /// expectation and with the distance from the decision threshold.
    pub confidence: f64,
    /// Which component produced the verdict (`"ewma"`, `"seasonal:bucket"`, …).
    pub component: Cow<'static, str>,
    /// Whether the detector had seen enough data to judge.
    pub warm: bool,
    /// Qualifications.
    pub notes: Notes,
}

impl Verdict {
    /// A verdict that passes no judgement (cold detector, excluded point): score 0, expected
    /// value as given.
    pub fn neutral(point: Point, expected: f64, component: Cow<'static, str>, warm: bool) -> Self {
        Verdict {
            timestamp: point.timestamp,
            value: point.value,
            expected,
            lower: expected,
            upper: expected,
            z: 0.0,
            p_value: 1.0,
            anomaly_score: 0.0,
            is_anomaly: false,
            direction: Direction::Neutral,
            severity: Severity::Normal,
            severity_score: 0.0,
            confidence: 0.0,
            component,
            warm,
            notes: Notes::default(),
        }
    }

    /// The signed distance from the expected value.
    pub fn deviation(&self) -> f64 {
        self.value - self.expected
    }

    /// One line a person can read: what was seen, what was expected, how surprising.
    pub fn explain(&self) -> String {
        if !self.warm {
            return format!(
                "{:.4} at {}: not judged, {} is still warming up",
                self.value, self.timestamp, self.component
            );
        }
        if self.notes.excluded {
            return format!("{:.4} at {}: inside an exclusion window, not judged", self.value, self.timestamp);
        }
        let ratio = if self.expected.abs() > f64::EPSILON {
            format!(", {:.2}x expected", self.value / self.expected)
        } else {
            String::new()
        };
        let mut s = format!(
            "{:.4} vs expected {:.4} (band {:.4}..{:.4}){ratio}: {:+.1}σ-equivalent, p={:.2e}, score {:.3}, {} ({}/10), {} by {}",
            self.value,
            self.expected,
            self.lower,
            self.upper,
            self.z,
            self.p_value,
            self.anomaly_score,
            self.severity,
            self.severity_score,
            match self.direction {
                Direction::Up => "up",
                Direction::Down => "down",
                Direction::Neutral => "flat",
            },
            self.component,
        );
        if self.notes.scale_floored {
            s.push_str("; spread was ~0, floor used");
        }
        if self.notes.fallback {
            s.push_str("; cold-start fallback");
        }
        if self.notes.gap {
            s.push_str("; after a data gap");
        }
        s
    }
}

/// Why an alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The signal returned below the exit level for the recovery window.
    Recovered,
    /// A sustained shift was confirmed and the baseline moved to the new level.
    Rebaselined,
    /// Closed from outside (acknowledged and resolved by a person, policy reset).
    Manual,
}

/// An alert: a run of anomalous verdicts that the alert policy judged worth telling someone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Sequence number, unique within the policy that raised it.
    pub id: u64,
    /// Timestamp of the first anomalous verdict of the run.
    pub start: i64,
    /// When it was resolved, if it was.
    pub end: Option<i64>,
    /// Highest severity seen.
    pub peak_severity: Severity,
    /// Highest anomaly score seen.
    pub peak_score: f64,
    /// Direction of the first anomalous verdict.
    pub direction: Direction,
    /// The verdicts that made it (the first ones, up to the policy's cap).
    pub verdicts: Vec<Verdict>,
    /// How many anomalous verdicts it has absorbed in all (may exceed `verdicts.len()`).
    pub anomalous_points: u64,
    /// Why it ended, once it has.
    pub resolution: Option<Resolution>,
}

/// Something an alert policy wants the world to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AlertEvent {
    /// A new alert.
    Fired {
        /// The alert as it stands now.
        alert: Alert,
    },
    /// An open alert's severity rose.
    Escalated {
        /// Alert id.
        id: u64,
        /// Previous peak severity.
        from: Severity,
        /// New peak severity.
        to: Severity,
        /// The verdict that raised it.
        verdict: Verdict,
    },
    /// An alert ended.
    Resolved {
        /// The alert, with `end` and `resolution` set.
        alert: Alert,
    },
}
