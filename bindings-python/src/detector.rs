//! `Detector`, `Verdict` and `score`: any detector specification, streamed from Python.

use crate::convert::{self, Column};
use crate::errors::{Failure, raise};
use numpy::{IntoPyArray, PyArray1};
use oddsight_core::{Detector, Direction, Point, Verdict, check_batch};
use oddsight_detectors::spec::{DetectorSpec, SpecValue};
use oddsight_detectors::{AnyDetector, DEFAULT_SPEC, NAMES};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDelta, PyDeltaAccess, PyDict, PyFloat, PyInt, PyString, PyTuple};
use std::sync::{Mutex, MutexGuard, TryLockError};

/// Points handed to the detector per call in batch work: bounds the memory of the verdicts
/// in flight (a million verdicts would be ~150 MB) while keeping any batch override in use.
const CHUNK: usize = 8192;

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Neutral => "neutral",
    }
}

/// What a detector concluded about one point.
#[pyclass(module = "oddsight", name = "Verdict", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyVerdict {
    pub(crate) inner: Verdict,
}

#[pymethods]
impl PyVerdict {
    /// Timestamp of the judged point (Unix ms).
    #[getter]
    fn timestamp(&self) -> i64 {
        self.inner.timestamp
    }
    #[getter]
    fn value(&self) -> f64 {
        self.inner.value
    }
    #[getter]
    fn expected(&self) -> f64 {
        self.inner.expected
    }
    #[getter]
    fn lower(&self) -> f64 {
        self.inner.lower
    }
    #[getter]
    fn upper(&self) -> f64 {
        self.inner.upper
    }
    #[getter]
    fn z(&self) -> f64 {
        self.inner.z
    }
    #[getter]
    fn p_value(&self) -> f64 {
        self.inner.p_value
    }
    #[getter]
    fn anomaly_score(&self) -> f64 {
        self.inner.anomaly_score
    }
    /// Alias of `anomaly_score`.
    #[getter]
    fn score(&self) -> f64 {
        self.inner.anomaly_score
    }
    #[getter]
    fn is_anomaly(&self) -> bool {
        self.inner.is_anomaly
    }
    #[getter]
    fn direction(&self) -> &'static str {
        direction_name(self.inner.direction)
    }
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.as_str()
    }
    #[getter]
    fn severity_score(&self) -> f64 {
        self.inner.severity_score
    }
    #[getter]
    fn confidence(&self) -> f64 {
        self.inner.confidence
    }
    #[getter]
    fn component(&self) -> &str {
        &self.inner.component
    }
    #[getter]
    fn warm(&self) -> bool {
        self.inner.warm
    }
    #[getter]
    fn scale_floored(&self) -> bool {
        self.inner.notes.scale_floored
    }
    #[getter]
    fn excluded(&self) -> bool {
        self.inner.notes.excluded
    }
    #[getter]
    fn gap(&self) -> bool {
        self.inner.notes.gap
    }
    #[getter]
    fn fallback(&self) -> bool {
        self.inner.notes.fallback
    }
    /// The qualifying flags as a dict.
    #[getter]
    fn notes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, &self.inner.notes)
    }
    /// `value - expected`.
    #[getter]
    fn deviation(&self) -> f64 {
        self.inner.deviation()
    }
    /// One line a person can read.
    fn explain(&self) -> String {
        self.inner.explain()
    }
    /// Every field as a plain dict (the JSON form of the Rust verdict).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, &self.inner)
    }
    /// The verdict's JSON, as Rust writes it.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner)
            .map_err(|e| Failure::new("InvalidData", format!("cannot serialise the verdict: {e}")).into())
    }
    /// A verdict from its JSON form.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        serde_json::from_str(text)
            .map(|inner| PyVerdict { inner })
            .map_err(|e| Failure::new("InvalidData", format!("not a verdict: {e}")).into())
    }
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_json = slf.get_type().getattr("from_json")?;
        Ok((from_json, (slf.get().to_json()?,)))
    }
    fn __repr__(&self) -> String {
        let v = &self.inner;
        format!(
            "Verdict(timestamp={}, value={:?}, expected={:?}, anomaly_score={:?}, is_anomaly={}, direction='{}', severity='{}', warm={}, component='{}')",
            v.timestamp,
            v.value,
            v.expected,
            v.anomaly_score,
            if v.is_anomaly { "True" } else { "False" },
            direction_name(v.direction),
            v.severity,
            if v.warm { "True" } else { "False" },
            v.component
        )
    }
}

/// A detector specification with keyword parameters added (`Detector("mad", window=60)`).
fn spec_with_params(spec: &str, params: Option<&Bound<'_, PyDict>>) -> PyResult<DetectorSpec> {
    let mut parsed = DetectorSpec::from_json(spec).map_err(Failure::from)?;
    let Some(params) = params else { return Ok(parsed) };
    for (key, value) in params.iter() {
        let key: String = key.extract()?;
        let v = if value.is_instance_of::<PyBool>() {
            SpecValue::Bool(value.extract()?)
        } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
            SpecValue::Number(value.extract()?)
        } else if let Ok(delta) = value.cast::<PyDelta>() {
            let ms = (i64::from(delta.get_days()) * 86_400 + i64::from(delta.get_seconds())) * 1000
                + i64::from(delta.get_microseconds()) / 1000;
            SpecValue::Number(ms as f64)
        } else if value.is_instance_of::<PyString>() {
            let text: String = value.extract()?;
            // Read as the spec grammar reads it, so `period="1w"` is a duration.
            DetectorSpec::parse(&format!("x({key}={text})"))
                .ok()
                .and_then(|s| s.params.get(&key).cloned())
                .unwrap_or(SpecValue::Word(text))
        } else {
            let ty = value.get_type().name()?;
            return Err(PyTypeError::new_err(format!(
                "parameter {key} must be a bool, number, str or timedelta, got {ty}"
            )));
        };
        parsed.params.insert(key, v);
    }
    Ok(parsed)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while the lock is held (nothing in the detectors panics on input);
    // if one ever did, the state is still a valid detector: keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A streaming detector for any specification.
#[pyclass(module = "oddsight", name = "Detector", frozen)]
#[derive(Debug)]
pub(crate) struct PyDetector {
    inner: Mutex<AnyDetector>,
}

impl PyDetector {
    pub(crate) fn from_detector(d: AnyDetector) -> Self {
        PyDetector { inner: Mutex::new(d) }
    }

    pub(crate) fn clone_detector(&self) -> AnyDetector {
        lock(&self.inner).clone()
    }

    /// Runs a short `f` on the detector: under the GIL when the lock is free, otherwise waits
    /// for it with the GIL released (another thread is in a long batch call).
    fn with<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut AnyDetector) -> R + Send) -> R {
        match self.inner.try_lock() {
            Ok(mut g) => f(&mut g),
            Err(TryLockError::Poisoned(e)) => f(&mut e.into_inner()),
            Err(TryLockError::WouldBlock) => py.detach(|| f(&mut lock(&self.inner))),
        }
    }

    /// Runs `f` on the detector and a point: the point's timestamp, when it has none, is taken
    /// under the same lock, so concurrent calls never hand out the same implicit time.
    fn on_point<R: Send>(
        &self,
        py: Python<'_>,
        value: f64,
        timestamp: Option<&Bound<'_, PyAny>>,
        f: impl FnOnce(&mut AnyDetector, Point) -> R + Send,
    ) -> PyResult<R> {
        let given = match timestamp {
            Some(t) if !t.is_none() => Some(convert::timestamp(py, Some(t), 0)?),
            _ => None,
        };
        Ok(self.with(py, |d| {
            let t = given.unwrap_or_else(|| next_timestamp(d));
            f(d, Point::new(t, value))
        }))
    }

    /// Converted batch inputs; timestamps are `None` when not given (made under the lock by
    /// [`implicit_or`]).
    fn batch_inputs<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        timestamps: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Column<'py, f64>, Option<Column<'py, i64>>)> {
        let values = convert::values(values)?;
        let timestamps = match timestamps {
            Some(t) if !t.is_none() => Some(convert::timestamps(py, Some(t), values.len(), 0)?),
            _ => None,
        };
        Ok((values, timestamps))
    }
}

/// The timestamp given to a point that comes without one: a minute after the newest learned,
/// 0 for a fresh detector (as the monitor's `analyze` spaces points without timestamps).
fn next_timestamp(d: &AnyDetector) -> i64 {
    d.last_timestamp().map_or(0, |t| t.saturating_add(convert::IMPLICIT_STEP_MS))
}

/// The given timestamps, or `n` implicit ones from the detector's next.
fn implicit_or<'a>(given: Option<&'a [i64]>, d: &AnyDetector, n: usize, buf: &'a mut Vec<i64>) -> &'a [i64] {
    match given {
        Some(t) => t,
        None => {
            let start = next_timestamp(d);
            buf.extend((0..n as i64).map(|i| start.saturating_add(i.saturating_mul(convert::IMPLICIT_STEP_MS))));
            buf
        }
    }
}

/// Verdicts of a batch as columns.
#[derive(Debug, Default)]
struct Columns {
    timestamp: Vec<i64>,
    value: Vec<f64>,
    expected: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    z: Vec<f64>,
    p_value: Vec<f64>,
    anomaly_score: Vec<f64>,
    is_anomaly: Vec<bool>,
    direction: Vec<&'static str>,
    severity: Vec<&'static str>,
    severity_score: Vec<f64>,
    confidence: Vec<f64>,
    component: Vec<String>,
    warm: Vec<bool>,
    scale_floored: Vec<bool>,
    excluded: Vec<bool>,
    gap: Vec<bool>,
    fallback: Vec<bool>,
}

impl Columns {
    fn push(&mut self, v: Verdict) {
        self.timestamp.push(v.timestamp);
        self.value.push(v.value);
        self.expected.push(v.expected);
        self.lower.push(v.lower);
        self.upper.push(v.upper);
        self.z.push(v.z);
        self.p_value.push(v.p_value);
        self.anomaly_score.push(v.anomaly_score);
        self.is_anomaly.push(v.is_anomaly);
        self.direction.push(direction_name(v.direction));
        self.severity.push(v.severity.as_str());
        self.severity_score.push(v.severity_score);
        self.confidence.push(v.confidence);
        // Mostly one component name repeated: share the previous String's content check.
        match self.component.last() {
            Some(last) if *last == *v.component => {
                let s = last.clone();
                self.component.push(s);
            }
            _ => self.component.push(v.component.into_owned()),
        }
        self.warm.push(v.warm);
        self.scale_floored.push(v.notes.scale_floored);
        self.excluded.push(v.notes.excluded);
        self.gap.push(v.notes.gap);
        self.fallback.push(v.notes.fallback);
    }

    fn into_dict(self, py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("timestamp", self.timestamp.into_pyarray(py))?;
        d.set_item("value", self.value.into_pyarray(py))?;
        d.set_item("expected", self.expected.into_pyarray(py))?;
        d.set_item("lower", self.lower.into_pyarray(py))?;
        d.set_item("upper", self.upper.into_pyarray(py))?;
        d.set_item("z", self.z.into_pyarray(py))?;
        d.set_item("p_value", self.p_value.into_pyarray(py))?;
        d.set_item("anomaly_score", self.anomaly_score.into_pyarray(py))?;
        d.set_item("is_anomaly", self.is_anomaly.into_pyarray(py))?;
        let np = py.import("numpy")?;
        d.set_item("direction", np.call_method1("asarray", (self.direction,))?)?;
        d.set_item("severity", np.call_method1("asarray", (self.severity,))?)?;
        d.set_item("severity_score", self.severity_score.into_pyarray(py))?;
        d.set_item("confidence", self.confidence.into_pyarray(py))?;
        d.set_item("component", np.call_method1("asarray", (self.component,))?)?;
        d.set_item("warm", self.warm.into_pyarray(py))?;
        d.set_item("scale_floored", self.scale_floored.into_pyarray(py))?;
        d.set_item("excluded", self.excluded.into_pyarray(py))?;
        d.set_item("gap", self.gap.into_pyarray(py))?;
        d.set_item("fallback", self.fallback.into_pyarray(py))?;
        Ok(d)
    }
}

/// Observes (or, with `learn == false`, scores) a whole batch, all-or-nothing for what can be
/// checked up front, in chunks, handing each verdict to `sink`.
fn run_batch(
    d: &mut AnyDetector,
    timestamps: &[i64],
    values: &[f64],
    learn: bool,
    mut sink: impl FnMut(Verdict),
) -> Result<(), Failure> {
    check_batch(d.last_timestamp(), timestamps, values)?;
    for (k, (t, v)) in timestamps.chunks(CHUNK).zip(values.chunks(CHUNK)).enumerate() {
        let verdicts = if learn { d.observe_batch(t, v) } else { d.score_batch(t, v) };
        let verdicts =
            verdicts.map_err(|e| Failure::from(e).context(format_args!("in the chunk at index {}", k * CHUNK)))?;
        verdicts.into_iter().for_each(&mut sink);
    }
    Ok(())
}

#[pymethods]
impl PyDetector {
    /// `Detector(spec="default", **params)`: keyword parameters are added to the
    /// specification's own (`Detector("mad", window=60)` is `mad(window=60)`).
    #[new]
    #[pyo3(signature = (spec = "default", **params))]
    fn new(spec: &str, params: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let spec = spec_with_params(spec, params)?;
        Ok(Self::from_detector(AnyDetector::from_spec(&spec).map_err(Failure::from)?))
    }

    /// Restores a detector from `snapshot()`'s string (from Python, Rust or Node alike).
    #[staticmethod]
    fn restore(snapshot: &str) -> PyResult<Self> {
        Ok(Self::from_detector(AnyDetector::restore(snapshot).map_err(Failure::from)?))
    }

    /// Detector names accepted in specifications, with a line on each.
    #[staticmethod]
    fn names() -> Vec<(&'static str, &'static str)> {
        NAMES.to_vec()
    }

    /// The detector's kind as written in specifications (`mad`, `ensemble`, …).
    #[getter]
    fn kind(&self, py: Python<'_>) -> &'static str {
        self.with(py, |d| d.kind_name())
    }

    /// Its name in verdicts and logs.
    #[getter]
    fn name(&self, py: Python<'_>) -> String {
        self.with(py, |d| d.name().into_owned())
    }

    /// The newest timestamp learned (Unix ms), or None.
    #[getter]
    fn last_timestamp(&self, py: Python<'_>) -> Option<i64> {
        self.with(py, |d| d.last_timestamp())
    }

    /// Judges the point, then learns it.
    #[pyo3(signature = (value, timestamp = None))]
    fn observe(&self, py: Python<'_>, value: f64, timestamp: Option<&Bound<'_, PyAny>>) -> PyResult<PyVerdict> {
        let inner = self.on_point(py, value, timestamp, |d, p| d.observe(p))?.map_err(Failure::from)?;
        Ok(PyVerdict { inner })
    }

    /// Judges the point without learning it.
    #[pyo3(signature = (value, timestamp = None))]
    fn score(&self, py: Python<'_>, value: f64, timestamp: Option<&Bound<'_, PyAny>>) -> PyResult<PyVerdict> {
        let inner = self.on_point(py, value, timestamp, |d, p| d.score(p))?.map_err(Failure::from)?;
        Ok(PyVerdict { inner })
    }

    /// Learns the point without judging it.
    #[pyo3(signature = (value, timestamp = None))]
    fn update(&self, py: Python<'_>, value: f64, timestamp: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        Ok(self.on_point(py, value, timestamp, |d, p| d.update(p))?.map_err(Failure::from)?)
    }

    /// Observes every point; returns their anomaly scores. All-or-nothing: a bad value or
    /// timestamp anywhere leaves the detector untouched. Runs with the GIL released.
    #[pyo3(signature = (values, timestamps = None))]
    fn observe_batch<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        timestamps: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.scores(py, values, timestamps, true)
    }

    /// Judges every point against the current state without learning any; returns the
    /// anomaly scores.
    #[pyo3(signature = (values, timestamps = None))]
    fn score_batch<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        timestamps: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.scores(py, values, timestamps, false)
    }

    /// Learns every point, all-or-nothing.
    #[pyo3(signature = (values, timestamps = None))]
    fn update_batch<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        timestamps: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<()> {
        let (mut vs, mut ts) = self.batch_inputs(py, values, timestamps)?;
        let (v, t) = (vs.slice(), ts.as_mut().map(|c| c.slice()));
        py.detach(|| {
            let mut d = lock(&self.inner);
            let mut buf = Vec::new();
            let t = implicit_or(t, &d, v.len(), &mut buf);
            d.update_batch(t, v).map_err(Failure::from)
        })?;
        Ok(())
    }

    /// Every verdict field of a batch as a dict of numpy columns (`learn=False` judges
    /// without learning).
    #[pyo3(signature = (values, timestamps = None, learn = true))]
    fn verdicts_batch<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        timestamps: Option<&Bound<'py, PyAny>>,
        learn: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (mut vs, mut ts) = self.batch_inputs(py, values, timestamps)?;
        let (v, t) = (vs.slice(), ts.as_mut().map(|c| c.slice()));
        let columns = py.detach(|| {
            let mut d = lock(&self.inner);
            let mut buf = Vec::new();
            let t = implicit_or(t, &d, v.len(), &mut buf);
            let mut columns = Columns::default();
            run_batch(&mut d, t, v, learn, |verdict| columns.push(verdict)).map(|()| columns)
        })?;
        columns.into_dict(py)
    }

    /// Forgets everything learned.
    fn reset(&self, py: Python<'_>) {
        self.with(py, |d| d.reset());
    }

    /// The whole state as a versioned JSON snapshot.
    fn snapshot(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.with(py, |d| d.snapshot()).map_err(Failure::from)?)
    }

    /// An independent copy.
    fn copy(&self) -> Self {
        Self::from_detector(self.clone_detector())
    }
    fn __copy__(&self) -> Self {
        self.copy()
    }
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.copy()
    }

    fn __getstate__(&self, py: Python<'_>) -> PyResult<String> {
        self.snapshot(py)
    }
    fn __setstate__(&self, py: Python<'_>, state: &str) -> PyResult<()> {
        let restored = AnyDetector::restore(state).map_err(Failure::from)?;
        self.with(py, |d| *d = restored);
        Ok(())
    }
    fn __getnewargs__<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        PyTuple::empty(py)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyDetector>() {
            Ok(o) => {
                let o = o.get();
                if std::ptr::eq(self, o) {
                    return true;
                }
                let mine = self.clone_detector();
                mine == o.clone_detector()
            }
            Err(_) => false,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (name, last) = self.with(py, |d| (d.name().into_owned(), d.last_timestamp()));
        match last {
            Some(t) => format!("Detector('{name}', last_timestamp={t})"),
            None => format!("Detector('{name}')"),
        }
    }
}

impl PyDetector {
    fn scores<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        timestamps: Option<&Bound<'py, PyAny>>,
        learn: bool,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (mut vs, mut ts) = self.batch_inputs(py, values, timestamps)?;
        let (v, t) = (vs.slice(), ts.as_mut().map(|c| c.slice()));
        let scores = py.detach(|| {
            let mut d = lock(&self.inner);
            let mut buf = Vec::new();
            let t = implicit_or(t, &d, v.len(), &mut buf);
            let mut scores = Vec::with_capacity(v.len());
            run_batch(&mut d, t, v, learn, |verdict| scores.push(verdict.anomaly_score)).map(|()| scores)
        })?;
        Ok(scores.into_pyarray(py))
    }
}

/// `score(values, timestamps=None, detector="default")`: anomaly scores of a series, exactly
/// as `oddsight score` computes them: each point judged against the ones before it, then
/// learned; a timestamp earlier than the one before is clamped to it.
#[pyfunction]
#[pyo3(signature = (values, timestamps = None, detector = None))]
pub(crate) fn score<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    timestamps: Option<&Bound<'py, PyAny>>,
    detector: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let mut d = match detector {
        None => AnyDetector::parse(DEFAULT_SPEC).map_err(Failure::from)?,
        Some(o) if o.is_none() => AnyDetector::parse(DEFAULT_SPEC).map_err(Failure::from)?,
        Some(o) => match o.cast::<PyDetector>() {
            // A copy: the caller's detector is left as it is.
            Ok(existing) => existing.get().clone_detector(),
            Err(_) => match o.extract::<String>() {
                Ok(spec) => AnyDetector::parse(&spec).map_err(Failure::from)?,
                Err(_) => return Err(PyTypeError::new_err("detector must be a specification str or a Detector")),
            },
        },
    };
    let mut vs = convert::values(values)?;
    let start = next_timestamp(&d);
    let mut ts = convert::timestamps(py, timestamps, vs.len(), start)?;
    let (v, t) = (vs.slice(), ts.slice());
    let scores = py.detach(|| -> Result<Vec<f64>, Failure> {
        let mut scores = Vec::with_capacity(v.len());
        let mut last = d.last_timestamp().unwrap_or(i64::MIN);
        for (i, (&t, &value)) in t.iter().zip(v).enumerate() {
            last = last.max(t);
            let verdict = d
                .observe(Point::new(last, value))
                .map_err(|e| Failure::from(e).context(format_args!("at index {i}")))?;
            // `+ 0.0` turns a -0 score into 0, as the command line writes it.
            scores.push(verdict.anomaly_score + 0.0);
        }
        Ok(scores)
    })?;
    Ok(scores.into_pyarray(py))
}

/// Parses timestamps as `oddsight score` reads them (ISO 8601, `YYYY-MM-DD HH:MM:SS`, Unix
/// seconds or milliseconds) into Unix milliseconds.
#[pyfunction]
pub(crate) fn parse_timestamps<'py>(py: Python<'py>, texts: Vec<String>) -> PyResult<Bound<'py, PyArray1<i64>>> {
    Ok(convert::parse_timestamps(&texts)?.into_pyarray(py))
}

/// One timestamp, as [`parse_timestamps`] reads it.
#[pyfunction]
pub(crate) fn parse_timestamp(text: String) -> PyResult<i64> {
    match convert::parse_timestamps(std::slice::from_ref(&text))?.first() {
        Some(&t) => Ok(t),
        None => raise("InvalidData", "no timestamp"),
    }
}
