//! The one error type of `oddsight-investigate`.

use std::fmt;

/// Everything that can go wrong in `oddsight-investigate`.
///
/// Every variant names the offending input, so that a message read in a log says what to fix;
/// [`Error::code`] gives a stable name for bindings (`err.code` in Node, the exception class in
/// Python).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of a case directory (or any other file) could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A case file is malformed.
    #[error("{path}: {location}: {reason}")]
    Case {
        /// The file, as given.
        path: String,
        /// Where in the file (`row 3`, `line 7`, `header`, `whole file`).
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A parameter is out of its documented range.
    #[error("invalid parameter {name}: {reason}, got {value}")]
    InvalidParameter {
        /// Name of the parameter.
        name: &'static str,
        /// What it must satisfy.
        reason: &'static str,
        /// The rejected value, formatted.
        value: String,
    },
    /// The provider refused the request because of its rate limit.
    #[error("rate limited by {provider}{}", retry_after_secs.map(|s| format!(", retry after {s} s")).unwrap_or_default())]
    RateLimited {
        /// Which provider (`openai`, `anthropic`, `slack`, …).
        provider: String,
        /// The `retry-after` the provider sent, in seconds, when it sent one.
        retry_after_secs: Option<f64>,
    },
    /// The provider rejected the credentials.
    #[error("authentication failed at {provider}: {message}")]
    Auth {
        /// Which provider.
        provider: String,
        /// What it said.
        message: String,
    },
    /// The request did not fit the model's context window.
    #[error("context overflow at {provider}: {message}")]
    ContextOverflow {
        /// Which provider.
        provider: String,
        /// What it said.
        message: String,
    },
    /// A request took longer than allowed.
    #[error("timed out after {secs} s talking to {provider}")]
    Timeout {
        /// Which provider.
        provider: String,
        /// The limit that was hit, in seconds.
        secs: f64,
    },
    /// The server could not be reached: the connection was refused or reset, the host is
    /// unknown, or TLS failed. Nothing was received; retrying may help.
    #[error("cannot reach {provider}: {reason}")]
    Unreachable {
        /// Which provider (or `slack`, `webhook`, `github`).
        provider: String,
        /// What failed.
        reason: String,
    },
    /// The provider answered with an error status this crate does not map to a finer kind.
    #[error("{provider} answered http {status}: {message}")]
    Http {
        /// Which provider.
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The body or message, truncated.
        message: String,
    },
    /// A reply (from a provider or a model) could not be understood.
    #[error("malformed reply from {provider}: {reason}")]
    MalformedReply {
        /// Which provider (or `model` for the content of a reply).
        provider: String,
        /// What was wrong.
        reason: String,
    },
    /// A step of an investigation was answered with something it did not ask for.
    #[error("unexpected answer: the investigation needs {expected}, got {got}")]
    UnexpectedAnswer {
        /// What `next()` asked for.
        expected: String,
        /// What `provide()` received.
        got: String,
    },
    /// A journal could not be replayed into the same investigation.
    #[error("journal replay diverged at entry {index}: {reason}")]
    Replay {
        /// Index of the first entry that did not match.
        index: usize,
        /// What differed.
        reason: String,
    },
    /// An action was unknown, had bad parameters or failed.
    #[error("action {action}: {reason}")]
    Action {
        /// The action's kind.
        action: String,
        /// What went wrong.
        reason: String,
    },
    /// A JSON document could not be encoded or decoded.
    #[error("json: {reason}")]
    Json {
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// A stable, machine-readable name for the error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "IoError",
            Error::Case { .. } => "InvalidCase",
            Error::InvalidParameter { .. } => "InvalidParameter",
            Error::RateLimited { .. } => "RateLimited",
            Error::Auth { .. } => "AuthFailed",
            Error::ContextOverflow { .. } => "ContextOverflow",
            Error::Timeout { .. } => "Timeout",
            Error::Unreachable { .. } => "Unreachable",
            Error::Http { .. } => "HttpError",
            Error::MalformedReply { .. } => "MalformedReply",
            Error::UnexpectedAnswer { .. } => "UnexpectedAnswer",
            Error::Replay { .. } => "ReplayDiverged",
            Error::Action { .. } => "ActionFailed",
            Error::Json { .. } => "JsonError",
        }
    }

    /// Whether retrying the same request later may succeed (rate limits, timeouts, 5xx,
    /// unreachable servers).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout { .. } | Error::Unreachable { .. } => true,
            Error::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    pub(crate) fn param(name: &'static str, reason: &'static str, value: impl fmt::Display) -> Self {
        Error::InvalidParameter { name, reason, value: value.to_string() }
    }

    pub(crate) fn case(path: impl Into<String>, location: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Case { path: path.into(), location: location.into(), reason: reason.into() }
    }

    pub(crate) fn malformed(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::MalformedReply { provider: provider.into(), reason: reason.into() }
    }

    pub(crate) fn json(e: &serde_json::Error) -> Self {
        Error::Json { reason: e.to_string() }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
