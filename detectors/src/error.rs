//! The error type of `oddsight-detectors`.

/// Everything that can go wrong in `oddsight-detectors` outside the streaming verbs (which
/// return [`oddsight_core::Error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the core: bad parameter, non-finite value, out-of-order timestamp,
    /// malformed snapshot.
    #[error(transparent)]
    Core(#[from] oddsight_core::Error),
    /// A detector specification could not be parsed or names something unknown.
    #[error("invalid detector spec at byte {position}: {reason} (in {spec:?})")]
    Spec {
        /// The specification as given.
        spec: String,
        /// Byte offset of the problem.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// A data file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed.
    #[error("{path}: row {row}: {reason}")]
    Data {
        /// The file.
        path: String,
        /// 1-based row number (the header is row 1).
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// A cell of a matrix input (rows × metrics) was NaN or infinite.
    #[error("non-finite {what} at row {row}, column {column}: {value}")]
    NonFiniteAt {
        /// What the matrix is (`forest training value`, `pca input`, …).
        what: &'static str,
        /// 0-based row.
        row: usize,
        /// 0-based column.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A request this build cannot serve (for instance a width past a compiled-in limit).
    #[error("unsupported: {what}")]
    Unsupported {
        /// What was asked and the limit.
        what: String,
    },
    /// A numerical routine of a dependency failed on the given data.
    #[error("{what} failed: {reason}")]
    Numeric {
        /// The routine (`pca fit`, `dbscan`, …).
        what: &'static str,
        /// Its message.
        reason: String,
    },
}

impl Error {
    /// A stable name for the error's kind, shared with the bindings (`err.code` in Node, the
    /// exception class in Python).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Core(e) => e.code(),
            Error::Spec { .. } => "InvalidSpec",
            Error::Io { .. } => "IoError",
            Error::Data { .. } => "InvalidData",
            Error::NonFiniteAt { .. } => "NonFiniteValue",
            Error::Unsupported { .. } => "InvalidParameter",
            Error::Numeric { .. } => "InvalidData",
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
