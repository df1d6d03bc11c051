//! `Monitor` and `analyze`: many targets over many series, alerts and incidents.
//!
//! Configurations, events, alerts and incidents cross the boundary as plain Python dicts, in
//! the JSON form the Rust types define (so they read the same in the Rust docs, in Node and in
//! a log).

use crate::convert;
use crate::errors::Failure;
use oddsight_core::{Severity, Stateful};
use oddsight_detectors::monitor::{AlertQuery, Monitor, MonitorConfig, MonitorError, TargetConfig, analyze};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::sync::{Mutex, MutexGuard, TryLockError};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn config_error(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new("InvalidConfig", format!("invalid monitor configuration: {what}: {e}"))
}

/// A target from a dict (or its JSON), with keyword fields laid over it.
fn target_config(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    fields: Option<&Bound<'_, PyDict>>,
) -> PyResult<TargetConfig> {
    let text = convert::to_json_text(py, target)?;
    let mut value: serde_json::Value = serde_json::from_str(&text).map_err(|e| config_error("target", e))?;
    if let Some(fields) = fields {
        let extra: serde_json::Value = serde_json::from_str(&convert::to_json_text(py, fields.as_any())?)
            .map_err(|e| config_error("target", e))?;
        if let (Some(obj), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            obj.extend(extra.clone());
        }
    }
    Ok(serde_json::from_value(value).map_err(|e| config_error("target", e))?)
}

/// Many targets over many series: judges points as they are ingested, reports alert events and
/// incidents on `tick`.
#[pyclass(module = "oddsight", name = "Monitor", frozen)]
#[derive(Debug)]
pub(crate) struct PyMonitor {
    inner: Mutex<Monitor>,
}

impl PyMonitor {
    fn with<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut Monitor) -> R + Send) -> R {
        match self.inner.try_lock() {
            Ok(mut g) => f(&mut g),
            Err(TryLockError::Poisoned(e)) => f(&mut e.into_inner()),
            Err(TryLockError::WouldBlock) => py.detach(|| f(&mut lock(&self.inner))),
        }
    }
}

#[pymethods]
impl PyMonitor {
    /// `Monitor(config=None, *, history=None, incident_label=None, closed_incidents=None)`:
    /// `config` is a dict (or JSON text) `{"targets": [...], "history": ..., ...}`.
    #[new]
    #[pyo3(signature = (config = None, *, history = None, incident_label = None, closed_incidents = None))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        history: Option<usize>,
        incident_label: Option<String>,
        closed_incidents: Option<usize>,
    ) -> PyResult<Self> {
        let mut config = match config {
            Some(c) if !c.is_none() => {
                MonitorConfig::from_json(&convert::to_json_text(py, c)?).map_err(Failure::from)?
            }
            _ => MonitorConfig::new(Vec::new()),
        };
        let mut options = config.options();
        if let Some(h) = history {
            options = options.history(h);
        }
        if let Some(l) = incident_label {
            options = options.incident_label(l);
        }
        if let Some(c) = closed_incidents {
            options = options.closed_incidents(c);
        }
        // Rebuild the config with the options laid over it (the struct is non-exhaustive).
        let mut value = serde_json::to_value(&config).map_err(|e| config_error("config", e))?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("history".into(), options.history.into());
            obj.insert("incident_label".into(), options.incident_label.clone().into());
            obj.insert("closed_incidents".into(), options.closed_incidents.into());
        }
        config = serde_json::from_value(value).map_err(|e| config_error("config", e))?;
        Ok(PyMonitor { inner: Mutex::new(Monitor::from_config(&config).map_err(Failure::from)?) })
    }

    /// Restores a monitor from `snapshot()`'s string.
    #[staticmethod]
    fn restore(snapshot: &str) -> PyResult<Self> {
        Ok(PyMonitor { inner: Mutex::new(Monitor::from_snapshot(snapshot).map_err(Failure::from)?) })
    }

    /// The whole state (targets, every series' detector and policy, waiting events, history,
    /// incidents) as a versioned JSON snapshot.
    fn snapshot(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.with(py, |m| m.to_snapshot()).map_err(Failure::from)?)
    }

    /// The current configuration (options and targets) as a dict.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.with(py, |m| m.config());
        convert::to_python(py, &c)
    }

    /// Adds a target: a dict `{"name", "selector", "detector", "policy", "interval",
    /// "min_severity", "enabled"}` (or its JSON), fields also accepted as keywords.
    #[pyo3(signature = (target = None, **fields))]
    fn add_target(
        &self,
        py: Python<'_>,
        target: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let empty = PyDict::new(py);
        let config = target_config(py, target.unwrap_or(empty.as_any()), fields)?;
        Ok(self.with(py, |m| m.add_target(config)).map_err(Failure::from)?)
    }

    /// Replaces the target of the same name; returns the events of alerts it resolves.
    #[pyo3(signature = (target = None, **fields))]
    fn update_target<'py>(
        &self,
        py: Python<'py>,
        target: Option<&Bound<'py, PyAny>>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let empty = PyDict::new(py);
        let config = target_config(py, target.unwrap_or(empty.as_any()), fields)?;
        let events = self.with(py, |m| m.update_target(config)).map_err(Failure::from)?;
        convert::to_python(py, &events)
    }

    /// Removes a target; returns the events of alerts it resolves.
    fn remove_target<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let events = self.with(py, |m| m.remove_target(name)).map_err(Failure::from)?;
        convert::to_python(py, &events)
    }

    /// Enables or disables a target.
    fn set_enabled(&self, py: Python<'_>, name: &str, enabled: bool) -> PyResult<()> {
        Ok(self.with(py, |m| m.set_enabled(name, enabled)).map_err(Failure::from)?)
    }

    /// A target's configuration, or None.
    fn target<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let t = self.with(py, |m| m.target(name).cloned());
        convert::to_python(py, &t)
    }

    /// Every target with its status (series watched, open alerts, waiting events).
    fn targets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.with(py, |m| m.list_targets());
        convert::to_python(py, &t)
    }

    /// Series seen so far.
    #[getter]
    fn series_count(&self, py: Python<'_>) -> usize {
        self.with(py, |m| m.series_count())
    }

    /// Ingests one point of a series (`latency_ms{service="checkout"}`).
    #[pyo3(signature = (series, timestamp, value))]
    fn ingest(&self, py: Python<'_>, series: &str, timestamp: &Bound<'_, PyAny>, value: f64) -> PyResult<()> {
        let t = convert::timestamp(py, Some(timestamp), 0)?;
        Ok(self.with(py, |m| m.ingest(series, t, value)).map_err(Failure::from)?)
    }

    /// Ingests points of one series, oldest first, all or nothing, with the GIL released.
    #[pyo3(signature = (series, values, timestamps))]
    fn ingest_batch<'py>(
        &self,
        py: Python<'py>,
        series: &str,
        values: &Bound<'py, PyAny>,
        timestamps: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let mut vs = convert::values(values)?;
        let mut ts = convert::timestamps(py, Some(timestamps), vs.len(), 0)?;
        let (v, t) = (vs.slice(), ts.slice());
        py.detach(|| {
            let mut m = lock(&self.inner);
            let id = match m.find_series(series) {
                Some(id) => id,
                None => {
                    // Registering a series cannot be undone: check what can be checked first,
                    // so that a refused batch leaves no new series behind.
                    precheck_new_series(series, t, v)?;
                    m.series_id(series)?
                }
            };
            m.ingest_batch(id, t, v)
        })
        .map_err(Failure::from)?;
        Ok(())
    }

    /// Lets every target whose interval has elapsed report; returns the events (dicts).
    fn tick<'py>(&self, py: Python<'py>, now: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let now = convert::timestamp(py, Some(now), 0)?;
        let events = self.with(py, |m| m.tick(now));
        convert::to_python(py, &events)
    }

    /// Alerts in the history, oldest first, filtered.
    #[pyo3(signature = (*, target = None, series = None, min_severity = None, open_only = false, unacknowledged_only = false))]
    fn alerts<'py>(
        &self,
        py: Python<'py>,
        target: Option<String>,
        series: Option<String>,
        min_severity: Option<String>,
        open_only: bool,
        unacknowledged_only: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut query = AlertQuery::all();
        if let Some(t) = target {
            query = query.target(t);
        }
        if let Some(s) = series {
            query = query.series(s);
        }
        if let Some(s) = min_severity {
            let sev: Severity = serde_json::from_value(serde_json::Value::String(s.clone())).map_err(|_| {
                Failure::new(
                    "InvalidParameter",
                    format!("invalid parameter min_severity: must be normal, low, medium, high or critical, got {s}"),
                )
            })?;
            query = query.min_severity(sev);
        }
        if open_only {
            query = query.open_only();
        }
        if unacknowledged_only {
            query = query.unacknowledged_only();
        }
        let alerts = self.with(py, |m| m.alerts(&query).into_iter().cloned().collect::<Vec<_>>());
        convert::to_python(py, &alerts)
    }

    /// One alert by id, or None.
    fn alert<'py>(&self, py: Python<'py>, id: u64) -> PyResult<Bound<'py, PyAny>> {
        let a = self.with(py, |m| m.alert(id).cloned());
        convert::to_python(py, &a)
    }

    /// Marks an alert acknowledged at `at`; returns it.
    fn acknowledge<'py>(&self, py: Python<'py>, id: u64, at: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let at = convert::timestamp(py, Some(at), 0)?;
        let a = self.with(py, |m| m.acknowledge(id, at).cloned()).map_err(Failure::from)?;
        convert::to_python(py, &a)
    }

    /// Resolves an open alert by hand at `at`; returns the events.
    fn resolve<'py>(&self, py: Python<'py>, id: u64, at: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let at = convert::timestamp(py, Some(at), 0)?;
        let events = self.with(py, |m| m.resolve(id, at)).map_err(Failure::from)?;
        convert::to_python(py, &events)
    }

    /// Open incidents, then the most recent closed ones.
    fn incidents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let i = self.with(py, |m| m.incidents().cloned().collect::<Vec<_>>());
        convert::to_python(py, &i)
    }

    /// One incident by id, or None.
    fn incident<'py>(&self, py: Python<'py>, id: u64) -> PyResult<Bound<'py, PyAny>> {
        let i = self.with(py, |m| m.incident(id).cloned());
        convert::to_python(py, &i)
    }

    fn __getstate__(&self, py: Python<'_>) -> PyResult<String> {
        self.snapshot(py)
    }
    fn __setstate__(&self, py: Python<'_>, state: &str) -> PyResult<()> {
        let restored = Monitor::from_snapshot(state).map_err(Failure::from)?;
        self.with(py, |m| *m = restored);
        Ok(())
    }
    fn __getnewargs__<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        PyTuple::empty(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (targets, series) = self.with(py, |m| (m.list_targets().len(), m.series_count()));
        format!("Monitor(targets={targets}, series={series})")
    }
}

/// The checks [`Monitor::ingest_batch`] makes, for a series not registered yet.
fn precheck_new_series(series: &str, timestamps: &[i64], values: &[f64]) -> Result<(), MonitorError> {
    if timestamps.len() != values.len() {
        return Err(MonitorError::Shape { values: values.len(), timestamps: timestamps.len() });
    }
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(MonitorError::NonFinite { series: series.to_string(), index, value });
    }
    if let Some(w) = timestamps.windows(2).find(|w| w[1] < w[0]) {
        return Err(MonitorError::OutOfOrder { series: series.to_string(), timestamp: w[1], last: w[0] });
    }
    Ok(())
}

/// `analyze(values, timestamps=None, methods=None)`: judges one batch with no state kept;
/// returns the analysis as a dict (`methods`, `points`, `flagged`).
#[pyfunction(name = "analyze")]
#[pyo3(signature = (values, timestamps = None, methods = None))]
pub(crate) fn analyze_batch<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    timestamps: Option<&Bound<'py, PyAny>>,
    methods: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut vs = convert::values(values)?;
    let mut ts = match timestamps {
        Some(t) if !t.is_none() => Some(convert::timestamps(py, Some(t), vs.len(), 0)?),
        _ => None,
    };
    let methods: Vec<String> = match methods {
        None => Vec::new(),
        Some(m) if m.is_none() => Vec::new(),
        Some(m) => match m.extract::<String>() {
            Ok(one) => vec![one],
            Err(_) => m.extract()?,
        },
    };
    let v = vs.slice();
    let t = ts.as_mut().map(|c| c.slice());
    let analysis = py.detach(|| {
        let refs: Vec<&str> = methods.iter().map(String::as_str).collect();
        analyze(v, t, &refs)
    });
    let analysis = analysis.map_err(Failure::from)?;
    let flagged = analysis.flagged();
    let out = convert::to_python(py, &analysis)?;
    out.set_item("flagged", PyList::new(py, flagged)?)?;
    Ok(out)
}
