//! Versioned JSON snapshots.
//!
//! Every stateful type serialises to an envelope
//! `{"format":"oddsight","kind":"…","version":N,"state":{…}}`. Restoring checks the kind and
//! version, parses the state, and validates it (array lengths, parameter ranges, finiteness), so
//! a hand-edited or truncated snapshot is a typed [`Error`], never a panic and never a detector
//! that misbehaves later. Floats round-trip exactly, so a restored object gives bit-identical
//! verdicts.

use crate::error::{Error, Result, SnapshotSource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The envelope's `format` field.
pub const FORMAT: &str = "oddsight";

/// A type whose whole state round-trips through a versioned snapshot.
pub trait Stateful: Serialize + DeserializeOwned {
    /// The kind written in the envelope (`"EwmaBaseline"`, `"BaselineDetector<…>"`).
    fn kind() -> String;

    /// Current state version. Restoring accepts this version only.
    const VERSION: u32 = 1;

    /// Checks invariants that serde cannot (lengths agree, parameters in range, values finite).
    ///
    /// # Errors
    /// [`Error::Snapshot`] or [`Error::InvalidParameter`] naming what is wrong.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Serialises to the versioned JSON envelope.
    ///
    /// # Errors
    /// [`Error::Snapshot`] if the state holds a value JSON cannot carry (it never should).
    fn to_snapshot(&self) -> Result<String> {
        #[derive(Serialize)]
        struct Out<'a, T> {
            format: &'static str,
            kind: String,
            version: u32,
            state: &'a T,
        }
        serde_json::to_string(&Out { format: FORMAT, kind: Self::kind(), version: Self::VERSION, state: self })
            .map_err(|e| Error::Snapshot { reason: "cannot serialise state".into(), source: Some(SnapshotSource(e)) })
    }

    /// Restores from a snapshot made by [`Stateful::to_snapshot`].
    ///
    /// # Errors
    /// [`Error::Snapshot`] for malformed JSON or state, [`Error::SnapshotVersion`] for another
    /// kind or version.
    fn from_snapshot(snapshot: &str) -> Result<Self> {
        let env = Envelope::parse(snapshot)?;
        env.expect(&Self::kind(), Self::VERSION)?;
        let state: Self = serde_json::from_value(env.state).map_err(|e| Error::Snapshot {
            reason: format!("invalid {} state", env.kind),
            source: Some(SnapshotSource(e)),
        })?;
        state.validate()?;
        Ok(state)
    }
}

/// A parsed but not yet interpreted snapshot envelope: lets a caller dispatch on `kind`.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// Always [`FORMAT`].
    pub format: String,
    /// Which type wrote it.
    pub kind: String,
    /// Its state version.
    pub version: u32,
    /// The state itself.
    pub state: serde_json::Value,
}

impl Envelope {
    /// Parses the envelope.
    ///
    /// # Errors
    /// [`Error::Snapshot`] if `snapshot` is not an oddsight envelope.
    pub fn parse(snapshot: &str) -> Result<Self> {
        let env: Envelope = serde_json::from_str(snapshot).map_err(|e| Error::Snapshot {
            reason: "not a snapshot envelope".into(),
            source: Some(SnapshotSource(e)),
        })?;
        if env.format != FORMAT {
            return Err(Error::snapshot(format!("format must be {FORMAT:?}, got {:?}", env.format)));
        }
        Ok(env)
    }

    /// Checks kind and version.
    ///
    /// # Errors
    /// [`Error::SnapshotVersion`] when they differ from what is expected.
    pub fn expect(&self, kind: &str, version: u32) -> Result<()> {
        if self.kind != kind || self.version != version {
            return Err(Error::SnapshotVersion {
                kind: self.kind.clone(),
                version: self.version,
                expected_kind: kind.to_string(),
                expected_version: version,
            });
        }
        Ok(())
    }
}

/// Shorthand used by `validate` implementations.
pub(crate) fn ensure(cond: bool, reason: impl FnOnce() -> String) -> Result<()> {
    if cond { Ok(()) } else { Err(Error::snapshot(reason())) }
}

/// Shorthand: every float in `values` is finite.
pub(crate) fn ensure_finite<'a>(what: &str, values: impl IntoIterator<Item = &'a f64>) -> Result<()> {
    for v in values {
        if !v.is_finite() {
            return Err(Error::snapshot(format!("{what} holds a non-finite value {v}")));
        }
    }
    Ok(())
}
