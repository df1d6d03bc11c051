//! Isolation forests over rows of several metrics, with a flattened scorer.
//!
//! [`ForestParams::fit`] trains an extended isolation forest (Hariri et al., *Extended Isolation
//! Forest*): each tree isolates a random sample of the training rows with random hyperplanes,
//! and a row that is isolated in few splits is anomalous. The model family, its split rule, its
//! depth limit and its path-length correction are exactly those of the
//! [`extended-isolation-forest`](https://crates.io/crates/extended-isolation-forest) crate, which
//! stays the reference: [`IsolationForest::to_reference_scores`] hands the very same trees to that
//! crate and scores with its own code, and the tests hold the two to 1e-9.
//!
//! Two things are done here rather than in that crate:
//!
//! * **Training is seeded.** The crate draws from the thread-local generator, so two fits of the
//!   same data differ. [`ForestParams::fit`] runs the crate's algorithm (the same uniform
//!   intercepts, Gaussian normals, zeroed coordinates and depth limit) from a ChaCha stream
//!   seeded by [`ForestParams::seed`], so a fit is reproducible on every platform. An unseeded
//!   fit by the crate itself is still available as [`ForestParams::fit_with_crate`].
//! * **Scoring is flattened.** The crate walks boxed nodes recursively, one row at a time
//!   with a branch per node that the processor cannot predict. Here every tree is packed
//!   into one array of step records, level by level (per node the normal `n`, the offset `n·p`
//!   and the index of the left child, one cache line for up to 6 metrics; per leaf its whole
//!   path length, `depth + c(size)`, precomputed), leaves point to themselves so that every row
//!   takes exactly `depth` branch-free steps, and rows go through each tree in blocks so that
//!   the tree stays in cache. When every split uses one metric (extension level 0), a step is a
//!   single comparison of that metric with a threshold, the exact floating-point boundary of
//!   the hyperplane test, so the paths are the same. The inner loops are monomorphised for
//!   widths up to 16.
//!
//! **Widths.** The crate fixes the number of metrics at compile time (`Forest<f64, N>`); this
//! module takes it at run time. The flattened layout does not depend on the width at all; the
//! bridge to the crate's types ([`IsolationForest::to_reference_scores`],
//! [`ForestParams::fit_with_crate`]) is one macro-generated `match` over widths
//! `1..=`[`MAX_REFERENCE_WIDTH`], and wider rows get [`Error::Unsupported`] there (only there:
//! fitting and scoring accept any width).
//!
//! **Non-finite values.** A forest splits on hyperplanes through the data, so NaN or ±inf has no
//! place in it and no imputation would be neutral: [`ForestParams::fit`] and every scoring call
//! reject the whole input with [`Error::NonFiniteAt`] naming the first bad cell, and write
//! nothing.
//!
//! **Scores** are the usual `s = 2^(-E[h] / c(ψ))` in `[0, 1]`, where `E[h]` is the mean path
//! length over the trees and `c(ψ)` the mean path length of an unsuccessful search in a binary
//! tree of `ψ = min(sample_size, rows)` points: about 0.5 or less is ordinary, close to 1 is
//! isolated at once. [`IsolationForest::threshold`] is the score above which a row is an
//! outlier: the `1 - contamination` quantile of the training scores (of at most
//! [`THRESHOLD_ROWS`] training rows drawn with the seed, so that fitting stays fast on large
//! inputs).
//!
//! ```
//! use ndarray::Array2;
//! use oddsight_detectors::ForestParams;
//!
//! // 500 ordinary rows of two correlated metrics, and one that breaks the pattern.
//! let rows = Array2::from_shape_fn((500, 2), |(i, j)| {
//!     let t = (i as f64 * 0.618_034).fract();
//!     if j == 0 { t } else { 2.0 * t + 0.01 * ((i * 7 % 11) as f64) }
//! });
//! let forest = ForestParams::default().trees(100).seed(7).fit(rows.view())?;
//! let ordinary = forest.score_row(&[0.5, 1.05])?;
//! let odd = forest.score_row(&[0.9, 0.2])?;
//! assert!(odd > ordinary);
//! assert!(forest.is_outlier(odd) && !forest.is_outlier(ordinary));
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```

mod flat;
mod reference;
mod train;

use crate::error::{Error, Result};
use ndarray::ArrayView2;
use oddsight_core::snapshot::Stateful;
use serde::{Deserialize, Serialize};

pub use reference::MAX_REFERENCE_WIDTH;

/// At most this many training rows (drawn with the seed) are scored to set
/// [`IsolationForest::threshold`]; all of them when there are fewer.
pub const THRESHOLD_ROWS: usize = 4096;

/// Largest accepted [`ForestParams::trees`].
pub const MAX_TREES: usize = 100_000;

/// Largest accepted [`ForestParams::sample_size`] (trees of depth 24 at most).
pub const MAX_SAMPLE_SIZE: usize = 1 << 24;

/// Parameters of an [`IsolationForest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ForestParams {
    /// Number of trees, in `1..=`[`MAX_TREES`]. Default 100.
    pub trees: usize,
    /// Training rows drawn (without replacement) for each tree, in `2..=`[`MAX_SAMPLE_SIZE`];
    /// all rows are used when there are fewer. Default 256. Trees are at most
    /// `ceil(log2(sample_size))` deep.
    pub sample_size: usize,
    /// Coordinates a split hyperplane may tilt in, beyond the first: `None` is fully extended
    /// (`width - 1`, any orientation), `Some(0)` the classic axis-parallel forest. Must be
    /// below the width, which is checked by [`ForestParams::fit`]. Default `None`.
    pub extension_level: Option<usize>,
    /// Expected fraction of outliers in the training data, in `(0, 0.5]`; sets
    /// [`IsolationForest::threshold`]. Default 0.1.
    pub contamination: f64,
    /// Seed of the random stream that draws samples, intercepts and normals. Default
    /// `0x0dd5_1647`.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { trees: 100, sample_size: 256, extension_level: None, contamination: 0.1, seed: 0x0dd5_1647 }
    }
}

impl ForestParams {
    /// Sets `trees`.
    pub fn trees(mut self, trees: usize) -> Self {
        self.trees = trees;
        self
    }
    /// Sets `sample_size`.
    pub fn sample_size(mut self, sample_size: usize) -> Self {
        self.sample_size = sample_size;
        self
    }
    /// Sets `extension_level`.
    pub fn extension_level(mut self, extension_level: Option<usize>) -> Self {
        self.extension_level = extension_level;
        self
    }
    /// Sets `contamination`.
    pub fn contamination(mut self, contamination: f64) -> Self {
        self.contamination = contamination;
        self
    }
    /// Sets `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every parameter that does not depend on the data.
    ///
    /// # Errors
    /// [`Error::Core`] with [`oddsight_core::Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        range("trees", self.trees, 1, MAX_TREES)?;
        range("sample_size", self.sample_size, 2, MAX_SAMPLE_SIZE)?;
        if !(self.contamination > 0.0 && self.contamination <= 0.5) {
            return Err(param("contamination", "must be in (0, 0.5]", self.contamination));
        }
        Ok(())
    }

    /// The extension level for rows of `width` metrics.
    fn resolved_extension(&self, width: usize) -> Result<usize> {
        match self.extension_level {
            None => Ok(width - 1),
            Some(level) if level < width => Ok(level),
            Some(level) => Err(Error::Core(oddsight_core::Error::InvalidParameter {
                name: "extension_level",
                reason: "must be below the number of metrics",
                value: format!("{level} (width {width})"),
            })),
        }
    }

    /// Trains a forest on `rows` (one row per observation, one column per metric), seeded by
    /// [`ForestParams::seed`]: the same rows and parameters give the same forest everywhere.
    ///
    /// # Errors
    /// [`Error::Core`] with `InvalidParameter` for bad parameters (an extension level not
    /// below the width included), `Empty` for no columns, `Shape` for fewer than 2 rows;
    /// [`Error::NonFiniteAt`] for a NaN or infinite value; [`Error::Numeric`] for a metric whose
    /// range (maximum minus minimum) overflows to infinity.
    pub fn fit(&self, rows: ArrayView2<'_, f64>) -> Result<IsolationForest> {
        self.validate()?;
        let width = check_training(rows)?;
        let extension = self.resolved_extension(width)?;
        let data = row_major(rows);
        check_ranges(&data, width)?;
        let fitted = train::fit(&data, width, self, extension);
        IsolationForest::assemble(self.clone(), width, fitted.psi, fitted.trees, |forest| {
            forest.scores_of(&data, &fitted.threshold_rows)
        })
    }

    /// Trains a forest with the `extended-isolation-forest` crate's own training code and takes
    /// its trees over. That crate draws from the thread-local random generator, so
    /// [`ForestParams::seed`] is ignored and two fits differ; prefer [`ForestParams::fit`],
    /// which trains the same model family reproducibly. The threshold comes from the scores of
    /// at most [`THRESHOLD_ROWS`] training rows drawn with the seed.
    ///
    /// # Errors
    /// As [`ForestParams::fit`], and [`Error::Unsupported`] for more than
    /// [`MAX_REFERENCE_WIDTH`] metrics.
    pub fn fit_with_crate(&self, rows: ArrayView2<'_, f64>) -> Result<IsolationForest> {
        self.validate()?;
        let width = check_training(rows)?;
        let extension = self.resolved_extension(width)?;
        let data = row_major(rows);
        check_ranges(&data, width)?;
        let n = rows.nrows();
        let psi = self.sample_size.min(n);
        let trees = reference::fit_with_crate(&data, width, self.trees, psi, extension)?;
        let threshold_rows = train::threshold_rows(n, self.seed);
        IsolationForest::assemble(self.clone(), width, psi, trees, |forest| forest.scores_of(&data, &threshold_rows))
    }
}

/// One tree as trained: node 0 is the root; an internal node `i` has its children at
/// `left[i]` and `left[i] + 1` (always after `i`); a leaf has `left[i] == 0` and holds
/// `size[i]` training samples. `normal` and `point` hold `width` values for each internal node,
/// in node order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) left: Vec<u32>,
    pub(crate) size: Vec<u32>,
    pub(crate) normal: Vec<f64>,
    pub(crate) point: Vec<f64>,
}

/// A trained isolation forest: see the [module docs](self).
///
/// Immutable once fitted; scoring takes `&self` and may run on many threads at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ForestState", try_from = "ForestState")]
pub struct IsolationForest {
    params: ForestParams,
    width: usize,
    psi: usize,
    threshold: f64,
    trees: Vec<Tree>,
    flat: flat::FlatForest,
}

/// What a snapshot holds: everything but the flattened arrays, which are rebuilt (and the trees
/// checked) on restore.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForestState {
    params: ForestParams,
    width: usize,
    sample_size: usize,
    threshold: f64,
    trees: Vec<Tree>,
}

impl From<IsolationForest> for ForestState {
    fn from(f: IsolationForest) -> Self {
        ForestState { params: f.params, width: f.width, sample_size: f.psi, threshold: f.threshold, trees: f.trees }
    }
}

impl TryFrom<ForestState> for IsolationForest {
    type Error = String;

    fn try_from(s: ForestState) -> std::result::Result<Self, String> {
        s.params.validate().map_err(|e| e.to_string())?;
        if s.width == 0 {
            return Err("width must be at least 1".into());
        }
        if let Some(level) = s.params.extension_level
            && level >= s.width
        {
            return Err(format!("extension_level {level} is not below width {}", s.width));
        }
        if s.sample_size < 2 || s.sample_size > s.params.sample_size {
            return Err(format!(
                "sample_size must be in 2..={} (the parameter), got {}",
                s.params.sample_size, s.sample_size
            ));
        }
        if s.trees.len() != s.params.trees {
            return Err(format!("{} trees where the parameters say {}", s.trees.len(), s.params.trees));
        }
        if !(0.0..=1.0).contains(&s.threshold) {
            return Err(format!("threshold must be in [0, 1], got {}", s.threshold));
        }
        let flat = flat::FlatForest::build(&s.trees, s.width, s.sample_size).map_err(|e| e.to_string())?;
        Ok(IsolationForest {
            params: s.params,
            width: s.width,
            psi: s.sample_size,
            threshold: s.threshold,
            trees: s.trees,
            flat,
        })
    }
}

impl Stateful for IsolationForest {
    fn kind() -> String {
        "IsolationForest".into()
    }
}

impl IsolationForest {
    /// Builds the flattened scorer and sets the threshold from `training_scores(self)`.
    fn assemble(
        params: ForestParams,
        width: usize,
        psi: usize,
        trees: Vec<Tree>,
        training_scores: impl FnOnce(&IsolationForest) -> Vec<f64>,
    ) -> Result<Self> {
        let flat = flat::FlatForest::build(&trees, width, psi)?;
        let mut forest = IsolationForest { params, width, psi, threshold: 1.0, trees, flat };
        let mut scores = training_scores(&forest);
        forest.threshold = quantile(&mut scores, 1.0 - forest.params.contamination);
        Ok(forest)
    }

    /// The scores of rows `which` of row-major `data`, scored together.
    fn scores_of(&self, data: &[f64], which: &[usize]) -> Vec<f64> {
        let w = self.width;
        let mut rows = Vec::with_capacity(which.len() * w);
        for &i in which {
            rows.extend_from_slice(&data[i * w..(i + 1) * w]);
        }
        let mut out = vec![0.0; which.len()];
        self.flat.score_into(&rows, &mut out);
        out
    }

    /// Number of metrics per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> &ForestParams {
        &self.params
    }

    /// Samples per tree actually drawn: `min(sample_size, training rows)`.
    pub fn samples_per_tree(&self) -> usize {
        self.psi
    }

    /// Depth limit of every tree, `ceil(log2(samples_per_tree))`.
    pub fn max_depth(&self) -> usize {
        self.flat.depth()
    }

    /// The anomaly score of one row, in `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::Core`] with `Shape` when `row.len() != width`; [`Error::NonFiniteAt`] for a NaN
    /// or infinite value.
    pub fn score_row(&self, row: &[f64]) -> Result<f64> {
        if row.len() != self.width {
            return Err(shape("columns", self.width, row.len()));
        }
        if let Some(column) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteAt { what: "forest input", row: 0, column, value: row[column] });
        }
        Ok(self.flat.score_one(row))
    }

    /// The anomaly scores of many rows (one per row), in `[0, 1]`.
    ///
    /// # Errors
    /// As [`IsolationForest::score_rows_into`].
    pub fn score_rows(&self, rows: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let mut out = vec![0.0; rows.nrows()];
        self.score_rows_into(rows, &mut out)?;
        Ok(out)
    }

    /// Writes the anomaly score of each row of `rows` into `out`, which must have one slot per
    /// row. Any layout works; a standard (row-major) layout is fastest. Gives exactly the
    /// results of [`IsolationForest::score_row`] on each row.
    ///
    /// # Errors
    /// [`Error::Core`] with `Shape` for a wrong width or a wrong `out` length;
    /// [`Error::NonFiniteAt`] for a NaN or infinite value (nothing is written then).
    pub fn score_rows_into(&self, rows: ArrayView2<'_, f64>, out: &mut [f64]) -> Result<()> {
        if rows.ncols() != self.width {
            return Err(shape("columns", self.width, rows.ncols()));
        }
        if out.len() != rows.nrows() {
            return Err(shape("output slots", rows.nrows(), out.len()));
        }
        check_finite(rows, "forest input")?;
        match rows.as_slice() {
            Some(data) => self.flat.score_into(data, out),
            None => {
                let data = row_major(rows);
                self.flat.score_into(&data, out);
            }
        }
        Ok(())
    }

    /// The score above which a row is an outlier: the `1 - contamination` quantile of the
    /// training scores.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Whether `score` is above [`IsolationForest::threshold`].
    pub fn is_outlier(&self, score: f64) -> bool {
        score > self.threshold
    }

    /// Scores `rows` with the `extended-isolation-forest` crate's own code on the very same
    /// trees (rebuilt as that crate's `Forest<f64, N>`). Much slower than
    /// [`IsolationForest::score_rows`]; it exists to check the flattened scorer against the
    /// reference, and the two agree to rounding.
    ///
    /// # Errors
    /// As [`IsolationForest::score_rows`], and [`Error::Unsupported`] for more than
    /// [`MAX_REFERENCE_WIDTH`] metrics.
    pub fn to_reference_scores(&self, rows: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        if rows.ncols() != self.width {
            return Err(shape("columns", self.width, rows.ncols()));
        }
        check_finite(rows, "forest input")?;
        reference::score_with_crate(self, &row_major(rows))
    }

    pub(crate) fn trees(&self) -> &[Tree] {
        &self.trees
    }
}

/// Checks a training matrix, returning its width.
fn check_training(rows: ArrayView2<'_, f64>) -> Result<usize> {
    if rows.ncols() == 0 {
        return Err(Error::Core(oddsight_core::Error::Empty { what: "forest training columns" }));
    }
    if rows.nrows() < 2 {
        return Err(Error::Core(oddsight_core::Error::Shape {
            what: "training rows (at least)",
            expected: 2,
            got: rows.nrows(),
        }));
    }
    check_finite(rows, "forest training value")?;
    Ok(rows.ncols())
}

/// An error when a metric's range `max - min` overflows (a split could not draw in it).
fn check_ranges(data: &[f64], width: usize) -> Result<()> {
    match train::overflowing_range(data, width) {
        Some((column, lo, hi)) => Err(Error::Numeric {
            what: "forest fit",
            reason: format!("metric {column} spans {lo:e} to {hi:e}, a range wider than the largest float"),
        }),
        None => Ok(()),
    }
}

/// The first non-finite cell, as an error.
fn check_finite(rows: ArrayView2<'_, f64>, what: &'static str) -> Result<()> {
    // Whole chunks at a time (branch-free, so it vectorises); the cell is located only on failure.
    if let Some(s) = rows.as_slice()
        && s.chunks(1024).all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite()))
    {
        return Ok(());
    }
    for (row, r) in rows.outer_iter().enumerate() {
        for (column, &value) in r.iter().enumerate() {
            if !value.is_finite() {
                return Err(Error::NonFiniteAt { what, row, column, value });
            }
        }
    }
    Ok(())
}

/// The rows as one row-major slice, copied only when they are not laid out that way.
fn row_major<'a>(rows: ArrayView2<'a, f64>) -> std::borrow::Cow<'a, [f64]> {
    match rows.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(rows.iter().copied().collect()),
    }
}

/// Linearly interpolated quantile `q` in `[0, 1]` of `values` (sorted in place).
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 1.0;
    }
    values.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
}

fn range(name: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Error::Core(oddsight_core::Error::InvalidParameter {
            name,
            reason: "is out of range",
            value: format!("{v} (allowed {lo}..={hi})"),
        }))
    }
}

fn param(name: &'static str, reason: &'static str, value: impl std::fmt::Display) -> Error {
    Error::Core(oddsight_core::Error::InvalidParameter { name, reason, value: value.to_string() })
}

fn shape(what: &'static str, expected: usize, got: usize) -> Error {
    Error::Core(oddsight_core::Error::Shape { what, expected, got })
}

/// Seeded rows of correlated metrics with injected outliers, for tests, benches and examples.
///
/// `n` rows of `width` metrics (`width >= 1`). Inliers are Gaussian: `x₀ = z₀` and
/// `xⱼ = 0.6 z₀ + 0.8 zⱼ` for `j ≥ 1` with `z ~ N(0, I)`, so every metric has unit variance
/// and moves with the first one (correlation 0.6). `round(n × outlier_fraction)` rows, at
/// positions drawn with the seed, are outliers instead: `z` at a uniformly random direction and
/// a radius uniform in `[6, 9]`, mapped the same way. The same arguments give the same rows
/// on every platform. Returns the rows and, per row, whether it is an outlier.
pub fn synthetic_rows(n: usize, width: usize, outlier_fraction: f64, seed: u64) -> (ndarray::Array2<f64>, Vec<bool>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let width = width.max(1);
    let outliers = ((n as f64) * outlier_fraction.clamp(0.0, 1.0)).round() as usize;
    let mut label = vec![false; n];
    for i in rand::seq::index::sample(&mut rng, n, outliers.min(n)) {
        label[i] = true;
    }
    let mut rows = ndarray::Array2::zeros((n, width));
    let mut z = vec![0.0; width];
    for (mut row, &outlier) in rows.outer_iter_mut().zip(&label) {
        for v in z.iter_mut() {
            *v = rng.sample(rand_distr::StandardNormal);
        }
        if outlier {
            let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            let radius = rng.gen_range(6.0..9.0);
            z.iter_mut().for_each(|v| *v *= radius / norm);
        }
        row[0] = z[0];
        for j in 1..width {
            row[j] = 0.6 * z[0] + 0.8 * z[j];
        }
    }
    (rows, label)
}

/// Area under the ROC curve of `scores` (higher = more anomalous) against `labels` (true =
/// anomaly): the probability that a random anomaly outscores a random normal row, ties
/// counting one half.
///
/// # Errors
/// [`Error::Core`] with `Shape` when the lengths differ, `Empty` when either class is missing;
/// [`Error::NonFiniteAt`] for a NaN score.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    if scores.len() != labels.len() {
        return Err(shape("labels", scores.len(), labels.len()));
    }
    if let Some(row) = scores.iter().position(|s| s.is_nan()) {
        return Err(Error::NonFiniteAt { what: "score", row, column: 0, value: scores[row] });
    }
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(Error::Core(oddsight_core::Error::Empty { what: "one of the two classes" }));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann–Whitney: sum of the positives' mid-ranks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}
