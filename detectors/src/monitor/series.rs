//! Series identity (a metric name plus labels), the selectors targets use to pick series, and
//! the interner that keeps a series' key down to a few words.
//!
//! The text forms, whitespace-insensitive around tokens:
//!
//! ```text
//! series   := name [ "{" [ label { "," label } [","] ] "}" ]
//! label    := key "=" value
//! selector := "*" | name | name "{" matchers "}" | "{" matchers "}"
//! matcher  := key ("=" | "!=") value
//! name     := [A-Za-z_:][A-Za-z0-9_:./-]*
//! key      := [A-Za-z_][A-Za-z0-9_./-]*
//! value    := '"' any text, with \" \\ \n \t escapes '"'  |  [A-Za-z0-9_:./+-]+
//! ```
//!
//! A series' canonical form lists its labels sorted by key, values quoted:
//! `latency_ms{host="a",service="checkout"}`; `latency_ms{ service = checkout , host="a" }` is the
//! same series. A selector matches a series when the names are equal (if it names one) and
//! every matcher holds; labels it does not mention are ignored, and `key!="v"` also holds when
//! the series has no `key` label.

use super::error::{MonitorError, MonitorResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// A parsed series name: a metric name and its labels.
///
/// ```
/// use oddsight_detectors::monitor::SeriesName;
/// let s: SeriesName = r#"latency_ms{service="checkout", host=a}"#.parse()?;
/// assert_eq!(s.name, "latency_ms");
/// assert_eq!(s.label("service"), Some("checkout"));
/// assert_eq!(s.to_string(), r#"latency_ms{host="a",service="checkout"}"#);
/// assert!("latency_ms{service=".parse::<SeriesName>().is_err());
/// # Ok::<(), oddsight_detectors::monitor::MonitorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesName {
    /// The metric name (`latency_ms`).
    pub name: String,
    /// The labels, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl SeriesName {
    /// Parses the text form.
    ///
    /// # Errors
    /// [`MonitorError::InvalidSeries`] with the byte position of the problem.
    pub fn parse(text: &str) -> MonitorResult<Self> {
        let raw = parse_series(text)?;
        Ok(SeriesName {
            name: raw.name.to_string(),
            labels: raw.labels.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        })
    }

    /// The value of label `key`, if the series has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

impl FromStr for SeriesName {
    type Err = MonitorError;
    fn from_str(s: &str) -> MonitorResult<Self> {
        SeriesName::parse(s)
    }
}

impl fmt::Display for SeriesName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_series(f, &self.name, self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// Writes the canonical form; `labels` must come sorted by key.
pub(crate) fn write_series<'a>(
    out: &mut impl fmt::Write,
    name: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
) -> fmt::Result {
    out.write_str(name)?;
    let mut first = true;
    for (k, v) in labels {
        out.write_str(if first { "{" } else { "," })?;
        first = false;
        out.write_str(k)?;
        out.write_char('=')?;
        write_quoted(out, v)?;
    }
    if !first {
        out.write_char('}')?;
    }
    Ok(())
}

/// Writes `v` in double quotes, escaping quotes, backslashes, newlines and tabs.
fn write_quoted(out: &mut impl fmt::Write, v: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in v.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\t' => out.write_str("\\t")?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// How a selector compares one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchOp {
    Equal,
    NotEqual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Matcher {
    key: String,
    op: MatchOp,
    value: String,
}

/// Which series a target watches: a metric name, label matchers, or both.
///
/// ```
/// use oddsight_detectors::monitor::{Selector, SeriesName};
/// let sel: Selector = r#"{service="checkout", host!="canary"}"#.parse()?;
/// assert!(sel.matches(&r#"cpu{service="checkout",host="a"}"#.parse()?));
/// assert!(!sel.matches(&r#"cpu{service="checkout",host="canary"}"#.parse()?));
/// assert!(!sel.matches(&"cpu".parse()?));
/// assert!("latency_ms".parse::<Selector>()?.matches(&r#"latency_ms{host="b"}"#.parse()?));
/// assert!("*".parse::<Selector>()?.matches(&"anything".parse()?));
/// assert!("{service=}".parse::<Selector>().is_err());
/// # Ok::<(), oddsight_detectors::monitor::MonitorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    name: Option<String>,
    matchers: Vec<Matcher>,
}

impl Selector {
    /// Parses the text form: `*` (every series), a metric name, `{key="value", key!="value"}`
    /// label matchers, or a name with matchers. Values may be quoted (with `\"`, `\\`, `\n`,
    /// `\t` escapes) or bare (`[A-Za-z0-9_:./+-]+`).
    ///
    /// # Errors
    /// [`MonitorError::InvalidSelector`] with the byte position of the problem.
    pub fn parse(text: &str) -> MonitorResult<Self> {
        let mut p = Cursor::new(text, Kind::Selector);
        p.ws();
        if p.peek() == Some(b'*') {
            p.pos += 1;
            p.ws();
            return if p.done() {
                Ok(Selector { name: None, matchers: Vec::new() })
            } else {
                Err(p.err("unexpected text after *"))
            };
        }
        let name = if p.peek() == Some(b'{') { None } else { Some(p.name()?.to_string()) };
        let mut matchers: Vec<Matcher> = Vec::new();
        p.ws();
        if p.peek() == Some(b'{') {
            p.pos += 1;
            p.list(|p| {
                let at = p.pos;
                let key = p.key()?;
                p.ws();
                let op = match (p.peek(), p.text.as_bytes().get(p.pos + 1)) {
                    (Some(b'='), _) => {
                        p.pos += 1;
                        MatchOp::Equal
                    }
                    (Some(b'!'), Some(b'=')) => {
                        p.pos += 2;
                        MatchOp::NotEqual
                    }
                    _ => return Err(p.err("expected = or != after a label key")),
                };
                let value = p.value()?;
                if matchers.iter().any(|m| m.key == key && m.op == op) {
                    p.pos = at;
                    return Err(p.err(&format!("label {key} matched twice")));
                }
                matchers.push(Matcher { key: key.to_string(), op, value });
                Ok(())
            })?;
        }
        p.ws();
        if !p.done() {
            return Err(p.err("unexpected text after the selector"));
        }
        matchers.sort_by(|a, b| (&a.key, a.op as u8).cmp(&(&b.key, b.op as u8)));
        Ok(Selector { name, matchers })
    }

    /// The metric name it requires, if any.
    pub fn metric(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether `series` is selected.
    pub fn matches(&self, series: &SeriesName) -> bool {
        self.matches_with(&series.name, |k| series.label(k))
    }

    /// Whether the series with metric `name` and labels looked up by `label` is selected.
    pub(crate) fn matches_with<'a>(&self, name: &str, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        if self.name.as_deref().is_some_and(|n| n != name) {
            return false;
        }
        self.matchers.iter().all(|m| {
            let v = label(&m.key);
            match m.op {
                MatchOp::Equal => v == Some(m.value.as_str()),
                MatchOp::NotEqual => v != Some(m.value.as_str()),
            }
        })
    }
}

impl FromStr for Selector {
    type Err = MonitorError;
    fn from_str(s: &str) -> MonitorResult<Self> {
        Selector::parse(s)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_none() && self.matchers.is_empty() {
            return f.write_str("*");
        }
        f.write_str(self.name.as_deref().unwrap_or(""))?;
        if !self.matchers.is_empty() {
            f.write_str("{")?;
            for (i, m) in self.matchers.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(&m.key)?;
                f.write_str(if m.op == MatchOp::Equal { "=" } else { "!=" })?;
                write_quoted(f, &m.value)?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

/// A series name as parsed, borrowing the text where it can. Labels are sorted by key.
#[derive(Debug)]
pub(crate) struct RawSeries<'a> {
    pub(crate) name: &'a str,
    pub(crate) labels: Vec<(&'a str, String)>,
}

pub(crate) fn parse_series(text: &str) -> MonitorResult<RawSeries<'_>> {
    let mut p = Cursor::new(text, Kind::Series);
    p.ws();
    let name = p.name()?;
    let mut labels: Vec<(&str, String)> = Vec::new();
    p.ws();
    if p.peek() == Some(b'{') {
        p.pos += 1;
        p.list(|p| {
            let at = p.pos;
            let key = p.key()?;
            p.ws();
            if p.peek() != Some(b'=') {
                return Err(p.err("expected = after a label key"));
            }
            p.pos += 1;
            let value = p.value()?;
            if labels.iter().any(|(k, _)| *k == key) {
                p.pos = at;
                return Err(p.err(&format!("label {key} given twice")));
            }
            labels.push((key, value));
            Ok(())
        })?;
    }
    p.ws();
    if !p.done() {
        return Err(p.err("unexpected text after the series name"));
    }
    labels.sort_by(|a, b| a.0.cmp(b.0));
    Ok(RawSeries { name, labels })
}

#[derive(Clone, Copy)]
enum Kind {
    Series,
    Selector,
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    kind: Kind,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, kind: Kind) -> Self {
        Cursor { text, pos: 0, kind }
    }
    fn err(&self, reason: &str) -> MonitorError {
        let text: String = self.text.chars().take(200).collect();
        let (position, reason) = (self.pos, reason.to_string());
        match self.kind {
            Kind::Series => MonitorError::InvalidSeries { text, position, reason },
            Kind::Selector => MonitorError::InvalidSelector { text, position, reason },
        }
    }
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }
    fn done(&self) -> bool {
        self.pos == self.text.len()
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }
    fn take_while(
        &mut self,
        first: impl Fn(u8) -> bool,
        rest: impl Fn(u8) -> bool,
        what: &str,
    ) -> MonitorResult<&'a str> {
        let start = self.pos;
        match self.peek() {
            Some(c) if first(c) => self.pos += 1,
            _ => return Err(self.err(&format!("expected {what}"))),
        }
        while self.peek().is_some_and(&rest) {
            self.pos += 1;
        }
        Ok(&self.text[start..self.pos])
    }
    fn name(&mut self) -> MonitorResult<&'a str> {
        self.take_while(
            |c| c.is_ascii_alphabetic() || c == b'_' || c == b':',
            |c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'.' | b'/' | b'-'),
            "a metric name",
        )
    }
    fn key(&mut self) -> MonitorResult<&'a str> {
        self.ws();
        self.take_while(
            |c| c.is_ascii_alphabetic() || c == b'_',
            |c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-'),
            "a label key",
        )
    }
    fn value(&mut self) -> MonitorResult<String> {
        self.ws();
        if self.peek() != Some(b'"') {
            let bare = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'.' | b'/' | b'+' | b'-');
            return self.take_while(bare, bare, "a label value").map(str::to_string);
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    _ => {
                        self.pos += i;
                        return Err(self.err("unknown escape (use \\\" \\\\ \\n or \\t)"));
                    }
                },
                c => out.push(c),
            }
        }
        self.pos = self.text.len();
        Err(self.err("unterminated quoted value"))
    }
    /// `item { "," item } [","] "}"` after an opening brace; `{}` is empty.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> MonitorResult<()>) -> MonitorResult<()> {
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(());
            }
            item(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }
}

/// A symbol: the index of an interned string.
pub(crate) type Sym = u32;

/// Interned strings: metric names, label keys and values are stored once however many series
/// share them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    strings: Vec<Box<str>>,
    index: HashMap<Box<str>, Sym>,
}

impl Interner {
    pub(crate) fn from_strings(strings: Vec<String>) -> Option<Self> {
        let mut me = Interner::default();
        for s in strings {
            if me.index.contains_key(s.as_str()) {
                return None;
            }
            me.intern(&s);
        }
        Some(me)
    }
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.index.get(s) {
            return sym;
        }
        let sym = self.strings.len() as Sym;
        self.strings.push(s.into());
        self.index.insert(s.into(), sym);
        sym
    }
    pub(crate) fn get(&self, s: &str) -> Option<Sym> {
        self.index.get(s).copied()
    }
    pub(crate) fn resolve(&self, sym: Sym) -> &str {
        self.strings.get(sym as usize).map_or("", |s| s)
    }
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }
    pub(crate) fn strings(&self) -> impl Iterator<Item = &str> {
        self.strings.iter().map(|s| &**s)
    }
}

/// A series' identity in a few words: its name and label symbols, labels sorted by key text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct SeriesKey {
    pub(crate) name: Sym,
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) labels: Box<[(Sym, Sym)]>,
}

impl SeriesKey {
    /// The key of `raw`, interning what is new.
    pub(crate) fn intern(raw: &RawSeries<'_>, interner: &mut Interner) -> Self {
        SeriesKey {
            name: interner.intern(raw.name),
            labels: raw.labels.iter().map(|(k, v)| (interner.intern(k), interner.intern(v))).collect(),
        }
    }
    /// The key of `raw` if every part of it is already interned.
    pub(crate) fn lookup(raw: &RawSeries<'_>, interner: &Interner) -> Option<Self> {
        let mut labels = Vec::with_capacity(raw.labels.len());
        for (k, v) in &raw.labels {
            labels.push((interner.get(k)?, interner.get(v)?));
        }
        Some(SeriesKey { name: interner.get(raw.name)?, labels: labels.into() })
    }
    pub(crate) fn label<'i>(&self, interner: &'i Interner, key: &str) -> Option<&'i str> {
        self.labels.iter().find(|(k, _)| interner.resolve(*k) == key).map(|(_, v)| interner.resolve(*v))
    }
    pub(crate) fn display(&self, interner: &Interner) -> String {
        let mut s = String::new();
        let _ = write_series(
            &mut s,
            interner.resolve(self.name),
            self.labels.iter().map(|(k, v)| (interner.resolve(*k), interner.resolve(*v))),
        );
        s
    }
    pub(crate) fn to_name(&self, interner: &Interner) -> SeriesName {
        SeriesName {
            name: interner.resolve(self.name).to_string(),
            labels: self
                .labels
                .iter()
                .map(|(k, v)| (interner.resolve(*k).to_string(), interner.resolve(*v).to_string()))
                .collect(),
        }
    }
    pub(crate) fn matches(&self, selector: &Selector, interner: &Interner) -> bool {
        selector.matches_with(interner.resolve(self.name), |k| self.label(interner, k))
    }
    /// Whether every symbol is in range and labels are sorted by key text without repeats.
    pub(crate) fn is_valid(&self, interner: &Interner) -> bool {
        let n = interner.len() as Sym;
        self.name < n
            && self.labels.iter().all(|(k, v)| *k < n && *v < n)
            && self.labels.windows(2).all(|w| interner.resolve(w[0].0) < interner.resolve(w[1].0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_forms_and_errors() {
        let s = SeriesName::parse(r#"  api.latency_ms { service = "check\"out" , host=a-1, } "#).unwrap();
        assert_eq!(s.name, "api.latency_ms");
        assert_eq!(s.label("service"), Some("check\"out"));
        assert_eq!(s.to_string(), r#"api.latency_ms{host="a-1",service="check\"out"}"#);
        assert_eq!(SeriesName::parse(&s.to_string()).unwrap(), s);
        assert_eq!(SeriesName::parse("cpu{}").unwrap().to_string(), "cpu");
        for (text, pos, needle) in [
            ("", 0, "expected a metric name"),
            ("9cpu", 0, "expected a metric name"),
            ("cpu{a=1,a=2}", 8, "given twice"),
            ("cpu{a}", 5, "expected ="),
            ("cpu{a=\"x}", 9, "unterminated"),
            ("cpu{a=\"\\q\"}", 7, "unknown escape"),
            ("cpu{a=1 b=2}", 8, "expected ','"),
            ("cpu x", 4, "unexpected text"),
        ] {
            match SeriesName::parse(text) {
                Err(MonitorError::InvalidSeries { position, reason, .. }) => {
                    assert_eq!(position, pos, "{text}: {reason}");
                    assert!(reason.contains(needle), "{text}: {reason}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn selectors() {
        let s = Selector::parse(r#"latency{service="checkout"}"#).unwrap();
        assert_eq!(s.metric(), Some("latency"));
        assert!(s.matches(&SeriesName::parse(r#"latency{service="checkout",host="a"}"#).unwrap()));
        assert!(!s.matches(&SeriesName::parse(r#"cpu{service="checkout"}"#).unwrap()));
        assert!(Selector::parse("{}").unwrap().matches(&SeriesName::parse("x").unwrap()));
        assert_eq!(Selector::parse("{}").unwrap().to_string(), "*");
        assert_eq!(Selector::parse(r#"{b!=x, a=y}"#).unwrap().to_string(), r#"{a="y",b!="x"}"#);
        for bad in ["", "{a}", "{a==b}", "cpu{a=b", "* x", "{a=1,a=2}", "cpu{a=1}x"] {
            assert!(matches!(Selector::parse(bad), Err(MonitorError::InvalidSelector { .. })), "{bad}");
        }
    }

    #[test]
    fn keys_intern_and_display() {
        let mut i = Interner::default();
        let a = SeriesKey::intern(&parse_series(r#"cpu{service=x,host=a}"#).unwrap(), &mut i);
        let b = SeriesKey::lookup(&parse_series(r#"cpu{host="a", service="x"}"#).unwrap(), &i).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.display(&i), r#"cpu{host="a",service="x"}"#);
        assert_eq!(a.label(&i, "service"), Some("x"));
        assert!(a.is_valid(&i));
        assert!(SeriesKey::lookup(&parse_series("mem").unwrap(), &i).is_none());
        assert_eq!(i.len(), 5);
    }
}
