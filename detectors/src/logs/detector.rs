//! The log anomaly detector: an isolation forest over the records' features, a confidence on
//! top of the forest's outlier threshold, and for each anomaly a type and the features that
//! drove it.

use super::features::{
    FEATURE_COUNT, FEATURE_NAMES, FeatureExtractor, FeatureParams, LogFeatures, TemplateCounts, template_id,
};
use super::parse::{LogParser, ParseReport};
use super::record::LogRecord;
use crate::error::{Error, Result};
use crate::forest::{ForestParams, IsolationForest};
use ndarray::ArrayView2;
use oddsight_core::snapshot::Stateful;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Makes a MAD a Gaussian standard deviation.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;
/// Makes a mean absolute deviation a Gaussian standard deviation (`√(π/2)`).
const MEAN_AD_TO_SIGMA: f64 = 1.253_314_137_315_500_3;
/// Points of the quantile grid kept of the training scores above the forest's threshold.
const TAIL_POINTS: usize = 101;
/// Records parsed, featurised and scored together by the batch paths.
const BLOCK: usize = 256;
/// Values a service needs in training for its own response-time or memory scale.
pub const MIN_SERVICE_VALUES: usize = 30;

/// One of the detector's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Message length in bytes.
    MessageLength,
    /// Error keyword occurrences.
    ErrorKeywords,
    /// Level severity, DEBUG 1 … CRITICAL 5.
    LevelSeverity,
    /// Response time in milliseconds.
    ResponseTimeMs,
    /// Memory in mebibytes.
    MemoryMb,
    /// Surprise of the message template, in bits.
    TemplateRarity,
}

impl Feature {
    /// Every feature, in row order.
    pub const ALL: [Feature; FEATURE_COUNT] = [
        Feature::MessageLength,
        Feature::ErrorKeywords,
        Feature::LevelSeverity,
        Feature::ResponseTimeMs,
        Feature::MemoryMb,
        Feature::TemplateRarity,
    ];

    /// Its name (as in [`FEATURE_NAMES`]).
    pub fn name(self) -> &'static str {
        FEATURE_NAMES[self as usize]
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of anomaly a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyType {
    /// Slow responses and timeouts.
    Performance,
    /// High or climbing memory.
    Memory,
    /// Exceptions, failures, error bursts.
    Error,
    /// Unusual messages: rare or new templates, odd lengths.
    Pattern,
}

impl AnomalyType {
    /// Its name (`performance`, `memory`, `error`, `pattern`).
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyType::Performance => "performance",
            AnomalyType::Memory => "memory",
            AnomalyType::Error => "error",
            AnomalyType::Pattern => "pattern",
        }
    }
}

impl fmt::Display for AnomalyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One feature of a judged record, against the training set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureEvidence {
    /// Which feature.
    pub feature: Feature,
    /// Its value (`None` when the record had none: it was imputed with the training median,
    /// so its `z` is 0).
    pub value: Option<f64>,
    /// Its robust z-score against the training set: `(value − median) / scale`, the scale
    /// being `1.4826 × MAD` (or, where more than half the training values are equal, the mean
    /// absolute deviation made a standard deviation, or 1). Response time and memory are
    /// judged against the record's own service when it had at least [`MIN_SERVICE_VALUES`]
    /// of them in training, and against all records otherwise.
    pub z: f64,
}

/// The verdict on one record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogVerdict {
    /// The isolation forest's anomaly score in `[0, 1]` (about 0.5 or less is ordinary).
    pub score: f64,
    /// How far into the outlying tail the score is, in `[0, 1]`: 0 at or below the forest's
    /// contamination threshold, otherwise the fraction of the training records above that
    /// threshold that score lower (1 beyond all of them).
    pub confidence: f64,
    /// Whether the record is an anomaly: above the forest's threshold with `confidence` at
    /// least the detector's `confidence_threshold`.
    pub is_anomaly: bool,
    /// The anomaly's type, set only when `is_anomaly`.
    pub anomaly_type: Option<AnomalyType>,
    /// The record's features.
    pub features: LogFeatures,
    /// Each feature's robust z-score against the training set, in [`Feature::ALL`] order.
    pub z: [f64; FEATURE_COUNT],
}

impl LogVerdict {
    /// Every feature with its value and z, largest `|z|` first.
    pub fn evidence(&self) -> Vec<FeatureEvidence> {
        let values = self.features.values();
        let mut e: Vec<FeatureEvidence> = Feature::ALL
            .iter()
            .map(|&f| FeatureEvidence { feature: f, value: values[f as usize], z: self.z[f as usize] })
            .collect();
        e.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
        e
    }

    /// The features with `|z| ≥ min_abs_z`, largest first: what drove the decision.
    pub fn drivers(&self, min_abs_z: f64) -> Vec<FeatureEvidence> {
        self.evidence().into_iter().filter(|e| e.z.abs() >= min_abs_z).collect()
    }
}

/// Parameters of a [`LogDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogDetectorParams {
    /// The isolation forest. Its `contamination` (default 0.1) is the expected fraction of
    /// outlying records in the training set; its default seed makes every fit reproducible.
    pub forest: ForestParams,
    /// The least confidence for a record to be an anomaly, in `[0, 1]`. Default 0.7.
    pub confidence_threshold: f64,
    /// `|z|` from which a feature counts as having driven a decision, and names the type.
    /// Default 2.
    pub driver_z: f64,
    /// The features.
    pub features: FeatureParams,
}

impl Default for LogDetectorParams {
    fn default() -> Self {
        LogDetectorParams {
            forest: ForestParams::default(),
            confidence_threshold: 0.7,
            driver_z: 2.0,
            features: FeatureParams::default(),
        }
    }
}

impl LogDetectorParams {
    /// Sets the forest's `contamination`.
    pub fn contamination(mut self, contamination: f64) -> Self {
        self.forest.contamination = contamination;
        self
    }

    /// Sets `confidence_threshold`.
    pub fn confidence_threshold(mut self, threshold: f64) -> Self {
        self.confidence_threshold = threshold;
        self
    }

    /// Sets `driver_z`.
    pub fn driver_z(mut self, driver_z: f64) -> Self {
        self.driver_z = driver_z;
        self
    }

    /// Sets `forest`.
    pub fn forest(mut self, forest: ForestParams) -> Self {
        self.forest = forest;
        self
    }

    /// Sets `features`.
    pub fn features(mut self, features: FeatureParams) -> Self {
        self.features = features;
        self
    }

    /// # Errors
    /// [`Error::Core`] with `InvalidParameter` naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        self.forest.validate()?;
        if let Some(level) = self.forest.extension_level
            && level >= FEATURE_COUNT
        {
            return Err(param("extension_level", "must be below the number of features (6)", level));
        }
        if !(0.0..=1.0).contains(&self.confidence_threshold) {
            return Err(param("confidence_threshold", "must be in [0, 1]", self.confidence_threshold));
        }
        if !(self.driver_z > 0.0 && self.driver_z.is_finite()) {
            return Err(param("driver_z", "must be finite and > 0", self.driver_z));
        }
        self.features.validate()?;
        Ok(())
    }

    /// Learns what normal looks like from `records` and returns the fitted detector.
    ///
    /// Every record's template is counted, then each record's features are computed against
    /// those counts. Each feature is scaled to its robust z against the training set
    /// (response time and memory per service, see [`FeatureEvidence::z`]); a missing response
    /// time or memory is taken at its median (z = 0), so it neither raises nor lowers
    /// suspicion. The z-scores are compressed by `sign(z) · ln(1 + |z|)` so that no one
    /// feature's extremes swamp the forest's random hyperplanes, and the forest is trained on
    /// those rows.
    ///
    /// # Errors
    /// As [`LogDetectorParams::validate`]; [`Error::Core`] with `Empty` or `Shape` for fewer
    /// than 2 records; [`Error::NonFiniteAt`] for a NaN or infinite response time or memory
    /// (row = record index, column = feature index).
    pub fn fit(&self, records: &[LogRecord<'_>]) -> Result<LogDetector> {
        self.validate()?;
        if records.is_empty() {
            return Err(Error::Core(oddsight_core::Error::Empty { what: "log records" }));
        }
        if records.len() < 2 {
            return Err(Error::Core(oddsight_core::Error::Shape {
                what: "log records (at least)",
                expected: 2,
                got: records.len(),
            }));
        }
        for (row, r) in records.iter().enumerate() {
            for (column, v) in [(3, r.response_time_ms), (4, r.memory_mb)] {
                if let Some(value) = v.filter(|v| !v.is_finite()) {
                    return Err(Error::NonFiniteAt { what: "log record feature", row, column, value });
                }
            }
        }
        let mut extractor = self.features.clone().build()?;
        let templates: Vec<u64> = records.iter().map(|r| template_id(&r.message)).collect();
        for &t in &templates {
            extractor.learn_template(t);
        }
        let features: Vec<LogFeatures> =
            records.iter().zip(&templates).map(|(r, &t)| extractor.features_with(r, t)).collect();
        let mut center = [0.0; FEATURE_COUNT];
        let mut scale = [1.0; FEATURE_COUNT];
        let mut column = Vec::with_capacity(features.len());
        for (j, (c, s)) in center.iter_mut().zip(scale.iter_mut()).enumerate() {
            column.clear();
            column.extend(features.iter().filter_map(|f| f.values()[j]));
            (*c, *s) = robust_center_scale(&mut column);
        }
        let mut by_service: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for (r, f) in records.iter().zip(&features) {
            if let Some(service) = r.service.as_deref() {
                let entry = by_service.entry(service).or_default();
                entry.0.extend(f.response_time_ms);
                entry.1.extend(f.memory_mb);
            }
        }
        let mut services = BTreeMap::new();
        for (name, (mut rt, mut mem)) in by_service {
            if rt.len() < MIN_SERVICE_VALUES && mem.len() < MIN_SERVICE_VALUES {
                continue;
            }
            let (c_rt, s_rt) =
                if rt.len() >= MIN_SERVICE_VALUES { robust_center_scale(&mut rt) } else { (center[3], scale[3]) };
            let (c_mem, s_mem) =
                if mem.len() >= MIN_SERVICE_VALUES { robust_center_scale(&mut mem) } else { (center[4], scale[4]) };
            services.insert(name.to_string(), [c_rt, s_rt, c_mem, s_mem]);
        }
        let mut detector = LogDetector {
            params: self.clone(),
            extractor,
            forest: None,
            center,
            scale,
            services,
            tail: Vec::new(),
            threshold: 1.0,
        };
        let mut rows = Vec::with_capacity(features.len() * FEATURE_COUNT);
        for (r, f) in records.iter().zip(&features) {
            rows.extend_from_slice(&compress(detector.z(f, r.service.as_deref())));
        }
        let view = ArrayView2::from_shape((features.len(), FEATURE_COUNT), &rows)
            .map_err(|e| Error::Unsupported { what: format!("feature matrix: {e}") })?;
        let forest = self.forest.fit(view)?;
        let mut scores = forest.score_rows(view)?;
        detector.tail = tail_grid(&mut scores, forest.threshold());
        detector.threshold = forest.threshold();
        detector.forest = Some(forest);
        Ok(detector)
    }
}

fn no_forest() -> Error {
    Error::Core(oddsight_core::Error::Snapshot { reason: "log detector has no forest".into(), source: None })
}

fn param(name: &'static str, reason: &'static str, value: impl fmt::Display) -> Error {
    Error::Core(oddsight_core::Error::InvalidParameter { name, reason, value: value.to_string() })
}

/// Median and robust scale of `values` (reordered); `(0, 1)` for none.
fn robust_center_scale(values: &mut [f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let median = median(values);
    let mean_ad = values.iter().map(|v| (v - median).abs()).sum::<f64>() / values.len() as f64;
    for v in values.iter_mut() {
        *v = (*v - median).abs();
    }
    let mad = median_of(values);
    let scale = if mad > 0.0 {
        MAD_TO_SIGMA * mad
    } else if mean_ad > 0.0 {
        MEAN_AD_TO_SIGMA * mean_ad
    } else {
        1.0
    };
    (median, if scale.is_finite() && scale > 0.0 { scale } else { 1.0 })
}

fn median(values: &mut [f64]) -> f64 {
    median_of(values)
}

fn median_of(values: &mut [f64]) -> f64 {
    let n = values.len();
    let mid = n / 2;
    let (_, &mut upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = values[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    }
}

/// The quantile grid of the scores above `threshold` (sorted in place); empty when none is.
fn tail_grid(scores: &mut [f64], threshold: f64) -> Vec<f64> {
    scores.sort_by(f64::total_cmp);
    let start = scores.partition_point(|&s| s <= threshold);
    let tail = &scores[start..];
    if tail.is_empty() {
        return Vec::new();
    }
    (0..TAIL_POINTS)
        .map(|k| {
            let pos = k as f64 / (TAIL_POINTS - 1) as f64 * (tail.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(tail.len() - 1);
            tail[lo] + (tail[hi] - tail[lo]) * (pos - lo as f64)
        })
        .collect()
}

/// A fitted log anomaly detector: see [the module docs](super).
///
/// # Contract
///
/// - [`LogDetectorParams::fit`] learns from a batch of records; the forest is fixed from then
///   on (refit to follow a changed service).
/// - [`LogDetector::score`] judges a record against the training set and the template counts
///   so far, and changes nothing. [`LogDetector::observe`] scores, then counts the record's
///   template, so a message that keeps coming stops being rare; [`LogDetector::learn`] only
///   counts. Template counts are bounded ([`FeatureParams::max_templates`]).
/// - The batch calls ([`LogDetector::score_records`], [`LogDetector::detect_bytes`]) give
///   exactly the verdicts of the one-record calls, in order.
/// - A record with a NaN or infinite number is refused with a typed error and changes
///   nothing. A snapshot ([`Stateful`]) restores the detector exactly, template counts included.
#[derive(Debug, Clone, PartialEq)]
pub struct LogDetector {
    params: LogDetectorParams,
    extractor: FeatureExtractor,
    /// Always `Some` once fitted or restored (an `Option` only so that fitting can compute
    /// model rows before the forest exists).
    forest: Option<IsolationForest>,
    center: [f64; FEATURE_COUNT],
    scale: [f64; FEATURE_COUNT],
    /// Per service: response-time median and scale, memory median and scale.
    services: BTreeMap<String, [f64; 4]>,
    tail: Vec<f64>,
    /// The forest's threshold.
    threshold: f64,
}

/// `sign(z) · ln(1 + |z|)` of each z: the row the forest sees.
#[inline]
fn compress(mut z: [f64; FEATURE_COUNT]) -> [f64; FEATURE_COUNT] {
    for v in &mut z {
        *v = v.signum() * v.abs().ln_1p();
    }
    z
}

impl LogDetector {
    /// The parameters.
    pub fn params(&self) -> &LogDetectorParams {
        &self.params
    }

    /// The forest.
    pub fn forest(&self) -> Option<&IsolationForest> {
        self.forest.as_ref()
    }

    /// The template counts.
    pub fn templates(&self) -> &TemplateCounts {
        self.extractor.templates()
    }

    /// Each feature's training median over all records, in [`Feature::ALL`] order.
    pub fn center(&self) -> [f64; FEATURE_COUNT] {
        self.center
    }

    /// Each feature's robust scale on the training set, in [`Feature::ALL`] order.
    pub fn scale(&self) -> [f64; FEATURE_COUNT] {
        self.scale
    }

    /// The response-time median and scale, then the memory median and scale, that records of
    /// `service` are judged against (the service's own, or those of all records).
    pub fn service_scales(&self, service: Option<&str>) -> [f64; 4] {
        service.and_then(|s| self.services.get(s)).copied().unwrap_or([
            self.center[3],
            self.scale[3],
            self.center[4],
            self.scale[4],
        ])
    }

    /// The services with scales of their own.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    #[inline]
    fn z(&self, f: &LogFeatures, service: Option<&str>) -> [f64; FEATURE_COUNT] {
        let (c, s) = (&self.center, &self.scale);
        let own = self.service_scales(service);
        [
            (f.message_length - c[0]) / s[0],
            (f.error_keywords - c[1]) / s[1],
            (f.level_severity - c[2]) / s[2],
            f.response_time_ms.map_or(0.0, |v| (v - own[0]) / own[1]),
            f.memory_mb.map_or(0.0, |v| (v - own[2]) / own[3]),
            (f.template_rarity - c[5]) / s[5],
        ]
    }

    fn forest_ref(&self) -> Result<&IsolationForest> {
        self.forest.as_ref().ok_or_else(no_forest)
    }

    /// The confidence of a forest score (see [`LogVerdict::confidence`]).
    pub fn confidence(&self, score: f64) -> f64 {
        // The forest's threshold, kept apart so that it is at hand while the batch path
        // borrows the forest.
        if score.is_nan() || score <= self.threshold {
            return 0.0;
        }
        let t = &self.tail;
        let (Some(&first), Some(&last)) = (t.first(), t.last()) else { return 1.0 };
        if score >= last {
            return 1.0;
        }
        if score < first {
            return 0.0;
        }
        let k = t.partition_point(|&q| q <= score).saturating_sub(1);
        let (lo, hi) = (t[k], t[(k + 1).min(t.len() - 1)]);
        let frac = if hi > lo { (score - lo) / (hi - lo) } else { 1.0 };
        ((k as f64 + frac) / (t.len() - 1) as f64).clamp(0.0, 1.0)
    }

    /// The verdict on features already computed, their z and their forest score.
    #[inline]
    fn verdict(&self, features: LogFeatures, z: [f64; FEATURE_COUNT], score: f64) -> LogVerdict {
        let confidence = self.confidence(score);
        let is_anomaly = confidence > 0.0 && confidence >= self.params.confidence_threshold;
        let anomaly_type = is_anomaly.then(|| self.classify(&features, &z));
        LogVerdict { score, confidence, is_anomaly, anomaly_type, features, z }
    }

    /// Names an anomaly's type from its features (`d` is `driver_z`, `z_rt` and `z_mem` the
    /// response-time and memory z-scores), taking the first rule that applies:
    ///
    /// 1. the message holds a performance keyword (a timeout, `slow`): **performance**;
    /// 2. `z_rt` or `z_mem` is at least `2d`: **performance** or **memory**, whichever is larger;
    /// 3. the level is ERROR or CRITICAL, or an error keyword occurs with its count's or the
    ///    level's z at least `d`: **error**;
    /// 4. `z_rt` or `z_mem` is at least `d`: **performance** or **memory**, whichever is larger;
    /// 5. otherwise **pattern** (a rare template, an odd length, or several smaller deviations).
    fn classify(&self, f: &LogFeatures, z: &[f64; FEATURE_COUNT]) -> AnomalyType {
        let d = self.params.driver_z;
        let (rt, mem) = (z[3], z[4]);
        let larger = || if mem > rt { AnomalyType::Memory } else { AnomalyType::Performance };
        if f.performance_keywords > 0 {
            AnomalyType::Performance
        } else if rt >= 2.0 * d || mem >= 2.0 * d {
            larger()
        } else if f.level_severity >= 4.0 || (f.error_keywords > 0.0 && (z[1] >= d || z[2] >= d)) {
            AnomalyType::Error
        } else if rt >= d || mem >= d {
            larger()
        } else {
            AnomalyType::Pattern
        }
    }

    /// Judges `record` against the training set and the template counts so far; changes
    /// nothing.
    ///
    /// # Errors
    /// [`Error::Core`] with `NonFinite` for a NaN or infinite response time or memory.
    pub fn score(&self, record: &LogRecord<'_>) -> Result<LogVerdict> {
        let features = self.extractor.features(record)?;
        let z = self.z(&features, record.service.as_deref());
        let score = self.forest_ref()?.score_row(&compress(z))?;
        Ok(self.verdict(features, z, score))
    }

    /// Counts `record`'s template.
    ///
    /// # Errors
    /// As [`LogDetector::score`] (nothing is counted then).
    pub fn learn(&mut self, record: &LogRecord<'_>) -> Result<()> {
        Ok(self.extractor.learn(record)?)
    }

    /// [`LogDetector::score`], then [`LogDetector::learn`].
    ///
    /// # Errors
    /// As [`LogDetector::score`] (nothing is counted then).
    pub fn observe(&mut self, record: &LogRecord<'_>) -> Result<LogVerdict> {
        let verdict = self.score(record)?;
        self.extractor.learn_template(verdict.features.template);
        Ok(verdict)
    }

    /// Judges many records, as [`LogDetector::score`] on each (no mutation).
    ///
    /// # Errors
    /// As [`LogDetector::score`], for the first bad record; no verdict is returned then.
    pub fn score_records(&self, records: &[LogRecord<'_>]) -> Result<Vec<LogVerdict>> {
        let forest = self.forest_ref()?;
        let mut out = Vec::with_capacity(records.len());
        let mut features = Vec::with_capacity(BLOCK);
        let mut rows = Vec::with_capacity(BLOCK * FEATURE_COUNT);
        let mut scores = vec![0.0; BLOCK];
        for chunk in records.chunks(BLOCK) {
            features.clear();
            rows.clear();
            for r in chunk {
                let f = self.extractor.features(r)?;
                let z = self.z(&f, r.service.as_deref());
                rows.extend_from_slice(&compress(z));
                features.push((f, z));
            }
            self.score_block(forest, &rows, &mut scores[..chunk.len()])?;
            out.extend(features.iter().zip(&scores).map(|(&(f, z), &s)| self.verdict(f, z, s)));
        }
        Ok(out)
    }

    fn score_block(&self, forest: &IsolationForest, rows: &[f64], out: &mut [f64]) -> Result<()> {
        let view = ArrayView2::from_shape((out.len(), FEATURE_COUNT), rows)
            .map_err(|e| Error::Unsupported { what: format!("feature matrix: {e}") })?;
        forest.score_rows_into(view, out)
    }

    /// Parses `input` with `parser` and judges every record, calling
    /// `each(line_index, &record, &verdict)` in order: the whole path from bytes to verdicts,
    /// in blocks of 256 records. With `learn`, each record's template is counted after it is
    /// judged (as [`LogDetector::observe`]); without, nothing changes (as
    /// [`LogDetector::score`]). Malformed lines are counted in the report, never fatal.
    ///
    /// # Errors
    /// Only if the detector has no forest (a state no public constructor makes).
    pub fn detect_bytes<'a>(
        &mut self,
        parser: LogParser,
        input: &'a [u8],
        learn: bool,
        mut each: impl FnMut(usize, &LogRecord<'a>, &LogVerdict),
    ) -> Result<ParseReport> {
        let forest = self.forest.take().ok_or_else(no_forest)?;
        let result = self.detect_with(&forest, parser, input, learn, &mut each);
        self.forest = Some(forest);
        result
    }

    fn detect_with<'a>(
        &mut self,
        forest: &IsolationForest,
        parser: LogParser,
        input: &'a [u8],
        learn: bool,
        each: &mut impl FnMut(usize, &LogRecord<'a>, &LogVerdict),
    ) -> Result<ParseReport> {
        let mut block: Vec<(usize, LogRecord<'a>)> = Vec::with_capacity(BLOCK);
        let mut features = Vec::with_capacity(BLOCK);
        let mut rows = Vec::with_capacity(BLOCK * FEATURE_COUNT);
        let mut scores = vec![0.0; BLOCK];
        let mut failure = None;
        let mut flush = |this: &mut Self, block: &mut Vec<(usize, LogRecord<'a>)>| -> Result<()> {
            features.clear();
            rows.clear();
            for (_, r) in block.iter() {
                // Parsed numbers are always finite, so the check cannot fail here.
                let f = this.extractor.features_with(r, template_id(&r.message));
                if learn {
                    this.extractor.learn_template(f.template);
                }
                let z = this.z(&f, r.service.as_deref());
                rows.extend_from_slice(&compress(z));
                features.push((f, z));
            }
            let n = block.len();
            this.score_block(forest, &rows, &mut scores[..n])?;
            for ((index, record), (&(f, z), &s)) in block.iter().zip(features.iter().zip(&scores)) {
                each(*index, record, &this.verdict(f, z, s));
            }
            block.clear();
            Ok(())
        };
        let report = parser.for_each(input, |index, record| {
            if failure.is_some() {
                return;
            }
            block.push((index, record));
            if block.len() == BLOCK
                && let Err(e) = flush(self, &mut block)
            {
                failure = Some(e);
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        if !block.is_empty() {
            flush(self, &mut block)?;
        }
        Ok(report)
    }
}

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogDetectorState {
    params: LogDetectorParams,
    forest: IsolationForest,
    center: [f64; FEATURE_COUNT],
    scale: [f64; FEATURE_COUNT],
    services: BTreeMap<String, [f64; 4]>,
    tail: Vec<f64>,
    templates: Vec<(u64, u32)>,
}

impl Serialize for LogDetector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let forest = self.forest.clone().ok_or_else(|| serde::ser::Error::custom("log detector has no forest"))?;
        LogDetectorState {
            params: self.params.clone(),
            forest,
            center: self.center,
            scale: self.scale,
            services: self.services.clone(),
            tail: self.tail.clone(),
            templates: self.extractor.templates().entries(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LogDetector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let s = LogDetectorState::deserialize(deserializer)?;
        s.params.validate().map_err(D::Error::custom)?;
        if s.forest.width() != FEATURE_COUNT {
            return Err(D::Error::custom(format!("forest width {} is not {FEATURE_COUNT}", s.forest.width())));
        }
        let service_values = s.services.values().flatten();
        if s.center.iter().chain(&s.scale).chain(&s.tail).chain(service_values).any(|v| !v.is_finite()) {
            return Err(D::Error::custom("non-finite center, scale or tail value"));
        }
        let service_scales = s.services.values().flat_map(|v| [v[1], v[3]]);
        if s.scale.iter().copied().chain(service_scales).any(|v| v <= 0.0) {
            return Err(D::Error::custom("scales must be > 0"));
        }
        if !(s.tail.is_empty() || s.tail.len() == TAIL_POINTS) || s.tail.windows(2).any(|w| w[0] > w[1]) {
            return Err(D::Error::custom(format!("tail must be empty or {TAIL_POINTS} sorted values")));
        }
        let mut extractor = s.params.features.clone().build().map_err(D::Error::custom)?;
        let templates =
            TemplateCounts::from_entries(s.params.features.max_templates, &s.templates).map_err(D::Error::custom)?;
        extractor.set_templates(templates);
        Ok(LogDetector {
            params: s.params,
            extractor,
            threshold: s.forest.threshold(),
            forest: Some(s.forest),
            center: s.center,
            scale: s.scale,
            services: s.services,
            tail: s.tail,
        })
    }
}

impl Stateful for LogDetector {
    fn kind() -> String {
        "LogDetector".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_scale_falls_back() {
        assert_eq!(robust_center_scale(&mut []), (0.0, 1.0));
        assert_eq!(robust_center_scale(&mut [2.0, 2.0, 2.0]), (2.0, 1.0));
        let (c, s) = robust_center_scale(&mut [2.0, 2.0, 2.0, 4.0]);
        assert_eq!(c, 2.0);
        assert!((s - MEAN_AD_TO_SIGMA * 0.5).abs() < 1e-12);
        let (c, s) = robust_center_scale(&mut [1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(c, 3.0);
        assert!((s - MAD_TO_SIGMA).abs() < 1e-12);
    }

    #[test]
    fn tail_grid_is_sorted() {
        let mut scores: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
        let grid = tail_grid(&mut scores, 0.9);
        assert_eq!(grid.len(), TAIL_POINTS);
        assert!(grid.windows(2).all(|w| w[0] <= w[1]));
        assert!(grid[0] > 0.9 && grid[TAIL_POINTS - 1] == 0.999);
        assert!(tail_grid(&mut [0.5, 0.5], 0.5).is_empty());
    }
}
