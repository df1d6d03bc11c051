//! Detector specifications: what to build, written as a short string or as JSON.
//!
//! The string grammar, whitespace-insensitive:
//!
//! ```text
//! spec   := name [ "(" [ arg { "," arg } ] ")" ]
//! arg    := spec                      a member (for ensembles)
//!         | key "=" value             a parameter
//! value  := number [ unit ]           unit: ms s m h d w (a duration, in ms)
//!         | word                      true, false, mean, p95, …
//! name, key, word := [A-Za-z_][A-Za-z0-9_-]*
//! ```
//!
//! `default`, `mad(window=720)`, `seasonal(bucket=1h, period=1w)`,
//! `ensemble(seasonal, mad, cusum(h=6), combine=mean)` are all specifications. The same tree
//! in JSON is `{"name": "mad", "params": {"window": 720}}`, members under `"members"`.
//!
//! ```
//! use oddsight_detectors::spec::{DetectorSpec, SpecValue};
//! let spec = DetectorSpec::parse("ensemble(mad(window=720), cusum, combine=mean, hold=1h)")?;
//! assert_eq!(spec.name, "ensemble");
//! assert_eq!(spec.members.len(), 2);
//! assert_eq!(spec.members[0].params["window"], SpecValue::Number(720.0));
//! assert_eq!(spec.params["hold"], SpecValue::Number(3_600_000.0)); // durations are in ms
//! assert_eq!(DetectorSpec::parse(&spec.to_string())?, spec);      // round-trips
//! assert_eq!(DetectorSpec::from_json(&spec.to_json())?, spec);
//! assert!(DetectorSpec::parse("mad(window=)").is_err());
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A parameter value in a specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SpecValue {
    /// A number (durations are converted to milliseconds).
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A bare word.
    Word(String),
}

impl fmt::Display for SpecValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecValue::Number(n) => write!(f, "{n}"),
            SpecValue::Bool(b) => write!(f, "{b}"),
            SpecValue::Word(w) => f.write_str(w),
        }
    }
}

/// A parsed detector specification: a name, parameters and (for ensembles) members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorSpec {
    /// Detector name (`mad`, `seasonal`, `ensemble`, …).
    pub name: String,
    /// Parameters by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, SpecValue>,
    /// Member specifications, for detectors made of detectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<DetectorSpec>,
}

impl fmt::Display for DetectorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.params.is_empty() && self.members.is_empty() {
            return Ok(());
        }
        f.write_str("(")?;
        let mut first = true;
        for m in &self.members {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{m}")?;
        }
        for (k, v) in &self.params {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{k}={v}")?;
        }
        f.write_str(")")
    }
}

impl DetectorSpec {
    /// A specification with just a name.
    pub fn named(name: impl Into<String>) -> Self {
        DetectorSpec { name: name.into(), params: BTreeMap::new(), members: Vec::new() }
    }

    /// Parses the string form.
    ///
    /// # Errors
    /// [`Error::Spec`] with the byte position of the problem.
    pub fn parse(text: &str) -> Result<Self> {
        let mut p = Parser { text, pos: 0 };
        let spec = p.spec(0)?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(p.err("unexpected text after the specification"));
        }
        Ok(spec)
    }

    /// Parses the JSON form, or the string form if `text` does not start with `{`.
    ///
    /// # Errors
    /// [`Error::Spec`] for malformed JSON or an invalid string.
    pub fn from_json(text: &str) -> Result<Self> {
        if !text.trim_start().starts_with('{') {
            return Self::parse(text);
        }
        serde_json::from_str(text).map_err(|e| Error::Spec {
            spec: text.chars().take(200).collect(),
            position: 0,
            reason: format!("invalid JSON specification: {e}"),
        })
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A spec error about this specification.
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::Spec { spec: self.to_string(), position: 0, reason: reason.into() }
    }

    /// A numeric parameter, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::Spec`] when present but not a number.
    pub fn number(&self, key: &str, default: f64) -> Result<f64> {
        match self.params.get(key) {
            None => Ok(default),
            Some(SpecValue::Number(n)) => Ok(*n),
            Some(v) => Err(self.error(format!("parameter {key} must be a number, got {v}"))),
        }
    }

    /// A non-negative integer parameter, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::Spec`] when present but not a non-negative whole number.
    pub fn integer(&self, key: &str, default: u64) -> Result<u64> {
        match self.params.get(key) {
            None => Ok(default),
            Some(SpecValue::Number(n)) if *n >= 0.0 && n.fract() == 0.0 && *n < 9.0e15 => Ok(*n as u64),
            Some(v) => Err(self.error(format!("parameter {key} must be a whole number >= 0, got {v}"))),
        }
    }

    /// A boolean parameter, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::Spec`] when present but not a boolean.
    pub fn boolean(&self, key: &str, default: bool) -> Result<bool> {
        match self.params.get(key) {
            None => Ok(default),
            Some(SpecValue::Bool(b)) => Ok(*b),
            Some(v) => Err(self.error(format!("parameter {key} must be true or false, got {v}"))),
        }
    }

    /// A word parameter, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::Spec`] when present but not a word.
    pub fn word<'a>(&'a self, key: &str, default: &'a str) -> Result<&'a str> {
        match self.params.get(key) {
            None => Ok(default),
            Some(SpecValue::Word(w)) => Ok(w),
            Some(v) => Err(self.error(format!("parameter {key} must be a word, got {v}"))),
        }
    }

    /// Fails if any parameter is not in `known`, naming it and the accepted ones.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the unknown parameter.
    pub fn only(&self, known: &[&str]) -> Result<()> {
        if let Some(k) = self.params.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(self.error(format!(
                "unknown parameter {k} for {}; accepted: {}",
                self.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
        Ok(())
    }

    /// Fails if the specification has members (for detectors that take none).
    ///
    /// # Errors
    /// [`Error::Spec`].
    pub fn no_members(&self) -> Result<()> {
        if self.members.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("{} takes no member detectors", self.name)))
        }
    }
}

const MAX_DEPTH: usize = 16;

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &str) -> Error {
        Error::Spec { spec: self.text.to_string(), position: self.pos, reason: reason.to_string() }
    }
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }
    fn ident(&mut self) -> Result<String> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.pos += 1,
            _ => return Err(self.err("expected a name")),
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
            self.pos += 1;
        }
        Ok(self.text[start..self.pos].to_ascii_lowercase())
    }
    fn spec(&mut self, depth: usize) -> Result<DetectorSpec> {
        if depth > MAX_DEPTH {
            return Err(self.err("specification nested too deeply"));
        }
        let name = self.ident()?;
        let mut spec = DetectorSpec::named(name);
        self.skip_ws();
        if self.peek() != Some(b'(') {
            return Ok(spec);
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(spec);
        }
        loop {
            self.skip_ws();
            let save = self.pos;
            let word = self.ident()?;
            self.skip_ws();
            if self.peek() == Some(b'=') {
                self.pos += 1;
                let value = self.value()?;
                if spec.params.insert(word.clone(), value).is_some() {
                    self.pos = save;
                    return Err(self.err(&format!("parameter {word} given twice")));
                }
            } else {
                self.pos = save;
                spec.members.push(self.spec(depth + 1)?);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(spec);
                }
                _ => return Err(self.err("expected ',' or ')'")),
            }
        }
    }
    fn value(&mut self) -> Result<SpecValue> {
        self.skip_ws();
        match self.peek() {
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => {
                let start = self.pos;
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+')) {
                    // An exponent sign only directly after e/E.
                    if matches!(self.peek(), Some(b'-' | b'+'))
                        && !matches!(self.text.as_bytes().get(self.pos - 1), Some(b'e' | b'E'))
                    {
                        break;
                    }
                    self.pos += 1;
                }
                let number: f64 = self.text[start..self.pos].parse().map_err(|_| {
                    let mut e = self.err("invalid number");
                    if let Error::Spec { position, .. } = &mut e {
                        *position = start;
                    }
                    e
                })?;
                if !number.is_finite() {
                    return Err(self.err("numbers must be finite"));
                }
                let unit_start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let factor = match &self.text[unit_start..self.pos] {
                    "" => 1.0,
                    "ms" => 1.0,
                    "s" => 1e3,
                    "m" | "min" => 6e4,
                    "h" => 3.6e6,
                    "d" => 8.64e7,
                    "w" => 6.048e8,
                    _ => {
                        self.pos = unit_start;
                        return Err(self.err("unknown unit (use ms, s, m, h, d or w)"));
                    }
                };
                Ok(SpecValue::Number(number * factor))
            }
            Some(_) => {
                let w = self.ident().map_err(|_| self.err("expected a value"))?;
                Ok(match w.as_str() {
                    "true" => SpecValue::Bool(true),
                    "false" => SpecValue::Bool(false),
                    _ => SpecValue::Word(w),
                })
            }
            None => Err(self.err("expected a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_the_problem() {
        for (text, pos, needle) in [
            ("mad(", 4, "expected a name"),
            ("mad(window=)", 11, "expected a value"),
            ("mad(window=3x)", 12, "unknown unit"),
            ("mad(a=1, a=2)", 9, "given twice"),
            ("mad) ", 3, "unexpected text"),
            ("", 0, "expected a name"),
            ("9mad", 0, "expected a name"),
        ] {
            match DetectorSpec::parse(text) {
                Err(Error::Spec { position, reason, .. }) => {
                    assert_eq!(position, pos, "{text}: {reason}");
                    assert!(reason.contains(needle), "{text}: {reason}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let deep = "a(".repeat(40) + &")".repeat(40);
        assert!(DetectorSpec::parse(&deep).is_err());
    }

    #[test]
    fn values_and_units() {
        let s = DetectorSpec::parse(" Ewma ( alpha = 0.05 , warmup=3e1, gap=5m, robust=true, agg=p95 ) ").unwrap();
        assert_eq!(s.name, "ewma");
        assert_eq!(s.number("alpha", 0.0).unwrap(), 0.05);
        assert_eq!(s.integer("warmup", 0).unwrap(), 30);
        assert_eq!(s.number("gap", 0.0).unwrap(), 300_000.0);
        assert!(s.boolean("robust", false).unwrap());
        assert_eq!(s.word("agg", "mean").unwrap(), "p95");
        assert!(
            s.only(&["alpha", "warmup", "gap", "robust"]).unwrap_err().to_string().contains("unknown parameter agg")
        );
        assert!(s.integer("alpha", 0).is_err());
    }
}
