//! Incidents: alerts on one service that overlap in time, grouped.
//!
//! When an alert is reported on a series carrying the incident label (`service` by default),
//! it joins the service's open incident if there is one; otherwise, if the service's last
//! incident closed no earlier than the alert started (the two overlap), that incident reopens;
//! otherwise a new incident opens. An incident closes when every one of its signals has
//! resolved. Because alerts are reported in timestamp order and each signal's start is the
//! first anomalous point of its run, the signals of an incident read in the order in which the
//! trouble spread: latency first, then query count, then CPU.

use oddsight_core::{Direction, Resolution, Severity, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Whether an incident is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    /// At least one signal is still alerting.
    Open,
    /// Every signal has resolved.
    Closed,
}

/// One alert inside an incident: what the investigate crate needs to know about a signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The alert's id.
    pub alert_id: u64,
    /// The target that raised it.
    pub target: String,
    /// The series, in canonical form.
    pub series: String,
    /// The series' metric name (`latency_ms`).
    pub metric: String,
    /// The series' labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// First anomalous point of the alert (Unix ms).
    pub start: i64,
    /// When it resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// Which way the signal moved.
    pub direction: Direction,
    /// Highest severity seen.
    pub peak_severity: Severity,
    /// Highest anomaly score seen.
    pub peak_score: f64,
    /// Why it resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// The first anomalous verdict: value, expected value, band, z.
    pub first_verdict: Verdict,
}

/// Alerts on one service that overlap in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The incident's id in this monitor (1, 2, …).
    pub id: u64,
    /// The value of the incident label the signals share.
    pub service: String,
    /// Open or closed.
    pub status: IncidentStatus,
    /// Earliest signal start.
    pub start: i64,
    /// When the last signal resolved, once all have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// Highest severity of any signal.
    pub peak_severity: Severity,
    /// Every alert involved, ordered by start (then alert id).
    pub signals: Vec<Signal>,
}

impl Incident {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.status == IncidentStatus::Open
    }
}

/// Which change an [`IncidentNotice`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentEventKind {
    /// A new incident: its first signal.
    IncidentOpened,
    /// Another signal joined.
    IncidentGrew,
    /// A closed incident took a signal that overlaps it and is open again.
    IncidentReopened,
    /// Every signal resolved.
    IncidentClosed,
}

/// An incident as it forms, grows and closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentNotice {
    /// What happened.
    pub event: IncidentEventKind,
    /// The incident's id.
    pub incident_id: u64,
    /// When (the timestamp of the alert event that caused it).
    pub timestamp: i64,
    /// The incident as it stands after the change.
    pub incident: Incident,
}

/// Open incidents by service, and the most recent closed ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Incidents {
    pub(crate) next_id: u64,
    pub(crate) open: Vec<Incident>,
    pub(crate) closed: VecDeque<Incident>,
    pub(crate) capacity: usize,
}

impl Incidents {
    pub(crate) fn new(capacity: usize) -> Self {
        Incidents { next_id: 1, open: Vec::new(), closed: VecDeque::new(), capacity }
    }

    /// A reported alert on `service`: join, reopen or open.
    pub(crate) fn fired(&mut self, service: &str, signal: Signal, at: i64) -> IncidentNotice {
        let mut reopen = || {
            let i =
                self.closed.iter().rposition(|x| x.service == service && x.end.is_some_and(|e| e >= signal.start))?;
            self.closed.remove(i)
        };
        let (event, index) = if let Some(i) = self.open.iter().position(|x| x.service == service) {
            (IncidentEventKind::IncidentGrew, i)
        } else if let Some(mut inc) = reopen() {
            inc.status = IncidentStatus::Open;
            inc.end = None;
            self.open.push(inc);
            (IncidentEventKind::IncidentReopened, self.open.len() - 1)
        } else {
            let id = self.next_id;
            self.next_id += 1;
            self.open.push(Incident {
                id,
                service: service.to_string(),
                status: IncidentStatus::Open,
                start: signal.start,
                end: None,
                peak_severity: signal.peak_severity,
                signals: Vec::new(),
            });
            (IncidentEventKind::IncidentOpened, self.open.len() - 1)
        };
        let inc = &mut self.open[index];
        inc.start = inc.start.min(signal.start);
        inc.peak_severity = inc.peak_severity.max(signal.peak_severity);
        let at_pos = inc.signals.partition_point(|s| (s.start, s.alert_id) <= (signal.start, signal.alert_id));
        inc.signals.insert(at_pos, signal);
        IncidentNotice { event, incident_id: inc.id, timestamp: at, incident: inc.clone() }
    }

    /// An escalation: updates the signal silently.
    pub(crate) fn escalated(&mut self, alert_id: u64, to: Severity, score: f64) {
        if let Some(inc) = self.open.iter_mut().find(|i| i.signals.iter().any(|s| s.alert_id == alert_id)) {
            inc.peak_severity = inc.peak_severity.max(to);
            if let Some(s) = inc.signals.iter_mut().find(|s| s.alert_id == alert_id) {
                s.peak_severity = s.peak_severity.max(to);
                s.peak_score = s.peak_score.max(score);
            }
        }
    }

    /// A resolution: closes the incident once every signal has resolved.
    pub(crate) fn resolved(
        &mut self,
        alert_id: u64,
        end: i64,
        resolution: Resolution,
        peak: (Severity, f64),
    ) -> Option<IncidentNotice> {
        let i = self.open.iter().position(|i| i.signals.iter().any(|s| s.alert_id == alert_id))?;
        let inc = &mut self.open[i];
        if let Some(s) = inc.signals.iter_mut().find(|s| s.alert_id == alert_id) {
            s.end = Some(end);
            s.resolution = Some(resolution);
            s.peak_severity = s.peak_severity.max(peak.0);
            s.peak_score = s.peak_score.max(peak.1);
            inc.peak_severity = inc.peak_severity.max(peak.0);
        }
        if inc.signals.iter().any(|s| s.end.is_none()) {
            return None;
        }
        let mut inc = self.open.remove(i);
        inc.status = IncidentStatus::Closed;
        inc.end = inc.signals.iter().filter_map(|s| s.end).max();
        let notice = IncidentNotice {
            event: IncidentEventKind::IncidentClosed,
            incident_id: inc.id,
            timestamp: end,
            incident: inc.clone(),
        };
        if self.capacity > 0 {
            while self.closed.len() >= self.capacity {
                self.closed.pop_front();
            }
            self.closed.push_back(inc);
        }
        Some(notice)
    }

    /// The open incident holding alert `alert_id`.
    pub(crate) fn of_alert(&self, alert_id: u64) -> Option<u64> {
        self.open.iter().find(|i| i.signals.iter().any(|s| s.alert_id == alert_id)).map(|i| i.id)
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Incident> {
        self.open.iter().chain(&self.closed).find(|i| i.id == id)
    }

    pub(crate) fn is_valid(&self) -> bool {
        let all = || self.open.iter().chain(&self.closed);
        self.closed.len() <= self.capacity
            && all().all(|i| i.id >= 1 && i.id < self.next_id && !i.signals.is_empty())
            && self.open.iter().all(|i| i.status == IncidentStatus::Open && i.signals.iter().any(|s| s.end.is_none()))
            && self
                .closed
                .iter()
                .all(|i| i.status == IncidentStatus::Closed && i.signals.iter().all(|s| s.end.is_some()))
    }
}
