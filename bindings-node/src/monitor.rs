//! `Monitor`: many targets over many series, alerts and incidents; `analyze()` for one batch.

use crate::error::{Result, error, js};
use crate::input::{self, Timestamps, Values};
use crate::json::{from_js, to_js};
use napi_derive::napi;
use oddsight_core::Stateful;
use oddsight_detectors::monitor::{self, AlertQuery, MonitorConfig, TargetConfig};
use serde_json::Value;

/// Many targets over many series: judges points as they are ingested, reports alert events and
/// incidents on `tick(now)`. Like the rest of oddsight it reads no clock and does no I/O: time
/// comes with the data and with `tick`.
///
/// Configurations, events, alerts and incidents are the library's JSON documents, with the same
/// snake_case fields as in Rust, Python and the config file:
///
/// ```js
/// const m = new Monitor({ targets: [
///   { name: 'latency', selector: 'latency_ms', detector: 'ewma(warmup=20)', interval: '5m' },
/// ] })
/// m.ingest('latency_ms{service="checkout",host="a"}', Date.now(), 412)
/// for (const e of m.tick(Date.now())) console.log(e.event, e.target, e.severity)
/// ```
#[napi]
#[derive(Debug)]
pub struct Monitor {
    inner: monitor::Monitor,
}

fn u64_id(id: f64, what: &str) -> Result<u64> {
    if id.is_finite() && id >= 0.0 && id.fract() == 0.0 && id <= 9_007_199_254_740_991.0 {
        Ok(id as u64)
    } else {
        Err(error("InvalidParameter", format!("invalid parameter {what}: must be a non-negative integer, got {id}")))
    }
}

#[napi]
impl Monitor {
    /// A monitor from a configuration object (or its JSON text): `{ targets: [...], history?,
    /// incident_label?, closed_incidents? }`. Without one, an empty monitor with default
    /// options.
    ///
    /// Throws `InvalidConfig`, `InvalidSelector`, `InvalidSpec`, `InvalidParameter`,
    /// `DuplicateTarget`.
    #[napi(constructor, catch_unwind)]
    pub fn new(#[napi(ts_arg_type = "MonitorConfig | string | null")] config: Option<Value>) -> Result<Self> {
        let inner = match config {
            None | Some(Value::Null) => monitor::Monitor::new(),
            Some(v) => {
                let config: MonitorConfig = from_js(v, "monitor configuration", "InvalidConfig")?;
                monitor::Monitor::from_config(&config).map_err(js)?
            }
        };
        Ok(Monitor { inner })
    }

    /// Restores a monitor from `snapshot()` (made here, in Python or in Rust).
    ///
    /// Throws `MalformedSnapshot` or `IncompatibleSnapshot`.
    #[napi(factory, catch_unwind)]
    pub fn restore(snapshot: String) -> Result<Self> {
        let inner = monitor::Monitor::from_snapshot(&snapshot).map_err(js)?;
        Ok(Monitor { inner })
    }

    /// The whole monitor (targets, every series' detector and policy, waiting events, history,
    /// incidents) as a versioned JSON snapshot.
    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> Result<String> {
        self.inner.to_snapshot().map_err(js)
    }

    /// The current configuration: options and targets, as the constructor takes it.
    #[napi(catch_unwind, ts_return_type = "MonitorConfig")]
    pub fn config(&self) -> Result<Value> {
        to_js(&self.inner.config())
    }

    /// Adds a target; it starts watching every known series it selects, and every new one.
    ///
    /// Throws `DuplicateTarget`, `InvalidParameter`, `InvalidSelector`, `InvalidSpec`,
    /// `InvalidConfig`; nothing changes then.
    #[napi(catch_unwind)]
    pub fn add_target(&mut self, #[napi(ts_arg_type = "TargetConfig")] target: Value) -> Result<()> {
        let target: TargetConfig = from_js(target, "target", "InvalidConfig")?;
        self.inner.add_target(target).map_err(js)
    }

    /// Replaces the target of the same name. Changing its detector or policy resets its
    /// per-series state and resolves its open alerts (returned); other changes keep state.
    ///
    /// Throws `UnknownTarget` and as `addTarget`.
    #[napi(catch_unwind, ts_return_type = "MonitorEvent[]")]
    pub fn update_target(&mut self, #[napi(ts_arg_type = "TargetConfig")] target: Value) -> Result<Value> {
        let target: TargetConfig = from_js(target, "target", "InvalidConfig")?;
        to_js(&self.inner.update_target(target).map_err(js)?)
    }

    /// Enables or disables a target (a disabled one neither judges nor reports).
    ///
    /// Throws `UnknownTarget`.
    #[napi(catch_unwind)]
    pub fn set_enabled(&mut self, name: String, enabled: bool) -> Result<()> {
        self.inner.set_enabled(&name, enabled).map_err(js)
    }

    /// Removes a target, resolving its open alerts (returned).
    ///
    /// Throws `UnknownTarget`.
    #[napi(catch_unwind, ts_return_type = "MonitorEvent[]")]
    pub fn remove_target(&mut self, name: String) -> Result<Value> {
        to_js(&self.inner.remove_target(&name).map_err(js)?)
    }

    /// A target's configuration, or `null`.
    #[napi(catch_unwind, ts_return_type = "TargetConfig | null")]
    pub fn target(&self, name: String) -> Result<Value> {
        to_js(&self.inner.target(&name))
    }

    /// Every target with its status (series watched, open alerts, pending events).
    #[napi(catch_unwind, ts_return_type = "TargetStatus[]")]
    pub fn targets(&self) -> Result<Value> {
        to_js(&self.inner.list_targets())
    }

    /// Number of series seen.
    #[napi(getter, catch_unwind)]
    pub fn series_count(&self) -> u32 {
        u32::try_from(self.inner.series_count()).unwrap_or(u32::MAX)
    }

    /// Ingests one point of a series (`name{key="value",…}`): every enabled target selecting
    /// it judges it now; the alert events wait for `tick`.
    ///
    /// Throws `InvalidSeries`, `NonFiniteValue`, `OutOfOrder` (per series), or the code of a
    /// detector that refuses the point; nothing changes then.
    #[napi(catch_unwind)]
    pub fn ingest(&mut self, series: String, timestamp: f64, value: f64) -> Result<()> {
        let t = input::millis(timestamp)?;
        self.inner.ingest(&series, t, value).map_err(js)
    }

    /// Ingests a batch of one series, all or nothing.
    ///
    /// Throws as `ingest`, and `ShapeMismatch` when the lengths differ.
    #[napi(catch_unwind)]
    pub fn ingest_batch(&mut self, series: String, values: Values, timestamps: Timestamps) -> Result<()> {
        let timestamps = input::timestamps(Some(&timestamps))?.unwrap_or_default();
        let values = input::values(&values);
        // Check the batch before the series is registered, so a refused batch leaves no trace.
        if timestamps.len() != values.len() {
            return Err(js(monitor::MonitorError::Shape { values: values.len(), timestamps: timestamps.len() }));
        }
        let id = self.inner.series_id(&series).map_err(js)?;
        self.inner.ingest_batch(id, &timestamps, values).map_err(js)
    }

    /// Lets every enabled target whose interval has elapsed report its waiting events stamped
    /// at or before `now` (Unix ms), ordered by timestamp, target, series.
    #[napi(catch_unwind, ts_return_type = "MonitorEvent[]")]
    pub fn tick(&mut self, now: f64) -> Result<Value> {
        let now = input::millis(now)?;
        to_js(&self.inner.tick(now))
    }

    /// Alerts in the history matching `query`, oldest first.
    ///
    /// Throws `InvalidConfig` for a malformed query.
    #[napi(catch_unwind, ts_return_type = "AlertRecord[]")]
    pub fn alerts(&self, #[napi(ts_arg_type = "AlertQuery")] query: Option<Value>) -> Result<Value> {
        let query = alert_query(query)?;
        to_js(&self.inner.alerts(&query))
    }

    /// The alert with this id, if it is still in the history; else `null`.
    #[napi(catch_unwind, ts_return_type = "AlertRecord | null")]
    pub fn alert(&self, id: f64) -> Result<Value> {
        to_js(&self.inner.alert(u64_id(id, "id")?))
    }

    /// Marks an alert acknowledged at `at` (Unix ms); it stays open.
    ///
    /// Throws `UnknownAlert`.
    #[napi(catch_unwind, ts_return_type = "AlertRecord")]
    pub fn acknowledge(&mut self, id: f64, at: f64) -> Result<Value> {
        let (id, at) = (u64_id(id, "id")?, input::millis(at)?);
        to_js(self.inner.acknowledge(id, at).map_err(js)?)
    }

    /// Resolves an open alert by hand at `at` (Unix ms), returning the resolution and any
    /// incident change at once.
    ///
    /// Throws `AlertClosed` or `UnknownAlert`.
    #[napi(catch_unwind, ts_return_type = "MonitorEvent[]")]
    pub fn resolve(&mut self, id: f64, at: f64) -> Result<Value> {
        let (id, at) = (u64_id(id, "id")?, input::millis(at)?);
        to_js(&self.inner.resolve(id, at).map_err(js)?)
    }

    /// Open incidents, then the most recent closed ones.
    #[napi(catch_unwind, ts_return_type = "Incident[]")]
    pub fn incidents(&self) -> Result<Value> {
        to_js(&self.inner.incidents().collect::<Vec<_>>())
    }

    /// The incident with this id, if it is open or still kept; else `null`.
    #[napi(catch_unwind, ts_return_type = "Incident | null")]
    pub fn incident(&self, id: f64) -> Result<Value> {
        to_js(&self.inner.incident(u64_id(id, "id")?))
    }
}

/// An alert query from a partial object: absent fields match everything.
fn alert_query(query: Option<Value>) -> Result<AlertQuery> {
    let mut base = serde_json::to_value(AlertQuery::all()).unwrap_or_default();
    match (query, &mut base) {
        (None | Some(Value::Null), _) => {}
        (Some(Value::Object(given)), Value::Object(all)) => {
            for (k, v) in given {
                if !all.contains_key(&k) {
                    let known: Vec<&str> = all.keys().map(String::as_str).collect();
                    return Err(error(
                        "InvalidConfig",
                        format!("invalid alert query: unknown field {k}; accepted: {}", known.join(", ")),
                    ));
                }
                all.insert(k, v);
            }
        }
        (Some(other), _) => return Err(error("InvalidConfig", format!("an alert query is an object, got {other}"))),
    }
    from_js(base, "alert query", "InvalidConfig")
}

/// Judges one batch with each of `methods` and combines them, keeping no state: a point is
/// flagged when any method flags it. A method is `"batch_robust_z"` (the default) or any
/// detector specification, run prequentially over the batch. Without `timestamps`, points are
/// one minute apart from 0.
///
/// Throws `EmptyInput`, `ShapeMismatch`, `NonFiniteValue`, `OutOfOrder`, or the code of an
/// invalid method's specification.
#[napi(catch_unwind, ts_return_type = "Analysis")]
pub fn analyze(values: Values, timestamps: Option<Timestamps>, methods: Option<Vec<String>>) -> Result<Value> {
    let timestamps = input::timestamps(timestamps.as_ref())?;
    let methods = methods.unwrap_or_default();
    let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
    to_js(&monitor::analyze(input::values(&values), timestamps.as_deref(), &methods).map_err(js)?)
}
