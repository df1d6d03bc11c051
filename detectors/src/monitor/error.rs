//! The monitor's error type.

/// Everything the [`Monitor`](super::Monitor) can refuse. Every call that returns one leaves the
/// monitor exactly as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// A series name (`name{key="value",…}`) could not be parsed.
    #[error("invalid series name at byte {position}: {reason} (in {text:?})")]
    InvalidSeries {
        /// The text as given (at most 200 characters of it).
        text: String,
        /// Byte offset of the problem.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// A target selector (`name`, `{key="value"}`, `name{key!="value"}`, `*`) could not be parsed.
    #[error("invalid selector at byte {position}: {reason} (in {text:?})")]
    InvalidSelector {
        /// The text as given (at most 200 characters of it).
        text: String,
        /// Byte offset of the problem.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// A target's definition is invalid (empty name, interval not positive, …).
    #[error("invalid target {target:?}: {field} {reason}")]
    InvalidTarget {
        /// The target's name.
        target: String,
        /// The offending field.
        field: &'static str,
        /// What it must satisfy, with the rejected value.
        reason: String,
    },
    /// A target's detector specification or alert policy was rejected.
    #[error("target {target:?}: {source}")]
    TargetSpec {
        /// The target's name.
        target: String,
        /// Why: an invalid spec, an unknown detector or parameter, a parameter out of range.
        #[source]
        source: crate::Error,
    },
    /// No target has this name.
    #[error("unknown target {name:?}")]
    UnknownTarget {
        /// The name asked for.
        name: String,
    },
    /// A target with this name already exists.
    #[error("duplicate target {name:?}: target names must be unique")]
    DuplicateTarget {
        /// The name given twice.
        name: String,
    },
    /// A series id that this monitor never handed out.
    #[error("unknown series id {id}")]
    UnknownSeries {
        /// The id.
        id: u32,
    },
    /// No alert with this id is open or in the history.
    #[error("unknown alert {id}: not open and no longer in the history")]
    UnknownAlert {
        /// The id asked for.
        id: u64,
    },
    /// The alert has already been resolved.
    #[error("alert {id} is already resolved")]
    AlertClosed {
        /// The alert.
        id: u64,
    },
    /// A value was NaN or infinite.
    #[error("non-finite value {value} for series {series} at index {index} of the batch")]
    NonFinite {
        /// The series.
        series: String,
        /// Position in the batch.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A timestamp went backwards within one series.
    #[error("out-of-order timestamp for series {series}: {timestamp} ms is before the last accepted {last} ms")]
    OutOfOrder {
        /// The series.
        series: String,
        /// The rejected timestamp (Unix ms).
        timestamp: i64,
        /// The newest timestamp the series has accepted.
        last: i64,
    },
    /// Timestamps and values of a batch differ in length.
    #[error("shape mismatch: {values} values but {timestamps} timestamps")]
    Shape {
        /// Number of values.
        values: usize,
        /// Number of timestamps.
        timestamps: usize,
    },
    /// An ad-hoc analysis named a method that is neither `batch_robust_z` nor a detector spec.
    #[error("unknown analysis method {method:?}: {source}")]
    UnknownMethod {
        /// The method as given.
        method: String,
        /// Why the detector specification was rejected.
        #[source]
        source: crate::Error,
    },
    /// A point a target's detector refuses (a negative count, an error ratio above 1, …).
    #[error("target {target:?} rejects the point at index {index} of the batch for series {series}: {source}")]
    Rejected {
        /// The target whose detector refused it.
        target: String,
        /// The series.
        series: String,
        /// Position in the batch.
        index: usize,
        /// The detector's reason.
        #[source]
        source: oddsight_core::Error,
    },
    /// Anything else from the core: an empty input, a malformed or incompatible snapshot.
    #[error(transparent)]
    Core(#[from] oddsight_core::Error),
    /// A configuration could not be read.
    #[error("invalid monitor configuration: {reason}")]
    Config {
        /// What is wrong, with the JSON parser's position when it has one.
        reason: String,
    },
}

impl MonitorError {
    /// A stable name for the error's kind, shared with the bindings (`err.code` in Node, the
    /// exception class in Python). Kinds the core or the detector crate already name keep
    /// their names (`NonFiniteValue`, `OutOfOrder`, `InvalidSpec`, `MalformedSnapshot`, …).
    pub fn code(&self) -> &'static str {
        match self {
            MonitorError::InvalidSeries { .. } => "InvalidSeries",
            MonitorError::InvalidSelector { .. } => "InvalidSelector",
            MonitorError::InvalidTarget { .. } => "InvalidParameter",
            MonitorError::TargetSpec { source, .. } | MonitorError::UnknownMethod { source, .. } => source.code(),
            MonitorError::UnknownTarget { .. } => "UnknownTarget",
            MonitorError::DuplicateTarget { .. } => "DuplicateTarget",
            MonitorError::UnknownSeries { .. } => "UnknownSeries",
            MonitorError::UnknownAlert { .. } => "UnknownAlert",
            MonitorError::AlertClosed { .. } => "AlertClosed",
            MonitorError::NonFinite { .. } => "NonFiniteValue",
            MonitorError::OutOfOrder { .. } => "OutOfOrder",
            MonitorError::Shape { .. } => "ShapeMismatch",
            MonitorError::Rejected { source, .. } => source.code(),
            MonitorError::Core(e) => e.code(),
            MonitorError::Config { .. } => "InvalidConfig",
        }
    }
}

/// `Result` with [`MonitorError`].
pub type MonitorResult<T, E = MonitorError> = std::result::Result<T, E>;
