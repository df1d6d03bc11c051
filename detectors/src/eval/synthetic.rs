//! A seeded synthetic efficacy suite: known anomalies of seven kinds at three difficulties,
//! and event-level precision, recall, F1 and detection delay for any streaming detector.
//!
//! # The series
//!
//! Every series is `length` points (default 2880: ten days at the default 5-minute step,
//! starting Monday 2024-01-01 00:00 UTC) holding exactly one anomaly event, whose onset is
//! drawn uniformly from `[warmup + 48, length − span − tolerance − 48]`. Unless said otherwise
//! the base signal is a level of 100 plus Gaussian noise of σ = 1, so magnitudes below are in
//! noise standard deviations. Signs of level shifts and drifts are drawn at random.
//!
//! | pattern | base | the anomaly | span (points) | easy | medium | hard |
//! |---|---|---|---|---|---|---|
//! | `spike` | level + noise | one point `+m·σ` | 1 | 12σ | 7σ | 4.5σ |
//! | `dip` | level + noise | one point `−m·σ` | 1 | 12σ | 7σ | 4.5σ |
//! | `level_shift` | level + noise | a step of `±m·σ` that stays | 36 | 8σ | 5σ | 3σ |
//! | `trend_drift` | level + noise | a ramp reaching `±m·σ` after the span, then held | 144 | 12σ | 6σ | 3σ |
//! | `variance_change` | level + noise | noise `σ × m` during the span | 144 | ×6 | ×3.5 | ×2 |
//! | `seasonality_break` | level + daily sine of amplitude 6σ + noise | for one day the cycle is inverted / shifted a quarter day / halved | 288 | inverted | quarter-day shift | amplitude halved |
//! | `count_burst` | Poisson counts, rate 4 | rate `× m` during the span | 12 | ×6 | ×3.5 | ×2.2 |
//!
//! # How a detector is scored
//!
//! Each series is streamed through a fresh detector with [`Detector::observe`] (judge, then
//! learn); the verdict's `anomaly_score` is the score. Then, at a threshold `θ`:
//!
//! 1. The first `warmup` points (default 1440, five days) are a burn-in: alarms there count
//!    for nothing.
//! 2. A point is an **alarm** when its score is `≥ θ`. A maximal run of consecutive alarms
//!    (after the burn-in) is one **alert**, which *starts* at its first point. This is how an
//!    operator experiences alarms: a page when the alarm goes on, none while it stays on.
//! 3. The event's **window** runs from its onset to `span − 1 + tolerance` points after it
//!    (default tolerance 6 points, 30 minutes), both ends included. The event is **detected**
//!    (a true positive) if an alert *starts* inside its window, and **missed** (a false
//!    negative) otherwise: an alert already on when the window opens was raised for
//!    something else and hides the event. Its **detection delay** is the start of the first
//!    such alert minus the onset, in points.
//! 4. Each alert that starts outside the window is one **false positive**, however long it
//!    stays on. So flickering on and off pays per flicker, an alert that stays on after a
//!    detection costs nothing more, and a detector that is always on scores one false
//!    positive and no detection.
//! 5. `precision = TP / (TP + FP)` (0 when there are no alerts), `recall = TP / events`,
//!    `F1 = 2PR / (P + R)` (0 when both are 0), the counts summed over the series of a cell
//!    (one pattern at one difficulty) before dividing. The mean delay is over detected events.
//!
//! Each cell is reported at the **fixed** threshold (default 0.5, which is |z| = 3 on the
//! common scale: a threshold chosen without labels) and at the **best** threshold for that
//! cell (the one maximising its F1; on a tie, the higher threshold), which shows what tuning
//! could reach at most. The overall rows sum every cell, at the fixed threshold and at the
//! single threshold that is best for the whole suite.
//!
//! The best threshold is exact and found in `O(n log n)`: an alert starts at point `i` exactly
//! when `s[i−1] < θ ≤ s[i]`, so the number of false positives at `θ` is the number of outside
//! points with `s[i] ≥ θ` minus the number with `min(s[i−1], s[i]) ≥ θ`, and an event is
//! detected for `θ` in the union of the intervals `(s[i−1], s[i]]` over its window. Both are
//! sums of steps at score values, so one sort of those values gives every threshold's counts.
//!
//! ```
//! use oddsight_core::{BaselineDetector, Detector, DetectorParams, EwmaParams, ZScore};
//! use oddsight_detectors::eval::synthetic::{Difficulty, Pattern, SuiteParams};
//! let suite = SuiteParams::default()
//!     .patterns(vec![Pattern::Spike])
//!     .difficulties(vec![Difficulty::Easy])
//!     .replicates(3)
//!     .build()?;
//! let report = suite.evaluate(|| {
//!     let b = EwmaParams::default().build()?;
//!     Ok(Box::new(BaselineDetector::new(b, ZScore, DetectorParams::default())?) as Box<dyn Detector>)
//! })?;
//! let cell = &report.cells[0];
//! assert_eq!(cell.best.detected, 3); // 12σ spikes are all found
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```

use crate::error::{Error, Result};
use oddsight_core::{Detector, Point};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of anomaly the suite injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// One point far above the level.
    Spike,
    /// One point far below the level.
    Dip,
    /// A step that stays.
    LevelShift,
    /// A gradual ramp away from the level, then held.
    TrendDrift,
    /// The noise grows for a while.
    VarianceChange,
    /// The daily cycle breaks for a day.
    SeasonalityBreak,
    /// A Poisson count's rate jumps for a while.
    CountBurst,
}

impl Pattern {
    /// Every pattern, in the order reports list them.
    pub const ALL: [Pattern; 7] = [
        Pattern::Spike,
        Pattern::Dip,
        Pattern::LevelShift,
        Pattern::TrendDrift,
        Pattern::VarianceChange,
        Pattern::SeasonalityBreak,
        Pattern::CountBurst,
    ];

    /// Snake-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Spike => "spike",
            Pattern::Dip => "dip",
            Pattern::LevelShift => "level_shift",
            Pattern::TrendDrift => "trend_drift",
            Pattern::VarianceChange => "variance_change",
            Pattern::SeasonalityBreak => "seasonality_break",
            Pattern::CountBurst => "count_burst",
        }
    }

    /// How many points the anomaly lasts (before the tolerance is added to its window).
    pub fn span(self) -> usize {
        match self {
            Pattern::Spike | Pattern::Dip => 1,
            Pattern::LevelShift => 36,
            Pattern::TrendDrift | Pattern::VarianceChange => 144,
            Pattern::SeasonalityBreak => POINTS_PER_DAY,
            Pattern::CountBurst => 12,
        }
    }

    /// The pattern's magnitude at a difficulty (σ multiples, or factors; see the module docs).
    pub fn magnitude(self, difficulty: Difficulty) -> f64 {
        let [easy, medium, hard] = match self {
            Pattern::Spike | Pattern::Dip => [12.0, 7.0, 4.5],
            Pattern::LevelShift => [8.0, 5.0, 3.0],
            Pattern::TrendDrift => [12.0, 6.0, 3.0],
            Pattern::VarianceChange => [6.0, 3.5, 2.0],
            // The deviation's peak, in σ: inverted 2A, shifted √2·A, halved A/2 (A = 6σ).
            Pattern::SeasonalityBreak => [2.0 * AMPLITUDE, std::f64::consts::SQRT_2 * AMPLITUDE, 0.5 * AMPLITUDE],
            Pattern::CountBurst => [6.0, 3.5, 2.2],
        };
        match difficulty {
            Difficulty::Easy => easy,
            Difficulty::Medium => medium,
            Difficulty::Hard => hard,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How hard an injected anomaly is to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    /// Obvious to anyone looking.
    Easy,
    /// Clear to a good detector.
    Medium,
    /// Near the noise.
    Hard,
}

impl Difficulty {
    /// The three difficulties, easiest first.
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard];

    /// Lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Base level of every non-count series.
const LEVEL: f64 = 100.0;
/// Amplitude of the daily cycle of the seasonal series, in noise σ.
const AMPLITUDE: f64 = 6.0;
/// Rate of the count series.
const COUNT_RATE: f64 = 4.0;
/// Points per day at the default 5-minute step.
const POINTS_PER_DAY: usize = 288;
/// Onsets keep this many points away from the burn-in and from the end.
const MARGIN: usize = 48;

/// Parameters of a [`SyntheticSuite`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SuiteParams {
    /// Points per series. Default 2880 (ten days of 5-minute points).
    pub length: usize,
    /// Burn-in points whose alarms count for nothing. Default 1440 (five days).
    pub warmup: usize,
    /// Series per pattern and difficulty. Default 10.
    pub replicates: usize,
    /// Points after an anomaly's span that still count as detecting it. Default 6.
    pub tolerance: usize,
    /// Master seed; every series' seed derives from it. Default `0x0dd5_1647`.
    pub seed: u64,
    /// Timestamp of the first point, Unix ms. Default 2024-01-01 00:00 UTC (a Monday).
    pub start_ms: i64,
    /// Time between points, ms. Default 300 000 (5 minutes). The daily cycle of the seasonal
    /// pattern is always 288 points.
    pub step_ms: i64,
    /// The unsupervised threshold. Default 0.5 (|z| = 3 on the common scale).
    pub fixed_threshold: f64,
    /// Patterns to generate. Default all.
    pub patterns: Vec<Pattern>,
    /// Difficulties to generate. Default all.
    pub difficulties: Vec<Difficulty>,
}

impl Default for SuiteParams {
    fn default() -> Self {
        SuiteParams {
            length: 2880,
            warmup: 1440,
            replicates: 10,
            tolerance: 6,
            seed: 0x0dd5_1647,
            start_ms: 1_704_067_200_000,
            step_ms: 300_000,
            fixed_threshold: 0.5,
            patterns: Pattern::ALL.to_vec(),
            difficulties: Difficulty::ALL.to_vec(),
        }
    }
}

impl SuiteParams {
    /// Sets `length`.
    pub fn length(mut self, length: usize) -> Self {
        self.length = length;
        self
    }
    /// Sets `warmup`.
    pub fn warmup(mut self, warmup: usize) -> Self {
        self.warmup = warmup;
        self
    }
    /// Sets `replicates`.
    pub fn replicates(mut self, replicates: usize) -> Self {
        self.replicates = replicates;
        self
    }
    /// Sets `tolerance`.
    pub fn tolerance(mut self, tolerance: usize) -> Self {
        self.tolerance = tolerance;
        self
    }
    /// Sets `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets `start_ms`.
    pub fn start_ms(mut self, start_ms: i64) -> Self {
        self.start_ms = start_ms;
        self
    }
    /// Sets `step_ms`.
    pub fn step_ms(mut self, step_ms: i64) -> Self {
        self.step_ms = step_ms;
        self
    }
    /// Sets `fixed_threshold`.
    pub fn fixed_threshold(mut self, fixed_threshold: f64) -> Self {
        self.fixed_threshold = fixed_threshold;
        self
    }
    /// Sets `patterns`.
    pub fn patterns(mut self, patterns: Vec<Pattern>) -> Self {
        self.patterns = patterns;
        self
    }
    /// Sets `difficulties`.
    pub fn difficulties(mut self, difficulties: Vec<Difficulty>) -> Self {
        self.difficulties = difficulties;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`oddsight_core::Error::InvalidParameter`] (wrapped) naming the first bad one: a
    /// series too short to hold the burn-in, the longest selected pattern and its margins,
    /// no replicates, patterns or difficulties, a non-positive step, a threshold outside
    /// `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        let param = |name: &'static str, reason: &'static str, value: String| {
            Error::Core(oddsight_core::Error::InvalidParameter { name, reason, value })
        };
        let longest = self.patterns.iter().map(|p| p.span()).max().unwrap_or(1);
        let needed = self.warmup + 2 * MARGIN + longest + self.tolerance + 1;
        if self.length < needed || self.length > 100_000_000 {
            return Err(param(
                "length",
                "must hold warmup + 96 + the longest span + tolerance + 1 points (and be at most 1e8)",
                format!("{} (needs {needed})", self.length),
            ));
        }
        if self.replicates == 0 || self.replicates > 100_000 {
            return Err(param("replicates", "must be in 1..=100000", self.replicates.to_string()));
        }
        if self.patterns.is_empty() {
            return Err(param("patterns", "must not be empty", "[]".into()));
        }
        if self.difficulties.is_empty() {
            return Err(param("difficulties", "must not be empty", "[]".into()));
        }
        if self.step_ms <= 0 {
            return Err(param("step_ms", "must be > 0", self.step_ms.to_string()));
        }
        if !(0.0..=1.0).contains(&self.fixed_threshold) {
            return Err(param("fixed_threshold", "must be in [0, 1]", self.fixed_threshold.to_string()));
        }
        Ok(())
    }

    /// Generates the suite's series.
    ///
    /// # Errors
    /// As [`SuiteParams::validate`].
    pub fn build(self) -> Result<SyntheticSuite> {
        self.validate()?;
        let mut series = Vec::new();
        for &pattern in &self.patterns {
            for &difficulty in &self.difficulties {
                for replicate in 0..self.replicates {
                    series.push(generate(pattern, difficulty, replicate, &self));
                }
            }
        }
        Ok(SyntheticSuite { params: self, series })
    }
}

/// Where the anomaly of a series is, in points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLabel {
    /// Points in the series.
    pub len: usize,
    /// Burn-in points whose alarms count for nothing.
    pub warmup: usize,
    /// Index of the anomaly's first point.
    pub onset: usize,
    /// Last index of its detection window (inclusive): `onset + span − 1 + tolerance`.
    pub window_end: usize,
}

/// One generated series with its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabeledSeries {
    /// The injected pattern.
    pub pattern: Pattern,
    /// Its difficulty.
    pub difficulty: Difficulty,
    /// Which replicate of its cell it is.
    pub replicate: usize,
    /// The seed it was generated from.
    pub seed: u64,
    /// Timestamps, Unix ms.
    pub timestamps: Vec<i64>,
    /// Values.
    pub values: Vec<f64>,
    /// Where the anomaly is.
    pub label: EventLabel,
}

/// Generates the series of `pattern` at `difficulty`, replicate `replicate`, with the
/// lengths, timing and seed of `params` (see the module docs for the shapes). The same
/// arguments always give the same series.
pub fn generate(pattern: Pattern, difficulty: Difficulty, replicate: usize, params: &SuiteParams) -> LabeledSeries {
    let pattern_index = Pattern::ALL.iter().position(|&p| p == pattern).unwrap_or(0) as u64;
    let difficulty_index = difficulty as u64;
    let mut mix = params.seed ^ (pattern_index << 48) ^ (difficulty_index << 40) ^ (replicate as u64);
    let seed = splitmix64(&mut mix);
    let mut rng = Rng::new(seed);

    let n = params.length;
    let span = pattern.span();
    let first = params.warmup + MARGIN;
    let last = n.saturating_sub(span + params.tolerance + MARGIN).max(first);
    let onset = first + rng.below((last - first + 1) as u64) as usize;
    let window_end = (onset + span - 1 + params.tolerance).min(n - 1);
    let m = pattern.magnitude(difficulty);
    let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };

    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let inside = i >= onset && i < onset + span;
        let v = match pattern {
            Pattern::Spike | Pattern::Dip => {
                let bump = if i == onset { m } else { 0.0 };
                LEVEL + rng.normal() + if pattern == Pattern::Spike { bump } else { -bump }
            }
            Pattern::LevelShift => LEVEL + rng.normal() + if i >= onset { sign * m } else { 0.0 },
            Pattern::TrendDrift => {
                let progress = if i < onset { 0.0 } else { ((i - onset + 1) as f64 / span as f64).min(1.0) };
                LEVEL + rng.normal() + sign * m * progress
            }
            Pattern::VarianceChange => LEVEL + rng.normal() * if inside { m } else { 1.0 },
            Pattern::SeasonalityBreak => {
                let phase = std::f64::consts::TAU * (i % POINTS_PER_DAY) as f64 / POINTS_PER_DAY as f64;
                let cycle = match (inside, difficulty) {
                    (false, _) => AMPLITUDE * phase.sin(),
                    (true, Difficulty::Easy) => -AMPLITUDE * phase.sin(),
                    (true, Difficulty::Medium) => AMPLITUDE * (phase + std::f64::consts::FRAC_PI_2).sin(),
                    (true, Difficulty::Hard) => 0.5 * AMPLITUDE * phase.sin(),
                };
                LEVEL + cycle + rng.normal()
            }
            Pattern::CountBurst => rng.poisson(COUNT_RATE * if inside { m } else { 1.0 }),
        };
        values.push(v);
    }
    let timestamps = (0..n as i64).map(|i| params.start_ms + i * params.step_ms).collect();
    LabeledSeries {
        pattern,
        difficulty,
        replicate,
        seed,
        timestamps,
        values,
        label: EventLabel { len: n, warmup: params.warmup, onset, window_end },
    }
}

/// A generated suite, ready to evaluate detectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntheticSuite {
    params: SuiteParams,
    series: Vec<LabeledSeries>,
}

impl SyntheticSuite {
    /// The parameters it was built with.
    pub fn params(&self) -> &SuiteParams {
        &self.params
    }

    /// The series, by pattern, then difficulty, then replicate.
    pub fn series(&self) -> &[LabeledSeries] {
        &self.series
    }

    /// Streams every series through a fresh detector from `factory` and scores the verdicts.
    ///
    /// # Errors
    /// What `factory` returns; [`Error::Data`] (the path names the series) if the detector
    /// rejects a point or returns a non-finite score.
    pub fn evaluate<F>(&self, mut factory: F) -> Result<SuiteReport>
    where
        F: FnMut() -> Result<Box<dyn Detector>>,
    {
        let mut scores = Vec::with_capacity(self.series.len());
        for s in &self.series {
            let mut detector = factory()?;
            let mut out = Vec::with_capacity(s.values.len());
            for (i, (&t, &v)) in s.timestamps.iter().zip(&s.values).enumerate() {
                let verdict = detector.observe(Point::new(t, v)).map_err(|e| Error::Data {
                    path: series_name(s),
                    row: i + 1,
                    reason: e.to_string(),
                })?;
                out.push(verdict.anomaly_score);
            }
            scores.push(out);
        }
        self.evaluate_scores(&scores)
    }

    /// Scores precomputed anomaly scores, `scores[k]` for `self.series()[k]`.
    ///
    /// # Errors
    /// [`Error::Data`] for a missing series, a wrong length or a non-finite score.
    pub fn evaluate_scores(&self, scores: &[Vec<f64>]) -> Result<SuiteReport> {
        if scores.len() != self.series.len() {
            return Err(Error::Data {
                path: "synthetic suite".into(),
                row: 0,
                reason: format!("{} score vectors for {} series", scores.len(), self.series.len()),
            });
        }
        for (s, sc) in self.series.iter().zip(scores) {
            check_scores(&series_name(s), &s.label, sc)?;
        }
        let fixed = self.params.fixed_threshold;
        let mut cells = Vec::new();
        let mut start = 0;
        while start < self.series.len() {
            let key = (self.series[start].pattern, self.series[start].difficulty);
            let end = start + self.series[start..].iter().take_while(|s| (s.pattern, s.difficulty) == key).count();
            let labels: Vec<EventLabel> = self.series[start..end].iter().map(|s| s.label).collect();
            let sc = &scores[start..end];
            cells.push(CellReport {
                pattern: key.0,
                difficulty: key.1,
                series: end - start,
                fixed: metrics_at(&labels, sc, fixed),
                best: best_metrics(&labels, sc),
            });
            start = end;
        }
        let labels: Vec<EventLabel> = self.series.iter().map(|s| s.label).collect();
        Ok(SuiteReport {
            fixed_threshold: fixed,
            overall_fixed: metrics_at(&labels, scores, fixed),
            overall_best: best_metrics(&labels, scores),
            cells,
        })
    }
}

fn series_name(s: &LabeledSeries) -> String {
    format!("synthetic/{}/{}/{}", s.pattern, s.difficulty, s.replicate)
}

fn check_scores(name: &str, label: &EventLabel, scores: &[f64]) -> Result<()> {
    if scores.len() != label.len {
        return Err(Error::Data {
            path: name.to_string(),
            row: 0,
            reason: format!("{} scores for {} points", scores.len(), label.len),
        });
    }
    if let Some(i) = scores.iter().position(|x| !x.is_finite()) {
        return Err(Error::Data {
            path: name.to_string(),
            row: i + 1,
            reason: format!("score {} is not finite", scores[i]),
        });
    }
    Ok(())
}

/// Event-level figures at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The threshold: a point is an alarm when its score is `≥` it. `None` when the best was
    /// to raise no alarm at all.
    pub threshold: Option<f64>,
    /// Events (one per series).
    pub events: usize,
    /// Events with an alarm in their window.
    pub detected: usize,
    /// Runs of alarms outside every window, after the burn-in.
    pub false_positives: usize,
    /// `detected / (detected + false_positives)`, 0 without alarms.
    pub precision: f64,
    /// `detected / events`.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
    /// Mean points from onset to the first alarm in the window, over detected events.
    pub mean_delay: Option<f64>,
}

impl Metrics {
    fn from_counts(threshold: Option<f64>, events: usize, detected: usize, false_positives: usize) -> Self {
        let alarms = detected + false_positives;
        let precision = if alarms == 0 { 0.0 } else { detected as f64 / alarms as f64 };
        let recall = if events == 0 { 0.0 } else { detected as f64 / events as f64 };
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Metrics { threshold, events, detected, false_positives, precision, recall, f1, mean_delay: None }
    }
}

/// The figures at threshold `threshold` over series labelled `labels` with scores `scores`
/// (same order, one score per point), by the rules in the module docs.
///
/// Labels and scores are trusted to match (as [`SyntheticSuite::evaluate_scores`] checks);
/// a score vector shorter than its label is read as far as it goes.
pub fn metrics_at(labels: &[EventLabel], scores: &[Vec<f64>], threshold: f64) -> Metrics {
    let (mut detected, mut fps, mut delay_sum) = (0, 0, 0usize);
    for (l, s) in labels.iter().zip(scores) {
        let n = l.len.min(s.len());
        let mut found = false;
        for i in l.warmup..n {
            let starts = s[i] >= threshold && (i == l.warmup || s[i - 1] < threshold);
            if !starts {
                continue;
            }
            if i < l.onset || i > l.window_end {
                fps += 1;
            } else if !found {
                found = true;
                detected += 1;
                delay_sum += i - l.onset;
            }
        }
    }
    let mut m = Metrics::from_counts(Some(threshold), labels.len(), detected, fps);
    m.mean_delay = (detected > 0).then(|| delay_sum as f64 / detected as f64);
    m
}

/// The figures at the threshold that maximises F1 over these series (on a tie, the highest
/// such threshold; if no threshold detects anything, "no alarms", reported without a
/// threshold). Exact, `O(n log n)`: see the module docs.
pub fn best_metrics(labels: &[EventLabel], scores: &[Vec<f64>]) -> Metrics {
    // (value, Δdetected, ΔFP): once θ ≤ value, the counts change by these.
    let mut items: Vec<(f64, i32, i32)> = Vec::new();
    let mut intervals: Vec<(f64, f64)> = Vec::new();
    for (l, s) in labels.iter().zip(scores) {
        let n = l.len.min(s.len());
        intervals.clear();
        for i in l.warmup..n {
            let before = if i > l.warmup { s[i - 1] } else { f64::NEG_INFINITY };
            if i >= l.onset && i <= l.window_end {
                // An alert starts here for θ in (before, s[i]].
                if before < s[i] {
                    intervals.push((before, s[i]));
                }
            } else {
                items.push((s[i], 0, 1));
                if i > l.warmup {
                    items.push((s[i].min(before), 0, -1));
                }
            }
        }
        // The event is detected for θ in the union of its intervals: merge them, then each
        // merged (lo, hi] is +1 from hi down and −1 again from lo down.
        intervals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Option<(f64, f64)> = None;
        for &(lo, hi) in &intervals {
            merged = match merged {
                Some((a, b)) if lo <= b => Some((a, b.max(hi))),
                Some((a, b)) => {
                    push_interval(&mut items, a, b);
                    Some((lo, hi))
                }
                None => Some((lo, hi)),
            };
        }
        if let Some((a, b)) = merged {
            push_interval(&mut items, a, b);
        }
    }
    items.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let events = labels.len();
    let mut best = Metrics::from_counts(None, events, 0, 0);
    let (mut detected, mut fps) = (0i64, 0i64);
    let mut k = 0;
    while k < items.len() {
        let theta = items[k].0;
        while k < items.len() && items[k].0 == theta {
            detected += i64::from(items[k].1);
            fps += i64::from(items[k].2);
            k += 1;
        }
        if theta == f64::NEG_INFINITY {
            break;
        }
        let m = Metrics::from_counts(Some(theta), events, detected.max(0) as usize, fps.max(0) as usize);
        if m.f1 > best.f1 {
            best = m;
        }
    }
    // The delay needs each window's first alert: one more pass at the chosen threshold.
    match best.threshold {
        Some(theta) => metrics_at(labels, scores, theta),
        None => best,
    }
}

fn push_interval(items: &mut Vec<(f64, i32, i32)>, lo: f64, hi: f64) {
    items.push((hi, 1, 0));
    if lo > f64::NEG_INFINITY {
        items.push((lo, -1, 0));
    }
}

/// The suite's figures for one pattern at one difficulty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellReport {
    /// The pattern.
    pub pattern: Pattern,
    /// The difficulty.
    pub difficulty: Difficulty,
    /// Series (and so events) in the cell.
    pub series: usize,
    /// At the fixed, unsupervised threshold.
    pub fixed: Metrics,
    /// At the threshold that is best for this cell.
    pub best: Metrics,
}

/// The result of [`SyntheticSuite::evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// The fixed threshold used.
    pub fixed_threshold: f64,
    /// One entry per pattern and difficulty, in the suite's order.
    pub cells: Vec<CellReport>,
    /// Every series together, at the fixed threshold.
    pub overall_fixed: Metrics,
    /// Every series together, at the single threshold best for the whole suite.
    pub overall_best: Metrics,
}

impl SuiteReport {
    /// The cell for `pattern` at `difficulty`, if the suite has it.
    pub fn cell(&self, pattern: Pattern, difficulty: Difficulty) -> Option<&CellReport> {
        self.cells.iter().find(|c| c.pattern == pattern && c.difficulty == difficulty)
    }
}

impl fmt::Display for SuiteReport {
    /// A Markdown table: each cell at the fixed and at its best threshold.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let delay = |m: &Metrics| m.mean_delay.map_or_else(|| "–".to_string(), |d| format!("{d:.1}"));
        let theta = |m: &Metrics| m.threshold.map_or_else(|| "none".to_string(), |t| format!("{t:.4}"));
        writeln!(
            f,
            "| pattern | difficulty | P @{t} | R @{t} | F1 @{t} | delay @{t} | best θ | P | R | F1 | delay |",
            t = self.fixed_threshold
        )?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        let mut row = |name: &str, diff: &str, a: &Metrics, b: &Metrics| {
            writeln!(
                f,
                "| {name} | {diff} | {:.2} | {:.2} | {:.2} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                a.precision,
                a.recall,
                a.f1,
                delay(a),
                theta(b),
                b.precision,
                b.recall,
                b.f1,
                delay(b)
            )
        };
        for c in &self.cells {
            row(c.pattern.as_str(), c.difficulty.as_str(), &c.fixed, &c.best)?;
        }
        row("**all**", "", &self.overall_fixed, &self.overall_best)
    }
}

/// SplitMix64 step: a well-mixed 64-bit output from a counter.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The suite's random numbers: SplitMix64 with Box–Muller normals and Knuth's Poisson.
/// Written here rather than taken from `rand` so that a series depends only on its seed, not
/// on a dependency's version: the figures in the docs stay reproducible.
#[derive(Debug, Clone)]
struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        Rng { state: seed, spare: None }
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (splitmix64(&mut self.state) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift: unbiased enough for the small ranges used here.
        ((u128::from(splitmix64(&mut self.state)) * u128::from(n)) >> 64) as u64
    }

    /// Standard normal.
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln never sees 0
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }

    /// Poisson with rate `lambda` (Knuth's product method; a rounded normal beyond 60,
    /// where the product would underflow).
    fn poisson(&mut self, lambda: f64) -> f64 {
        if lambda > 60.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0);
        }
        let limit = (-lambda).exp();
        let mut k = 0.0;
        let mut p = self.uniform();
        while p > limit {
            k += 1.0;
            p *= self.uniform();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_moments() {
        let mut r = Rng::new(3);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "{mean} {var}");
        let ps: Vec<f64> = (0..n).map(|_| r.poisson(4.0)).collect();
        let mean = ps.iter().sum::<f64>() / n as f64;
        let var = ps.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 4.0).abs() < 0.03 && (var - 4.0).abs() < 0.1, "{mean} {var}");
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
