//! The [`Monitor`]: many targets over many series, the alert lifecycle, and incidents across
//! signals. What a service embeds to watch thousands of series.
//!
//! Like everything left of the alert in oddsight, it is pure: no thread, no clock, no I/O. The
//! host feeds points with [`Monitor::ingest`] (or, faster, [`Monitor::ingest_batch`] with a
//! [`SeriesId`]) and calls [`Monitor::tick`] with the current time; time otherwise comes only
//! with the data.
//!
//! ```
//! use oddsight_detectors::monitor::{AlertEventKind, Monitor, MonitorConfig, MonitorEvent};
//!
//! let config = MonitorConfig::from_json(r#"{
//!     "targets": [
//!         {"name": "latency", "selector": "latency_ms", "detector": "ewma(warmup=20)", "interval": "5m"},
//!         {"name": "queries", "selector": "queries{service=\"checkout\"}", "detector": "ewma(warmup=20)"}
//!     ]
//! }"#)?;
//! let mut monitor = Monitor::from_config(&config)?;
//! const MIN: i64 = 60_000;
//! for minute in 0..60 {
//!     let t = minute * MIN;
//!     let wobble = (minute % 5) as f64;
//!     let trouble = minute >= 40 && minute < 50;
//!     monitor.ingest(r#"latency_ms{service="checkout",host="a"}"#, t, if trouble { 900.0 } else { 120.0 + wobble })?;
//!     monitor.ingest(r#"queries{service="checkout"}"#, t, if minute >= 41 && minute < 50 { 80.0 } else { 20.0 + wobble })?;
//! }
//! let events = monitor.tick(60 * MIN);
//! let fired: Vec<_> = events
//!     .iter()
//!     .filter_map(MonitorEvent::as_alert)
//!     .filter(|a| a.event == AlertEventKind::Fired)
//!     .map(|a| a.target.as_str())
//!     .collect();
//! assert_eq!(fired, ["latency", "queries"]); // in the order the trouble started
//! // Both signals, on the same service at the same time, are one incident.
//! let incident = monitor.incidents().next().expect("an incident");
//! assert_eq!(incident.service, "checkout");
//! assert_eq!(incident.signals.iter().map(|s| s.metric.as_str()).collect::<Vec<_>>(), ["latency_ms", "queries"]);
//! assert!(!incident.is_open()); // both recovered by minute 53
//! # Ok::<(), oddsight_detectors::monitor::MonitorError>(())
//! ```
//!
//! ## How it works
//!
//! - **Series** are a metric name plus labels, `latency_ms{service="checkout",host="a"}` (see
//!   [`SeriesName`]). Names, label keys and values are interned, so a series' key is a few
//!   words however long its labels.
//! - **Targets** ([`TargetConfig`]) pick series with a [`Selector`] (a name, label matches, or
//!   both) and give each selected series its own detector (any [`AnyDetector`](crate::AnyDetector) specification)
//!   and its own alert policy ([`StrikePolicyParams`](oddsight_core::StrikePolicyParams)). Targets are added, changed, enabled,
//!   disabled, removed and listed while the monitor runs. Changing a target's detector or
//!   policy **resets its per-series state** (the detectors start cold again) and resolves its
//!   open alerts by hand; changing its selector resets nothing for series it still selects;
//!   interval, minimum severity and the enabled flag change nothing but themselves. A disabled
//!   target does not see the points that arrive while it is disabled.
//! - **Judged on ingest, reported on tick.** Each point is judged by every enabled target that
//!   selects its series as soon as it is ingested (so nothing is buffered, and a bad point is
//!   refused right away), and the alert events it raises wait in the target. `tick(now)` lets
//!   every enabled target whose interval has elapsed since it last reported (or that never
//!   has) report its waiting events stamped at or before `now`, ordered by timestamp, then
//!   target (in the order they were added), then series (metric name, then labels). Events therefore do not depend
//!   on how points were split into ingest calls, nor on the order series were ingested in:
//!   only on the points, the targets and the times `tick` was called.
//! - **Alerts** are numbered by the monitor as they are reported. A target reports an alert
//!   from the moment its peak severity reaches the target's `min_severity` (as `fired`), then
//!   its escalations and its resolution. [`Monitor::alerts`] queries the bounded history
//!   (default 100), [`Monitor::acknowledge`] and [`Monitor::resolve`] act on it by id.
//! - **Incidents** group alerts on series sharing the incident label (`service` by default)
//!   that overlap in time (see [`Incident`]); they are reported as they open, grow, reopen and
//!   close, and are what the investigate crate consumes.
//! - **Snapshots**: the whole monitor (targets, every series' detector and policy, waiting
//!   events, history, incidents) is one versioned JSON envelope ([`Stateful`]) that restores to
//!   identical behaviour.
//! - **Ad hoc**: [`analyze`] judges one batch with no state kept.
//!
//! ## Memory
//!
//! A target's state for one series is one slot of 432 bytes: the detector (EWMA's 104 bytes
//! inline, any other detector boxed), the core `StrikePolicy` (312 bytes, 88 of them its
//! parameters) and 16 bytes of bookkeeping; no heap for EWMA. Measured with a counting
//! allocator, everything the monitor holds (series entry, index, interned labels, the spare
//! capacity of growing tables) divided by the series, after a day of per-minute points with
//! an alert on every series (the test `monitor_memory` pins these figures):
//!
//! | detector | slot | whole monitor, per series |
//! |---|---|---|
//! | `ewma` | 432 bytes | ≈ 730 bytes (20,000 series; a million ≈ 0.7 GiB) |
//! | `mad` (window 1,440) | 432 + 672 + 23,040 (the window twice) | ≈ 24.5 KB |
//! | `seasonal` (168 + 24 + 1 buckets) | 432 + 672 + 9,264 | ≈ 10.7 KB |
//!
//! A policy that has seen a run of strikes sheds the capacity it grew as soon as it is quiet
//! again, so a series that once alerted costs no more than one that never did; sliding-window
//! detectors are built to their exact window rather than grown.
//!
//! ## Speed
//!
//! A target's state for a series is a [`Watch`](oddsight_core::Watch) in effect (a test pins
//! that the events and states are identical, point for point), but the loop skips what cannot
//! matter:
//!
//! - while the policy is quiet (no alert open, no run of strikes under way), a point whose
//!   `|z|` cannot reach the policy's `enter` level is learned without building a verdict or
//!   stepping the policy; for EWMA that leaves the baseline's own `z` and `learn` per point,
//!   run on a local copy of the baseline;
//! - a point that is certainly below the policy's `exit` level steps the policy with a
//!   stand-in verdict (the policy keeps no calm verdict), and the real one is built only if an
//!   event needs it;
//! - with `k ≥ 2` strikes to fire and baseline protection on, a lone strike followed by a calm
//!   point leaves the policy exactly where it was, and is settled without either verdict.
//!
//! Single thread, 10,000 series × a day of minutes each in one `ingest_batch` per series, on a
//! shared 2-core machine: EWMA with the default three strikes 70–88 M points/s (105–142 M/s
//! when no point reaches the policy: the monitor's own machinery, within ~10 % of the bare
//! `z`-then-`learn` kernel), seasonal 12–19 M/s (the core seasonal baseline alone runs at
//! 17–22 M/s there). `benches/benches/monitor.rs` has the figures and where the time goes.

mod alerts;
mod analyze;
mod error;
mod ewma;
mod incident;
mod series;
mod state;
mod target;

pub use alerts::{AlertEventKind, AlertNotice, AlertQuery, AlertRecord};
pub use analyze::{Analysis, AnalysisPoint, BATCH_ROBUST_Z, analyze, magnitude_severity};
pub use error::{MonitorError, MonitorResult};
pub use incident::{Incident, IncidentEventKind, IncidentNotice, IncidentStatus, Signal};
pub use series::{Selector, SeriesName};
pub use target::TargetConfig;

use alerts::History;
use incident::Incidents;
use oddsight_core::{AlertPolicy, Resolution, Stateful, Verdict};
use serde::{Deserialize, Serialize};
use series::{Interner, SeriesKey, parse_series};
use state::{Pending, RawEvent, Sink, Slot};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use target::{Compiled, Target};

/// Monitor-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MonitorOptions {
    /// Alerts kept in the history, 1..=1,000,000. Default 100.
    #[serde(default = "default_history")]
    pub history: usize,
    /// The label whose value groups alerts into incidents. Default `service`.
    #[serde(default = "default_incident_label")]
    pub incident_label: String,
    /// Closed incidents kept, 0..=1,000,000. Default 100.
    #[serde(default = "default_history")]
    pub closed_incidents: usize,
}

fn default_history() -> usize {
    100
}
fn default_incident_label() -> String {
    "service".into()
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            history: default_history(),
            incident_label: default_incident_label(),
            closed_incidents: default_history(),
        }
    }
}

impl MonitorOptions {
    /// Sets `history`.
    #[must_use]
    pub fn history(mut self, alerts: usize) -> Self {
        self.history = alerts;
        self
    }
    /// Sets `incident_label`.
    #[must_use]
    pub fn incident_label(mut self, label: impl Into<String>) -> Self {
        self.incident_label = label.into();
        self
    }
    /// Sets `closed_incidents`.
    #[must_use]
    pub fn closed_incidents(mut self, incidents: usize) -> Self {
        self.closed_incidents = incidents;
        self
    }
    /// # Errors
    /// [`MonitorError::Config`] naming the first bad field.
    pub fn validate(&self) -> MonitorResult<()> {
        let bad = |reason: String| Err(MonitorError::Config { reason });
        if !(1..=1_000_000).contains(&self.history) {
            return bad(format!("history must be in 1..=1000000, got {}", self.history));
        }
        if self.closed_incidents > 1_000_000 {
            return bad(format!("closed_incidents must be in 0..=1000000, got {}", self.closed_incidents));
        }
        let l = self.incident_label.as_bytes();
        let key_ok = !l.is_empty()
            && (l[0].is_ascii_alphabetic() || l[0] == b'_')
            && l.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-'));
        if !key_ok {
            return bad(format!("incident_label must be a label key, got {:?}", self.incident_label));
        }
        Ok(())
    }
}

/// A monitor's whole configuration, as a file holds it.
///
/// ```
/// use oddsight_detectors::monitor::{Monitor, MonitorConfig};
/// let config = MonitorConfig::from_json(r#"{
///   "history": 200,
///   "incident_label": "service",
///   "targets": [
///     {
///       "name": "checkout-latency",
///       "selector": "latency_ms{service=\"checkout\"}",
///       "detector": "seasonal(period=1w, bucket=1h)",
///       "policy": {"trigger": {"type": "k_of_n", "k": 3, "n": 5}, "recovery": 5, "cooldown_ms": 600000},
///       "interval": "1m",
///       "min_severity": "medium"
///     },
///     {"name": "all-cpu", "selector": "cpu", "detector": "ewma(alpha=0.1)", "interval": 10000},
///     {"name": "checkout-any", "selector": "{service=\"checkout\", host!=\"canary\"}", "enabled": false}
///   ]
/// }"#)?;
/// assert_eq!(config.targets.len(), 3);
/// assert_eq!(config.targets[0].interval_ms, 60_000);
/// let monitor = Monitor::from_config(&config)?;
/// assert_eq!(monitor.list_targets().len(), 3);
/// // Unknown fields are errors, not silently ignored.
/// assert!(MonitorConfig::from_json(r#"{"targets": [], "histroy": 5}"#).is_err());
/// # Ok::<(), oddsight_detectors::monitor::MonitorError>(())
/// ```
///
/// Every field but `targets` (and, in a target, `name` and `selector`) may be left out; see
/// [`MonitorOptions`] and [`TargetConfig`] for the fields and their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MonitorConfig {
    /// See [`MonitorOptions::history`].
    #[serde(default = "default_history")]
    pub history: usize,
    /// See [`MonitorOptions::incident_label`].
    #[serde(default = "default_incident_label")]
    pub incident_label: String,
    /// See [`MonitorOptions::closed_incidents`].
    #[serde(default = "default_history")]
    pub closed_incidents: usize,
    /// The targets, in order.
    pub targets: Vec<TargetConfig>,
}

impl MonitorConfig {
    /// A configuration with default options and these targets.
    pub fn new(targets: Vec<TargetConfig>) -> Self {
        let o = MonitorOptions::default();
        MonitorConfig {
            history: o.history,
            incident_label: o.incident_label,
            closed_incidents: o.closed_incidents,
            targets,
        }
    }

    /// Parses the JSON form.
    ///
    /// # Errors
    /// [`MonitorError::Config`] with the parser's message (line and column).
    pub fn from_json(text: &str) -> MonitorResult<Self> {
        serde_json::from_str(text).map_err(|e| MonitorError::Config { reason: e.to_string() })
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The monitor-wide options.
    pub fn options(&self) -> MonitorOptions {
        MonitorOptions {
            history: self.history,
            incident_label: self.incident_label.clone(),
            closed_incidents: self.closed_incidents,
        }
    }
}

/// A handle on one series, from [`Monitor::series_id`]: ingesting by handle skips parsing and
/// looking up the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesId(u32);

impl SeriesId {
    /// The series' index in its monitor (0, 1, … in the order series were first seen).
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Something [`Monitor::tick`] (or a call that resolves alerts) reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MonitorEvent {
    /// An alert fired, escalated or resolved.
    Alert(AlertNotice),
    /// An incident opened, grew, reopened or closed.
    Incident(IncidentNotice),
}

impl MonitorEvent {
    /// The alert notice, if this is one.
    pub fn as_alert(&self) -> Option<&AlertNotice> {
        match self {
            MonitorEvent::Alert(a) => Some(a),
            MonitorEvent::Incident(_) => None,
        }
    }
    /// The incident notice, if this is one.
    pub fn as_incident(&self) -> Option<&IncidentNotice> {
        match self {
            MonitorEvent::Incident(i) => Some(i),
            MonitorEvent::Alert(_) => None,
        }
    }
}

/// A target as [`Monitor::list_targets`] describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TargetStatus {
    /// Its configuration.
    pub config: TargetConfig,
    /// Series it watches.
    pub series: usize,
    /// Its alerts reported and not yet resolved.
    pub open_alerts: usize,
    /// Events judged and waiting for its next report.
    pub pending_events: usize,
    /// When it last reported.
    pub last_check: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Series {
    key: SeriesKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    slots: Vec<Slot>,
}

/// A reported alert not yet resolved: which target and series raised it, and the policy's own
/// id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct OpenRef {
    /// Target uid.
    target: u32,
    series: u32,
    local: u64,
    id: u64,
}

#[derive(Debug, Clone, Default)]
struct OpenAlerts {
    by_slot: HashMap<(u32, u32), (u64, u64)>,
    by_id: BTreeMap<u64, (u32, u32)>,
}

impl OpenAlerts {
    fn insert(&mut self, r: OpenRef) {
        if let Some((_, old)) = self.by_slot.insert((r.target, r.series), (r.local, r.id)) {
            self.by_id.remove(&old);
        }
        self.by_id.insert(r.id, (r.target, r.series));
    }
    fn get(&self, target: u32, series: u32, local: u64) -> Option<u64> {
        self.by_slot.get(&(target, series)).filter(|(l, _)| *l == local).map(|(_, id)| *id)
    }
    fn by_id(&self, id: u64) -> Option<OpenRef> {
        let &(target, series) = self.by_id.get(&id)?;
        let &(local, _) = self.by_slot.get(&(target, series))?;
        Some(OpenRef { target, series, local, id })
    }
    fn remove(&mut self, target: u32, series: u32) -> Option<OpenRef> {
        let (local, id) = self.by_slot.remove(&(target, series))?;
        self.by_id.remove(&id);
        Some(OpenRef { target, series, local, id })
    }
    fn refs(&self) -> Vec<OpenRef> {
        self.by_id.iter().filter_map(|(&id, _)| self.by_id(id)).collect()
    }
    fn of_target(&self, target: u32) -> Vec<OpenRef> {
        self.refs().into_iter().filter(|r| r.target == target).collect()
    }
}

/// Many targets over many series: judges points as they are ingested, reports alert events and
/// incidents on [`tick`](Monitor::tick). See the [module documentation](self).
#[derive(Clone, Deserialize)]
#[serde(try_from = "snapshot::MonitorRepr")]
pub struct Monitor {
    options: MonitorOptions,
    targets: Vec<Target>,
    interner: Interner,
    series: Vec<Series>,
    index: HashMap<SeriesKey, u32>,
    history: History,
    open: OpenAlerts,
    incidents: Incidents,
    next_alert_id: u64,
    next_target_uid: u32,
    next_seq: u64,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("options", &self.options)
            .field("targets", &self.targets.iter().map(|t| &t.config.name).collect::<Vec<_>>())
            .field("series", &self.series.len())
            .field("alerts_in_history", &self.history.records.len())
            .field("open_alerts", &self.open.by_id.len())
            .field("open_incidents", &self.incidents.open.len())
            .finish()
    }
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new()
    }
}

impl Monitor {
    /// An empty monitor with default options.
    pub fn new() -> Self {
        let options = MonitorOptions::default();
        Monitor {
            history: History::new(options.history),
            incidents: Incidents::new(options.closed_incidents),
            options,
            targets: Vec::new(),
            interner: Interner::default(),
            series: Vec::new(),
            index: HashMap::new(),
            open: OpenAlerts::default(),
            next_alert_id: 1,
            next_target_uid: 1,
            next_seq: 0,
        }
    }

    /// An empty monitor with `options`.
    ///
    /// # Errors
    /// As [`MonitorOptions::validate`].
    pub fn with_options(options: MonitorOptions) -> MonitorResult<Self> {
        options.validate()?;
        Ok(Monitor {
            history: History::new(options.history),
            incidents: Incidents::new(options.closed_incidents),
            options,
            ..Monitor::new()
        })
    }

    /// A monitor with the options and targets of `config`.
    ///
    /// # Errors
    /// The first invalid option or target (see [`Monitor::add_target`]).
    pub fn from_config(config: &MonitorConfig) -> MonitorResult<Self> {
        let mut m = Monitor::with_options(config.options())?;
        for t in &config.targets {
            m.add_target(t.clone())?;
        }
        Ok(m)
    }

    /// The options.
    pub fn options(&self) -> &MonitorOptions {
        &self.options
    }

    /// The current configuration: options and targets, as [`Monitor::from_config`] takes it.
    pub fn config(&self) -> MonitorConfig {
        MonitorConfig {
            history: self.options.history,
            incident_label: self.options.incident_label.clone(),
            closed_incidents: self.options.closed_incidents,
            targets: self.targets.iter().map(|t| t.config.clone()).collect(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Targets
    // -----------------------------------------------------------------------------------------

    fn target_index(&self, name: &str) -> MonitorResult<usize> {
        self.targets
            .iter()
            .position(|t| t.config.name == name)
            .ok_or_else(|| MonitorError::UnknownTarget { name: name.to_string() })
    }

    /// Adds a target; it starts watching every known series it selects (with fresh state) and
    /// every new one.
    ///
    /// # Errors
    /// [`MonitorError::DuplicateTarget`], [`MonitorError::InvalidTarget`],
    /// [`MonitorError::InvalidSelector`] or [`MonitorError::TargetSpec`]; nothing changes.
    pub fn add_target(&mut self, config: TargetConfig) -> MonitorResult<()> {
        if self.targets.iter().any(|t| t.config.name == config.name) {
            return Err(MonitorError::DuplicateTarget { name: config.name });
        }
        let compiled = Compiled::build(&config)?;
        let index = self.targets.len() as u32;
        for s in &mut self.series {
            if s.key.matches(&compiled.selector, &self.interner) {
                // Exactly one more: a first push would reserve room for four slots.
                s.slots.reserve_exact(1);
                s.slots.push(Slot::new(index, &compiled));
            }
        }
        let uid = self.next_target_uid;
        self.next_target_uid += 1;
        self.targets.push(Target { config, uid, compiled, last_check: None, pending: Vec::new() });
        Ok(())
    }

    /// Replaces the target with the same name. A new detector or policy resets the target's
    /// state for every series (fresh detectors, open alerts resolved by hand at each series'
    /// newest timestamp, waiting events dropped); a new selector drops the series it no longer
    /// selects (the same way) and starts the ones it now selects fresh, keeping the rest;
    /// interval, minimum severity and the enabled flag just take their new values.
    ///
    /// Returns the resolutions (and incident changes) this causes.
    ///
    /// # Errors
    /// [`MonitorError::UnknownTarget`], or as [`Monitor::add_target`]; nothing changes.
    pub fn update_target(&mut self, config: TargetConfig) -> MonitorResult<Vec<MonitorEvent>> {
        let ti = self.target_index(&config.name)?;
        let compiled = Compiled::build(&config)?;
        let old = &self.targets[ti].config;
        let reset = old.detector != config.detector || old.policy != config.policy;
        let reselect = old.selector != config.selector;
        let mut out = Vec::new();
        if reset || reselect {
            let uid = self.targets[ti].uid;
            for s in 0..self.series.len() {
                let selected = self.series[s].key.matches(&compiled.selector, &self.interner);
                let at = self.series[s].slots.binary_search_by_key(&(ti as u32), |x| x.target);
                match at {
                    Ok(k) if reset || !selected => {
                        self.drop_slot_alerts(ti, uid, s as u32, &mut out);
                        if selected {
                            self.series[s].slots[k] = Slot::new(ti as u32, &compiled);
                        } else {
                            self.series[s].slots.remove(k);
                        }
                    }
                    Err(k) if selected => {
                        self.series[s].slots.reserve_exact(1);
                        self.series[s].slots.insert(k, Slot::new(ti as u32, &compiled));
                    }
                    _ => {}
                }
            }
        }
        let t = &mut self.targets[ti];
        t.config = config;
        t.compiled = compiled;
        Ok(out)
    }

    /// Enables or disables a target. A disabled target neither judges nor reports; its state,
    /// open alerts and waiting events are kept for when it is enabled again.
    ///
    /// # Errors
    /// [`MonitorError::UnknownTarget`].
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> MonitorResult<()> {
        let ti = self.target_index(name)?;
        self.targets[ti].config.enabled = enabled;
        Ok(())
    }

    /// Removes a target with all its state. Its open alerts are resolved by hand at each
    /// series' newest timestamp; the resolutions (and incident changes) are returned.
    ///
    /// # Errors
    /// [`MonitorError::UnknownTarget`].
    pub fn remove_target(&mut self, name: &str) -> MonitorResult<Vec<MonitorEvent>> {
        let ti = self.target_index(name)?;
        let uid = self.targets[ti].uid;
        let mut out = Vec::new();
        for r in self.open.of_target(uid) {
            self.drop_slot_alerts(ti, uid, r.series, &mut out);
        }
        for s in &mut self.series {
            s.slots.retain(|x| x.target != ti as u32);
            for x in &mut s.slots {
                if x.target > ti as u32 {
                    x.target -= 1;
                }
            }
        }
        self.targets.remove(ti);
        Ok(out)
    }

    /// Resolves by hand the reported open alert of (`ti`, `series`), if any, at the series'
    /// newest timestamp, and drops the target's waiting events for the series.
    fn drop_slot_alerts(&mut self, ti: usize, uid: u32, series: u32, out: &mut Vec<MonitorEvent>) {
        self.targets[ti].pending.retain(|p| p.series != series);
        if let Some(r) = self.open.remove(uid, series) {
            let at = self.series[series as usize].last.unwrap_or(i64::MIN);
            self.close_by_hand(ti, r, at, out);
        }
    }

    /// The target named `name`, if there is one.
    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets.iter().find(|t| t.config.name == name).map(|t| &t.config)
    }

    /// Every target, in order, with what it is doing.
    pub fn list_targets(&self) -> Vec<TargetStatus> {
        let mut watched = vec![0usize; self.targets.len()];
        for s in &self.series {
            for x in &s.slots {
                watched[x.target as usize] += 1;
            }
        }
        self.targets
            .iter()
            .zip(watched)
            .map(|(t, series)| TargetStatus {
                config: t.config.clone(),
                series,
                open_alerts: self.open.by_slot.keys().filter(|(u, _)| *u == t.uid).count(),
                pending_events: t.pending.len(),
                last_check: t.last_check,
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Series and ingest
    // -----------------------------------------------------------------------------------------

    /// The handle of `series` (any spelling of it), registering it (and attaching every target
    /// that selects it) if it is new.
    ///
    /// # Errors
    /// [`MonitorError::InvalidSeries`]; nothing changes.
    pub fn series_id(&mut self, series: &str) -> MonitorResult<SeriesId> {
        let raw = parse_series(series)?;
        if let Some(id) = SeriesKey::lookup(&raw, &self.interner).and_then(|k| self.index.get(&k)) {
            return Ok(SeriesId(*id));
        }
        let key = SeriesKey::intern(&raw, &mut self.interner);
        Ok(self.register(key))
    }

    fn register(&mut self, key: SeriesKey) -> SeriesId {
        let id = self.series.len() as u32;
        let slots = self
            .targets
            .iter()
            .enumerate()
            .filter(|(_, t)| key.matches(&t.compiled.selector, &self.interner))
            .map(|(i, t)| Slot::new(i as u32, &t.compiled))
            .collect::<Vec<_>>()
            .into_boxed_slice()
            .into_vec(); // exactly as many as there are: `collect` would reserve four
        self.index.insert(key.clone(), id);
        self.series.push(Series { key, last: None, slots });
        SeriesId(id)
    }

    /// The handle of `series` if the monitor has seen it.
    pub fn find_series(&self, series: &str) -> Option<SeriesId> {
        let raw = parse_series(series).ok()?;
        SeriesKey::lookup(&raw, &self.interner).and_then(|k| self.index.get(&k)).map(|&i| SeriesId(i))
    }

    /// The canonical name of a series.
    pub fn series_name(&self, id: SeriesId) -> Option<String> {
        self.series.get(id.0 as usize).map(|s| s.key.display(&self.interner))
    }

    /// The parsed name of a series.
    pub fn series_labels(&self, id: SeriesId) -> Option<SeriesName> {
        self.series.get(id.0 as usize).map(|s| s.key.to_name(&self.interner))
    }

    /// Series seen so far.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Ingests one point of the series named `series` (registering it if new).
    ///
    /// # Errors
    /// [`MonitorError::InvalidSeries`], or as [`Monitor::ingest_batch`]; nothing changes (a
    /// new series is not registered).
    pub fn ingest(&mut self, series: &str, timestamp: i64, value: f64) -> MonitorResult<()> {
        let raw = parse_series(series)?;
        if let Some(&id) = SeriesKey::lookup(&raw, &self.interner).and_then(|k| self.index.get(&k)) {
            return self.ingest_batch(SeriesId(id), &[timestamp], &[value]);
        }
        if !value.is_finite() {
            return Err(MonitorError::NonFinite { series: series.to_string(), index: 0, value });
        }
        // A new series has no targets' state to refuse the point but the probing detectors';
        // check those against fresh detectors before registering anything.
        for t in self.targets.iter().filter(|t| t.config.enabled && t.compiled.probe) {
            let selected = t
                .compiled
                .selector
                .matches_with(raw.name, |k| raw.labels.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str()));
            if selected {
                let fresh = Slot::new(0, &t.compiled);
                fresh.probe(&[timestamp], &[value]).map_err(|(index, source)| MonitorError::Rejected {
                    target: t.config.name.clone(),
                    series: series.to_string(),
                    index,
                    source,
                })?;
            }
        }
        let key = SeriesKey::intern(&raw, &mut self.interner);
        let id = self.register(key);
        self.ingest_batch(id, &[timestamp], &[value])
    }

    /// Ingests one point of a registered series.
    ///
    /// # Errors
    /// As [`Monitor::ingest_batch`].
    pub fn ingest_id(&mut self, series: SeriesId, timestamp: i64, value: f64) -> MonitorResult<()> {
        self.ingest_batch(series, &[timestamp], &[value])
    }

    /// Ingests points of one series, oldest first: every enabled target that selects the series
    /// judges them now; the events wait for the target's next report. All or nothing: the
    /// batch is checked whole before any of it is judged.
    ///
    /// # Errors
    /// [`MonitorError::UnknownSeries`]; [`MonitorError::Shape`] if the lengths differ;
    /// [`MonitorError::NonFinite`] for NaN or ±inf; [`MonitorError::OutOfOrder`] for a
    /// timestamp before the series' newest (equal timestamps are accepted);
    /// [`MonitorError::Rejected`] for a value a target's detector refuses (a negative count).
    /// Nothing changes.
    pub fn ingest_batch(&mut self, series: SeriesId, timestamps: &[i64], values: &[f64]) -> MonitorResult<()> {
        let s = series.0 as usize;
        let Some(entry) = self.series.get(s) else { return Err(MonitorError::UnknownSeries { id: series.0 }) };
        if timestamps.len() != values.len() {
            return Err(MonitorError::Shape { values: values.len(), timestamps: timestamps.len() });
        }
        let (Some(&first), Some(&newest)) = (timestamps.first(), timestamps.last()) else { return Ok(()) };
        // Checked whole with folds (which vectorise, where `all` stops early and does not); the
        // offender is looked for only on failure.
        let in_order = entry.last.is_none_or(|l| first >= l) & non_decreasing(timestamps);
        if !(in_order & values.iter().fold(true, |ok, v| ok & v.is_finite())) {
            return Err(self.offender(s, timestamps, values));
        }
        for x in &entry.slots {
            let t = &self.targets[x.target as usize];
            if t.config.enabled && t.compiled.probe {
                x.probe(timestamps, values).map_err(|(index, source)| MonitorError::Rejected {
                    target: t.config.name.clone(),
                    series: entry.key.display(&self.interner),
                    index,
                    source,
                })?;
            }
        }
        let Monitor { series: all, targets, next_seq, interner, .. } = self;
        let entry = &mut all[s];
        for x in &mut entry.slots {
            let Target { config, compiled, pending, .. } = &mut targets[x.target as usize];
            if !config.enabled {
                continue;
            }
            let mut sink = Sink { series: s as u32, seq: next_seq, min_severity: config.min_severity, out: pending };
            x.run(compiled, timestamps, values, &mut sink).map_err(|source| MonitorError::Rejected {
                target: config.name.clone(),
                series: entry.key.display(interner),
                index: 0,
                source,
            })?;
        }
        entry.last = Some(newest);
        Ok(())
    }

    #[cold]
    fn offender(&self, s: usize, timestamps: &[i64], values: &[f64]) -> MonitorError {
        let name = || self.series[s].key.display(&self.interner);
        let mut last = self.series[s].last;
        for (index, (&t, &value)) in timestamps.iter().zip(values).enumerate() {
            if !value.is_finite() {
                return MonitorError::NonFinite { series: name(), index, value };
            }
            if let Some(l) = last
                && t < l
            {
                return MonitorError::OutOfOrder { series: name(), timestamp: t, last: l };
            }
            last = Some(t);
        }
        MonitorError::Shape { values: values.len(), timestamps: timestamps.len() }
    }

    // -----------------------------------------------------------------------------------------
    // Reporting
    // -----------------------------------------------------------------------------------------

    /// Lets every enabled target whose interval has elapsed since its last report (or that has
    /// never reported) report its events stamped at or before `now`. Returns alert events
    /// ordered by timestamp, then target, then series (metric name, then labels), each
    /// followed by the incident change it caused.
    pub fn tick(&mut self, now: i64) -> Vec<MonitorEvent> {
        let mut ready: Vec<(usize, Pending)> = Vec::new();
        for (ti, t) in self.targets.iter_mut().enumerate() {
            if !t.config.enabled || t.last_check.is_some_and(|l| now < l.saturating_add(t.config.interval_ms)) {
                continue;
            }
            t.last_check = Some(now);
            ready.extend(t.pending.extract_if(.., |p| p.verdict.timestamp <= now).map(|p| (ti, p)));
            if t.pending.len() < t.pending.capacity() / 4 {
                // A burst of events must not leave its room behind.
                t.pending.shrink_to_fit();
            }
        }
        if ready.is_empty() {
            return Vec::new();
        }
        // Sorted by index: the events themselves are a few hundred bytes each.
        let mut order: Vec<usize> = (0..ready.len()).collect();
        order.sort_by(|&i, &j| {
            let ((ta, a), (tb, b)) = (&ready[i], &ready[j]);
            (a.verdict.timestamp, ta)
                .cmp(&(b.verdict.timestamp, tb))
                .then_with(|| self.series_order(a.series, b.series))
                .then(a.seq.cmp(&b.seq))
        });
        let mut ready: Vec<Option<(usize, Pending)>> = ready.into_iter().map(Some).collect();
        let mut out = Vec::new();
        for i in order {
            if let Some((ti, p)) = ready[i].take() {
                self.report(ti, p, &mut out);
            }
        }
        out
    }

    /// Orders two series by metric name, then labels (key, value) in key order: the order of
    /// their canonical names, near enough, without building them; independent of the order in
    /// which series were registered.
    fn series_order(&self, a: u32, b: u32) -> std::cmp::Ordering {
        if a == b {
            return std::cmp::Ordering::Equal;
        }
        let (ka, kb) = (&self.series[a as usize].key, &self.series[b as usize].key);
        let r = |s: series::Sym| self.interner.resolve(s);
        r(ka.name).cmp(r(kb.name)).then_with(|| {
            ka.labels.iter().map(|&(k, v)| (r(k), r(v))).cmp(kb.labels.iter().map(|&(k, v)| (r(k), r(v))))
        })
    }

    fn report(&mut self, ti: usize, p: Pending, out: &mut Vec<MonitorEvent>) {
        let uid = self.targets[ti].uid;
        let at = p.verdict.timestamp;
        match p.event {
            RawEvent::Fired { alert } => {
                if let Some(stale) = self.open.remove(uid, p.series) {
                    // Cannot happen (a policy resolves before it fires again); kept consistent.
                    self.close_by_hand(ti, stale, at, out);
                }
                let id = self.next_alert_id;
                self.next_alert_id += 1;
                self.open.insert(OpenRef { target: uid, series: p.series, local: p.local, id });
                let key = &self.series[p.series as usize].key;
                let series = key.display(&self.interner);
                let metric = self.interner.resolve(key.name).to_string();
                let service = key.label(&self.interner, &self.options.incident_label).map(str::to_string);
                let first = alert.verdicts.first().cloned().unwrap_or_else(|| p.verdict.clone());
                let target = self.targets[ti].config.name.clone();
                let incident = service.as_deref().map(|svc| {
                    let signal = Signal {
                        alert_id: id,
                        target: target.clone(),
                        series: series.clone(),
                        metric: metric.clone(),
                        labels: key.to_name(&self.interner).labels,
                        start: alert.start,
                        end: None,
                        direction: alert.direction,
                        peak_severity: alert.peak_severity,
                        peak_score: alert.peak_score,
                        resolution: None,
                        first_verdict: first.clone(),
                    };
                    self.incidents.fired(svc, signal, at)
                });
                let incident_id = incident.as_ref().map(|n| n.incident_id);
                out.push(MonitorEvent::Alert(notice(
                    AlertEventKind::Fired,
                    id,
                    &target,
                    &series,
                    alert.peak_severity,
                    &p.verdict,
                    incident_id,
                )));
                self.history.push(AlertRecord {
                    id,
                    target,
                    series,
                    metric,
                    service,
                    start: alert.start,
                    fired_at: at,
                    end: None,
                    resolution: None,
                    peak_severity: alert.peak_severity,
                    peak_score: alert.peak_score,
                    direction: alert.direction,
                    first_verdict: first,
                    last_verdict: p.verdict,
                    acknowledged_at: None,
                    incident_id,
                });
                out.extend(incident.map(MonitorEvent::Incident));
            }
            RawEvent::Escalated { from, to } => {
                let Some(id) = self.open.get(uid, p.series, p.local) else { return };
                let score = p.verdict.anomaly_score;
                self.incidents.escalated(id, to, score);
                let incident_id = self.incidents.of_alert(id);
                if let Some(r) = self.history.get_mut(id) {
                    r.peak_severity = r.peak_severity.max(to);
                    r.peak_score = r.peak_score.max(score);
                    r.last_verdict = p.verdict.clone();
                }
                let (target, series) = self.names(ti, p.series);
                let mut n = notice(AlertEventKind::Escalated, id, &target, &series, to, &p.verdict, incident_id);
                n.previous_severity = Some(from);
                out.push(MonitorEvent::Alert(n));
            }
            RawEvent::Resolved { alert } => {
                if self.open.get(uid, p.series, p.local).is_none() {
                    return;
                }
                let Some(r) = self.open.remove(uid, p.series) else { return };
                let end = alert.end.unwrap_or(at);
                let resolution = alert.resolution.unwrap_or(Resolution::Recovered);
                self.finish(
                    ti,
                    r.series,
                    r.id,
                    end,
                    resolution,
                    (alert.peak_severity, alert.peak_score),
                    p.verdict,
                    out,
                );
            }
        }
    }

    /// Records and reports the end of alert `id`.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        ti: usize,
        series: u32,
        id: u64,
        end: i64,
        resolution: Resolution,
        peak: (oddsight_core::Severity, f64),
        verdict: Verdict,
        out: &mut Vec<MonitorEvent>,
    ) {
        let incident_id = self.incidents.of_alert(id);
        let mut severity = peak.0;
        if let Some(r) = self.history.get_mut(id) {
            r.end = Some(end);
            r.resolution = Some(resolution);
            r.peak_severity = r.peak_severity.max(peak.0);
            r.peak_score = r.peak_score.max(peak.1);
            r.last_verdict = verdict.clone();
            severity = r.peak_severity;
        }
        let closed = self.incidents.resolved(id, end, resolution, peak);
        let (target, series) = self.names(ti, series);
        let mut n = notice(AlertEventKind::Resolved, id, &target, &series, severity, &verdict, incident_id);
        n.timestamp = end;
        n.resolution = Some(resolution);
        out.push(MonitorEvent::Alert(n));
        out.extend(closed.map(MonitorEvent::Incident));
    }

    /// Resolves reported alert `r` by hand at `at` (its state is being dropped or was closed).
    fn close_by_hand(&mut self, ti: usize, r: OpenRef, at: i64, out: &mut Vec<MonitorEvent>) {
        let (verdict, peak) = match self.history.get(r.id) {
            Some(rec) => (rec.last_verdict.clone(), (rec.peak_severity, rec.peak_score)),
            None => {
                let v = self.series[r.series as usize]
                    .slots
                    .iter()
                    .find(|x| x.target == ti as u32)
                    .and_then(|x| x.policy.open_alert())
                    .and_then(|a| a.verdicts.last().cloned());
                let v = v.unwrap_or_else(|| {
                    Verdict::neutral(oddsight_core::Point::new(at, 0.0), 0.0, "monitor".into(), true)
                });
                let peak = (v.severity, v.anomaly_score);
                (v, peak)
            }
        };
        self.finish(ti, r.series, r.id, at, Resolution::Manual, peak, verdict, out);
    }

    fn names(&self, ti: usize, series: u32) -> (String, String) {
        (self.targets[ti].config.name.clone(), self.series[series as usize].key.display(&self.interner))
    }

    // -----------------------------------------------------------------------------------------
    // Alert history
    // -----------------------------------------------------------------------------------------

    /// Alerts in the history matching `query`, oldest first.
    pub fn alerts(&self, query: &AlertQuery) -> Vec<&AlertRecord> {
        // Any spelling of a series name matches its canonical form.
        let series =
            query.series.as_deref().map(|s| SeriesName::parse(s).map_or_else(|_| s.to_string(), |n| n.to_string()));
        self.history.records.iter().filter(|r| query.matches(r, series.as_deref())).collect()
    }

    /// The alert with this id, if it is still in the history.
    pub fn alert(&self, id: u64) -> Option<&AlertRecord> {
        self.history.get(id)
    }

    /// Marks an alert acknowledged at `at` (the first acknowledgement is kept). Acknowledging
    /// changes nothing else: the alert stays open until it recovers or is resolved.
    ///
    /// # Errors
    /// [`MonitorError::UnknownAlert`] if the alert is not in the history.
    pub fn acknowledge(&mut self, id: u64, at: i64) -> MonitorResult<&AlertRecord> {
        let r = self.history.get_mut(id).ok_or(MonitorError::UnknownAlert { id })?;
        r.acknowledged_at.get_or_insert(at);
        Ok(r)
    }

    /// Resolves an open alert by hand at `at`: the target's policy for the series closes it
    /// (resolution `manual`, its cooldown starting at `at`), events of it still waiting are
    /// dropped, and the resolution (with any incident change) is returned at once.
    ///
    /// # Errors
    /// [`MonitorError::AlertClosed`] if it is already resolved, [`MonitorError::UnknownAlert`]
    /// if it is neither open nor in the history.
    pub fn resolve(&mut self, id: u64, at: i64) -> MonitorResult<Vec<MonitorEvent>> {
        let Some(r) = self.open.by_id(id) else {
            return Err(if self.history.get(id).is_some() {
                MonitorError::AlertClosed { id }
            } else {
                MonitorError::UnknownAlert { id }
            });
        };
        let ti = self.targets.iter().position(|t| t.uid == r.target).ok_or(MonitorError::UnknownAlert { id })?;
        if let Some(slot) = self.series[r.series as usize].slots.iter_mut().find(|x| x.target == ti as u32)
            && slot.policy.open_alert().is_some_and(|a| a.id == r.local)
        {
            slot.resolve(at);
        }
        self.targets[ti].pending.retain(|p| !(p.series == r.series && p.local == r.local));
        self.open.remove(r.target, r.series);
        let mut out = Vec::new();
        self.close_by_hand(ti, r, at, &mut out);
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Incidents
    // -----------------------------------------------------------------------------------------

    /// Open incidents, then the most recent closed ones (oldest first).
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.open.iter().chain(&self.incidents.closed)
    }

    /// The incident with this id, if it is open or still kept.
    pub fn incident(&self, id: u64) -> Option<&Incident> {
        self.incidents.get(id)
    }
}

/// Whether `ts` never decreases. `b < a` as the sign of `r ^ ((b ^ a) & (b ^ r))` with
/// `r = b - a` (a subtraction's sign corrected for overflow): exact for all `i64`, and made of
/// subtractions, xors and ands, which vectorise where a 64-bit compare does not (SSE2 has none).
fn non_decreasing(ts: &[i64]) -> bool {
    let mut acc = 0i64;
    for (&a, &b) in ts.iter().zip(ts.iter().skip(1)) {
        let r = b.wrapping_sub(a);
        acc |= r ^ ((b ^ a) & (b ^ r));
    }
    acc >= 0
}

/// A notice from a verdict.
fn notice(
    event: AlertEventKind,
    alert_id: u64,
    target: &str,
    series: &str,
    severity: oddsight_core::Severity,
    verdict: &Verdict,
    incident_id: Option<u64>,
) -> AlertNotice {
    AlertNotice {
        event,
        alert_id,
        target: target.to_string(),
        series: series.to_string(),
        timestamp: verdict.timestamp,
        severity,
        previous_severity: None,
        score: verdict.anomaly_score,
        value: verdict.value,
        expected: verdict.expected,
        resolution: None,
        incident_id,
        verdict: verdict.clone(),
    }
}

impl Stateful for Monitor {
    fn kind() -> String {
        "Monitor".into()
    }
}

mod snapshot {
    //! The snapshot form: everything but what is rebuilt from it (compiled targets, the series
    //! index, the interner's lookup table), checked whole on the way back in.

    use super::*;

    #[derive(Serialize)]
    struct TargetRef<'a> {
        config: &'a TargetConfig,
        uid: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_check: Option<i64>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        pending: &'a [Pending],
    }

    #[derive(Serialize)]
    struct MonitorRef<'a> {
        options: &'a MonitorOptions,
        next_alert_id: u64,
        next_target_uid: u32,
        next_seq: u64,
        targets: Vec<TargetRef<'a>>,
        symbols: Vec<&'a str>,
        series: &'a [Series],
        history: &'a History,
        open_alerts: Vec<OpenRef>,
        incidents: &'a Incidents,
    }

    impl Serialize for Monitor {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            MonitorRef {
                options: &self.options,
                next_alert_id: self.next_alert_id,
                next_target_uid: self.next_target_uid,
                next_seq: self.next_seq,
                targets: self
                    .targets
                    .iter()
                    .map(|t| TargetRef { config: &t.config, uid: t.uid, last_check: t.last_check, pending: &t.pending })
                    .collect(),
                symbols: self.interner.strings().collect(),
                series: &self.series,
                history: &self.history,
                open_alerts: self.open.refs(),
                incidents: &self.incidents,
            }
            .serialize(s)
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct TargetRepr {
        config: TargetConfig,
        uid: u32,
        #[serde(default)]
        last_check: Option<i64>,
        #[serde(default)]
        pending: Vec<Pending>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct MonitorRepr {
        options: MonitorOptions,
        next_alert_id: u64,
        next_target_uid: u32,
        next_seq: u64,
        targets: Vec<TargetRepr>,
        symbols: Vec<String>,
        series: Vec<Series>,
        history: History,
        open_alerts: Vec<OpenRef>,
        incidents: Incidents,
    }

    impl TryFrom<MonitorRepr> for Monitor {
        type Error = String;
        fn try_from(r: MonitorRepr) -> Result<Self, String> {
            r.options.validate().map_err(|e| e.to_string())?;
            let interner = Interner::from_strings(r.symbols).ok_or("symbols repeat")?;
            let mut targets = Vec::with_capacity(r.targets.len());
            for t in r.targets {
                let compiled = Compiled::build(&t.config).map_err(|e| e.to_string())?;
                if t.uid == 0 || t.uid >= r.next_target_uid || targets.iter().any(|x: &Target| x.uid == t.uid) {
                    return Err(format!("target {:?} has an invalid uid {}", t.config.name, t.uid));
                }
                if targets.iter().any(|x: &Target| x.config.name == t.config.name) {
                    return Err(format!("target {:?} appears twice", t.config.name));
                }
                if t.pending.iter().any(|p| p.series as usize >= r.series.len() || p.seq > r.next_seq) {
                    return Err(format!("target {:?} holds an event of an unknown series", t.config.name));
                }
                targets.push(Target {
                    config: t.config,
                    uid: t.uid,
                    compiled,
                    last_check: t.last_check,
                    pending: t.pending,
                });
            }
            let mut index = HashMap::with_capacity(r.series.len());
            for (i, s) in r.series.iter().enumerate() {
                let name = s.key.display(&interner);
                if !s.key.is_valid(&interner) || index.insert(s.key.clone(), i as u32).is_some() {
                    return Err(format!("series {i} ({name}) has an invalid or repeated key"));
                }
                let mut expected =
                    targets.iter().enumerate().filter(|(_, t)| s.key.matches(&t.compiled.selector, &interner));
                for x in &s.slots {
                    let Some((ti, t)) = expected.next() else {
                        return Err(format!("series {name} has state for a target that does not select it"));
                    };
                    if x.target as usize != ti {
                        return Err(format!("series {name}: state for target {} where {ti} was expected", x.target));
                    }
                    if x.model.kind_name() != t.compiled.detector.kind_name() || x.policy.params() != &t.config.policy {
                        return Err(format!("series {name}: state does not fit target {:?}", t.config.name));
                    }
                    x.model.validate().map_err(|e| format!("series {name}, target {:?}: {e}", t.config.name))?;
                    x.policy.validate().map_err(|e| format!("series {name}, target {:?}: {e}", t.config.name))?;
                }
                if expected.next().is_some() {
                    return Err(format!("series {name} lacks the state of a target that selects it"));
                }
            }
            if !r.history.is_valid() || r.history.capacity != r.options.history {
                return Err("alert history is inconsistent".into());
            }
            if r.history.records.back().is_some_and(|x| x.id >= r.next_alert_id) {
                return Err("alert ids beyond next_alert_id".into());
            }
            if !r.incidents.is_valid() || r.incidents.capacity != r.options.closed_incidents {
                return Err("incidents are inconsistent".into());
            }
            let mut open = OpenAlerts::default();
            for o in r.open_alerts {
                let known = targets.iter().any(|t| t.uid == o.target) && (o.series as usize) < r.series.len();
                if !known || o.id == 0 || o.id >= r.next_alert_id || open.by_id.contains_key(&o.id) {
                    return Err(format!("open alert {} is inconsistent", o.id));
                }
                if open.by_slot.contains_key(&(o.target, o.series)) {
                    return Err(format!("two open alerts for one target and series ({})", o.id));
                }
                open.insert(o);
            }
            Ok(Monitor {
                options: r.options,
                targets,
                interner,
                series: r.series,
                index,
                history: r.history,
                open,
                incidents: r.incidents,
                next_alert_id: r.next_alert_id,
                next_target_uid: r.next_target_uid,
                next_seq: r.next_seq,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_check_is_exact_at_the_extremes() {
        let edges = [i64::MIN, i64::MIN + 1, -2, -1, 0, 1, 2, i64::MAX - 1, i64::MAX, 1_795_392_000_000];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(non_decreasing(&[a, b]), a <= b, "{a} {b}");
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (a, b) = (x as i64, x.rotate_left(17) as i64 >> (x % 60));
            assert_eq!(non_decreasing(&[a, b]), a <= b, "{a} {b}");
        }
        assert!(non_decreasing(&[]) && non_decreasing(&[5]) && non_decreasing(&[1, 1, 2]));
        assert!(!non_decreasing(&[1, 3, 2, 4]));
    }

    #[test]
    fn monitor_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Monitor>();
    }
}
