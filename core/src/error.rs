//! The one error type of `oddsight-core`.

use std::fmt;

/// Everything that can go wrong in `oddsight-core`.
///
/// Every variant carries the offending value so that a message read in a log (or raised as a
/// Python exception, or thrown in Node with `err.code` set to [`Error::code`]) says what to fix.
/// A call that returns an error leaves the state it was called on exactly as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of its documented range.
    #[error("invalid parameter {name}: {reason}, got {value}")]
    InvalidParameter {
        /// Name of the parameter, as spelled in the params struct.
        name: &'static str,
        /// What the parameter must satisfy.
        reason: &'static str,
        /// The rejected value, formatted.
        value: String,
    },
    /// A value (or timestamp-derived quantity) was NaN or infinite.
    #[error("non-finite {what}: {value}")]
    NonFinite {
        /// What was non-finite (`value`, `score`, …).
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A timestamp went backwards.
    #[error("out-of-order timestamp: {timestamp} ms is before the last accepted {last} ms")]
    OutOfOrder {
        /// The rejected timestamp (Unix milliseconds).
        timestamp: i64,
        /// The newest timestamp already accepted.
        last: i64,
    },
    /// An input that must not be empty was empty.
    #[error("empty input: {what}")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
    /// Two inputs that must have the same length (or a row its expected width) did not.
    #[error("shape mismatch: expected {expected} {what}, got {got}")]
    Shape {
        /// What was measured (`timestamps`, `columns`, …).
        what: &'static str,
        /// The expected length or width.
        expected: usize,
        /// The length or width received.
        got: usize,
    },
    /// A snapshot could not be parsed or does not describe a valid state.
    #[error("malformed snapshot: {reason}")]
    Snapshot {
        /// What was wrong with it.
        reason: String,
        /// The underlying parse error, when there was one.
        #[source]
        source: Option<SnapshotSource>,
    },
    /// A snapshot has a kind or version this build cannot restore.
    #[error("incompatible snapshot: expected {expected_kind} v{expected_version}, got {kind} v{version}")]
    SnapshotVersion {
        /// Kind found in the envelope.
        kind: String,
        /// Version found in the envelope.
        version: u32,
        /// Kind this type restores.
        expected_kind: String,
        /// Highest version this type restores.
        expected_version: u32,
    },
    /// An event arrived for an interval that has already been closed.
    #[error("late event: {timestamp} ms belongs to a window that closed at {closed_at} ms")]
    LateEvent {
        /// Timestamp of the event.
        timestamp: i64,
        /// End of the newest closed window.
        closed_at: i64,
    },
}

/// The parse error behind an [`Error::Snapshot`], kept opaque so that the JSON library does not
/// become part of this crate's public API.
#[derive(Debug)]
pub struct SnapshotSource(pub(crate) serde_json::Error);

impl fmt::Display for SnapshotSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SnapshotSource {}

impl Error {
    /// A stable, machine-readable name for the error's kind. The Python exception classes and
    /// the Node `err.code` values use exactly these names.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidParameter { .. } => "InvalidParameter",
            Error::NonFinite { .. } => "NonFiniteValue",
            Error::OutOfOrder { .. } => "OutOfOrder",
            Error::Empty { .. } => "EmptyInput",
            Error::Shape { .. } => "ShapeMismatch",
            Error::Snapshot { .. } => "MalformedSnapshot",
            Error::SnapshotVersion { .. } => "IncompatibleSnapshot",
            Error::LateEvent { .. } => "LateEvent",
        }
    }

    pub(crate) fn param(name: &'static str, reason: &'static str, value: impl fmt::Display) -> Self {
        Error::InvalidParameter { name, reason, value: value.to_string() }
    }

    pub(crate) fn snapshot(reason: impl Into<String>) -> Self {
        Error::Snapshot { reason: reason.into(), source: None }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` is finite.
pub(crate) fn finite(what: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() { Ok(value) } else { Err(Error::NonFinite { what, value }) }
}

/// Parameter checks shared by every params struct, so that each message reads the same way.
pub(crate) mod check {
    use super::{Error, Result};

    pub(crate) fn open_unit(name: &'static str, v: f64) -> Result<()> {
        if v > 0.0 && v < 1.0 { Ok(()) } else { Err(Error::param(name, "must be in (0, 1)", v)) }
    }
    pub(crate) fn half_open_unit(name: &'static str, v: f64) -> Result<()> {
        if v > 0.0 && v <= 1.0 { Ok(()) } else { Err(Error::param(name, "must be in (0, 1]", v)) }
    }
    pub(crate) fn unit(name: &'static str, v: f64) -> Result<()> {
        if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(Error::param(name, "must be in [0, 1]", v)) }
    }
    pub(crate) fn positive(name: &'static str, v: f64) -> Result<()> {
        if v > 0.0 && v.is_finite() { Ok(()) } else { Err(Error::param(name, "must be finite and > 0", v)) }
    }
    pub(crate) fn non_negative(name: &'static str, v: f64) -> Result<()> {
        if v >= 0.0 && v.is_finite() { Ok(()) } else { Err(Error::param(name, "must be finite and >= 0", v)) }
    }
    pub(crate) fn range_usize(name: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                name,
                reason: "is out of range",
                value: format!("{v} (allowed {lo}..={hi})"),
            })
        }
    }
    pub(crate) fn positive_ms(name: &'static str, v: i64) -> Result<()> {
        if v > 0 { Ok(()) } else { Err(Error::param(name, "must be > 0 ms", v)) }
    }
    pub(crate) fn non_negative_ms(name: &'static str, v: i64) -> Result<()> {
        if v >= 0 { Ok(()) } else { Err(Error::param(name, "must be >= 0 ms", v)) }
    }
}
