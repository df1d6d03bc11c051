//! Rust errors to Python exceptions: one table from every error code of the workspace to a
//! class of `oddsight._errors` (a hierarchy rooted at `OddsightError`, defined in Python so
//! that classes can also derive from `ValueError`, `LookupError`, `OSError`).

use oddsight_detectors::monitor::MonitorError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// An error on its way to Python: the Rust error code and its message. Built without the GIL
/// (inside released sections), raised with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }

    /// The same failure with `context` before its message (`at index 3: …`).
    pub(crate) fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl From<oddsight_core::Error> for Failure {
    fn from(e: oddsight_core::Error) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<oddsight_detectors::Error> for Failure {
    fn from(e: oddsight_detectors::Error) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<MonitorError> for Failure {
    fn from(e: MonitorError) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

/// The exception class for an error code. Every code a Rust error of the workspace can carry
/// is listed (a test in `tests/test_errors.py` checks each has its class, and the unit test
/// below checks the Rust side still produces only these); an unknown code (a kind added in Rust
/// and not yet here) still raises, as the base class.
pub(crate) fn class_name(code: &str) -> &'static str {
    match code {
        // oddsight-core
        "InvalidParameter" => "InvalidParameter",
        "NonFiniteValue" => "NonFiniteValue",
        "OutOfOrder" => "OutOfOrder",
        "EmptyInput" => "EmptyInput",
        "ShapeMismatch" => "ShapeMismatch",
        "MalformedSnapshot" => "MalformedSnapshot",
        "IncompatibleSnapshot" => "IncompatibleSnapshot",
        "LateEvent" => "LateEvent",
        // oddsight-detectors
        "InvalidSpec" => "InvalidSpec",
        "IoError" => "IoError",
        "InvalidData" => "InvalidData",
        // oddsight-detectors, the monitor
        "InvalidSeries" => "InvalidSeries",
        "InvalidSelector" => "InvalidSelector",
        "UnknownTarget" => "UnknownTarget",
        "DuplicateTarget" => "DuplicateTarget",
        "UnknownSeries" => "UnknownSeries",
        "UnknownAlert" => "UnknownAlert",
        "AlertClosed" => "AlertClosed",
        "InvalidConfig" => "InvalidConfig",
        // oddsight-investigate (IoError and InvalidParameter shared with the above)
        "InvalidCase" => "InvalidCase",
        "RateLimited" => "RateLimited",
        "AuthFailed" => "AuthFailed",
        "ContextOverflow" => "ContextOverflow",
        "Timeout" => "Timeout",
        "HttpError" => "HttpError",
        "MalformedReply" => "MalformedReply",
        "UnexpectedAnswer" => "UnexpectedAnswer",
        "ReplayDiverged" => "ReplayDiverged",
        "ActionFailed" => "ActionFailed",
        "JsonError" => "JsonError",
        _ => "OddsightError",
    }
}

/// Every error code with its own exception class, in the order of [`class_name`].
pub(crate) const CODES: &[&str] = &[
    "InvalidParameter",
    "NonFiniteValue",
    "OutOfOrder",
    "EmptyInput",
    "ShapeMismatch",
    "MalformedSnapshot",
    "IncompatibleSnapshot",
    "LateEvent",
    "InvalidSpec",
    "IoError",
    "InvalidData",
    "InvalidSeries",
    "InvalidSelector",
    "UnknownTarget",
    "DuplicateTarget",
    "UnknownSeries",
    "UnknownAlert",
    "AlertClosed",
    "InvalidConfig",
    "InvalidCase",
    "RateLimited",
    "AuthFailed",
    "ContextOverflow",
    "Timeout",
    "HttpError",
    "MalformedReply",
    "UnexpectedAnswer",
    "ReplayDiverged",
    "ActionFailed",
    "JsonError",
];

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn exception_type<'py>(py: Python<'py>, code: &str) -> PyResult<Bound<'py, PyType>> {
    let module = ERRORS.get_or_try_init(py, || py.import("oddsight._errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(class_name(code))?.cast_into::<PyType>()?)
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> Self {
        Python::attach(|py| match exception_type(py, f.code) {
            Ok(ty) => PyErr::from_type(ty, f.message),
            // Only if the package's own Python half is missing: still an exception, never a crash.
            Err(e) => PyRuntimeError::new_err(format!("{} ({}; oddsight._errors: {e})", f.message, f.code)),
        })
    }
}

/// Raises the exception of `code` (for errors found on the Python side of a conversion).
pub(crate) fn raise<T>(code: &'static str, message: impl Into<String>) -> PyResult<T> {
    Err(Failure::new(code, message).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_list_agree() {
        for code in CODES {
            assert_eq!(class_name(code), *code);
        }
        assert_eq!(class_name("SomethingNew"), "OddsightError");
    }

    /// Every kind of the core and detector errors has its own class (not the fallback).
    #[test]
    fn every_rust_code_has_a_class() {
        use oddsight_core::Error as E;
        let core = [
            E::InvalidParameter { name: "a", reason: "b", value: "c".into() },
            E::NonFinite { what: "value", value: f64::NAN },
            E::OutOfOrder { timestamp: 1, last: 2 },
            E::Empty { what: "values" },
            E::Shape { what: "x", expected: 1, got: 2 },
            E::Snapshot { reason: "r".into(), source: None },
            E::SnapshotVersion { kind: "k".into(), version: 1, expected_kind: "j".into(), expected_version: 2 },
            E::LateEvent { timestamp: 1, closed_at: 2 },
        ];
        for e in core {
            assert_ne!(class_name(e.code()), "OddsightError", "{}", e.code());
        }
        let detectors = [
            oddsight_detectors::Error::Spec { spec: "s".into(), position: 0, reason: "r".into() },
            oddsight_detectors::Error::Io { path: "p".into(), source: std::io::Error::other("x") },
            oddsight_detectors::Error::Data { path: "p".into(), row: 1, reason: "r".into() },
        ];
        for e in detectors {
            assert_ne!(class_name(e.code()), "OddsightError", "{}", e.code());
        }
        let monitor = [
            MonitorError::InvalidSeries { text: "t".into(), position: 0, reason: "r".into() },
            MonitorError::InvalidSelector { text: "t".into(), position: 0, reason: "r".into() },
            MonitorError::InvalidTarget { target: "t".into(), field: "f", reason: "r".into() },
            MonitorError::UnknownTarget { name: "n".into() },
            MonitorError::DuplicateTarget { name: "n".into() },
            MonitorError::UnknownSeries { id: 1 },
            MonitorError::UnknownAlert { id: 1 },
            MonitorError::AlertClosed { id: 1 },
            MonitorError::NonFinite { series: "s".into(), index: 0, value: f64::NAN },
            MonitorError::OutOfOrder { series: "s".into(), timestamp: 1, last: 2 },
            MonitorError::Shape { values: 1, timestamps: 2 },
            MonitorError::Config { reason: "r".into() },
        ];
        for e in monitor {
            assert_ne!(class_name(e.code()), "OddsightError", "{}", e.code());
        }
    }
}
