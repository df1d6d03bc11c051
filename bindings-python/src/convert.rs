//! Python inputs to Rust slices and back: numpy arrays are read in place when they are
//! contiguous and of the right dtype; anything else (lists, other dtypes, pandas and polars
//! series, datetimes, ISO strings) is converted once.

use crate::errors::{Failure, raise};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use oddsight_examples::timestamp::{NumericUnit, TimestampParser};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

/// A 1-D input, borrowed from a numpy array where possible.
#[derive(Debug)]
pub(crate) enum Column<'py, T: numpy::Element> {
    /// A contiguous array of the right dtype, read in place.
    Borrowed(PyReadonlyArray1<'py, T>),
    /// Converted (or generated) data.
    Owned(Vec<T>),
}

impl<T: numpy::Element + Copy> Column<'_, T> {
    /// The data. For a borrowed array that is not contiguous, copies it first.
    pub(crate) fn slice(&mut self) -> &[T] {
        if let Column::Borrowed(a) = self
            && a.as_slice().is_err()
        {
            *self = Column::Owned(a.as_array().to_vec());
        }
        match self {
            Column::Borrowed(a) => a.as_slice().unwrap_or(&[]),
            Column::Owned(v) => v,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Column::Borrowed(a) => a.len(),
            Column::Owned(v) => v.len(),
        }
    }
}

/// `values`: a 1-D float64 array in place, or anything numpy can turn into one (converted
/// once, by `numpy.asarray`, so pandas and polars series take numpy's fast path).
pub(crate) fn values<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Column<'py, f64>> {
    if let Ok(a) = obj.cast::<PyArray1<f64>>() {
        return Ok(Column::Borrowed(a.readonly()));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("values must be a 1-D sequence of numbers, got a str"));
    }
    let py = obj.py();
    let np = NUMPY.get_or_try_init(py, || py.import("numpy").map(Bound::unbind))?.bind(py);
    let converted = np
        .call_method1("asarray", (obj, np.getattr("float64")?))
        .map_err(|e| PyTypeError::new_err(format!("values must be a 1-D sequence of numbers: {e}")))?;
    match converted.cast_into::<PyArray1<f64>>() {
        Ok(a) => Ok(Column::Borrowed(a.readonly())),
        Err(e) => {
            let ndim = e.into_inner().getattr("ndim").and_then(|n| n.extract::<usize>()).unwrap_or(0);
            raise("ShapeMismatch", format!("shape mismatch: values must be 1-D, got {ndim}-D"))
        }
    }
}

static NUMPY: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

static CONVERT: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// A function of `oddsight._convert`, the Python half of the conversions (datetimes, pandas
/// and polars objects: what Python knows best).
fn helper<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let module = CONVERT.get_or_try_init(py, || py.import("oddsight._convert").map(Bound::unbind))?;
    module.bind(py).getattr(name)
}

/// Spacing of points that come without timestamps: one minute, as in the monitor's `analyze`.
pub(crate) const IMPLICIT_STEP_MS: i64 = 60_000;

/// `timestamps` for `n` values: `None` gives `start`, then one minute apart;
/// an int64 array is read in place; datetime64 arrays, lists of ints, datetimes or ISO
/// strings are converted to Unix milliseconds once.
pub(crate) fn timestamps<'py>(
    py: Python<'py>,
    obj: Option<&Bound<'py, PyAny>>,
    n: usize,
    start: i64,
) -> PyResult<Column<'py, i64>> {
    let column = match obj {
        None => {
            return Ok(Column::Owned(
                (0..n as i64).map(|i| start.saturating_add(i.saturating_mul(IMPLICIT_STEP_MS))).collect(),
            ));
        }
        Some(o) if o.is_none() => return timestamps(py, None, n, start),
        Some(o) => match o.cast::<PyArray1<i64>>() {
            Ok(a) => Column::Borrowed(a.readonly()),
            Err(_) => {
                let converted = helper(py, "timestamps_ms")?.call1((o,))?;
                Column::Borrowed(converted.cast_into::<PyArray1<i64>>()?.readonly())
            }
        },
    };
    if column.len() != n {
        return raise(
            "ShapeMismatch",
            format!("shape mismatch: expected {n} timestamps (one per value), got {}", column.len()),
        );
    }
    Ok(column)
}

/// One timestamp: `None` gives `default`; an int is Unix milliseconds; datetimes, numpy
/// datetime64 and ISO strings are converted.
pub(crate) fn timestamp(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>, default: i64) -> PyResult<i64> {
    match obj {
        None => Ok(default),
        Some(o) if o.is_none() => Ok(default),
        Some(o) => match o.extract::<i64>() {
            Ok(t) => Ok(t),
            Err(_) => helper(py, "timestamp_ms")?.call1((o,))?.extract(),
        },
    }
}

/// Parses timestamps the way `oddsight score` reads its timestamp column (one parser over the
/// whole list, so `auto` decides the numeric unit from the first number, as for a file).
pub(crate) fn parse_timestamps(texts: &[String]) -> Result<Vec<i64>, Failure> {
    let mut parser = TimestampParser::new(NumericUnit::Auto);
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            parser
                .parse(t.as_bytes())
                .map_err(|e| Failure::new("InvalidData", format!("timestamp {i} ({t:?}) cannot be read: {}", e.reason)))
        })
        .collect()
}

static JSON: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn json_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    Ok(JSON.get_or_try_init(py, || py.import("json").map(Bound::unbind))?.bind(py))
}

/// A serialisable Rust value as plain Python objects (dicts, lists, str, int, float, bool,
/// None), through its JSON form.
pub(crate) fn to_python<'py, T: serde::Serialize + ?Sized>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::new("InvalidData", format!("cannot convert the result to Python: {e}")))?;
    json_module(py)?.call_method1("loads", (text,))
}

/// A Python object (a dict, or a JSON string as it is) as JSON text.
pub(crate) fn to_json_text(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.extract::<String>() {
        return Ok(s);
    }
    json_module(py)?.call_method1("dumps", (obj,))?.extract()
}
