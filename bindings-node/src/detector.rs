//! `Detector`, `score()` and the detector catalogue.

use crate::error::{Pending, Result, error, js};
use crate::input::{self, Timestamps, Values};
use crate::verdict::{Verdict, VerdictColumns};
use napi::bindgen_prelude::{AsyncTask, Either3, Env, Float64Array};
use napi::{Status, Task};
use napi_derive::napi;
use oddsight_core::{Detector as _, Point, check_batch};
use oddsight_detectors::spec::{DetectorSpec, SpecValue};
use oddsight_detectors::{AnyDetector, NAMES};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A detector specification as JavaScript passes it: the string form (`"mad(window=60)"`)
/// or the JSON form as an object (`{ name: "mad", params: { window: 60 } }`).
pub(crate) type SpecArg = serde_json::Value;

/// Parameters merged into a specification: numbers, booleans, or words and durations as
/// strings (`"p95"`, `"1h"`).
pub(crate) type ParamsArg = HashMap<String, Either3<f64, bool, String>>;

/// Builds a detector from the optional spec (default: `"default"`) and parameters.
pub(crate) fn build(spec: Option<SpecArg>, params: Option<ParamsArg>) -> Result<AnyDetector> {
    let text = match spec {
        None | Some(serde_json::Value::Null) => "default".to_string(),
        Some(serde_json::Value::String(s)) => s,
        Some(v @ serde_json::Value::Object(_)) => v.to_string(),
        Some(other) => {
            return Err(error("InvalidSpec", format!("a detector spec is a string or an object, got {other}")));
        }
    };
    let Some(params) = params.filter(|p| !p.is_empty()) else {
        return AnyDetector::parse(&text).map_err(js);
    };
    let mut spec = DetectorSpec::from_json(&text).map_err(js)?;
    // Sorted, so that the first bad parameter reported does not depend on hashing.
    let mut params: Vec<_> = params.into_iter().collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in params {
        let value = match value {
            Either3::A(n) => SpecValue::Number(n),
            Either3::B(b) => SpecValue::Bool(b),
            // Read with the spec grammar, so that durations (`"1h"`) mean what they mean in a
            // spec string.
            Either3::C(word) => {
                let one = DetectorSpec::parse(&format!("p({key}={word})")).map_err(js)?;
                one.params.into_values().next().unwrap_or(SpecValue::Word(word))
            }
        };
        spec.params.insert(key, value);
    }
    AnyDetector::from_spec(&spec).map_err(js)
}

fn lock(detector: &Mutex<AnyDetector>) -> MutexGuard<'_, AnyDetector> {
    // The detector is never left half-updated by a panic (none crosses a call), so a poisoned
    // lock still guards a consistent state.
    detector.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Observes a batch and keeps only the anomaly scores: exactly `observe_batch` (the whole batch
/// checked first, then point by point), without building the verdicts' vector.
fn observe_scores(d: &mut AnyDetector, values: &[f64], timestamps: Option<&[i64]>) -> oddsight_core::Result<Vec<f64>> {
    let implicit;
    let timestamps = match timestamps {
        Some(t) => t,
        None => {
            implicit = input::implicit(values.len(), d.last_timestamp());
            &implicit
        }
    };
    check_batch(d.last_timestamp(), timestamps, values)?;
    let mut scores = Vec::with_capacity(values.len());
    for (&t, &v) in timestamps.iter().zip(values) {
        scores.push(d.observe(Point::new(t, v))?.anomaly_score);
    }
    Ok(scores)
}

/// A streaming anomaly detector over one series, built from any specification.
///
/// `observe` judges a point against what has been learned and then learns it; `score` judges
/// without learning; `update` learns without judging. Timestamps are Unix milliseconds and
/// must not go backwards (`OutOfOrder`); when one is left out, the point is placed one
/// minute after the newest learned (0 for a fresh detector).
///
/// ```js
/// const d = new Detector('mad', { window: 60, warmup: 10 })
/// const v = d.observe(120.5, Date.now())
/// if (v.isAnomaly) console.log(v.severity, v.expected, v.lower, v.upper)
/// ```
#[napi]
#[derive(Debug)]
pub struct Detector {
    inner: Arc<Mutex<AnyDetector>>,
}

#[napi]
impl Detector {
    /// Builds a detector from a specification (default `"default"`, the library's default
    /// detector, `DEFAULT_SPEC`), such as `"mad(window=720)"`, `"ensemble(seasonal, mad, cusum)"` or
    /// `{ name: "ewma", params: { alpha: 0.1 } }`. `params` are merged into it: numbers,
    /// booleans, or strings for words and durations (`{ period: "1w" }`).
    ///
    /// Throws `InvalidSpec` for an unknown detector, parameter or bad syntax, and
    /// `InvalidParameter` for a value out of range.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        #[napi(ts_arg_type = "string | DetectorSpec | null")] spec: Option<SpecArg>,
        #[napi(ts_arg_type = "Record<string, number | boolean | string>")] params: Option<ParamsArg>,
    ) -> Result<Self> {
        Ok(Detector { inner: Arc::new(Mutex::new(build(spec, params)?)) })
    }

    /// Restores a detector from `snapshot()` (made here, in Python or in Rust). It behaves
    /// exactly as the one that was saved.
    ///
    /// Throws `MalformedSnapshot` or `IncompatibleSnapshot`.
    #[napi(factory, catch_unwind)]
    pub fn restore(snapshot: String) -> Result<Self> {
        let d = AnyDetector::restore(&snapshot).map_err(js)?;
        Ok(Detector { inner: Arc::new(Mutex::new(d)) })
    }

    /// Judges `value` against what has been learned, then learns it.
    ///
    /// Throws `NonFiniteValue` for NaN or ±Infinity and `OutOfOrder` for a timestamp before
    /// the newest learned; nothing is learned then.
    #[napi(catch_unwind)]
    pub fn observe(&self, value: f64, timestamp: Option<f64>) -> Result<Verdict> {
        let mut d = lock(&self.inner);
        let t = input::timestamp(timestamp, d.last_timestamp())?;
        d.observe(Point::new(t, value)).map(Verdict::from).map_err(js)
    }

    /// Judges `value` without learning it.
    ///
    /// Throws `NonFiniteValue` or `OutOfOrder`.
    #[napi(catch_unwind)]
    pub fn score(&self, value: f64, timestamp: Option<f64>) -> Result<Verdict> {
        let d = lock(&self.inner);
        let t = input::timestamp(timestamp, d.last_timestamp())?;
        d.score(Point::new(t, value)).map(Verdict::from).map_err(js)
    }

    /// Learns `value` without judging it.
    ///
    /// Throws `NonFiniteValue` or `OutOfOrder`; nothing is learned then.
    #[napi(catch_unwind)]
    pub fn update(&self, value: f64, timestamp: Option<f64>) -> Result<()> {
        let mut d = lock(&self.inner);
        let t = input::timestamp(timestamp, d.last_timestamp())?;
        d.update(Point::new(t, value)).map_err(js)
    }

    /// `observe` over a batch, returning the anomaly scores. All or nothing: the whole batch
    /// is checked first, so a bad point anywhere leaves the detector untouched.
    ///
    /// Throws `ShapeMismatch` when `timestamps` is not as long as `values`, `NonFiniteValue`,
    /// `OutOfOrder`.
    #[napi(catch_unwind)]
    pub fn observe_batch(&self, values: Values, timestamps: Option<Timestamps>) -> Result<Float64Array> {
        let timestamps = input::timestamps(timestamps.as_ref())?;
        let mut d = lock(&self.inner);
        let scores = observe_scores(&mut d, input::values(&values), timestamps.as_deref()).map_err(js)?;
        Ok(Float64Array::new(scores))
    }

    /// `observeBatch` off the main thread: the values are copied and the batch runs on
    /// libuv's thread pool while the event loop goes on. Calls on this detector made in the
    /// meantime wait for the batch; several batches started at once on one detector run one
    /// at a time, in no guaranteed order, so await each before starting the next.
    ///
    /// Rejects with the same errors as `observeBatch`.
    #[napi(catch_unwind, ts_return_type = "Promise<Float64Array>")]
    pub fn observe_batch_async(&self, values: Values, timestamps: Option<Timestamps>) -> AsyncTask<ObserveBatch> {
        // A bad timestamp rejects the promise rather than throwing.
        let (timestamps, error) = match input::timestamps(timestamps.as_ref()) {
            Ok(t) => (t, None),
            Err(e) => (None, Some(Pending::from_error(e))),
        };
        AsyncTask::new(ObserveBatch {
            detector: Arc::clone(&self.inner),
            values: input::values(&values).to_vec(),
            timestamps,
            error,
        })
    }

    /// `score` over a batch: every point judged against the current state, nothing learned.
    ///
    /// Throws as `observeBatch`.
    #[napi(catch_unwind)]
    pub fn score_batch(&self, values: Values, timestamps: Option<Timestamps>) -> Result<Float64Array> {
        let d = lock(&self.inner);
        let values = input::values(&values);
        let timestamps = match input::timestamps(timestamps.as_ref())? {
            Some(t) => t,
            None => input::implicit(values.len(), d.last_timestamp()),
        };
        let verdicts = d.score_batch(&timestamps, values).map_err(js)?;
        Ok(Float64Array::new(verdicts.iter().map(|v| v.anomaly_score).collect()))
    }

    /// `update` over a batch, all or nothing.
    ///
    /// Throws as `observeBatch`.
    #[napi(catch_unwind)]
    pub fn update_batch(&self, values: Values, timestamps: Option<Timestamps>) -> Result<()> {
        let mut d = lock(&self.inner);
        let values = input::values(&values);
        let timestamps = match input::timestamps(timestamps.as_ref())? {
            Some(t) => t,
            None => input::implicit(values.len(), d.last_timestamp()),
        };
        d.update_batch(&timestamps, values).map_err(js)
    }

    /// `observe` over a batch, returning every verdict field as a column.
    ///
    /// Throws as `observeBatch`.
    #[napi(catch_unwind)]
    pub fn verdicts_batch(&self, values: Values, timestamps: Option<Timestamps>) -> Result<VerdictColumns> {
        let mut d = lock(&self.inner);
        let values = input::values(&values);
        let timestamps = match input::timestamps(timestamps.as_ref())? {
            Some(t) => t,
            None => input::implicit(values.len(), d.last_timestamp()),
        };
        let verdicts = d.observe_batch(&timestamps, values).map_err(js)?;
        Ok(VerdictColumns::from_verdicts(&verdicts))
    }

    /// The detector's whole state as a versioned JSON snapshot, for `Detector.restore`
    /// (here, in Python or in Rust).
    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> Result<String> {
        lock(&self.inner).snapshot().map_err(js)
    }

    /// Every detector name accepted in specifications, with what it builds.
    #[napi]
    pub fn names() -> Vec<DetectorInfo> {
        NAMES.iter().map(|(n, d)| DetectorInfo { name: n.to_string(), description: d.to_string() }).collect()
    }

    /// Forgets everything learned; the parameters stay.
    #[napi(catch_unwind)]
    pub fn reset(&self) {
        lock(&self.inner).reset();
    }

    /// Short name used in verdicts and logs.
    #[napi(getter, catch_unwind)]
    pub fn name(&self) -> String {
        lock(&self.inner).name().into_owned()
    }

    /// The detector's kind as written in specifications (`"mad"`, `"ensemble"`, …).
    #[napi(getter, catch_unwind)]
    pub fn kind(&self) -> String {
        lock(&self.inner).kind_name().to_string()
    }

    /// Newest timestamp learned (Unix ms), or `null` before the first point.
    #[napi(getter, catch_unwind)]
    pub fn last_timestamp(&self) -> Option<i64> {
        lock(&self.inner).last_timestamp()
    }
}

/// The work of `Detector.observeBatchAsync`, run on libuv's thread pool.
#[derive(Debug)]
pub struct ObserveBatch {
    detector: Arc<Mutex<AnyDetector>>,
    values: Vec<f64>,
    timestamps: Option<Vec<i64>>,
    error: Option<Pending>,
}

impl Task for ObserveBatch {
    type Output = Vec<f64>;
    type JsValue = Float64Array;

    fn compute(&mut self) -> napi::Result<Vec<f64>> {
        if let Some(e) = &self.error {
            return Err(napi::Error::new(Status::GenericFailure, e.message.clone()));
        }
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut d = lock(&self.detector);
            observe_scores(&mut d, &self.values, self.timestamps.as_deref())
        }));
        match run {
            Ok(Ok(scores)) => Ok(scores),
            Ok(Err(e)) => {
                let pending = Pending::of(&e);
                let message = pending.message.clone();
                self.error = Some(pending);
                Err(napi::Error::new(Status::GenericFailure, message))
            }
            Err(_) => Err(napi::Error::new(Status::GenericFailure, "internal error: the batch panicked")),
        }
    }

    fn resolve(&mut self, _env: Env, scores: Vec<f64>) -> napi::Result<Float64Array> {
        Ok(Float64Array::new(scores))
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<Float64Array> {
        match self.error.take() {
            Some(pending) => Err(pending.into_rejection(env)),
            None => Err(err),
        }
    }
}

/// Anomaly scores for a whole series, bit for bit what `oddsight score` writes on the command
/// line for the same data and detector: a fresh detector (default `"default"`) observes every
/// point in order, and a timestamp earlier than the one before it is clamped to it.
/// Without `timestamps` the points are one minute apart from 0.
///
/// Throws `InvalidSpec` or `InvalidParameter` for the detector, `ShapeMismatch` when
/// `timestamps` is not as long as `values`, `NonFiniteValue` for a NaN or infinite value.
#[napi(catch_unwind)]
pub fn score(
    values: Values,
    timestamps: Option<Timestamps>,
    #[napi(ts_arg_type = "string | DetectorSpec | null")] detector: Option<SpecArg>,
) -> Result<Float64Array> {
    let mut d = build(detector, None)?;
    let values = input::values(&values);
    let timestamps = input::timestamps(timestamps.as_ref())?;
    if let Some(t) = &timestamps
        && t.len() != values.len()
    {
        return Err(js(oddsight_core::Error::Shape {
            what: "timestamps (one per value)",
            expected: values.len(),
            got: t.len(),
        }));
    }
    let mut scores = Vec::with_capacity(values.len());
    let mut last = i64::MIN;
    for (i, &value) in values.iter().enumerate() {
        let t = timestamps.as_ref().map_or_else(|| (i as i64).saturating_mul(input::IMPLICIT_STEP_MS), |t| t[i]);
        // As the command line does: backwards time is clamped, not refused.
        last = last.max(t);
        scores.push(d.observe(Point::new(last, value)).map_err(js)?.anomaly_score);
    }
    Ok(Float64Array::new(scores))
}

/// A detector name accepted in specifications, with what it builds.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct DetectorInfo {
    /// The name (`"mad"`, `"ensemble"`, …).
    pub name: String,
    /// What it builds.
    pub description: String,
}

/// The specification `"default"` stands for.
#[napi]
pub const DEFAULT_SPEC: &str = oddsight_detectors::DEFAULT_SPEC;
