//! Rust errors to thrown JavaScript errors whose `code` names the kind.
//!
//! Every oddsight error type has a `code()` with the names the Python exception classes use;
//! the JavaScript `Error` carries it as `err.code` and the Rust message as `err.message`.

use napi::bindgen_prelude::{Env, JsError};

/// The `code` of a thrown error: one of the names listed in `index.d.ts` (`ErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// An error on its way to JavaScript.
pub type Error = napi::Error<Code>;

/// `Result` of the bound functions: thrown with `err.code` set.
pub type Result<T> = std::result::Result<T, Error>;

/// An error with `code` and `message`.
pub(crate) fn error(code: &'static str, message: impl std::fmt::Display) -> Error {
    napi::Error::new(Code(code), message.to_string())
}

/// Errors of the oddsight crates: anything with a stable `code()`.
pub(crate) trait Coded: std::fmt::Display {
    fn code(&self) -> &'static str;
}

impl Coded for oddsight_core::Error {
    fn code(&self) -> &'static str {
        oddsight_core::Error::code(self)
    }
}

impl Coded for oddsight_detectors::Error {
    fn code(&self) -> &'static str {
        oddsight_detectors::Error::code(self)
    }
}

impl Coded for oddsight_detectors::monitor::MonitorError {
    fn code(&self) -> &'static str {
        oddsight_detectors::monitor::MonitorError::code(self)
    }
}

impl Coded for oddsight_investigate::Error {
    fn code(&self) -> &'static str {
        oddsight_investigate::Error::code(self)
    }
}

/// Converts an oddsight error: `.map_err(js)`.
pub(crate) fn js<E: Coded>(e: E) -> Error {
    // One line, as the command line prints it.
    error(e.code(), e.to_string().replace('\n', " "))
}

/// An error built off the main thread (an `AsyncTask`), kept as code and message until it can
/// become a JavaScript value.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl Pending {
    /// An error made on the main thread, to be reported by the promise rather than thrown.
    pub(crate) fn from_error(e: Error) -> Self {
        Pending { code: e.status.0, message: e.reason }
    }

    pub(crate) fn of<E: Coded>(e: &E) -> Self {
        Pending { code: e.code(), message: e.to_string().replace('\n', " ") }
    }

    /// The error a task rejects its promise with. `Task::reject` only takes napi's own status
    /// codes, so the JavaScript error is built here, with its `code`, and handed back as a
    /// retained value, which napi rejects with as it is.
    pub(crate) fn into_rejection(self, env: Env) -> napi::Error {
        let value = JsError::from(error(self.code, self.message)).into_unknown(env);
        napi::Error::from(value)
    }
}

/// Every `code` oddsight throws, as the Python bindings list them in `ERROR_CODES`.
pub const CODES: &[&str] = &[
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
    "Unreachable",
    "HttpError",
    "MalformedReply",
    "UnexpectedAnswer",
    "ReplayDiverged",
    "ActionFailed",
    "JsonError",
];
