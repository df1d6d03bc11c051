//! What the log detector measures on each record: message length, error keywords, level
//! severity, response time, memory, and how rare the message's template is.

use super::record::{Level, LogRecord};
use oddsight_core::Error as CoreError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// How many features a record has (the width of the detector's rows).
pub const FEATURE_COUNT: usize = 6;

/// The features' names, in row order.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] =
    ["message_length", "error_keywords", "level_severity", "response_time_ms", "memory_mb", "template_rarity"];

/// The default error keywords.
pub const DEFAULT_ERROR_KEYWORDS: &[&str] = &[
    "error",
    "exception",
    "fail",
    "timeout",
    "timed out",
    "refused",
    "panic",
    "fatal",
    "denied",
    "unavailable",
    "traceback",
    "crash",
    "abort",
    "killed",
    "oom",
    "out of memory",
];

/// The default keywords that mark a message as being about slowness (they make an anomaly's
/// type `performance` when it is otherwise unclear).
pub const DEFAULT_PERFORMANCE_KEYWORDS: &[&str] =
    &["timeout", "timed out", "slow", "deadline exceeded", "latency", "took too long"];

/// The most keywords a list may hold.
pub const MAX_KEYWORDS: usize = 64;

/// The longest keyword, in bytes.
pub const MAX_KEYWORD_LEN: usize = 64;

fn param(name: &'static str, reason: &'static str, value: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidParameter { name, reason, value: value.to_string() }
}

/// A set of keywords counted in a message case-insensitively (ASCII case), as substrings:
/// `fail` counts in `failed` and `FAILURE`. At each position at most one keyword counts (the
/// first listed that matches), and counting resumes after it, so occurrences never overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordSet {
    keywords: Vec<Vec<u8>>,
    /// For each byte value, the keywords (as bits of their index) that start with it.
    first: Box<[u64; 256]>,
}

impl KeywordSet {
    /// A set of `keywords`.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] for more than [`MAX_KEYWORDS`] keywords, or an empty or
    /// longer than [`MAX_KEYWORD_LEN`] one.
    pub fn new<S: AsRef<str>>(name: &'static str, keywords: &[S]) -> Result<Self, CoreError> {
        if keywords.len() > MAX_KEYWORDS {
            return Err(param(name, "must hold at most 64 keywords", keywords.len()));
        }
        let mut first = Box::new([0u64; 256]);
        let mut stored = Vec::with_capacity(keywords.len());
        for (k, word) in keywords.iter().enumerate() {
            let word = word.as_ref();
            if word.is_empty() || word.len() > MAX_KEYWORD_LEN {
                return Err(param(name, "keywords must be 1 to 64 bytes long", format!("{word:?}")));
            }
            let lower: Vec<u8> = word.bytes().map(|b| b.to_ascii_lowercase()).collect();
            first[usize::from(lower[0])] |= 1 << k;
            stored.push(lower);
        }
        Ok(KeywordSet { keywords: stored, first })
    }

    /// How many times keywords occur in `text`.
    ///
    /// ```
    /// use oddsight_detectors::logs::KeywordSet;
    /// let set = KeywordSet::new("keywords", &["error", "fail"])?;
    /// assert_eq!(set.count("Payment FAILED: error 42, errors since: 3"), 3);
    /// # Ok::<(), oddsight_core::Error>(())
    /// ```
    #[inline]
    pub fn count(&self, text: &str) -> u32 {
        let b = text.as_bytes();
        let mut n = 0;
        let mut i = 0;
        while i < b.len() {
            let mut mask = self.first[usize::from(b[i].to_ascii_lowercase())];
            let mut advanced = false;
            while mask != 0 {
                let k = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let word = &self.keywords[k];
                if let Some(s) = b.get(i..i + word.len())
                    && s.iter().zip(word).all(|(a, w)| a.to_ascii_lowercase() == *w)
                {
                    n += 1;
                    i += word.len();
                    advanced = true;
                    break;
                }
            }
            if !advanced {
                i += 1;
            }
        }
        n
    }

    /// Whether any keyword occurs in `text`.
    pub fn matches(&self, text: &str) -> bool {
        self.count(text) > 0
    }

    /// How many keywords the set holds.
    pub fn len(&self) -> usize {
        self.keywords.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keywords.is_empty()
    }
}

/// Where masked text goes: a string, or straight into a hash.
trait Sink {
    fn push(&mut self, s: &str);
}

impl Sink for String {
    #[inline]
    fn push(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// A 64-bit hash of a byte stream that does not depend on how the stream is split into
/// pushes, so hashing the masked pieces as they are produced equals hashing the finished
/// template. Its constants are fixed: template ids are stored in snapshots.
#[derive(Debug, Clone, Copy)]
struct StreamHash {
    state: u64,
    buf: u64,
    filled: u32,
    len: u64,
}

const HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

impl StreamHash {
    fn new() -> Self {
        StreamHash { state: 0x243f_6a88_85a3_08d3, buf: 0, filled: 0, len: 0 }
    }

    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(HASH_MUL).rotate_left(29);
    }

    fn finish(mut self) -> u64 {
        if self.filled > 0 {
            let word = self.buf;
            self.mix(word);
        }
        let mut z = self.state ^ self.len.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Sink for StreamHash {
    #[inline]
    fn push(&mut self, s: &str) {
        let mut b = s.as_bytes();
        self.len += b.len() as u64;
        while self.filled != 0 && !b.is_empty() {
            self.buf |= u64::from(b[0]) << (8 * self.filled);
            self.filled += 1;
            b = &b[1..];
            if self.filled == 8 {
                let word = self.buf;
                self.mix(word);
                self.buf = 0;
                self.filled = 0;
            }
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.mix(u64::from_le_bytes(word));
        }
        for (k, &byte) in chunks.remainder().iter().enumerate() {
            self.buf |= u64::from(byte) << (8 * k);
            self.filled += 1;
        }
    }
}

/// The template of a message: every number, id, UUID, hex string, IP address and quoted value
/// replaced by a placeholder, everything else kept as written.
///
/// - quoted values, `"…"` and `'…'` (a single quote opens only at the start, after
///   whitespace or after one of `([{=:,`), become `"<str>"` / `'<str>'` (empty quotes stay);
/// - UUIDs (8-4-4-4-12 hex digits) become `<uuid>`; IPv4 addresses `<ip>` (a port stays
///   `:<num>`); `0x…` and runs of at least 6 hex digits that mix digits and letters `<hex>`;
/// - numbers, with their decimals, become `<num>`, keeping a unit written after them
///   (`250ms` is `<num>ms`);
/// - other words that contain a digit (`user42`, `v2`) become `<id>`.
///
/// Masking is idempotent: a template is its own template.
///
/// ```
/// use oddsight_detectors::logs::mask_template;
/// assert_eq!(
///     mask_template("order 8812 for user42 took 250ms from 10.0.0.7:8080 (id 3f2a9c1e, \"gold\")"),
///     "order <num> for <id> took <num>ms from <ip>:<num> (id <hex>, \"<str>\")"
/// );
/// ```
pub fn mask_template(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    mask_into(message, &mut out);
    out
}

/// A stable 64-bit id of the template of `message`: the hash of [`mask_template`]'s output,
/// computed without building it.
pub fn template_id(message: &str) -> u64 {
    let mut h = StreamHash::new();
    mask_into(message, &mut h);
    h.finish()
}

/// The id of a template already masked (equal to [`template_id`] of any message it masks).
pub fn template_id_of_template(template: &str) -> u64 {
    let mut h = StreamHash::new();
    h.push(template);
    h.finish()
}

#[inline]
fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn is_uuid_at(b: &[u8], i: usize) -> bool {
    let Some(s) = b.get(i..i + 36) else { return false };
    for (k, &c) in s.iter().enumerate() {
        let ok = if matches!(k, 8 | 13 | 18 | 23) { c == b'-' } else { is_hex(c) };
        if !ok {
            return false;
        }
    }
    !b.get(i + 36).is_some_and(u8::is_ascii_alphanumeric)
}

/// The end of an IPv4 address starting at `i`, if one does.
fn ipv4_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for part in 0..4 {
        if part > 0 {
            if b.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
        let start = j;
        let mut v = 0u32;
        while let Some(&c) = b.get(j).filter(|c| c.is_ascii_digit()) {
            v = v * 10 + u32::from(c - b'0');
            j += 1;
            if j - start > 3 {
                return None;
            }
        }
        if j == start || v > 255 {
            return None;
        }
    }
    // Not part of a longer dotted number or word.
    let next = b.get(j).copied();
    if next.is_some_and(|c| c.is_ascii_alphanumeric())
        || (next == Some(b'.') && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric))
    {
        return None;
    }
    Some(j)
}

fn mask_into<S: Sink>(message: &str, out: &mut S) {
    let b = message.as_bytes();
    let mut lit = 0; // start of the literal text not yet pushed
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"'
            || (c == b'\'' && (i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'(' | b'[' | b'{' | b'=' | b':' | b',')))
        {
            if let Some(close) = memchr::memchr(c, &b[i + 1..]) {
                let end = i + 1 + close;
                if end > i + 1 {
                    out.push(&message[lit..=i]);
                    out.push("<str>");
                    lit = end;
                }
                i = end + 1;
                continue;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let at_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let mut run_end = i;
        while b.get(run_end).is_some_and(u8::is_ascii_alphanumeric) {
            run_end += 1;
        }
        let (placeholder, end) = if at_start && is_hex(c) && is_uuid_at(b, i) {
            ("<uuid>", i + 36)
        } else if at_start
            && c.is_ascii_digit()
            && let Some(end) = ipv4_end(b, i)
        {
            ("<ip>", end)
        } else if at_start
            && c == b'0'
            && matches!(b.get(i + 1), Some(b'x' | b'X'))
            && run_end > i + 2
            && b[i + 2..run_end].iter().all(|&x| is_hex(x))
        {
            ("<hex>", run_end)
        } else {
            let run = &b[i..run_end];
            let has_digit = run.iter().any(u8::is_ascii_digit);
            if !has_digit {
                i = run_end;
                continue;
            }
            if run.len() >= 6 && run.iter().all(|&x| is_hex(x)) && run.iter().any(u8::is_ascii_alphabetic) {
                ("<hex>", run_end)
            } else if c.is_ascii_digit() {
                // A number with its decimals; letters after it (a unit) stay.
                let mut end = i;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                while b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                    while b.get(end).is_some_and(u8::is_ascii_digit) {
                        end += 1;
                    }
                }
                ("<num>", end)
            } else {
                ("<id>", run_end)
            }
        };
        out.push(&message[lit..i]);
        out.push(placeholder);
        lit = end;
        i = end;
    }
    out.push(&message[lit..]);
}

/// Passes template ids (already hashes) through unchanged.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Streaming counts of message templates in bounded memory.
///
/// Holds at most `capacity` templates. When a new template arrives at a full table, every
/// count is halved (rounding down) and the templates left at zero are forgotten, repeatedly
/// until there is room: templates seen once long ago make way first, and counts lean towards
/// recent traffic. Rarity is the template's surprise in bits, `log2((total + 1) / (count + 1))`:
/// about 0 for a template that is every line, `log2(total + 1)` for one never seen.
#[derive(Debug, Clone, Default)]
pub struct TemplateCounts {
    counts: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    total: u64,
    capacity: usize,
}

impl PartialEq for TemplateCounts {
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total && self.capacity == other.capacity && self.counts == other.counts
    }
}

impl TemplateCounts {
    /// An empty table holding at most `capacity` templates (at least 1).
    pub fn new(capacity: usize) -> Self {
        TemplateCounts { counts: HashMap::default(), total: 0, capacity: capacity.max(1) }
    }

    /// Counts one occurrence of template `id`.
    #[inline]
    pub fn add(&mut self, id: u64) {
        if let Some(c) = self.counts.get_mut(&id) {
            *c = c.saturating_add(1);
            self.total += 1;
            return;
        }
        while self.counts.len() >= self.capacity {
            self.halve();
        }
        self.counts.insert(id, 1);
        self.total += 1;
    }

    fn halve(&mut self) {
        self.counts.retain(|_, c| {
            *c /= 2;
            *c > 0
        });
        self.total = self.counts.values().map(|&c| u64::from(c)).sum();
    }

    /// How many times template `id` has been counted (after any halving).
    #[inline]
    pub fn count(&self, id: u64) -> u32 {
        self.counts.get(&id).copied().unwrap_or(0)
    }

    /// The sum of all counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Templates held.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no template is held.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The most templates held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The surprise of template `id`, in bits.
    #[inline]
    pub fn rarity(&self, id: u64) -> f64 {
        ((self.total as f64 + 1.0) / (f64::from(self.count(id)) + 1.0)).log2()
    }

    /// The table as `(id, count)` pairs sorted by id.
    pub fn entries(&self) -> Vec<(u64, u32)> {
        let mut e: Vec<(u64, u32)> = self.counts.iter().map(|(&k, &v)| (k, v)).collect();
        e.sort_unstable();
        e
    }

    /// A table from `(id, count)` pairs.
    ///
    /// # Errors
    /// [`CoreError::Snapshot`] for more entries than `capacity`, a repeated id or a zero count.
    pub fn from_entries(capacity: usize, entries: &[(u64, u32)]) -> Result<Self, CoreError> {
        let bad = |reason: String| CoreError::Snapshot { reason, source: None };
        if capacity == 0 || entries.len() > capacity {
            return Err(bad(format!("template table holds {} entries for a capacity of {capacity}", entries.len())));
        }
        let mut t = TemplateCounts::new(capacity);
        for &(id, c) in entries {
            if c == 0 || t.counts.insert(id, c).is_some() {
                return Err(bad(format!("template {id} has a zero count or appears twice")));
            }
            t.total += u64::from(c);
        }
        Ok(t)
    }
}

/// Parameters of the feature extractor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeatureParams {
    /// Keywords counted by the `error_keywords` feature. Default [`DEFAULT_ERROR_KEYWORDS`].
    pub error_keywords: Vec<String>,
    /// Keywords that mark a message as about slowness. Default
    /// [`DEFAULT_PERFORMANCE_KEYWORDS`].
    pub performance_keywords: Vec<String>,
    /// The most templates counted at once. Default 10,000 (about 200 KB).
    pub max_templates: usize,
}

impl Default for FeatureParams {
    fn default() -> Self {
        FeatureParams {
            error_keywords: DEFAULT_ERROR_KEYWORDS.iter().map(|s| s.to_string()).collect(),
            performance_keywords: DEFAULT_PERFORMANCE_KEYWORDS.iter().map(|s| s.to_string()).collect(),
            max_templates: 10_000,
        }
    }
}

impl FeatureParams {
    /// Sets `error_keywords`.
    pub fn error_keywords<S: Into<String>>(mut self, keywords: impl IntoIterator<Item = S>) -> Self {
        self.error_keywords = keywords.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `performance_keywords`.
    pub fn performance_keywords<S: Into<String>>(mut self, keywords: impl IntoIterator<Item = S>) -> Self {
        self.performance_keywords = keywords.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `max_templates`.
    pub fn max_templates(mut self, max_templates: usize) -> Self {
        self.max_templates = max_templates;
        self
    }

    /// # Errors
    /// [`CoreError::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<(), CoreError> {
        KeywordSet::new("error_keywords", &self.error_keywords)?;
        KeywordSet::new("performance_keywords", &self.performance_keywords)?;
        if !(1..=10_000_000).contains(&self.max_templates) {
            return Err(param("max_templates", "must be in 1..=10000000", self.max_templates));
        }
        Ok(())
    }

    /// Validates and builds the extractor, with no template counted yet.
    ///
    /// # Errors
    /// As [`FeatureParams::validate`].
    pub fn build(self) -> Result<FeatureExtractor, CoreError> {
        self.validate()?;
        Ok(FeatureExtractor {
            errors: KeywordSet::new("error_keywords", &self.error_keywords)?,
            performance: KeywordSet::new("performance_keywords", &self.performance_keywords)?,
            templates: TemplateCounts::new(self.max_templates),
            params: self,
        })
    }
}

/// The features of one record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogFeatures {
    /// Message length in bytes.
    pub message_length: f64,
    /// Error keyword occurrences in the message.
    pub error_keywords: f64,
    /// [`Level::severity`]; a record without a level counts as INFO (2).
    pub level_severity: f64,
    /// The record's response time, when it has one.
    pub response_time_ms: Option<f64>,
    /// The record's memory, when it has one.
    pub memory_mb: Option<f64>,
    /// The surprise of its template in bits (see [`TemplateCounts`]).
    pub template_rarity: f64,
    /// Its template id ([`template_id`]).
    pub template: u64,
    /// Performance keyword occurrences in the message (not a row feature; used to name an
    /// anomaly's type).
    pub performance_keywords: u32,
}

impl LogFeatures {
    /// The row the model sees, in [`FEATURE_NAMES`] order, with missing values replaced by
    /// `impute` (response time, memory).
    #[inline]
    pub fn row(&self, impute: [f64; 2]) -> [f64; FEATURE_COUNT] {
        [
            self.message_length,
            self.error_keywords,
            self.level_severity,
            self.response_time_ms.unwrap_or(impute[0]),
            self.memory_mb.unwrap_or(impute[1]),
            self.template_rarity,
        ]
    }

    /// The features as written, `None` where the record had no value, in [`FEATURE_NAMES`]
    /// order.
    pub fn values(&self) -> [Option<f64>; FEATURE_COUNT] {
        [
            Some(self.message_length),
            Some(self.error_keywords),
            Some(self.level_severity),
            self.response_time_ms,
            self.memory_mb,
            Some(self.template_rarity),
        ]
    }
}

/// Turns records into [`LogFeatures`], keeping streaming template counts.
///
/// `features` judges a record against the counts so far and changes nothing; `learn` counts
/// its template; `observe` does both, in that order.
///
/// ```
/// use oddsight_detectors::logs::{FeatureParams, LogRecord, Level};
/// let mut fx = FeatureParams::default().build()?;
/// for i in 0..100 {
///     fx.observe(&LogRecord::new(format!("GET /cart/{i} 200")).level(Level::Info))?;
/// }
/// let common = fx.features(&LogRecord::new("GET /cart/7 200"))?;
/// let novel = fx.features(&LogRecord::new("Exception: connection refused").level(Level::Error))?;
/// assert!(novel.template_rarity > common.template_rarity + 5.0);
/// assert_eq!((novel.error_keywords, novel.level_severity), (2.0, 4.0));
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureExtractor {
    params: FeatureParams,
    errors: KeywordSet,
    performance: KeywordSet,
    templates: TemplateCounts,
}

impl FeatureExtractor {
    /// The parameters.
    pub fn params(&self) -> &FeatureParams {
        &self.params
    }

    /// The template counts.
    pub fn templates(&self) -> &TemplateCounts {
        &self.templates
    }

    pub(crate) fn set_templates(&mut self, templates: TemplateCounts) {
        self.templates = templates;
    }

    /// Checks the record's numbers are finite.
    ///
    /// # Errors
    /// [`CoreError::NonFinite`] for a NaN or infinite response time or memory.
    #[inline]
    pub fn check(record: &LogRecord<'_>) -> Result<(), CoreError> {
        if let Some(v) = record.response_time_ms.filter(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite { what: "response_time_ms", value: v });
        }
        if let Some(v) = record.memory_mb.filter(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite { what: "memory_mb", value: v });
        }
        Ok(())
    }

    /// The features of `record` against the template counts so far (no mutation).
    ///
    /// # Errors
    /// As [`FeatureExtractor::check`].
    #[inline]
    pub fn features(&self, record: &LogRecord<'_>) -> Result<LogFeatures, CoreError> {
        Self::check(record)?;
        let template = template_id(&record.message);
        Ok(self.features_with(record, template))
    }

    #[inline]
    pub(crate) fn features_with(&self, record: &LogRecord<'_>, template: u64) -> LogFeatures {
        let message = &record.message;
        LogFeatures {
            message_length: message.len() as f64,
            error_keywords: f64::from(self.errors.count(message)),
            level_severity: f64::from(record.level.map_or(Level::Info.severity(), Level::severity)),
            response_time_ms: record.response_time_ms,
            memory_mb: record.memory_mb,
            template_rarity: self.templates.rarity(template),
            template,
            performance_keywords: if self.performance.is_empty() { 0 } else { self.performance.count(message) },
        }
    }

    /// Counts `record`'s template.
    ///
    /// # Errors
    /// As [`FeatureExtractor::check`] (nothing is counted then).
    pub fn learn(&mut self, record: &LogRecord<'_>) -> Result<(), CoreError> {
        Self::check(record)?;
        self.templates.add(template_id(&record.message));
        Ok(())
    }

    pub(crate) fn learn_template(&mut self, template: u64) {
        self.templates.add(template);
    }

    /// `features`, then `learn`.
    ///
    /// # Errors
    /// As [`FeatureExtractor::check`] (nothing is counted then).
    pub fn observe(&mut self, record: &LogRecord<'_>) -> Result<LogFeatures, CoreError> {
        let f = self.features(record)?;
        self.templates.add(f.template);
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        for (message, template) in [
            ("user 123e4567-e89b-12d3-a456-426614174000 logged in", "user <uuid> logged in"),
            ("ptr 0xDEADbeef freed", "ptr <hex> freed"),
            ("took 3.25 s, then 12s", "took <num> s, then <num>s"),
            ("GET /api/v2/orders/991 HTTP/1.1", "GET /api/<id>/orders/<num> HTTP/<num>"),
            ("can't reach 'db-1' at 192.168.0.1", "can't reach '<str>' at <ip>"),
            ("version 1.2.3.4.5", "version <num>"),
            ("empty \"\" quote and \"unclosed", "empty \"\" quote and \"unclosed"),
            ("日本 42 語", "日本 <num> 語"),
        ] {
            assert_eq!(mask_template(message), template, "{message}");
            assert_eq!(mask_template(template), template, "{template}");
            assert_eq!(template_id(message), template_id_of_template(template));
        }
    }

    #[test]
    fn templates_bounded() {
        let mut t = TemplateCounts::new(4);
        for _ in 0..1000 {
            t.add(1);
        }
        for id in 2..=20 {
            t.add(id);
        }
        assert!(t.len() <= 4);
        assert!(t.count(1) >= 1);
        assert_eq!(t.total(), t.entries().iter().map(|&(_, c)| u64::from(c)).sum::<u64>());
        assert!(t.rarity(999) > t.rarity(1));
    }

    #[test]
    fn keyword_counting() {
        let set = KeywordSet::new("k", &["timeout", "time", "out"]).expect("valid");
        assert_eq!(set.count("TIMEOUT then time out"), 3);
        assert!(KeywordSet::new("k", &[""]).is_err());
        assert_eq!(KeywordSet::new("k", &[] as &[&str]).expect("valid").count("anything"), 0);
    }
}
