//! What the monitor reports about alerts, and the bounded history it keeps.

use oddsight_core::{Direction, Resolution, Severity, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Which step of an alert's life an [`AlertNotice`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertEventKind {
    /// A new alert (its peak severity reached the target's minimum).
    Fired,
    /// The alert's peak severity rose.
    Escalated,
    /// The alert ended: recovered, re-baselined, or resolved by hand.
    Resolved,
}

/// One alert event as [`Monitor::tick`](super::Monitor::tick) reports it: flat fields for a log
/// line, and the verdict that caused it.
///
/// ```json
/// {"event":"fired","alert_id":1,"target":"latency","series":"latency_ms{service=\"checkout\"}",
///  "timestamp":1795392180000,"severity":"high","score":0.83,"value":412.0,"expected":120.3,
///  "incident_id":1,"verdict":{...}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNotice {
    /// What happened.
    pub event: AlertEventKind,
    /// The alert's id in this monitor (1, 2, …), for [`acknowledge`](super::Monitor::acknowledge)
    /// and [`resolve`](super::Monitor::resolve).
    pub alert_id: u64,
    /// The target that raised it.
    pub target: String,
    /// The series, in canonical form.
    pub series: String,
    /// When it happened: the timestamp of the verdict that caused it (for a manual
    /// resolution, the time given to [`resolve`](super::Monitor::resolve)).
    pub timestamp: i64,
    /// The alert's peak severity after this event.
    pub severity: Severity,
    /// For an escalation, the peak severity before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_severity: Option<Severity>,
    /// The verdict's anomaly score.
    pub score: f64,
    /// The verdict's value.
    pub value: f64,
    /// What the detector expected.
    pub expected: f64,
    /// Why it ended (resolved only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// The incident the alert belongs to, if its series has the incident label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<u64>,
    /// The verdict that caused the event (for a manual resolution, the last verdict the alert
    /// saw).
    pub verdict: Verdict,
}

/// An alert as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The alert's id.
    pub id: u64,
    /// The target that raised it.
    pub target: String,
    /// The series, in canonical form.
    pub series: String,
    /// The series' metric name.
    pub metric: String,
    /// The series' incident label (`service`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// First anomalous verdict of the run that fired it.
    pub start: i64,
    /// When it fired.
    pub fired_at: i64,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// Why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// Highest severity seen.
    pub peak_severity: Severity,
    /// Highest anomaly score seen.
    pub peak_score: f64,
    /// Direction of the first anomalous verdict.
    pub direction: Direction,
    /// The first anomalous verdict.
    pub first_verdict: Verdict,
    /// The verdict of the latest event.
    pub last_verdict: Verdict,
    /// When someone acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<i64>,
    /// Its incident, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<u64>,
}

impl AlertRecord {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.end.is_none()
    }
}

/// Which alerts [`Monitor::alerts`](super::Monitor::alerts) returns; every field left `None`
/// (or `false`) matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AlertQuery {
    /// Only this target's.
    pub target: Option<String>,
    /// Only this series' (canonical form or any spelling of it).
    pub series: Option<String>,
    /// Only alerts whose peak severity is at least this.
    pub min_severity: Option<Severity>,
    /// Only open alerts.
    pub open_only: bool,
    /// Only alerts not acknowledged.
    pub unacknowledged_only: bool,
}

impl AlertQuery {
    /// Every alert in the history.
    pub fn all() -> Self {
        AlertQuery::default()
    }
    /// Only `target`'s.
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    /// Only `series`'.
    #[must_use]
    pub fn series(mut self, series: impl Into<String>) -> Self {
        self.series = Some(series.into());
        self
    }
    /// Only alerts reaching `severity`.
    #[must_use]
    pub fn min_severity(mut self, severity: Severity) -> Self {
        self.min_severity = Some(severity);
        self
    }
    /// Only open alerts.
    #[must_use]
    pub fn open_only(mut self) -> Self {
        self.open_only = true;
        self
    }
    /// Only alerts not acknowledged.
    #[must_use]
    pub fn unacknowledged_only(mut self) -> Self {
        self.unacknowledged_only = true;
        self
    }

    pub(crate) fn matches(&self, r: &AlertRecord, series: Option<&str>) -> bool {
        self.target.as_deref().is_none_or(|t| t == r.target)
            && series.is_none_or(|s| s == r.series)
            && self.min_severity.is_none_or(|m| r.peak_severity >= m)
            && (!self.open_only || r.is_open())
            && (!self.unacknowledged_only || r.acknowledged_at.is_none())
    }
}

/// The most recent alerts, oldest first, at most `capacity` of them. Ids increase along the
/// ring, so lookups are binary searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct History {
    pub(crate) capacity: usize,
    pub(crate) records: VecDeque<AlertRecord>,
}

impl History {
    pub(crate) fn new(capacity: usize) -> Self {
        History { capacity, records: VecDeque::new() }
    }
    pub(crate) fn push(&mut self, record: AlertRecord) {
        while self.records.len() >= self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }
    pub(crate) fn get(&self, id: u64) -> Option<&AlertRecord> {
        let i = self.records.binary_search_by_key(&id, |r| r.id).ok()?;
        self.records.get(i)
    }
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut AlertRecord> {
        let i = self.records.binary_search_by_key(&id, |r| r.id).ok()?;
        self.records.get_mut(i)
    }
    pub(crate) fn is_valid(&self) -> bool {
        self.capacity >= 1
            && self.records.len() <= self.capacity
            && self.records.iter().zip(self.records.iter().skip(1)).all(|(a, b)| a.id < b.id)
    }
}
