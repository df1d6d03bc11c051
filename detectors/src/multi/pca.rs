//! PCA reconstruction error over several metrics of one service.

use super::robust::{RobustScale, robust_scale};
use crate::error::{Error, Result};
use ndarray::ArrayView2;
use oddsight_core::snapshot::Stateful;
use oddsight_core::{Severity, scale};
use serde::{Deserialize, Serialize};
use smartcore::decomposition::pca::{PCA, PCAParameters};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Residual variances are floored at this fraction of the mean component variance, so that
/// metrics that are exact functions of each other do not make every rounding error infinite.
const VARIANCE_FLOOR: f64 = 1e-3;

/// Parameters of a [`PcaDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PcaParams {
    /// Principal components kept, in `1..width`; `None` chooses by
    /// [`PcaParams::explained_variance`]. Default `None`.
    pub components: Option<usize>,
    /// With `components` unset, keep the fewest components whose share of the (standardised)
    /// variance reaches this, in `(0, 1)`; at most `width - 1` so that a residual remains.
    /// Default 0.9.
    pub explained_variance: f64,
    /// Anomaly score (common scale) at or above which a row is anomalous, in `(0, 1)`. Default
    /// 0.5, a tail probability of 0.0027 (|z| = 3).
    pub threshold: f64,
    /// Floor of each metric's robust scale, in its units, `>= 0` (for example 1 for counts, so
    /// that a column of zeros does not make a single 1 extreme). Default 0.
    pub min_scale: f64,
}

impl Default for PcaParams {
    fn default() -> Self {
        PcaParams { components: None, explained_variance: 0.9, threshold: 0.5, min_scale: 0.0 }
    }
}

impl PcaParams {
    /// Sets `components`.
    pub fn components(mut self, components: Option<usize>) -> Self {
        self.components = components;
        self
    }
    /// Sets `explained_variance`.
    pub fn explained_variance(mut self, explained_variance: f64) -> Self {
        self.explained_variance = explained_variance;
        self
    }
    /// Sets `threshold`.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
    /// Sets `min_scale`.
    pub fn min_scale(mut self, min_scale: f64) -> Self {
        self.min_scale = min_scale;
        self
    }

    /// Checks the parameters that do not depend on the data.
    ///
    /// # Errors
    /// [`Error::Core`] with `InvalidParameter` naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.components == Some(0) {
            return Err(param("components", "must be at least 1", 0));
        }
        if !(self.explained_variance > 0.0 && self.explained_variance < 1.0) {
            return Err(param("explained_variance", "must be in (0, 1)", self.explained_variance));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(param("threshold", "must be in (0, 1)", self.threshold));
        }
        if !(self.min_scale >= 0.0 && self.min_scale.is_finite()) {
            return Err(param("min_scale", "must be finite and >= 0", self.min_scale));
        }
        Ok(())
    }

    /// Fits on `rows` (one row per time step, one column per metric), naming the metrics
    /// `m0`, `m1`, ….
    ///
    /// # Errors
    /// As [`PcaParams::fit_named`].
    pub fn fit(&self, rows: ArrayView2<'_, f64>) -> Result<PcaDetector> {
        let names: Vec<String> = (0..rows.ncols()).map(|j| format!("m{j}")).collect();
        self.fit_named(&names, rows)
    }

    /// Fits on `rows`, one column per metric in `names`: standardises each column by its
    /// median and robust scale, then keeps the leading principal components (smartcore's PCA).
    ///
    /// # Errors
    /// [`Error::Core`] with `InvalidParameter` for bad parameters (`components` not below the
    /// width included), `Shape` for fewer than 2 metrics, fewer than 3 rows or a name count
    /// that is not the width; [`Error::NonFiniteAt`] for NaN or ±inf; [`Error::Numeric`] if
    /// the decomposition fails.
    pub fn fit_named<S: AsRef<str>>(&self, names: &[S], rows: ArrayView2<'_, f64>) -> Result<PcaDetector> {
        self.validate()?;
        let (n, w) = rows.dim();
        if w < 2 {
            return Err(shape("metrics (at least)", 2, w));
        }
        if n < 3 {
            return Err(shape("training rows (at least)", 3, n));
        }
        if names.len() != w {
            return Err(shape("metric names", w, names.len()));
        }
        if let Some(k) = self.components
            && k >= w
        {
            return Err(Error::Core(oddsight_core::Error::InvalidParameter {
                name: "components",
                reason: "must be below the number of metrics",
                value: format!("{k} (width {w})"),
            }));
        }
        check_finite(rows, "pca training value")?;
        let columns: Vec<RobustScale> =
            rows.columns().into_iter().map(|c| robust_scale(&c.to_vec(), self.min_scale)).collect();
        let mut z = Vec::with_capacity(n * w);
        for row in rows.outer_iter() {
            z.extend(row.iter().zip(&columns).map(|(&x, c)| c.z(x)));
        }
        let mean: Vec<f64> = (0..w).map(|j| (0..n).map(|i| z[i * w + j]).sum::<f64>() / n as f64).collect();
        let matrix = DenseMatrix::new(n, w, z.clone(), false).map_err(numeric)?;
        let pca = PCA::fit(&matrix, PCAParameters::default().with_n_components(w)).map_err(numeric)?;
        let projection = pca.components();
        // Variance along each component, measured on the training rows; components sorted by it.
        let mut comps: Vec<(f64, Vec<f64>)> = (0..w)
            .map(|j| {
                let v: Vec<f64> = (0..w).map(|i| *projection.get((i, j))).collect();
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                let v: Vec<f64> = if norm > 0.0 { v.iter().map(|x| x / norm).collect() } else { v };
                let var = (0..n)
                    .map(|r| {
                        let t: f64 = (0..w).map(|i| (z[r * w + i] - mean[i]) * v[i]).sum();
                        t * t
                    })
                    .sum::<f64>()
                    / n as f64;
                (var, v)
            })
            .collect();
        if comps.iter().any(|(var, v)| !var.is_finite() || v.iter().any(|x| !x.is_finite())) {
            return Err(numeric("the decomposition produced non-finite components"));
        }
        comps.sort_by(|a, b| b.0.total_cmp(&a.0));
        let variances: Vec<f64> = comps.iter().map(|c| c.0).collect();
        let total: f64 = variances.iter().sum();
        let kept = match self.components {
            Some(k) => k,
            None => {
                let mut acc = 0.0;
                let mut k = w - 1;
                for (j, v) in variances.iter().enumerate() {
                    acc += v;
                    if total <= 0.0 || acc / total >= self.explained_variance {
                        k = j + 1;
                        break;
                    }
                }
                k.clamp(1, w - 1)
            }
        };
        let mut basis = Vec::with_capacity(w * w);
        for (_, v) in &comps {
            basis.extend_from_slice(v);
        }
        Ok(PcaDetector {
            params: self.clone(),
            names: names.iter().map(|s| s.as_ref().to_string()).collect(),
            columns,
            mean,
            basis,
            variances,
            kept,
        })
    }
}

/// How much one metric contributed to a [`PcaVerdict`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricContribution {
    /// The metric's name.
    pub metric: String,
    /// Its column.
    pub index: usize,
    /// The value seen.
    pub actual: f64,
    /// The value the kept components reconstruct from the whole row: what this metric
    /// "should" be, given the others.
    pub expected: f64,
    /// `actual - expected` in robust standard deviations of this metric.
    pub residual_z: f64,
    /// Its share of the reconstruction error, in `[0, 1]` (shares sum to 1 unless the error is 0).
    pub share: f64,
}

/// The judgement of one row by a [`PcaDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaVerdict {
    /// Squared distance between the standardised row and its reconstruction from the kept
    /// components.
    pub reconstruction_error: f64,
    /// The residual weighted by the training variance of each discarded component; χ² with
    /// [`PcaVerdict::dof`] degrees of freedom for Gaussian data.
    pub statistic: f64,
    /// Discarded components: `width - kept`.
    pub dof: usize,
    /// Tail probability of `statistic`.
    pub p_value: f64,
    /// z-equivalent of `p_value` on oddsight's common scale (non-negative).
    pub z: f64,
    /// Anomaly score in `[0, 1]` on the common scale.
    pub anomaly_score: f64,
    /// Severity band of `anomaly_score`.
    pub severity: Severity,
    /// Whether `anomaly_score >= threshold`.
    pub is_anomaly: bool,
    /// Every metric, largest share of the error first.
    pub contributions: Vec<MetricContribution>,
}

impl PcaVerdict {
    /// One line for a human: the score and the metrics that broke the pattern.
    pub fn explain(&self) -> String {
        let top: Vec<String> = self
            .contributions
            .iter()
            .take(3)
            .filter(|c| c.share >= 0.05)
            .map(|c| format!("{} {:.4} vs expected {:.4} ({:.0}%)", c.metric, c.actual, c.expected, 100.0 * c.share))
            .collect();
        format!(
            "{} (score {:.3}, z {:.1}): {}",
            if self.is_anomaly { "metrics broke their joint pattern" } else { "metrics move as usual" },
            self.anomaly_score,
            self.z,
            if top.is_empty() { "no metric stands out".to_string() } else { top.join("; ") }
        )
    }
}

/// A fitted PCA reconstruction-error detector: see [`crate::multi`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaDetector {
    params: PcaParams,
    names: Vec<String>,
    columns: Vec<RobustScale>,
    /// Mean of the standardised training rows.
    mean: Vec<f64>,
    /// `width` unit components of `width` values each, by decreasing variance.
    basis: Vec<f64>,
    /// Training variance along each component.
    variances: Vec<f64>,
    kept: usize,
}

impl PcaDetector {
    /// Number of metrics.
    pub fn width(&self) -> usize {
        self.names.len()
    }
    /// The metric names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// The parameters it was fitted with.
    pub fn params(&self) -> &PcaParams {
        &self.params
    }
    /// Components kept.
    pub fn kept_components(&self) -> usize {
        self.kept
    }
    /// Share of the standardised training variance the kept components explain.
    pub fn explained_variance(&self) -> f64 {
        let total: f64 = self.variances.iter().sum();
        if total > 0.0 { self.variances[..self.kept].iter().sum::<f64>() / total } else { 1.0 }
    }
    /// Median and robust scale of each metric on the training rows.
    pub fn column_scales(&self) -> &[RobustScale] {
        &self.columns
    }

    /// Judges one row.
    ///
    /// # Errors
    /// [`Error::Core`] with `Shape` for a wrong width; [`Error::NonFiniteAt`] for NaN or ±inf.
    pub fn score_row(&self, row: &[f64]) -> Result<PcaVerdict> {
        let w = self.width();
        if row.len() != w {
            return Err(shape("columns", w, row.len()));
        }
        if let Some(column) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteAt { what: "pca input", row: 0, column, value: row[column] });
        }
        Ok(self.judge(row))
    }

    /// Judges every row; nothing is scored if any row is bad.
    ///
    /// # Errors
    /// As [`PcaDetector::score_row`], with the row of the first bad value.
    pub fn score_rows(&self, rows: ArrayView2<'_, f64>) -> Result<Vec<PcaVerdict>> {
        if rows.ncols() != self.width() {
            return Err(shape("columns", self.width(), rows.ncols()));
        }
        check_finite(rows, "pca input")?;
        Ok(rows.outer_iter().map(|r| self.judge(&r.to_vec())).collect())
    }

    fn judge(&self, row: &[f64]) -> PcaVerdict {
        let w = self.width();
        let d: Vec<f64> = row.iter().zip(&self.columns).zip(&self.mean).map(|((&x, c), m)| c.z(x) - m).collect();
        let mean_var = self.variances.iter().sum::<f64>() / w as f64;
        let floor = (VARIANCE_FLOOR * mean_var).max(1e-12);
        let mut recon = vec![0.0; w];
        let mut statistic = 0.0;
        for (j, v) in self.basis.chunks_exact(w).enumerate() {
            let t: f64 = v.iter().zip(&d).map(|(a, b)| a * b).sum();
            if j < self.kept {
                recon.iter_mut().zip(v).for_each(|(r, a)| *r += t * a);
            } else {
                statistic += t * t / self.variances[j].max(floor);
            }
        }
        let residual: Vec<f64> = d.iter().zip(&recon).map(|(a, b)| a - b).collect();
        let error: f64 = residual.iter().map(|e| e * e).sum();
        let dof = w - self.kept;
        let p_value = match ChiSquared::new(dof as f64) {
            Ok(chi) => chi.sf(statistic).clamp(0.0, 1.0),
            Err(_) => 1.0,
        };
        let z = scale::z_from_p(p_value);
        let anomaly_score = scale::anomaly_score(z);
        let mut contributions: Vec<MetricContribution> = (0..w)
            .map(|i| {
                let c = &self.columns[i];
                MetricContribution {
                    metric: self.names[i].clone(),
                    index: i,
                    actual: row[i],
                    expected: c.center + c.scale * (self.mean[i] + recon[i]),
                    residual_z: residual[i],
                    share: if error > 0.0 { residual[i] * residual[i] / error } else { 0.0 },
                }
            })
            .collect();
        contributions.sort_by(|a, b| b.share.total_cmp(&a.share));
        PcaVerdict {
            reconstruction_error: error,
            statistic,
            dof,
            p_value,
            z,
            anomaly_score,
            severity: scale::severity(anomaly_score),
            is_anomaly: anomaly_score >= self.params.threshold,
            contributions,
        }
    }
}

impl Stateful for PcaDetector {
    fn kind() -> String {
        "PcaDetector".into()
    }

    fn validate(&self) -> oddsight_core::Result<()> {
        let bad = |reason: String| oddsight_core::Error::Snapshot { reason, source: None };
        self.params.validate().map_err(|e| bad(e.to_string()))?;
        let w = self.names.len();
        if w < 2 || self.columns.len() != w || self.mean.len() != w || self.variances.len() != w {
            return Err(bad(format!("{w} names need as many column scales, means and variances (at least 2)")));
        }
        if self.basis.len() != w * w {
            return Err(bad(format!("the basis needs {} values, got {}", w * w, self.basis.len())));
        }
        if !(1..w).contains(&self.kept) {
            return Err(bad(format!("kept components must be in 1..{w}, got {}", self.kept)));
        }
        let finite = self.mean.iter().chain(&self.basis).chain(&self.variances).all(|v| v.is_finite());
        let columns_ok = self.columns.iter().all(|c| c.center.is_finite() && c.scale.is_finite() && c.scale > 0.0);
        if !finite || !columns_ok || self.variances.iter().any(|v| *v < 0.0) {
            return Err(bad("non-finite or negative values in the model".into()));
        }
        Ok(())
    }
}

fn check_finite(rows: ArrayView2<'_, f64>, what: &'static str) -> Result<()> {
    for (row, r) in rows.outer_iter().enumerate() {
        if let Some(column) = r.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteAt { what, row, column, value: r[column] });
        }
    }
    Ok(())
}

fn param(name: &'static str, reason: &'static str, value: impl std::fmt::Display) -> Error {
    Error::Core(oddsight_core::Error::InvalidParameter { name, reason, value: value.to_string() })
}

fn shape(what: &'static str, expected: usize, got: usize) -> Error {
    Error::Core(oddsight_core::Error::Shape { what, expected, got })
}

fn numeric(e: impl std::fmt::Display) -> Error {
    Error::Numeric { what: "pca fit", reason: e.to_string() }
}
